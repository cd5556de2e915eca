#include "common/grpc_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace todoke {
namespace {

// Bytes one message byte takes in the grpc-message header (percent-encoded outside 0x20-0x7e).
size_t EncodedSize(unsigned char c) { return (c < 0x20 || c > 0x7e || c == '%') ? 3 : 1; }

// Moves `at` back to the start of a UTF-8 sequence (never splits a character).
size_t CharBoundary(absl::string_view text, size_t at) {
  while (at > 0 && at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) {
    --at;
  }
  return at;
}

}  // namespace

std::string CapStatusMessage(absl::string_view message) {
  size_t encoded = 0;
  for (unsigned char c : message) encoded += EncodedSize(c);
  if (encoded <= kMaxStatusMessageEncodedBytes) return std::string(message);
  // Keep the start (what failed, which app/file) and the end (the cause), each within half of
  // the budget once encoded, and say how much was cut.
  const size_t half = kMaxStatusMessageEncodedBytes / 2 - 64;
  size_t head = 0;
  for (size_t used = 0; head < message.size() && used + EncodedSize(message[head]) <= half;
       ++head) {
    used += EncodedSize(message[head]);
  }
  head = CharBoundary(message, head);
  size_t tail = message.size();
  for (size_t used = 0; tail > head && used + EncodedSize(message[tail - 1]) <= half; --tail) {
    used += EncodedSize(message[tail - 1]);
  }
  tail = CharBoundary(message, tail);
  if (tail < head) tail = head;
  return absl::StrCat(message.substr(0, head), " [... ", tail - head, " bytes cut ...] ",
                      message.substr(tail));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      CapStatusMessage(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace todoke
