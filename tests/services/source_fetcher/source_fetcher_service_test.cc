// SourceFetcherService over a real port-0 gRPC server, backed by the real core and git daemon.
#include "services/source_fetcher/grpc/source_fetcher_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/source_fetcher/grpc/read_tree_client.h"
#include "tests/common/test_files.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::source_fetcher {
namespace {

using ::todoke::test_files::ReadFile;

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
    ASSERT_TRUE(
        Sh("git init -q -b main big && cd big && mkdir data && for i in 0 1 2 3 4 5 6 7 8 9; "
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
    stub_ = v1::SourceFetcher::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
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

// ResolveRequest.bypass_ref_cache reaches the core: with a long --ref-cache-ttl, a moved branch is
// seen at once by a bypassing Resolve, not by an ordinary one.
TEST_F(SourceFetcherServiceTest, BypassRefCacheAsksTheRemote) {
  SourceFetcherOptions options;
  options.cache_dir = dir_.path() + "/cache-ttl";
  options.ref_cache_ttl = absl::Minutes(10);
  auto fetcher = SourceFetcher::Create(options);
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  SourceFetcherService service(fetcher->get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = v1::SourceFetcher::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  auto resolve = [&](bool bypass) {
    v1::ResolveRequest request;
    request.set_repo_url(daemon_.Url("fixture.git"));
    request.set_ref("main");
    request.set_bypass_ref_cache(bypass);
    v1::ResolveResponse response;
    grpc::Status status = stub->Resolve(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.revision().commit();
  };
  const std::string before = resolve(false);
  EXPECT_EQ(before, Commit("main"));
  TempDir work;
  ASSERT_TRUE(Sh("git clone -q " + repos_ +
                     "/fixture.git w && cd w && "
                     "git -c user.name=n -c user.email=e commit -q --allow-empty -m pushed && "
                     "git push -q origin main",
                 work.path())
                  .ok());
  const std::string pushed = Commit("main");
  ASSERT_NE(pushed, before);
  EXPECT_EQ(resolve(false), before);  // from the ref cache
  EXPECT_EQ(resolve(true), pushed);
  EXPECT_EQ((*fetcher)->stats().ls_remotes, 2u);
  server->Shutdown();
}

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

// A server and a client that both keep gRPC's usual 4 MiB message limit, reading a repository
// with a 12 MiB file: only pieces get it across.
TEST_F(SourceFetcherServiceTest, ReadTreeSendsFilesLargerThanAMessageInPieces) {
  constexpr int kMaxMessageBytes = 4 << 20;
  const size_t piece_bytes = ReadTreePieceBytesFor(kMaxMessageBytes);
  ASSERT_EQ(piece_bytes, size_t{1} << 20);
  const size_t huge_bytes = (size_t{12} << 20) + 7;  // 13 pieces, the last of 7 bytes
  ASSERT_TRUE(Sh(absl::StrCat("git init -q -b main large && cd large && mkdir -p m && "
                              "head -c ",
                              huge_bytes,
                              " /dev/urandom > m/huge.bin && "
                              "head -c ",
                              piece_bytes,
                              " /dev/urandom > m/exact.bin && "
                              "head -c ",
                              piece_bytes + 1,
                              " /dev/urandom > m/exact_plus_one.bin && "
                              ": > m/empty.yaml && printf 'kind: ConfigMap\\n' > m/small.yaml && "
                              "git add -A && git -c user.name=n -c user.email=e commit -q -m large "
                              "&& cd .. && git clone -q --bare large repos/large.git"),
                 dir_.path())
                  .ok());
  const std::string work_tree = dir_.path() + "/large";
  const std::vector<std::string> paths = {"m/empty.yaml", "m/exact.bin", "m/exact_plus_one.bin",
                                          "m/huge.bin", "m/small.yaml"};

  auto start = [&](size_t pieces_of) {
    SourceFetcherServiceOptions options;
    options.read_tree_piece_bytes = pieces_of;
    auto service = std::make_unique<SourceFetcherService>(fetcher_.get(), options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service.get());
    builder.SetMaxSendMessageSize(kMaxMessageBytes);
    builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    auto stub = v1::SourceFetcher::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
    return std::make_tuple(std::move(service), std::move(server), std::move(stub));
  };
  auto [service, server, stub] = start(piece_bytes);
  ASSERT_NE(server, nullptr);

  v1::ResolveRequest resolve;
  resolve.set_repo_url(daemon_.Url("large.git"));
  resolve.set_ref("main");
  v1::ResolveResponse resolved;
  ASSERT_TRUE(stub->Resolve(Context().get(), resolve, &resolved).ok());
  v1::ReadTreeRequest request;
  request.set_repo_url(daemon_.Url("large.git"));
  request.set_commit(resolved.revision().commit());
  request.set_path("m");

  // Raw stream: every message within one piece (plus framing), the large files in pieces.
  auto context = Context();
  auto reader = stub->ReadTree(context.get(), request);
  v1::ReadTreeResponse response;
  std::map<std::string, int> pieces;
  size_t largest_message = 0;
  TreeFileAssembler assembler;
  std::map<std::string, v1::TreeFile> files;
  while (reader->Read(&response)) {
    largest_message = std::max(largest_message, response.ByteSizeLong());
    for (v1::TreeFile& piece : *response.mutable_files()) {
      ++pieces[piece.path()];
      absl::StatusOr<std::optional<v1::TreeFile>> file = assembler.Add(std::move(piece));
      ASSERT_TRUE(file.ok()) << file.status();
      if (file->has_value()) files[(*file)->path()] = std::move(**file);
    }
  }
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(assembler.Finish().ok());
  EXPECT_LE(largest_message, piece_bytes + 1024);
  EXPECT_EQ(pieces["m/huge.bin"], 13);
  EXPECT_EQ(pieces["m/exact.bin"], 1);
  EXPECT_EQ(pieces["m/exact_plus_one.bin"], 2);
  EXPECT_EQ(pieces["m/empty.yaml"], 1);
  EXPECT_EQ(pieces["m/small.yaml"], 1);
  ASSERT_EQ(files.size(), paths.size());
  uint64_t total_bytes = 0;
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    const std::string expected = ReadFile(work_tree + "/" + path);
    total_bytes += expected.size();
    const v1::TreeFile& file = files[path];
    EXPECT_EQ(file.content().size(), expected.size());
    EXPECT_TRUE(file.content() == expected);  // byte for byte (no 12 MiB diff on failure)
    EXPECT_EQ(file.size(), expected.size());
    EXPECT_EQ(file.mode(), 0100644u);
    EXPECT_EQ(file.blob_id(),
              absl::StripTrailingAsciiWhitespace(*Sh("git rev-parse HEAD:" + path, work_tree)));
  }
  EXPECT_EQ(files["m/huge.bin"].content().size(), huge_bytes);

  // Limits count files and content, not pieces: exactly the tree's file count and byte total
  // pass (through the shared helper this time), one byte less does not.
  request.set_max_files(static_cast<uint32_t>(paths.size()));
  request.set_max_total_bytes(total_bytes);
  auto limited_context = Context();
  auto limited = stub->ReadTree(limited_context.get(), request);
  std::map<std::string, std::string> whole;
  absl::Status read =
      ReadWholeTreeFiles(limited_context.get(), limited.get(), [&](v1::TreeFile&& file) {
        whole[file.path()] = std::move(*file.mutable_content());
        return absl::OkStatus();
      });
  ASSERT_TRUE(read.ok()) << read;
  EXPECT_EQ(whole.size(), paths.size());
  EXPECT_TRUE(whole["m/huge.bin"] == files["m/huge.bin"].content());
  request.set_max_total_bytes(total_bytes - 1);
  auto over_context = Context();
  auto over = stub->ReadTree(over_context.get(), request);
  read = ReadWholeTreeFiles(over_context.get(), over.get(),
                            [](v1::TreeFile&&) { return absl::OkStatus(); });
  EXPECT_EQ(read.code(), absl::StatusCode::kResourceExhausted) << read;
  server->Shutdown();

  // Control: the same read without pieces (a piece size above the file) does not get through
  // these message limits, so the checks above are about pieces.
  auto [unsplit_service, unsplit_server, unsplit_stub] = start(size_t{64} << 20);
  ASSERT_NE(unsplit_server, nullptr);
  request.set_max_files(0);
  request.set_max_total_bytes(0);
  auto unsplit_context = Context();
  auto unsplit = unsplit_stub->ReadTree(unsplit_context.get(), request);
  read = ReadWholeTreeFiles(unsplit_context.get(), unsplit.get(),
                            [](v1::TreeFile&&) { return absl::OkStatus(); });
  EXPECT_EQ(read.code(), absl::StatusCode::kResourceExhausted) << read;
  unsplit_server->Shutdown();
}

}  // namespace
}  // namespace todoke::source_fetcher
