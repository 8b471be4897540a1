#include "config/config.h"

#include <glob.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <rapidjson/prettywriter.h>

#include "common/json.h"
#include "common/sha256.h"
#include "config/schema.h"

namespace agentd::config {

namespace fs = std::filesystem;
using schema::Ctx;
using schema::Section;
using schema::StringKind;
using schema::StringOpts;
using schema::Value;

std::string ConfigError::toString() const {
  std::string s =
      where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

SourceLoc Config::where(const std::string& key) const {
  auto it = locations.find(key);
  return it != locations.end() ? it->second : SourceLoc{path, 0, 0};
}

namespace schema {

SourceLoc Ctx::loc(const toml::source_region& src) const {
  return SourceLoc{src.path ? *src.path : main_file, static_cast<int>(src.begin.line),
                   static_cast<int>(src.begin.column)};
}

const char* typeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

bool interpolate(const std::string& in, const std::string& config_dir, std::string* out,
                 std::string* error) {
  out->clear();
  for (size_t i = 0; i < in.size();) {
    if (in[i] == '$' && i + 1 < in.size() && in[i + 1] == '{') {
      size_t end = in.find('}', i + 2);
      if (end == std::string::npos) {
        *error = "unterminated ${...} reference";
        return false;
      }
      std::string inner = in.substr(i + 2, end - i - 2);
      std::string name = inner, def;
      bool has_def = false;
      if (size_t d = inner.find(":-"); d != std::string::npos) {
        name = inner.substr(0, d);
        def = inner.substr(d + 2);
        has_def = true;
      }
      const char* v = name == "CONFIG_DIR" ? config_dir.c_str() : std::getenv(name.c_str());
      if (v != nullptr && *v != '\0') {
        *out += v;
      } else if (has_def) {
        *out += def;
      } else {
        *error = "environment variable " + name + " is not set (write ${" + name +
                 ":-default} to give a default)";
        return false;
      }
      i = end + 1;
    } else {
      *out += in[i++];
    }
  }
  return true;
}

std::string envName(const std::string& key) {
  std::string s = "AGENTD_";
  for (char c : key) s += c == '.' ? '_' : static_cast<char>(std::toupper(c));
  return s;
}

std::string absolutePath(const std::string& base_dir, const std::string& p) {
  if (p.empty()) return p;
  fs::path path(p);
  if (path.is_relative()) path = fs::path(base_dir) / path;
  return path.lexically_normal().string();
}

namespace {

bool validListen(const std::string& s) {
  size_t c = s.rfind(':');
  if (c == std::string::npos || c == 0 || c + 1 == s.size() || s.size() - c > 6) return false;
  for (size_t i = c + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return std::stol(s.substr(c + 1)) <= 65535;
}

std::string joinWords(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& w : v) s += (s.empty() ? "" : ", ") + w;
  return s;
}

void expectedError(const Value& v, Ctx& ctx, const std::string& path, const std::string& expected,
                   const std::string& found) {
  ctx.error(v.where, path,
            "expected " + expected + ", found " + found +
                (v.env_name.empty() ? "" : " (from environment " + v.env_name + ")"));
}

std::string describe(const toml::node& n) { return typeName(n.type()); }

}  // namespace

bool checkString(const std::string& v, const StringOpts& o, std::string* expected) {
  if (!o.one_of.empty()) {
    for (const auto& allowed : o.one_of) {
      if (v == allowed) return true;
    }
    *expected = "one of " + joinWords(o.one_of);
    return false;
  }
  switch (o.kind) {
    case StringKind::kListen:
      if (validListen(v)) return true;
      *expected = "HOST:PORT with a port in 0-65535";
      return false;
    case StringKind::kSha256:
      if (v.size() == 64 && v.find_first_not_of("0123456789abcdef") == std::string::npos) {
        return true;
      }
      *expected = "64 lowercase hex digits";
      return false;
    case StringKind::kUrl:
      if (v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0) return true;
      *expected = "an http:// or https:// URL";
      return false;
    case StringKind::kPath:
      if (!v.empty()) return true;
      *expected = "a non-empty path";
      return false;
    case StringKind::kAny:
      return true;
  }
  return true;
}

namespace {
// {"type": type, element_key: {"type": "string"}, "description": desc}
void writeStringsSchema(JsonWriter& w, const char* type, const char* element_key,
                        const char* desc) {
  w.StartObject();
  w.Key("type");
  w.String(type);
  w.Key(element_key);
  w.StartObject();
  w.Key("type");
  w.String("string");
  w.EndObject();
  w.Key("description");
  w.String(desc);
  w.EndObject();
}
}  // namespace

void writeStringListSchema(JsonWriter& w, const char* desc) {
  writeStringsSchema(w, "array", "items", desc);
}

void writeStringMapSchema(JsonWriter& w, const char* desc) {
  writeStringsSchema(w, "object", "additionalProperties", desc);
}

void writeStringSchema(JsonWriter& w, const StringOpts& o, const char* desc) {
  w.StartObject();
  w.Key("type");
  w.String("string");
  if (!o.one_of.empty()) {
    w.Key("enum");
    w.StartArray();
    for (const auto& s : o.one_of) w.String(s.c_str());
    w.EndArray();
  }
  if (o.kind == StringKind::kSha256) {
    w.Key("pattern");
    w.String("^[0-9a-f]{64}$");
  } else if (o.kind == StringKind::kListen) {
    w.Key("pattern");
    w.String("^(\\$\\{[^}]+\\}|.+:[0-9]{1,5})$");
  }
  if (o.secret) {
    w.Key("writeOnly");
    w.Bool(true);
  }
  w.Key("description");
  w.String(desc);
  w.EndObject();
}

bool readString(const Value& v, const StringOpts& o, Ctx& ctx, const std::string& path,
                std::string* out) {
  std::string raw;
  if (v.node != nullptr) {
    if (!v.node->is_string()) {
      expectedError(v, ctx, path, "a string", describe(*v.node));
      return false;
    }
    raw = v.node->as_string()->get();
  } else {
    raw = v.env_text;
  }
  std::string error;
  if (!interpolate(raw, ctx.base_dir, out, &error)) {
    ctx.error(v.where, path, error);
    return false;
  }
  std::string expected;
  if (!checkString(*out, o, &expected)) {
    expectedError(v, ctx, path, expected, o.secret ? "another value" : "\"" + *out + "\"");
    return false;
  }
  return true;
}

bool readInteger(const Value& v, int64_t min, int64_t max, Ctx& ctx, const std::string& path,
                 int64_t* out) {
  int64_t i = 0;
  if (v.node != nullptr) {
    if (!v.node->is_integer()) {
      expectedError(v, ctx, path, "an integer", describe(*v.node));
      return false;
    }
    i = v.node->as_integer()->get();
  } else {
    char* end = nullptr;
    errno = 0;
    long long parsed = std::strtoll(v.env_text.c_str(), &end, 10);
    if (errno != 0 || end == v.env_text.c_str() || *end != '\0') {
      expectedError(v, ctx, path, "an integer", "\"" + v.env_text + "\"");
      return false;
    }
    i = parsed;
  }
  if (i < min || i > max) {
    expectedError(v, ctx, path,
                  "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]",
                  std::to_string(i));
    return false;
  }
  *out = i;
  return true;
}

bool readNumber(const Value& v, double min, double max, Ctx& ctx, const std::string& path,
                double* out) {
  double d = 0;
  if (v.node != nullptr) {
    if (v.node->is_integer()) {
      d = static_cast<double>(v.node->as_integer()->get());
    } else if (v.node->is_floating_point()) {
      d = v.node->as_floating_point()->get();
    } else {
      expectedError(v, ctx, path, "a number", describe(*v.node));
      return false;
    }
  } else {
    char* end = nullptr;
    d = std::strtod(v.env_text.c_str(), &end);
    if (end == v.env_text.c_str() || *end != '\0') {
      expectedError(v, ctx, path, "a number", "\"" + v.env_text + "\"");
      return false;
    }
  }
  if (!std::isfinite(d) || d < min || d > max) {
    std::ostringstream range;
    range << "a number in [" << min << ", " << max << "]";
    std::ostringstream found;
    found << d;
    expectedError(v, ctx, path, range.str(), found.str());
    return false;
  }
  *out = d;
  return true;
}

bool readBool(const Value& v, Ctx& ctx, const std::string& path, bool* out) {
  if (v.node != nullptr) {
    if (!v.node->is_boolean()) {
      expectedError(v, ctx, path, "a boolean", describe(*v.node));
      return false;
    }
    *out = v.node->as_boolean()->get();
    return true;
  }
  if (v.env_text == "true" || v.env_text == "1") {
    *out = true;
  } else if (v.env_text == "false" || v.env_text == "0") {
    *out = false;
  } else {
    expectedError(v, ctx, path, "true or false", "\"" + v.env_text + "\"");
    return false;
  }
  return true;
}

bool readStrings(const Value& v, StringKind kind, Ctx& ctx, const std::string& path,
                 std::vector<std::string>* out) {
  if (v.node == nullptr) return false;
  if (!v.node->is_array()) {
    expectedError(v, ctx, path, "an array of strings", describe(*v.node));
    return false;
  }
  bool ok = true;
  size_t i = 0;
  StringOpts o;
  o.kind = kind;
  for (const toml::node& e : *v.node->as_array()) {
    std::string item_path = path + "[" + std::to_string(i++) + "]";
    Value item;
    item.node = &e;
    item.where = ctx.loc(e);
    ctx.record(item_path, item.where);
    std::string s;
    if (!readString(item, o, ctx, item_path, &s)) {
      ok = false;
      continue;
    }
    out->push_back(std::move(s));
  }
  return ok;
}

bool readStringMap(const Value& v, Ctx& ctx, const std::string& path,
                   std::map<std::string, std::string>* out) {
  if (v.node == nullptr) return false;
  if (!v.node->is_table()) {
    expectedError(v, ctx, path, "a table of strings", describe(*v.node));
    return false;
  }
  bool ok = true;
  for (auto&& [k, e] : *v.node->as_table()) {
    std::string item_path = join(path, std::string(k.str()));
    Value item;
    item.node = &e;
    item.where = ctx.loc(e);
    ctx.record(item_path, item.where);
    std::string s;
    if (!readString(item, StringOpts{}, ctx, item_path, &s)) {
      ok = false;
      continue;
    }
    (*out)[std::string(k.str())] = std::move(s);
  }
  return ok;
}

namespace {

void writeJson(const toml::node& n, JsonWriter& w, Ctx& ctx, const std::string& path, bool* ok) {
  switch (n.type()) {
    case toml::node_type::table:
      w.StartObject();
      for (auto&& [k, v] : *n.as_table()) {
        w.Key(k.str().data(), static_cast<rapidjson::SizeType>(k.str().size()));
        writeJson(v, w, ctx, join(path, std::string(k.str())), ok);
      }
      w.EndObject();
      break;
    case toml::node_type::array: {
      w.StartArray();
      size_t i = 0;
      for (const toml::node& e : *n.as_array()) {
        writeJson(e, w, ctx, path + "[" + std::to_string(i++) + "]", ok);
      }
      w.EndArray();
      break;
    }
    case toml::node_type::string: {
      std::string s, error;
      if (!interpolate(n.as_string()->get(), ctx.base_dir, &s, &error)) {
        ctx.error(n, path, error);
        *ok = false;
      }
      w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      break;
    }
    case toml::node_type::integer:
      w.Int64(n.as_integer()->get());
      break;
    case toml::node_type::floating_point:
      w.Double(n.as_floating_point()->get());
      break;
    case toml::node_type::boolean:
      w.Bool(n.as_boolean()->get());
      break;
    default:
      ctx.error(
          n, path,
          std::string("dates and times cannot be passed to plugins, found ") + typeName(n.type()));
      *ok = false;
      w.Null();
  }
}

void tomlFromJson(const rapidjson::Value& v, toml::table& out, const std::string& key);

void appendJson(const rapidjson::Value& v, toml::array& out) {
  if (v.IsString())
    out.push_back(std::string(v.GetString(), v.GetStringLength()));
  else if (v.IsBool())
    out.push_back(v.GetBool());
  else if (v.IsInt64())
    out.push_back(v.GetInt64());
  else if (v.IsNumber())
    out.push_back(v.GetDouble());
  else if (v.IsArray()) {
    toml::array a;
    for (const auto& e : v.GetArray()) appendJson(e, a);
    out.push_back(std::move(a));
  } else if (v.IsObject()) {
    toml::table t;
    for (const auto& m : v.GetObject()) {
      tomlFromJson(m.value, t, std::string(m.name.GetString(), m.name.GetStringLength()));
    }
    out.push_back(std::move(t));
  }
}

void tomlFromJson(const rapidjson::Value& v, toml::table& out, const std::string& key) {
  toml::array holder;
  appendJson(v, holder);
  if (holder.empty()) return;
  out.insert_or_assign(key, std::move(*holder.get(0)));
}

}  // namespace

bool readJsonTable(const Value& v, Ctx& ctx, const std::string& path, std::string* out) {
  if (v.node == nullptr) return false;
  if (!v.node->is_table()) {
    expectedError(v, ctx, path, "a table", describe(*v.node));
    return false;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  bool ok = true;
  writeJson(*v.node, w, ctx, path, &ok);
  out->assign(buf.GetString(), buf.GetSize());
  return ok;
}

toml::table jsonToToml(const std::string& text) {
  toml::table t;
  auto doc = json::parse(text);
  if (!doc.ok() || !doc->IsObject()) return t;
  for (const auto& m : doc->GetObject()) {
    tomlFromJson(m.value, t, std::string(m.name.GetString(), m.name.GetStringLength()));
  }
  return t;
}

}  // namespace schema

namespace {

// The schema: every section and key the configuration file may hold.
const Section<Config>& rootSchema() {
  static const Section<Config> root = [] {
    const StringOpts listen{false, StringKind::kListen, {}};
    const StringOpts path{false, StringKind::kPath, {}};
    const StringOpts secret{true, StringKind::kAny, {}};

    Section<AuthConfig::Jwt> jwt;
    jwt.string("hs256_secret", &AuthConfig::Jwt::hs256_secret,
               "Shared secret for HS256 bearer tokens.", secret)
        .string("rs256_public_key_file", &AuthConfig::Jwt::rs256_public_key_file,
                "PEM public key for RS256 bearer tokens.", path)
        .string("issuer", &AuthConfig::Jwt::issuer, "Required `iss` claim, when set.")
        .string("audience", &AuthConfig::Jwt::audience, "Required `aud` claim, when set.")
        .string("roles_claim", &AuthConfig::Jwt::roles_claim,
                "Claim holding the roles (read, run, admin).");
    Section<AuthConfig> auth;
    auth.strings("api_keys", &AuthConfig::api_keys, "Accepted API keys.", StringKind::kAny, true)
        .string("api_keys_file", &AuthConfig::api_keys_file, "File with one API key per line.",
                path)
        .section("jwt", &AuthConfig::jwt, jwt, "JWT bearer tokens.");
    Section<ServerConfig::RateLimit> rate;
    rate.number("requests_per_second", &ServerConfig::RateLimit::requests_per_second, 0, 1e6,
                "Token-bucket refill rate per key or client address; 0 turns it off.")
        .integer("burst", &ServerConfig::RateLimit::burst, 1, 1000000, "Token-bucket size.");
    Section<ServerConfig> server;
    server.string("listen", &ServerConfig::listen, "API listen address; restart required.", listen)
        .integer("shutdown_grace_seconds", &ServerConfig::shutdown_grace_seconds, 0, 3600,
                 "How long in-flight tasks may run after SIGTERM.")
        .integer("max_body_bytes", &ServerConfig::max_body_bytes, 1024, 1 << 30,
                 "Largest request body accepted.")
        .integer("max_header_bytes", &ServerConfig::max_header_bytes, 1024, 1 << 20,
                 "Largest request header accepted.")
        .integer("request_timeout_seconds", &ServerConfig::request_timeout_seconds, 1, 3600,
                 "Time limit for reading a request.")
        .integer("max_concurrent_tasks", &ServerConfig::max_concurrent_tasks, 1, 100000,
                 "Tasks running at once, over all agents.")
        .integer("max_queued_tasks", &ServerConfig::max_queued_tasks, 0, 1000000,
                 "Tasks waiting for a slot before new ones get 429.")
        .strings("cors_origins", &ServerConfig::cors_origins, "Origins allowed by CORS.")
        .section("auth", &ServerConfig::auth, auth, "Authentication of API requests.")
        .section("rate_limit", &ServerConfig::rate_limit, rate, "Request rate limits.");

    Section<MetricsConfig> metrics;
    metrics.string("listen", &MetricsConfig::listen,
                   "Listen address of /metrics; restart required.", listen);
    Section<LoggingConfig> logging;
    logging.string("level", &LoggingConfig::level, "Minimum log level (LOG_LEVEL overrides).",
                   StringOpts{false, StringKind::kAny, {"debug", "info", "warn", "error"}});
    Section<ReloadConfig> reload;
    reload.boolean("watch", &ReloadConfig::watch, "Watch the configuration's directories.")
        .integer("debounce_ms", &ReloadConfig::debounce_ms, 0, 60000,
                 "Quiet time after the last file event before reloading.")
        .integer("poll_interval_seconds", &ReloadConfig::poll_interval_seconds, 0, 86400,
                 "Hash poll fallback interval; 0 turns it off.");

    Section<PluginEntry> plugin;
    plugin.string("path", &PluginEntry::path, "The plugin's .so file.", path)
        .string("sha256", &PluginEntry::sha256, "Expected SHA-256 of the file.",
                StringOpts{false, StringKind::kSha256, {}})
        .boolean("required", &PluginEntry::required,
                 "A required plugin that fails to load makes agentd not ready.")
        .jsonTable("config", &PluginEntry::config_json, "Passed to the plugin as JSON.");
    Section<PluginsConfig> plugins;
    plugins
        .strings("directories", &PluginsConfig::directories,
                 "Every *.so in these directories is loaded.", StringKind::kPath)
        .string("state_dir", &PluginsConfig::state_dir,
                "Where private copies of plugin files go; restart required.", path)
        .integer("drain_timeout_ms", &PluginsConfig::drain_timeout_ms, 0, 600000,
                 "How long a replaced plugin may finish its calls before it is quarantined.")
        .integer("workers", &PluginsConfig::workers, 1, 1024, "Threads running plugin calls.")
        .integer("call_timeout_ms", &PluginsConfig::call_timeout_ms, 1, 86400000,
                 "Default time limit of one tool call.")
        .rest(&PluginsConfig::entries, plugin, &PluginEntry::name, "A plugin: [plugins.NAME].");

    Section<ProviderConfig> provider;
    provider
        .string("type", &ProviderConfig::type, "Wire format of the provider.",
                StringOpts{false, StringKind::kAny, {"openai", "anthropic", "scripted", "replay"}})
        .string("base_url", &ProviderConfig::base_url, "Endpoint base URL.",
                StringOpts{false, StringKind::kUrl, {}})
        .string("api_key", &ProviderConfig::api_key, "API key; use ${ENV_VAR}.", secret)
        .string("api_version", &ProviderConfig::api_version,
                "API version header (anthropic-version).")
        .stringMap("headers", &ProviderConfig::headers, "Extra request headers.", true)
        .integer("connect_timeout_ms", &ProviderConfig::connect_timeout_ms, 1, 600000,
                 "Connect timeout.")
        .integer("first_byte_timeout_ms", &ProviderConfig::first_byte_timeout_ms, 1, 3600000,
                 "Time to the first response byte.")
        .integer("timeout_ms", &ProviderConfig::timeout_ms, 1, 86400000, "Total time of a call.")
        .integer("max_attempts", &ProviderConfig::max_attempts, 1, 100,
                 "Attempts per call, retries included.")
        .integer("retry_max_elapsed_ms", &ProviderConfig::retry_max_elapsed_ms, 0, 86400000,
                 "Total time retries may take.")
        .string("record", &ProviderConfig::record, "Record request/response pairs here.", path)
        .string("cassette", &ProviderConfig::cassette, "replay: the cassette to answer from.", path)
        .string("script", &ProviderConfig::script, "scripted: the turns to return.", path)
        .boolean("script_cycle", &ProviderConfig::script_cycle,
                 "scripted: start over after the last turn instead of failing.");

    Section<ModelConfig> model;
    model.string("provider", &ModelConfig::provider, "A [model_providers] name.")
        .string("model", &ModelConfig::model, "The provider's model name.")
        .integer("max_tokens", &ModelConfig::max_tokens, 1, 10000000, "Output token limit.")
        .number("temperature", &ModelConfig::temperature, 0, 2, "Sampling temperature.")
        .number("top_p", &ModelConfig::top_p, 0, 1, "Nucleus sampling.")
        .boolean("parallel_tool_calls", &ModelConfig::parallel_tool_calls,
                 "Let the model ask for several tool calls at once.")
        .strings("fallback", &ModelConfig::fallback,
                 "Models tried, in order, when this one is unavailable.")
        .boolean("cache", &ModelConfig::cache, "Cache identical requests.")
        .integer("cache_ttl_seconds", &ModelConfig::cache_ttl_seconds, 1, 30000000,
                 "Lifetime of a cached response.")
        .integer("cache_max_bytes", &ModelConfig::cache_max_bytes, 1024, 1 << 30,
                 "Size bound of the response cache.");

    Section<AgentConfig> agent;
    agent.string("model", &AgentConfig::model, "A [models] name.")
        .integer("max_steps", &AgentConfig::max_steps, 1, 100000, "Step limit of one task.")
        .strings("tools", &AgentConfig::tools, "Tools the agent may use.")
        .strings("skills", &AgentConfig::skills, "Skills listed in the agent's prompt.")
        .strings("mcp_servers", &AgentConfig::mcp_servers, "[mcp.servers] names.")
        .string("system_prompt", &AgentConfig::system_prompt, "The system prompt.")
        .string("working_dir", &AgentConfig::working_dir,
                "Default working directory of its tasks (created when missing).", path)
        .integer("concurrency", &AgentConfig::concurrency, 1, 10000,
                 "Tasks of this agent running at once.")
        .integer("tool_timeout_seconds", &AgentConfig::tool_timeout_seconds, 1, 86400,
                 "Time limit of one tool call.");

    Section<McpServerConfig> mcp_server;
    mcp_server.string("command", &McpServerConfig::command, "stdio: the program to start.")
        .strings("args", &McpServerConfig::args, "stdio: its arguments.")
        .stringMap("env", &McpServerConfig::env, "stdio: extra environment.", true)
        .string("cwd", &McpServerConfig::cwd, "stdio: working directory.", path)
        .string("url", &McpServerConfig::url, "Streamable HTTP endpoint.",
                StringOpts{false, StringKind::kUrl, {}})
        .stringMap("headers", &McpServerConfig::headers, "HTTP headers; use ${ENV_VAR}.", true)
        .integer("timeout_seconds", &McpServerConfig::timeout_seconds, 1, 86400,
                 "Per-request timeout.")
        .boolean("required", &McpServerConfig::required, "agentd is not ready without it.")
        .strings("allow", &McpServerConfig::allow, "Tools exposed (all when empty).")
        .strings("deny", &McpServerConfig::deny, "Tools hidden.");
    Section<Config::Mcp> mcp;
    mcp.named("servers", &Config::Mcp::servers, mcp_server, &McpServerConfig::name,
              "MCP servers: [mcp.servers.NAME].");

    Section<Config> r;
    r.section("server", &Config::server, server, "The API listener.")
        .section("metrics", &Config::metrics, metrics, "The /metrics listener.")
        .section("logging", &Config::logging, logging, "Logs (JSON lines on stderr).")
        .section("reload", &Config::reload, reload, "Live reload of this configuration.")
        .section("plugins", &Config::plugins, plugins, "Plugin loading.")
        .named("model_providers", &Config::model_providers, provider, &ProviderConfig::name,
               "Model endpoints: [model_providers.NAME].")
        .named("models", &Config::models, model, &ModelConfig::name, "Models: [models.NAME].")
        .named("agents", &Config::agents, agent, &AgentConfig::name, "Agents: [agents.NAME].")
        .section("mcp", &Config::mcp, mcp, "MCP servers.");
    return r;
  }();
  return root;
}

// Merges src into dst: tables recursively, everything else replaced (later files win).
void mergeInto(toml::table& dst, toml::table&& src) {
  for (auto&& [k, v] : src) {
    toml::node* existing = dst.get(k.str());
    if (existing != nullptr && existing->is_table() && v.is_table()) {
      mergeInto(*existing->as_table(), std::move(*v.as_table()));
    } else {
      dst.insert_or_assign(k, std::move(v));
    }
  }
}

Result<std::string> readOrError(const std::string& path) { return readFile(path); }

// Cross-checks references between sections.
void validateReferences(const Config& c, Ctx& ctx) {
  auto err = [&](const std::string& key, const std::string& msg) {
    ctx.error(c.where(key), key, msg);
  };
  for (const auto& [name, p] : c.model_providers) {
    std::string base = "model_providers." + name;
    if (p.type.empty()) {
      err(base, "missing required key type (one of openai, anthropic, scripted, replay)");
    }
    if (p.type == "scripted" && p.script.empty()) {
      err(base, "a scripted provider needs `script` (the turns to return)");
    }
    if (p.type == "replay" && p.cassette.empty()) {
      err(base, "a replay provider needs `cassette` (the recording to answer from)");
    }
  }
  for (const auto& [name, m] : c.models) {
    std::string base = "models." + name;
    if (m.provider.empty()) {
      err(base, "missing required key provider (a [model_providers] name)");
    } else if (!c.model_providers.count(m.provider)) {
      err(base + ".provider", "no [model_providers." + m.provider + "] is defined");
    }
    if (m.model.empty() && m.provider.size() && c.model_providers.count(m.provider) &&
        (c.model_providers.at(m.provider).type == "openai" ||
         c.model_providers.at(m.provider).type == "anthropic")) {
      err(base, "missing required key model (the provider's model name)");
    }
    for (size_t i = 0; i < m.fallback.size(); ++i) {
      std::string key = base + ".fallback[" + std::to_string(i) + "]";
      if (m.fallback[i] == name) {
        err(key, "a model cannot be its own fallback");
      } else if (!c.models.count(m.fallback[i])) {
        err(key, "no [models." + m.fallback[i] + "] is defined");
      }
    }
  }
  for (const auto& [name, a] : c.agents) {
    std::string base = "agents." + name;
    if (!a.model.empty() && !c.models.count(a.model)) {
      err(base + ".model", "no [models." + a.model + "] is defined");
    }
    for (size_t i = 0; i < a.mcp_servers.size(); ++i) {
      if (!c.mcp.servers.count(a.mcp_servers[i])) {
        err(base + ".mcp_servers[" + std::to_string(i) + "]",
            "no [mcp.servers." + a.mcp_servers[i] + "] is defined");
      }
    }
  }
  for (const auto& [name, s] : c.mcp.servers) {
    std::string base = "mcp.servers." + name;
    if (s.command.empty() == s.url.empty()) {
      err(base, "set exactly one of command (stdio) or url (Streamable HTTP)");
    }
  }
}

}  // namespace

Result<std::shared_ptr<const Config>> load(const std::string& path, const Overrides& overrides,
                                           std::vector<ConfigError>* out_errors) {
  auto cfg = std::make_shared<Config>();
  cfg->path = path;
  Ctx ctx;
  ctx.main_file = path;
  ctx.locations = &cfg->locations;
  std::error_code ec;
  ctx.base_dir = fs::absolute(path, ec).parent_path().lexically_normal().string();

  auto fail = [&]() -> Status {
    std::string msg;
    for (const auto& e : ctx.errors) msg += (msg.empty() ? "" : "\n") + e.toString();
    if (out_errors != nullptr) {
      out_errors->insert(out_errors->end(), ctx.errors.begin(), ctx.errors.end());
    }
    return Status::invalidArgument(msg);
  };

  std::string hash_input;
  auto parseFile = [&](const std::string& file, toml::table* out) -> bool {
    auto text = readOrError(file);
    if (!text.ok()) {
      ctx.error(SourceLoc{file, 0, 0}, "", "cannot read: " + text.status().message());
      return false;
    }
    cfg->files.push_back(file);
    hash_input += file + '\0' + *text + '\0';
    toml::parse_result parsed = toml::parse(*text, std::string_view(file));
    if (!parsed) {
      const toml::parse_error& e = parsed.error();
      ctx.error(SourceLoc{file, static_cast<int>(e.source().begin.line),
                          static_cast<int>(e.source().begin.column)},
                "", std::string(e.description()));
      return false;
    }
    *out = std::move(parsed.table());
    return true;
  };

  toml::table root;
  if (!parseFile(path, &root)) return fail();

  // include = ["conf.d/*.toml", ...]: merged in order, later files win.
  if (toml::node* inc = root.get("include")) {
    std::vector<std::string> patterns;
    Value v;
    v.node = inc;
    v.where = ctx.loc(*inc);
    schema::readStrings(v, StringKind::kPath, ctx, "include", &patterns);
    for (const auto& pattern : patterns) {
      std::string abs = schema::absolutePath(ctx.base_dir, pattern);
      cfg->include_dirs.push_back(fs::path(abs).parent_path().string());
      glob_t g{};
      int rc = glob(abs.c_str(), GLOB_ERR, nullptr, &g);
      if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          toml::table part;
          if (!parseFile(g.gl_pathv[i], &part)) continue;
          if (const toml::node* nested = part.get("include")) {
            ctx.error(ctx.loc(*nested), "include", "only the main file may include others");
            part.erase("include");
          }
          mergeInto(root, std::move(part));
        }
      } else if (rc != GLOB_NOMATCH) {
        ctx.error(v.where, "include", "cannot expand " + abs);
      }
      globfree(&g);
    }
    root.erase("include");
  }
  cfg->sha256 = sha256Hex(hash_input);
  if (!ctx.errors.empty()) return fail();

  rootSchema().parse(&root, *cfg, ctx, "", SourceLoc{path, 1, 1});

  // The command line wins over the environment and the file.
  auto cli = [&](const std::string& value, const std::string& key, std::string* field,
                 const StringOpts& o) {
    if (value.empty()) return;
    std::string expected;
    SourceLoc where{"command line", 0, 0};
    if (!schema::checkString(value, o, &expected)) {
      ctx.error(where, key, "expected " + expected + ", found \"" + value + "\"");
      return;
    }
    *field = value;
    cfg->locations[key] = where;
  };
  cli(overrides.metrics_listen, "metrics.listen", &cfg->metrics.listen,
      StringOpts{false, StringKind::kListen, {}});
  cli(overrides.server_listen, "server.listen", &cfg->server.listen,
      StringOpts{false, StringKind::kListen, {}});
  cli(overrides.log_level, "logging.level", &cfg->logging.level,
      StringOpts{false, StringKind::kAny, {"debug", "info", "warn", "error"}});

  validateReferences(*cfg, ctx);
  if (!ctx.errors.empty()) return fail();
  return std::shared_ptr<const Config>(std::move(cfg));
}

namespace {

toml::table renderTable(const Config& cfg, bool redact) {
  toml::table t;
  rootSchema().render(cfg, t, redact);
  return t;
}

void flatten(const toml::node& n, const std::string& path,
             std::map<std::string, std::string>* out) {
  if (const toml::table* t = n.as_table()) {
    if (t->empty()) (*out)[path] = "{}";
    for (auto&& [k, v] : *t) flatten(v, schema::join(path, std::string(k.str())), out);
  } else {
    std::ostringstream s;
    if (const toml::array* a = n.as_array()) {
      s << *a;
    } else {
      n.visit([&](auto&& v) {
        if constexpr (toml::is_string<decltype(v)>) {
          s << json::quote(v.get());
        } else if constexpr (toml::is_number<decltype(v)> || toml::is_boolean<decltype(v)>) {
          s << v.get();
        }
      });
    }
    (*out)[path] = s.str();
  }
}

}  // namespace

std::string renderToml(const Config& cfg, bool redact) {
  std::ostringstream s;
  s << toml::toml_formatter(renderTable(cfg, redact));
  return s.str() + "\n";
}

std::string renderJson(const Config& cfg, bool redact) {
  std::ostringstream s;
  s << toml::json_formatter(renderTable(cfg, redact));
  return s.str() + "\n";
}

std::vector<std::string> changedKeys(const Config& a, const Config& b) {
  std::map<std::string, std::string> fa, fb;
  flatten(renderTable(a, false), "", &fa);
  flatten(renderTable(b, false), "", &fb);
  std::vector<std::string> out;
  for (const auto& [k, v] : fa) {
    auto it = fb.find(k);
    if (it == fb.end() || it->second != v) out.push_back(k);
  }
  for (const auto& [k, v] : fb) {
    if (!fa.count(k)) out.push_back(k);
  }
  return out;
}

const std::vector<std::string>& restartOnlyKeys() {
  // Read once at start-up: the listeners, the API's auth, limits and CORS, and the plugin host's
  // state directory, pool and drain time. (A key here also covers the keys below it.)
  static const std::vector<std::string> keys = {"server.listen",
                                                "server.auth",
                                                "server.rate_limit",
                                                "server.cors_origins",
                                                "server.max_body_bytes",
                                                "server.max_header_bytes",
                                                "server.request_timeout_seconds",
                                                "metrics.listen",
                                                "plugins.state_dir",
                                                "plugins.workers",
                                                "plugins.drain_timeout_ms"};
  return keys;
}

bool isRestartOnly(const std::string& key) {
  for (const auto& r : restartOnlyKeys()) {
    if (key == r || (key.size() > r.size() && key.compare(0, r.size(), r) == 0 &&
                     (key[r.size()] == '.' || key[r.size()] == '['))) {
      return true;
    }
  }
  return false;
}

std::string jsonSchema() {
  rapidjson::StringBuffer buf;
  schema::JsonWriter w(buf);
  w.StartObject();
  w.Key("$schema");
  w.String("https://json-schema.org/draft/2020-12/schema");
  w.Key("title");
  w.String("agentd configuration (agentd.toml)");
  w.Key("type");
  w.String("object");
  w.Key("properties");
  w.StartObject();
  w.Key("include");
  schema::writeStringListSchema(
      w, "Glob patterns of files merged into this one, in order (later files win).");
  w.EndObject();
  w.EndObject();
  std::string head(buf.GetString(), buf.GetSize());

  rapidjson::StringBuffer body;
  schema::JsonWriter wb(body);
  rootSchema().writeSchema(wb, "agentd configuration");
  // Splice: the root schema's properties plus `include`.
  auto doc = json::parse(std::string(body.GetString(), body.GetSize()));
  auto top = json::parse(head);
  auto& alloc = top->GetAllocator();
  rapidjson::Value& props = (*top)["properties"];
  for (auto& m : (*doc)["properties"].GetObject()) {
    props.AddMember(rapidjson::Value(m.name, alloc), rapidjson::Value(m.value, alloc), alloc);
  }
  top->AddMember("additionalProperties", false, alloc);
  rapidjson::StringBuffer pretty;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> pw(pretty);
  pw.SetIndent(' ', 2);
  top->Accept(pw);
  return std::string(pretty.GetString(), pretty.GetSize()) + "\n";
}

}  // namespace agentd::config
