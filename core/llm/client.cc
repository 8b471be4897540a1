#include "llm/client.h"

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <unordered_map>

#include "common/sha256.h"
#include "llm/cache.h"
#include "llm/canonical.h"
#include "llm/llm_metrics.h"
#include "llm/provider.h"
#include "llm/retry.h"
#include "observability/log.h"

namespace agentd::llm {

using Clock = std::chrono::steady_clock;

namespace {

struct ModelEntry {
  ModelOptions options;
  std::unique_ptr<ResponseCache> cache;
  std::string metric_model;  // the `model` label: the provider's model id, else the name
};

struct ProviderEntry {
  std::unique_ptr<Provider> provider;
  std::unique_ptr<CircuitBreaker> breaker;
};

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int64_t millisOf(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()); }

}  // namespace

namespace detail {

struct Call {
  uint64_t id = 0;
  LlmClient::Impl* impl = nullptr;
  std::string model;
  ChatRequest request;
  CallOptions options;
  DoneCallback done;
  // Event thread only.
  bool finished = false;
  bool attempt_in_flight = false;
  std::vector<const ModelEntry*> legs;
  size_t leg = 0;
  int attempt = 0;
  Clock::time_point leg_started;
  CancelFn cancel_attempt;
  uint64_t retry_timer = 0;
  uint64_t deadline_timer = 0;
  std::string cache_key;
  std::optional<Failure> last_failure;
  std::vector<std::string> leg_errors;
};

}  // namespace detail

using detail::Call;

class LlmClient::Impl {
 public:
  ~Impl() {
    if (!http_) return;
    http_->runExclusive([this] {
      std::vector<std::shared_ptr<Call>> all;
      {
        std::lock_guard<std::mutex> lock(calls_mu_);
        for (auto& [id, c] : calls_) all.push_back(c);
      }
      for (auto& c : all) abort(c, Status::cancelled("the model client is shutting down"));
    });
    http_.reset();  // drops timers and transfers before the providers they point into
  }

  Status init(std::vector<ProviderOptions> providers, std::vector<ModelOptions> models,
              const LlmClient::Options& options) {
    auto http = HttpClient::create(options.http);
    if (!http.ok()) return http.status();
    http_ = std::move(http).value();
    rng_.seed(options.jitter_seed ? options.jitter_seed
                                  : static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
    for (auto& po : providers) {
      if (providers_.count(po.name)) {
        return Status::invalidArgument("provider " + po.name + " is defined twice");
      }
      auto p = makeProvider(po, *http_);
      if (!p.ok()) return p.status();
      std::string name = po.name;
      ProviderEntry e;
      e.provider = std::move(p).value();
      e.breaker =
          std::make_unique<CircuitBreaker>(po.breaker, [name](CircuitState from, CircuitState to) {
            metrics::setCircuitState(name, to);
            log::warn("llm circuit state changed", {{"provider", name},
                                                    {"from", circuitStateName(from)},
                                                    {"to", circuitStateName(to)}});
          });
      metrics::setCircuitState(name, CircuitState::kClosed);
      providers_.emplace(name, std::move(e));
    }
    for (auto& mo : models) {
      if (mo.name.empty()) return Status::invalidArgument("a model needs a name");
      if (models_.count(mo.name)) {
        return Status::invalidArgument("model " + mo.name + " is defined twice");
      }
      auto p = providers_.find(mo.provider);
      if (p == providers_.end()) {
        return Status::invalidArgument("model " + mo.name + ": unknown provider \"" + mo.provider +
                                       "\"");
      }
      const std::string& type = p->second.provider->options().type;
      if ((type == "openai" || type == "anthropic") && mo.model.empty()) {
        return Status::invalidArgument("model " + mo.name + ": model (the provider's id) is empty");
      }
      if (mo.max_tokens <= 0) {
        return Status::invalidArgument("model " + mo.name + ": max_tokens must be > 0");
      }
      ModelEntry e;
      e.metric_model = mo.model.empty() ? mo.name : mo.model;
      if (mo.cache.enabled) {
        if (mo.cache.max_bytes == 0 || mo.cache.ttl.count() <= 0) {
          return Status::invalidArgument("model " + mo.name +
                                         ": cache needs max_bytes > 0 and ttl > 0");
        }
        e.cache = std::make_unique<ResponseCache>(mo.cache.max_bytes, mo.cache.ttl);
      }
      e.options = std::move(mo);
      models_.emplace(e.options.name, std::move(e));
    }
    for (const auto& [name, m] : models_) {
      std::set<std::string> seen = {name};
      for (const auto& fb : m.options.fallback) {
        if (!models_.count(fb)) {
          return Status::invalidArgument("model " + name + ": unknown fallback model \"" + fb +
                                         "\"");
        }
        if (!seen.insert(fb).second) {
          return Status::invalidArgument("model " + name + ": fallback \"" + fb +
                                         "\" repeats a model already tried");
        }
      }
    }
    return Status::ok();
  }

  CallHandle chatAsync(const std::string& model, ChatRequest request, CallOptions options,
                       DoneCallback done) {
    auto c = std::make_shared<Call>();
    c->id = next_call_.fetch_add(1);
    c->impl = this;
    c->model = model;
    c->request = std::move(request);
    c->options = std::move(options);
    c->done = std::move(done);
    {
      std::lock_guard<std::mutex> lock(calls_mu_);
      calls_.emplace(c->id, c);
    }
    http_->post([this, c] { startCall(c); });
    return CallHandle(c);
  }

  Result<ChatResponse> chat(const std::string& model, ChatRequest request, CallOptions options) {
    if (http_->inEventThread()) {
      return Status::failedPrecondition(
          "LlmClient::chat() called on the event thread; use chatAsync()");
    }
    std::promise<Result<ChatResponse>> p;
    auto f = p.get_future();
    chatAsync(model, std::move(request), std::move(options),
              [&p](Result<ChatResponse> r) { p.set_value(std::move(r)); });
    return f.get();
  }

  void cancelCall(const std::shared_ptr<Call>& c, Status why) {
    http_->post([this, c, why = std::move(why)] { abort(c, why); });
  }

  bool hasModel(const std::string& m) const { return models_.count(m) > 0; }
  std::vector<std::string> modelNames() const {
    std::vector<std::string> out;
    for (const auto& [n, m] : models_) out.push_back(n);
    return out;
  }
  CircuitState circuitState(const std::string& provider) const {
    auto it = providers_.find(provider);
    return it == providers_.end() ? CircuitState::kClosed : it->second.breaker->state();
  }
  const HttpClient& http() const { return *http_; }

 private:
  ProviderEntry& providerOf(const ModelEntry& m) { return providers_.at(m.options.provider); }

  void startCall(const std::shared_ptr<Call>& c) {
    if (c->finished) return;
    auto it = models_.find(c->model);
    if (it == models_.end()) {
      finish(c, Status::notFound("unknown model \"" + c->model + "\""));
      return;
    }
    const ModelEntry& m = it->second;
    c->legs.push_back(&m);
    for (const auto& fb : m.options.fallback) c->legs.push_back(&models_.at(fb));
    if (c->options.timeout) {
      std::weak_ptr<Call> weak = c;
      auto limit = *c->options.timeout;
      c->deadline_timer = http_->runAfter(limit, [this, weak, limit] {
        if (auto call = weak.lock()) {
          call->deadline_timer = 0;
          abort(call, Status::deadlineExceeded("model call timed out after " +
                                               std::to_string(millisOf(limit)) + " ms"));
        }
      });
    }
    if (m.cache) {
      c->cache_key = sha256Hex(m.options.name + "\n" + canonicalRequest(c->request, m.options));
      if (auto hit = m.cache->get(c->cache_key, Clock::now())) {
        metrics::countCache(true);
        hit->cached = true;
        streamResponse(*hit, c->options.on_delta);
        finish(c, std::move(*hit));
        return;
      }
      metrics::countCache(false);
    }
    beginLeg(c);
  }

  void beginLeg(const std::shared_ptr<Call>& c) {
    while (c->leg < c->legs.size()) {
      const ModelEntry& m = *c->legs[c->leg];
      ProviderEntry& p = providerOf(m);
      if (p.breaker->allow(Clock::now())) {
        if (c->leg > 0) {
          log::warn("llm fallback", {{"model", c->model},
                                     {"fallback_model", m.options.name},
                                     {"provider", p.provider->name()}});
        }
        c->attempt = 1;
        c->leg_started = Clock::now();
        runAttempt(c);
        return;
      }
      metrics::observeOperation(p.provider->name(), m.metric_model,
                                failureKindName(FailureKind::kCircuitOpen), 0.0);
      log::warn("llm circuit open, provider skipped",
                {{"model", m.options.name}, {"provider", p.provider->name()}});
      Failure f;
      f.kind = FailureKind::kCircuitOpen;
      f.status = Status::unavailable("provider " + p.provider->name() + ": circuit open");
      c->leg_errors.push_back(m.options.name + ": " + f.status.message());
      c->last_failure = std::move(f);
      ++c->leg;
    }
    finishFailed(c);
  }

  void runAttempt(const std::shared_ptr<Call>& c) {
    const ModelEntry& m = *c->legs[c->leg];
    ProviderEntry& p = providerOf(m);
    StreamCallback on_delta;
    if (c->options.on_delta) {
      on_delta = [c](const StreamDelta& d) {
        if (!c->finished && c->options.on_delta) c->options.on_delta(d);
      };
    }
    c->attempt_in_flight = true;
    c->cancel_attempt =
        p.provider->start(c->request, m.options, std::move(on_delta),
                          [this, c](AttemptResult r) { onAttempt(c, std::move(r)); });
  }

  void onAttempt(const std::shared_ptr<Call>& c, AttemptResult r) {
    c->attempt_in_flight = false;
    c->cancel_attempt = nullptr;
    if (c->finished) return;
    const ModelEntry& m = *c->legs[c->leg];
    ProviderEntry& p = providerOf(m);
    const std::string& pname = p.provider->name();
    double secs = secondsSince(c->leg_started);
    if (r.response) {
      p.breaker->onSuccess();
      metrics::observeOperation(pname, m.metric_model, "ok", secs);
      metrics::addTokens(pname, m.metric_model, r.response->usage);
      if (c->legs[0]->cache) c->legs[0]->cache->put(c->cache_key, *r.response, Clock::now());
      finish(c, std::move(*r.response));
      return;
    }
    Failure& f = r.failure;
    if (f.retryable || f.kind == FailureKind::kInvalidResponse) {
      p.breaker->onFailure(Clock::now());
    } else if (f.http_status > 0) {
      p.breaker->onSuccess();  // the endpoint answered; the request was at fault
    } else {
      p.breaker->onAbandon();
    }
    const char* status_label = failureKindName(f.kind);
    if (f.output_delivered) {
      metrics::observeOperation(pname, m.metric_model, status_label, secs);
      logFailure(c, m, pname, f, "stream interrupted after output was delivered");
      finish(c, makeStatus(f.status.code(),
                           f.status.message() +
                               " (stream output was already delivered, so it is not retried)"));
      return;
    }
    if (!f.retryable) {
      metrics::observeOperation(pname, m.metric_model, status_label, secs);
      logFailure(c, m, pname, f, "not retryable");
      finish(c, f.status);
      return;
    }
    const RetryOptions& ro = p.provider->options().retry;
    std::string exhausted;
    std::chrono::milliseconds delay{0};
    if (c->attempt >= ro.max_attempts) {
      exhausted = "gave up after " + std::to_string(c->attempt) + " attempts";
    } else {
      delay = f.retry_after ? *f.retry_after : backoffDelay(ro, c->attempt - 1, rng_);
      auto elapsed =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - c->leg_started);
      if (elapsed + delay > ro.max_elapsed) {
        exhausted =
            (f.retry_after
                 ? "the server asked to wait " + std::to_string(millisOf(delay)) + " ms, beyond"
                 : "the next wait of " + std::to_string(millisOf(delay)) + " ms passes") +
            " the retry budget of " + std::to_string(millisOf(ro.max_elapsed)) +
            " ms; gave up after " + std::to_string(c->attempt) + " attempts";
      }
    }
    if (!exhausted.empty()) {
      metrics::observeOperation(pname, m.metric_model, status_label, secs);
      logFailure(c, m, pname, f, exhausted);
      c->leg_errors.push_back(m.options.name + ": " + f.status.message() + " (" + exhausted + ")");
      f.status = makeStatus(f.status.code(), f.status.message() + " (" + exhausted + ")");
      c->last_failure = std::move(f);
      ++c->leg;
      beginLeg(c);
      return;
    }
    metrics::countRetry(pname, f.reason);
    log::info("llm retry", {{"model", m.options.name},
                            {"provider", pname},
                            {"attempt", c->attempt},
                            {"reason", f.reason},
                            {"delay_ms", millisOf(delay)},
                            {"retry_after", f.retry_after.has_value()}});
    c->last_failure = std::move(f);
    c->retry_timer = http_->runAfter(delay, [this, c, secs_start = c->leg_started] {
      c->retry_timer = 0;
      if (c->finished) return;
      const ModelEntry& m = *c->legs[c->leg];
      ProviderEntry& p = providerOf(m);
      if (!p.breaker->allow(Clock::now())) {
        metrics::observeOperation(p.provider->name(), m.metric_model,
                                  failureKindName(FailureKind::kCircuitOpen),
                                  secondsSince(secs_start));
        std::string why = "the circuit opened while retrying; gave up after " +
                          std::to_string(c->attempt) + " attempts";
        Failure& f = *c->last_failure;
        f.status = makeStatus(f.status.code(), f.status.message() + " (" + why + ")");
        c->leg_errors.push_back(m.options.name + ": " + f.status.message());
        ++c->leg;
        beginLeg(c);
        return;
      }
      ++c->attempt;
      runAttempt(c);
    });
  }

  void logFailure(const std::shared_ptr<Call>& c, const ModelEntry& m, const std::string& pname,
                  const Failure& f, const std::string& why) {
    log::warn("llm call failed", {{"model", m.options.name},
                                  {"provider", pname},
                                  {"attempts", c->attempt},
                                  {"status", failureKindName(f.kind)},
                                  {"why", why},
                                  {"error", f.status.message()}});
  }

  void finishFailed(const std::shared_ptr<Call>& c) {
    if (c->legs.size() == 1 && c->last_failure) {
      finish(c, c->last_failure->status);
      return;
    }
    std::string msg = "model " + c->model + ": every provider failed";
    for (const auto& e : c->leg_errors) msg += "; " + e;
    Status::Code code =
        c->last_failure ? c->last_failure->status.code() : Status::Code::kUnavailable;
    finish(c, makeStatus(code, msg));
  }

  // Stops a call from outside its flow (caller's cancel, call timeout, shutdown).
  void abort(const std::shared_ptr<Call>& c, const Status& why) {
    if (c->finished) return;
    // A leg is open while an attempt is in flight or a retry is waiting.
    if ((c->attempt_in_flight || c->retry_timer) && c->leg < c->legs.size()) {
      const ModelEntry& m = *c->legs[c->leg];
      ProviderEntry& p = providerOf(m);
      if (c->attempt_in_flight) p.breaker->onAbandon();
      metrics::observeOperation(
          p.provider->name(), m.metric_model,
          why.code() == Status::Code::kDeadlineExceeded ? "timeout" : "cancelled",
          secondsSince(c->leg_started));
    }
    finish(c, why);
  }

  void finish(const std::shared_ptr<Call>& c, Result<ChatResponse> result) {
    if (c->finished) return;
    c->finished = true;
    if (c->cancel_attempt) {
      CancelFn cancel = std::move(c->cancel_attempt);
      c->cancel_attempt = nullptr;
      cancel();
    }
    c->attempt_in_flight = false;
    if (c->retry_timer) http_->cancelTimer(c->retry_timer);
    if (c->deadline_timer) http_->cancelTimer(c->deadline_timer);
    c->retry_timer = c->deadline_timer = 0;
    {
      std::lock_guard<std::mutex> lock(calls_mu_);
      calls_.erase(c->id);
    }
    DoneCallback done = std::move(c->done);
    c->options.on_delta = nullptr;
    if (done) done(std::move(result));
  }

  std::map<std::string, ProviderEntry> providers_;
  std::map<std::string, ModelEntry> models_;
  std::mt19937_64 rng_;  // event thread only
  std::atomic<uint64_t> next_call_{1};
  std::mutex calls_mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Call>> calls_;
  std::unique_ptr<HttpClient> http_;
};

void CallHandle::cancel() {
  if (auto c = call_.lock()) {
    c->impl->cancelCall(c, Status::cancelled("model call cancelled"));
  }
}

Result<std::unique_ptr<LlmClient>> LlmClient::create(std::vector<ProviderOptions> providers,
                                                     std::vector<ModelOptions> models,
                                                     Options options) {
  auto impl = std::make_unique<Impl>();
  AGENTD_RETURN_IF_ERROR(impl->init(std::move(providers), std::move(models), options));
  return std::unique_ptr<LlmClient>(new LlmClient(std::move(impl)));
}

LlmClient::LlmClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LlmClient::~LlmClient() = default;

CallHandle LlmClient::chatAsync(const std::string& model, ChatRequest request, CallOptions options,
                                DoneCallback done) {
  return impl_->chatAsync(model, std::move(request), std::move(options), std::move(done));
}

Result<ChatResponse> LlmClient::chat(const std::string& model, ChatRequest request,
                                     CallOptions options) {
  return impl_->chat(model, std::move(request), std::move(options));
}

bool LlmClient::hasModel(const std::string& model) const { return impl_->hasModel(model); }
std::vector<std::string> LlmClient::modelNames() const { return impl_->modelNames(); }
CircuitState LlmClient::circuitState(const std::string& provider) const {
  return impl_->circuitState(provider);
}
const HttpClient& LlmClient::http() const { return impl_->http(); }

}  // namespace agentd::llm
