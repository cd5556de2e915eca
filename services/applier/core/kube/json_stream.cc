#include "services/applier/core/kube/json_stream.h"

#include "absl/strings/str_cat.h"

namespace todoke::applier::kube {

absl::Status JsonObjectSplitter::Feed(
    absl::string_view data, const std::function<bool(absl::string_view object)>& on_object) {
  if (failed_) return absl::FailedPreconditionError("JSON stream already failed");
  if (stopped_) return absl::OkStatus();
  size_t start = 0;  // first byte of the current object within `data`, when depth_ > 0
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (depth_ == 0) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (c != '{') {
        failed_ = true;
        return absl::InvalidArgumentError(
            absl::StrCat("watch stream: expected '{' between events, found byte ",
                         static_cast<int>(static_cast<unsigned char>(c))));
      }
      depth_ = 1;
      start = i;
      continue;
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        bool go_on;
        if (pending_.empty()) {
          go_on = on_object(data.substr(start, i + 1 - start));
        } else {
          pending_.append(data.data() + start, i + 1 - start);
          go_on = on_object(pending_);
          pending_.clear();
        }
        if (!go_on) {
          stopped_ = true;
          return absl::OkStatus();
        }
      }
    }
  }
  if (depth_ > 0) {
    pending_.append(data.data() + start, data.size() - start);
    if (pending_.size() > max_object_bytes_) {
      failed_ = true;
      return absl::ResourceExhaustedError(
          absl::StrCat("watch stream: an event is larger than ", max_object_bytes_, " bytes"));
    }
  }
  return absl::OkStatus();
}

}  // namespace todoke::applier::kube
