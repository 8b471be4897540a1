// Test support: a blocking HTTP request with libcurl (bounded by a timeout).
#pragma once

#include <string>

namespace agentd::testing {

struct HttpResponse {
  long code = 0;  // 0 when the request failed
  std::string body;
  std::string error;
};

HttpResponse httpGet(const std::string& url, long timeout_ms = 5000);

}  // namespace agentd::testing
