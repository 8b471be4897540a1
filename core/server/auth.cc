#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <ctime>
#include <fstream>

#include "common/json.h"
#include "common/sha256.h"

namespace agentd::server {

const char* roleName(Role r) {
  switch (r) {
    case Role::kNone:
      return "none";
    case Role::kRead:
      return "read";
    case Role::kRun:
      return "run";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

std::string base64UrlEncode(std::string_view data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  while (i + 2 < data.size()) {
    uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
    i += 3;
  }
  if (i + 1 == data.size()) {
    uint32_t n = uint8_t(data[i]) << 16;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
  } else if (i + 2 == data.size()) {
    uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

bool base64UrlDecode(std::string_view in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
  };
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = val(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

namespace {

std::string rawSha256(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

Role parseRole(std::string_view s) {
  if (s == "read") return Role::kRead;
  if (s == "run") return Role::kRun;
  if (s == "admin") return Role::kAdmin;
  return Role::kNone;
}

Status addKeyEntry(const std::string& entry, std::vector<std::string>* raw,
                   std::vector<Role>* roles) {
  std::string key = entry;
  Role role = Role::kAdmin;
  size_t colon = entry.find(':');
  if (colon != std::string::npos) {
    Role r = parseRole(std::string_view(entry).substr(0, colon));
    if (r != Role::kNone) {
      role = r;
      key = entry.substr(colon + 1);
    }
  }
  if (key.size() < 8) return Status::invalidArgument("API keys must have at least 8 characters");
  raw->push_back(key);
  roles->push_back(role);
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Authenticator>> Authenticator::create(const config::AuthConfig& cfg) {
  std::unique_ptr<Authenticator> a(new Authenticator());
  std::vector<std::string> raw;
  std::vector<Role> roles;
  for (const auto& k : cfg.api_keys) AGENTD_RETURN_IF_ERROR(addKeyEntry(k, &raw, &roles));
  if (!cfg.api_keys_file.empty()) {
    std::ifstream in(cfg.api_keys_file);
    if (!in) return Status::invalidArgument("cannot read api_keys_file " + cfg.api_keys_file);
    for (std::string line; std::getline(in, line);) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      AGENTD_RETURN_IF_ERROR(addKeyEntry(line, &raw, &roles));
    }
  }
  for (size_t i = 0; i < raw.size(); ++i) a->keys_.push_back({rawSha256(raw[i]), roles[i]});
  a->hs256_secret_ = cfg.jwt.hs256_secret;
  if (!cfg.jwt.rs256_public_key_file.empty()) {
    std::FILE* f = std::fopen(cfg.jwt.rs256_public_key_file.c_str(), "re");
    if (f == nullptr) {
      return Status::invalidArgument("cannot read rs256_public_key_file " +
                                     cfg.jwt.rs256_public_key_file);
    }
    EVP_PKEY* key = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (key == nullptr) {
      return Status::invalidArgument(cfg.jwt.rs256_public_key_file + " holds no PEM public key");
    }
    a->rs256_key_ = key;
  }
  a->issuer_ = cfg.jwt.issuer;
  a->audience_ = cfg.jwt.audience;
  a->roles_claim_ = cfg.jwt.roles_claim.empty() ? "roles" : cfg.jwt.roles_claim;
  a->enabled_ = !a->keys_.empty() || !a->hs256_secret_.empty() || a->rs256_key_ != nullptr;
  return a;
}

Authenticator::~Authenticator() {
  if (rs256_key_ != nullptr) EVP_PKEY_free(static_cast<EVP_PKEY*>(rs256_key_));
}

std::optional<Principal> Authenticator::check(const HttpRequest& req, Role need,
                                              AuthFailure* failure) const {
  std::optional<Principal> p;
  const std::string& authz = req.header("authorization");
  const std::string& api_key = req.header("x-api-key");
  if (authz.size() > 7 && strncasecmp(authz.c_str(), "Bearer ", 7) == 0) {
    std::string token = authz.substr(7);
    size_t dots = std::count(token.begin(), token.end(), '.');
    p = dots == 2 ? checkJwt(token, failure) : checkKey(token, failure);
  } else if (!api_key.empty()) {
    p = checkKey(api_key, failure);
  } else {
    *failure = {401, "authentication required: send Authorization: Bearer <API key or JWT>"};
    return std::nullopt;
  }
  if (!p) return std::nullopt;
  if (static_cast<int>(p->role) < static_cast<int>(need)) {
    *failure = {403, std::string("this endpoint needs the ") + roleName(need) + " role; " + p->id +
                         " has " + roleName(p->role)};
    return std::nullopt;
  }
  return p;
}

std::optional<Principal> Authenticator::checkKey(const std::string& key,
                                                 AuthFailure* failure) const {
  std::string digest = rawSha256(key);
  // Compare against every key, in constant time per key, without stopping at a match.
  int found = -1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (CRYPTO_memcmp(digest.data(), keys_[i].sha256.data(), digest.size()) == 0) {
      found = static_cast<int>(i);
    }
  }
  if (found < 0) {
    *failure = {401, "invalid API key"};
    return std::nullopt;
  }
  return Principal{"key:" + sha256Hex(key).substr(0, 8), keys_[found].role};
}

std::optional<Principal> Authenticator::checkJwt(const std::string& token,
                                                 AuthFailure* failure) const {
  auto fail = [&](const std::string& m) {
    *failure = {401, "invalid token: " + m};
    return std::nullopt;
  };
  size_t d1 = token.find('.');
  size_t d2 = token.find('.', d1 + 1);
  std::string header_json, payload_json, sig;
  if (!base64UrlDecode(std::string_view(token).substr(0, d1), &header_json) ||
      !base64UrlDecode(std::string_view(token).substr(d1 + 1, d2 - d1 - 1), &payload_json) ||
      !base64UrlDecode(std::string_view(token).substr(d2 + 1), &sig)) {
    return fail("not base64url");
  }
  auto header = json::parse(header_json);
  if (!header.ok() || !header->IsObject() || !header->HasMember("alg") ||
      !(*header)["alg"].IsString()) {
    return fail("bad header");
  }
  std::string alg = (*header)["alg"].GetString();
  std::string_view signed_part = std::string_view(token).substr(0, d2);
  if (alg == "HS256") {
    if (hs256_secret_.empty()) return fail("HS256 tokens are not accepted");
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), hs256_secret_.data(), static_cast<int>(hs256_secret_.size()),
         reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac, &len);
    if (sig.size() != len || CRYPTO_memcmp(mac, sig.data(), len) != 0) {
      return fail("bad signature");
    }
  } else if (alg == "RS256") {
    if (rs256_key_ == nullptr) return fail("RS256 tokens are not accepted");
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                                   static_cast<EVP_PKEY*>(rs256_key_)) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                               reinterpret_cast<const unsigned char*>(signed_part.data()),
                               signed_part.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return fail("bad signature");
  } else {
    return fail("algorithm " + alg + " is not accepted (HS256 or RS256)");
  }
  auto payload = json::parse(payload_json);
  if (!payload.ok() || !payload->IsObject()) return fail("bad claims");
  const auto& c = *payload;
  double now = static_cast<double>(std::time(nullptr));
  const double kLeeway = 30;
  // Every token must expire: one without exp would be valid forever.
  if (!c.HasMember("exp")) return fail("the exp claim is required");
  {
    if (!c["exp"].IsNumber()) return fail("exp is not a number");
    if (c["exp"].GetDouble() + kLeeway < now) {
      *failure = {401, "token expired"};
      return std::nullopt;
    }
  }
  if (c.HasMember("nbf")) {
    if (!c["nbf"].IsNumber()) return fail("nbf is not a number");
    if (c["nbf"].GetDouble() - kLeeway > now) return fail("token not valid yet (nbf)");
  }
  if (!issuer_.empty()) {
    if (!c.HasMember("iss") || !c["iss"].IsString() || issuer_ != c["iss"].GetString()) {
      return fail("wrong issuer");
    }
  }
  if (!audience_.empty()) {
    bool ok = false;
    if (c.HasMember("aud") && c["aud"].IsString()) ok = audience_ == c["aud"].GetString();
    if (c.HasMember("aud") && c["aud"].IsArray()) {
      for (const auto& a : c["aud"].GetArray()) ok |= a.IsString() && audience_ == a.GetString();
    }
    if (!ok) return fail("wrong audience");
  }
  Role role = Role::kNone;
  auto take = [&](std::string_view r) {
    Role x = parseRole(r);
    if (static_cast<int>(x) > static_cast<int>(role)) role = x;
  };
  if (c.HasMember(roles_claim_.c_str())) {
    const auto& r = c[roles_claim_.c_str()];
    if (r.IsArray()) {
      for (const auto& e : r.GetArray()) {
        if (e.IsString()) take(e.GetString());
      }
    } else if (r.IsString()) {
      std::string s = r.GetString();
      size_t i = 0;
      while (i < s.size()) {
        size_t sp = s.find(' ', i);
        take(std::string_view(s).substr(i, sp == std::string::npos ? std::string::npos : sp - i));
        if (sp == std::string::npos) break;
        i = sp + 1;
      }
    }
  }
  std::string sub = c.HasMember("sub") && c["sub"].IsString() ? c["sub"].GetString() : "jwt";
  return Principal{sub, role};
}

}  // namespace agentd::server
