#include "support/http_get.h"

#include <curl/curl.h>

namespace agentd::testing {

namespace {
size_t append(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}
}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  std::string lower_headers = headers, lower_name = name + ":";
  for (char& c : lower_headers) c = static_cast<char>(std::tolower(c));
  for (char& c : lower_name) c = static_cast<char>(std::tolower(c));
  size_t at = lower_headers.find("\n" + lower_name);
  if (at == std::string::npos) return "";
  size_t start = at + 1 + lower_name.size();
  size_t end = headers.find('\r', start);
  std::string v = headers.substr(start, end == std::string::npos ? std::string::npos : end - start);
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  return v;
}

HttpResponse httpGet(const std::string& url, long timeout_ms) {
  return httpRequest("GET", url, "", {}, timeout_ms);
}

HttpResponse httpRequest(const std::string& method, const std::string& url, const std::string& body,
                         const std::vector<std::string>& headers, long timeout_ms) {
  HttpResponse r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &append);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  if (list != nullptr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  curl_easy_cleanup(c);
  if (list != nullptr) curl_slist_free_all(list);
  return r;
}

}  // namespace agentd::testing
