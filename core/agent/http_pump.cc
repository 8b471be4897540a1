#include "agent/http_pump.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>

#include "observability/log.h"

namespace agentd::agent {

namespace asio = boost::asio;

namespace {

class Pump : public std::enable_shared_from_this<Pump> {
 public:
  Pump(asio::io_context& io, std::shared_ptr<llm::HttpLoop> loop)
      : fd_(io), timer_(io), loop_(std::move(loop)) {}

  void start() {
    // Asio owns (and closes) its own duplicate; the loop keeps its descriptor.
    int fd = fcntl(loop_->fd(), F_DUPFD_CLOEXEC, 0);
    boost::system::error_code ec;
    if (fd >= 0) fd_.assign(fd, ec);
    if (fd < 0 || ec) {
      if (fd >= 0 && !fd_.is_open()) close(fd);
      log::error("cannot watch the model client's descriptor; model calls will not progress",
                 {{"error", fd < 0 ? std::string("dup failed") : ec.message()}});
      return;
    }
    // Work the client posts from this thread arrives as a handler, not through the descriptor.
    std::weak_ptr<Pump> weak = weak_from_this();
    loop_->setKick([weak, ex = fd_.get_executor()] {
      asio::post(ex, [weak] {
        if (auto self = weak.lock()) self->drive(false);
      });
    });
    drive(true);
  }

 private:
  using Clock = std::chrono::steady_clock;

  void drive(bool ready) {
    if (!loop_) return;  // stopped
    int next = loop_->drive(ready);
    if (next == llm::HttpLoop::kClosed) {
      stop();
      return;
    }
    if (next == 0) {
      asio::post(fd_.get_executor(), [self = shared_from_this()] { self->drive(true); });
      return;
    }
    if (!fd_waiting_) {
      fd_waiting_ = true;
      fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->fd_waiting_ = false;
                       if (!ec) self->drive(true);
                     });
    }
    if (next > 0) {
      Clock::time_point at = Clock::now() + std::chrono::milliseconds(next);
      // A wait that ends earlier than needed only costs an extra drive(); re-arm only when the
      // new deadline comes first.
      if (!timer_armed_ || at < timer_at_) {
        timer_armed_ = true;
        timer_at_ = at;
        uint64_t gen = ++timer_gen_;
        timer_.expires_at(at);
        timer_.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
          if (ec || gen != self->timer_gen_) return;
          self->timer_armed_ = false;
          self->drive(false);
        });
      }
    }
  }

  void stop() {
    boost::system::error_code ec;
    timer_.cancel();
    fd_.cancel(ec);
    fd_.close(ec);
    loop_.reset();
  }

  asio::posix::stream_descriptor fd_;
  asio::steady_timer timer_;
  std::shared_ptr<llm::HttpLoop> loop_;
  bool fd_waiting_ = false;
  bool timer_armed_ = false;
  Clock::time_point timer_at_;
  uint64_t timer_gen_ = 0;
};

}  // namespace

void driveOnIo(asio::io_context& io, std::shared_ptr<llm::HttpLoop> loop) {
  if (!loop) return;
  auto pump = std::make_shared<Pump>(io, std::move(loop));
  asio::post(io, [pump] { pump->start(); });
}

}  // namespace agentd::agent
