// PluginHost: the set of live plugin generations, swapped atomically as an immutable snapshot.
// Calls route through the current snapshot; generations that leave the set are drained,
// destroyed and unloaded (or quarantined when the drain times out). Calls are thread-safe;
// prepare/commit/load/unload run on one control thread at a time (serialized internally).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "plugin/generation.h"

namespace agentd::plugin {

// What to load: one plugin, as configured.
struct PluginSpec {
  std::string path;    // the .so
  std::string sha256;  // optional pin (lowercase hex)
  std::string config_json = "{}";
  std::string name;  // optional: expected plugin name (checked against the descriptor)
  bool operator==(const PluginSpec&) const = default;
};

// An immutable view of the live plugins. Shared by every call that started on it.
class PluginSet {
 public:
  struct Entry {
    PluginSpec spec;
    std::shared_ptr<Generation> gen;
    std::string file_id;  // device, inode, size and mtime of the file when it was loaded
  };
  const std::map<std::string, Entry>& plugins() const { return plugins_; }
  // Returns the generation offering tool, or nullptr. Valid while this set is alive.
  Generation* toolOwner(std::string_view tool) const;
  std::shared_ptr<Generation> plugin(std::string_view name) const;
  // All tools, ordered by plugin then tool.
  std::vector<ToolInfo> tools() const;
  std::vector<SkillInfo> skills() const;

 private:
  friend class PluginHost;
  std::map<std::string, Entry> plugins_;
  std::map<std::string, Generation*, std::less<>> tool_index_;
  // Live generations prepare() reconfigured, with their previous config (undone by abandon()).
  std::vector<std::pair<std::shared_ptr<Generation>, std::string>> reconfigured_;
};

// One load failure, for `agentd plugins list` and metrics.
struct LoadError {
  std::string path;
  std::string reason;  // loadFailureName()
  std::string message;
};

class PluginHost {
 public:
  struct Options {
    std::string copy_dir;  // where private copies of .so files go; created if missing
    std::chrono::milliseconds drain_timeout{5000};
  };
  explicit PluginHost(Options options);
  // Retires every generation (quarantined ones are left mapped).
  ~PluginHost();

  // Builds a complete new set from specs, reusing live generations whose spec and file hash are
  // unchanged; config-only changes go through reconfigure() when the plugin has it, else a new
  // instance. Rejects duplicate plugin or tool names. Touches nothing live: on failure every
  // generation built here is retired and the current set keeps serving. Errors are appended to
  // *errors (one per failing spec) when given.
  // With keep_going, failing specs are skipped instead of failing the whole set.
  Result<std::shared_ptr<const PluginSet>> prepare(const std::vector<PluginSpec>& specs,
                                                   std::vector<LoadError>* errors = nullptr,
                                                   bool keep_going = false);
  // Makes set current, then drains and unloads the generations no longer in it.
  void commit(std::shared_ptr<const PluginSet> set);
  // Discards a prepared set that will not be committed: retires its generations that are not
  // live.
  void abandon(const std::shared_ptr<const PluginSet>& set);
  // prepare + commit. With keep_going, specs that fail are skipped (reported in *errors) and the
  // rest are loaded.
  Status apply(const std::vector<PluginSpec>& specs, std::vector<LoadError>* errors = nullptr,
               bool keep_going = false);

  std::shared_ptr<const PluginSet> current() const { return current_.load(); }

  // True when the plugin offering tool declared it AGENTD_TOOL_INLINE and it was not demoted.
  bool runsInline(std::string_view tool);
  // From now on tool runs on the workers (for the life of its plugin's current generation).
  void demoteInline(std::string_view tool);
  // Runs tool on whichever live generation offers it, on the calling thread.
  ToolResult call(std::string_view tool, std::string_view args_json, const CallContext& ctx);
  // Tells every plugin that task_id ended.
  void endTask(std::string_view task_id);

  // Retries unloading quarantined generations whose calls have finished. Returns how many
  // remain quarantined.
  size_t reapQuarantined();
  size_t quarantinedCount() const;

 private:
  Result<std::shared_ptr<Generation>> loadGeneration(const PluginSpec& spec,
                                                     const std::string& file_sha, LoadError* err);
  void retire(const std::shared_ptr<Generation>& gen);
  void watch(const std::shared_ptr<Generation>& gen);
  void reindexIfDirty();
  static Status buildIndex(PluginSet& set, bool strict);
  void publishGauges(const PluginSet& set);

  Options options_;
  std::atomic<std::shared_ptr<const PluginSet>> current_;
  std::mutex control_mu_;  // serializes prepare/commit
  std::atomic<uint64_t> next_generation_{1};
  std::atomic<bool> index_dirty_{false};
  mutable std::mutex quarantine_mu_;
  std::vector<std::shared_ptr<Generation>> quarantined_;
};

}  // namespace agentd::plugin
