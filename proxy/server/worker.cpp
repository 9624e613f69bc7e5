#include "proxy/server/worker.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "common/log.hpp"
#include "proxy/balancer/balancer_options.hpp"
#include "proxy/server/front_door.hpp"

namespace spillway::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// One listening socket of this worker (SO_REUSEPORT: every worker binds the same address).
struct worker::acceptor {
  acceptor(worker& w, listener_shared& l) : owner(w), shared(l), socket(w.io()) {}

  void do_accept() {
    socket.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
      on_accept(ec, std::move(s));
    });
  }

  void on_accept(const boost::system::error_code& ec, tcp::socket s) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !socket.is_open()) return;
      // EMFILE and friends: keep going; the next accept may succeed once descriptors free up.
      log::warn("listener {}: accept: {}", shared.cfg.name, ec.message());
      return do_accept();
    }
    owner.stats().connections_accepted.add();
    auto now_open = shared.connections.fetch_add(1, std::memory_order_relaxed) + 1;
    if (now_open > static_cast<int64_t>(shared.cfg.limits.max_connections) || owner.draining()) {
      shared.connections.fetch_sub(1, std::memory_order_relaxed);
      owner.stats().connections_refused.add();
      boost::system::error_code ignored;
      s.close(ignored);
    } else {
      accept_connection(owner, shared, std::move(s));
    }
    do_accept();
  }

  worker& owner;
  listener_shared& shared;
  tcp::acceptor socket;
};

worker::worker(size_t id, std::shared_ptr<const runtime> rt)
    : id_(id),
      // No locking inside Asio: only this worker's thread touches its io_context; other
      // threads talk to it through atomics polled by the tick.
      io_(std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE)),
      rng_(0x5eed0000ULL + id * 7919 + static_cast<uint64_t>(::time(nullptr))),
      tick_(std::make_unique<asio::steady_timer>(*io_)) {
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ >= 0) event_ = std::make_unique<asio::posix::stream_descriptor>(*io_, event_fd_);
  current_ = std::make_shared<generation>(std::move(rt), rng_);
}

worker::~worker() {
  stop();
  join();
  if (access_log_) access_log_->write(log_buffer_);
  acceptors_.clear();
  for (size_t c = 0; c < current_->clusters(); ++c) current_->pool(c).clear();
  tick_.reset();
  event_.reset();  // closes event_fd_
  io_.reset();
  mailbox_.clear();
  current_.reset();
}

boost::system::error_code worker::listen(listener_shared& l, const tcp::endpoint& at) {
  auto a = std::make_unique<acceptor>(*this, l);
  boost::system::error_code ec;
  a->socket.open(at.protocol(), ec);
  if (ec) return ec;
  a->socket.set_option(asio::socket_base::reuse_address(true), ec);
  int one = 1;
  if (::setsockopt(a->socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return {errno, boost::system::system_category()};
  a->socket.bind(at, ec);
  if (ec) return ec;
  a->socket.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  acceptors_.push_back(std::move(a));
  return {};
}

void worker::start() {
  for (auto& a : acceptors_) a->do_accept();
  do_tick();
  do_wait_mailbox();
  thread_ = std::thread([this] { io_->run(); });
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

void worker::stop() {
  stop_requested_.store(true, std::memory_order_release);
  if (!thread_.joinable()) io_->stop();
}

void worker::begin_drain() {
  drain_requested_.store(true, std::memory_order_release);
  post([this] {
    if (!draining_) drain_now();
  });
}

void worker::swap_runtime(std::shared_ptr<const runtime> rt) {
  post([this, rt = std::move(rt)]() mutable {
    auto next = std::make_shared<generation>(std::move(rt), rng_);
    if (!draining_) next->adopt_idle(*current_);
    current_ = std::move(next);
  });
}

void worker::log_request(const admin::access_record& r) {
  access_log_->format(log_buffer_, r);
  if (log_buffer_.size() >= 32 * 1024) access_log_->write(log_buffer_);
}

void worker::post(std::function<void()> fn) {
  bool was_empty;
  {
    std::lock_guard lock(mailbox_mutex_);
    was_empty = mailbox_.empty();
    mailbox_.push_back(std::move(fn));
  }
  if (was_empty && event_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
  }
}

void worker::do_wait_mailbox() {
  if (!event_) return;
  event_->async_wait(asio::posix::stream_descriptor::wait_read,
                     [this](const boost::system::error_code& ec) {
                       if (ec) return;
                       uint64_t count;
                       [[maybe_unused]] auto n = ::read(event_fd_, &count, sizeof count);
                       run_mailbox();
                       do_wait_mailbox();
                     });
}

void worker::run_mailbox() {
  {
    std::lock_guard lock(mailbox_mutex_);
    mailbox_running_.swap(mailbox_);
  }
  for (auto& fn : mailbox_running_) fn();
  mailbox_running_.clear();
}

void worker::drain_now() {
  draining_ = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ignored;
    a->socket.close(ignored);
  }
  for (size_t c = 0; c < current_->clusters(); ++c) current_->pool(c).clear();
  // drain() may close (and unlink) the session; advance before calling it.
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto& s = *it++;
    s.drain();
  }
}

void worker::do_tick() {
  tick_->expires_after(tick_period);
  tick_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    if (stop_requested_.load(std::memory_order_acquire)) return io_->stop();
    if (!draining_ && drain_requested_.load(std::memory_order_acquire)) drain_now();
    if (access_log_ && !log_buffer_.empty()) access_log_->write(log_buffer_);
    if (++ticks_ % 10 == 0) {
      const auto now = std::chrono::steady_clock::now();
      for (size_t c = 0; c < current_->clusters(); ++c) current_->pool(c).sweep(now);
    }
    do_tick();
  });
}

}  // namespace spillway::server
