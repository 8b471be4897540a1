#include "stdio_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace agentd::mcp {

namespace {

constexpr size_t kMaxStderrLine = 8192;
constexpr size_t kMaxMessage = 64u << 20;  // a line longer than this is dropped

std::string errnoText(int err) { return std::strerror(err); }

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Writes all of data to fd with SIGPIPE blocked for this thread, so a dead reader yields EPIPE
// instead of killing the process.
bool writeAll(int fd, const char* data, size_t len, int* err) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  bool ok = true;
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      ok = false;
      break;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  if (!ok && *err == EPIPE && !was_pending) {
    timespec zero{0, 0};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

}  // namespace

StdioTransport::StdioTransport(StdioOptions options) : options_(std::move(options)) {}

StdioTransport::~StdioTransport() { close(); }

Status StdioTransport::start(Callbacks callbacks) {
  if (started_) return Status::internal("stdio transport started twice");
  started_ = true;
  callbacks_ = std::move(callbacks);
  if (options_.command.empty()) return Status::invalidArgument("stdio server has no command");

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return Status::unavailable("pipe: " + errnoText(e));
  }

  // Environment: inherited, then the configured entries.
  std::map<std::string, std::string> env_map;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string::npos) env_map[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : options_.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  env_strings.reserve(env_map.size());
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings;
  argv_strings.push_back(options_.command);
  for (const auto& a : options_.args) argv_strings.push_back(a);
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (!options_.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, options_.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, options_.command.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    return Status::unavailable("cannot start " + options_.command + ": " + errnoText(rc));
  }
  pid_ = pid;
  in_fd_ = in[1];
  out_fd_ = out[0];
  err_fd_ = err[0];
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  io_ = std::thread([this] { ioLoop(); });
  return Status::ok();
}

Status StdioTransport::send(std::string message, const std::string& /*request_id*/) {
  message.push_back('\n');
  std::lock_guard<std::mutex> lock(write_mu_);
  if (in_fd_ < 0) return Status::unavailable("server stdin is closed");
  int err = 0;
  if (!writeAll(in_fd_, message.data(), message.size(), &err)) {
    if (err == EPIPE) {  // the server is gone: say how it ended
      auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      while (!tryReap() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      std::lock_guard<std::mutex> reap_lock(reap_mu_);
      if (reaped_) return Status::unavailable("server process " + exitText());
    }
    return Status::unavailable("write to server stdin: " + errnoText(err));
  }
  return Status::ok();
}

bool StdioTransport::tryReap() {
  std::lock_guard<std::mutex> lock(reap_mu_);
  if (reaped_) return true;
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    reaped_ = true;
    wait_status_ = r == pid_ ? status : 0;
  }
  return reaped_;
}

std::string StdioTransport::exitText() const {
  if (WIFEXITED(wait_status_))
    return "exited with code " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_))
    return "killed by signal " + std::to_string(WTERMSIG(wait_status_));
  return "exited";
}

void StdioTransport::ioLoop() {
  std::string out_buf, err_buf;
  bool out_open = true, err_open = true;
  char buf[65536];
  auto flushStderr = [&](bool all) {
    size_t pos;
    while ((pos = err_buf.find('\n')) != std::string::npos || (all && !err_buf.empty()) ||
           err_buf.size() > kMaxStderrLine) {
      size_t n = pos == std::string::npos ? std::min(err_buf.size(), kMaxStderrLine) : pos;
      std::string line = err_buf.substr(0, n);
      err_buf.erase(0, pos == std::string::npos ? n : n + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty() && callbacks_.log) callbacks_.log(LogLevel::kInfo, "stderr: " + line);
    }
  };
  auto stderr_deadline = std::chrono::steady_clock::time_point::max();
  for (;;) {
    pollfd fds[3] = {{wake_fd_, POLLIN, 0},
                     {out_open ? out_fd_ : -1, POLLIN, 0},
                     {err_open ? err_fd_ : -1, POLLIN, 0}};
    int timeout = -1;
    if (!out_open) {  // stdout closed: drain stderr a little longer, then report the exit
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      stderr_deadline - std::chrono::steady_clock::now())
                      .count();
      timeout = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left, 50)));
    }
    int n = poll(fds, 3, timeout);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) {  // close() woke us: keep what stderr still holds
      for (int i = 0; err_open && i < 64; ++i) {
        pollfd e{err_fd_, POLLIN, 0};
        if (poll(&e, 1, 0) <= 0 || (e.revents & (POLLIN | POLLHUP)) == 0) break;
        ssize_t r = ::read(err_fd_, buf, sizeof buf);
        if (r <= 0) break;
        err_buf.append(buf, static_cast<size_t>(r));
      }
      break;
    }
    if (out_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ssize_t r = ::read(out_fd_, buf, sizeof buf);
      if (r > 0) {
        size_t scan_from = out_buf.size();
        out_buf.append(buf, static_cast<size_t>(r));
        size_t start = 0, pos;
        while ((pos = out_buf.find('\n', scan_from)) != std::string::npos) {
          std::string_view line(out_buf.data() + start, pos - start);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          if (!line.empty() && callbacks_.on_message) callbacks_.on_message(line);
          start = pos + 1;
          scan_from = start;
        }
        out_buf.erase(0, start);
        if (out_buf.size() > kMaxMessage) {
          if (callbacks_.log) callbacks_.log(LogLevel::kError, "dropped an oversized message");
          out_buf.clear();
        }
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        out_open = false;
        stderr_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      }
    }
    if (err_open && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ssize_t r = ::read(err_fd_, buf, sizeof buf);
      if (r > 0) {
        err_buf.append(buf, static_cast<size_t>(r));
        flushStderr(false);
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        err_open = false;
      }
    }
    if (!out_open && (!err_open || std::chrono::steady_clock::now() >= stderr_deadline)) {
      flushStderr(true);
      if (closing_.load()) break;
      // The server closed stdout: it exited or is about to. Give it a moment to be reaped.
      auto reap_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
      while (!tryReap() && std::chrono::steady_clock::now() < reap_deadline && !closing_.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      std::string why = "server process ";
      {
        std::lock_guard<std::mutex> lock(reap_mu_);
        why += reaped_ ? exitText() : "closed its stdout";
      }
      if (!closing_.load() && callbacks_.on_closed) {
        callbacks_.on_closed(Status::unavailable(why));
      }
      break;
    }
  }
  flushStderr(true);
}

void StdioTransport::close() {
  if (!started_ || closed_) return;
  closed_ = true;
  closing_.store(true);
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    closeFd(in_fd_);
  }
  if (pid_ > 0) {
    auto waitExit = [&](std::chrono::milliseconds d) {
      auto deadline = std::chrono::steady_clock::now() + d;
      while (!tryReap()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return true;
    };
    if (!waitExit(options_.close_grace)) {
      kill(-pid_, SIGTERM);
      if (!waitExit(options_.close_grace)) {
        kill(-pid_, SIGKILL);
        waitExit(std::chrono::milliseconds(5000));
      }
    }
    // Children the server left behind in its process group.
    kill(-pid_, SIGKILL);
  }
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
    (void)ignored;
  }
  if (io_.joinable()) io_.join();
  closeFd(out_fd_);
  closeFd(err_fd_);
  closeFd(wake_fd_);
}

}  // namespace agentd::mcp
