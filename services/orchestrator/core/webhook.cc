#include "services/orchestrator/core/webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_parse.h"

namespace todoke::orchestrator {
namespace {

const std::string* Header(const std::map<std::string, std::string>& headers,
                          const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? nullptr : &it->second;
}

std::string StringAt(const Json& json, std::initializer_list<const char*> path) {
  const Json* node = &json;
  for (const char* key : path) {
    if (!node->is_object()) return "";
    auto it = node->find(key);
    if (it == node->end()) return "";
    node = &*it;
  }
  return node->is_string() ? node->get<std::string>() : "";
}

}  // namespace

std::string HmacSha256Hex(const std::string& key, const std::string& body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

WebhookHandler::WebhookHandler(std::string secret, RefreshFn refresh, size_t remembered_deliveries)
    : secret_(std::move(secret)),
      refresh_(std::move(refresh)),
      remembered_(remembered_deliveries) {}

bool WebhookHandler::SeenBefore(const std::string& delivery_id) {
  if (delivery_id.empty()) return false;
  absl::MutexLock lock(&mu_);
  if (!seen_.insert(delivery_id).second) return true;
  seen_order_.push_back(delivery_id);
  while (seen_order_.size() > remembered_) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return false;
}

WebhookResult WebhookHandler::Handle(const std::map<std::string, std::string>& headers,
                                     const std::string& body) {
  WebhookResult result;
  if (secret_.empty()) {
    result.http_status = 401;
    result.message = "webhooks are disabled: the orchestrator has no webhook secret";
    return result;
  }
  std::string kind;
  std::string delivery;
  bool authentic = false;
  if (const std::string* event = Header(headers, "x-github-event")) {
    kind = "github";
    const std::string* signature = Header(headers, "x-hub-signature-256");
    authentic =
        signature != nullptr &&
        ConstantTimeEquals(*signature, absl::StrCat("sha256=", HmacSha256Hex(secret_, body)));
    if (const std::string* id = Header(headers, "x-github-delivery")) delivery = "github:" + *id;
    if (authentic && *event == "ping") {
      result.http_status = 200;
      result.message = "pong";
      return result;
    }
    if (authentic && *event != "push") {
      result.http_status = 200;
      result.message = absl::StrCat("event ", *event, " ignored");
      return result;
    }
  } else if (const std::string* event = Header(headers, "x-gitlab-event")) {
    kind = "gitlab";
    const std::string* token = Header(headers, "x-gitlab-token");
    authentic = token != nullptr && ConstantTimeEquals(*token, secret_);
    if (const std::string* id = Header(headers, "x-gitlab-event-uuid")) delivery = "gitlab:" + *id;
    if (authentic && *event != "Push Hook" && *event != "Tag Push Hook") {
      result.http_status = 200;
      result.message = absl::StrCat("event ", *event, " ignored");
      return result;
    }
  } else {
    kind = "generic";
    const std::string* signature = Header(headers, "x-todoke-signature-256");
    authentic =
        signature != nullptr &&
        ConstantTimeEquals(*signature, absl::StrCat("sha256=", HmacSha256Hex(secret_, body)));
    if (const std::string* id = Header(headers, "x-todoke-delivery")) delivery = "generic:" + *id;
  }
  if (!authentic) {
    result.http_status = 401;
    result.message = "signature or token does not match";
    return result;
  }
  if (SeenBefore(delivery)) {
    result.http_status = 200;
    result.message = "delivery already handled";
    return result;
  }
  absl::StatusOr<Json> payload = ParseJson(body);
  if (!payload.ok() || !payload->is_object()) {
    result.http_status = 400;
    result.message = "body is not a JSON object";
    return result;
  }
  std::vector<std::string> urls;
  std::string ref = StringAt(*payload, {"ref"});
  if (kind == "github") {
    for (const char* field : {"clone_url", "ssh_url", "git_url", "html_url"}) {
      std::string url = StringAt(*payload, {"repository", field});
      if (!url.empty()) urls.push_back(url);
    }
  } else if (kind == "gitlab") {
    for (const char* field : {"git_http_url", "git_ssh_url", "homepage"}) {
      std::string url = StringAt(*payload, {"project", field});
      if (!url.empty()) urls.push_back(url);
    }
  } else {
    std::string url = StringAt(*payload, {"repoURL"});
    if (!url.empty()) urls.push_back(url);
  }
  if (urls.empty()) {
    result.http_status = 400;
    result.message = "the payload names no repository";
    return result;
  }
  std::set<std::string> apps;
  for (const std::string& url : urls) {
    for (std::string& app : refresh_(url, ref)) apps.insert(std::move(app));
  }
  result.apps.assign(apps.begin(), apps.end());
  result.http_status = 202;
  result.message = result.apps.empty()
                       ? "no application follows this repository and ref"
                       : absl::StrCat("refreshing ", absl::StrJoin(result.apps, ", "));
  return result;
}

}  // namespace todoke::orchestrator
