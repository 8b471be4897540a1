#include "llm/http1.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <utility>

namespace agentd::llm::http1 {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One part of a parsed URL, or nullopt when it is absent.
std::optional<std::string> urlPart(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* v = nullptr;
  if (curl_url_get(u, part, &v, flags) != CURLUE_OK || v == nullptr) return std::nullopt;
  std::string out(v);
  curl_free(v);
  return out;
}

// The loopback address of family (AF_INET or AF_INET6) at port.
sockaddr_storage loopback(int family, uint16_t port) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
  }
  return ss;
}

}  // namespace

std::optional<Target> loopbackTarget(const std::string& url) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
  auto scheme = urlPart(u.get(), CURLUPART_SCHEME);
  auto host = urlPart(u.get(), CURLUPART_HOST);
  auto port = urlPart(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!scheme || lower(*scheme) != "http" || !host || !port) return std::nullopt;
  if (urlPart(u.get(), CURLUPART_USER) || urlPart(u.get(), CURLUPART_PASSWORD)) return std::nullopt;
  char* end = nullptr;
  unsigned long p = std::strtoul(port->c_str(), &end, 10);
  if (end == port->c_str() || *end != '\0' || p == 0 || p > 65535) return std::nullopt;
  Target t;
  std::string h = lower(*host);
  auto port16 = static_cast<uint16_t>(p);
  if (h == "localhost") {
    t.addrs = {loopback(AF_INET, port16), loopback(AF_INET6, port16)};
  } else if (h == "127.0.0.1") {
    t.addrs = {loopback(AF_INET, port16)};
  } else if (h == "[::1]" || h == "::1") {
    h = "[::1]";
    t.addrs = {loopback(AF_INET6, port16)};
  } else {
    return std::nullopt;
  }
  t.pool_key = h + ":" + *port;
  t.host_header = p == 80 ? h : t.pool_key;
  t.target = urlPart(u.get(), CURLUPART_PATH).value_or("/");
  if (t.target.empty()) t.target = "/";
  if (auto q = urlPart(u.get(), CURLUPART_QUERY)) t.target += "?" + *q;
  return t;
}

std::string_view requestBody(const HttpRequest& req) {
  return req.method == "POST" ? std::string_view(req.body) : std::string_view();
}

std::string requestHead(const HttpRequest& req, const Target& target) {
  std::string out;
  out.reserve(128 + target.target.size() + 64 * req.headers.size());
  out += req.method;
  out += ' ';
  out += target.target;
  out += " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& [k, v] : req.headers) has_host = has_host || beast::iequals(k, "host");
  if (!has_host) out += "Host: " + target.host_header + "\r\n";
  for (const auto& [k, v] : req.headers) {
    if (v.empty()) continue;  // as with libcurl, "Name:" with no value sends nothing
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (req.method == "POST") {
    out += "Content-Length: " + std::to_string(requestBody(req).size()) + "\r\n";
  }
  out += "\r\n";
  return out;
}

namespace {

// A body that is not stored: each piece goes to the reader's on_body as the parser finds it.
struct SinkBody {
  struct value_type {
    const std::function<bool(std::string_view)>* on_body = nullptr;
    bool* aborted = nullptr;
  };
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& v) : v_(v) {}
    void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
           ++it) {
        net::const_buffer b(*it);
        if (b.size() > 0 &&
            !(*v_.on_body)(std::string_view(static_cast<const char*>(b.data()), b.size()))) {
          *v_.aborted = true;
          ec = beast::errc::make_error_code(beast::errc::operation_canceled);
          return n;
        }
        n += b.size();
      }
      return n;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& v_;
  };
};

}  // namespace

struct ResponseReader::Parser {
  http::response_parser<SinkBody> p;
};

ResponseReader::ResponseReader(Callbacks cb, bool head_request)
    : cb_(std::move(cb)), head_request_(head_request) {
  newParser();
}

void ResponseReader::newParser() {
  parser_ = std::make_unique<Parser>();
  // The caller bounds what it keeps. (Not boost::none: Boost 1.74 compares lengths against it
  // and then refuses every body that is not chunked.)
  parser_->p.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser_->p.header_limit(256 * 1024);
  if (head_request_) parser_->p.skip(true);
  parser_->p.get().body() = SinkBody::value_type{&cb_.on_body, &aborted_};
}

ResponseReader::~ResponseReader() = default;

bool ResponseReader::keepAlive() const { return parser_->p.keep_alive(); }

ResponseReader::State ResponseReader::fail(std::string why, bool truncated) {
  error_ = std::move(why);
  truncated_ = truncated;
  return State::kError;
}

ResponseReader::State ResponseReader::feed(std::string_view data) {
  if (!data.empty()) got_bytes_ = true;
  if (buf_.empty()) {  // the usual case: parsed where it lies, only an unread tail is kept
    State st = step(data);
    buf_.assign(data);
    return st;
  }
  buf_.append(data);
  std::string_view rest = buf_;
  State st = step(rest);
  buf_.erase(0, buf_.size() - rest.size());
  return st;
}

ResponseReader::State ResponseReader::step(std::string_view& in) {
  for (;;) {
    if (parser_->p.is_done()) return State::kDone;
    if (in.empty()) return State::kMore;
    beast::error_code ec;
    size_t n = parser_->p.put(net::buffer(in.data(), in.size()), ec);
    in.remove_prefix(n);
    if (aborted_) return State::kAborted;
    if (ec == http::error::need_more) return State::kMore;
    if (ec) return fail("malformed HTTP response: " + ec.message(), false);
    if (parser_->p.is_header_done() && !head_delivered_) {
      auto& msg = parser_->p.get();
      long status = static_cast<long>(msg.result_int());
      if (status / 100 == 1) {  // interim: the final response follows on the same connection
        newParser();
        continue;
      }
      head_delivered_ = true;
      HttpHeaders headers;
      for (const auto& f : msg) {
        headers[lower(std::string_view(f.name_string().data(), f.name_string().size()))] =
            std::string(f.value().data(), f.value().size());
      }
      if (!cb_.on_head(status, std::move(headers))) {
        aborted_ = true;
        return State::kAborted;
      }
      parser_->p.eager(true);  // the head is out: take the body in as few calls as it comes
    }
    if (n == 0 && !parser_->p.is_done()) return State::kMore;
  }
}

ResponseReader::State ResponseReader::eof() {
  if (!parser_->p.is_header_done()) {
    return fail(got_bytes_ ? "the connection closed in the middle of the response head"
                           : "empty reply from server",
                false);
  }
  if (parser_->p.is_done()) return State::kDone;
  beast::error_code ec;
  parser_->p.put_eof(ec);
  if (aborted_) return State::kAborted;
  if (ec || !parser_->p.is_done()) {
    return fail("the connection closed before the end of the response body", true);
  }
  return State::kDone;
}

}  // namespace agentd::llm::http1
