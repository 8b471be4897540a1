// A fake host for driving the built mcp.so through the C ABI: records tools, output, progress,
// logs, tools_changed calls and metric values; each call has its own cancellation flag.
#pragma once

#include <agentd/plugin.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "support/wait.h"

namespace agentd::mcptest {

inline std::string str(agentd_str s) { return s.ptr == nullptr ? "" : std::string(s.ptr, s.len); }
inline agentd_str view(std::string_view s) { return agentd_str{s.data(), s.size()}; }

struct ListedTool {
  std::string name, description, input_schema;
};

struct Progress {
  double done = 0, total = 0;
  std::string message;
};

// Stands behind agentd_call*.
struct FakeCall {
  std::atomic<bool> cancelled{false};
  agentd_status status = AGENTD_OK;
  std::string text, json, error;
  bool emitted_text = false, emitted_json = false;
  std::mutex mu;
  std::vector<Progress> progress;
};

// Stands behind agentd_host*.
struct FakeHost {
  std::mutex mu;
  std::vector<std::string> logs;
  std::atomic<int> tools_changed{0};
  std::vector<std::string> metric_names;  // handle i+1
  // "name{v1,v2}" -> last value (gauges, histograms: last observed) / sum (counters)
  std::map<std::string, double> metric_values;
  std::map<std::string, int> metric_counts;  // observations
  std::vector<agentd_metric_type> metric_types;

  std::string logText() {
    std::lock_guard<std::mutex> lock(mu);
    std::string all;
    for (const auto& l : logs) all += l + "\n";
    return all;
  }
  double metric(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = metric_values.find(key);
    return it == metric_values.end() ? -1 : it->second;
  }
  int observations(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = metric_counts.find(key);
    return it == metric_counts.end() ? 0 : it->second;
  }
};

inline FakeHost* hostOf(agentd_host* h) { return reinterpret_cast<FakeHost*>(h); }
inline FakeCall* callOf(agentd_call* c) { return reinterpret_cast<FakeCall*>(c); }

inline const agentd_host_api* fakeHostApi() {
  static const agentd_host_api api = [] {
    agentd_host_api a{};
    a.struct_size = sizeof(agentd_host_api);
    a.abi_version = AGENTD_ABI_VERSION;
    a.log = [](agentd_host* h, agentd_log_level, agentd_str message) {
      std::lock_guard<std::mutex> lock(hostOf(h)->mu);
      hostOf(h)->logs.push_back(str(message));
    };
    a.metric_define = [](agentd_host* h, agentd_metric_type type, agentd_str name, agentd_str,
                         const agentd_str*, size_t, uint32_t* out) -> agentd_status {
      FakeHost* fh = hostOf(h);
      std::lock_guard<std::mutex> lock(fh->mu);
      std::string n = str(name);
      for (size_t i = 0; i < fh->metric_names.size(); ++i) {
        if (fh->metric_names[i] == n) {
          *out = static_cast<uint32_t>(i + 1);
          return AGENTD_OK;
        }
      }
      fh->metric_names.push_back(n);
      fh->metric_types.push_back(type);
      *out = static_cast<uint32_t>(fh->metric_names.size());
      return AGENTD_OK;
    };
    a.metric_record = [](agentd_host* h, uint32_t metric, const agentd_str* labels, size_t n,
                         double value) {
      FakeHost* fh = hostOf(h);
      std::lock_guard<std::mutex> lock(fh->mu);
      if (metric == 0 || metric > fh->metric_names.size()) return;
      std::string key = fh->metric_names[metric - 1] + "{";
      for (size_t i = 0; i < n; ++i) key += (i ? "," : "") + str(labels[i]);
      key += "}";
      if (fh->metric_types[metric - 1] == AGENTD_METRIC_COUNTER) {
        fh->metric_values[key] += value;
      } else {
        fh->metric_values[key] = value;
      }
      ++fh->metric_counts[key];
    };
    a.tools_changed = [](agentd_host* h) { ++hostOf(h)->tools_changed; };
    a.emit_text = [](agentd_call* c, agentd_str chunk) -> agentd_status {
      callOf(c)->text += str(chunk);
      callOf(c)->emitted_text = true;
      return AGENTD_OK;
    };
    a.emit_json = [](agentd_call* c, agentd_str chunk) -> agentd_status {
      callOf(c)->json += str(chunk);
      callOf(c)->emitted_json = true;
      return AGENTD_OK;
    };
    a.set_error = [](agentd_call* c, agentd_str message) { callOf(c)->error = str(message); };
    a.progress = [](agentd_call* c, double done, double total, agentd_str message) {
      std::lock_guard<std::mutex> lock(callOf(c)->mu);
      callOf(c)->progress.push_back({done, total, str(message)});
    };
    a.is_cancelled = [](const agentd_call* c) {
      return reinterpret_cast<const FakeCall*>(c)->cancelled.load() ? 1 : 0;
    };
    a.call_context = [](const agentd_call*, agentd_str) -> agentd_str { return {"", 0}; };
    a.add_tool = [](agentd_list* l, agentd_str name, agentd_str description, agentd_str schema) {
      reinterpret_cast<std::vector<ListedTool>*>(l)->push_back(
          {str(name), str(description), str(schema)});
    };
    a.add_skill = [](agentd_list*, agentd_str, agentd_str, agentd_str) {};
    a.add_tool_flags = [](agentd_list* l, agentd_str name, agentd_str description,
                          agentd_str schema, uint32_t) {
      reinterpret_cast<std::vector<ListedTool>*>(l)->push_back(
          {str(name), str(description), str(schema)});
    };
    return a;
  }();
  return &api;
}

// The built mcp.so, loaded once per test, with one instance.
class LoadedAdapter {
 public:
  LoadedAdapter() {
    handle_ = dlopen(AGENTD_PLUGIN_DIR "/mcp.so", RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      load_error_ = dlerror();
      return;
    }
    auto entry = reinterpret_cast<agentd_plugin_entry_fn>(dlsym(handle_, "agentd_plugin_entry"));
    descriptor_ = entry == nullptr ? nullptr : entry(AGENTD_ABI_VERSION);
    if (descriptor_ == nullptr) load_error_ = "no descriptor";
  }
  ~LoadedAdapter() {
    destroy();
    if (handle_ != nullptr) dlclose(handle_);
  }
  const std::string& loadError() const { return load_error_; }
  const agentd_plugin* descriptor() const { return descriptor_; }
  FakeHost& host() { return host_; }

  agentd_status create(std::string_view config_json) {
    return descriptor_->create(fakeHostApi(), reinterpret_cast<agentd_host*>(&host_),
                               view(config_json), &instance_);
  }
  void destroy() {
    if (instance_ != nullptr) descriptor_->destroy(instance_);
    instance_ = nullptr;
  }
  std::string lastError() const { return descriptor_->last_error(instance_); }
  agentd_status reconfigure(std::string_view config_json) {
    return descriptor_->reconfigure(instance_, view(config_json));
  }
  agentd_status health() { return descriptor_->health(instance_); }

  std::vector<ListedTool> listTools() const {
    std::vector<ListedTool> tools;
    EXPECT_EQ(descriptor_->list_tools(instance_, reinterpret_cast<agentd_list*>(&tools)),
              AGENTD_OK);
    return tools;
  }
  bool hasTool(const std::string& name) const {
    for (const auto& t : listTools()) {
      if (t.name == name) return true;
    }
    return false;
  }
  // Runs one call on the calling thread.
  void invoke(FakeCall& call, std::string_view tool, std::string_view args) const {
    call.status = descriptor_->invoke(instance_, reinterpret_cast<agentd_call*>(&call), view(tool),
                                      view(args));
  }

 private:
  void* handle_ = nullptr;
  const agentd_plugin* descriptor_ = nullptr;
  agentd_instance* instance_ = nullptr;
  std::string load_error_;
  FakeHost host_;
};

// Polls pred every 20 ms until it holds or timeout passes.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  return agentd::testing::waitUntil(pred, timeout, std::chrono::milliseconds(20));
}

}  // namespace agentd::mcptest
