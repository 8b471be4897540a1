#include "workspace_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <agentd/plugin.hpp>

#include <cstring>
#include <string>
#include <vector>

namespace agentd::filetools {
namespace {

using agentd::sdk::Error;

constexpr int kMaxSymlinks = 40;  // as the kernel's MAXSYMLINKS

bool within(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

// Pushes the components of `path` so that the first one is popped first.
void pushComponents(std::vector<std::string>& todo, std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > i) parts.emplace_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(std::move(*it));
}

std::string readLink(const std::string& path) {
  std::vector<char> buf(256);
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0)
      throw Error(AGENTD_ERR,
                  "Cannot read the symbolic link " + path + ": " + std::strerror(errno));
    if (static_cast<size_t>(n) < buf.size()) return std::string(buf.data(), n);
    buf.resize(buf.size() * 2);
  }
}

}  // namespace

Workspace workspaceFor(std::string_view working_dir, bool allow_any_path) {
  if (allow_any_path) return Workspace{"/", true};
  if (working_dir.empty()) {
    throw Error(AGENTD_EINVAL,
                "Access denied: this call has no working directory, so file paths cannot be "
                "checked (set allow_any_path = true in the plugin config to allow any path)");
  }
  std::string dir(working_dir);
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) {
    throw Error(AGENTD_EINVAL,
                "The working directory " + dir + " cannot be used: " + std::strerror(errno));
  }
  Workspace ws{real, false};
  ::free(real);
  struct stat st;
  if (::stat(ws.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(AGENTD_EINVAL, "The working directory " + dir + " is not a directory");
  }
  return ws;
}

ResolvedPath resolveInside(const Workspace& ws, std::string_view path) {
  const std::string shown(path);
  if (shown.find('\0') != std::string::npos) {
    throw Error(AGENTD_EINVAL, "The path must not contain NUL characters");
  }
  std::vector<std::string> todo;
  pushComponents(todo, path);
  std::string cur;  // resolved so far; "" is "/"
  int missing = 0;  // trailing components of cur that do not exist
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    if (c.empty() || c == ".") continue;
    if (c[0] == '\0') {
      // End of the target of a symlink that lies inside the workspace: "\0link\0target".
      size_t sep = c.find('\0', 1);
      std::string link = c.substr(1, sep - 1);
      std::string target = c.substr(sep + 1);
      if (!within(cur.empty() ? "/" : cur, ws.root)) {
        throw Error(AGENTD_EINVAL, "Access denied: " + shown + " goes through the symbolic link " +
                                       link + " -> " + target +
                                       ", which leads outside the working directory " + ws.root);
      }
      continue;
    }
    if (c == "..") {
      size_t slash = cur.rfind('/');
      cur.resize(slash == std::string::npos ? 0 : slash);
      if (missing > 0) --missing;
      continue;
    }
    std::string next = cur + "/" + c;
    if (missing > 0) {
      cur = std::move(next);
      ++missing;
      continue;
    }
    struct stat st;
    if (::lstat(next.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        cur = std::move(next);
        missing = 1;
        continue;
      }
      if (errno == ENOTDIR) {
        throw Error(AGENTD_EINVAL,
                    "The path " + shown + " is invalid: " + cur + " is not a directory");
      }
      throw Error(AGENTD_ERR, "Cannot access " + next + ": " + std::strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxSymlinks) {
        throw Error(AGENTD_EINVAL, "Too many levels of symbolic links in " + shown);
      }
      std::string target = readLink(next);
      if (within(next, ws.root) && !ws.any_path) {
        todo.push_back(std::string(1, '\0') + next + std::string(1, '\0') + target);
      }
      pushComponents(todo, target);
      if (!target.empty() && target[0] == '/') {
        cur.clear();
      }
      continue;
    }
    cur = std::move(next);
  }
  ResolvedPath out{cur.empty() ? "/" : cur, missing == 0};
  if (!within(out.real, ws.root)) {
    throw Error(AGENTD_EINVAL, "Access denied: " + shown + " resolves to " + out.real +
                                   ", outside the working directory " + ws.root);
  }
  return out;
}

std::string readConfined(const std::string& real, const std::string& shown, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  int fd = ::open(real.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    throw Error(AGENTD_ERR,
                "Ran into " + std::string(std::strerror(errno)) + " while trying to read " + shown);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(AGENTD_EINVAL, "The path " + shown + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw Error(AGENTD_EINVAL, "The file " + shown + " is too large (" +
                                   std::to_string(st.st_size) + " bytes, the limit is " +
                                   std::to_string(max_bytes) + "); inspect it with bash instead");
  }
  std::string data;
  data.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  for (;;) {
    if (done == data.size()) data.resize(done + 4096);  // the file may have grown
    ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw Error(AGENTD_ERR,
                  "Ran into " + std::string(std::strerror(err)) + " while trying to read " + shown);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
    if (done > max_bytes) {
      ::close(fd);
      throw Error(AGENTD_EINVAL,
                  "The file " + shown + " is too large; inspect it with bash instead");
    }
  }
  ::close(fd);
  data.resize(done);
  return data;
}

void writeConfined(const std::string& real, const std::string& shown, std::string_view data,
                   bool create_new) {
  auto fail = [&](int err) {
    throw Error(AGENTD_ERR, "Ran into " + std::string(std::strerror(err)) +
                                " while trying to write to " + shown);
  };
  if (create_new) {
    // Parents missing at resolution time lie inside the workspace (resolveInside checked them).
    for (size_t slash = real.find('/', 1); slash != std::string::npos;
         slash = real.find('/', slash + 1)) {
      std::string dir = real.substr(0, slash);
      if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) fail(errno);
    }
  }
  int flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC | (create_new ? O_CREAT | O_EXCL : O_TRUNC);
  int fd = ::open(real.c_str(), flags, 0666);
  if (fd < 0) fail(errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      fail(err);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) fail(errno);
}

}  // namespace agentd::filetools
