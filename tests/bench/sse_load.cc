// Opens N Server-Sent Event streams to agentd at once and reports agentd's memory with them open.
// Usage: sse_load HOST PORT PATH N AGENTD_PID. Prints one JSON object. Every connection is
// closed (and the process exits) within the bounded wait.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

long rssKib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

int threads(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: sse_load HOST PORT PATH N AGENTD_PID\n");
    return 2;
  }
  const char* host = argv[1];
  int port = std::atoi(argv[2]);
  std::string path = argv[3];
  int n = std::atoi(argv[4]);
  int pid = std::atoi(argv[5]);
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);

  long before = rssKib(pid);
  std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: text/event-stream\r\n\r\n";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &addr.sin_addr);
  std::vector<int> fds;
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
      if (fd >= 0) close(fd);
      ++failed;
      continue;
    }
    fds.push_back(fd);
  }
  // Wait until every stream got its response head (bounded).
  int epfd = epoll_create1(0);
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  }
  size_t answered = 0;
  std::vector<char> seen(65536, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<epoll_event> events(1024);
  char buf[4096];
  while (answered < fds.size() && std::chrono::steady_clock::now() < deadline) {
    int k = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), 200);
    for (int i = 0; i < k; ++i) {
      int fd = events[i].data.fd;
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0 && fd < static_cast<int>(seen.size()) && !seen[fd] &&
          std::strncmp(buf, "HTTP/1.1 200", 12) == 0) {
        seen[fd] = 1;
        ++answered;
      }
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  long during = rssKib(pid);
  int agentd_threads = threads(pid);
  for (int fd : fds) close(fd);
  close(epfd);
  std::printf(
      "{\"streams\":%zu,\"answered\":%zu,\"failed\":%d,\"rss_before_kib\":%ld,"
      "\"rss_with_streams_kib\":%ld,\"per_stream_bytes\":%.0f,\"threads\":%d}\n",
      fds.size(), answered, failed, before, during,
      fds.empty() ? 0.0 : (during - before) * 1024.0 / static_cast<double>(fds.size()),
      agentd_threads);
  return answered == fds.size() && failed == 0 ? 0 : 1;
}
