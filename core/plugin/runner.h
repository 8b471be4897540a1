// ToolRunner: runs plugin calls on a bounded pool of threads with a per-call timeout. A call past
// its timeout is cancelled (is_cancelled() turns 1) and reported as a tool error at once; the
// plugin's thread finishes in the background, holding its gate entry, and its late result is
// dropped. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/thread_pool.h"
#include "plugin/generation.h"

namespace agentd::plugin {

class PluginHost;

class ToolRunner {
 public:
  struct Options {
    size_t threads = 8;
    size_t max_queue = 1024;
    std::chrono::milliseconds inline_budget{5};
  };
  ToolRunner(PluginHost& host, Options options);

  // Runs tool and waits at most timeout (plus queueing). A full queue is an error result.
  ToolResult run(const std::string& tool, const std::string& args_json, CallContext ctx,
                 std::chrono::milliseconds timeout);
  // Runs tool and calls done(result) exactly once: runInline() when runsInline(tool), else
  // runPooled().
  void runAsync(const std::string& tool, const std::string& args_json, CallContext ctx,
                std::chrono::milliseconds timeout, std::function<void(ToolResult)> done);
  // Runs tool on the calling thread and returns its result: for a tool its plugin declared
  // AGENTD_TOOL_INLINE (no hand-off). A call longer than inline_budget demotes the tool to the
  // pool (runsInline turns false), with a warning. A caller that asked runsInline() and planned
  // around the answer (no timeout timer) calls this or runPooled() itself.
  ToolResult runInline(const std::string& tool, const std::string& args_json, CallContext ctx,
                       std::chrono::milliseconds timeout);
  // Runs tool on a pool thread and calls done(result) exactly once from there, or from the
  // calling thread when the queue is full. The timeout is enforced by the plugin polling
  // is_cancelled(); a plugin that ignores it holds a pool thread until it returns.
  void runPooled(const std::string& tool, const std::string& args_json, CallContext ctx,
                 std::chrono::milliseconds timeout, std::function<void(ToolResult)> done);

  size_t threads() const { return pool_.threads(); }
  // True when the tool runs on the calling thread: its plugin declared AGENTD_TOOL_INLINE and
  // it has not been demoted (runAsync dispatches on this).
  bool runsInline(const std::string& tool) const;

 private:
  PluginHost& host_;
  ThreadPool pool_;
  std::chrono::milliseconds inline_budget_;
};

}  // namespace agentd::plugin
