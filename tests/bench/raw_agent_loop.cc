// The floor for the agent loop: the exact request bodies an agent sent to the fake model server
// in one run, posted again in order by a bare libcurl easy loop that does nothing else.
// Usage: raw_agent_loop [--gap-us N] URL BODIES_JSON RUNS [HEADER...]. BODIES_JSON holds a JSON
// array of request bodies (strings). Prints JSON with the median wall time of one whole
// conversation on a reused connection (median_ms) and on a connection of its own
// (fresh_median_ms), and each conversation's time in the order run (reused_ms, then fresh_ms).
// --gap-us N spins N microseconds between a response and the next request, standing in for an
// agent's own work there, to show what such a gap costs beyond itself.
// --cold runs one conversation on a new connection as the process's first work and prints its
// time (cold_ms): the floor for a process started for one task, cold as that process is.
#include <curl/curl.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

int main(int argc, char** argv) {
  long gap_us = 0;
  bool cold = false;
  for (;;) {
    if (argc >= 3 && std::strcmp(argv[1], "--gap-us") == 0) {
      gap_us = std::atol(argv[2]);
      argc -= 2;
      argv += 2;
    } else if (argc >= 2 && std::strcmp(argv[1], "--cold") == 0) {
      cold = true;
      argc -= 1;
      argv += 1;
    } else {
      break;
    }
  }
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: raw_agent_loop [--gap-us N] [--cold] URL BODIES_JSON RUNS [HEADER...]\n");
    return 2;
  }
  std::string url = argv[1];
  std::ifstream in(argv[2]);
  std::stringstream ss;
  ss << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(ss.str().c_str());
  if (doc.HasParseError() || !doc.IsArray()) {
    std::fprintf(stderr, "%s: not a JSON array of bodies\n", argv[2]);
    return 2;
  }
  std::vector<std::string> bodies;
  for (const auto& b : doc.GetArray()) bodies.emplace_back(b.GetString(), b.GetStringLength());
  int runs = std::atoi(argv[3]);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  for (int i = 4; i < argc; ++i) headers = curl_slist_append(headers, argv[i]);
  auto handle = [&] {
    CURL* c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &discard);
    return c;
  };
  auto conversation = [&](CURL* c) {
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < bodies.size(); ++i) {
      const std::string& body = bodies[i];
      if (i > 0 && gap_us > 0) {
        auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(gap_us);
        while (std::chrono::steady_clock::now() < until) {
        }
      }
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      if (curl_easy_perform(c) != CURLE_OK) return -1.0;
    }
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  if (cold) {
    CURL* c = handle();
    double ms = conversation(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    if (ms < 0) return 1;
    std::printf("{\"requests\":%zu,\"cold_ms\":%.3f}\n", bodies.size(), ms);
    return 0;
  }
  // Reused: every conversation on one warm connection (a long-lived process). Fresh: each
  // conversation opens its connection, as a process started for one task must.
  std::vector<double> reused, fresh;
  CURL* warm = handle();
  for (int run = 0; run < runs; ++run) reused.push_back(conversation(warm));
  curl_easy_cleanup(warm);
  for (int run = 0; run < runs; ++run) {
    CURL* c = handle();
    fresh.push_back(conversation(c));
    curl_easy_cleanup(c);
  }
  curl_slist_free_all(headers);
  for (double w : reused) {
    if (w < 0) return 1;
  }
  for (double w : fresh) {
    if (w < 0) return 1;
  }
  auto list = [](const std::vector<double>& v) {
    std::string s;
    for (double w : v) s += (s.empty() ? "" : ",") + std::to_string(w);
    return "[" + s + "]";
  };
  // In the order run (the server's records of a key follow it), then sorted for the medians.
  std::string reused_ms = list(reused), fresh_ms = list(fresh);
  std::sort(reused.begin(), reused.end());
  std::sort(fresh.begin(), fresh.end());
  std::printf(
      "{\"runs\":%d,\"requests\":%zu,\"median_ms\":%.3f,\"min_ms\":%.3f,"
      "\"fresh_median_ms\":%.3f,\"reused_ms\":%s,\"fresh_ms\":%s}\n",
      runs, bodies.size(), reused[reused.size() / 2], reused.front(), fresh[fresh.size() / 2],
      reused_ms.c_str(), fresh_ms.c_str());
  return 0;
}
