// The libFuzzer entry point of one fuzz target, chosen at compile time by TODOKE_FUZZ_TARGET
// (a name from FuzzTargets()). A broken invariant aborts, so libFuzzer keeps the input as a
// crash, like a sanitizer report. Built only by scripts/fuzz.sh (clang, -fsanitize=fuzzer).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tests/fuzz/fuzz_targets.h"

namespace {

todoke::fuzz::FuzzEntry Entry() {
  static const todoke::fuzz::FuzzEntry entry = [] {
    auto it = todoke::fuzz::FuzzTargets().find(TODOKE_FUZZ_TARGET);
    if (it == todoke::fuzz::FuzzTargets().end()) {
      std::fprintf(stderr, "no fuzz target named %s\n", TODOKE_FUZZ_TARGET);
      std::abort();
    }
    return it->second;
  }();
  return entry;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Status status = Entry()(absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!status.ok()) {
    std::fprintf(stderr, "fuzz target %s: invariant broken: %s\n", TODOKE_FUZZ_TARGET,
                 std::string(status.message()).c_str());
    std::abort();
  }
  return 0;
}
