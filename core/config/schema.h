// The declarative configuration schema: each section lists its fields once, and that one list
// parses (types, ranges, unknown keys, environment overrides, interpolation), renders (with
// secrets redacted) and describes itself as JSON Schema. Internal to core/config.
#pragma once

#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"

namespace agentd::config::schema {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Parsing state shared by all sections.
struct Ctx {
  std::vector<ConfigError> errors;
  std::map<std::string, SourceLoc>* locations = nullptr;
  std::string main_file;
  std::string base_dir;  // relative paths resolve against it

  SourceLoc loc(const toml::node& n) const { return loc(n.source()); }
  SourceLoc loc(const toml::source_region& r) const;
  void error(const SourceLoc& where, const std::string& key, const std::string& message) {
    errors.push_back({where, key, message});
  }
  void error(const toml::node& n, const std::string& key, const std::string& message) {
    error(loc(n), key, message);
  }
  void record(const std::string& key, const SourceLoc& where) {
    if (locations != nullptr) (*locations)[key] = where;
  }
};

// Replaces ${VAR} and ${VAR:-default} from the environment, and ${CONFIG_DIR} with config_dir
// (the configuration file's directory); false with *error on an unset VAR without default.
bool interpolate(const std::string& in, const std::string& config_dir, std::string* out,
                 std::string* error);
// "AGENTD_" + key path in upper case with '.' -> '_' (e.g. AGENTD_METRICS_LISTEN).
std::string envName(const std::string& key);
const char* typeName(toml::node_type t);

// What a string value must look like.
enum class StringKind { kAny, kListen, kPath, kSha256, kUrl };

struct StringOpts {
  bool secret = false;
  StringKind kind = StringKind::kAny;
  std::vector<std::string> one_of;  // empty: any
};

// A value read either from the file or from the environment.
struct Value {
  const toml::node* node = nullptr;  // null when from the environment
  std::string env_name;
  std::string env_text;
  SourceLoc where;
};

template <class T>
class Section {
 public:
  struct Field {
    std::string key;
    std::string description;
    bool env = false;  // scalar that AGENTD_<PATH> may override
    std::function<void(const Value&, T&, Ctx&, const std::string& path)> parse;
    std::function<void(const T&, toml::table&, bool redact)> render;
    std::function<void(JsonWriter&)> schema;
  };

  Section& string(const char* key, std::string T::*m, const char* desc, StringOpts o = {});
  Section& integer(const char* key, int T::*m, int64_t min, int64_t max, const char* desc);
  Section& number(const char* key, double T::*m, double min, double max, const char* desc);
  Section& boolean(const char* key, bool T::*m, const char* desc);
  Section& strings(const char* key, std::vector<std::string> T::*m, const char* desc,
                   StringKind kind = StringKind::kAny, bool secret = false);
  Section& stringMap(const char* key, std::map<std::string, std::string> T::*m, const char* desc,
                     bool secret);
  // A table passed on as JSON text.
  Section& jsonTable(const char* key, std::string T::*m, const char* desc);
  template <class C>
  Section& section(const char* key, C T::*m, const Section<C>& child, const char* desc);
  // A table of NAME -> child tables; the child's name member is set to NAME.
  template <class C>
  Section& named(const char* key, std::map<std::string, C> T::*m, const Section<C>& child,
                 std::string C::*name, const char* desc);
  // Undeclared keys of this table are NAME -> child tables (e.g. [plugins.NAME]).
  template <class C>
  Section& rest(std::map<std::string, C> T::*m, const Section<C>& child, std::string C::*name,
                const char* desc);

  // Reads t into out; reports type, range and unknown-key errors into ctx.
  void parse(const toml::table* t, T& out, Ctx& ctx, const std::string& path,
             const SourceLoc& table_loc) const;
  void render(const T& v, toml::table& out, bool redact) const;
  void writeSchema(JsonWriter& w, const char* description) const;

 private:
  std::vector<Field> fields_;
  std::function<void(const toml::table&, const std::set<std::string>&, T&, Ctx&,
                     const std::string&)>
      rest_parse_;
  std::function<void(const T&, toml::table&, bool)> rest_render_;
  std::function<void(JsonWriter&)> rest_schema_;
};

// Key path helpers.
inline std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// --- string values ---------------------------------------------------------------------------

bool checkString(const std::string& v, const StringOpts& o, std::string* expected);
std::string absolutePath(const std::string& base_dir, const std::string& p);
void writeStringSchema(JsonWriter& w, const StringOpts& o, const char* desc);
// {"type":"array","items":{"type":"string"},"description":desc}
void writeStringListSchema(JsonWriter& w, const char* desc);
// {"type":"object","additionalProperties":{"type":"string"},"description":desc}
void writeStringMapSchema(JsonWriter& w, const char* desc);

// Reads a string (file or environment), interpolated and checked; false after reporting.
bool readString(const Value& v, const StringOpts& o, Ctx& ctx, const std::string& path,
                std::string* out);

template <class T>
Section<T>& Section<T>::string(const char* key, std::string T::*m, const char* desc, StringOpts o) {
  Field f;
  f.key = key;
  f.description = desc;
  f.env = true;
  f.parse = [m, o](const Value& v, T& out, Ctx& ctx, const std::string& path) {
    std::string s;
    if (!readString(v, o, ctx, path, &s)) return;
    if (o.kind == StringKind::kPath) s = absolutePath(ctx.base_dir, s);
    out.*m = std::move(s);
  };
  f.render = [m, o, k = std::string(key)](const T& v, toml::table& out, bool redact) {
    if ((v.*m).empty() && o.kind != StringKind::kAny) return;
    out.insert_or_assign(k, redact && o.secret && !(v.*m).empty() ? "<redacted>" : v.*m);
  };
  f.schema = [o, d = std::string(desc)](JsonWriter& w) { writeStringSchema(w, o, d.c_str()); };
  fields_.push_back(std::move(f));
  return *this;
}

bool readInteger(const Value& v, int64_t min, int64_t max, Ctx& ctx, const std::string& path,
                 int64_t* out);
bool readNumber(const Value& v, double min, double max, Ctx& ctx, const std::string& path,
                double* out);
bool readBool(const Value& v, Ctx& ctx, const std::string& path, bool* out);
bool readStrings(const Value& v, StringKind kind, Ctx& ctx, const std::string& path,
                 std::vector<std::string>* out);
bool readStringMap(const Value& v, Ctx& ctx, const std::string& path,
                   std::map<std::string, std::string>* out);
bool readJsonTable(const Value& v, Ctx& ctx, const std::string& path, std::string* out);
toml::table jsonToToml(const std::string& json);

template <class T>
Section<T>& Section<T>::integer(const char* key, int T::*m, int64_t min, int64_t max,
                                const char* desc) {
  Field f;
  f.key = key;
  f.description = desc;
  f.env = true;
  f.parse = [m, min, max](const Value& v, T& out, Ctx& ctx, const std::string& path) {
    int64_t i;
    if (readInteger(v, min, max, ctx, path, &i)) out.*m = static_cast<int>(i);
  };
  f.render = [m, k = std::string(key)](const T& v, toml::table& out, bool) {
    out.insert_or_assign(k, static_cast<int64_t>(v.*m));
  };
  f.schema = [min, max, d = std::string(desc)](JsonWriter& w) {
    w.StartObject();
    w.Key("type");
    w.String("integer");
    w.Key("minimum");
    w.Int64(min);
    w.Key("maximum");
    w.Int64(max);
    w.Key("description");
    w.String(d.c_str());
    w.EndObject();
  };
  fields_.push_back(std::move(f));
  return *this;
}

template <class T>
Section<T>& Section<T>::number(const char* key, double T::*m, double min, double max,
                               const char* desc) {
  Field f;
  f.key = key;
  f.description = desc;
  f.env = true;
  f.parse = [m, min, max](const Value& v, T& out, Ctx& ctx, const std::string& path) {
    double d;
    if (readNumber(v, min, max, ctx, path, &d)) out.*m = d;
  };
  f.render = [m, k = std::string(key)](const T& v, toml::table& out, bool) {
    out.insert_or_assign(k, v.*m);
  };
  f.schema = [min, max, d = std::string(desc)](JsonWriter& w) {
    w.StartObject();
    w.Key("type");
    w.String("number");
    w.Key("minimum");
    w.Double(min);
    w.Key("maximum");
    w.Double(max);
    w.Key("description");
    w.String(d.c_str());
    w.EndObject();
  };
  fields_.push_back(std::move(f));
  return *this;
}

template <class T>
Section<T>& Section<T>::boolean(const char* key, bool T::*m, const char* desc) {
  Field f;
  f.key = key;
  f.description = desc;
  f.env = true;
  f.parse = [m](const Value& v, T& out, Ctx& ctx, const std::string& path) {
    bool b;
    if (readBool(v, ctx, path, &b)) out.*m = b;
  };
  f.render = [m, k = std::string(key)](const T& v, toml::table& out, bool) {
    out.insert_or_assign(k, v.*m);
  };
  f.schema = [d = std::string(desc)](JsonWriter& w) {
    w.StartObject();
    w.Key("type");
    w.String("boolean");
    w.Key("description");
    w.String(d.c_str());
    w.EndObject();
  };
  fields_.push_back(std::move(f));
  return *this;
}

template <class T>
Section<T>& Section<T>::strings(const char* key, std::vector<std::string> T::*m, const char* desc,
                                StringKind kind, bool secret) {
  Field f;
  f.key = key;
  f.description = desc;
  f.parse = [m, kind](const Value& v, T& out, Ctx& ctx, const std::string& path) {
    std::vector<std::string> list;
    if (!readStrings(v, kind, ctx, path, &list)) return;
    if (kind == StringKind::kPath) {
      for (auto& p : list) p = absolutePath(ctx.base_dir, p);
    }
    out.*m = std::move(list);
  };
  f.render = [m, secret, k = std::string(key)](const T& v, toml::table& out, bool redact) {
    toml::array a;
    for (const auto& s : v.*m) a.push_back(redact && secret ? std::string("<redacted>") : s);
    out.insert_or_assign(k, std::move(a));
  };
  f.schema = [d = std::string(desc)](JsonWriter& w) { writeStringListSchema(w, d.c_str()); };
  fields_.push_back(std::move(f));
  return *this;
}

template <class T>
Section<T>& Section<T>::stringMap(const char* key, std::map<std::string, std::string> T::*m,
                                  const char* desc, bool secret) {
  Field f;
  f.key = key;
  f.description = desc;
  f.parse = [m](const Value& v, T& out, Ctx& ctx, const std::string& path) {
    std::map<std::string, std::string> map;
    if (readStringMap(v, ctx, path, &map)) out.*m = std::move(map);
  };
  f.render = [m, secret, k = std::string(key)](const T& v, toml::table& out, bool redact) {
    toml::table t;
    for (const auto& [name, value] : v.*m) {
      t.insert_or_assign(name, redact && secret ? std::string("<redacted>") : value);
    }
    out.insert_or_assign(k, std::move(t));
  };
  f.schema = [d = std::string(desc)](JsonWriter& w) { writeStringMapSchema(w, d.c_str()); };
  fields_.push_back(std::move(f));
  return *this;
}

template <class T>
Section<T>& Section<T>::jsonTable(const char* key, std::string T::*m, const char* desc) {
  Field f;
  f.key = key;
  f.description = desc;
  f.parse = [m](const Value& v, T& out, Ctx& ctx, const std::string& path) {
    std::string json;
    if (readJsonTable(v, ctx, path, &json)) out.*m = std::move(json);
  };
  f.render = [m, k = std::string(key)](const T& v, toml::table& out, bool) {
    out.insert_or_assign(k, jsonToToml(v.*m));
  };
  f.schema = [d = std::string(desc)](JsonWriter& w) {
    w.StartObject();
    w.Key("type");
    w.String("object");
    w.Key("description");
    w.String(d.c_str());
    w.EndObject();
  };
  fields_.push_back(std::move(f));
  return *this;
}

template <class T>
template <class C>
Section<T>& Section<T>::section(const char* key, C T::*m, const Section<C>& child,
                                const char* desc) {
  Field f;
  f.key = key;
  f.description = desc;
  f.parse = [m, child](const Value& v, T& out, Ctx& ctx, const std::string& path) {
    if (v.node == nullptr) return;
    if (!v.node->is_table()) {
      ctx.error(*v.node, path, std::string("expected a table, found ") + typeName(v.node->type()));
      return;
    }
    child.parse(v.node->as_table(), out.*m, ctx, path, v.where);
  };
  f.render = [m, child, k = std::string(key)](const T& v, toml::table& out, bool redact) {
    toml::table t;
    child.render(v.*m, t, redact);
    out.insert_or_assign(k, std::move(t));
  };
  f.schema = [child, d = std::string(desc)](JsonWriter& w) { child.writeSchema(w, d.c_str()); };
  fields_.push_back(std::move(f));
  return *this;
}

template <class T>
template <class C>
Section<T>& Section<T>::named(const char* key, std::map<std::string, C> T::*m,
                              const Section<C>& child, std::string C::*name, const char* desc) {
  Field f;
  f.key = key;
  f.description = desc;
  f.parse = [m, child, name](const Value& v, T& out, Ctx& ctx, const std::string& path) {
    if (v.node == nullptr) return;
    if (!v.node->is_table()) {
      ctx.error(*v.node, path,
                std::string("expected a table of named tables, found ") + typeName(v.node->type()));
      return;
    }
    for (auto&& [k, node] : *v.node->as_table()) {
      std::string child_path = join(path, std::string(k.str()));
      if (!node.is_table()) {
        ctx.error(node, child_path,
                  std::string("expected a table, found ") + typeName(node.type()));
        continue;
      }
      C c;
      c.*name = std::string(k.str());
      ctx.record(child_path, ctx.loc(node));
      child.parse(node.as_table(), c, ctx, child_path, ctx.loc(node));
      (out.*m)[std::string(k.str())] = std::move(c);
    }
  };
  f.render = [m, child, k = std::string(key)](const T& v, toml::table& out, bool redact) {
    toml::table all;
    for (const auto& [n, c] : v.*m) {
      toml::table t;
      child.render(c, t, redact);
      all.insert_or_assign(n, std::move(t));
    }
    out.insert_or_assign(k, std::move(all));
  };
  f.schema = [child, d = std::string(desc)](JsonWriter& w) {
    w.StartObject();
    w.Key("type");
    w.String("object");
    w.Key("description");
    w.String(d.c_str());
    w.Key("additionalProperties");
    child.writeSchema(w, "");
    w.EndObject();
  };
  fields_.push_back(std::move(f));
  return *this;
}

template <class T>
template <class C>
Section<T>& Section<T>::rest(std::map<std::string, C> T::*m, const Section<C>& child,
                             std::string C::*name, const char* desc) {
  rest_parse_ = [m, child, name](const toml::table& t, const std::set<std::string>& known, T& out,
                                 Ctx& ctx, const std::string& path) {
    for (auto&& [k, node] : t) {
      std::string key(k.str());
      if (known.count(key)) continue;
      std::string child_path = join(path, key);
      if (!node.is_table()) {
        ctx.error(ctx.loc(k.source()), child_path,
                  std::string("unknown key (a plugin table was expected, found ") +
                      typeName(node.type()) + ")");
        continue;
      }
      C c;
      c.*name = key;
      ctx.record(child_path, ctx.loc(node));
      child.parse(node.as_table(), c, ctx, child_path, ctx.loc(node));
      (out.*m)[key] = std::move(c);
    }
  };
  rest_render_ = [m, child](const T& v, toml::table& out, bool redact) {
    for (const auto& [n, c] : v.*m) {
      toml::table t;
      child.render(c, t, redact);
      out.insert_or_assign(n, std::move(t));
    }
  };
  rest_schema_ = [child, d = std::string(desc)](JsonWriter& w) { child.writeSchema(w, d.c_str()); };
  return *this;
}

template <class T>
void Section<T>::parse(const toml::table* t, T& out, Ctx& ctx, const std::string& path,
                       const SourceLoc& table_loc) const {
  std::set<std::string> known;
  for (const Field& f : fields_) {
    known.insert(f.key);
    std::string key_path = join(path, f.key);
    Value v;
    if (f.env) {
      std::string env = envName(key_path);
      if (const char* e = std::getenv(env.c_str()); e != nullptr && *e != '\0') {
        v.env_name = env;
        v.env_text = e;
        v.where = SourceLoc{"env:" + env, 0, 0};
      }
    }
    if (v.env_name.empty()) {
      v.node = t != nullptr ? t->get(f.key) : nullptr;
      if (v.node == nullptr) continue;
      v.where = ctx.loc(*v.node);
    }
    ctx.record(key_path, v.where);
    f.parse(v, out, ctx, key_path);
  }
  (void)table_loc;
  if (t == nullptr) return;
  if (rest_parse_) {
    rest_parse_(*t, known, out, ctx, path);
    return;
  }
  for (auto&& [k, node] : *t) {
    std::string key(k.str());
    if (known.count(key)) continue;
    std::string expected;
    for (const Field& f : fields_) expected += (expected.empty() ? "" : ", ") + f.key;
    ctx.error(ctx.loc(k.source()), join(path, key),
              "unknown key (expected one of: " + expected + ")");
  }
}

template <class T>
void Section<T>::render(const T& v, toml::table& out, bool redact) const {
  for (const Field& f : fields_) f.render(v, out, redact);
  if (rest_render_) rest_render_(v, out, redact);
}

template <class T>
void Section<T>::writeSchema(JsonWriter& w, const char* description) const {
  w.StartObject();
  w.Key("type");
  w.String("object");
  if (description != nullptr && *description != '\0') {
    w.Key("description");
    w.String(description);
  }
  w.Key("properties");
  w.StartObject();
  for (const Field& f : fields_) {
    w.Key(f.key.c_str());
    f.schema(w);
  }
  w.EndObject();
  w.Key("additionalProperties");
  if (rest_schema_) {
    rest_schema_(w);
  } else {
    w.Bool(false);
  }
  w.EndObject();
}

}  // namespace agentd::config::schema
