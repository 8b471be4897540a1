// A minimal host for driving a built plugin through the C ABI in unit tests: loads the .so with
// dlopen, creates an instance against a fake agentd_host_api that records tools, skills, output,
// errors, log lines and tools_changed() calls, and invokes tools with a chosen call context and
// cancellation flag.
#pragma once

#include <agentd/plugin.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentd::plugintest {

inline std::string str(agentd_str s) { return s.ptr == nullptr ? "" : std::string(s.ptr, s.len); }
inline agentd_str view(std::string_view s) { return agentd_str{s.data(), s.size()}; }

// s as a quoted, escaped JSON string literal, for building tool arguments.
inline std::string quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

// The note trae-agent's tools append to clipped output (plugins/common/tool_text.h,
// kClippedMarker).
constexpr const char* kClippedMarker =
    "<response clipped><NOTE>To save on context only part of this file has been shown to you. "
    "You should retry this tool after you have searched inside the file with `grep -n` in order "
    "to find the line numbers of what you are looking for.</NOTE>";

struct ListedTool {
  std::string name;
  std::string description;
  std::string input_schema;
  uint32_t flags = 0;  // AGENTD_TOOL_*, when listed through add_tool_flags
};

struct ListedSkill {
  std::string name;
  std::string description;
  std::string instructions;
};

// Stands behind agentd_list*: list_tools() fills tools, list_skills() fills skills.
struct FakeList {
  std::vector<ListedTool>* tools = nullptr;
  std::vector<ListedSkill>* skills = nullptr;
};

// What one invoke() produced.
struct CallResult {
  agentd_status status = AGENTD_OK;
  std::string text;
  std::string json;
  std::string error;
  bool emitted_text = false;
  bool emitted_json = false;
};

// Stands behind agentd_call*: the context the plugin may read and the output it writes.
struct FakeCall {
  std::map<std::string, std::string, std::less<>> context;
  const std::atomic<bool>* cancelled = nullptr;  // is_cancelled() reads it when set
  CallResult result;
};

// How invokeWith() calls a tool.
struct CallOptions {
  std::string task_id = "task-1";  // omitted from the context when empty
  std::string working_dir;         // omitted from the context when empty
  const std::atomic<bool>* cancelled = nullptr;
};

// Stands behind agentd_host*.
struct FakeHost {
  std::mutex mu;
  std::vector<std::string> logs;
  std::vector<agentd_log_level> log_levels;  // parallel to logs
  int tools_changed = 0;

  std::vector<std::string> logSnapshot() {
    std::lock_guard<std::mutex> lock(mu);
    return logs;
  }
  int toolsChangedCount() {
    std::lock_guard<std::mutex> lock(mu);
    return tools_changed;
  }
};

inline FakeHost* hostOf(agentd_host* h) { return reinterpret_cast<FakeHost*>(h); }
inline FakeCall* callOf(agentd_call* c) { return reinterpret_cast<FakeCall*>(c); }
inline const FakeCall* callOf(const agentd_call* c) { return reinterpret_cast<const FakeCall*>(c); }

inline const agentd_host_api* fakeHostApi() {
  static const agentd_host_api api = [] {
    agentd_host_api a{};
    a.struct_size = sizeof(agentd_host_api);
    a.abi_version = AGENTD_ABI_VERSION;
    a.log = [](agentd_host* h, agentd_log_level level, agentd_str message) {
      std::lock_guard<std::mutex> lock(hostOf(h)->mu);
      hostOf(h)->logs.push_back(str(message));
      hostOf(h)->log_levels.push_back(level);
    };
    a.metric_define = [](agentd_host*, agentd_metric_type, agentd_str, agentd_str,
                         const agentd_str*, size_t, uint32_t* out) -> agentd_status {
      *out = 1;
      return AGENTD_OK;
    };
    a.metric_record = [](agentd_host*, uint32_t, const agentd_str*, size_t, double) {};
    a.tools_changed = [](agentd_host* h) {
      std::lock_guard<std::mutex> lock(hostOf(h)->mu);
      ++hostOf(h)->tools_changed;
    };
    a.emit_text = [](agentd_call* c, agentd_str chunk) -> agentd_status {
      callOf(c)->result.text += str(chunk);
      callOf(c)->result.emitted_text = true;
      return AGENTD_OK;
    };
    a.emit_json = [](agentd_call* c, agentd_str chunk) -> agentd_status {
      callOf(c)->result.json += str(chunk);
      callOf(c)->result.emitted_json = true;
      return AGENTD_OK;
    };
    a.set_error = [](agentd_call* c, agentd_str message) {
      callOf(c)->result.error = str(message);
    };
    a.progress = [](agentd_call*, double, double, agentd_str) {};
    a.is_cancelled = [](const agentd_call* c) {
      return callOf(c)->cancelled != nullptr && callOf(c)->cancelled->load() ? 1 : 0;
    };
    a.call_context = [](const agentd_call* c, agentd_str key) -> agentd_str {
      const auto& ctx = callOf(c)->context;
      auto it = ctx.find(std::string_view(key.ptr, key.len));
      return it == ctx.end() ? agentd_str{"", 0} : view(it->second);
    };
    a.add_tool_flags = [](agentd_list* l, agentd_str name, agentd_str description,
                          agentd_str schema, uint32_t flags) {
      auto* list = reinterpret_cast<FakeList*>(l);
      if (list->tools == nullptr) {
        ADD_FAILURE() << "add_tool or add_tool_flags called outside list_tools";
        return;
      }
      list->tools->push_back({str(name), str(description), str(schema), flags});
    };
    static const auto add_tool_flags = a.add_tool_flags;
    a.add_tool = [](agentd_list* l, agentd_str name, agentd_str description, agentd_str schema) {
      add_tool_flags(l, name, description, schema, 0);
    };
    a.add_skill = [](agentd_list* l, agentd_str name, agentd_str description,
                     agentd_str instructions) {
      auto* list = reinterpret_cast<FakeList*>(l);
      if (list->skills == nullptr) {
        ADD_FAILURE() << "add_skill called outside list_skills";
        return;
      }
      list->skills->push_back({str(name), str(description), str(instructions)});
    };
    return a;
  }();
  return &api;
}

// The same services as a host of ABI 1.0 offers them: the table ends before add_tool_flags.
inline const agentd_host_api* fakeHostApi10() {
  static const agentd_host_api api = [] {
    agentd_host_api a = *fakeHostApi();
    a.struct_size = offsetof(agentd_host_api, add_tool_flags);
    a.abi_version = (1u << 16) | 0u;
    // Past struct_size: a plugin that calls it anyway (not checking struct_size) fails the test
    // here instead of reading beyond a real 1.0 host's table.
    a.add_tool_flags = [](agentd_list*, agentd_str, agentd_str, agentd_str, uint32_t) {
      ADD_FAILURE() << "add_tool_flags called on an ABI 1.0 host (beyond struct_size)";
    };
    return a;
  }();
  return &api;
}

// One loaded plugin library and (after create()) one instance of it.
class LoadedPlugin {
 public:
  explicit LoadedPlugin(const std::string& path) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      load_error_ = dlerror();
      return;
    }
    auto entry = reinterpret_cast<agentd_plugin_entry_fn>(dlsym(handle_, "agentd_plugin_entry"));
    if (entry == nullptr) {
      load_error_ = "agentd_plugin_entry not found in " + path;
      return;
    }
    descriptor_ = entry(AGENTD_ABI_VERSION);
    if (descriptor_ == nullptr) load_error_ = "agentd_plugin_entry returned NULL";
  }
  ~LoadedPlugin() {
    if (instance_ != nullptr) descriptor_->destroy(instance_);
    if (handle_ != nullptr) dlclose(handle_);
  }
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  // Empty when the library loaded and returned a descriptor.
  const std::string& loadError() const { return load_error_; }
  const agentd_plugin* descriptor() const { return descriptor_; }
  agentd_instance* instance() const { return instance_; }
  FakeHost& host() { return host_; }

  // Creates the instance; on failure returns the status and leaves the reason in lastError().
  agentd_status create(std::string_view config_json = "{}",
                       const agentd_host_api* api = fakeHostApi()) {
    return descriptor_->create(api, reinterpret_cast<agentd_host*>(&host_), view(config_json),
                               &instance_);
  }
  std::string lastError() const { return descriptor_->last_error(instance_); }

  std::vector<ListedTool> listTools() const {
    std::vector<ListedTool> tools;
    FakeList list{&tools, nullptr};
    agentd_status st = descriptor_->list_tools(instance_, reinterpret_cast<agentd_list*>(&list));
    EXPECT_EQ(st, AGENTD_OK);
    return tools;
  }

  std::vector<ListedSkill> listSkills() const {
    std::vector<ListedSkill> skills;
    FakeList list{nullptr, &skills};
    agentd_status st = descriptor_->list_skills(instance_, reinterpret_cast<agentd_list*>(&list));
    EXPECT_EQ(st, AGENTD_OK);
    return skills;
  }

  CallResult invoke(std::string_view tool, std::string_view args_json,
                    std::string_view task_id = "task-1") const {
    CallOptions options;
    options.task_id = std::string(task_id);
    return invokeWith(tool, args_json, options);
  }

  CallResult invokeWith(std::string_view tool, std::string_view args_json,
                        const CallOptions& options) const {
    FakeCall call;
    if (!options.task_id.empty()) call.context["task_id"] = options.task_id;
    if (!options.working_dir.empty()) call.context["working_dir"] = options.working_dir;
    call.cancelled = options.cancelled;
    call.result.status = descriptor_->invoke(instance_, reinterpret_cast<agentd_call*>(&call),
                                             view(tool), view(args_json));
    return call.result;
  }

  void endTask(std::string_view task_id) const { descriptor_->end_task(instance_, view(task_id)); }

 private:
  void* handle_ = nullptr;
  const agentd_plugin* descriptor_ = nullptr;
  agentd_instance* instance_ = nullptr;
  std::string load_error_;
  FakeHost host_;
};

// Parses text that must be a JSON object; fails the current test otherwise.
inline rapidjson::Document parseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  EXPECT_FALSE(doc.HasParseError()) << "not JSON: " << text;
  EXPECT_TRUE(doc.IsObject()) << "not a JSON object: " << text;
  return doc;
}

// The property names of a JSON Schema object, sorted.
inline std::vector<std::string> propertyNames(const rapidjson::Document& schema) {
  std::vector<std::string> names;
  if (!schema.IsObject() || !schema.HasMember("properties")) return names;
  for (const auto& m : schema["properties"].GetObject()) names.emplace_back(m.name.GetString());
  std::sort(names.begin(), names.end());
  return names;
}

// The "required" names of a JSON Schema object, sorted.
inline std::vector<std::string> requiredNames(const rapidjson::Document& schema) {
  std::vector<std::string> names;
  if (!schema.IsObject() || !schema.HasMember("required")) return names;
  for (const auto& v : schema["required"].GetArray()) names.emplace_back(v.GetString());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace agentd::plugintest
