#include "services/differ/core/list_strategy.h"

#include <string>


namespace todoke::differ {
namespace {

const Json& TcpDefault() {
  static const Json* tcp = new Json("TCP");
  return *tcp;
}

// Associative lists of the built-in kinds, by the name of the field holding them.
ListStrategy MapStrategyFor(std::string_view field_name, const Json& desired_items,
                            const Json& live_items) {
  using F = MergeKeyField;
  ListStrategy strategy;
  strategy.kind = ListStrategy::Kind::kMap;
  if (field_name == "containers" || field_name == "initContainers" ||
      field_name == "ephemeralContainers" || field_name == "env" || field_name == "volumes" ||
      field_name == "imagePullSecrets" || field_name == "resourceClaims" ||
      field_name == "schedulingGates" || field_name == "claims" || field_name == "webhooks") {
    strategy.key_fields = {F{"name"}};
  } else if (field_name == "volumeMounts") {
    strategy.key_fields = {F{"mountPath"}};
  } else if (field_name == "volumeDevices") {
    strategy.key_fields = {F{"devicePath"}};
  } else if (field_name == "hostAliases") {
    strategy.key_fields = {F{"ip"}};
  } else if (field_name == "topologySpreadConstraints") {
    strategy.key_fields = {F{"topologyKey"}, F{"whenUnsatisfiable"}};
  } else if (field_name == "ownerReferences") {
    strategy.key_fields = {F{"uid"}};
  } else if (field_name == "conditions") {
    strategy.key_fields = {F{"type"}};
  } else if (field_name == "ports") {
    // Container ports are keyed by containerPort+protocol, Service ports by port+protocol.
    auto has_container_port = [](const Json& items) {
      for (const Json& item : items) {
        if (item.is_object() && item.contains("containerPort")) return true;
      }
      return false;
    };
    const bool container = has_container_port(desired_items) || has_container_port(live_items);
    strategy.key_fields = {F{container ? "containerPort" : "port"}, F{"protocol", &TcpDefault()}};
  } else {
    strategy.kind = ListStrategy::Kind::kAtomic;
  }
  return strategy;
}

}  // namespace

ListStrategy ListStrategyFor(std::string_view field_name, const Json& desired_items,
                             const Json& live_items) {
  if (field_name == "finalizers") {
    bool all_scalars = true;
    for (const Json* items : {&desired_items, &live_items}) {
      for (const Json& item : *items) all_scalars = all_scalars && item.is_primitive();
    }
    ListStrategy strategy;
    if (all_scalars) strategy.kind = ListStrategy::Kind::kSet;
    return strategy;
  }
  return MapStrategyFor(field_name, desired_items, live_items);
}

std::optional<std::vector<std::string>> MergeKeyTexts(const ListStrategy& strategy,
                                                      const Json& items) {
  std::vector<std::string> keys;
  keys.reserve(items.size());
  for (const Json& item : items) {
    std::string key = MergeKeyText(strategy, item);
    if (key.empty()) return std::nullopt;
    // Lists are short (containers, env, ports): a quadratic duplicate check beats hashing.
    for (const std::string& seen : keys) {
      if (seen == key) return std::nullopt;
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

void AppendJsonText(std::string& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      out.push_back('"');
      for (char c : text) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\' || u < 0x20 || u >= 0x7f) {
          // Rare in keys: let nlohmann escape (and validate UTF-8) exactly as CanonicalJson does.
          out.resize(out.size() - 1);
          out.append(CanonicalJson(value));
          return;
        }
      }
      out.append(text);
      out.push_back('"');
      return;
    }
    case Json::value_t::number_integer:
      out.append(std::to_string(value.get<int64_t>()));
      return;
    case Json::value_t::number_unsigned:
      out.append(std::to_string(value.get<uint64_t>()));
      return;
    case Json::value_t::boolean:
      out.append(value.get<bool>() ? "true" : "false");
      return;
    default:
      out.append(CanonicalJson(value));
      return;
  }
}

std::string MergeKeyText(const ListStrategy& strategy, const Json& item) {
  std::string key;
  if (!AppendMergeKeyText(key, strategy, item)) return "";
  return key;
}

bool AppendMergeKeyText(std::string& out, const ListStrategy& strategy, const Json& item) {
  if (!item.is_object()) return false;
  out.push_back('{');
  bool first = true;
  for (const MergeKeyField& field : strategy.key_fields) {
    auto it = item.find(field.name);
    const Json* value = nullptr;
    if (it != item.end() && !it->is_null()) {
      value = &*it;
    } else if (field.default_value != nullptr) {
      value = field.default_value;
    } else {
      return false;
    }
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(field.name);
    out.append("\":");
    AppendJsonText(out, *value);
  }
  out.push_back('}');
  return true;
}

}  // namespace todoke::differ
