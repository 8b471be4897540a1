// Status and Result<T> of the MCP client library. The library is linked into a plugin, which may
// use nothing of the host, so it carries its own small copy of the core's error type.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace agentd::mcp {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad input: config, arguments, a malformed message
    kNotFound,         // unknown tool or server
    kUnavailable,      // not connected, transport closed, server down
    kDeadlineExceeded,
    kCancelled,
    kProtocol,  // the peer broke the protocol (bad version, bad reply)
    kRemote,    // the server answered with a JSON-RPC error
    kInternal,
  };

  Status() = default;
  static Status ok() { return Status(); }
  static Status invalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status notFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status deadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
  static Status cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }
  static Status protocol(std::string m) { return {Code::kProtocol, std::move(m)}; }
  static Status remote(std::string m) { return {Code::kRemote, std::move(m)}; }
  static Status internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool isOk() const { return code_ == Code::kOk; }
  explicit operator bool() const { return isOk(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Returns a copy whose message is prefixed with `context: `.
  Status withContext(const std::string& context) const {
    return isOk() ? *this : Status(code_, context + ": " + message_);
  }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Holds a value or a non-OK Status. REQUIRES: value() only when ok().
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  Status status() const { return ok() ? Status() : std::get<1>(v_); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace agentd::mcp
