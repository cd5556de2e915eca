// The renderer's own SHA-1 and SHA-256 must agree with the published test vectors and with the
// tools users compare against (`git hash-object`, `sha256sum`), whatever way the input is split.
#include "services/renderer/core/hashing.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace todoke::renderer {
namespace {

TEST(HashingTest, Sha256MatchesFipsVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(HashingTest, Sha1MatchesFipsVectors) {
  EXPECT_EQ(Sha1Hex("", ""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Sha1Hex("a", "bc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", ""),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Sha1Hex("", std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(HashingTest, IncrementalUpdatesGiveTheOneShotDigestAtEverySplit) {
  std::string input;
  for (int i = 0; i < 300; ++i) input.push_back(static_cast<char>('!' + (i * 7) % 90));
  const std::string whole256 = Sha256Hex(input);
  for (size_t split = 0; split <= input.size(); ++split) {
    Sha256 hash;
    hash.Update(absl::string_view(input).substr(0, split));
    hash.Update(absl::string_view(input).substr(split));
    ASSERT_EQ(hash.HexDigest(), whole256) << "split at " << split;
    ASSERT_EQ(Sha1Hex(input.substr(0, split), input.substr(split)), Sha1Hex(input, ""))
        << "split at " << split;
  }
}

std::string CommandOutput(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[256];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '-')) {
    out.pop_back();
  }
  return out;
}

// Lengths around the 55/56/64-byte padding boundaries, where hand-written hashes go wrong.
TEST(HashingTest, AgreesWithGitAndSha256sumAroundBlockBoundaries) {
  const std::string path = ::testing::TempDir() + "/hashing_input";
  for (size_t length : {0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000}) {
    std::string content;
    for (size_t i = 0; i < length; ++i) content.push_back(static_cast<char>(i * 31 + 7));
    std::ofstream(path, std::ios::binary) << content;
    const std::string git = CommandOutput("git hash-object --no-filters " + path);
    ASSERT_EQ(git.size(), 40u) << "git hash-object failed";
    EXPECT_EQ(Sha1Hex("blob " + std::to_string(length) + std::string(1, '\0'), content), git)
        << "length " << length;
    EXPECT_EQ(Sha256Hex(content), CommandOutput("sha256sum < " + path)) << "length " << length;
  }
}

}  // namespace
}  // namespace todoke::renderer
