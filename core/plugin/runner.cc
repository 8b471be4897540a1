#include "plugin/runner.h"

#include <condition_variable>
#include <mutex>

#include "plugin/host.h"

namespace agentd::plugin {

ToolRunner::ToolRunner(PluginHost& host, Options options)
    : host_(host), pool_(options.threads, options.max_queue, "agentd-tool") {}

namespace {

ToolResult errorResult(agentd_status status, std::string message) {
  ToolResult r;
  r.status = status;
  r.error = std::move(message);
  return r;
}

}  // namespace

ToolResult ToolRunner::run(const std::string& tool, const std::string& args_json, CallContext ctx,
                           std::chrono::milliseconds timeout) {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    ToolResult result;
  };
  auto shared = std::make_shared<Shared>();
  if (ctx.cancel == nullptr) ctx.cancel = std::make_shared<CancelState>();
  auto cancel = ctx.cancel;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  cancel->setDeadline(deadline);
  bool queued = pool_.submit([this, shared, tool, args_json, ctx = std::move(ctx)] {
    ToolResult r = host_.call(tool, args_json, ctx);
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->result = std::move(r);
    shared->done = true;
    shared->cv.notify_all();
  });
  if (!queued) return errorResult(AGENTD_ERR, "tool pool is full; try again later");
  std::unique_lock<std::mutex> lock(shared->mu);
  if (!shared->cv.wait_until(lock, deadline, [&] { return shared->done; })) {
    cancel->cancel();
    return errorResult(AGENTD_ETIMEDOUT, "tool " + tool + " timed out after " +
                                             std::to_string(timeout.count()) + " ms");
  }
  return std::move(shared->result);
}

void ToolRunner::runAsync(const std::string& tool, const std::string& args_json, CallContext ctx,
                          std::chrono::milliseconds timeout, std::function<void(ToolResult)> done) {
  if (ctx.cancel == nullptr) ctx.cancel = std::make_shared<CancelState>();
  ctx.cancel->setDeadline(std::chrono::steady_clock::now() + timeout);
  auto cb = std::make_shared<std::function<void(ToolResult)>>(std::move(done));
  bool queued = pool_.submit([this, tool, args_json, ctx = std::move(ctx), cb, timeout] {
    ToolResult r = host_.call(tool, args_json, ctx);
    if (!r.ok && ctx.cancel->expired()) {
      r.error = "tool " + tool + " timed out after " + std::to_string(timeout.count()) +
                " ms: " + r.error;
      r.status = AGENTD_ETIMEDOUT;
    }
    (*cb)(std::move(r));
  });
  if (!queued) (*cb)(errorResult(AGENTD_ERR, "tool pool is full; try again later"));
}

}  // namespace agentd::plugin
