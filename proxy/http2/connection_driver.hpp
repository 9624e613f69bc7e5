// Drives one downstream HTTP/2 connection over a byte stream (plain TCP for h2c, or TLS after
// ALPN chose h2): reads into server_connection, writes what it produces, opens one
// http::exchange per stream through the factory and relays between them.
//
// Writes are coalesced: whatever the exchanges queue goes out in one write after the handlers
// ready at the time have run (a posted flush), and what they queue while a write is in flight
// goes out in the next one: fewer frames batches, system calls and, over TLS, records. Frames
// are never produced from inside receive() (nghttp2 forbids sending from its receive
// callbacks); the read handler flushes afterwards.
//
// Timeouts, checked once a second: `idle` (no open stream and nothing received) ends the
// connection with GOAWAY; `send_stall` (response bytes held by a zero window the client never
// opens; listeners[].timeouts.send_stall) closes it.
//
// Threading: the worker's thread only. Lifetime: shared_ptr held by its pending handlers.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/http/exchange.hpp"
#include "proxy/http2/server_connection.hpp"

namespace spillway::http2 {

struct driver_timeouts {
  std::chrono::milliseconds idle{std::chrono::seconds(60)};
  std::chrono::milliseconds send_stall{std::chrono::seconds(30)};
};

template <class Stream>
class connection_driver final : public std::enable_shared_from_this<connection_driver<Stream>>,
                                private server_connection::handler {
 public:
  connection_driver(Stream stream, http::exchange_factory& factory, const limits& l,
                    const driver_timeouts& t, std::string client_address);
  ~connection_driver() override;

  /// Starts the connection. `already_read`: bytes read while telling h2c from HTTP/1.1.
  void start(std::string_view already_read = {});
  /// GOAWAY; the connection closes once the streams in flight are done.
  void shutdown();
  /// Graceful drain: shutdown_notice(), then the final GOAWAY after a round trip (or at the
  /// next tick, 1-2 s, when the client does not answer the PING).
  void drain();
  /// Closes now; exchanges still running learn that their client is gone.
  void close();

  /// Called once when the connection is closed (stats: abuse counts, reason).
  std::function<void(const server_connection&)> on_closed;

  const server_connection& protocol() const noexcept { return conn_; }

 private:
  class port;
  struct stream_entry {
    std::unique_ptr<port> p;
    std::shared_ptr<http::exchange> ex;
    // Until open_pending(): the request as it came in the current read (see on_request()).
    http::request_head* head = nullptr;
    bool end_stream = false;
    std::string body;
    bool body_ended = false;
    const http::header_list* trailers = nullptr;
  };

  void do_read();
  void open_pending();
  void flush();
  void schedule_flush();  // a flush once the handlers ready now have run
  void arm_tick();
  void on_tick();

  // server_connection::handler
  void on_request(int32_t stream, http::request_head& head, bool end_stream) override;
  void on_body(int32_t stream, std::string_view data) override;
  void on_body_end(int32_t stream, const http::header_list* trailers) override;
  void on_stream_closed(int32_t stream, uint32_t h2_error) override;
  void on_writable(int32_t stream) override;

  Stream stream_;
  http::exchange_factory& factory_;
  driver_timeouts timeouts_;
  std::string client_address_;
  server_connection conn_;
  std::unordered_map<int32_t, stream_entry> streams_;
  std::vector<typename decltype(streams_)::node_type> spare_;  // closed streams' nodes, reused
  std::vector<int32_t> pending_;  // streams whose exchange opens once the current read is done
  boost::asio::steady_timer tick_;
  std::string in_;
  std::string out_;
  bool reading_ = false;
  bool writing_ = false;
  bool in_receive_ = false;  // inside conn_.receive(): no produce() now
  bool in_flush_ = false;
  bool flush_again_ = false;
  bool flush_posted_ = false;
  bool closed_ = false;
  bool fatal_ = false;  // protocol error: write the GOAWAY, then close
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point stalled_since_{};
  std::chrono::steady_clock::time_point notice_at_{};  // drain(): when the notice went out
};

extern template class connection_driver<boost::asio::ip::tcp::socket>;
extern template class connection_driver<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

}  // namespace spillway::http2
