#include "common/log.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace todoke {
namespace {

TEST(LogTest, TextLineHasFields) {
  LogOptions options{.component = "renderer", .min_level = LogLevel::kInfo, .json = false};
  EXPECT_EQ(FormatLogLine(options, LogLevel::kWarning, "render failed",
                          {{"app", "guestbook"}, {"error", "bad yaml: x"}, {"ms", 12}},
                          "2026-01-01T00:00:00.000Z"),
            "2026-01-01T00:00:00.000Z WARNING renderer: render failed app=guestbook "
            "error=\"bad yaml: x\" ms=12");
}

TEST(LogTest, JsonLineIsOneObject) {
  LogOptions options{.component = "differ", .min_level = LogLevel::kInfo, .json = true};
  const std::string line = FormatLogLine(options, LogLevel::kInfo, "diffed", {{"objects", 3}},
                                         "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["level"], "info");
  EXPECT_EQ(parsed["component"], "differ");
  EXPECT_EQ(parsed["msg"], "diffed");
  EXPECT_EQ(parsed["objects"], "3");
}

TEST(LogTest, ParseLogLevel) {
  EXPECT_EQ(*ParseLogLevel("DEBUG"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_FALSE(ParseLogLevel("loud").ok());
}

TEST(LogTest, MaskCredentials) {
  EXPECT_EQ(MaskCredentials("https://user:s3cret@git.example.com/org/repo.git"),
            "https://***@git.example.com/org/repo.git");
  EXPECT_EQ(MaskCredentials("https://git.example.com/a@b"), "https://git.example.com/a@b");
  EXPECT_EQ(MaskCredentials("/local/path"), "/local/path");
}

}  // namespace
}  // namespace todoke
