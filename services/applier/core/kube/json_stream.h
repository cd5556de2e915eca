// Splits a byte stream of concatenated JSON objects (a Kubernetes watch response: one event
// object after another, newline-separated or not) into whole objects, without parsing them.
// Internal to the kube client; exposed for its tests. Not thread-safe.
#ifndef TODOKE_SERVICES_APPLIER_CORE_KUBE_JSON_STREAM_H_
#define TODOKE_SERVICES_APPLIER_CORE_KUBE_JSON_STREAM_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace todoke::applier::kube {

class JsonObjectSplitter {
 public:
  // `max_object_bytes` bounds one object (RESOURCE_EXHAUSTED beyond it).
  explicit JsonObjectSplitter(size_t max_object_bytes = size_t{256} << 20)
      : max_object_bytes_(max_object_bytes) {}

  // Feeds `data`; calls `on_object` with the text of each object completed, in order. Stops and
  // returns OK when `on_object` returns false (stopped() is then true). INVALID_ARGUMENT when
  // something other than whitespace appears between objects; the splitter is then unusable.
  absl::Status Feed(absl::string_view data,
                    const std::function<bool(absl::string_view object)>& on_object);

  bool stopped() const { return stopped_; }
  // Bytes of an incomplete object held.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const size_t max_object_bytes_;
  std::string pending_;  // the current object's bytes so far
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  bool stopped_ = false;
  bool failed_ = false;
};

}  // namespace todoke::applier::kube

#endif  // TODOKE_SERVICES_APPLIER_CORE_KUBE_JSON_STREAM_H_
