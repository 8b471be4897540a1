#include "plugin/library.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/sha256.h"
#include "observability/log.h"

namespace agentd::plugin {

namespace fs = std::filesystem;

struct Library::Impl {
  boost::dll::shared_library lib;
  bool closed = false;
};

const char* loadFailureName(LoadFailure f) {
  switch (f) {
    case LoadFailure::kNone:
      return "none";
    case LoadFailure::kNotFound:
      return "not_found";
    case LoadFailure::kNotElf:
      return "not_elf";
    case LoadFailure::kChecksum:
      return "checksum";
    case LoadFailure::kDlopen:
      return "dlopen";
    case LoadFailure::kMissingEntry:
      return "missing_entry";
    case LoadFailure::kNullDescriptor:
      return "null_descriptor";
    case LoadFailure::kAbiMismatch:
      return "abi_mismatch";
    case LoadFailure::kBadDescriptor:
      return "bad_descriptor";
    case LoadFailure::kDuplicate:
      return "duplicate";
    case LoadFailure::kCreate:
      return "create";
    case LoadFailure::kHealth:
      return "health";
    case LoadFailure::kTools:
      return "tools";
    case LoadFailure::kConfig:
      return "config";
  }
  return "unknown";
}

std::string abiVersionString(uint32_t v) {
  return std::to_string(AGENTD_ABI_VERSION_MAJOR(v)) + "." +
         std::to_string(AGENTD_ABI_VERSION_MINOR(v));
}

std::string Library::abiString() const { return abiVersionString(descriptor_->abi_version); }

namespace {

bool validPluginName(const char* name) {
  if (name == nullptr || *name == '\0' || std::strlen(name) > 64) return false;
  for (const char* p = name; *p; ++p) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Size of the descriptor a plugin of ABI 1.minor must provide (all 1.x fields are 1.0 fields).
size_t requiredDescriptorSize(uint32_t /*minor*/) { return sizeof(agentd_plugin); }

// Copies src into a new file with a unique name in dir, in the kernel (copy_file_range; read and
// write where that is unsupported), so no plugin bytes pass through this process's memory.
Status copyToUniquePath(const std::string& src, int src_fd, size_t size, const std::string& dir,
                        const std::string& stem, std::string* out) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return Status::ioError("cannot create plugin copy directory " + dir + ": " + ec.message());
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string path = dir + "/" + stem + "." + std::to_string(getpid()) + "." +
                       std::to_string(counter.fetch_add(1)) + ".so";
    // Written through the descriptor that created it (a non-root owner cannot reopen a 0500
    // file for writing), then made read-only.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return Status::ioError("cannot create " + path + ": " + std::strerror(errno));
    }
    size_t off = 0;
    bool kernel_copy = true;
    while (off < size) {
      if (kernel_copy) {
        ssize_t n = ::copy_file_range(src_fd, nullptr, fd, nullptr, size - off, 0);
        if (n > 0) {
          off += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 &&
            (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
          kernel_copy = false;  // e.g. across file systems on old kernels: copy by hand
          if (::lseek(src_fd, static_cast<off_t>(off), SEEK_SET) < 0) break;
          continue;
        }
        break;  // error, or the file shrank while copying
      }
      char buf[1 << 16];
      ssize_t n = ::read(src_fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      size_t done = 0;
      while (done < static_cast<size_t>(n)) {
        ssize_t w = ::write(fd, buf + done, static_cast<size_t>(n) - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += static_cast<size_t>(w);
      }
      if (done < static_cast<size_t>(n)) break;
      off += done;
    }
    bool ok = off == size && ::fchmod(fd, 0500) == 0;
    int err = errno;
    ::close(fd);
    if (!ok) {
      fs::remove(path, ec);
      return Status::ioError("cannot copy " + src + " to " + path + ": " +
                             (err != 0 ? std::strerror(err) : "short copy"));
    }
    *out = path;
    return Status::ok();
  }
  return Status::ioError("cannot find a free copy name in " + dir);
}

}  // namespace

Result<std::unique_ptr<Library>> Library::open(const std::string& path, const std::string& copy_dir,
                                               const std::string& expected_sha256,
                                               LoadFailure* why) {
  auto fail = [&](LoadFailure f, std::string msg) -> Status {
    *why = f;
    return Status::invalidArgument(path + ": " + msg);
  };
  *why = LoadFailure::kNone;

  int src_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src_fd < 0) {
    *why = LoadFailure::kNotFound;
    return Status::notFound("cannot open " + path + ": " + std::strerror(errno));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } src_closer{src_fd};
  struct stat st_src {};
  char head[64];
  if (::fstat(src_fd, &st_src) != 0 || !S_ISREG(st_src.st_mode)) {
    *why = LoadFailure::kNotFound;
    return Status::notFound(path + ": not a regular file");
  }
  if (st_src.st_size < 64 || ::pread(src_fd, head, sizeof head, 0) != sizeof head ||
      std::memcmp(head,
                  "\x7f"
                  "ELF",
                  4) != 0) {
    return fail(LoadFailure::kNotElf, "not an ELF shared object");
  }

  std::unique_ptr<Library> lib(new Library());
  lib->impl_ = std::make_unique<Impl>();
  lib->source_path_ = path;
  std::string stem = fs::path(path).stem().string();
  Status st = copyToUniquePath(path, src_fd, static_cast<size_t>(st_src.st_size), copy_dir, stem,
                               &lib->copy_path_);
  if (!st.isOk()) {
    *why = LoadFailure::kNotFound;
    return st;
  }
  // Hashed only when pinned (SHA-256 of a large plugin costs more than loading it), and the copy
  // is what gets hashed: the bytes checked are the bytes loaded.
  if (!expected_sha256.empty()) {
    auto sha = fileSha256Hex(lib->copy_path_);
    if (!sha.ok() || *sha != expected_sha256) {
      std::error_code ec;
      fs::remove(lib->copy_path_, ec);
      lib->impl_->closed = true;
      if (!sha.ok()) return sha.status();
      return fail(LoadFailure::kChecksum,
                  "sha256 mismatch: configured " + expected_sha256 + ", file has " + *sha);
    }
    lib->sha256_ = *sha;
  }
  auto discard = [&] {
    if (lib->impl_->lib.is_loaded()) lib->impl_->lib.unload();
    std::error_code ec;
    fs::remove(lib->copy_path_, ec);
    lib->impl_->closed = true;
  };

  // The message is built from the descriptor before discard() unmaps it.
  auto reject = [&](LoadFailure f, std::string msg) -> Status {
    discard();
    return fail(f, std::move(msg));
  };

  try {
    // The throwing overload keeps dlerror()'s text (the error_code one loses it in 1.74).
    lib->impl_->lib.load(lib->copy_path_,
                         boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return reject(LoadFailure::kDlopen, std::string("dlopen failed: ") + e.what());
  }
  if (!lib->impl_->lib.has("agentd_plugin_entry")) {
    return reject(LoadFailure::kMissingEntry, "missing entry symbol agentd_plugin_entry");
  }
  auto entry = &lib->impl_->lib.get<const agentd_plugin*(uint32_t)>("agentd_plugin_entry");
  const agentd_plugin* d = entry(AGENTD_ABI_VERSION);
  if (d == nullptr) {
    return reject(LoadFailure::kNullDescriptor, "agentd_plugin_entry returned NULL for host ABI " +
                                                    abiVersionString(AGENTD_ABI_VERSION));
  }
  const std::string host_abi = abiVersionString(AGENTD_ABI_VERSION);
  if (d->struct_size < offsetof(agentd_plugin, abi_version) + sizeof(uint32_t)) {
    return reject(LoadFailure::kBadDescriptor,
                  "descriptor struct_size " + std::to_string(d->struct_size) + " is too small");
  }
  const std::string plugin_abi = abiVersionString(d->abi_version);
  if (AGENTD_ABI_VERSION_MAJOR(d->abi_version) != AGENTD_ABI_MAJOR) {
    return reject(LoadFailure::kAbiMismatch, "plugin ABI " + plugin_abi +
                                                 " is not compatible with host ABI " + host_abi +
                                                 ": major versions differ");
  }
  if (AGENTD_ABI_VERSION_MINOR(d->abi_version) > AGENTD_ABI_MINOR) {
    return reject(
        LoadFailure::kAbiMismatch,
        "plugin ABI " + plugin_abi + " is newer than host ABI " + host_abi + ": upgrade agentd");
  }
  size_t need = requiredDescriptorSize(AGENTD_ABI_VERSION_MINOR(d->abi_version));
  if (d->struct_size < need) {
    return reject(LoadFailure::kBadDescriptor, "descriptor struct_size " +
                                                   std::to_string(d->struct_size) +
                                                   " is smaller than the " + std::to_string(need) +
                                                   " bytes ABI " + plugin_abi + " requires");
  }
  if (!validPluginName(d->name)) {
    return reject(LoadFailure::kBadDescriptor, "plugin name must match [a-z0-9_]{1,64}, got '" +
                                                   std::string(d->name ? d->name : "(null)") + "'");
  }
  std::string missing;
  if (d->version == nullptr) missing += " version";
  if (d->create == nullptr) missing += " create";
  if (d->destroy == nullptr) missing += " destroy";
  if (d->last_error == nullptr) missing += " last_error";
  if (d->kind == AGENTD_KIND_TOOL || d->kind == AGENTD_KIND_MCP_ADAPTER) {
    if (d->list_tools == nullptr) missing += " list_tools";
    if (d->invoke == nullptr) missing += " invoke";
  } else if (d->kind == AGENTD_KIND_SKILL) {
    if (d->list_skills == nullptr) missing += " list_skills";
  } else {
    return reject(LoadFailure::kBadDescriptor, "unknown plugin kind " + std::to_string(d->kind));
  }
  if (!missing.empty()) {
    return reject(LoadFailure::kBadDescriptor, "required descriptor fields are NULL:" + missing);
  }
  lib->descriptor_ = d;
  return lib;
}

Status Library::close() {
  if (impl_ == nullptr || impl_->closed) return Status::ok();
  impl_->closed = true;
  impl_->lib.unload();
  std::error_code ec;
  // RTLD_NOLOAD returns a handle only if the image is still mapped.
  void* still = dlopen(copy_path_.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  fs::remove(copy_path_, ec);
  if (still != nullptr) {
    dlclose(still);
    return Status::failedPrecondition(
        copy_path_ + " is still mapped after dlclose (thread_local destructors or unique symbols)");
  }
  return Status::ok();
}

void Library::leak() {
  if (impl_ == nullptr || impl_->closed) return;
  impl_->closed = true;
  // Keep one reference forever so the image is never unmapped under a straggling caller.
  new boost::dll::shared_library(impl_->lib);
}

Library::~Library() {
  if (impl_ != nullptr && !impl_->closed) close();
}

}  // namespace agentd::plugin
