#include "config/config.h"

#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/sha256.h"

namespace agentd::config {

namespace fs = std::filesystem;

std::string ConfigError::toString() const {
  std::string s = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

namespace {

class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}
  void add(const toml::source_region& where, std::string key, std::string message) {
    list_.push_back({file_, static_cast<int>(where.begin.line),
                     static_cast<int>(where.begin.column), std::move(key), std::move(message)});
  }
  const std::string& file() const { return file_; }
  std::vector<ConfigError>& list() { return list_; }

 private:
  std::string file_;
  std::vector<ConfigError> list_;
};

const char* typeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// Replaces ${VAR} and ${VAR:-default}. Returns false with *error set on an unset VAR without
// default or an unterminated reference.
bool interpolate(const std::string& in, std::string* out, std::string* error) {
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
      const char* v = std::getenv(name.c_str());
      if (v != nullptr && *v != '\0') {
        *out += v;
      } else if (has_def) {
        *out += def;
      } else {
        *error = "environment variable " + name + " is not set (use ${" + name +
                 ":-default} for a default)";
        return false;
      }
      i = end + 1;
    } else {
      *out += in[i++];
    }
  }
  return true;
}

// Reads one table against an implied schema: each accessor marks its key as known; finish()
// reports the rest as unknown keys.
class TableReader {
 public:
  TableReader(const toml::table& t, std::string path, Errors& errors)
      : t_(t), path_(std::move(path)), errors_(errors) {}

  std::string keyPath(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  const toml::node* get(std::string_view key) {
    known_.insert(std::string(key));
    return t_.get(key);
  }

  void wrongType(const toml::node& n, std::string_view key, const char* expected) {
    errors_.add(n.source(), keyPath(key),
                std::string("expected ") + expected + ", found " + typeName(n.type()));
  }

  void invalid(const toml::node& n, std::string_view key, const std::string& expected,
               const std::string& found) {
    errors_.add(n.source(), keyPath(key), "expected " + expected + ", found \"" + found + "\"");
  }

  bool str(std::string_view key, std::string* out) {
    const toml::node* n = get(key);
    if (n == nullptr) return false;
    if (!n->is_string()) {
      wrongType(*n, key, "a string");
      return false;
    }
    std::string error;
    if (!interpolate(n->as_string()->get(), out, &error)) {
      errors_.add(n->source(), keyPath(key), error);
      return false;
    }
    return true;
  }

  bool integer(std::string_view key, int* out, int64_t min, int64_t max) {
    const toml::node* n = get(key);
    if (n == nullptr) return false;
    if (!n->is_integer()) {
      wrongType(*n, key, "an integer");
      return false;
    }
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      errors_.add(n->source(), keyPath(key),
                  "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                      "], found " + std::to_string(v));
      return false;
    }
    *out = static_cast<int>(v);
    return true;
  }

  bool boolean(std::string_view key, bool* out) {
    const toml::node* n = get(key);
    if (n == nullptr) return false;
    if (!n->is_boolean()) {
      wrongType(*n, key, "a boolean");
      return false;
    }
    *out = n->as_boolean()->get();
    return true;
  }

  bool strings(std::string_view key, std::vector<std::string>* out) {
    const toml::node* n = get(key);
    if (n == nullptr) return false;
    if (!n->is_array()) {
      wrongType(*n, key, "an array of strings");
      return false;
    }
    bool ok = true;
    size_t i = 0;
    for (const toml::node& e : *n->as_array()) {
      std::string k = std::string(key) + "[" + std::to_string(i++) + "]";
      if (!e.is_string()) {
        errors_.add(e.source(), keyPath(k), std::string("expected a string, found ") +
                                                typeName(e.type()));
        ok = false;
        continue;
      }
      std::string v, error;
      if (!interpolate(e.as_string()->get(), &v, &error)) {
        errors_.add(e.source(), keyPath(k), error);
        ok = false;
        continue;
      }
      out->push_back(std::move(v));
    }
    return ok;
  }

  const toml::table* table(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      wrongType(*n, key, "a table");
      return nullptr;
    }
    return n->as_table();
  }

  // Reports keys no accessor asked for, except those in `dynamic` (handled by the caller).
  void finish(const std::set<std::string>& dynamic = {}) {
    for (auto&& [k, v] : t_) {
      std::string key(k.str());
      if (known_.count(key) || dynamic.count(key)) continue;
      errors_.add(k.source(), keyPath(key), "unknown key");
    }
  }

  const toml::table& raw() const { return t_; }

 private:
  const toml::table& t_;
  std::string path_;
  Errors& errors_;
  std::set<std::string> known_;
};

bool validListen(const std::string& s) {
  size_t c = s.rfind(':');
  if (c == std::string::npos || c == 0 || c + 1 == s.size()) return false;
  for (size_t i = c + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return std::stol(s.substr(c + 1)) <= 65535;
}

void listen(TableReader& r, std::string_view key, std::string* out) {
  std::string v;
  if (!r.str(key, &v)) return;
  if (!validListen(v)) {
    r.invalid(*r.raw().get(key), key, "HOST:PORT with a port in 0-65535", v);
    return;
  }
  *out = v;
}

void writeJson(const toml::node& n, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  switch (n.type()) {
    case toml::node_type::table:
      w.StartObject();
      for (auto&& [k, v] : *n.as_table()) {
        w.Key(k.str().data(), static_cast<rapidjson::SizeType>(k.str().size()));
        writeJson(v, w);
      }
      w.EndObject();
      break;
    case toml::node_type::array:
      w.StartArray();
      for (const toml::node& e : *n.as_array()) writeJson(e, w);
      w.EndArray();
      break;
    case toml::node_type::string: {
      std::string s, error;
      if (!interpolate(n.as_string()->get(), &s, &error)) s = n.as_string()->get();
      w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      break;
    }
    case toml::node_type::integer: w.Int64(n.as_integer()->get()); break;
    case toml::node_type::floating_point: w.Double(n.as_floating_point()->get()); break;
    case toml::node_type::boolean: w.Bool(n.as_boolean()->get()); break;
    default: {
      std::string s;
      if (auto* d = n.as_date()) s = std::to_string(d->get().year);
      w.String(s.c_str());
    }
  }
}

std::string absolute(const std::string& base_dir, const std::string& p) {
  if (p.empty()) return p;
  fs::path path(p);
  if (path.is_relative()) path = fs::path(base_dir) / path;
  return path.lexically_normal().string();
}

}  // namespace

Result<std::shared_ptr<const Config>> parse(const std::string& text, const std::string& file,
                                            std::vector<ConfigError>* out_errors) {
  Errors errors(file);
  auto cfg = std::make_shared<Config>();
  cfg->path = file;
  cfg->sha256 = sha256Hex(text);
  std::string base_dir = fs::path(file).parent_path().string();
  if (base_dir.empty()) base_dir = ".";

  toml::parse_result parsed = toml::parse(text, std::string_view(file));
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    errors.add(e.source(), "", std::string(e.description()));
  } else {
    TableReader root(parsed.table(), "", errors);
    if (const toml::table* t = root.table("server")) {
      TableReader r(*t, "server", errors);
      listen(r, "listen", &cfg->server.listen);
      r.integer("shutdown_grace_seconds", &cfg->server.shutdown_grace_seconds, 0, 3600);
      r.finish();
    }
    if (const toml::table* t = root.table("metrics")) {
      TableReader r(*t, "metrics", errors);
      listen(r, "listen", &cfg->metrics.listen);
      r.finish();
    }
    if (const toml::table* t = root.table("logging")) {
      TableReader r(*t, "logging", errors);
      std::string level;
      if (r.str("level", &level)) {
        if (level != "debug" && level != "info" && level != "warn" && level != "error") {
          r.invalid(*t->get("level"), "level", "one of debug, info, warn, error", level);
        } else {
          cfg->logging.level = level;
        }
      }
      r.finish();
    }
    if (const toml::table* t = root.table("plugins")) {
      TableReader r(*t, "plugins", errors);
      std::vector<std::string> dirs;
      if (r.strings("directories", &dirs)) {
        for (auto& d : dirs) cfg->plugins.directories.push_back(absolute(base_dir, d));
      }
      std::string state;
      if (r.str("state_dir", &state)) cfg->plugins.state_dir = absolute(base_dir, state);
      r.integer("drain_timeout_ms", &cfg->plugins.drain_timeout_ms, 0, 600000);
      r.integer("workers", &cfg->plugins.workers, 1, 1024);
      r.integer("call_timeout_ms", &cfg->plugins.call_timeout_ms, 1, 86400000);
      std::set<std::string> names;
      for (auto&& [k, v] : *t) {
        std::string name(k.str());
        if (name == "directories" || name == "state_dir" || name == "drain_timeout_ms" ||
            name == "workers" || name == "call_timeout_ms") {
          continue;
        }
        names.insert(name);
        std::string key = "plugins." + name;
        if (!v.is_table()) {
          errors.add(v.source(), key, std::string("expected a plugin table, found ") +
                                          typeName(v.type()));
          continue;
        }
        TableReader p(*v.as_table(), key, errors);
        PluginConfig pc;
        pc.name = name;
        if (p.str("path", &pc.path)) {
          pc.path = absolute(base_dir, pc.path);
        } else if (p.raw().get("path") == nullptr) {
          errors.add(v.source(), key + ".path", "missing required key (the plugin's .so file)");
        }
        if (p.str("sha256", &pc.sha256)) {
          bool hex = pc.sha256.size() == 64 &&
                     pc.sha256.find_first_not_of("0123456789abcdef") == std::string::npos;
          if (!hex) p.invalid(*p.raw().get("sha256"), "sha256", "64 lowercase hex digits", pc.sha256);
        }
        p.boolean("required", &pc.required);
        if (const toml::table* c = p.table("config")) {
          rapidjson::StringBuffer buf;
          rapidjson::Writer<rapidjson::StringBuffer> w(buf);
          writeJson(*c, w);
          pc.config_json.assign(buf.GetString(), buf.GetSize());
        }
        p.finish();
        cfg->plugins.entries.push_back(std::move(pc));
      }
      r.finish(names);
    }
    if (const toml::table* t = root.table("agents")) {
      for (auto&& [k, v] : *t) {
        std::string key = "agents." + std::string(k.str());
        if (!v.is_table()) {
          errors.add(v.source(), key, std::string("expected an agent table, found ") +
                                          typeName(v.type()));
          continue;
        }
        TableReader a(*v.as_table(), key, errors);
        AgentConfig ac;
        ac.name = std::string(k.str());
        a.strings("tools", &ac.tools);
        a.str("system_prompt", &ac.system_prompt);
        a.integer("max_steps", &ac.max_steps, 1, 100000);
        a.finish();
        cfg->agents.push_back(std::move(ac));
      }
    }
    root.finish();
  }

  if (!errors.list().empty()) {
    std::string msg;
    for (const auto& e : errors.list()) {
      if (!msg.empty()) msg += "\n";
      msg += e.toString();
    }
    if (out_errors != nullptr) {
      out_errors->insert(out_errors->end(), errors.list().begin(), errors.list().end());
    }
    return Status::invalidArgument(msg);
  }
  return std::shared_ptr<const Config>(std::move(cfg));
}

Result<std::shared_ptr<const Config>> load(const std::string& path,
                                           std::vector<ConfigError>* errors) {
  auto text = readFile(path);
  if (!text.ok()) {
    if (errors != nullptr) errors->push_back({path, 0, 0, "", text.status().message()});
    return Status::invalidArgument(path + ":0:0: cannot read: " + text.status().message());
  }
  return parse(*text, path, errors);
}

}  // namespace agentd::config
