// Authentication of API requests: API keys (compared in constant time) and JWT bearer tokens
// (HS256 and RS256 via OpenSSL; exp, nbf, iss and aud checked; a roles claim maps to read, run
// and admin). Thread-safe after create().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "server/http_server.h"

namespace agentd::server {

// Ordered: each role includes the ones before it.
enum class Role { kNone = 0, kRead = 1, kRun = 2, kAdmin = 3 };
const char* roleName(Role r);

struct Principal {
  std::string id;  // "key:<sha256 prefix>" or the token's sub
  Role role = Role::kNone;
};

// Why authentication failed: 401 (no or bad credentials) or 403 (authenticated, role missing).
struct AuthFailure {
  int status;
  std::string message;
};

class Authenticator {
 public:
  // API key entries are "KEY" (admin) or "read:KEY", "run:KEY", "admin:KEY"; api_keys_file holds
  // one entry per line (# comments). Fails on unreadable files or keys.
  static Result<std::unique_ptr<Authenticator>> create(const config::AuthConfig& cfg);
  ~Authenticator();

  // True when any credential is configured: then every /api, /v1 and /admin route needs one.
  bool enabled() const { return enabled_; }
  // Checks the request's credentials (Authorization: Bearer ..., or X-API-Key) against need.
  // Returns the principal, or fills *failure.
  std::optional<Principal> check(const HttpRequest& req, Role need, AuthFailure* failure) const;

 private:
  Authenticator() = default;
  std::optional<Principal> checkJwt(const std::string& token, AuthFailure* failure) const;
  std::optional<Principal> checkKey(const std::string& key, AuthFailure* failure) const;

  bool enabled_ = false;
  struct Key {
    std::string sha256;  // raw digest bytes
    Role role;
  };
  std::vector<Key> keys_;
  std::string hs256_secret_;
  void* rs256_key_ = nullptr;  // EVP_PKEY*
  std::string issuer_, audience_, roles_claim_;
};

// Base64url without padding (JWT encoding).
std::string base64UrlEncode(std::string_view data);
bool base64UrlDecode(std::string_view in, std::string* out);

}  // namespace agentd::server
