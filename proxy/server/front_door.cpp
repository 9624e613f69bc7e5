#include "proxy/server/front_door.hpp"

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.hpp"
#include "proxy/http1/session.hpp"
#include "proxy/http2/connection_driver.hpp"
#include "proxy/http2/session_bridge.hpp"
#include "proxy/server/tls_context.hpp"
#include "proxy/server/tls_stream.hpp"
#include "proxy/server/worker.hpp"

namespace spillway::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t sniff_bytes = 4096;  // an HTTP/1.1 request usually arrives whole in this

static_assert(static_cast<size_t>(http2::abuse::count) <= 12, "worker_stats::h2_abuse size");

void release_connection(listener_shared& l) {
  l.connections.fetch_sub(1, std::memory_order_relaxed);
}

http2::limits h2_limits(const listener_shared& l) {
  http2::limits lim;
  lim.max_header_list_bytes = static_cast<uint32_t>(
      std::min<uint64_t>(l.cfg.limits.max_header_bytes, std::numeric_limits<uint32_t>::max()));
  lim.max_concurrent_streams = l.cfg.limits.http2_max_concurrent_streams;
  lim.stream_window = static_cast<uint32_t>(l.cfg.limits.http2_stream_window);  // ≤ 2^31-1
  lim.connection_window = static_cast<uint32_t>(l.cfg.limits.http2_connection_window);
  return lim;
}

/// The HTTP/2 side of one connection: the driver, the factory its streams use, and the
/// worker's drain hook. Lives as long as the driver (its on_closed callback holds it).
template <class Stream>
class h2_connection final : public drainable {
 public:
  h2_connection(worker& w, listener_shared& l, std::string client_ip, tcp::endpoint local, bool tls)
      : worker_(w), listener_(l), factory_(w, l, client_ip, local, tls) {}

  static void start(worker& w, listener_shared& l, Stream stream, std::string client_ip,
                    tcp::endpoint local, bool tls, std::string_view already_read) {
    auto self = std::make_shared<h2_connection>(w, l, client_ip, local, tls);
    http2::driver_timeouts t;
    t.idle = l.cfg.timeouts.idle;
    t.send_stall = l.cfg.timeouts.send_stall;
    auto d = std::make_shared<http2::connection_driver<Stream>>(
        std::move(stream), self->factory_, h2_limits(l), t, std::move(client_ip));
    self->driver_ = d;
    w.register_session(*self);
    w.stats().h2_connections.add();
    w.stats().connections_open.fetch_add(1, std::memory_order_relaxed);
    d->on_closed = [self](const http2::server_connection& c) { self->closed(c); };
    d->start(already_read);
    if (w.draining()) d->shutdown();
  }

  void drain() override {
    if (auto d = driver_.lock()) d->drain();
  }

 private:
  void closed(const http2::server_connection& c) {
    if (done_) return;
    done_ = true;
    auto& st = worker_.stats();
    const auto& counts = c.abuse_counts();
    for (size_t i = 0; i < counts.size(); ++i)
      if (counts[i] > 0) st.h2_abuse[i].add(counts[i]);
    if (auto why = c.ended_for()) {
      st.h2_abuse_closed[static_cast<size_t>(*why)].add();
      log::warn("listener {}: HTTP/2 connection closed with GOAWAY: {}", listener_.cfg.name,
                http2::to_string(*why));
    }
    factory_.close_idle();
    st.connections_open.fetch_sub(1, std::memory_order_relaxed);
    release_connection(listener_);
    unlink();  // no drain after the close
  }

  worker& worker_;
  listener_shared& listener_;
  http2::session_bridge_factory factory_;
  std::weak_ptr<http2::connection_driver<Stream>> driver_;
  bool done_ = false;
};

/// Reads the first bytes of a plaintext connection on an `http2: true` listener.
class preface_sniffer final : public std::enable_shared_from_this<preface_sniffer> {
 public:
  preface_sniffer(worker& w, listener_shared& l, tcp::socket s)
      : worker_(w), listener_(l), socket_(std::move(s)), timer_(w.io()) {}

  void start() {
    timer_.expires_after(listener_.cfg.timeouts.header);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->done_) return;
      error_code ignored;
      self->socket_.close(ignored);  // the pending read fails and ends it
    });
    read();
  }

 private:
  void read() {
    const size_t have = buf_.size();
    buf_.resize(sniff_bytes);
    socket_.async_read_some(asio::buffer(buf_.data() + have, sniff_bytes - have),
                            [self = shared_from_this(), have](const error_code& ec, size_t n) {
                              self->buf_.resize(have + (ec ? 0 : n));
                              self->on_read(ec);
                            });
  }

  void on_read(const error_code& ec) {
    if (ec) return give_up();
    const std::string_view got(buf_);
    if (!http2::starts_with_preface(got)) return hand_over(false);
    if (got.size() >= 24) return hand_over(true);
    read();
  }

  void hand_over(bool h2) {
    done_ = true;
    timer_.cancel();
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    const auto remote = socket_.remote_endpoint(ec);
    if (ec) return give_up();
    if (!h2)
      return std::make_shared<http1::session>(worker_, listener_, std::move(socket_))->start(buf_);
    const auto local = socket_.local_endpoint(ec);
    h2_connection<tcp::socket>::start(worker_, listener_, std::move(socket_),
                                      remote.address().to_string(), local, false, buf_);
  }

  void give_up() {
    done_ = true;
    timer_.cancel();
    error_code ignored;
    socket_.close(ignored);
    release_connection(listener_);
  }

  worker& worker_;
  listener_shared& listener_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::string buf_;
  bool done_ = false;
};

/// The TLS handshake of one connection, then HTTP/2 or HTTP/1.1 by ALPN.
class tls_accept final : public std::enable_shared_from_this<tls_accept> {
 public:
  tls_accept(worker& w, listener_shared& l, tcp::socket s, std::shared_ptr<asio::ssl::context> ctx)
      : worker_(w),
        listener_(l),
        stream_(std::move(s), *ctx),
        hold_(std::move(ctx)),
        timer_(w.io()) {}

  void start() {
    error_code ec;
    stream_.lowest_layer().set_option(tcp::no_delay(true), ec);
    timer_.expires_after(listener_.cfg.timeouts.header);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->done_) return;
      error_code ignored;
      self->stream_.lowest_layer().close(ignored);
    });
    stream_.async_handshake(
        asio::ssl::stream_base::server,
        [self = shared_from_this()](const error_code& ec) { self->on_handshake(ec); });
  }

 private:
  void on_handshake(const error_code& ec) {
    done_ = true;
    timer_.cancel();
    error_code e2;
    const auto remote = stream_.lowest_layer().remote_endpoint(e2);
    const auto local = stream_.lowest_layer().local_endpoint(e2);
    if (ec || e2) {
      worker_.stats().tls_handshake_failures.add();
      log::debug("listener {}: TLS handshake failed: {}", listener_.cfg.name,
                 ec ? ec.message() : e2.message());
      error_code ignored;
      stream_.lowest_layer().close(ignored);
      release_connection(listener_);
      return;
    }
    worker_.stats().tls_handshakes.add();
    std::string client = remote.address().to_string();
    if (negotiated_protocol(stream_.native_handle()) == alpn_protocol::h2) {
      // Asio asks OpenSSL to free a connection's record buffers whenever they empty: a malloc
      // and free of about 17 KB around nearly every record on a busy HTTP/2 connection. Kept
      // here (about 34 KB per HTTP/2 connection); HTTP/1.1 connections, more and often idle,
      // keep releasing them.
      SSL_clear_mode(stream_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
      return h2_connection<tls_socket>::start(worker_, listener_, std::move(stream_),
                                              std::move(client), local, true, {});
    }
    std::make_shared<http1::session>(worker_, listener_,
                                     std::make_shared<tls_stream>(std::move(stream_)),
                                     std::move(client), local)
        ->start();
  }

  worker& worker_;
  listener_shared& listener_;
  tls_socket stream_;
  std::shared_ptr<asio::ssl::context> hold_;  // the context outlives the connection's SSL
  asio::steady_timer timer_;
  bool done_ = false;
};

}  // namespace

void accept_connection(worker& w, listener_shared& l, tcp::socket s) {
  if (l.cfg.tls) {
    auto ctx = l.tls();
    if (!ctx) {
      error_code ignored;
      s.close(ignored);
      release_connection(l);
      return;
    }
    std::make_shared<tls_accept>(w, l, std::move(s), std::move(ctx))->start();
    return;
  }
  if (l.cfg.http2) return std::make_shared<preface_sniffer>(w, l, std::move(s))->start();
  std::make_shared<http1::session>(w, l, std::move(s))->start();
}

}  // namespace spillway::server
