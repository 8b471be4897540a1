// Test support: a blocking HTTP request with libcurl (bounded by a timeout).
#pragma once

#include <string>
#include <vector>

namespace agentd::testing {

struct HttpResponse {
  long code = 0;  // 0 when the request failed
  std::string body;
  std::string error;
  std::string headers;  // raw response header block (lower-case search with header())
  // The value of a response header (case-insensitive name), or "".
  std::string header(const std::string& name) const;
};

HttpResponse httpGet(const std::string& url, long timeout_ms = 5000);
// Any method; headers as "Name: value" lines.
HttpResponse httpRequest(const std::string& method, const std::string& url,
                         const std::string& body = "", const std::vector<std::string>& headers = {},
                         long timeout_ms = 10000);

}  // namespace agentd::testing
