// Reading and writing whole files in tests: the one copy of the ifstream/rdbuf helper.
#ifndef TODOKE_TESTS_COMMON_TEST_FILES_H_
#define TODOKE_TESTS_COMMON_TEST_FILES_H_

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace todoke::test_files {

// Reads the whole file at `path` (bytes as stored) into `out`; false if it cannot be opened.
inline bool ReadFile(const std::filesystem::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return true;
}

// The whole file at `path`; "" if it cannot be opened (tests then fail on the content).
inline std::string ReadFile(const std::filesystem::path& path) {
  std::string out;
  ReadFile(path, out);
  return out;
}

// Replaces the file at `path` with `text` (its folder must exist); false if it cannot be written.
inline bool WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace todoke::test_files

#endif  // TODOKE_TESTS_COMMON_TEST_FILES_H_
