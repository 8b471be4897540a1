// Edit-to-applied latency of a configuration reload: the time from the rename() that publishes
// an edited agentd.toml to the moment the daemon has applied it (plugins prepared and committed,
// agents updated, snapshot swapped), over N edits with the default debounce. Prints JSON.
#include <unistd.h>
#include <boost/asio/io_context.hpp>
#include <utility>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "agent/daemon.h"
#include "observability/log.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int edits = argc > 1 ? std::atoi(argv[1]) : 200;
  agentd::log::setLevel(agentd::log::Level::kError);
  fs::path dir = fs::temp_directory_path() / ("agentd-reload-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "agentd.toml").string();
  auto text = [&](int steps) {
    return "[reload]\npoll_interval_seconds = 0\n[plugins]\n[plugins.good]\npath = \"" +
           std::string(AGENTD_FIXTURE_DIR) + "/good_cpp.so\"\n[agents.a]\ntools = [\"echo\"]\n" +
           "max_steps = " + std::to_string(steps) + "\n";
  };
  std::ofstream(path) << text(1);
  auto cfg = agentd::config::load(path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
    return 1;
  }
  int debounce = (*cfg)->reload.debounce_ms;
  boost::asio::io_context io;
  std::vector<double> ms;
  {
    agentd::Daemon daemon(*cfg, {}, io, (dir / "state").string());
    daemon.start();
    std::mutex mu;
    std::condition_variable cv;
    int applied = 0;
    daemon.reloader().setOutcomeListener([&](const agentd::config::ReloadOutcome& o) {
      if (o.result != agentd::config::ReloadResult::kSuccess) return;
      std::lock_guard<std::mutex> lock(mu);
      ++applied;
      cv.notify_all();
    });
    for (int i = 0; i < edits; ++i) {
      std::string tmp = path + ".tmp";
      std::ofstream(tmp) << text(i + 2);
      auto t0 = Clock::now();
      fs::rename(tmp, path);
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return applied == i + 1; })) {
        std::fprintf(stderr, "edit %d was not applied within 10 s\n", i);
        return 1;
      }
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    daemon.shutdown();
  }
  fs::remove_all(dir);
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, size_t(p * ms.size()))]; };
  std::printf(
      "{\"edits\":%d,\"debounce_ms\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
      "\"min_ms\":%.2f}\n",
      edits, debounce, pct(0.50), pct(0.99), ms.back(), ms.front());
  return 0;
}
