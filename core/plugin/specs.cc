#include "plugin/specs.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json.h"
#include "observability/log.h"

namespace agentd::plugin {

namespace fs = std::filesystem;

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void strings(Writer& w, const char* key, const std::vector<std::string>& v) {
  if (v.empty()) return;
  w.Key(key);
  w.StartArray();
  for (const auto& s : v) w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  w.EndArray();
}

void stringMap(Writer& w, const char* key, const std::map<std::string, std::string>& m) {
  if (m.empty()) return;
  w.Key(key);
  w.StartObject();
  for (const auto& [k, v] : m) {
    w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
}

void string(Writer& w, const char* key, const std::string& v) {
  if (v.empty()) return;
  w.Key(key);
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

// The MCP adapter's config: its own `config` table, with every [mcp.servers.NAME] added to its
// "servers" object (a server named in both places takes the [mcp.servers] settings).
std::string mcpAdapterConfig(const std::string& own, const config::Config& cfg) {
  auto doc = json::parse(own.empty() ? "{}" : own);
  if (!doc.ok() || !doc->IsObject()) return own;
  auto& a = doc->GetAllocator();
  if (!doc->HasMember("servers"))
    doc->AddMember("servers", rapidjson::Value(rapidjson::kObjectType), a);
  rapidjson::Value& servers = (*doc)["servers"];
  if (!servers.IsObject()) return own;
  for (const auto& [name, sv] : cfg.mcp.servers) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    string(w, "command", sv.command);
    strings(w, "args", sv.args);
    stringMap(w, "env", sv.env);
    string(w, "cwd", sv.cwd);
    string(w, "url", sv.url);
    stringMap(w, "headers", sv.headers);
    w.Key("timeout_seconds");
    w.Int(sv.timeout_seconds);
    w.Key("required");
    w.Bool(sv.required);
    strings(w, "allow", sv.allow);
    strings(w, "deny", sv.deny);
    w.EndObject();
    auto server = json::parse(std::string(buf.GetString(), buf.GetSize()));
    servers.RemoveMember(name.c_str());
    servers.AddMember(rapidjson::Value(name.c_str(), a), rapidjson::Value(*server, a), a);
  }
  return json::write(*doc);
}

bool isMcpAdapter(const PluginSpec& s) {
  return s.name == "mcp" || (s.name.empty() && fs::path(s.path).stem() == "mcp");
}

}  // namespace

std::vector<PluginSpec> specsFromConfig(const config::Config& cfg) {
  std::vector<PluginSpec> specs;
  std::set<std::string> explicit_paths;
  for (const auto& [name, e] : cfg.plugins.entries) {
    PluginSpec s;
    s.path = e.path;
    s.sha256 = e.sha256;
    s.config_json = e.config_json;
    s.name = e.name;
    specs.push_back(s);
    std::error_code ec;
    explicit_paths.insert(fs::weakly_canonical(e.path, ec).string());
  }
  for (const auto& dir : cfg.plugins.directories) {
    std::error_code ec;
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".so") continue;
      if (!entry.is_regular_file(ec)) continue;
      if (explicit_paths.count(fs::weakly_canonical(entry.path(), ec).string())) continue;
      found.push_back(entry.path().string());
    }
    if (ec) log::warn("plugin directory unreadable", {{"directory", dir}, {"error", ec.message()}});
    std::sort(found.begin(), found.end());
    for (auto& p : found) {
      PluginSpec s;
      s.path = std::move(p);
      specs.push_back(std::move(s));
    }
  }
  // [mcp.servers.*] reach the MCP adapter (plugin `mcp`) as part of its config.
  if (!cfg.mcp.servers.empty()) {
    bool found = false;
    for (auto& s : specs) {
      if (!isMcpAdapter(s)) continue;
      s.config_json = mcpAdapterConfig(s.config_json, cfg);
      found = true;
    }
    if (!found) {
      log::warn("[mcp.servers] are configured but no MCP adapter plugin (mcp.so) is loaded");
    }
  }
  return specs;
}

}  // namespace agentd::plugin
