// The real todoke-source-fetcher binary, started with gRPC's usual 4 MiB message limit, serving a
// repository (made here with git) whose files are larger than one message; read through the
// renderer's FetcherFileSource, the consumer that puts pieces back together.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/grpc_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/grpc/fetcher_file_source.h"
#include "tests/common/test_files.h"
#include "tests/integration/process.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

using ::todoke::test_files::ReadFile;

namespace fs = std::filesystem;

constexpr int kMaxMessageBytes = 4 << 20;
constexpr size_t kPieceBytes = size_t{1} << 20;  // what the server derives from 4 MiB

using ::todoke::source_fetcher::testing::Sh;

class ReadTreeLargeFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = absl::StrCat(::testing::TempDir(), "/read-tree-large-", getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string root_;
};

TEST_F(ReadTreeLargeFilesTest, FilesLargerThanAMessageArriveWholeThroughTheRealService) {
  const size_t huge_bytes = (size_t{12} << 20) + 12345;
  ASSERT_TRUE(Sh(absl::StrCat("git init -q -b main work && cd work && mkdir -p app/crds && "
                              "head -c ",
                              huge_bytes,
                              " /dev/urandom > app/crds/bundle.yaml && "
                              "head -c ",
                              kPieceBytes,
                              " /dev/urandom > app/exact.bin && "
                              ": > app/empty.yaml && "
                              "printf 'kind: ConfigMap\\n' > app/small.yaml && "
                              "ln -s crds/bundle.yaml app/link.yaml && "
                              "git add -A && git -c user.name=n -c user.email=e commit -q -m big "
                              "&& cd .. && git clone -q --bare work repo.git"),
                 root_)
                  .ok());
  const std::string work_tree = root_ + "/work";
  const absl::StatusOr<std::string> head = Sh("git rev-parse HEAD", work_tree);
  ASSERT_TRUE(head.ok()) << head.status();
  const std::string commit(absl::StripTrailingAsciiWhitespace(*head));

  auto started = StartService("todoke-source-fetcher",
                              {"--cache-dir=" + root_ + "/cache", "--allow-local-repos",
                               absl::StrCat("--max-message-bytes=", kMaxMessageBytes)});
  ASSERT_TRUE(started.ok()) << started.status();
  auto& [process, address] = *started;
  ChannelOptions channel_options;
  channel_options.max_message_bytes = kMaxMessageBytes;
  auto channel = MakeChannel(address, channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  std::shared_ptr<renderer::FetcherFileSource::Stub> stub =
      todoke::source_fetcher::v1::SourceFetcher::NewStub(*channel);

  renderer::FetcherFileSourceOptions options;
  options.deadline = absl::Now() + absl::Seconds(60);
  renderer::FetcherFileSource source(stub, "file://" + root_ + "/repo.git", commit, options);
  absl::Status prefetched = source.Prefetch("app");
  ASSERT_TRUE(prefetched.ok()) << prefetched;
  EXPECT_EQ(source.fetch_count(), 1);
  for (const std::string path :
       {"app/crds/bundle.yaml", "app/exact.bin", "app/empty.yaml", "app/small.yaml"}) {
    SCOPED_TRACE(path);
    absl::StatusOr<renderer::FileContent> file = source.ReadFileWithId(path);
    ASSERT_TRUE(file.ok()) << file.status();
    const std::string expected = ReadFile(work_tree + "/" + path);
    EXPECT_EQ(file->content.size(), expected.size());
    EXPECT_TRUE(file->content == expected);  // byte for byte
    const absl::StatusOr<std::string> rev_parse = Sh("git rev-parse HEAD:" + path, work_tree);
    ASSERT_TRUE(rev_parse.ok()) << rev_parse.status();
    const std::string blob_id(absl::StripTrailingAsciiWhitespace(*rev_parse));
    EXPECT_EQ(file->blob_id, blob_id);
    EXPECT_EQ(renderer::GitBlobId(file->content), blob_id);
  }
  absl::StatusOr<std::string> bundle = source.ReadFile("app/crds/bundle.yaml");
  ASSERT_TRUE(bundle.ok());
  EXPECT_EQ(bundle->size(), huge_bytes);
  absl::StatusOr<std::string> through_link = source.ReadFile("app/link.yaml");
  ASSERT_TRUE(through_link.ok()) << through_link.status();
  EXPECT_TRUE(*through_link == *bundle);
  EXPECT_TRUE(source.SourceStatus().ok()) << source.SourceStatus();
  EXPECT_EQ(source.fetch_count(), 1);

  absl::StatusOr<int> exit_status = process.Stop(SIGTERM, absl::Seconds(20));
  ASSERT_TRUE(exit_status.ok()) << exit_status.status();
  EXPECT_TRUE(WIFEXITED(*exit_status));
}

}  // namespace
}  // namespace todoke::testing
