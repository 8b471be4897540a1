#include "observability/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cmath>
#include <cstdlib>

#include "common/json.h"

namespace agentd::log {
namespace {

Level initialLevel() {
  Level l = Level::kInfo;
  if (const char* env = std::getenv("LOG_LEVEL")) parseLevel(env, &l);
  return l;
}

std::atomic<Level>& currentLevel() {
  static std::atomic<Level> level{initialLevel()};
  return level;
}

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto lg = std::make_shared<spdlog::logger>("agentd", sink);
    lg->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ",%v)", spdlog::pattern_time_type::utc);
    lg->set_level(spdlog::level::trace);
    lg->flush_on(spdlog::level::trace);
    return lg;
  }();
  return *l;
}

const char* levelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      return "off";
  }
  return "info";
}

}  // namespace

Field::Field(std::string_view k, std::string_view v) : key(k), json(json::quote(v)) {}
Field::Field(std::string_view k, int64_t v) : key(k), json(std::to_string(v)) {}
Field::Field(std::string_view k, uint64_t v) : key(k), json(std::to_string(v)) {}
Field::Field(std::string_view k, double v) : key(k) {
  if (std::isfinite(v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    json = buf;
  } else {
    json = "null";
  }
}
Field::Field(std::string_view k, bool v) : key(k), json(v ? "true" : "false") {}

bool parseLevel(std::string_view s, Level* out) {
  if (s == "debug" || s == "trace")
    *out = Level::kDebug;
  else if (s == "info")
    *out = Level::kInfo;
  else if (s == "warn" || s == "warning")
    *out = Level::kWarn;
  else if (s == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

void setLevel(Level l) { currentLevel().store(l); }
Level level() { return currentLevel().load(); }
bool enabled(Level l) { return static_cast<int>(l) >= static_cast<int>(level()); }

void write(Level l, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(l)) return;
  std::string line;
  line.reserve(64 + msg.size());
  line += "\"level\":\"";
  line += levelName(l);
  line += "\",\"msg\":";
  line += json::quote(msg);
  for (const Field& f : fields) {
    line += ',';
    line += json::quote(f.key);
    line += ':';
    line += f.json;
  }
  line += '}';
  logger().log(spdlog::level::info, std::string_view(line));
}

}  // namespace agentd::log
