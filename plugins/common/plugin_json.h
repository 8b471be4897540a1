// JSON helpers shared by the first-party plugins (header-only; compiled into each plugin, which
// links nothing of the host).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <agentd/plugin.hpp>

#include <string>
#include <string_view>

namespace agentd::plugins {

// Parses json, which must be one JSON object; `what` names it in errors ("arguments", "config").
// Throws agentd::sdk::Error(AGENTD_EINVAL) otherwise.
inline rapidjson::Document parseObject(std::string_view json, std::string_view what) {
  using agentd::sdk::Error;
  rapidjson::Document doc;
  if (json.empty()) throw Error(AGENTD_EINVAL, std::string(what) + " must be a JSON object");
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    throw Error(AGENTD_EINVAL, std::string(what) + " are not valid JSON: " +
                                   rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) throw Error(AGENTD_EINVAL, std::string(what) + " must be a JSON object");
  return doc;
}

// The member `name` of obj, or nullptr when it is absent or null.
inline const rapidjson::Value* find(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

}  // namespace agentd::plugins
