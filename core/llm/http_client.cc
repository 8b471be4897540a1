#include "llm/http_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "llm/http1.h"
#include "observability/log.h"

namespace agentd::llm {

using Clock = std::chrono::steady_clock;

const char* transportErrorName(TransportError e) {
  switch (e) {
    case TransportError::kNone:
      return "none";
    case TransportError::kConnect:
      return "connect";
    case TransportError::kTimeout:
      return "timeout";
    case TransportError::kReset:
      return "reset";
    case TransportError::kTruncated:
      return "truncated";
    case TransportError::kCancelled:
      return "cancelled";
    case TransportError::kAborted:
      return "aborted";
    case TransportError::kOther:
      return "other";
  }
  return "other";
}

namespace {

TransportError classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OK:
      return TransportError::kNone;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
      return TransportError::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportError::kTimeout;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransportError::kReset;
    case CURLE_PARTIAL_FILE:
      return TransportError::kTruncated;
    default:
      return TransportError::kOther;
  }
}

// Loopback never goes through a proxy; the environment's no_proxy list is kept.
const std::string& noProxyList() {
  static const std::string list = [] {
    std::string s;
    for (const char* name : {"NO_PROXY", "no_proxy"}) {
      if (const char* v = std::getenv(name); v && *v) {
        s = v;
        break;
      }
    }
    if (!s.empty()) s += ",";
    return s + "localhost,127.0.0.1,::1";
  }();
  return list;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

struct HttpLoop::State {
  std::recursive_mutex mu;           // held while driving; serialises drive() and the client's end
  HttpClient::Impl* impl = nullptr;  // null once the client is destroyed
};

class HttpClient::Impl {
 public:
  struct Transfer {
    uint64_t id = 0;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    HttpRequest req;
    HttpCallbacks cb;
    HttpResult result;
    Clock::time_point started;
    uint64_t first_byte_timer = 0;
    bool got_first_byte = false;
    bool head_done = false;
    bool aborted = false;
    bool cancelled = false;
    char errbuf[CURL_ERROR_SIZE] = {0};
    Impl* impl = nullptr;
    // The loopback path (easy == nullptr): the connection, the request's bytes, the response.
    std::shared_ptr<const http1::Target> target;
    int fd = -1;      // the connection this transfer holds, or -1
    size_t addr = 0;  // which of target->addrs it connects to
    bool connecting = false;
    bool reused = false;  // the connection came from the pool
    long connects = 0;
    std::string out;     // the request's head; its body is sent from req.body
    size_t out_off = 0;  // bytes of head and body sent
    std::unique_ptr<http1::ResponseReader> reader;
    uint64_t connect_timer = 0;
    uint64_t total_timer = 0;
  };

  struct Timer {
    std::multimap<Clock::time_point, uint64_t>::iterator at;
    std::function<void()> fn;
  };

  ~Impl() {
    stop_.store(true);
    wake();
    if (thread_.joinable()) thread_.join();
    if (loop_) {
      // Waits out a drive() in progress; later ones see the client gone.
      std::lock_guard<std::recursive_mutex> lock(loop_->state_->mu);
      loop_->state_->impl = nullptr;
      uint64_t one = 1;
      ssize_t n = ::write(loop_->closefd_, &one, sizeof one);
      (void)n;
    }
    for (auto& [id, t] : transfers_) {
      curl_multi_remove_handle(multi_, t->easy);
      curl_easy_cleanup(t->easy);
      curl_slist_free_all(t->headers);
    }
    transfers_.clear();
    for (const auto& [fd, conn] : direct_) close(fd);
    for (CURL* e : free_easy_) curl_easy_cleanup(e);
    if (multi_) curl_multi_cleanup(multi_);
    if (epfd_ >= 0) close(epfd_);
    if (evfd_ >= 0) close(evfd_);
  }

  Status init(const Options& options) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    multi_ = curl_multi_init();
    if (!multi_) return Status::internal("curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Impl::onSocket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Impl::onTimer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    if (options.max_host_connections > 0) {
      curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
    }
    if (options.max_connection_cache > 0) {
      curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options.max_connection_cache);
    }
    loopback_direct_ = options.loopback_direct;
    max_host_ = options.max_host_connections;
    // As libcurl's cache (4 x the transfers added): in effect, every connection a finished
    // transfer leaves is kept, unless a limit is set.
    max_idle_ = options.max_connection_cache > 0 ? options.max_connection_cache
                                                 : std::numeric_limits<long>::max();
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    evfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd_ < 0 || evfd_ < 0)
      return Status::internal("epoll/eventfd: " + std::string(strerror(errno)));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = evfd_;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev) != 0) {
      return Status::internal("epoll_ctl: " + std::string(strerror(errno)));
    }
    if (options.external_loop) return initLoop();
    thread_ = std::thread([this] { run(); });
    thread_id_.store(thread_.get_id());
    return Status::ok();
  }

  bool inEventThread() const { return std::this_thread::get_id() == thread_id_.load(); }
  std::shared_ptr<HttpLoop> loop() const { return loop_; }

  void runExclusive(const std::function<void()>& fn) {
    if (inEventThread()) {
      fn();
    } else if (loop_) {
      std::lock_guard<std::recursive_mutex> lock(loop_->state_->mu);
      Driving driving(this);
      fn();
    } else {
      std::mutex m;
      std::condition_variable cv;
      bool done = false;
      post([&] {
        fn();
        std::lock_guard<std::mutex> lock(m);
        done = true;
        cv.notify_one();
      });
      std::unique_lock<std::mutex> lock(m);
      cv.wait(lock, [&] { return done; });
    }
  }

  // One pass of the loop for an external driver; the caller holds the loop's mutex.
  int driveOnce(bool ready) {
    Driving driving(this);
    driver_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    kicked_.store(false);
    int n = 0;
    if (ready) {
      epoll_event events[64];
      n = epoll_wait(epfd_, events, 64, 0);
      handleEvents(events, n);
    }
    runPass();
    // Ready descriptors were handled: look again at once rather than trusting the outer loop to
    // see a new edge for sockets that stay readable.
    return n > 0 ? 0 : waitMillis();
  }

  // Runs fn now when on the event thread outside libcurl and the response callbacks, else
  // queues it in order.
  void dispatch(std::function<void()> fn) {
    if (inEventThread() && !in_transport_) {
      fn();
    } else {
      post(std::move(fn));
    }
  }

  void post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
    }
    // On the thread that drives an external loop, the driver's own queue is the cheaper bell.
    // kick_ is set and read on the driver's thread only: test the thread first.
    if (std::this_thread::get_id() == driver_.load(std::memory_order_relaxed) && kick_) {
      if (!kicked_.exchange(true)) kick_();
      return;
    }
    wake();
  }

  void setKick(std::function<void()> kick) { kick_ = std::move(kick); }

  uint64_t start(HttpRequest req, HttpCallbacks cb) {
    uint64_t id = next_id_.fetch_add(1);
    auto t = std::make_shared<Transfer>();
    t->id = id;
    t->req = std::move(req);
    t->cb = std::move(cb);
    t->impl = this;
    active_.fetch_add(1);
    dispatch([this, t = std::move(t)]() mutable { begin(std::move(t)); });
    return id;
  }

  void cancel(uint64_t id) {
    if (inEventThread()) {
      auto it = transfers_.find(id);
      if (it != transfers_.end()) it->second->cancelled = true;  // stops callbacks at once
    }
    dispatch([this, id] {
      auto it = transfers_.find(id);
      if (it == transfers_.end()) return;
      it->second->cancelled = true;
      finish(it->second.get(), CURLE_ABORTED_BY_CALLBACK);
    });
  }

  uint64_t runAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
    uint64_t id = next_id_.fetch_add(1);
    Clock::time_point when = Clock::now() + delay;
    dispatch([this, id, when, fn = std::move(fn)]() mutable { addTimer(when, std::move(fn), id); });
    return id;
  }

  void cancelTimer(uint64_t id) {
    dispatch([this, id] { eraseTimer(id); });
  }

  size_t activeTransfers() const { return active_.load(); }
  uint64_t connectionsOpened() const { return connections_.load(); }

 private:
  void wake() {
    uint64_t one = 1;
    ssize_t n = ::write(evfd_, &one, sizeof one);
    (void)n;
  }

  void eraseTimer(uint64_t id) {
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    timer_order_.erase(it->second.at);
    timers_.erase(it);
  }

  CURL* takeEasy() {
    if (!free_easy_.empty()) {
      CURL* e = free_easy_.back();
      free_easy_.pop_back();
      curl_easy_reset(e);
      return e;
    }
    return curl_easy_init();
  }

  void recycleEasy(CURL* e) {
    if (free_easy_.size() < 256) {
      free_easy_.push_back(e);
    } else {
      curl_easy_cleanup(e);
    }
  }

  void begin(std::shared_ptr<Transfer> t) {
    if (loopback_direct_) {
      if (auto target = loopbackTarget(t->req.url)) {
        beginDirect(std::move(t), std::move(target));
        return;
      }
    }
    CURL* e = takeEasy();
    if (!e) {
      active_.fetch_sub(1);
      post([t] {
        HttpResult r;
        r.error = TransportError::kOther;
        r.error_message = "curl_easy_init failed";
        if (!t->cancelled && t->cb.on_done) t->cb.on_done(std::move(r));
      });
      return;
    }
    t->easy = e;
    t->started = Clock::now();
    for (const auto& [k, v] : t->req.headers) {
      std::string line = k + ": " + v;
      t->headers = curl_slist_append(t->headers, line.c_str());
    }
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_URL, t->req.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(t->req.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(t->req.total_timeout.count()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    if (t->req.method == "POST") {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->req.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->req.body.size()));
    } else if (t->req.method != "GET") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->req.method.c_str());
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::onWrite);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::onHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    // Over TLS, wait for a connection that may multiplex (HTTP/2) rather than opening more;
    // cleartext HTTP/1.1 cannot multiplex, so waiting would only serialise connection setup.
    if (t->req.url.rfind("https://", 0) == 0) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, noProxyList().c_str());
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Impl::onOpenSocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Impl::onCloseSocket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    Transfer* raw = t.get();
    uint64_t id = t->id;
    transfers_.emplace(id, std::move(t));
    armFirstByteTimer(raw);
    CURLMcode mc = curl_multi_add_handle(multi_, e);
    if (mc != CURLM_OK) {
      // Reported from the loop, never from inside start().
      std::snprintf(raw->errbuf, sizeof raw->errbuf, "%s", curl_multi_strerror(mc));
      finishLater(id, CURLE_FAILED_INIT);
    }
  }

  // Event thread. id: one taken from next_id_ already, or 0 for a new one.
  uint64_t addTimer(Clock::time_point when, std::function<void()> fn, uint64_t id = 0) {
    if (id == 0) id = next_id_.fetch_add(1);
    auto at = timer_order_.emplace(when, id);
    timers_.emplace(id, Timer{at, std::move(fn)});
    return id;
  }

  void armFirstByteTimer(Transfer* t) {
    if (t->req.first_byte_timeout.count() <= 0) return;
    uint64_t id = t->id;
    t->first_byte_timer =
        addTimer(t->started + t->req.first_byte_timeout, [this, id] { firstByteTimeout(id); });
  }

  void gotFirstByte(Transfer* t) {
    t->got_first_byte = true;
    clearTimer(&t->first_byte_timer);
  }

  void firstByteTimeout(uint64_t id) {
    auto it = transfers_.find(id);
    if (it == transfers_.end() || it->second->got_first_byte) return;
    Transfer* t = it->second.get();
    t->first_byte_timer = 0;
    std::snprintf(t->errbuf, sizeof t->errbuf,
                  "no response within the first-byte timeout of %lld ms",
                  static_cast<long long>(t->req.first_byte_timeout.count()));
    finish(t, CURLE_OPERATION_TIMEDOUT);
  }

  // Removes the transfer and reports it (unless cancelled). Not called inside libcurl.
  void finish(Transfer* t, CURLcode rc) {
    auto it = transfers_.find(t->id);
    if (it == transfers_.end()) return;
    std::shared_ptr<Transfer> owned = std::move(it->second);
    transfers_.erase(it);
    active_.fetch_sub(1);
    stopTimers(owned.get());
    long conns = 0;
    if (owned->easy) {
      curl_easy_getinfo(owned->easy, CURLINFO_NUM_CONNECTS, &conns);
      curl_multi_remove_handle(multi_, owned->easy);
    } else {
      conns = owned->connects;
      if (owned->fd >= 0) closeConn(owned.get(), true);  // cancelled, timed out or failed
    }
    connections_.fetch_add(static_cast<uint64_t>(conns));
    HttpResult r = std::move(owned->result);
    r.elapsed = Clock::now() - owned->started;
    r.new_connections = conns;
    if (owned->cancelled) {
      r.error = TransportError::kCancelled;
    } else if (owned->aborted) {
      r.error = TransportError::kAborted;
      r.error_message = "aborted by the response handler";
    } else {
      r.error = classify(rc);
      if (r.error != TransportError::kNone) {
        r.error_message = owned->errbuf[0] ? owned->errbuf : curl_easy_strerror(rc);
      }
    }
    if (owned->easy) recycleEasy(owned->easy);
    curl_slist_free_all(owned->headers);
    if (owned->cancelled) return;
    if (owned->cb.on_done) owned->cb.on_done(std::move(r));
  }

  // --- The loopback path: HTTP/1.1 on connections of our own, in the same epoll set ---------

  std::shared_ptr<const http1::Target> loopbackTarget(const std::string& url) {
    auto it = targets_.find(url);
    if (it == targets_.end()) {
      if (targets_.size() >= 64) targets_.clear();  // URLs come from configuration: few
      auto t = http1::loopbackTarget(url);
      it = targets_.emplace(url, t ? std::make_shared<const http1::Target>(std::move(*t)) : nullptr)
               .first;
    }
    return it->second;
  }

  void beginDirect(std::shared_ptr<Transfer> t, std::shared_ptr<const http1::Target> target) {
    Transfer* raw = t.get();
    uint64_t id = raw->id;
    raw->target = std::move(target);
    raw->started = Clock::now();
    raw->out = http1::requestHead(raw->req, *raw->target);
    transfers_.emplace(id, std::move(t));
    armFirstByteTimer(raw);
    if (raw->req.total_timeout.count() > 0) {
      raw->total_timer = addTimer(raw->started + raw->req.total_timeout, [this, id] {
        directTimeout(id, "Operation timed out after %lld milliseconds");
      });
    }
    startDirect(raw);
  }

  // Ends t with rc: at once, or from the loop's queue while a transfer is being started (inside
  // start(), or while another transfer hands its connection over), where the caller must not
  // be called back. A connection t still holds is closed first.
  void conclude(Transfer* t, CURLcode rc) {
    if (starting_ == 0) {
      finish(t, rc);
      return;
    }
    if (t->fd >= 0) closeConn(t, true);
    t->connecting = false;
    stopTimers(t);  // its outcome is decided: no timer may overrule it before the queue runs
    finishLater(t->id, rc);
  }

  // finish(id, rc) from the loop's queue, if the transfer is still there then.
  void finishLater(uint64_t id, CURLcode rc) {
    post([this, id, rc] {
      auto it = transfers_.find(id);
      if (it != transfers_.end()) finish(it->second.get(), rc);
    });
  }

  // Erases the timer *id names, if any, and forgets it.
  void clearTimer(uint64_t* id) {
    if (*id) eraseTimer(*id);
    *id = 0;
  }

  void stopTimers(Transfer* t) {
    for (uint64_t* timer : {&t->first_byte_timer, &t->connect_timer, &t->total_timer}) {
      clearTimer(timer);
    }
  }

  // Gives t a connection (see acquire) with callbacks held back until it is done.
  void startDirect(Transfer* t) {
    ++starting_;
    acquire(t);
    --starting_;
  }

  void directTimeout(uint64_t id, const char* format) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return;
    Transfer* t = it->second.get();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t->started);
    std::snprintf(t->errbuf, sizeof t->errbuf, format, static_cast<long long>(ms.count()));
    finish(t, CURLE_OPERATION_TIMEDOUT);
  }

  // Gives t a connection: an idle one from the pool, else a new one within
  // max_host_connections, else a place in the queue until one is free.
  void acquire(Transfer* t) {
    const std::string& key = t->target->pool_key;
    auto idle = idle_.find(key);
    while (idle != idle_.end() && !idle->second.empty()) {
      int fd = idle->second.back();
      idle->second.pop_back();
      // Still open and quiet? Anything readable now (the close, or an answer nobody asked for,
      // like a 408) makes it useless.
      char c;
      ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (!(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ||
          Clock::now() - direct_[fd].idle_since > kMaxIdleAge) {
        dropConn(fd, false);
        continue;
      }
      direct_[fd].transfer = t->id;
      t->fd = fd;
      t->reused = true;
      startExchange(t);
      return;
    }
    if (max_host_ > 0 && host_conns_[key] >= max_host_) {
      waiting_[key].push_back(t->id);
      return;
    }
    connectDirect(t);
  }

  // Starts queued transfers of key while connections are free (not re-entered).
  void pumpWaiting(const std::string& key) {
    if (waiting_.empty()) return;  // nothing queued: the common case, at every request's end
    if (!pumping_.insert(key).second) return;
    for (;;) {
      auto w = waiting_.find(key);
      if (w == waiting_.end()) break;
      if (w->second.empty()) {
        waiting_.erase(w);
        break;
      }
      auto idle = idle_.find(key);
      bool free_slot = (idle != idle_.end() && !idle->second.empty()) || max_host_ <= 0 ||
                       host_conns_[key] < max_host_;
      if (!free_slot) break;
      uint64_t id = w->second.front();
      w->second.pop_front();
      auto it = transfers_.find(id);
      if (it != transfers_.end()) startDirect(it->second.get());
    }
    pumping_.erase(key);
  }

  void connectDirect(Transfer* t) {
    const sockaddr_storage& a = t->target->addrs[t->addr];
    int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      connectFailed(t, errno);
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++t->connects;
    ++host_conns_[t->target->pool_key];
    direct_[fd] = DirectConn{t->target->pool_key, t->id, 0};
    t->fd = fd;
    t->reused = false;
    socklen_t len = a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a), len) == 0) {
      startExchange(t);
      return;
    }
    if (errno != EINPROGRESS) {
      connectFailed(t, errno);
      return;
    }
    // On loopback the handshake has usually completed by now: send at once rather than after
    // a trip through the event loop (and whatever the owner queued meanwhile).
    if (finishConnect(t)) return;
    t->connecting = true;
    watch(fd, EPOLLOUT);
    if (!t->connect_timer) {
      uint64_t id = t->id;
      auto limit = t->req.connect_timeout.count() > 0 ? t->req.connect_timeout
                                                      : std::chrono::milliseconds(300000);
      t->connect_timer = addTimer(Clock::now() + limit, [this, id] {
        directTimeout(id, "Connection timed out after %lld milliseconds");
      });
    }
  }

  // If t's connect has completed (asked now, not from an event: it may be stale, for an
  // earlier socket that had the same descriptor number), goes on with its outcome and returns
  // true; false while the handshake is still under way.
  bool finishConnect(Transfer* t) {
    pollfd p{t->fd, POLLOUT, 0};
    if (poll(&p, 1, 0) != 1) return false;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      connectFailed(t, err);
    } else {
      startExchange(t);
    }
    return true;
  }

  // The next address (localhost: ::1 after 127.0.0.1), else a connect error.
  void connectFailed(Transfer* t, int err) {
    if (t->fd >= 0) closeConn(t, false);
    t->connecting = false;
    if (t->addr + 1 < t->target->addrs.size()) {
      ++t->addr;
      connectDirect(t);
      return;
    }
    std::snprintf(t->errbuf, sizeof t->errbuf, "Failed to connect to %s: %s",
                  t->target->host_header.c_str(), std::strerror(err));
    std::string key = t->target->pool_key;
    conclude(t, CURLE_COULDNT_CONNECT);
    pumpWaiting(key);  // its connection slot is free
  }

  void startExchange(Transfer* t) {
    t->connecting = false;
    clearTimer(&t->connect_timer);
    t->out_off = 0;
    http1::ResponseReader::Callbacks cb;
    cb.on_head = [t](long status, HttpHeaders headers) {
      if (t->cancelled) return false;
      t->result.headers = std::move(headers);
      return deliverHead(t, status) && !t->cancelled;
    };
    cb.on_body = [t](std::string_view chunk) {
      return onWrite(const_cast<char*>(chunk.data()), 1, chunk.size(), t) == chunk.size();
    };
    t->reader = std::make_unique<http1::ResponseReader>(std::move(cb), t->req.method == "HEAD");
    sendDirect(t);
  }

  // The final answer's status and headers (in t->result.headers) go to on_headers, on either
  // path. Returns false when on_headers refused them: the transfer is aborted.
  static bool deliverHead(Transfer* t, long status) {
    t->result.status = status;
    if (t->cb.on_headers && !t->cb.on_headers(status, t->result.headers)) {
      t->aborted = true;
      return false;
    }
    return true;
  }

  // The whole request (head and body) is out.
  static bool sent(const Transfer* t) {
    return t->out_off == t->out.size() + http1::requestBody(t->req).size();
  }

  void sendDirect(Transfer* t) {
    std::string_view body = http1::requestBody(t->req);
    while (!sent(t)) {
      // Head and body in one call, from where the last one stopped.
      iovec iov[2];
      size_t parts = 0;
      if (t->out_off < t->out.size()) {
        iov[parts++] = {t->out.data() + t->out_off, t->out.size() - t->out_off};
      }
      size_t body_off = t->out_off > t->out.size() ? t->out_off - t->out.size() : 0;
      if (body_off < body.size()) {
        iov[parts++] = {const_cast<char*>(body.data()) + body_off, body.size() - body_off};
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = parts;
      ssize_t n = ::sendmsg(t->fd, &msg, MSG_NOSIGNAL);
      if (n > 0) {
        t->out_off += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        watch(t->fd, EPOLLIN | EPOLLOUT);
        return;
      } else {
        int err = n < 0 ? errno : EPIPE;
        // The server may have answered and closed before taking the whole request (an early
        // 401 or 413): what it sent comes first.
        char c;
        if (recv(t->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
          if (starting_ > 0) {  // not inside start(): the loop reads it next
            watch(t->fd, EPOLLIN | EPOLLOUT);
            return;
          }
          int fd = t->fd;
          uint64_t id = t->id;
          readDirect(t);
          auto again = transfers_.find(id);
          if (again != transfers_.end() && again->second->fd == fd) watch(fd, EPOLLIN | EPOLLOUT);
          return;
        }
        ioFailed(t, err, CURLE_SEND_ERROR, "Send failure");
        return;
      }
    }
    watch(t->fd, EPOLLIN);
  }

  void directEvent(uint64_t id, uint32_t events) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return;
    Transfer* t = it->second.get();
    if (t->connecting) {
      finishConnect(t);
      return;
    }
    int fd = t->fd;
    if (!sent(t)) {
      if (events & EPOLLOUT) sendDirect(t);
      auto again = transfers_.find(id);
      if (again == transfers_.end() || again->second->fd != fd || again->second->connecting ||
          !again->second->reader) {
        return;  // ended, or sent again on a new connection (whatever its descriptor number)
      }
      if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    }
    readDirect(t);
  }

  // Reads what is there, up to 256 KiB a call (a fast server must not keep the loop from the
  // other transfers and the timers; the descriptor stays readable for the next pass).
  void readDirect(Transfer* t) {
    char buf[16384];
    for (int reads = 0; reads < 16; ++reads) {
      ssize_t n = ::recv(t->fd, buf, sizeof buf, 0);
      if (n > 0) {
        if (!t->got_first_byte) gotFirstByte(t);
        in_transport_ = true;
        auto state = t->reader->feed(std::string_view(buf, static_cast<size_t>(n)));
        in_transport_ = false;
        if (state != http1::ResponseReader::State::kMore) {
          endRead(t, state, false);
          return;
        }
      } else if (n == 0) {
        if (retryFresh(t)) return;
        in_transport_ = true;
        auto state = t->reader->eof();
        in_transport_ = false;
        endRead(t, state, true);
        return;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      } else {
        ioFailed(t, errno, CURLE_RECV_ERROR, "Recv failure");
        return;
      }
    }
  }

  // The response is complete, aborted or broken: t ends here.
  void endRead(Transfer* t, http1::ResponseReader::State state, bool eof) {
    using State = http1::ResponseReader::State;
    if (state == State::kDone) {
      // Not reused after an early answer (the request was not all sent) or extra bytes.
      bool reusable = !eof && t->reader->keepAlive() && t->reader->leftover() == 0 && sent(t);
      releaseConn(t, reusable);
      conclude(t, CURLE_OK);
    } else if (state == State::kAborted) {
      conclude(t, CURLE_WRITE_ERROR);
    } else {
      std::snprintf(t->errbuf, sizeof t->errbuf, "%s", t->reader->error().c_str());
      // As libcurl: a bad status line is a weird reply, a bad body framing a receive error.
      CURLcode rc = t->reader->truncated()           ? CURLE_PARTIAL_FILE
                    : !eof && !t->reader->headDone() ? CURLE_WEIRD_SERVER_REPLY
                    : !eof || t->reader->gotBytes()  ? CURLE_RECV_ERROR
                                                     : CURLE_GOT_NOTHING;
      conclude(t, rc);
    }
  }

  // A pooled connection the server had closed fails before any byte of the response: the
  // request goes again, once, on a new connection (as libcurl does).
  bool retryFresh(Transfer* t) {
    if (!t->reused || (t->reader && t->reader->gotBytes())) return false;
    closeConn(t, false);
    t->addr = 0;
    t->reader.reset();
    connectDirect(t);
    return true;
  }

  void ioFailed(Transfer* t, int err, CURLcode rc, const char* what) {
    if (retryFresh(t)) return;
    std::snprintf(t->errbuf, sizeof t->errbuf, "%s: %s", what, std::strerror(err));
    conclude(t, rc);
  }

  void watch(int fd, uint32_t events) {
    DirectConn& c = direct_[fd];
    if (c.events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epfd_, c.events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    c.events = events;
  }

  // Back to the pool (reusable) or closed; either way t no longer holds it.
  void releaseConn(Transfer* t, bool reusable) {
    std::vector<int>& idle = idle_[t->target->pool_key];
    if (!reusable || static_cast<long>(idle.size()) >= max_idle_) {
      closeConn(t, true);
      return;
    }
    int fd = t->fd;
    t->fd = -1;
    Clock::time_point now = Clock::now();
    DirectConn& conn = direct_[fd];
    conn.transfer = 0;
    conn.idle_since = now;
    watch(fd, EPOLLIN);  // an idle connection turns readable when the server closes it
    idle.push_back(fd);
    // The pool is used newest first, so the oldest sit at the front: close those too old.
    size_t old = 0;
    while (old < idle.size() && now - direct_[idle[old]].idle_since > kMaxIdleAge) ++old;
    for (size_t i = 0; i < old; ++i) dropConn(idle[i], false);
    idle.erase(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(old));
    pumpWaiting(t->target->pool_key);
  }

  void closeConn(Transfer* t, bool pump) {
    int fd = t->fd;
    t->fd = -1;
    dropConn(fd, pump);
  }

  void dropConn(int fd, bool pump) {
    auto it = direct_.find(fd);
    if (it == direct_.end()) return;
    std::string key = std::move(it->second.key);
    if (it->second.events) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    direct_.erase(it);
    close(fd);
    auto n = host_conns_.find(key);
    if (n != host_conns_.end() && --n->second <= 0) host_conns_.erase(n);
    if (pump) pumpWaiting(key);
  }

  // An idle connection turned readable: the server closed it (or sent what nobody asked for).
  void idleEvent(int fd) {
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    auto it = direct_.find(fd);
    auto idle = idle_.find(it->second.key);
    if (idle != idle_.end()) {
      auto& v = idle->second;
      v.erase(std::remove(v.begin(), v.end(), fd), v.end());
    }
    dropConn(fd, true);
  }

  static size_t onWrite(char* p, size_t size, size_t n, void* ud) {
    auto* t = static_cast<Transfer*>(ud);
    size_t len = size * n;
    if (t->cancelled) return 0;
    if (t->cb.on_data) {
      if (!t->cb.on_data(std::string_view(p, len))) {
        t->aborted = true;
        return 0;
      }
      if (t->cancelled) return 0;
    } else {
      t->result.body.append(p, len);
    }
    return len;
  }

  static size_t onHeader(char* p, size_t size, size_t n, void* ud) {
    auto* t = static_cast<Transfer*>(ud);
    size_t len = size * n;
    if (t->cancelled) return 0;
    if (!t->got_first_byte) t->impl->gotFirstByte(t);
    std::string_view line = trim(std::string_view(p, len));
    if (line.rfind("HTTP/", 0) == 0) {
      t->result.headers.clear();
      return len;
    }
    if (line.empty()) {
      long code = 0;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
      if (code >= 200 && !t->head_done) {
        t->head_done = true;
        if (!deliverHead(t, code)) return 0;
      }
      return len;
    }
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(trim(line.substr(0, colon)));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      t->result.headers[name] = std::string(trim(line.substr(colon + 1)));
    }
    return len;
  }

  // A connection socket curl stops watching stays registered ("parked"): it is most often a
  // keep-alive connection the next request asks for again, with the same events, at no
  // epoll_ctl. A parked socket that turns ready (the peer closed it) is deregistered then.
  // Connection sockets are the ones curl opens through onOpenSocket and closes through
  // onCloseSocket, which deregisters and forgets them, so a reused descriptor number is
  // registered afresh. Any other socket (the resolver's wake-up pair) is deregistered at once.
  static int onSocket(CURL*, curl_socket_t s, int what, void* userp, void*) {
    auto* self = static_cast<Impl*>(userp);
    auto it = self->sockets_.find(s);
    if (what == CURL_POLL_REMOVE) {
      if (it == self->sockets_.end()) return 0;
      if (self->connections_open_.count(s)) {
        it->second.parked = true;
      } else {
        epoll_ctl(self->epfd_, EPOLL_CTL_DEL, s, nullptr);
        self->sockets_.erase(it);
      }
      return 0;
    }
    epoll_event ev{};
    ev.data.fd = s;
    if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
    if (it != self->sockets_.end()) {
      it->second.parked = false;
      if (it->second.events == ev.events) return 0;
      it->second.events = ev.events;
      if (epoll_ctl(self->epfd_, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) {
        epoll_ctl(self->epfd_, EPOLL_CTL_ADD, s, &ev);
      }
    } else {
      self->sockets_.emplace(s, Registration{ev.events, false});
      if (epoll_ctl(self->epfd_, EPOLL_CTL_ADD, s, &ev) != 0 && errno == EEXIST) {
        epoll_ctl(self->epfd_, EPOLL_CTL_MOD, s, &ev);
      }
    }
    return 0;
  }

  // Close-on-exec, so that a child process (git, bash) holds no copy that would keep it open.
  static curl_socket_t onOpenSocket(void* userp, curlsocktype, curl_sockaddr* a) {
    auto* self = static_cast<Impl*>(userp);
    int s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s >= 0) self->connections_open_.insert(s);
    return s >= 0 ? s : CURL_SOCKET_BAD;
  }

  static int onCloseSocket(void* userp, curl_socket_t s) {
    auto* self = static_cast<Impl*>(userp);
    if (self->sockets_.erase(s)) epoll_ctl(self->epfd_, EPOLL_CTL_DEL, s, nullptr);
    self->connections_open_.erase(s);
    return close(s);
  }

  static int onTimer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    if (timeout_ms < 0) {
      self->curl_deadline_valid_ = false;
    } else {
      self->curl_deadline_valid_ = true;
      self->curl_deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
  }

  void socketAction(curl_socket_t s, int flags) {
    int running = 0;
    in_transport_ = true;
    curl_multi_socket_action(multi_, s, flags, &running);
    in_transport_ = false;
  }

  void drainMessages() {
    CURLMsg* msg;
    int left = 0;
    while ((msg = curl_multi_info_read(multi_, &left)) != nullptr) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      CURLcode rc = msg->data.result;
      if (t) finish(t, rc);
    }
  }

  int waitMillis() const {
    std::optional<Clock::time_point> next;
    if (curl_deadline_valid_) next = curl_deadline_;
    if (!timer_order_.empty() && (!next || timer_order_.begin()->first < *next)) {
      next = timer_order_.begin()->first;
    }
    if (!next) return -1;
    auto left = *next - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    // Round up so the loop never wakes just before a deadline and spins.
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
  }

  void runQueue() {
    std::deque<std::function<void()>> q;
    {
      std::lock_guard<std::mutex> lock(mu_);
      q.swap(queue_);
    }
    for (auto& fn : q) fn();
  }

  void fireTimers() {
    Clock::time_point now = Clock::now();
    while (!timer_order_.empty() && timer_order_.begin()->first <= now) {
      uint64_t id = timer_order_.begin()->second;
      auto it = timers_.find(id);
      std::function<void()> fn = std::move(it->second.fn);
      timer_order_.erase(timer_order_.begin());
      timers_.erase(it);
      fn();
    }
  }

  // Marks the calling thread as the event thread for its scope (external loop; nests).
  struct Driving {
    explicit Driving(Impl* impl)
        : impl(impl), previous(impl->thread_id_.exchange(std::this_thread::get_id())) {}
    ~Driving() { impl->thread_id_.store(previous); }
    Impl* impl;
    std::thread::id previous;
  };

  Status initLoop() {
    std::shared_ptr<HttpLoop> loop(new HttpLoop());
    loop->state_ = std::make_shared<HttpLoop::State>();
    loop->state_->impl = this;
    loop->epfd_ = fcntl(epfd_, F_DUPFD_CLOEXEC, 0);
    loop->closefd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->epfd_ < 0 || loop->closefd_ < 0) {
      return Status::internal("dup/eventfd: " + std::string(strerror(errno)));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = loop->closefd_;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, loop->closefd_, &ev) != 0) {
      return Status::internal("epoll_ctl: " + std::string(strerror(errno)));
    }
    loop_ = std::move(loop);
    return Status::ok();
  }

  void handleEvents(const epoll_event* events, int n) {
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == evfd_) {
        uint64_t v;  // one read takes the whole count and resets it
        ssize_t got = ::read(evfd_, &v, sizeof v);
        (void)got;
        continue;
      }
      if (loop_ && fd == loop_->closefd_) continue;
      if (auto d = direct_.find(fd); d != direct_.end()) {
        if (d->second.transfer == 0) {
          idleEvent(fd);
        } else {
          directEvent(d->second.transfer, events[i].events);
        }
        continue;
      }
      auto parked = sockets_.find(fd);
      if (parked != sockets_.end() && parked->second.parked) {
        epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
        sockets_.erase(parked);
        continue;
      }
      int flags = 0;
      if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
      socketAction(fd, flags);
    }
  }

  // Completed transfers, queued functions, libcurl's and our timers.
  void runPass() {
    drainMessages();
    runQueue();
    if (curl_deadline_valid_ && Clock::now() >= curl_deadline_) {
      curl_deadline_valid_ = false;
      socketAction(CURL_SOCKET_TIMEOUT, 0);
    }
    drainMessages();
    fireTimers();
    drainMessages();
  }

  void run() {
    epoll_event events[256];
    while (!stop_.load()) {
      int n = epoll_wait(epfd_, events, 256, waitMillis());
      handleEvents(events, n);
      runPass();
    }
  }

  CURLM* multi_ = nullptr;
  int epfd_ = -1;
  int evfd_ = -1;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};  // the event thread (external loop: while driving)
  std::shared_ptr<HttpLoop> loop_;            // with external_loop only
  std::atomic<std::thread::id> driver_{};     // the thread that last drove the external loop
  std::function<void()> kick_;                // the driver's wake-up (driver thread only)
  std::atomic<bool> kicked_{false};           // a kick is pending
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<size_t> active_{0};
  std::atomic<uint64_t> connections_{0};
  // Event thread only.
  bool in_transport_ = false;  // inside libcurl or a response callback: dispatch() queues
  bool curl_deadline_valid_ = false;
  Clock::time_point curl_deadline_;
  std::unordered_map<uint64_t, std::shared_ptr<Transfer>> transfers_;
  struct Registration {
    uint32_t events = 0;  // what epfd_ watches it for
    bool parked = false;  // curl does not watch it now (see onSocket)
  };
  std::unordered_map<int, Registration> sockets_;
  std::unordered_set<int> connections_open_;  // opened by onOpenSocket, not yet closed
  std::multimap<Clock::time_point, uint64_t> timer_order_;
  std::unordered_map<uint64_t, Timer> timers_;
  std::vector<CURL*> free_easy_;
  // The loopback path.
  bool loopback_direct_ = true;
  long max_host_ = 0;  // connections per host, 0 = unlimited
  long max_idle_ = 0;  // idle connections kept per host
  struct DirectConn {
    std::string key;        // the pool it belongs to (Target::pool_key)
    uint64_t transfer = 0;  // the transfer using it; 0 while idle
    uint32_t events = 0;    // what epfd_ watches it for
    Clock::time_point idle_since;
  };
  // Idle connections older than this are closed, as libcurl's CURLOPT_MAXAGE_CONN default.
  static constexpr std::chrono::seconds kMaxIdleAge{118};
  std::unordered_map<int, DirectConn> direct_;                     // every open connection
  std::unordered_map<std::string, std::vector<int>> idle_;         // pool key -> idle ones
  std::unordered_map<std::string, long> host_conns_;               // pool key -> open ones
  std::unordered_map<std::string, std::deque<uint64_t>> waiting_;  // pool key -> queued ids
  std::unordered_map<std::string, std::shared_ptr<const http1::Target>> targets_;  // by URL
  std::unordered_set<std::string> pumping_;  // pool keys whose queue is being started
  int starting_ = 0;                         // inside startDirect(): callbacks wait
};

Result<std::unique_ptr<HttpClient>> HttpClient::create(Options options) {
  auto impl = std::make_unique<Impl>();
  AGENTD_RETURN_IF_ERROR(impl->init(options));
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpLoop::~HttpLoop() {
  if (epfd_ >= 0) close(epfd_);
  if (closefd_ >= 0) close(closefd_);
}

int HttpLoop::drive(bool ready) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  if (!state_->impl) return kClosed;
  return state_->impl->driveOnce(ready);
}

void HttpLoop::setKick(std::function<void()> kick) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  if (state_->impl) state_->impl->setKick(std::move(kick));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

uint64_t HttpClient::start(HttpRequest request, HttpCallbacks callbacks) {
  return impl_->start(std::move(request), std::move(callbacks));
}
void HttpClient::cancel(uint64_t id) { impl_->cancel(id); }
void HttpClient::post(std::function<void()> fn) { impl_->post(std::move(fn)); }
void HttpClient::runExclusive(const std::function<void()>& fn) { impl_->runExclusive(fn); }
std::shared_ptr<HttpLoop> HttpClient::loop() const { return impl_->loop(); }
uint64_t HttpClient::runAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  return impl_->runAfter(delay, std::move(fn));
}
void HttpClient::cancelTimer(uint64_t id) { impl_->cancelTimer(id); }
bool HttpClient::inEventThread() const { return impl_->inEventThread(); }
size_t HttpClient::activeTransfers() const { return impl_->activeTransfers(); }
uint64_t HttpClient::connectionsOpened() const { return impl_->connectionsOpened(); }

}  // namespace agentd::llm
