// HTTP/2 client connection over nghttp2 (h2c with prior knowledge, or h2 via ALPN on TLS):
// up to min(--streams, the server's SETTINGS_MAX_CONCURRENT_STREAMS) requests at once. nghttp2
// runs in memory-buffer mode (mem_recv / mem_send); requests that end inside mem_recv are
// reported after it returns, so the driver may submit from its callbacks without re-entering
// nghttp2. Flow-control windows are opened wide so the client never throttles the server.
// A GOAWAY or a dead link fails the streams it carried; the next submit reconnects.
// Runs on the owning driver's thread.
#pragma once

#include <nghttp2/nghttp2.h>

#include <memory>
#include <string>
#include <vector>

#include "loadgen/connection.hpp"
#include "loadgen/request_factory.hpp"

namespace spillway::loadgen {

class http2_connection final : public connection {
 public:
  http2_connection(asio::io_context& io, const connection_config& cfg,
                   const request_factory& factory, connection_owner& owner);
  ~http2_connection() override;

  bool has_capacity() const override;
  size_t active() const override { return streams_.size() + waiting_.size(); }
  void submit(request_ctx* r) override;
  void abort(request_ctx* r, error_class why) override;
  void preconnect() override;
  void shutdown() override;

 private:
  enum class state { closed, connecting, open };

  void do_connect();
  void on_connect(const std::shared_ptr<link>& l, error_code ec, bool tls_failed);
  bool start_session();
  void start_stream(request_ctx* r);
  void flush();
  void do_read(const std::shared_ptr<link>& l);
  void on_read(const std::shared_ptr<link>& l, error_code ec, size_t n);
  void fail_all(error_class why);
  void drop_link();
  void add_stream(request_ctx* r);
  void remove_stream(request_ctx* r);
  void deliver_finished();

  static int on_header_cb(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t,
                          const uint8_t*, size_t, uint8_t, void*);
  static int on_data_cb(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int on_frame_recv_cb(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_stream_close_cb(nghttp2_session*, int32_t, uint32_t, void*);
  static ssize_t read_body_cb(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*,
                              nghttp2_data_source*, void*);

  asio::io_context& io_;
  const connection_config& cfg_;
  const request_factory& factory_;
  connection_owner& owner_;
  std::shared_ptr<link> link_;
  nghttp2_session* session_ = nullptr;
  state state_ = state::closed;
  bool ever_connected_ = false;
  bool goaway_ = false;
  bool writing_ = false;
  bool in_recv_ = false;
  uint32_t remote_max_ = 100;           // until the server's SETTINGS say otherwise
  std::vector<request_ctx*> streams_;   // started, not ended
  std::vector<request_ctx*> waiting_;   // submitted while connecting
  std::vector<request_ctx*> finished_;  // ended inside mem_recv, reported after it
  std::string out_;
  std::string in_;
  std::string authority_;
  std::string scheme_;
  std::vector<nghttp2_nv> nva_;  // header list of the request being submitted
  uint32_t data_seq_ = 0;        // numbers body deliveries, to count chunks
};

}  // namespace spillway::loadgen
