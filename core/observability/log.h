// Structured logging: one JSON object per line on stderr (spdlog sink).
// Thread-safe. Secrets must never be passed as fields.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace agentd::log {

enum class Level { kDebug = 1, kInfo = 2, kWarn = 3, kError = 4, kOff = 5 };

// One key/value pair of a log line; the value is kept as a JSON fragment.
struct Field {
  Field(std::string_view k, std::string_view v);
  Field(std::string_view k, const std::string& v) : Field(k, std::string_view(v)) {}
  Field(std::string_view k, const char* v) : Field(k, std::string_view(v)) {}
  Field(std::string_view k, int64_t v);
  Field(std::string_view k, int v) : Field(k, static_cast<int64_t>(v)) {}
  Field(std::string_view k, uint64_t v);
  Field(std::string_view k, double v);
  Field(std::string_view k, bool v);
  std::string_view key;
  std::string json;
};

// Returns the level named by s ("debug", "info", "warn"/"warning", "error"), or false.
bool parseLevel(std::string_view s, Level* out);
// Sets the minimum level. Default: LOG_LEVEL from the environment, else info.
void setLevel(Level level);
Level level();
bool enabled(Level level);
// Writes {"ts":...,"level":...,"msg":...,<fields>} to stderr.
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kError, m, f);
}

}  // namespace agentd::log
