#include "server/api.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <rapidjson/document.h>

#include <utility>  // before Asio (Boost 1.74); its own block keeps it first

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <list>
#include <random>
#include <thread>

#include "common/json.h"
#include "config/config.h"
#include "observability/build_info.h"
#include "observability/log.h"
#include "observability/metrics.h"
#include "observability/series_cache.h"
#include "server/auth.h"
#include "server/http_server.h"
#include "server/rate_limit.h"

namespace agentd::server {

namespace asio = boost::asio;
using agent::Task;
using agent::TaskState;

namespace {

// --- metrics ------------------------------------------------------------------------------

struct ApiMetrics {
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("agentd_http_requests_total")
          .Help("HTTP requests answered, by route pattern, method and status code.")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Histogram>& duration =
      prometheus::BuildHistogram()
          .Name("agentd_http_request_duration_seconds")
          .Help("Time to answer an HTTP request, by route pattern.")
          .Register(metrics::registry());
  prometheus::Family<prometheus::Gauge>& tasks = prometheus::BuildGauge()
                                                     .Name("agentd_tasks")
                                                     .Help("Tasks known to agentd, by state.")
                                                     .Register(metrics::registry());
  prometheus::Family<prometheus::Counter>& tasks_total = prometheus::BuildCounter()
                                                             .Name("agentd_tasks_total")
                                                             .Help("Tasks that ended, by result.")
                                                             .Register(metrics::registry());
  prometheus::Gauge& sse = prometheus::BuildGauge()
                               .Name("agentd_sse_streams")
                               .Help("Open Server-Sent Event streams.")
                               .Register(metrics::registry())
                               .Add({});

  ApiMetrics() {
    for (const char* s : {"queued", "running", "completed", "failed", "cancelled", "interrupted"}) {
      tasks.Add({{"state", s}});
    }
    for (const char* s : {"completed", "failed", "cancelled", "interrupted"}) {
      tasks_total.Add({{"result", s}});
    }
  }
};

ApiMetrics& apiMetrics() {
  static ApiMetrics m;
  return m;
}

// --- helpers ------------------------------------------------------------------------------

int statusFor(const Status& st) {
  switch (st.code()) {
    case Status::Code::kInvalidArgument:
      return 400;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kFailedPrecondition:
      return 409;
    case Status::Code::kUnavailable:
      return 503;
    case Status::Code::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string fixed(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Reads a JSON object body; on failure fills *error.
std::optional<rapidjson::Document> jsonBody(const HttpRequest& req, HttpResponse* error) {
  auto doc = json::parse(req.body.empty() ? "{}" : req.body);
  if (!doc.ok()) {
    *error = HttpResponse::error(400, "body is not valid JSON: " + doc.status().message());
    return std::nullopt;
  }
  if (!doc->IsObject()) {
    *error = HttpResponse::error(400, "body must be a JSON object");
    return std::nullopt;
  }
  return std::move(*doc);
}

// Field readers that reject wrong types with the field's name.
bool getString(const rapidjson::Value& o, const char* key, std::string* out, HttpResponse* error,
               bool required = false) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || it->value.IsNull()) {
    if (required) *error = HttpResponse::error(400, std::string("field '") + key + "' is required");
    return !required;
  }
  if (!it->value.IsString()) {
    *error = HttpResponse::error(400, std::string("field '") + key + "' must be a string");
    return false;
  }
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

bool getBool(const rapidjson::Value& o, const char* key, bool* out, HttpResponse* error) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || it->value.IsNull()) return true;
  if (!it->value.IsBool()) {
    *error = HttpResponse::error(400, std::string("field '") + key + "' must be a boolean");
    return false;
  }
  *out = it->value.GetBool();
  return true;
}

bool getPositiveInt(const rapidjson::Value& o, const char* key, int* out, HttpResponse* error) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || it->value.IsNull()) return true;
  if (!it->value.IsInt() || it->value.GetInt() < 1) {
    *error =
        HttpResponse::error(400, std::string("field '") + key + "' must be a positive integer");
    return false;
  }
  *out = it->value.GetInt();
  return true;
}

bool onlyKnownFields(const rapidjson::Value& o, std::initializer_list<const char*> known,
                     HttpResponse* error) {
  for (const auto& m : o.GetObject()) {
    bool ok = false;
    for (const char* k : known) ok |= std::string_view(m.name.GetString()) == k;
    if (!ok) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      *error = HttpResponse::error(
          400, "unknown field '" + std::string(m.name.GetString()) + "' (known: " + list + ")");
      return false;
    }
  }
  return true;
}

std::string taskSummary(const Task& t) {
  double start = t.startTime(), end = t.endTime();
  double duration = start == 0 ? 0 : (end != 0 ? end : agent::nowSeconds()) - start;
  return "{\"id\":" + json::quote(t.id()) + ",\"state\":\"" + agent::taskStateName(t.state()) +
         "\",\"agent\":" +
         json::quote(agent::effectiveAgent(*t.snapshot()->config, t.spec().agent)) +
         ",\"start_time\":" + (start == 0 ? "null" : fixed(start, 6)) +
         ",\"duration\":" + fixed(duration) + "}";
}

// --- chat sessions ------------------------------------------------------------------------

struct ChatSession {
  std::string agent;
  std::vector<llm::Message> history;  // user and assistant turns
  std::chrono::steady_clock::time_point last_used;
};

class ChatSessions {
 public:
  explicit ChatSessions(std::chrono::seconds ttl, size_t max) : ttl_(ttl), max_(max) {}
  // Returns the session (created when id is empty or unknown), and its id in *id.
  std::vector<llm::Message> open(std::string* id) {
    std::lock_guard<std::mutex> lock(mu_);
    prune();
    if (!id->empty()) {
      auto it = sessions_.find(*id);
      if (it != sessions_.end()) {
        it->second.last_used = std::chrono::steady_clock::now();
        return it->second.history;
      }
    } else {
      *id = newId();
    }
    sessions_[*id] = ChatSession{"", {}, std::chrono::steady_clock::now()};
    return {};
  }
  void append(const std::string& id, llm::Message user, llm::Message assistant) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& s = sessions_[id];
    s.history.push_back(std::move(user));
    s.history.push_back(std::move(assistant));
    s.last_used = std::chrono::steady_clock::now();
  }

 private:
  void prune() {
    auto now = std::chrono::steady_clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      it = now - it->second.last_used > ttl_ ? sessions_.erase(it) : std::next(it);
    }
    while (sessions_.size() >= max_) {
      auto oldest = sessions_.begin();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
        if (it->second.last_used < oldest->second.last_used) oldest = it;
      }
      sessions_.erase(oldest);
    }
  }
  static std::string newId() {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    char buf[40];
    std::snprintf(buf, sizeof buf, "s-%016llx", static_cast<unsigned long long>(rng()));
    return buf;
  }
  std::mutex mu_;
  std::chrono::seconds ttl_;
  size_t max_;
  std::map<std::string, ChatSession> sessions_;
};

}  // namespace

struct Api::Impl {
  asio::io_context& io;
  Daemon& daemon;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<RateLimiter> limiter;
  std::vector<std::string> cors_origins;
  ChatSessions sessions{std::chrono::minutes(30), 10000};
  std::thread admin_thread;  // runs blocking admin work (reloads) off the io thread

  Impl(asio::io_context& i, Daemon& d) : io(i), daemon(d) {}
  ~Impl() {
    if (admin_thread.joinable()) admin_thread.join();
  }

  // The role a route needs; kNone for probes.
  static Role roleFor(const std::string& method, const std::string& route) {
    if (route.rfind("/api/", 0) != 0 && route.rfind("/v1/", 0) != 0 &&
        route.rfind("/admin/", 0) != 0) {
      return Role::kNone;
    }
    if (route.rfind("/admin/", 0) == 0 || route == "/api/config" ||
        route.find("/pause") != std::string::npos || route.find("/resume") != std::string::npos) {
      return Role::kAdmin;
    }
    if (method == "GET") return Role::kRead;
    return Role::kRun;
  }

  std::optional<HttpResponse> filter(HttpRequest& req, const std::string& route) {
    if (req.method == "OPTIONS") return preflight(req);
    Role need = roleFor(req.method, route.empty() ? req.path : route);
    if (need == Role::kNone) return std::nullopt;  // probes: never behind auth or limits
    std::string who = req.remote_addr;
    if (auth->enabled()) {
      AuthFailure failure{};
      auto p = auth->check(req, need, &failure);
      if (!p) {
        // Failed attempts draw from the client address's bucket: guessing is throttled too.
        if (double wait = limiter->take("addr:" + req.remote_addr); wait > 0) {
          HttpResponse r = HttpResponse::error(429, "rate limit exceeded; retry later");
          r.headers.emplace_back("Retry-After", std::to_string(static_cast<int>(std::ceil(wait))));
          return r;
        }
        HttpResponse r = HttpResponse::error(failure.status, failure.message);
        if (failure.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return r;
      }
      who = p->id;
    }
    double wait = limiter->take(who);
    if (wait > 0) {
      HttpResponse r = HttpResponse::error(429, "rate limit exceeded; retry later");
      r.headers.emplace_back("Retry-After", std::to_string(static_cast<int>(std::ceil(wait))));
      return r;
    }
    return std::nullopt;
  }

  HttpResponse preflight(const HttpRequest& req) {
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    const std::string& origin = req.header("origin");
    if (allowedOrigin(origin)) {
      r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      r.headers.emplace_back("Access-Control-Allow-Headers",
                             "Authorization, Content-Type, X-API-Key, Last-Event-ID");
      r.headers.emplace_back("Access-Control-Max-Age", "600");
    }
    return r;
  }

  bool allowedOrigin(const std::string& origin) const {
    if (origin.empty()) return false;
    for (const auto& o : cors_origins) {
      if (o == "*" || o == origin) return true;
    }
    return false;
  }

  void decorate(const HttpRequest& req, HttpResponse& resp) {
    const std::string& origin = req.header("origin");
    if (allowedOrigin(origin)) {
      resp.headers.emplace_back("Access-Control-Allow-Origin", origin);
      resp.headers.emplace_back("Vary", "Origin");
    }
  }

  // Looking a series up in prometheus-cpp builds and hashes a label map, which would cost more
  // than answering /livez: handles are cached by their label values.
  metrics::SeriesCache<prometheus::Counter> request_series{apiMetrics().requests,
                                                           {"route", "method", "code"}};
  metrics::SeriesCache<prometheus::Histogram> duration_series{apiMetrics().duration, {"route"}};

  void observe(const HttpRequest& req, const std::string& route, int status, double seconds) {
    const std::string& r = route.empty() ? kUnmatched : route;
    const std::string& method =
        req.method == "GET" || req.method == "POST" || req.method == "OPTIONS" ? req.method
                                                                               : kOther;
    request_series.get({r, method, std::to_string(status)}).Increment();
    duration_series.get({r}, metrics::durationBuckets()).Observe(seconds);
  }
  inline static const std::string kUnmatched = "unmatched";
  inline static const std::string kOther = "other";

  // Counting tasks walks every retained one: at most every 200 ms (io thread only), with a
  // trailing refresh so the gauges settle on the final counts.
  std::chrono::steady_clock::time_point gauges_refreshed{};
  std::optional<asio::steady_timer> gauge_timer;
  bool gauge_refresh_pending = false;

  void refreshTaskGauges() {
    auto now = std::chrono::steady_clock::now();
    if (now - gauges_refreshed < std::chrono::milliseconds(200)) {
      if (!gauge_refresh_pending) {
        gauge_refresh_pending = true;
        if (!gauge_timer) gauge_timer.emplace(io);
        gauge_timer->expires_after(std::chrono::milliseconds(200));
        gauge_timer->async_wait([this](const boost::system::error_code& ec) {
          gauge_refresh_pending = false;
          if (!ec) refreshTaskGauges();
        });
      }
      return;
    }
    gauges_refreshed = now;
    std::map<std::string, double> counts = {{"queued", 0}, {"running", 0},   {"completed", 0},
                                            {"failed", 0}, {"cancelled", 0}, {"interrupted", 0}};
    for (const auto& t : daemon.tasks().list()) counts[agent::taskStateName(t->state())] += 1;
    for (const auto& [s, v] : counts) apiMetrics().tasks.Add({{"state", s}}).Set(v);
  }

  // --- routes -----------------------------------------------------------------------------

  void install() {
    http->setFilter([this](HttpRequest& r, const std::string& route) { return filter(r, route); });
    http->setDecorator([this](const HttpRequest& r, HttpResponse& resp) { decorate(r, resp); });
    http->setObserver([this](const HttpRequest& r, const std::string& route, int status, double s) {
      observe(r, route, status, s);
    });

    auto ok = [](const HttpRequest&) { return HttpResponse::json(200, R"({"status":"ok"})"); };
    http->route("GET", "/livez", {.sync = [ok](HttpRequest& r) { return ok(r); }});
    http->route("GET", "/healthz", {.sync = [ok](HttpRequest& r) { return ok(r); }});
    http->route("GET", "/readyz", {.sync = [this](HttpRequest& r) { return readyz(r); }});

    http->route("GET", "/api/health", {.sync = [this](HttpRequest&) { return health(); }});
    http->route("POST", "/api/run", {.sync = [this](HttpRequest& r) { return run(r); }});
    http->route("GET", "/api/tasks", {.sync = [this](HttpRequest&) { return tasks(); }});
    http->route("GET", "/api/tasks/{id}/status",
                {.sync = [this](HttpRequest& r) { return taskStatus(r); }});
    http->route("POST", "/api/tasks/{id}/stop",
                {.sync = [this](HttpRequest& r) { return stopTask(r); }});
    http->route("GET", "/api/tasks/{id}/stream",
                {.sse = [this](HttpRequest& r, std::shared_ptr<SseStream> s) { streamTask(r, s); },
                 .sse_precheck = [this](HttpRequest& r) -> std::optional<HttpResponse> {
                   if (daemon.tasks().get(r.params["id"]) == nullptr) {
                     return HttpResponse::error(404, "no task " + r.params["id"]);
                   }
                   return std::nullopt;
                 }});
    http->route("GET", "/api/config", {.sync = [this](HttpRequest&) {
                  return HttpResponse::json(200, config::renderJson(*daemon.snapshot()->config));
                }});
    http->route("GET", "/api/tools", {.sync = [this](HttpRequest&) { return tools(); }});
    http->route("GET", "/api/agents", {.sync = [this](HttpRequest&) { return agents(); }});
    http->route("POST", "/api/agents/{name}/pause",
                {.sync = [this](HttpRequest& r) { return agentAction(r, true); }});
    http->route("POST", "/api/agents/{name}/resume",
                {.sync = [this](HttpRequest& r) { return agentAction(r, false); }});
    http->route("POST", "/admin/reload",
                {.async = [this](HttpRequest&, Respond respond) { reload(std::move(respond)); }});

    http->route("POST", "/v1/chat", {.async = [this](HttpRequest& r, Respond respond) {
                  chat(r, std::move(respond));
                }});
    http->route("POST", "/v1/chat/stream",
                {.sse = [this](HttpRequest& r, std::shared_ptr<SseStream> s) { chatStream(r, s); },
                 .sse_precheck = [this](HttpRequest& r) { return chatPrecheck(r); }});
    http->route("GET", "/v1/models", {.sync = [this](HttpRequest&) { return models(); }});
  }

  HttpResponse readyz(const HttpRequest& req) {
    std::vector<ReadinessCheck> checks;
    bool ready = daemon.ready(&checks);
    HttpResponse r;
    r.status = ready ? 200 : 503;
    if (req.hasQuery("verbose")) {
      r.content_type = "text/plain; charset=utf-8";
      for (const auto& c : checks) {
        r.body += std::string(c.ok ? "[+]" : "[-]") + c.name + (c.ok ? " ok" : " failed") +
                  (c.detail.empty() ? "" : ": " + c.detail) + "\n";
      }
      r.body += ready ? "readyz check passed\n" : "readyz check failed\n";
      return r;
    }
    r.body = ready ? R"({"status":"ok"})" : R"({"status":"error","error":"not ready"})";
    return r;
  }

  HttpResponse health() {
    auto& t = daemon.tasks();
    return HttpResponse::json(200, std::string("{\"status\":\"ok\",\"version\":\"") +
                                       build::kVersion +
                                       "\",\"ready\":" + (daemon.ready() ? "true" : "false") +
                                       ",\"draining\":" + (daemon.draining() ? "true" : "false") +
                                       ",\"tasks\":{\"running\":" + std::to_string(t.running()) +
                                       ",\"queued\":" + std::to_string(t.queued()) + "}}");
  }

  HttpResponse run(const HttpRequest& req) {
    if (daemon.draining()) return HttpResponse::error(503, "agentd is shutting down");
    HttpResponse err;
    auto body = jsonBody(req, &err);
    if (!body) return err;
    const auto& o = *body;
    if (!onlyKnownFields(o,
                         {"task", "working_dir", "agent", "provider", "model", "max_steps",
                          "must_patch", "trajectory_file", "patch_path"},
                         &err)) {
      return err;
    }
    agent::TaskSpec spec;
    std::string provider;
    if (!getString(o, "task", &spec.task, &err, true) ||
        !getString(o, "working_dir", &spec.working_dir, &err) ||
        !getString(o, "agent", &spec.agent, &err) || !getString(o, "provider", &provider, &err) ||
        !getString(o, "model", &spec.model, &err) ||
        !getPositiveInt(o, "max_steps", &spec.max_steps, &err) ||
        !getBool(o, "must_patch", &spec.must_patch, &err) ||
        !getString(o, "trajectory_file", &spec.trajectory_file, &err) ||
        !getString(o, "patch_path", &spec.patch_path, &err)) {
      return err;
    }
    if (spec.task.empty()) return HttpResponse::error(400, "field 'task' must not be empty");
    if (!spec.working_dir.empty() && spec.working_dir.front() != '/') {
      return HttpResponse::error(400, "working_dir must be an absolute path");
    }
    // Files the daemon writes for a client stay inside the task's working directory.
    for (const auto& [field, value] :
         {std::pair<const char*, std::string*>{"trajectory_file", &spec.trajectory_file},
          {"patch_path", &spec.patch_path}}) {
      if (value->empty()) continue;
      if (value->front() == '/' || value->find("..") != std::string::npos) {
        return HttpResponse::error(400, std::string(field) +
                                            " must be a relative path without '..' (it is "
                                            "written inside the task's working directory)");
      }
    }
    const config::Config& cfg = *daemon.snapshot()->config;
    if (!spec.model.empty() && !cfg.models.count(spec.model)) {
      return HttpResponse::error(400, "no model named '" + spec.model + "' is configured");
    }
    if (!provider.empty()) {
      auto it = cfg.models.find(spec.model);
      if (it == cfg.models.end() || it->second.provider != provider) {
        // Pick the first configured model of that provider.
        spec.model.clear();
        for (const auto& [name, m] : cfg.models) {
          if (m.provider == provider) {
            spec.model = name;
            break;
          }
        }
        if (spec.model.empty()) {
          return HttpResponse::error(400, "no configured model uses provider '" + provider + "'");
        }
      }
    }
    auto task = daemon.submit(std::move(spec));
    if (!task.ok()) {
      if (task.status().code() == Status::Code::kUnavailable && !daemon.draining()) {
        HttpResponse r = HttpResponse::error(429, task.status().message());
        r.headers.emplace_back("Retry-After", "1");
        return r;
      }
      return HttpResponse::error(statusFor(task.status()), task.status().message());
    }
    refreshTaskGauges();
    return HttpResponse::json(
        202, "{\"status\":\"accepted\",\"task_id\":" + json::quote((*task)->id()) + "}");
  }

  HttpResponse tasks() {
    std::string out = "{\"tasks\":[";
    bool first = true;
    for (const auto& t : daemon.tasks().list()) {
      if (!first) out += ",";
      first = false;
      out += taskSummary(*t);
    }
    return HttpResponse::json(200, out + "]}");
  }

  HttpResponse taskStatus(HttpRequest& req) {
    auto t = daemon.tasks().get(req.params["id"]);
    if (t == nullptr) return HttpResponse::error(404, "no task " + req.params["id"]);
    std::string summary = taskSummary(*t);
    summary.pop_back();
    std::string result = t->finalResult(), error = t->error();
    return HttpResponse::json(
        200, summary + ",\"messages\":" + t->messagesJson() +
                 ",\"final_result\":" + (result.empty() ? "null" : json::quote(result)) +
                 ",\"error\":" + (error.empty() ? "null" : json::quote(error)) + "}");
  }

  HttpResponse stopTask(HttpRequest& req) {
    Status st = daemon.tasks().stop(req.params["id"]);
    if (!st.isOk()) return HttpResponse::error(statusFor(st), st.message());
    return HttpResponse::json(
        200, "{\"status\":\"stopping\",\"task_id\":" + json::quote(req.params["id"]) + "}");
  }

  void streamTask(HttpRequest& req, const std::shared_ptr<SseStream>& sse) {
    auto task = daemon.tasks().get(req.params["id"]);
    if (task == nullptr) {
      sse->close();
      return;
    }
    uint64_t after = 0;
    std::string last = req.header("last-event-id");
    if (last.empty() && req.query.count("last_event_id")) last = req.query["last_event_id"];
    if (!last.empty()) after = std::strtoull(last.c_str(), nullptr, 10);
    apiMetrics().sse.Increment();
    std::weak_ptr<SseStream> weak = sse;
    // Replayed, so that the retained events go out before any live one (a tool's progress,
    // emitted on a worker thread, must not overtake them).
    bool ended = false;
    uint64_t token = task->subscribe(
        after,
        [weak](const agent::Event& e) {
          auto s = weak.lock();
          if (s == nullptr) return;
          s->send(agent::eventName(e.type), e.toJson(), e.seq);
          if (e.type == agent::EventType::kEnd) s->close();
        },
        true, &ended);
    sse->onClose([task, token] {
      task->unsubscribe(token);
      apiMetrics().sse.Decrement();
    });
    // A client that has seen the end gets nothing more: the stream ends now, not on a timeout.
    if (ended) sse->close();
  }

  HttpResponse tools() {
    std::string out = "{\"tools\":[";
    bool first = true;
    for (const auto& t : daemon.snapshot()->plugins->tools()) {
      if (!first) out += ",";
      first = false;
      out += "{\"name\":" + json::quote(t.name) + ",\"plugin\":" + json::quote(t.plugin) +
             ",\"description\":" + json::quote(t.description) +
             ",\"input_schema\":" + t.input_schema + "}";
    }
    return HttpResponse::json(200, out + "]}");
  }

  HttpResponse agents() {
    auto snap = daemon.snapshot();
    auto states = daemon.agentStates();
    std::string out = "{\"agents\":[";
    bool first = true;
    for (const auto& [name, state] : states) {
      if (!first) out += ",";
      first = false;
      std::string model, tools;
      if (auto it = snap->config->agents.find(name); it != snap->config->agents.end()) {
        model = it->second.model;
        for (const auto& t : it->second.tools) tools += (tools.empty() ? "" : ",") + json::quote(t);
      }
      out += "{\"name\":" + json::quote(name) + ",\"state\":\"" + stateName(state) +
             "\",\"model\":" + json::quote(model) + ",\"tools\":[" + tools + "]}";
    }
    return HttpResponse::json(200, out + "]}");
  }

  HttpResponse agentAction(HttpRequest& req, bool pause) {
    const std::string& name = req.params["name"];
    Status st = pause ? daemon.pauseAgent(name) : daemon.resumeAgent(name);
    if (!st.isOk()) return HttpResponse::error(statusFor(st), st.message());
    return HttpResponse::json(200, "{\"status\":\"ok\",\"agent\":" + json::quote(name) +
                                       ",\"state\":\"" + stateName(daemon.agentStates().at(name)) +
                                       "\"}");
  }

  std::atomic<bool> reloading{false};

  void reload(Respond respond) {
    // Reloading loads plugins and waits for drains: never on the io thread, one at a time.
    if (reloading.exchange(true)) {
      respond(HttpResponse::error(409, "a reload requested here is still running"));
      return;
    }
    if (admin_thread.joinable()) admin_thread.join();  // finished: it cleared `reloading`
    admin_thread = std::thread([this, respond = std::move(respond)] {
      config::ReloadOutcome o = daemon.reloader().reloadNow("POST /admin/reload");
      int status = 200;
      if (o.result == config::ReloadResult::kFailure) status = 400;
      if (o.result == config::ReloadResult::kRestartRequired) status = 409;
      std::string changed = "[";
      for (size_t i = 0; i < o.changed.size(); ++i) {
        changed += (i ? "," : "") + json::quote(o.changed[i]);
      }
      changed += "]";
      reloading.store(false);  // before answering: the client may ask again at once
      respond(HttpResponse::json(
          status, std::string("{\"status\":\"") + (status == 200 ? "ok" : "error") +
                      "\",\"result\":\"" + config::reloadResultName(o.result) +
                      "\",\"sha256\":" + json::quote(o.sha256) + ",\"changed\":" + changed +
                      (status == 200 ? ",\"message\":" : ",\"error\":") + json::quote(o.message) +
                      "}"));
    });
  }

  HttpResponse models() {
    std::string out = "{\"object\":\"list\",\"data\":[";
    bool first = true;
    for (const auto& [name, m] : daemon.snapshot()->config->models) {
      if (!first) out += ",";
      first = false;
      out += "{\"id\":" + json::quote(name) +
             ",\"object\":\"model\",\"owned_by\":" + json::quote(m.provider) +
             ",\"model\":" + json::quote(m.model) + "}";
    }
    return HttpResponse::json(200, out + "]}");
  }

  // --- chat --------------------------------------------------------------------------------

  struct ChatRequest {
    std::string message, agent, session_id;
    bool use_tools = false;
  };

  std::optional<HttpResponse> parseChat(const HttpRequest& req, ChatRequest* c) {
    if (daemon.draining()) return HttpResponse::error(503, "agentd is shutting down");
    HttpResponse err;
    auto body = jsonBody(req, &err);
    if (!body) return err;
    if (!onlyKnownFields(*body, {"message", "agent", "session_id", "use_tools"}, &err) ||
        !getString(*body, "message", &c->message, &err, true) ||
        !getString(*body, "agent", &c->agent, &err) ||
        !getString(*body, "session_id", &c->session_id, &err) ||
        !getBool(*body, "use_tools", &c->use_tools, &err)) {
      return err;
    }
    if (c->message.empty()) return HttpResponse::error(400, "field 'message' must not be empty");
    auto snap = daemon.snapshot();
    std::string agent = agent::effectiveAgent(*snap->config, c->agent);
    auto it = snap->config->agents.find(agent);
    if (it == snap->config->agents.end()) {
      return HttpResponse::error(404, "no agent named '" + agent + "'");
    }
    auto states = daemon.agentStates();
    if (states.count(agent) && states[agent] == AgentState::kPaused) {
      return HttpResponse::error(409, "agent " + agent + " is paused");
    }
    if (snap->llm == nullptr || !snap->llm->hasModel(it->second.model)) {
      return HttpResponse::error(409, "agent " + agent + " has no usable model");
    }
    c->agent = agent;
    return std::nullopt;
  }

  std::optional<HttpResponse> chatPrecheck(HttpRequest& req) {
    ChatRequest c;
    return parseChat(req, &c);
  }

  // Runs one chat turn; deltas (if wanted) and the final reply go to the callbacks.
  void chatTurn(const ChatRequest& c, std::function<void(const std::string&)> on_delta,
                std::function<void(Result<std::string>, std::string session_id)> done) {
    std::string session = c.session_id;
    std::vector<llm::Message> history = sessions.open(&session);
    auto snap = daemon.snapshot();
    const config::AgentConfig& agent = snap->config->agents.at(c.agent);
    if (c.use_tools) {
      agent::TaskSpec spec;
      spec.task = c.message;
      spec.agent = c.agent;
      spec.history = history;
      auto task = daemon.submit(std::move(spec));
      if (!task.ok()) {
        done(task.status(), session);
        return;
      }
      auto t = *task;
      auto fired = std::make_shared<std::atomic<bool>>(false);
      auto token = std::make_shared<std::atomic<uint64_t>>(0);
      std::weak_ptr<agent::Task> weak = t;  // the subscriber lives in the task: no cycle
      token->store(t->subscribe(0, [this, weak, c, on_delta, done, fired, session,
                                    token](const agent::Event& e) {
        if (e.type == agent::EventType::kModelDelta && on_delta) {
          json::LocalDocument d;
          if (d.parse(e.data).isOk() && d->HasMember("text")) on_delta((*d)["text"].GetString());
        }
        if (e.type != agent::EventType::kEnd || fired->exchange(true)) return;
        auto t = weak.lock();
        if (t == nullptr) return;
        // The task is final once its end event is out; read the outcome after it settles.
        asio::post(io, [this, t, c, done, session, token] {
          t->unsubscribe(token->load());
          if (t->state() == TaskState::kCompleted) {
            sessions.append(session, llm::Message::user(c.message),
                            llm::Message::assistant(t->finalResult()));
            done(t->finalResult(), session);
          } else {
            done(Status::internal(t->error().empty() ? "the task did not complete" : t->error()),
                 session);
          }
        });
      }));
      return;
    }
    llm::ChatRequest req;
    std::string system =
        agent.system_prompt.empty() ? "You are a helpful assistant." : agent.system_prompt;
    req.messages.push_back(llm::Message::system(system));
    req.messages.insert(req.messages.end(), history.begin(), history.end());
    req.messages.push_back(llm::Message::user(c.message));
    llm::CallOptions opts;
    if (on_delta) {
      opts.on_delta = [on_delta](const llm::StreamDelta& d) {
        if (d.kind == llm::StreamDelta::Kind::kText) on_delta(d.text);
      };
    }
    auto llm = snap->llm;
    llm->chatAsync(agent.model, std::move(req), std::move(opts),
                   [this, llm, c, done, session](Result<llm::ChatResponse> r) {
                     // Off the model client's thread before anything else happens.
                     asio::post(io, [this, llm, c, done, session, r = std::move(r)]() mutable {
                       if (!r.ok()) {
                         done(r.status(), session);
                         return;
                       }
                       sessions.append(session, llm::Message::user(c.message),
                                       llm::Message::assistant(r->content));
                       done(r->content, session);
                     });
                   });
  }

  void chat(const HttpRequest& req, Respond respond) {
    ChatRequest c;
    if (auto err = parseChat(req, &c)) {
      respond(*err);
      return;
    }
    chatTurn(c, nullptr, [respond](Result<std::string> reply, std::string session) {
      if (!reply.ok()) {
        respond(
            HttpResponse::error(statusFor(reply.status()) == 500 ? 502 : statusFor(reply.status()),
                                reply.status().message()));
        return;
      }
      respond(HttpResponse::json(200, "{\"status\":\"ok\",\"reply\":" + json::quote(*reply) +
                                          ",\"session_id\":" + json::quote(session) + "}"));
    });
  }

  void chatStream(HttpRequest& req, const std::shared_ptr<SseStream>& sse) {
    ChatRequest c;
    if (parseChat(req, &c)) {
      sse->close();
      return;
    }
    apiMetrics().sse.Increment();
    sse->onClose([] { apiMetrics().sse.Decrement(); });
    auto seq = std::make_shared<std::atomic<uint64_t>>(0);
    chatTurn(
        c,
        [sse, seq](const std::string& text) {
          sse->send("delta", "{\"text\":" + json::quote(text) + "}", ++*seq);
        },
        [sse, seq](Result<std::string> reply, std::string session) {
          if (reply.ok()) {
            sse->send("done",
                      "{\"reply\":" + json::quote(*reply) +
                          ",\"session_id\":" + json::quote(session) + "}",
                      ++*seq);
          } else {
            sse->send("error", "{\"error\":" + json::quote(reply.status().message()) + "}", ++*seq);
          }
          sse->send("end", "{}", ++*seq);
          sse->close();
        });
  }
};

Api::Api(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Api::~Api() = default;

Result<std::unique_ptr<Api>> Api::create(asio::io_context& io, Daemon& daemon) {
  auto impl = std::make_unique<Impl>(io, daemon);
  const config::ServerConfig& s = daemon.snapshot()->config->server;
  HttpServer::Limits limits;
  limits.max_body_bytes = static_cast<size_t>(s.max_body_bytes);
  limits.max_header_bytes = static_cast<size_t>(s.max_header_bytes);
  limits.request_timeout = std::chrono::seconds(s.request_timeout_seconds);
  impl->http = std::make_unique<HttpServer>(io, limits);
  auto auth = Authenticator::create(s.auth);
  if (!auth.ok()) return auth.status().withContext("server.auth");
  impl->auth = std::move(*auth);
  impl->limiter =
      std::make_unique<RateLimiter>(s.rate_limit.requests_per_second, s.rate_limit.burst);
  impl->cors_origins = s.cors_origins;
  apiMetrics();
  impl->install();
  Impl* raw = impl.get();  // the Api outlives the daemon's task manager use in serve
  daemon.tasks().addFinishListener([raw](const agent::Task& t) {
    apiMetrics().tasks_total.Add({{"result", agent::taskStateName(t.state())}}).Increment();
    raw->refreshTaskGauges();
  });
  return std::unique_ptr<Api>(new Api(std::move(impl)));
}

Status Api::listen(const std::string& address) { return impl_->http->listen(address); }
std::string Api::address() const { return impl_->http->address(); }
void Api::stopAccepting() { impl_->http->stopAccepting(); }
void Api::closeAll() { impl_->http->closeAll(); }

}  // namespace agentd::server
