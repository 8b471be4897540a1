#include "bash_session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

namespace agentd::bash {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr auto kReapTimeout = std::chrono::seconds(5);
constexpr size_t kWindowBytes = 256;  // longer than any sentinel line

void closeFd(int fd) {
  if (fd >= 0) ::close(fd);
}

// Reads /proc/<pid>/stat; returns false when the process is gone or the file is unreadable.
bool readStat(pid_t pid, char* state, pid_t* session) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // "pid (comm) state ppid pgrp session ..."; comm may hold spaces and parentheses.
  const char* close_paren = std::strrchr(buf, ')');
  if (close_paren == nullptr) return false;
  char st = 0;
  int ppid = 0, pgrp = 0, sid = 0;
  if (std::sscanf(close_paren + 1, " %c %d %d %d", &st, &ppid, &pgrp, &sid) != 4) return false;
  *state = st;
  *session = sid;
  return true;
}

int statusFromWait(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Parses "<digits><suffix>" at data[pos...]; returns 1 when complete, 0 when more bytes may
// complete it, -1 when it cannot be a sentinel.
int parseExitCode(const std::string& data, size_t pos, const std::string& suffix, int* code,
                  size_t* end) {
  size_t i = pos;
  long value = 0;
  while (i < data.size() && data[i] >= '0' && data[i] <= '9') {
    value = value * 10 + (data[i] - '0');
    if (value > 100000) return -1;
    ++i;
  }
  if (i == data.size()) return 0;
  if (i == pos) return -1;
  size_t have = std::min(suffix.size(), data.size() - i);
  if (data.compare(i, have, suffix, 0, have) != 0) return -1;
  if (have < suffix.size()) return 0;
  *code = static_cast<int>(value);
  *end = i + suffix.size();
  return 1;
}

}  // namespace

std::vector<pid_t> liveProcessesInSession(pid_t sid) {
  std::vector<pid_t> pids;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0) continue;
    char state = 0;
    pid_t session = 0;
    if (readStat(static_cast<pid_t>(pid), &state, &session) && session == sid && state != 'Z' &&
        state != 'X') {
      pids.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(dir);
  return pids;
}

void killProcessTree(pid_t pgid, pid_t sid) {
  if (pgid <= 1 || sid <= 1) return;
  for (int round = 0; round < 2; ++round) {
    ::kill(-pgid, SIGKILL);
    for (pid_t pid : liveProcessesInSession(sid)) ::kill(pid, SIGKILL);
  }
}

std::unique_ptr<BashSession> BashSession::start(const std::string& dir,
                                                const std::vector<std::string>& env,
                                                std::string* error) {
  // stdin is a socket so that writing to a dead bash fails with EPIPE instead of raising
  // SIGPIPE in the host (send with MSG_NOSIGNAL); stdout and stderr share one pipe.
  int in_pair[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) {
    *error = std::string("socketpair: ") + std::strerror(errno);
    return nullptr;
  }
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    closeFd(in_pair[0]);
    closeFd(in_pair[1]);
    return nullptr;
  }

  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  char arg0[] = "bash";
  char arg1[] = "--noprofile";
  char arg2[] = "--norc";
  char* argv[] = {arg0, arg1, arg2, nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, in_pair[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDERR_FILENO);
  if (!dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // nothing of the host leaks in
  sigset_t mask, defaults;
  sigemptyset(&mask);
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/bash", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  closeFd(in_pair[1]);
  closeFd(out_pipe[1]);
  if (rc != 0) {
    *error = std::string(dir.empty() ? "cannot start /bin/bash: "
                                     : "cannot start /bin/bash in " + dir + ": ") +
             std::strerror(rc);
    closeFd(in_pair[0]);
    closeFd(out_pipe[0]);
    return nullptr;
  }
  ::fcntl(in_pair[0], F_SETFL, ::fcntl(in_pair[0], F_GETFL) | O_NONBLOCK);
  ::fcntl(out_pipe[0], F_SETFL, ::fcntl(out_pipe[0], F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<BashSession>(new BashSession(pid, in_pair[0], out_pipe[0]));
}

BashSession::~BashSession() {
  terminated_.store(true);
  killAndReap();
  closeFd(in_fd_);
  closeFd(out_fd_);
}

void BashSession::terminate() {
  terminated_.store(true);
  std::lock_guard<std::mutex> lock(kill_mu_);
  if (!reaped_) killProcessTree(pid_, pid_);
}

bool BashSession::hasExited(int* status) {
  {
    std::lock_guard<std::mutex> lock(kill_mu_);
    if (reaped_) {
      *status = exit_status_;
      return true;
    }
  }
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  // WNOWAIT: bash stays a zombie, so its pid (our process group id) cannot be reused before
  // killAndReap() has killed what is left of the group.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == ECHILD) {  // reaped behind our back (SIGCHLD ignored by the host)
      *status = -1;
      return true;
    }
    return false;
  }
  if (info.si_pid != pid_) return false;
  *status = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  return true;
}

void BashSession::killAndReap() {
  std::lock_guard<std::mutex> lock(kill_mu_);
  if (reaped_) return;
  killProcessTree(pid_, pid_);
  auto give_up = Clock::now() + kReapTimeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = statusFromWait(status);
      break;
    }
    if (r < 0 && errno != EINTR) {  // ECHILD: already reaped elsewhere
      exit_status_ = -1;
      break;
    }
    // Still running after SIGKILL (uninterruptible sleep): the pid stays ours, try later.
    if (Clock::now() >= give_up) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  reaped_ = true;
}

bool BashSession::writeAll(std::string_view data, Clock::time_point deadline,
                           const std::function<bool()>& should_stop, RunOutcome* why) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(in_fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      *why = RunOutcome::kExited;  // EPIPE / ECONNRESET: bash is gone
      return false;
    }
    if (terminated_.load()) {
      *why = RunOutcome::kKilled;
      return false;
    }
    if (should_stop()) {
      *why = RunOutcome::kCancelled;
      return false;
    }
    if (Clock::now() >= deadline) {
      *why = RunOutcome::kTimedOut;
      return false;
    }
    pollfd p{in_fd_, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(kPollInterval.count()));
  }
  return true;
}

RunResult BashSession::run(std::string_view command, Clock::time_point deadline,
                           const std::function<bool()>& should_stop) {
  RunResult result;
  char nonce[17];
  std::snprintf(nonce, sizeof nonce, "%016llx", static_cast<unsigned long long>(rng_()));
  const std::string delimiter = std::string("AGENTD_EOF_") + nonce;
  const std::string prefix = std::string(",,,,bash-command-exit-") + nonce + "-";
  const std::string suffix = "-banner,,,,";

  // The command travels as a quoted here-document into a variable and runs through eval in
  // this shell, so `cd` and `export` persist and a syntax error or unbalanced quote cannot
  // swallow the sentinel. Its stdin is /dev/null: a command reading stdin cannot eat the
  // protocol. printf (not echo) keeps `set -x` traces from looking like the sentinel.
  std::string script;
  script.reserve(command.size() + 256);
  script += "IFS= read -r -d '' __agentd_cmd <<'" + delimiter + "' || true\n";
  script += command;
  script += "\n" + delimiter + "\n";
  script += "eval \"$__agentd_cmd\" < /dev/null\n";
  script +=
      std::string("printf ',,,,bash-command-exit-%s-%s-banner,,,,\\n' ") + nonce + " \"$?\"\n";

  auto finish = [&](RunOutcome outcome) {
    result.outcome = outcome;
    if (outcome == RunOutcome::kTimedOut || outcome == RunOutcome::kCancelled ||
        outcome == RunOutcome::kKilled) {
      killAndReap();
    }
    return result;
  };

  std::string window;  // the stream's last bytes, searched for the sentinel
  uint64_t total = 0;  // bytes read so far
  bool eof = false;
  char buf[64 * 1024];
  auto feed = [&](const char* p, size_t n) {
    if (result.output.size() < kKeepBytes) {
      result.output.append(p, std::min(n, kKeepBytes - result.output.size()));
    }
    window.append(p, n);
    total += n;
  };
  // Returns true once the sentinel is complete; trims the window otherwise.
  auto sentinelSeen = [&]() {
    size_t pos = window.find(prefix);
    while (pos != std::string::npos) {
      int code = 0;
      size_t end = 0;
      int r = parseExitCode(window, pos + prefix.size(), suffix, &code, &end);
      if (r == 1) {
        // printf's newline normally arrives in the same read; if not, the next run drops it.
        skip_newline_ = end >= window.size();
        uint64_t at = total - window.size() + pos;
        if (at < result.output.size()) result.output.resize(at);
        result.truncated = at > result.output.size();
        if (!result.truncated && !result.output.empty() && result.output.back() == '\n') {
          result.output.pop_back();
        }
        result.exit_code = code;
        return true;
      }
      if (r == 0) {  // incomplete: keep it for the next read
        window.erase(0, pos);
        return false;
      }
      pos = window.find(prefix, pos + 1);
    }
    if (window.size() > kWindowBytes) window.erase(0, window.size() - kWindowBytes);
    return false;
  };
  // Reads what is left (bounded: a background job may keep writing after bash is gone);
  // returns true when the sentinel turns up.
  auto drain = [&]() {
    for (int i = 0; i < 16; ++i) {
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) return false;
      feed(buf, static_cast<size_t>(n));
      if (sentinelSeen()) return true;
    }
    return false;
  };

  // Output that arrived between commands (background jobs) opens this command's output.
  while (total < kKeepBytes) {
    ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    size_t skip = skip_newline_ && buf[0] == '\n' ? 1 : 0;
    skip_newline_ = false;
    feed(buf + skip, static_cast<size_t>(n) - skip);
  }
  skip_newline_ = false;
  if (window.size() > kWindowBytes) window.erase(0, window.size() - kWindowBytes);

  RunOutcome why = RunOutcome::kDone;
  if (!writeAll(script, deadline, should_stop, &why)) {
    if (why == RunOutcome::kExited && terminated_.load()) why = RunOutcome::kKilled;
    if (why == RunOutcome::kExited) {
      int status = 0;
      auto until = Clock::now() + std::chrono::seconds(1);
      while (!hasExited(&status) && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      killAndReap();
      result.exit_code = status;
    }
    return finish(why);
  }

  for (;;) {
    if (terminated_.load()) return finish(RunOutcome::kKilled);
    if (should_stop()) return finish(RunOutcome::kCancelled);
    auto now = Clock::now();
    if (now >= deadline) return finish(RunOutcome::kTimedOut);
    auto wait = std::min<Clock::duration>(kPollInterval, deadline - now);
    int wait_ms = std::max<int>(
        1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    int ready = 0;
    if (!eof) {
      pollfd p{out_fd_, POLLIN, 0};
      ready = ::poll(&p, 1, wait_ms);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
    if (ready > 0) {
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n > 0) {
        feed(buf, static_cast<size_t>(n));
        if (sentinelSeen()) return finish(RunOutcome::kDone);
        continue;
      }
      if (n == 0) eof = true;  // every writer closed: bash is (about to be) gone
      if (n < 0 && errno != EAGAIN && errno != EINTR) eof = true;
    }
    int status = 0;
    if (hasExited(&status)) {
      if (terminated_.load()) return finish(RunOutcome::kKilled);  // killed by terminate()
      if (drain()) return finish(RunOutcome::kDone);
      killAndReap();
      result.truncated = total > result.output.size();
      result.exit_code = status;
      return finish(RunOutcome::kExited);
    }
  }
}

}  // namespace agentd::bash
