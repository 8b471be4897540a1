// Confinement of the file tools (str_replace_based_edit_tool, json_edit_tool) to the task's
// working directory. Shared by both plugins: json_edit_tool compiles workspace_path.cc too.
#pragma once

#include <string>
#include <string_view>

namespace agentd::filetools {

// Where a call may touch files: the real path of its working directory, or "/" when the plugin
// allows any path.
struct Workspace {
  std::string root;
  bool any_path = false;
};

// A path resolved inside a workspace: absolute, without symlinks, "." or ".." in the part that
// exists; `exists` is false when some trailing components do not exist (yet).
struct ResolvedPath {
  std::string real;
  bool exists = false;
};

// Returns the workspace of a call from its "working_dir" context. Throws
// agentd::sdk::Error(AGENTD_EINVAL) when working_dir is empty (unless allow_any_path) or does
// not name an existing directory.
Workspace workspaceFor(std::string_view working_dir, bool allow_any_path);

// Resolves the absolute `path` like realpath(3), component by component, tolerating missing
// trailing components (dangling symlinks are followed to their target). Throws
// agentd::sdk::Error(AGENTD_EINVAL) with a message naming `path` when the result lies outside
// ws.root, or a symlink inside ws.root points outside it (even if a later ".." comes back).
// REQUIRES: path starts with '/'.
ResolvedPath resolveInside(const Workspace& ws, std::string_view path);

// Reads the regular file at `real` (a resolved path) without following a symlink that may have
// replaced it since resolution. Throws agentd::sdk::Error naming `shown` when it cannot be read,
// is not a regular file or is larger than max_bytes.
std::string readConfined(const std::string& real, const std::string& shown, size_t max_bytes);

// Writes data to `real` in place (keeping its mode and inode), or creates it (failing if it
// exists) when create_new; never through a symlink. Missing parent directories are created
// when create_new. Throws agentd::sdk::Error naming `shown`.
void writeConfined(const std::string& real, const std::string& shown, std::string_view data,
                   bool create_new);

}  // namespace agentd::filetools
