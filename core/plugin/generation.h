// Generation: one created instance of one loaded plugin library, with the gate that counts
// calls into it. Calls, tool listing and health are thread-safe; create/retire run on the
// control thread.
#pragma once

#include <agentd/plugin.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "plugin/gate.h"
#include "plugin/library.h"

struct agentd_host;  // defined in generation.cc; opaque to plugins

namespace agentd::plugin {

struct ToolInfo {
  std::string name;
  std::string description;
  std::string input_schema;  // a JSON Schema object
  std::string plugin;        // the plugin offering it
  uint32_t flags = 0;        // AGENTD_TOOL_* the plugin declared
};

struct SkillInfo {
  std::string name;
  std::string description;
  std::string instructions;
  std::string plugin;
};

// Shared between the caller and the call: cancellation, a deadline, and an optional parent (a
// task) whose cancellation cancels this too. REQUIRES: setDeadline/setParent before sharing.
class CancelState {
 public:
  CancelState() = default;
  explicit CancelState(std::shared_ptr<CancelState> parent) : parent_(std::move(parent)) {}
  void cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const {
    return cancelled_.load(std::memory_order_acquire) ||
           (has_deadline_ && std::chrono::steady_clock::now() >= deadline_) ||
           (parent_ != nullptr && parent_->cancelled());
  }
  // True when the deadline (not a cancel) ended the call.
  bool expired() const {
    return has_deadline_ && std::chrono::steady_clock::now() >= deadline_ &&
           !cancelled_.load(std::memory_order_acquire) &&
           (parent_ == nullptr || !parent_->cancelled());
  }
  void setDeadline(std::chrono::steady_clock::time_point d) {
    deadline_ = d;
    has_deadline_ = true;
  }

 private:
  std::atomic<bool> cancelled_{false};
  bool has_deadline_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::shared_ptr<CancelState> parent_;
};

// What a call knows about its task. Values are exposed to plugins by call_context().
struct CallContext {
  std::string task_id;
  std::string agent;
  std::string working_dir;
  std::string tool_call_id;
  std::shared_ptr<CancelState> cancel;  // may be null
  // Receives progress reports; may be empty. Called on the plugin's thread.
  std::function<void(double progress, double total, std::string_view message)> on_progress;
};

struct ToolResult {
  bool ok = false;
  bool is_json = false;  // output is one JSON value rather than text
  std::string output;    // when ok
  std::string error;     // when !ok
  agentd_status status = AGENTD_ERR;
};

// Outcome of retiring a generation.
enum class RetireOutcome { kUnloaded, kStillMapped, kQuarantined };

class Generation {
 public:
  // Creates an instance of lib's plugin with config_json (a JSON object) and reads its tools and
  // skills. On failure *why says which step failed; the library is closed.
  static Result<std::shared_ptr<Generation>> create(std::unique_ptr<Library> lib,
                                                    const std::string& config_json, uint64_t id,
                                                    LoadFailure* why);
  ~Generation();  // REQUIRES: retire() was called, or create never succeeded
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  agentd_kind kind() const { return desc_->kind; }
  const char* kindName() const;
  std::string version() const { return desc_->version; }
  const Library& library() const { return *lib_; }
  const std::string& configJson() const { return config_json_; }
  Gate& gate() { return gate_; }

  // Current tools and skills; re-read from the plugin after it reported a change.
  std::shared_ptr<const std::vector<ToolInfo>> tools();
  std::shared_ptr<const std::vector<SkillInfo>> skills();
  // Called (without locks held, on the thread that notices) when the plugin reports a change.
  void setChangeListener(std::function<void()> l);

  // True when the plugin declared tool AGENTD_TOOL_INLINE and it was not demoted since.
  bool runsInline(std::string_view tool);
  // Stops running tool inline for the life of this generation (it overran its budget).
  void demoteInline(std::string_view tool);
  // Runs tool on this generation on the calling thread. REQUIRES: the caller holds a gate entry.
  ToolResult invoke(std::string_view tool, std::string_view args_json, const CallContext& ctx);
  // Applies a new config through reconfigure(). FailedPrecondition when the plugin cannot
  // reconfigure (no callback, or it answered AGENTD_ENOTSUP); InvalidArgument when it rejected it.
  Status reconfigure(const std::string& config_json);
  bool supportsReconfigure() const { return desc_->reconfigure != nullptr; }
  bool healthy();
  // The plugin's last_error() text for this instance.
  std::string lastError();
  void endTask(std::string_view task_id);

  // Closes the gate, waits up to drain_timeout for in-flight calls, then destroys the instance
  // and unloads the library. On timeout nothing is destroyed or unmapped (quarantine); a later
  // retire() call may finish the job.
  RetireOutcome retire(std::chrono::milliseconds drain_timeout);
  bool retired() const { return retired_; }

  // Marks the tool and skill lists stale and notifies the change listener (host service
  // tools_changed).
  void markChanged();

 private:
  Generation() = default;
  Status refreshLists();

  uint64_t id_ = 0;
  std::string name_;
  std::unique_ptr<Library> lib_;
  const agentd_plugin* desc_ = nullptr;
  agentd_instance* instance_ = nullptr;
  std::unique_ptr<agentd_host> host_;
  std::string config_json_;
  Gate gate_;
  std::atomic<bool> lists_dirty_{false};
  std::mutex lists_mu_;
  std::shared_ptr<const std::vector<ToolInfo>> tools_;
  std::shared_ptr<const std::vector<SkillInfo>> skills_;
  std::vector<std::string> demoted_;  // inline tools sent back to the workers
  std::function<void()> change_listener_;
  bool retired_ = false;
  bool destroyed_ = false;
};

}  // namespace agentd::plugin
