// The ReadTree client helper against a scripted fake stream: reassembly of pieces, and every way
// a sequence of pieces can be broken ending in a DATA_LOSS that names the file.
#include "services/source_fetcher/grpc/read_tree_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace todoke::source_fetcher {
namespace {

using ::testing::HasSubstr;

// Plays back `responses`, then ends with `status`. Records whether Finish was called.
class FakeReader final : public grpc::ClientReaderInterface<v1::ReadTreeResponse> {
 public:
  FakeReader(std::vector<v1::ReadTreeResponse> responses, grpc::Status status = grpc::Status::OK)
      : responses_(std::move(responses)), status_(std::move(status)) {}

  bool Read(v1::ReadTreeResponse* message) override {
    if (next_ >= responses_.size()) return false;
    *message = responses_[next_++];
    return true;
  }
  bool NextMessageSize(uint32_t* size) override {
    if (next_ >= responses_.size()) return false;
    *size = static_cast<uint32_t>(responses_[next_].ByteSizeLong());
    return true;
  }
  grpc::Status Finish() override {
    finished = true;
    return status_;
  }
  void WaitForInitialMetadata() override {}

  size_t responses_read() const { return next_; }
  bool finished = false;

 private:
  std::vector<v1::ReadTreeResponse> responses_;
  grpc::Status status_;
  size_t next_ = 0;
};

v1::TreeFile Piece(const std::string& path, uint64_t offset, uint64_t size,
                   const std::string& content) {
  v1::TreeFile file;
  file.set_path(path);
  file.set_mode(0100644);
  file.set_blob_id("blob-of-" + path);
  file.set_offset(offset);
  file.set_size(size);
  file.set_content(content);
  return file;
}

v1::ReadTreeResponse Response(std::vector<v1::TreeFile> files) {
  v1::ReadTreeResponse response;
  for (v1::TreeFile& file : files) *response.add_files() = std::move(file);
  return response;
}

struct Outcome {
  absl::Status status;
  std::map<std::string, std::string> files;  // path -> content
  std::vector<std::string> order;
  bool all_whole = true;  // every delivered file had offset 0 and size == content size
};

Outcome ReadAll(FakeReader& reader) {
  Outcome outcome;
  grpc::ClientContext context;
  outcome.status = ReadWholeTreeFiles(&context, &reader, [&](v1::TreeFile&& file) {
    outcome.all_whole = outcome.all_whole && file.offset() == 0 &&
                        file.size() == file.content().size() &&
                        file.blob_id() == "blob-of-" + file.path();
    outcome.order.push_back(file.path());
    outcome.files[file.path()] = file.content();
    return absl::OkStatus();
  });
  return outcome;
}

TEST(ReadWholeTreeFilesTest, ReassemblesPiecesAcrossAndWithinResponses) {
  const std::string big = "0123456789abcdefghij";  // 20 bytes in pieces of 8, 8, 4
  FakeReader reader({
      Response({Piece("a.yaml", 0, 3, "a-1"), Piece("big.bin", 0, 20, big.substr(0, 8))}),
      Response({Piece("big.bin", 8, 20, big.substr(8, 8))}),
      Response({Piece("big.bin", 16, 20, big.substr(16)), Piece("empty", 0, 0, ""),
                Piece("z.yaml", 0, 3, "z-1")}),
  });
  Outcome outcome = ReadAll(reader);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_THAT(outcome.order, ::testing::ElementsAre("a.yaml", "big.bin", "empty", "z.yaml"));
  EXPECT_EQ(outcome.files["big.bin"], big);
  EXPECT_EQ(outcome.files["empty"], "");
  EXPECT_EQ(outcome.files["z.yaml"], "z-1");
  EXPECT_TRUE(outcome.all_whole);
  EXPECT_TRUE(reader.finished);
}

TEST(ReadWholeTreeFilesTest, AcceptsWholeFilesFromServersBeforePieces) {
  // No offset, no size: the content is the whole file.
  FakeReader reader({Response({Piece("old.yaml", 0, 0, "kind: ConfigMap\n")})});
  Outcome outcome = ReadAll(reader);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(outcome.files["old.yaml"], "kind: ConfigMap\n");
  EXPECT_TRUE(outcome.all_whole);
}

TEST(ReadWholeTreeFilesTest, GapIsDataLossNamingThePath) {
  FakeReader reader({Response({Piece("dir/big.bin", 0, 12, "aaaa")}),
                     Response({Piece("dir/big.bin", 8, 12, "cccc")})});
  Outcome outcome = ReadAll(reader);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("\"dir/big.bin\""));
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("offset 8 after 4 bytes"));
  EXPECT_TRUE(outcome.files.empty());
  EXPECT_TRUE(reader.finished);
}

TEST(ReadWholeTreeFilesTest, RepeatedPieceIsDataLoss) {
  FakeReader reader({Response({Piece("big.bin", 0, 8, "aaaa"), Piece("big.bin", 0, 8, "aaaa")})});
  Outcome outcome = ReadAll(reader);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("\"big.bin\""));
  EXPECT_TRUE(outcome.files.empty());
}

TEST(ReadWholeTreeFilesTest, OtherFileBeforeCompletionIsDataLossNamingBoth) {
  FakeReader reader({Response({Piece("big.bin", 0, 8, "aaaa"), Piece("other.yaml", 0, 2, "hi")}),
                     Response({Piece("big.bin", 4, 8, "bbbb")})});
  Outcome outcome = ReadAll(reader);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(outcome.status.message()),
              HasSubstr("\"big.bin\" ended after 4 of its 8 bytes"));
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("\"other.yaml\""));
  EXPECT_TRUE(outcome.files.empty());
  // It stopped at the broken response instead of reading on.
  EXPECT_EQ(reader.responses_read(), 1u);
}

TEST(ReadWholeTreeFilesTest, StreamEndingMidFileIsDataLossNamingThePath) {
  FakeReader reader({Response({Piece("small.yaml", 0, 2, "ok"), Piece("big.bin", 0, 8, "aaaa")}),
                     Response({Piece("big.bin", 4, 8, "bb")})});
  Outcome outcome = ReadAll(reader);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("\"big.bin\""));
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("ended after 6 of its 8 bytes"));
  // Files completed before the break were delivered; the broken one never was.
  EXPECT_THAT(outcome.order, ::testing::ElementsAre("small.yaml"));
}

TEST(ReadWholeTreeFilesTest, StreamErrorMidFileKeepsItsCodeAndNamesThePath) {
  FakeReader reader({Response({Piece("big.bin", 0, 8, "aaaa")})},
                    grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  Outcome outcome = ReadAll(reader);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("\"big.bin\""));
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("connection reset"));
  EXPECT_TRUE(outcome.files.empty());
}

TEST(ReadWholeTreeFilesTest, StreamErrorBetweenFilesIsPassedThrough) {
  FakeReader reader({Response({Piece("a.yaml", 0, 1, "a")})},
                    grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "over 1000 bytes"));
  Outcome outcome = ReadAll(reader);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(std::string(outcome.status.message()), "over 1000 bytes");
}

TEST(ReadWholeTreeFilesTest, MissingFirstPieceIsDataLoss) {
  FakeReader reader({Response({Piece("big.bin", 4, 8, "bbbb")})});
  Outcome outcome = ReadAll(reader);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("\"big.bin\" starts at offset 4"));
}

TEST(ReadWholeTreeFilesTest, PiecePastTheSizeIsDataLoss) {
  FakeReader first_too_long({Response({Piece("a.bin", 0, 3, "abcd")})});
  Outcome outcome = ReadAll(first_too_long);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("\"a.bin\""));

  FakeReader last_too_long({Response({Piece("b.bin", 0, 6, "abcd"), Piece("b.bin", 4, 6, "efg")})});
  outcome = ReadAll(last_too_long);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(outcome.status.message()),
              HasSubstr("\"b.bin\" has a piece of 3 bytes at offset 4"));
  EXPECT_TRUE(outcome.files.empty());
}

TEST(ReadWholeTreeFilesTest, PiecesDisagreeingOnTheFileAreDataLoss) {
  v1::TreeFile second = Piece("big.bin", 4, 8, "bbbb");
  second.set_blob_id("another-blob");
  FakeReader reader({Response({Piece("big.bin", 0, 8, "aaaa"), second})});
  Outcome outcome = ReadAll(reader);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(outcome.status.message()), HasSubstr("\"big.bin\""));

  FakeReader resized({Response({Piece("big.bin", 0, 8, "aaaa"), Piece("big.bin", 4, 6, "bb")})});
  outcome = ReadAll(resized);
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(outcome.files.empty());
}

TEST(ReadWholeTreeFilesTest, CallbackErrorStopsTheStream) {
  FakeReader reader(
      {Response({Piece("a.yaml", 0, 1, "a")}), Response({Piece("b.yaml", 0, 1, "b")})});
  grpc::ClientContext context;
  int calls = 0;
  absl::Status status = ReadWholeTreeFiles(&context, &reader, [&](v1::TreeFile&&) {
    ++calls;
    return absl::FailedPreconditionError("enough");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(reader.responses_read(), 1u);
  EXPECT_TRUE(reader.finished);
}

TEST(TreeFileAssemblerTest, StaysBrokenAfterAnError) {
  TreeFileAssembler assembler;
  ASSERT_TRUE(assembler.Add(Piece("big.bin", 0, 8, "aaaa")).ok());
  EXPECT_EQ(assembler.pending_path(), "big.bin");
  EXPECT_FALSE(assembler.Add(Piece("big.bin", 6, 8, "cc")).ok());
  // Even a piece that would have fitted is refused now.
  EXPECT_EQ(assembler.Add(Piece("big.bin", 4, 8, "bbbb")).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(assembler.Finish().code(), absl::StatusCode::kDataLoss);
}

TEST(TreeFileAssemblerTest, EmptyFileAndExactSizeFileAreWholeAtOnce) {
  TreeFileAssembler assembler;
  absl::StatusOr<std::optional<v1::TreeFile>> empty = assembler.Add(Piece("empty", 0, 0, ""));
  ASSERT_TRUE(empty.ok() && empty->has_value());
  EXPECT_EQ((*empty)->content(), "");
  absl::StatusOr<std::optional<v1::TreeFile>> exact = assembler.Add(Piece("exact", 0, 4, "abcd"));
  ASSERT_TRUE(exact.ok() && exact->has_value());
  EXPECT_EQ((*exact)->content(), "abcd");
  EXPECT_TRUE(assembler.pending_path().empty());
  EXPECT_TRUE(assembler.Finish().ok());
}

}  // namespace
}  // namespace todoke::source_fetcher
