// N agent tasks started at once, timed to the last completion. Prints one JSON object.
//
//   task_burst agentd HOST:PORT N BODY_JSON PID
//     POSTs BODY_JSON to http://HOST:PORT/api/run N times at once (one connection each, libcurl
//     multi), waits until /api/health shows no task running or queued, then reads /api/tasks:
//     completion = the latest end (start_time + duration) of these tasks minus the moment the
//     first POST was started (both wall clock). While it waits it samples Threads and VmHWM of
//     process PID (agentd) from /proc every 2 ms.
//   task_burst raw URL N BODIES_JSON [HEADER...]
//     The reference: N "tasks" at once, each posting the request bodies of BODIES_JSON (a JSON
//     array of strings, e.g. one agentd task's bodies captured by the fake model server) one
//     after the other on its own connection, from one thread driving one libcurl multi handle.
//     Completion = the last task's last answer.
#include <curl/curl.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double wallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

long statusField(const std::string& path, const char* name) {
  std::ifstream in(path);
  std::string line;
  size_t n = std::strlen(name);
  while (std::getline(in, line)) {
    if (line.compare(0, n, name) == 0 && line[n] == ':') return std::atol(line.c_str() + n + 1);
  }
  return -1;
}

size_t collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

struct Sampler {
  std::string path;
  long peak_threads = 0;
  long hwm_kib = 0;
  Clock::time_point last{};
  void sample(bool force = false) {
    if (path.empty()) return;
    if (!force && Clock::now() - last < std::chrono::milliseconds(2)) return;
    last = Clock::now();
    peak_threads = std::max(peak_threads, statusField(path, "Threads"));
    hwm_kib = std::max(hwm_kib, statusField(path, "VmHWM"));
  }
};

std::string get(CURL* c, const std::string& url) {
  std::string body;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (curl_easy_perform(c) != CURLE_OK) return "";
  return body;
}

int agentdMode(const std::string& api, int n, const std::string& body, int pid) {
  Sampler s;
  s.path = "/proc/" + std::to_string(pid) + "/status";
  s.sample(true);
  long rss_before = statusField(s.path, "VmRSS");
  CURLM* multi = curl_multi_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  std::string url = "http://" + api + "/api/run";
  std::vector<CURL*> easy(n);
  std::vector<std::string> out(n);
  for (int i = 0; i < n; ++i) {
    easy[i] = curl_easy_init();
    curl_easy_setopt(easy[i], CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy[i], CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, &collect);
    curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &out[i]);
    curl_easy_setopt(easy[i], CURLOPT_NOPROXY, "*");
    curl_easy_setopt(easy[i], CURLOPT_PRIVATE, reinterpret_cast<void*>(static_cast<intptr_t>(i)));
    curl_multi_add_handle(multi, easy[i]);
  }
  double t0_wall = wallSeconds();
  auto t0 = Clock::now();
  int running = n, accepted = 0, rejected = 0;
  std::set<std::string> ids;
  while (running > 0) {
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      intptr_t i = 0;
      long code = 0;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&i));
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
      rapidjson::Document d;
      d.Parse(out[i].c_str());
      if (m->data.result == CURLE_OK && code == 202 && !d.HasParseError() &&
          d.HasMember("task_id")) {
        ++accepted;
        ids.insert(d["task_id"].GetString());
      } else {
        ++rejected;
      }
    }
    s.sample();
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 2, nullptr);
  }
  double submit_ms = msSince(t0);
  for (CURL* e : easy) {
    curl_multi_remove_handle(multi, e);
    curl_easy_cleanup(e);
  }
  curl_multi_cleanup(multi);
  // Wait for every task to end (bounded), sampling the process meanwhile.
  CURL* c = curl_easy_init();
  double observed_ms = -1;
  while (msSince(t0) < 300000) {
    std::string h = get(c, "http://" + api + "/api/health");
    rapidjson::Document d;
    d.Parse(h.c_str());
    if (!d.HasParseError() && d.IsObject() && d.HasMember("tasks") &&
        d["tasks"]["running"].GetInt() == 0 && d["tasks"]["queued"].GetInt() == 0) {
      observed_ms = msSince(t0);
      break;
    }
    for (int k = 0; k < 3; ++k) {
      s.sample(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  s.sample(true);
  std::string list = get(c, "http://" + api + "/api/tasks");
  curl_easy_cleanup(c);
  rapidjson::Document d;
  d.Parse(list.c_str());
  const rapidjson::Value* arr = nullptr;
  if (!d.HasParseError() && d.IsArray()) arr = &d;
  if (!d.HasParseError() && d.IsObject() && d.HasMember("tasks")) arr = &d["tasks"];
  int completed = 0, other = 0;
  double first_start = 1e300, last_end = 0;
  if (arr != nullptr) {
    for (const auto& t : arr->GetArray()) {
      if (!ids.count(t["id"].GetString())) continue;
      if (std::string(t["state"].GetString()) == "completed") {
        ++completed;
      } else {
        ++other;
      }
      if (t["start_time"].IsNumber()) {
        double start = t["start_time"].GetDouble();
        first_start = std::min(first_start, start);
        last_end = std::max(last_end, start + t["duration"].GetDouble());
      }
    }
  }
  std::printf(
      "{\"mode\":\"agentd\",\"tasks\":%d,\"accepted\":%d,\"rejected\":%d,\"completed\":%d,"
      "\"not_completed\":%d,\"submit_ms\":%.1f,\"first_start_ms\":%.1f,\"completion_ms\":%.1f,"
      "\"observed_done_ms\":%.1f,\"peak_threads\":%ld,\"vmhwm_kib\":%ld,\"rss_before_kib\":%ld}\n",
      n, accepted, rejected, completed, other, submit_ms, (first_start - t0_wall) * 1000,
      (last_end - t0_wall) * 1000, observed_ms, s.peak_threads, s.hwm_kib, rss_before);
  curl_slist_free_all(headers);
  return completed == n ? 0 : 1;
}

int rawMode(const std::string& url, int n, const std::string& bodies_path,
            const std::vector<std::string>& extra) {
  std::ifstream in(bodies_path);
  std::stringstream ss;
  ss << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(ss.str().c_str());
  if (doc.HasParseError() || !doc.IsArray() || doc.Empty()) {
    std::fprintf(stderr, "%s: not a JSON array of bodies\n", bodies_path.c_str());
    return 2;
  }
  std::vector<std::string> bodies;
  for (const auto& b : doc.GetArray()) bodies.emplace_back(b.GetString(), b.GetStringLength());
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  for (const auto& h : extra) headers = curl_slist_append(headers, h.c_str());
  CURLM* multi = curl_multi_init();
  std::vector<CURL*> easy(n);
  std::vector<size_t> step(n, 0);
  auto post = [&](int i) {
    const std::string& b = bodies[step[i]];
    curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, b.c_str());
    curl_easy_setopt(easy[i], CURLOPT_POSTFIELDSIZE, static_cast<long>(b.size()));
    curl_multi_add_handle(multi, easy[i]);
  };
  for (int i = 0; i < n; ++i) {
    easy[i] = curl_easy_init();
    curl_easy_setopt(easy[i], CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, &discard);
    curl_easy_setopt(easy[i], CURLOPT_NOPROXY, "*");
    curl_easy_setopt(easy[i], CURLOPT_PRIVATE, reinterpret_cast<void*>(static_cast<intptr_t>(i)));
  }
  Sampler s;
  s.path = "/proc/self/status";
  long rss_before = statusField(s.path, "VmRSS");
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) post(i);
  int running = n, done = 0, errors = 0;
  while (done < n) {
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      intptr_t i = 0;
      long code = 0;
      CURL* e = m->easy_handle;
      CURLcode result = m->data.result;
      curl_easy_getinfo(e, CURLINFO_PRIVATE, reinterpret_cast<char**>(&i));
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      curl_multi_remove_handle(multi, e);
      if (result != CURLE_OK || code != 200) ++errors;
      if (++step[i] < bodies.size() && result == CURLE_OK) {
        post(static_cast<int>(i));
      } else {
        ++done;
      }
    }
    s.sample();
    if (done < n) curl_multi_poll(multi, nullptr, 0, 2, nullptr);
  }
  double completion_ms = msSince(t0);
  s.sample(true);
  std::printf(
      "{\"mode\":\"raw\",\"tasks\":%d,\"steps\":%zu,\"completion_ms\":%.1f,\"errors\":%d,"
      "\"peak_threads\":%ld,\"vmhwm_kib\":%ld,\"rss_before_kib\":%ld}\n",
      n, bodies.size(), completion_ms, errors, s.peak_threads, s.hwm_kib, rss_before);
  for (CURL* e : easy) curl_easy_cleanup(e);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (argc >= 6 && std::strcmp(argv[1], "agentd") == 0) {
    return agentdMode(argv[2], std::atoi(argv[3]), argv[4], std::atoi(argv[5]));
  }
  if (argc >= 5 && std::strcmp(argv[1], "raw") == 0) {
    return rawMode(argv[2], std::atoi(argv[3]), argv[4],
                   std::vector<std::string>(argv + 5, argv + argc));
  }
  std::fprintf(stderr,
               "usage: task_burst agentd HOST:PORT N BODY_JSON PID\n"
               "       task_burst raw URL N BODIES_JSON [HEADER...]\n");
  return 2;
}
