#include "services/differ/core/list_strategy.h"

#include <string>

namespace todoke::differ {
namespace {

const JsonNode& TcpDefault() {
  static constexpr char kTcp[] = "TCP";
  static const JsonNode tcp = JsonNode::String(kTcp, 3);
  return tcp;
}

// Associative lists of the built-in kinds, by the name of the field holding them.
ListStrategy MapStrategyFor(std::string_view field_name, const JsonNode& desired_items,
                            const JsonNode& live_items) {
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
    auto has_container_port = [](const JsonNode& items) {
      for (const JsonNode& item : items.items()) {
        if (item.Find("containerPort") != nullptr) return true;
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

ListStrategy ListStrategyFor(std::string_view field_name, const JsonNode& desired_items,
                             const JsonNode& live_items) {
  if (field_name == "finalizers") {
    bool all_scalars = true;
    for (const JsonNode* items : {&desired_items, &live_items}) {
      for (const JsonNode& item : items->items()) all_scalars = all_scalars && item.is_primitive();
    }
    ListStrategy strategy;
    if (all_scalars) strategy.kind = ListStrategy::Kind::kSet;
    return strategy;
  }
  return MapStrategyFor(field_name, desired_items, live_items);
}

bool AppendMergeKeyText(std::string& out, const ListStrategy& strategy, const JsonNode& item) {
  if (!item.is_object()) return false;
  out.push_back('{');
  bool first = true;
  for (const MergeKeyField& field : strategy.key_fields) {
    const JsonNode* value = item.Find(field.name);
    if (value == nullptr || value->is_null()) value = field.default_value;
    if (value == nullptr) return false;
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(field.name);
    out.append("\":");
    AppendCanonicalJson(out, *value);
  }
  out.push_back('}');
  return true;
}

}  // namespace todoke::differ
