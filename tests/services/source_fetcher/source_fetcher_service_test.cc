// SourceFetcherService over a real port-0 gRPC server, backed by the real core and git daemon.
#include "services/source_fetcher/grpc/source_fetcher_service.h"

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::source_fetcher {
namespace {

namespace fs = std::filesystem;
using testing::GitDaemon;
using testing::Sh;
using testing::TempDir;

class SourceFetcherServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repos_ = dir_.path() + "/repos";
    fs::create_directories(repos_);
    ASSERT_TRUE(testing::MakeFixtureRepo(dir_.path(), repos_ + "/fixture.git").ok());
    // A repository with files big enough to need several ReadTree messages.
    ASSERT_TRUE(Sh("git init -q -b main big && cd big && mkdir data && for i in 0 1 2 3 4 5 6 7 8 9; "
                   "do head -c 300000 /dev/urandom > data/f$i.bin; done && git add -A && "
                   "git -c user.name=n -c user.email=e commit -q -m big && cd .. && "
                   "git clone -q --bare big repos/big.git",
                   dir_.path())
                    .ok());
    ASSERT_TRUE(daemon_.Start(repos_, dir_.path() + "/daemon.log").ok());
    SourceFetcherOptions options;
    options.cache_dir = dir_.path() + "/cache";
    auto fetcher = SourceFetcher::Create(options);
    ASSERT_TRUE(fetcher.ok()) << fetcher.status();
    fetcher_ = std::move(*fetcher);
    service_ = std::make_unique<SourceFetcherService>(fetcher_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    builder.SetMaxSendMessageSize(64 << 20);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = v1::SourceFetcher::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(30)) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return context;
  }

  std::string Commit(const std::string& ref) {
    return std::string(absl::StripTrailingAsciiWhitespace(
        *Sh("git rev-parse '" + ref + "^{commit}'", repos_ + "/fixture.git")));
  }

  TempDir dir_;
  std::string repos_;
  GitDaemon daemon_;
  std::unique_ptr<SourceFetcher> fetcher_;
  std::unique_ptr<SourceFetcherService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::SourceFetcher::Stub> stub_;
};

TEST_F(SourceFetcherServiceTest, ResolveAndGetRevision) {
  v1::ResolveRequest request;
  request.set_repo_url(daemon_.Url("fixture.git"));
  request.set_ref("v1.2.0");
  v1::ResolveResponse response;
  grpc::Status status = stub_->Resolve(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.revision().commit(), Commit("v1.2.0"));
  EXPECT_EQ(response.resolved_ref(), "refs/tags/v1.2.0");
  EXPECT_TRUE(response.fetched());
  EXPECT_EQ(response.revision().author_name(), "Ada Author");
  EXPECT_EQ(response.revision().author_time().seconds(), 1704164645);

  request.set_ref("main");
  status = stub_->Resolve(Context().get(), request, &response);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(response.fetched());

  v1::GetRevisionRequest get;
  get.set_repo_url(daemon_.Url("fixture.git"));
  get.set_commit(Commit("feature"));
  v1::Revision revision;
  status = stub_->GetRevision(Context().get(), get, &revision);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(revision.message(), "feature work\n");
}

TEST_F(SourceFetcherServiceTest, ErrorCodesCrossTheWire) {
  v1::ResolveRequest request;
  request.set_repo_url(daemon_.Url("fixture.git"));
  request.set_ref("no-such-ref");
  v1::ResolveResponse response;
  grpc::Status status = stub_->Resolve(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("no-such-ref"));

  request.set_repo_url("https://user:pw-secret@example.com/x.git");
  status = stub_->Resolve(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::Not(::testing::HasSubstr("pw-secret")));

  testing::SilentServer silent;
  request.set_repo_url(absl::StrCat("git://127.0.0.1:", silent.port(), "/x.git"));
  absl::Time start = absl::Now();
  status = stub_->Resolve(Context(absl::Milliseconds(600)).get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(SourceFetcherServiceTest, ReadTreeStreamsInChunks) {
  v1::ResolveRequest resolve;
  resolve.set_repo_url(daemon_.Url("big.git"));
  resolve.set_ref("main");
  v1::ResolveResponse resolved;
  ASSERT_TRUE(stub_->Resolve(Context().get(), resolve, &resolved).ok());

  v1::ReadTreeRequest request;
  request.set_repo_url(daemon_.Url("big.git"));
  request.set_commit(resolved.revision().commit());
  request.set_path("data");
  auto context = Context();
  auto reader = stub_->ReadTree(context.get(), request);
  v1::ReadTreeResponse chunk;
  int messages = 0;
  std::map<std::string, size_t> sizes;
  while (reader->Read(&chunk)) {
    ++messages;
    for (const auto& f : chunk.files()) sizes[f.path()] = f.content().size();
  }
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(sizes.size(), 10u);
  EXPECT_EQ(sizes["data/f3.bin"], 300000u);
  EXPECT_GE(messages, 3);  // 3 MB in ~1 MiB messages

  request.set_max_total_bytes(1000);
  auto limited_context = Context();
  auto limited = stub_->ReadTree(limited_context.get(), request);
  while (limited->Read(&chunk)) {
  }
  EXPECT_EQ(limited->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  request.set_max_total_bytes(0);
  request.set_path("../x");
  auto bad_context = Context();
  auto bad = stub_->ReadTree(bad_context.get(), request);
  while (bad->Read(&chunk)) {
  }
  EXPECT_EQ(bad->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace todoke::source_fetcher
