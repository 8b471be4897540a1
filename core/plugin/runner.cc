#include "plugin/runner.h"

#include <condition_variable>
#include <mutex>

#include "plugin/host.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include "observability/log.h"
#include "observability/metrics.h"
#include "observability/series_cache.h"

namespace agentd::plugin {

ToolRunner::ToolRunner(PluginHost& host, Options options)
    : host_(host),
      pool_(options.threads, options.max_queue, "agentd-tool"),
      inline_budget_(options.inline_budget) {}

namespace {

// agentd_tool_calls_total{tool,result} and agentd_tool_call_duration_seconds{tool}: tool names
// are bounded by what the loaded plugins offer.
void recordCall(const std::string& tool, const ToolResult& r, double seconds) {
  static auto& calls = prometheus::BuildCounter()
                           .Name("agentd_tool_calls_total")
                           .Help("Tool calls through the tool runner, by tool and result.")
                           .Register(metrics::registry());
  static auto& duration = prometheus::BuildHistogram()
                              .Name("agentd_tool_call_duration_seconds")
                              .Help("Time of a tool call through the tool runner, by tool.")
                              .Register(metrics::registry());
  const char* result = r.ok                           ? "ok"
                       : r.status == AGENTD_ETIMEDOUT ? "timeout"
                       : r.status == AGENTD_ECANCELED ? "cancelled"
                       : r.status == AGENTD_ENOTFOUND ? "not_found"
                                                      : "error";
  static metrics::SeriesCache<prometheus::Counter> call_series(calls, {"tool", "result"});
  static metrics::SeriesCache<prometheus::Histogram> duration_series(duration, {"tool"});
  call_series.get({tool, result}).Increment();
  duration_series.get({tool}, metrics::durationBuckets()).Observe(seconds);
}

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Gives the call a cancel state (the caller's, or a new one) due at now + timeout; returns the
// deadline.
std::chrono::steady_clock::time_point arm(CallContext& ctx, std::chrono::milliseconds timeout) {
  if (ctx.cancel == nullptr) ctx.cancel = std::make_shared<CancelState>();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  ctx.cancel->setDeadline(deadline);
  return deadline;
}

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
  auto deadline = arm(ctx, timeout);
  auto cancel = ctx.cancel;
  auto start = std::chrono::steady_clock::now();
  bool queued = pool_.submit([this, shared, tool, args_json, ctx = std::move(ctx), start] {
    ToolResult r = host_.call(tool, args_json, ctx);
    recordCall(tool, r, since(start));
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

bool ToolRunner::runsInline(const std::string& tool) const { return host_.runsInline(tool); }

void ToolRunner::runAsync(const std::string& tool, const std::string& args_json, CallContext ctx,
                          std::chrono::milliseconds timeout, std::function<void(ToolResult)> done) {
  if (host_.runsInline(tool)) {
    done(runInline(tool, args_json, std::move(ctx), timeout));
  } else {
    runPooled(tool, args_json, std::move(ctx), timeout, std::move(done));
  }
}

ToolResult ToolRunner::runInline(const std::string& tool, const std::string& args_json,
                                 CallContext ctx, std::chrono::milliseconds timeout) {
  arm(ctx, timeout);
  auto start = std::chrono::steady_clock::now();
  ToolResult r = host_.call(tool, args_json, ctx);
  auto took = std::chrono::steady_clock::now() - start;
  if (took > inline_budget_) {
    host_.demoteInline(tool);
    log::warn("inline tool overran its budget; it runs on the tool workers from now on",
              {{"tool", tool},
               {"took_ms", std::chrono::duration<double, std::milli>(took).count()},
               {"budget_ms", static_cast<int64_t>(inline_budget_.count())}});
  }
  recordCall(tool, r, since(start));
  return r;
}

void ToolRunner::runPooled(const std::string& tool, const std::string& args_json, CallContext ctx,
                           std::chrono::milliseconds timeout,
                           std::function<void(ToolResult)> done) {
  arm(ctx, timeout);
  auto start = std::chrono::steady_clock::now();
  auto cb = std::make_shared<std::function<void(ToolResult)>>(std::move(done));
  bool queued = pool_.submit([this, tool, args_json, ctx = std::move(ctx), cb, timeout, start] {
    ToolResult r = host_.call(tool, args_json, ctx);
    if (!r.ok && ctx.cancel->expired()) {
      r.error = "tool " + tool + " timed out after " + std::to_string(timeout.count()) +
                " ms: " + r.error;
      r.status = AGENTD_ETIMEDOUT;
    }
    recordCall(tool, r, since(start));
    (*cb)(std::move(r));
  });
  if (!queued) (*cb)(errorResult(AGENTD_ERR, "tool pool is full; try again later"));
}

}  // namespace agentd::plugin
