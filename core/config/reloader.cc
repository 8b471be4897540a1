#include "config/reloader.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "observability/log.h"
#include "observability/metrics.h"

namespace agentd::config {

namespace fs = std::filesystem;

const char* reloadResultName(ReloadResult r) {
  switch (r) {
    case ReloadResult::kSuccess:
      return "success";
    case ReloadResult::kFailure:
      return "failure";
    case ReloadResult::kNoop:
      return "noop";
    case ReloadResult::kRestartRequired:
      return "restart_required";
  }
  return "unknown";
}

namespace {

struct ReloadMetrics {
  prometheus::Family<prometheus::Counter>& reloads =
      prometheus::BuildCounter()
          .Name("agentd_config_reloads_total")
          .Help("Configuration reload attempts by result.")
          .Register(metrics::registry());
  prometheus::Gauge& last_ok =
      prometheus::BuildGauge()
          .Name("agentd_config_last_reload_successful")
          .Help("Whether the last configuration reload attempt succeeded (1) or not (0).")
          .Register(metrics::registry())
          .Add({});
  prometheus::Gauge& last_ok_time =
      prometheus::BuildGauge()
          .Name("agentd_config_last_reload_success_timestamp_seconds")
          .Help("Time of the last successful configuration load, in seconds since the epoch.")
          .Register(metrics::registry())
          .Add({});
  prometheus::Family<prometheus::Gauge>& info =
      prometheus::BuildGauge()
          .Name("agentd_config_info")
          .Help("The configuration in force, by the SHA-256 of its files; always 1.")
          .Register(metrics::registry());
  prometheus::Gauge* info_series = nullptr;

  ReloadMetrics() {
    for (ReloadResult r : {ReloadResult::kSuccess, ReloadResult::kFailure, ReloadResult::kNoop,
                           ReloadResult::kRestartRequired}) {
      reloads.Add({{"result", reloadResultName(r)}});
    }
  }
  void setInfo(const std::string& sha) {
    if (info_series != nullptr) info.Remove(info_series);
    info_series = &info.Add({{"sha256", sha}});
    info_series->Set(1);
  }
};

ReloadMetrics& reloadMetrics() {
  static ReloadMetrics m;
  return m;
}

double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string summary(const std::vector<std::string>& keys) {
  std::string s;
  size_t shown = 0;
  for (const auto& k : keys) {
    if (shown++ == 20) {
      s += ", ... (" + std::to_string(keys.size()) + " keys)";
      break;
    }
    s += (s.empty() ? "" : ", ") + k;
  }
  return s;
}

}  // namespace

Reloader::Reloader(std::shared_ptr<const Config> initial, Overrides overrides, ApplyFn apply)
    : overrides_(std::move(overrides)), apply_(std::move(apply)), current_(std::move(initial)) {
  ReloadMetrics& m = reloadMetrics();
  m.last_ok.Set(1);
  m.last_ok_time.Set(nowSeconds());
  m.setInfo(current_->sha256);
  last_.sha256 = current_->sha256;
}

Reloader::~Reloader() { stop(); }

std::vector<std::string> Reloader::watchDirs(const Config& cfg) const {
  std::set<std::string> dirs;
  for (const auto& f : cfg.files) {
    std::string d = fs::path(f).parent_path().string();
    dirs.insert(d.empty() ? "." : d);
  }
  // So that a file added to an include directory is seen too.
  dirs.insert(cfg.include_dirs.begin(), cfg.include_dirs.end());
  return {dirs.begin(), dirs.end()};
}

void Reloader::start() {
  auto cfg = current();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
    auto interval = std::chrono::seconds(cfg->reload.poll_interval_seconds);
    next_poll_ = interval.count() > 0 ? std::chrono::steady_clock::now() + interval
                                      : std::chrono::steady_clock::time_point::max();
  }
  if (cfg->reload.watch) {
    auto w =
        DirectoryWatcher::start(watchDirs(*cfg), [this](const std::string& what) { notify(what); });
    if (w.ok()) {
      watcher_ = std::move(*w);
    } else {
      log::warn("config watcher unavailable; relying on the hash poll",
                {{"error", w.status().message()}});
    }
  }
  worker_ = std::thread([this] { run(); });
}

void Reloader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // The worker may use the watcher until it has stopped.
  if (worker_.joinable()) worker_.join();
  watcher_.reset();
}

void Reloader::notify(const std::string& what) {
  auto debounce = std::chrono::milliseconds(current()->reload.debounce_ms);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_) trigger_ = "file change (" + what + ")";
    pending_ = true;
    from_poll_ = false;
    due_ = std::chrono::steady_clock::now() + debounce;
  }
  cv_.notify_all();
}

void Reloader::requestNow(const std::string& trigger) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = true;
    from_poll_ = false;
    trigger_ = trigger;
    due_ = std::chrono::steady_clock::now();
    ++requested_;
  }
  cv_.notify_all();
}

ReloadOutcome Reloader::reloadNow(const std::string& trigger) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!worker_.joinable() || stopping_) {
    lock.unlock();
    return transaction(trigger, true);
  }
  pending_ = true;
  from_poll_ = false;
  trigger_ = trigger;
  due_ = std::chrono::steady_clock::now();
  uint64_t ticket = ++requested_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return completed_ >= ticket || stopping_; });
  return last_;
}

std::shared_ptr<const Config> Reloader::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void Reloader::setOutcomeListener(OutcomeFn fn) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(fn);
}

void Reloader::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    if (!pending_ && now >= next_poll_) {
      pending_ = true;
      from_poll_ = true;
      trigger_ = "poll";
      due_ = now;
    }
    if (!pending_ || now < due_) {
      auto wake = pending_ ? std::min(due_, next_poll_) : next_poll_;
      if (wake == std::chrono::steady_clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, wake);
      }
      continue;
    }
    pending_ = false;
    bool poll = from_poll_;
    std::string trigger = trigger_;
    uint64_t ticket = requested_;
    lock.unlock();
    ReloadOutcome o = transaction(trigger, !poll);
    OutcomeFn listener;
    lock.lock();
    last_ = o;
    completed_ = std::max(completed_, ticket);
    listener = listener_;
    auto interval = std::chrono::seconds(current_->reload.poll_interval_seconds);
    next_poll_ = interval.count() > 0 ? std::chrono::steady_clock::now() + interval
                                      : std::chrono::steady_clock::time_point::max();
    cv_.notify_all();
    // A poll that found nothing new is not a reload attempt.
    bool silent = poll && o.result == ReloadResult::kNoop;
    if (listener && !silent) {
      lock.unlock();
      listener(o);
      lock.lock();
    }
  }
  cv_.notify_all();
}

void Reloader::record(const ReloadOutcome& o) {
  ReloadMetrics& m = reloadMetrics();
  m.reloads.Add({{"result", reloadResultName(o.result)}}).Increment();
  if (o.result == ReloadResult::kNoop) return;
  m.last_ok.Set(o.result == ReloadResult::kSuccess ? 1 : 0);
  if (o.result == ReloadResult::kSuccess) {
    m.last_ok_time.Set(nowSeconds());
    m.setInfo(o.sha256);
  }
}

ReloadOutcome Reloader::transaction(const std::string& trigger, bool count_noop) {
  auto cur = current();
  ReloadOutcome o;
  o.trigger = trigger;
  o.sha256 = cur->sha256;
  std::vector<ConfigError> errors;
  auto next = load(cur->path, overrides_, &errors);
  if (!next.ok()) {
    o.result = ReloadResult::kFailure;
    o.message = next.status().message();
    record(o);
    log::error("configuration reload rejected; the previous configuration keeps serving",
               {{"trigger", trigger}, {"errors", o.message}});
    return o;
  }
  if ((*next)->sha256 == cur->sha256) {
    o.result = ReloadResult::kNoop;
    o.message = "configuration unchanged";
    if (count_noop) {
      record(o);
      log::info("configuration reload: unchanged", {{"trigger", trigger}});
    }
    return o;
  }
  o.changed = changedKeys(*cur, **next);
  std::vector<std::string> restart;
  for (const auto& k : o.changed) {
    if (isRestartOnly(k)) restart.push_back(k);
  }
  if (!restart.empty()) {
    o.result = ReloadResult::kRestartRequired;
    o.message = "changing " + summary(restart) + " requires a restart";
    record(o);
    log::error("configuration reload rejected: restart required",
               {{"trigger", trigger}, {"keys", summary(restart)}});
    return o;
  }
  if (!o.changed.empty()) {
    Status st = apply_(*next, o.changed);
    if (!st.isOk()) {
      o.result = ReloadResult::kFailure;
      o.message = st.message();
      record(o);
      log::error("configuration reload failed; the previous configuration keeps serving",
                 {{"trigger", trigger}, {"error", o.message}});
      return o;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = *next;
  }
  if (watcher_ != nullptr) watcher_->setDirectories(watchDirs(**next));
  o.sha256 = (*next)->sha256;
  if (o.changed.empty()) {
    // New bytes, same effective configuration (comments, formatting).
    o.result = ReloadResult::kNoop;
    o.message = "no effective change";
    if (count_noop) record(o);
    log::info("configuration reload: no effective change",
              {{"trigger", trigger}, {"sha256", o.sha256}});
    return o;
  }
  o.result = ReloadResult::kSuccess;
  o.message = "changed: " + summary(o.changed);
  record(o);
  log::info("configuration reloaded",
            {{"trigger", trigger}, {"sha256", o.sha256}, {"changed", summary(o.changed)}});
  return o;
}

}  // namespace agentd::config
