// SHA-256 digests (OpenSSL).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace agentd {

// Returns the lowercase hex SHA-256 of data.
std::string sha256Hex(std::string_view data);
// Returns the lowercase hex SHA-256 of the file at path (symlinks followed).
Result<std::string> fileSha256Hex(const std::string& path);
// Reads a whole file.
Result<std::string> readFile(const std::string& path);

}  // namespace agentd
