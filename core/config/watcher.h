// DirectoryWatcher: reports any change inside a set of directories (inotify), on its own thread.
// It watches directories, never files, so editors' rename-saves and the Kubernetes `..data`
// symlink swap are seen. A directory that is deleted (or missing at start) is re-added once it
// exists again, and its return is reported as a change. Callbacks run on the watcher's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace agentd::config {

class DirectoryWatcher {
 public:
  using Callback = std::function<void(const std::string& what)>;
  static Result<std::unique_ptr<DirectoryWatcher>> start(std::vector<std::string> dirs,
                                                         Callback on_change);
  // Stops and joins the thread.
  ~DirectoryWatcher();
  // Replaces the watched set (e.g. when includes changed).
  void setDirectories(std::vector<std::string> dirs);

 private:
  struct Impl;
  explicit DirectoryWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentd::config
