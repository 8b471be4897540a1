// Test support: tests/support/fake_model_server.py as a child process bound to 127.0.0.1 on an
// ephemeral port, killed by PID (SIGKILL, reaped) when the object goes away. Header-only.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/http_get.h"
#include "support/subprocess.h"

#ifndef AGENTD_PYTHON3
#define AGENTD_PYTHON3 "/usr/bin/python3"
#endif

namespace agentd::testing {

class FakeModelServer {
 public:
  struct Attempts {
    int count = 0;
    std::vector<double> arrivals_ms;  // server's monotonic clock
    std::string last_body;            // JSON text of the last request body
    std::string last_headers;         // JSON object text, lower-case names
  };

  explicit FakeModelServer(int latency_ms = 0) {
    proc_ = std::make_unique<Subprocess>(std::vector<std::string>{
        AGENTD_PYTHON3, std::string(AGENTD_SOURCE_DIR) + "/tests/support/fake_model_server.py",
        "--port", "0", "--latency-ms", std::to_string(latency_ms), "--parent-pid",
        std::to_string(getpid())});
    std::string line = proc_->waitForStderr("listening on 127.0.0.1:", std::chrono::seconds(20));
    size_t colon = line.rfind(':');
    if (colon != std::string::npos) port_ = std::atoi(line.c_str() + colon + 1);
  }

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return proc_->pid(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string openAiBase() const { return url() + "/v1"; }
  std::string anthropicBase() const { return url(); }
  std::string stderrText() { return proc_->stderrText(); }

  Attempts attempts(const std::string& key) const {
    Attempts a;
    HttpResponse r = httpGet(url() + "/_control/attempts?key=" + key);
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.IsObject()) return a;
    a.count = d["attempts"].GetInt();
    for (const auto& v : d["arrivals_ms"].GetArray()) a.arrivals_ms.push_back(v.GetDouble());
    a.last_body = json(d["last_body"]);
    a.last_headers = json(d["last_headers"]);
    return a;
  }

  // {"requests", "connections", "open_connections"}
  int stat(const char* name) const {
    HttpResponse r = httpGet(url() + "/_control/stats");
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember(name)) return -1;
    return d[name].GetInt();
  }

 private:
  static std::string json(const rapidjson::Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    v.Accept(w);
    return std::string(buf.GetString(), buf.GetSize());
  }
  std::unique_ptr<Subprocess> proc_;
  int port_ = 0;
};

}  // namespace agentd::testing
