#include "config/watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "observability/log.h"

namespace agentd::config {

struct DirectoryWatcher::Impl {
  int inotify_fd = -1;
  int stop_fd = -1;
  int wake_fd = -1;  // setDirectories() wakes the thread to apply the new set
  Callback on_change;
  std::mutex mu;
  std::set<std::string> wanted;        // guarded by mu
  bool wanted_changed = false;         // guarded by mu
  std::map<int, std::string> watches;  // watch descriptor -> directory; watcher thread only
  std::set<std::string> missing;       // wanted but not watched; watcher thread only
  std::thread thread;

  static constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                    IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                    IN_ONLYDIR;

  bool addWatch(const std::string& dir) {
    int wd = inotify_add_watch(inotify_fd, dir.c_str(), kMask);
    if (wd < 0) return false;
    watches[wd] = dir;
    return true;
  }

  void syncWanted() {
    std::set<std::string> want;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!wanted_changed) return;
      wanted_changed = false;
      want = wanted;
    }
    for (auto it = watches.begin(); it != watches.end();) {
      if (!want.count(it->second)) {
        inotify_rm_watch(inotify_fd, it->first);
        it = watches.erase(it);
      } else {
        ++it;
      }
    }
    missing.clear();
    for (const auto& d : want) {
      bool watched = false;
      for (const auto& [wd, dir] : watches) watched |= dir == d;
      if (!watched && !addWatch(d)) missing.insert(d);
    }
  }

  void retryMissing() {
    for (auto it = missing.begin(); it != missing.end();) {
      if (addWatch(*it)) {
        log::info("config directory is back; watching it again", {{"directory", *it}});
        std::string dir = *it;
        it = missing.erase(it);
        on_change("directory reappeared: " + dir);
      } else {
        ++it;
      }
    }
  }

  void run() {
    alignas(inotify_event) char buf[16384];
    for (;;) {
      syncWanted();
      pollfd fds[3] = {{inotify_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      // While a directory is missing, look for it again every 100 ms.
      int rc = poll(fds, 3, missing.empty() ? -1 : 100);
      if (rc < 0 && errno != EINTR) {
        log::error("config watcher poll failed", {{"error", std::strerror(errno)}});
        return;
      }
      if (fds[1].revents & POLLIN) return;
      if (fds[2].revents & POLLIN) {
        uint64_t v;
        (void)!read(wake_fd, &v, sizeof v);
      }
      if (!missing.empty()) retryMissing();
      if (!(fds[0].revents & POLLIN)) continue;
      ssize_t n = read(inotify_fd, buf, sizeof buf);
      if (n <= 0) continue;
      std::string what;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
          what = "event queue overflow";
          continue;
        }
        auto it = watches.find(ev->wd);
        if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
          if (it != watches.end()) {
            log::warn("config directory went away; waiting for it", {{"directory", it->second}});
            missing.insert(it->second);
            if (ev->mask & IN_IGNORED) {
              watches.erase(it);
            } else {
              inotify_rm_watch(inotify_fd, ev->wd);
            }
          }
          what = "directory removed";
          continue;
        }
        if (what.empty()) {
          what = (ev->len > 0 ? std::string(ev->name) : std::string("directory")) + " changed";
        }
      }
      if (!what.empty()) on_change(what);
    }
  }
};

DirectoryWatcher::DirectoryWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<DirectoryWatcher>> DirectoryWatcher::start(std::vector<std::string> dirs,
                                                                  Callback on_change) {
  auto impl = std::make_unique<Impl>();
  impl->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (impl->inotify_fd < 0) {
    return Status::unavailable(std::string("inotify_init1: ") + std::strerror(errno));
  }
  impl->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  impl->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->stop_fd < 0 || impl->wake_fd < 0) {
    close(impl->inotify_fd);
    if (impl->stop_fd >= 0) close(impl->stop_fd);
    if (impl->wake_fd >= 0) close(impl->wake_fd);
    return Status::unavailable(std::string("eventfd: ") + std::strerror(errno));
  }
  impl->on_change = std::move(on_change);
  impl->wanted.insert(dirs.begin(), dirs.end());
  impl->wanted_changed = true;
  impl->syncWanted();
  for (const auto& d : impl->missing) {
    log::warn("config directory missing; will watch it once it exists", {{"directory", d}});
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<DirectoryWatcher>(new DirectoryWatcher(std::move(impl)));
}

void DirectoryWatcher::setDirectories(std::vector<std::string> dirs) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    std::set<std::string> next(dirs.begin(), dirs.end());
    if (next == impl_->wanted) return;
    impl_->wanted = std::move(next);
    impl_->wanted_changed = true;
  }
  uint64_t one = 1;
  (void)!write(impl_->wake_fd, &one, sizeof one);
}

DirectoryWatcher::~DirectoryWatcher() {
  uint64_t one = 1;
  (void)!write(impl_->stop_fd, &one, sizeof one);
  if (impl_->thread.joinable()) impl_->thread.join();
  close(impl_->inotify_fd);
  close(impl_->stop_fd);
  close(impl_->wake_fd);
}

}  // namespace agentd::config
