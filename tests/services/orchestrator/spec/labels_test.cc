// Label syntax and label selectors, as Kubernetes defines them.
#include "services/orchestrator/core/spec/labels.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::orchestrator {
namespace {

using ::testing::HasSubstr;

google::protobuf::Map<std::string, std::string> Labels(
    std::initializer_list<std::pair<const std::string, std::string>> items) {
  google::protobuf::Map<std::string, std::string> labels;
  for (const auto& [key, value] : items) labels[key] = value;
  return labels;
}

bool Selects(absl::string_view selector,
             const google::protobuf::Map<std::string, std::string>& labels) {
  absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(selector);
  EXPECT_TRUE(parsed.ok()) << selector << ": " << parsed.status();
  return parsed.ok() && parsed->Matches(labels);
}

TEST(LabelsTest, Dns1123) {
  EXPECT_TRUE(IsDns1123Label("a"));
  EXPECT_TRUE(IsDns1123Label("guestbook-2"));
  EXPECT_TRUE(IsDns1123Label(std::string(63, 'x')));
  EXPECT_FALSE(IsDns1123Label(std::string(64, 'x')));
  EXPECT_FALSE(IsDns1123Label(""));
  EXPECT_FALSE(IsDns1123Label("-a"));
  EXPECT_FALSE(IsDns1123Label("a-"));
  EXPECT_FALSE(IsDns1123Label("A"));
  EXPECT_FALSE(IsDns1123Label("a.b"));
  EXPECT_FALSE(IsDns1123Label("a_b"));
  EXPECT_TRUE(IsDns1123Subdomain("todoke.dev"));
  EXPECT_FALSE(IsDns1123Subdomain("todoke..dev"));
  EXPECT_FALSE(IsDns1123Subdomain(".dev"));
}

TEST(LabelsTest, KeysAndValues) {
  for (const char* key : {"team", "todoke.dev/app", "a.b_c-d", "A", "app.kubernetes.io/name"}) {
    EXPECT_TRUE(ValidateLabelKey(key).ok()) << key;
  }
  const std::string long_name(64, 'n');
  for (const std::string& key :
       {std::string(""), std::string("/x"), std::string("a/"), std::string("-a"),
        std::string("a b"), std::string("Todoke.dev/x"), std::string("a/b/c"), "x/" + long_name}) {
    EXPECT_EQ(ValidateLabelKey(key).code(), absl::StatusCode::kInvalidArgument) << key;
  }
  for (const char* value : {"", "web", "v1.2_3-rc", "A"}) {
    EXPECT_TRUE(ValidateLabelValue(value).ok()) << value;
  }
  for (const char* value : {"a b", "-a", "a/b", "é"}) {
    EXPECT_EQ(ValidateLabelValue(value).code(), absl::StatusCode::kInvalidArgument) << value;
  }
  EXPECT_EQ(ValidateLabelValue(std::string(64, 'v')).code(), absl::StatusCode::kInvalidArgument);
}

TEST(LabelsTest, SelectorOperators) {
  const auto web = Labels({{"team", "web"}, {"tier", "frontend"}, {"env", "prod"}});
  const auto db = Labels({{"team", "data"}, {"tier", "db"}});
  const auto none = Labels({});

  EXPECT_TRUE(Selects("", web));
  EXPECT_TRUE(Selects("  ", none));
  EXPECT_TRUE(Selects("team=web", web));
  EXPECT_TRUE(Selects("team==web", web));
  EXPECT_FALSE(Selects("team=web", db));
  EXPECT_FALSE(Selects("team=web", none));
  // != and notin also select objects without the label, as in Kubernetes.
  EXPECT_TRUE(Selects("tier!=db", web));
  EXPECT_FALSE(Selects("tier!=db", db));
  EXPECT_TRUE(Selects("tier!=db", none));
  EXPECT_TRUE(Selects("env", web));
  EXPECT_FALSE(Selects("env", db));
  EXPECT_TRUE(Selects("!env", db));
  EXPECT_FALSE(Selects("!env", web));
  EXPECT_TRUE(Selects("tier in (frontend, db)", web));
  EXPECT_TRUE(Selects("tier in (frontend,db)", db));
  EXPECT_FALSE(Selects("tier in (cache)", web));
  EXPECT_FALSE(Selects("tier in (cache)", none));
  EXPECT_TRUE(Selects("tier notin (db)", web));
  EXPECT_FALSE(Selects("tier notin (db)", db));
  EXPECT_TRUE(Selects("tier notin (db)", none));
  // All requirements must hold.
  EXPECT_TRUE(Selects("team=web, tier!=db, env", web));
  EXPECT_FALSE(Selects("team=web,tier!=db,env", db));
  EXPECT_FALSE(Selects("team=web,tier=db", web));
  // An empty value selects labels set to "".
  EXPECT_TRUE(Selects("flag=", Labels({{"flag", ""}})));
  EXPECT_FALSE(Selects("flag=", none));

  absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse("a=b,c!=d,e,!f,g in (h,i)");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->requirements().size(), 5u);
  EXPECT_EQ(parsed->requirements()[0].op, LabelSelector::Operator::kEquals);
  EXPECT_EQ(parsed->requirements()[1].op, LabelSelector::Operator::kNotEquals);
  EXPECT_EQ(parsed->requirements()[2].op, LabelSelector::Operator::kExists);
  EXPECT_EQ(parsed->requirements()[3].op, LabelSelector::Operator::kDoesNotExist);
  EXPECT_EQ(parsed->requirements()[4].op, LabelSelector::Operator::kIn);
  EXPECT_EQ(parsed->requirements()[4].values, (std::vector<std::string>{"h", "i"}));
}

TEST(LabelsTest, SelectorErrors) {
  struct Case {
    const char* selector;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"a=b,", "expected a label key at offset 4"},
           {"a b", "expected '=', '==', '!=', 'in' or 'notin' at offset 2"},
           {"a in b", "expected '(' after 'in' at offset 5"},
           {"a in (b", "expected ',' or ')' at offset 7"},
           {"a in ()", "'in' needs at least one value"},
           {"a>1", "'<' and '>' are not supported"},
           {"a=b c", "expected ',' or the end at offset 4"},
           {"bad key=x", "expected '=', '==', '!=', 'in' or 'notin' at offset 4"},
           {"a=b=c", "expected ',' or the end at offset 3"},
           {"Bad.Prefix/a=b", "invalid label key \"Bad.Prefix/a\""},
           {"a=x y", "expected ',' or the end"},
           {"a=-x", "invalid label value \"-x\""},
       }) {
    absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(c.selector);
    ASSERT_FALSE(parsed.ok()) << c.selector;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.selector;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.error)) << c.selector;
    EXPECT_THAT(parsed.status().message(),
                HasSubstr(absl::StrCat("label selector \"", c.selector, "\"")));
  }
}

}  // namespace
}  // namespace todoke::orchestrator
