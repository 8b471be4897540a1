// Library: one plugin .so loaded from a private copy, its ABI negotiated and its descriptor
// checked. The only user of Boost.DLL.
#pragma once

#include <agentd/plugin.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace agentd::plugin {

// Why a load was rejected; the label of agentd_plugin_load_failures_total{reason}.
enum class LoadFailure {
  kNone,
  kNotFound,        // file missing or unreadable
  kNotElf,          // not an ELF shared object
  kChecksum,        // sha256 differs from the pinned one
  kDlopen,          // the dynamic loader refused it
  kMissingEntry,    // no agentd_plugin_entry symbol
  kNullDescriptor,  // entry returned NULL
  kAbiMismatch,     // MAJOR differs or plugin MINOR is newer
  kBadDescriptor,   // struct too small, NULL required callback, bad name
  kDuplicate,       // plugin or tool name already taken
  kCreate,          // create() failed
  kHealth,          // health() failed after create
  kTools,           // list_tools/list_skills failed or returned bad data
  kConfig,          // config rejected
};
const char* loadFailureName(LoadFailure f);

class Library {
 public:
  // Copies path to a unique file under copy_dir (glibc would return an already-loaded image
  // for a reused path), dlopens it RTLD_NOW|RTLD_LOCAL and validates the descriptor. When
  // expected_sha256 is not empty the file must match it. On failure *why says which check.
  static Result<std::unique_ptr<Library>> open(const std::string& path, const std::string& copy_dir,
                                               const std::string& expected_sha256,
                                               LoadFailure* why);
  // Unloads if close() or leak() was not called.
  ~Library();

  const agentd_plugin& descriptor() const { return *descriptor_; }
  const std::string& sourcePath() const { return source_path_; }
  const std::string& copyPath() const { return copy_path_; }
  // The file's SHA-256 when a pin was checked, else empty.
  const std::string& sha256() const { return sha256_; }
  // "MAJOR.MINOR" of the ABI the plugin was built against.
  std::string abiString() const;

  // dlclose()s, removes the copy and checks with RTLD_NOLOAD that the image is gone. Returns
  // FailedPrecondition when it is still mapped (e.g. a thread_local destructor pins it).
  Status close();
  // Keeps the image mapped for the life of the process (quarantine).
  void leak();

 private:
  Library() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const agentd_plugin* descriptor_ = nullptr;
  std::string source_path_, copy_path_, sha256_;
};

// Returns "MAJOR.MINOR" for an encoded ABI version.
std::string abiVersionString(uint32_t v);

}  // namespace agentd::plugin
