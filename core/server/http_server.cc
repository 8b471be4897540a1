#include "server/http_server.h"

#include <utility>  // before Asio (Boost 1.74); its own block keeps it first

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <list>
#include <mutex>
#include <optional>

#include "common/json.h"
#include "observability/log.h"

namespace agentd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

const std::string& HttpRequest::header(const std::string& lower_name) const {
  static const std::string kEmpty;
  auto it = headers.find(lower_name);
  return it == headers.end() ? kEmpty : it->second;
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::error(int status, const std::string& message) {
  return json(status, "{\"status\":\"error\",\"error\":" + json::quote(message) + "}");
}

namespace {

std::string urlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(s[i + 1]) && std::isxdigit(s[i + 2])) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

// "id: 7\nevent: tool_call\ndata: {...}\n\n", with one data line per line of data.
std::string sseFrame(const std::string& event, const std::string& data, uint64_t id) {
  std::string out;
  if (id != 0) out += "id: " + std::to_string(id) + "\n";
  if (!event.empty()) out += "event: " + event + "\n";
  size_t start = 0;
  for (;;) {
    size_t nl = data.find('\n', start);
    out += "data: " + data.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    out += "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  out += "\n";
  return out;
}

}  // namespace

struct CompiledRoute {
  std::string method;
  std::string pattern;
  std::vector<std::string> parts;
  Route route;
};

class SseStreamImpl : public SseStream, public std::enable_shared_from_this<SseStreamImpl> {
 public:
  explicit SseStreamImpl(asio::any_io_executor ex) : ex_(ex), timer_(ex) {}

  void send(const std::string& event, const std::string& data, uint64_t id) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!open_ || closing_) return;
      queue_.push_back(sseFrame(event, data, id));
    }
    wake();
  }
  void close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      closing_ = true;
    }
    wake();
  }
  bool open() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return open_;
  }
  void onClose(std::function<void()> fn) override {
    bool run_now;
    {
      std::lock_guard<std::mutex> lock(mu_);
      run_now = !open_;
      if (!run_now) on_close_.push_back(fn);
    }
    if (run_now) asio::post(ex_, fn);
  }

  // The connection's side: takes what is queued; false when closing and nothing is left.
  bool take(std::string* out, bool* closing) {
    std::lock_guard<std::mutex> lock(mu_);
    out->clear();
    while (!queue_.empty()) {
      *out += queue_.front();
      queue_.pop_front();
    }
    *closing = closing_;
    return !out->empty();
  }
  void finished() {
    std::vector<std::function<void()>> fns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = false;
      fns.swap(on_close_);
      queue_.clear();
    }
    for (auto& f : fns) f();
  }
  asio::steady_timer& timer() { return timer_; }

 private:
  void wake() {
    auto self = shared_from_this();
    asio::post(ex_, [self] { self->timer_.cancel(); });
  }

  asio::any_io_executor ex_;
  asio::steady_timer timer_;  // io thread only
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  bool open_ = true;
  bool closing_ = false;
  std::vector<std::function<void()>> on_close_;
};

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  asio::io_context& io;
  Limits limits;
  std::vector<CompiledRoute> routes;
  Filter filter;
  Observer observer;
  Decorator decorator;
  std::optional<tcp::acceptor> acceptor;
  std::string bound;
  bool closing = false;  // io thread only
  // Connections waiting for a request, so closeAll() can end them.
  std::list<beast::tcp_stream*> idle;
  std::list<std::weak_ptr<SseStreamImpl>> streams;
  std::atomic<size_t> open_streams{0};

  Impl(asio::io_context& i, Limits l) : io(i), limits(l) {}

  // Finds the route for method and path; sets *allowed when only the method is wrong.
  const CompiledRoute* match(HttpRequest& req, std::string* allowed) {
    std::vector<std::string> parts = splitPath(req.path);
    for (const auto& r : routes) {
      if (r.parts.size() != parts.size()) continue;
      std::map<std::string, std::string> params;
      bool ok = true;
      for (size_t i = 0; i < parts.size() && ok; ++i) {
        const std::string& p = r.parts[i];
        if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
          params[p.substr(1, p.size() - 2)] = urlDecode(parts[i]);
        } else {
          ok = p == parts[i];
        }
      }
      if (!ok) continue;
      if (r.method != req.method) {
        *allowed += (allowed->empty() ? "" : ", ") + r.method;
        continue;
      }
      req.params = std::move(params);
      return &r;
    }
    return nullptr;
  }

  awaitable<void> accept() {
    auto self = shared_from_this();
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        log::warn("accept failed", {{"error", ec.message()}});
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(io, session(beast::tcp_stream(std::move(socket))), asio::detached);
    }
  }

  awaitable<void> write(beast::tcp_stream& stream, const HttpRequest& req, HttpResponse resp,
                        bool keep_alive, bool* ok) {
    if (decorator) decorator(req, resp);
    http::response<http::string_body> res{static_cast<http::status>(resp.status), 11};
    res.set(http::field::server, "agentd");
    if (!resp.body.empty() || resp.status != 204) {
      res.set(http::field::content_type, resp.content_type);
    }
    for (auto& [k, v] : resp.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = std::move(resp.body);
    res.prepare_payload();
    boost::system::error_code ec;
    stream.expires_after(limits.request_timeout);
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    *ok = !ec;
  }

  awaitable<void> session(beast::tcp_stream stream) {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    for (;;) {
      if (closing) break;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
      parser.body_limit(limits.max_body_bytes);
      boost::system::error_code ec;
      stream.expires_after(limits.idle_timeout);
      auto idle_it = idle.insert(idle.end(), &stream);
      co_await http::async_read_header(stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
      idle.erase(idle_it);
      auto start = Clock::now();
      if (!ec && !parser.is_done()) {
        stream.expires_after(limits.request_timeout);
        co_await http::async_read(stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) {
        HttpRequest none;
        int status = 0;
        std::string message;
        if (ec == http::error::body_limit) {
          status = 413;
          message = "request body larger than " + std::to_string(limits.max_body_bytes) + " bytes";
        } else if (ec == http::error::header_limit) {
          status = 431;
          message =
              "request headers larger than " + std::to_string(limits.max_header_bytes) + " bytes";
        } else if (ec == beast::error::timeout && buffer.size() > 0) {
          status = 408;
          message = "request not received in time";
        } else if (&ec.category() == &http::make_error_code(http::error::bad_target).category() &&
                   ec != http::error::end_of_stream && ec != http::error::partial_message) {
          status = 400;
          message = "malformed HTTP request: " + ec.message();
        }
        if (status != 0) {
          bool ok;
          co_await write(stream, none, HttpResponse::error(status, message), false, &ok);
          if (observer) observer(none, "", status, 0);
        }
        break;
      }
      http::request<http::string_body> msg = parser.release();
      HttpRequest req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      req.remote_addr = remote;
      size_t q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) {
        std::string qs = req.target.substr(q + 1);
        size_t i = 0;
        while (i <= qs.size()) {
          size_t amp = qs.find('&', i);
          std::string kv = qs.substr(i, amp == std::string::npos ? std::string::npos : amp - i);
          if (!kv.empty()) {
            size_t eq = kv.find('=');
            req.query[urlDecode(kv.substr(0, eq))] =
                eq == std::string::npos ? "" : urlDecode(kv.substr(eq + 1));
          }
          if (amp == std::string::npos) break;
          i = amp + 1;
        }
      }
      for (const auto& f : msg) {
        std::string name(f.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(c));
        req.headers[name] = std::string(f.value());
      }
      req.body = std::move(msg.body());
      bool keep_alive = msg.keep_alive() && !closing;

      std::string allowed;
      const CompiledRoute* r = match(req, &allowed);
      std::string route_name = r != nullptr ? r->pattern : "";
      std::optional<HttpResponse> early;
      if (filter) early = filter(req, route_name);
      if (!early && r == nullptr) {
        if (!allowed.empty()) {
          HttpResponse resp =
              HttpResponse::error(405, "method " + req.method + " not allowed; use " + allowed);
          resp.headers.emplace_back("Allow", allowed);
          early = std::move(resp);
        } else {
          early = HttpResponse::error(404, "no such endpoint: " + req.path);
        }
      }
      if (!early && r->route.sse && r->route.sse_precheck) early = r->route.sse_precheck(req);
      if (early) {
        int status = early->status;
        bool ok;
        co_await write(stream, req, std::move(*early), keep_alive, &ok);
        if (observer) observer(req, route_name, status, secondsSince(start));
        if (!ok || !keep_alive) break;
        continue;
      }
      if (r->route.sse) {
        if (observer) observer(req, route_name, 200, secondsSince(start));
        co_await serveSse(stream, req, r->route.sse);
        break;
      }
      HttpResponse resp;
      if (r->route.sync) {
        resp = r->route.sync(req);
      } else {
        resp = co_await asyncRespond(r->route.async, req);
      }
      int status = resp.status;
      bool ok;
      co_await write(stream, req, std::move(resp), keep_alive, &ok);
      if (observer) observer(req, route_name, status, secondsSince(start));
      if (!ok || !keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
  }

  static double secondsSince(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }

  template <class Token>
  auto asyncRespondImpl(const std::function<void(HttpRequest&, Respond)>& h, HttpRequest& req,
                        Token&& token) {
    return asio::async_initiate<Token, void(HttpResponse)>(
        [this, &h, &req](auto handler) {
          auto ex = asio::get_associated_executor(handler, io.get_executor());
          auto hp = std::make_shared<std::decay_t<decltype(handler)>>(std::move(handler));
          auto once = std::make_shared<std::atomic<bool>>(false);
          h(req, [hp, ex, once](HttpResponse r) {
            if (once->exchange(true)) return;
            asio::post(ex, [hp, r = std::move(r)]() mutable { std::move (*hp)(std::move(r)); });
          });
        },
        token);
  }

  awaitable<HttpResponse> asyncRespond(const std::function<void(HttpRequest&, Respond)>& h,
                                       HttpRequest& req) {
    HttpResponse r = co_await asyncRespondImpl(h, req, asio::use_awaitable);
    co_return r;
  }

  awaitable<void> serveSse(beast::tcp_stream& stream, HttpRequest& req,
                           const std::function<void(HttpRequest&, std::shared_ptr<SseStream>)>& h) {
    auto sse = std::make_shared<SseStreamImpl>(io.get_executor());
    auto entry = streams.insert(streams.end(), sse);
    ++open_streams;
    HttpResponse head;
    if (decorator) decorator(req, head);
    std::string header =
        "HTTP/1.1 200 OK\r\nServer: agentd\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nConnection: close\r\nX-Accel-Buffering: no\r\n";
    for (const auto& [k, v] : head.headers) header += k + ": " + v + "\r\n";
    header += "\r\n";
    boost::system::error_code ec;
    stream.expires_after(limits.request_timeout);
    co_await asio::async_write(stream, asio::buffer(header),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) h(req, sse);
    std::string chunk;
    while (!ec) {
      bool closing_stream = false;
      if (sse->take(&chunk, &closing_stream)) {
        stream.expires_after(limits.request_timeout);
        co_await asio::async_write(stream, asio::buffer(chunk),
                                   asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if (closing_stream) break;
      sse->timer().expires_after(limits.sse_heartbeat);
      boost::system::error_code wait_ec;
      co_await sse->timer().async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
      if (!wait_ec) {
        // Quiet for a heartbeat interval: a comment line keeps proxies and clients awake.
        static const std::string kPing = ": ping\n\n";
        stream.expires_after(limits.request_timeout);
        co_await asio::async_write(stream, asio::buffer(kPing),
                                   asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    --open_streams;
    streams.erase(entry);
    sse->finished();
  }
};

HttpServer::HttpServer(asio::io_context& io, Limits limits)
    : impl_(std::make_shared<Impl>(io, limits)) {}

HttpServer::~HttpServer() {
  boost::system::error_code ec;
  if (impl_->acceptor) impl_->acceptor->close(ec);
}

void HttpServer::route(const std::string& method, const std::string& pattern, Route r) {
  impl_->routes.push_back({method, pattern, splitPath(pattern), std::move(r)});
}
void HttpServer::setFilter(Filter f) { impl_->filter = std::move(f); }
void HttpServer::setObserver(Observer o) { impl_->observer = std::move(o); }
void HttpServer::setDecorator(Decorator d) { impl_->decorator = std::move(d); }

Status HttpServer::listen(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return Status::invalidArgument("listen address needs HOST:PORT");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Status::invalidArgument("bad listen host '" + host + "': " + ec.message());
  int port = std::atoi(address.c_str() + colon + 1);
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  tcp::acceptor acc(impl_->io);
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::unavailable("cannot listen on " + address + ": " + ec.message());
  auto local = acc.local_endpoint();
  impl_->bound = (local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                          : local.address().to_string()) +
                 ":" + std::to_string(local.port());
  impl_->acceptor.emplace(std::move(acc));
  asio::co_spawn(impl_->io, impl_->accept(), asio::detached);
  return Status::ok();
}

std::string HttpServer::address() const { return impl_->bound; }

void HttpServer::stopAccepting() {
  auto impl = impl_;
  asio::post(impl->io, [impl] {
    boost::system::error_code ec;
    if (impl->acceptor) impl->acceptor->close(ec);
  });
}

void HttpServer::closeAll() {
  auto impl = impl_;
  asio::post(impl->io, [impl] {
    impl->closing = true;
    for (auto& w : impl->streams) {
      if (auto s = w.lock()) s->close();
    }
    for (beast::tcp_stream* s : impl->idle) s->cancel();
  });
}

size_t HttpServer::openStreams() const { return impl_->open_streams.load(); }

}  // namespace agentd::server
