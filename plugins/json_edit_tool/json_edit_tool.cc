// Plugin "json_edit_tool": trae-agent's JSON editor (trae_agent/tools/json_edit_tool.py): view,
// set, add and remove values of a JSON file addressed by JSONPath (json_path.h), with trae's
// parameters and messages. Files are confined to the task's working directory like the edit
// tool's (../str_replace_based_edit_tool/workspace_path.h).
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <agentd/plugin.hpp>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "file_tool_config.h"
#include "json_path.h"
#include "plugin_json.h"
#include "tool_text.h"
#include "workspace_path.h"

namespace {

using agentd::sdk::Error;
namespace ft = agentd::filetools;
namespace je = agentd::jsonedit;

constexpr const char* kToolName = "json_edit_tool";
constexpr size_t kMaxDepth = 512;  // deeper documents are refused (recursion bounds)

constexpr const char* kDescription =
    "Tool for editing JSON files with JSONPath expressions\n"
    "* Supports targeted modifications to JSON structures using JSONPath syntax\n"
    "* Operations: view, set, add, remove\n"
    "* JSONPath examples: '$.users[0].name', '$.config.database.host', '$.items[*].price'\n"
    "* Safe JSON parsing and validation with detailed error messages\n"
    "* Preserves JSON formatting where possible\n\n"
    "Operation details:\n"
    "- `view`: Display JSON content or specific paths\n"
    "- `set`: Update existing values at specified paths\n"
    "- `add`: Add new key-value pairs (for objects) or insert into arrays at an index (an index "
    "at or past the end appends)\n"
    "- `remove`: Delete elements at specified paths\n\n"
    "JSONPath syntax supported:\n"
    "- `$` - root element\n"
    "- `.key` - object property access\n"
    "- `['key']` - object property access for keys with special characters\n"
    "- `[index]` - array index access (negative counts from the end)\n"
    "- `[*]` - all elements in array/object\n"
    "- `..key` - recursive descent (find key at any level)\n"
    "- `[start:end]` - array slicing\n\n"
    "The file must lie inside the task's working directory.\n";

constexpr const char* kInputSchema =
    R"({"type":"object","properties":{)"
    R"("operation":{"type":"string","enum":["view","set","add","remove"],)"
    R"("description":"The operation to perform on the JSON file."},)"
    R"("file_path":{"type":"string","description":"Absolute path to the JSON file to edit."},)"
    "\"json_path\":{\"type\":\"string\",\"description\":\"JSONPath expression to specify the "
    "target location (e.g., '$.users[0].name', '$.config.database'). Required for set, add, and "
    "remove operations. Optional for view to show specific paths.\"},"
    R"("value":{"type":["object","array","string","number","boolean"],)"
    "\"description\":\"The value to set or add. Must be JSON-serializable. Required for set and "
    "add operations.\"},"
    "\"pretty_print\":{\"type\":\"boolean\",\"description\":\"Whether to format the JSON output "
    "with proper indentation. Defaults to true.\"}},"
    R"("required":["operation","file_path"]})";

constexpr const char* kConfigSchema = agentd::plugins::kFileToolConfigSchema;
using Config = agentd::plugins::FileToolConfig;

using agentd::plugins::parseObject;

Config parseConfig(std::string_view json) { return agentd::plugins::parseFileToolConfig(json); }

using agentd::plugins::find;

size_t depthOf(const rapidjson::Value& root) {
  std::vector<std::pair<const rapidjson::Value*, size_t>> stack{{&root, 1}};
  size_t max = 0;
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    max = std::max(max, d);
    if (d > kMaxDepth) return d;
    if (v->IsObject()) {
      for (const auto& m : v->GetObject()) stack.emplace_back(&m.value, d + 1);
    } else if (v->IsArray()) {
      for (const auto& e : v->GetArray()) stack.emplace_back(&e, d + 1);
    }
  }
  return max;
}

void dumpScalar(const rapidjson::Value& v, std::string* out) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  out->append(buf.GetString(), buf.GetSize());
}

// Python's json.dumps(v, indent=2 if pretty else None, ensure_ascii=False): ", " and ": "
// separators when compact, two-space indentation when pretty.
void dump(const rapidjson::Value& v, bool pretty, size_t indent, std::string* out) {
  const bool is_object = v.IsObject();
  if (!is_object && !v.IsArray()) return dumpScalar(v, out);
  const size_t n = is_object ? v.MemberCount() : v.Size();
  if (n == 0) {
    *out += is_object ? "{}" : "[]";
    return;
  }
  *out += is_object ? '{' : '[';
  size_t i = 0;
  auto item = [&](const rapidjson::Value* name, const rapidjson::Value& value) {
    if (i++ > 0) *out += pretty ? "," : ", ";
    if (pretty) {
      *out += '\n';
      out->append(indent + 2, ' ');
    }
    if (name != nullptr) {
      dumpScalar(*name, out);
      *out += ": ";
    }
    dump(value, pretty, indent + 2, out);
  };
  if (is_object) {
    for (const auto& m : v.GetObject()) item(&m.name, m.value);
  } else {
    for (const auto& e : v.GetArray()) item(nullptr, e);
  }
  if (pretty) {
    *out += '\n';
    out->append(indent, ' ');
  }
  *out += is_object ? '}' : ']';
}

std::string dumps(const rapidjson::Value& v, bool pretty) {
  std::string out;
  dump(v, pretty, 0, &out);
  return out;
}

class JsonEditTool : public agentd::sdk::Plugin {
 public:
  JsonEditTool(agentd::sdk::Host /*host*/, std::string_view config_json)
      : config_(std::make_shared<const Config>(parseConfig(config_json))) {}

  void listTools(const agentd::sdk::ToolList& tools) override {
    tools.add(kToolName, kDescription, kInputSchema);
  }

  void invoke(const agentd::sdk::Call& call, std::string_view tool,
              std::string_view args_json) override {
    if (tool != kToolName) throw Error(AGENTD_ENOTFOUND, "unknown tool: " + std::string(tool));
    rapidjson::Document args = parseObject(args_json, "arguments");
    const rapidjson::Value* op_v = find(args, "operation");
    std::string op;
    if (op_v != nullptr && op_v->IsString()) op.assign(op_v->GetString(), op_v->GetStringLength());
    std::transform(op.begin(), op.end(), op.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (op.empty()) throw Error(AGENTD_EINVAL, "Operation parameter is required");
    const rapidjson::Value* file_v = find(args, "file_path");
    if (file_v == nullptr || !file_v->IsString() || file_v->GetStringLength() == 0) {
      throw Error(AGENTD_EINVAL, "file_path parameter is required");
    }
    std::string shown(file_v->GetString(), file_v->GetStringLength());
    std::string working_dir(call.context("working_dir"));
    if (shown[0] != '/' && !working_dir.empty()) {
      // A relative path means the task's working directory (confinement still applies).
      if (working_dir.back() == '/') working_dir.pop_back();
      shown = working_dir + "/" + shown;
    }
    if (shown[0] != '/') throw Error(AGENTD_EINVAL, "File path must be absolute: " + shown);
    const rapidjson::Value* path_v = find(args, "json_path");
    if (path_v != nullptr && !path_v->IsString()) {
      throw Error(AGENTD_EINVAL, "json_path parameter must be a string.");
    }
    std::string json_path;
    if (path_v != nullptr) json_path.assign(path_v->GetString(), path_v->GetStringLength());
    bool pretty = true;
    if (const rapidjson::Value* p = find(args, "pretty_print")) {
      if (!p->IsBool()) throw Error(AGENTD_EINVAL, "pretty_print parameter must be a boolean.");
      pretty = p->GetBool();
    }
    const rapidjson::Value* value = find(args, "value");
    if (op != "view" && op != "set" && op != "add" && op != "remove") {
      throw Error(AGENTD_EINVAL,
                  "Unknown operation: " + op + ". Supported operations: view, set, add, remove");
    }
    if (op != "view" && path_v == nullptr) {
      throw Error(AGENTD_EINVAL, "json_path parameter is required and must be a string for the '" +
                                     op + "' operation.");
    }
    if ((op == "set" || op == "add") && value == nullptr) {
      throw Error(AGENTD_EINVAL, "A 'value' parameter is required for the '" + op + "' operation.");
    }

    std::shared_ptr<const Config> config = currentConfig();
    ft::Workspace ws = ft::workspaceFor(call.context("working_dir"), config->allow_any_path);
    ft::ResolvedPath file = ft::resolveInside(ws, shown);

    std::lock_guard<std::mutex> lock(mu_);  // one file operation at a time
    Loaded doc = load(file, shown, *config);
    std::string out;
    if (op == "view") {
      out = view(doc, shown, json_path, pretty);
    } else {
      je::JsonPath path = parsePath(json_path);
      if (op == "set") {
        out = set(doc, path, *value);
      } else if (op == "add") {
        out = add(doc, path, *value);
      } else {
        out = remove(doc, path);
      }
      save(doc, file, shown, pretty);
    }
    call.emit(ft::clip(ft::sanitizeUtf8(out)));
  }

  void reconfigure(std::string_view config_json) override {
    auto next = std::make_shared<const Config>(parseConfig(config_json));
    std::lock_guard<std::mutex> lock(mu_);
    config_ = std::move(next);
  }

 private:
  struct Loaded {
    rapidjson::Document doc;
    bool trailing_newline = false;
  };

  std::shared_ptr<const Config> currentConfig() {
    std::lock_guard<std::mutex> lock(mu_);
    return config_;
  }

  static Loaded load(const ft::ResolvedPath& file, const std::string& shown, const Config& config) {
    if (!file.exists)
      throw Error(AGENTD_EINVAL, "JSON edit tool error: File does not exist: " + shown);
    std::string text;
    try {
      text = ft::readConfined(file.real, shown, config.max_file_bytes);
    } catch (const Error& e) {
      throw Error(e.status(), std::string("JSON edit tool error: ") + e.what());
    }
    Loaded out;
    size_t last = text.find_last_not_of(" \t\r\n");
    if (last == std::string::npos) {
      throw Error(AGENTD_EINVAL, "JSON edit tool error: File is empty: " + shown);
    }
    out.trailing_newline = !text.empty() && text.back() == '\n';
    out.doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (out.doc.HasParseError()) {
      throw Error(AGENTD_EINVAL, "JSON edit tool error: Invalid JSON in file " + shown + ": " +
                                     rapidjson::GetParseError_En(out.doc.GetParseError()) +
                                     " (offset " + std::to_string(out.doc.GetErrorOffset()) + ")");
    }
    if (depthOf(out.doc) > kMaxDepth) {
      throw Error(AGENTD_EINVAL, "JSON edit tool error: " + shown + " is nested deeper than " +
                                     std::to_string(kMaxDepth) + " levels");
    }
    return out;
  }

  static void save(const Loaded& doc, const ft::ResolvedPath& file, const std::string& shown,
                   bool pretty) {
    std::string text = dumps(doc.doc, pretty);
    if (doc.trailing_newline) text += '\n';
    ft::writeConfined(file.real, shown, text, /*create_new=*/false);
  }

  static je::JsonPath parsePath(const std::string& expr) {
    std::string error;
    std::optional<je::JsonPath> path = je::parseJsonPath(expr, &error);
    if (!path) {
      throw Error(AGENTD_EINVAL,
                  "JSON edit tool error: Invalid JSONPath expression '" + expr + "': " + error);
    }
    return std::move(*path);
  }

  static std::vector<je::Location> findAll(const rapidjson::Value& root, const je::JsonPath& path,
                                           size_t count) {
    std::string error;
    std::vector<je::Location> found = je::findAll(root, path, count, &error);
    if (!error.empty()) {
      throw Error(AGENTD_EINVAL, "JSON edit tool error: JSONPath '" + path.text + "': " + error);
    }
    return found;
  }

  // Applying in this order keeps the remaining locations valid.
  static void sortForEditing(std::vector<je::Location>* locs) {
    std::sort(locs->begin(), locs->end(), je::deeperOrLaterFirst);
    locs->erase(std::unique(locs->begin(), locs->end()), locs->end());
  }

  static std::string view(Loaded& doc, const std::string& shown, const std::string& expr,
                          bool pretty) {
    if (expr.empty()) return "JSON content of " + shown + ":\n" + dumps(doc.doc, pretty);
    je::JsonPath path = parsePath(expr);
    std::vector<je::Location> found = findAll(doc.doc, path, path.segments.size());
    if (found.empty()) return "No matches found for JSONPath: " + expr;
    std::string out = "JSONPath '" + expr + "' matches:\n";
    if (found.size() == 1) return out + dumps(*je::resolve(doc.doc, found[0]), pretty);
    rapidjson::Value list(rapidjson::kArrayType);
    auto& alloc = doc.doc.GetAllocator();
    for (const je::Location& loc : found) {
      list.PushBack(rapidjson::Value(*je::resolve(doc.doc, loc), alloc), alloc);
    }
    return out + dumps(list, pretty);
  }

  static std::string set(Loaded& doc, const je::JsonPath& path, const rapidjson::Value& value) {
    std::vector<je::Location> found = findAll(doc.doc, path, path.segments.size());
    if (found.empty()) throw Error(AGENTD_ERR, "No matches found for JSONPath: " + path.text);
    const size_t count = found.size();
    sortForEditing(&found);
    auto& alloc = doc.doc.GetAllocator();
    for (const je::Location& loc : found) {
      if (rapidjson::Value* target = je::resolve(doc.doc, loc)) {
        rapidjson::Value copy(value, alloc);
        *target = std::move(copy);
      }
    }
    return "Successfully updated " + std::to_string(count) + " location(s) at JSONPath '" +
           path.text + "' with value: " + dumps(value, false);
  }

  static std::string add(Loaded& doc, const je::JsonPath& path, const rapidjson::Value& value) {
    if (path.segments.empty()) {
      throw Error(AGENTD_EINVAL,
                  "Cannot add at the root: the path must end in a key or array index.");
    }
    const je::Segment& last = path.segments.back();
    if (last.descendant ||
        (last.kind != je::Segment::Kind::kKey && last.kind != je::Segment::Kind::kIndex)) {
      throw Error(AGENTD_EINVAL, "Unsupported add operation for path '" + path.text +
                                     "'. Path must end in a key or array index.");
    }
    std::string parent_text = path.text.substr(0, last.begin);
    if (parent_text.empty()) parent_text = "$";
    std::vector<je::Location> parents = findAll(doc.doc, path, path.segments.size() - 1);
    if (parents.empty()) throw Error(AGENTD_ERR, "Parent path not found: " + parent_text);
    for (const je::Location& loc : parents) {  // check all before changing any
      const rapidjson::Value* p = je::resolve(doc.doc, loc);
      if (last.kind == je::Segment::Kind::kKey && !p->IsObject()) {
        throw Error(AGENTD_ERR, "Cannot add key to non-object at path: " + parent_text);
      }
      if (last.kind == je::Segment::Kind::kIndex && !p->IsArray()) {
        throw Error(AGENTD_ERR, "Cannot add element to non-array at path: " + parent_text);
      }
    }
    sortForEditing(&parents);
    auto& alloc = doc.doc.GetAllocator();
    for (const je::Location& loc : parents) {
      rapidjson::Value* p = je::resolve(doc.doc, loc);
      if (p == nullptr) continue;
      rapidjson::Value copy(value, alloc);
      if (last.kind == je::Segment::Kind::kKey) {
        auto it = p->FindMember(rapidjson::StringRef(last.key.data(), last.key.size()));
        if (it != p->MemberEnd()) {
          it->value = std::move(copy);
        } else {
          p->AddMember(rapidjson::Value(last.key.data(),
                                        static_cast<rapidjson::SizeType>(last.key.size()), alloc),
                       copy, alloc);
        }
      } else {
        // Python's list.insert: negative counts from the end, past the end appends.
        int64_t n = static_cast<int64_t>(p->Size());
        int64_t at =
            last.index < 0 ? std::max<int64_t>(0, n + last.index) : std::min(last.index, n);
        p->PushBack(copy, alloc);
        for (int64_t i = n; i > at; --i) {
          (*p)[static_cast<rapidjson::SizeType>(i)].Swap(
              (*p)[static_cast<rapidjson::SizeType>(i - 1)]);
        }
      }
    }
    return "Successfully added value at JSONPath '" + path.text + "'";
  }

  static std::string remove(Loaded& doc, const je::JsonPath& path) {
    std::vector<je::Location> found = findAll(doc.doc, path, path.segments.size());
    if (found.empty()) throw Error(AGENTD_ERR, "No matches found for JSONPath: " + path.text);
    const size_t count = found.size();
    for (const je::Location& loc : found) {
      if (loc.empty()) throw Error(AGENTD_EINVAL, "Cannot remove the root element");
    }
    sortForEditing(&found);
    for (const je::Location& loc : found) {
      je::Location parent_loc(loc.begin(), loc.end() - 1);
      rapidjson::Value* parent = je::resolve(doc.doc, parent_loc);
      if (parent == nullptr) continue;
      if (const std::string* key = std::get_if<std::string>(&loc.back())) {
        if (parent->IsObject()) {
          parent->EraseMember(rapidjson::StringRef(key->data(), key->size()));
        }
      } else {
        size_t i = std::get<size_t>(loc.back());
        if (parent->IsArray() && i < parent->Size()) {
          parent->Erase(parent->Begin() + static_cast<rapidjson::SizeType>(i));
        }
      }
    }
    return "Successfully removed " + std::to_string(count) + " element(s) at JSONPath '" +
           path.text + "'";
  }

  std::mutex mu_;  // guards config_ and serializes file operations
  std::shared_ptr<const Config> config_;
};

}  // namespace

AGENTD_PLUGIN(JsonEditTool, AGENTD_KIND_TOOL, "json_edit_tool", "0.1.0",
              "Provides json_edit_tool: view, set, add and remove values of JSON files by "
              "JSONPath, inside the task's working directory.",
              kConfigSchema)
