// Helpers shared by the llm tests: metrics exposition, stderr capture, small builders.
#pragma once

#include <fcntl.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "llm/options.h"
#include "llm/types.h"
#include "observability/metrics.h"

namespace agentd::llm::testutil {

inline std::string exposition() {
  prometheus::TextSerializer ser;
  return ser.Serialize(agentd::metrics::registry().Collect());
}

// The value of one series in the exposition (0 when absent).
inline double sampleValue(const std::string& text, const std::string& series) {
  size_t at = text.find(series + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size() + 1));
}

inline double metric(const std::string& series) { return sampleValue(exposition(), series); }

// Redirects fd 2 into a file while alive; text() returns what was written.
class StderrCapture {
 public:
  explicit StderrCapture(const std::string& path) : path_(path) {
    std::fflush(stderr);
    saved_ = dup(2);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
  }
  ~StderrCapture() { restore(); }
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    saved_ = -1;
  }
  std::string text() {
    std::fflush(stderr);
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

inline ChatRequest userRequest(const std::string& text) {
  ChatRequest r;
  r.messages.push_back(Message::user(text));
  return r;
}

inline ToolDefinition weatherTool() {
  return ToolDefinition{
      "get_weather", "Current weather for a city",
      R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"};
}

inline ToolDefinition timeTool() {
  return ToolDefinition{"get_time", "Current time in a city",
                        R"({"type":"object","properties":{"city":{"type":"string"}}})"};
}

}  // namespace agentd::llm::testutil
