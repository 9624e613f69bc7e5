// One downstream HTTP/1.1 connection and the exchanges it carries: read a request head, route,
// pick an endpoint, stream the request to a pooled upstream connection, stream the response
// back (re-framed; event streams go out as they arrive), repeat while keep-alive holds.
//
// Threading: lives on its worker's thread only (one io_context per worker, no strand needed).
// Lifetime: shared_ptr held by pending handlers; close() cancels everything.
//
// Timeouts use one lazily re-armed timer: deadlines are plain stores, and the timer is only
// moved when a deadline becomes earlier than the one it is armed for.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "proxy/http/message.hpp"
#include "proxy/http1/parser.hpp"
#include "proxy/http1/session_policy.hpp"
#include "proxy/queue/queued_request.hpp"
#include "proxy/server/worker.hpp"
#include "proxy/upstream_pool/connection_pool.hpp"

namespace spillway::http1 {

using tcp = boost::asio::ip::tcp;
using steady = std::chrono::steady_clock;

class session final : public std::enable_shared_from_this<session>,
                      public server::drainable,
                      public queue::queued_request {
 public:
  session(server::worker& w, server::listener_shared& l, tcp::socket socket);
  ~session();

  void start();
  void drain() override;
  void on_dequeued() override;  // any thread
  void on_shed() override;      // any thread

 private:
  enum class phase : unsigned char {
    read_head,        // waiting for (the rest of) a request head
    queued,           // waiting in the cluster queue for an endpoint slot
    retry_wait,       // backing off before the next try
    send_request,     // writing the request (and body) upstream
    await_response,   // request sent; waiting for the response head
    stream_response,  // response head sent downstream; body flowing
    write_local,      // writing a response we generated
    policy_wait,      // a traffic policy decides: shared rate limit, compressed body decode
    tunnel,           // WebSocket after the 101: bytes relayed both ways (session_policy.cpp)
    closed,
  };
  enum deadline_kind : unsigned char {
    client,
    upstream_connect,
    first_byte,
    upstream_idle,
    total,
    queue_wait,
    retry_wait_done,
    kinds
  };

  // downstream reads
  void do_read_client();
  void on_read_client(const error_code& ec, size_t n);
  void process_head();
  void on_request_head(size_t head_bytes);
  bool normalise_target();
  bool names_this_listener(std::string_view authority) const;

  // exchange
  void start_exchange();
  void pick_and_connect();
  void no_endpoint();
  bool should_queue() const;
  void enqueue();
  void resume_from_queue();
  void shed(server::shed_reason r);
  bool try_fallback();
  bool another_endpoint_possible();
  bool try_retry(const retry::failed_try& f, std::string_view retry_after, error e);
  void finish_try(upstream::try_result r);
  void end_exchange_accounting();
  upstream::cluster& cluster() const noexcept { return *rt_.clusters[cluster_]; }
  server::route_state& route_state() const noexcept { return *rt_.route_states[route_]; }
  void do_connect(std::vector<tcp::endpoint> addrs, size_t next);
  void on_connect(const error_code& ec, std::vector<tcp::endpoint> addrs, size_t next);
  void send_request();
  void build_upstream_head();
  void pump_request_body();
  void do_write_upstream();
  void on_write_upstream(const error_code& ec, size_t n);
  void request_sent();
  void do_read_upstream();
  void on_read_upstream(const error_code& ec, size_t n);
  void parse_response();
  bool retry_on_status();
  void take_replay();
  void on_response_head();
  void build_client_head();
  void do_write_client();
  void on_write_client(const error_code& ec, size_t n);
  void response_done_upstream();
  void exchange_finished();
  void next_request();
  void release_upstream(bool reusable);

  // traffic policies (session_policy.cpp)
  bool apply_policies();
  void on_rate_decision(const ratelimit::decision& d);
  void after_rate_limit();
  bool begin_body_decode();
  void collect_request_body();
  void finish_request_body();
  void policy_take_body();
  bool serve_fallback_response();
  bool begin_response_compression();
  void finish_response_compression();
  void start_tunnel();
  void tunnel_client_data();
  void tunnel_read_upstream();
  void tunnel_resume();
  void tunnel_client_closed();
  void send_policy_answer(int status, std::string_view content_type, std::string_view body,
                          std::string_view extra_fields, std::string_view error, bool close);
  void policy_charge();

  // failures and local answers
  void upstream_failed(error e);
  void upstream_failed_final(error e);
  void abort_stream(error e);
  void client_failed(error e);
  void send_local(int status, std::string_view code, std::string_view message, bool close);
  void finish_local();
  void close();

  // deadlines
  void set_deadline(deadline_kind k, std::chrono::milliseconds d);
  void clear_deadline(deadline_kind k) { deadlines_[k] = steady::time_point::max(); }
  void rearm();
  void on_timer(const error_code& ec);
  void on_deadline(deadline_kind k);

  void record(int status, std::string_view error = {});

  server::worker& worker_;
  server::listener_shared& listener_;
  const server::runtime& rt_;
  tcp::socket socket_;
  std::string client_ip_;

  phase phase_ = phase::read_head;
  boost::beast::flat_buffer in_;
  std::optional<request_parser> req_parser_;
  http::request_head req_;
  size_t req_head_bytes_ = 0;  // raw size of the request head, bounds what we write upstream
  bool client_read_pending_ = false;
  bool client_eof_ = false;   // the client closed its side (or errored) while we were busy
  bool close_after_ = false;  // close once the current response is written
  bool draining_ = false;
  bool head_started_ = false;  // first byte of the current request head seen
  bool expect_sent_ = false;

  // current exchange
  steady::time_point started_{};
  steady::time_point first_byte_at_{};
  int route_ = -1;
  int cluster_ = -1;
  int endpoint_ = -1;
  bool slot_held_ = false;
  std::vector<int> tried_;
  unsigned attempts_ = 0;
  std::unique_ptr<upstream_pool::upstream_connection> up_;
  bool up_reused_ = false;
  bool up_fresh_retry_done_ = false;
  bool force_fresh_ = false;        // next connection must be new (a pooled one just failed)
  uint32_t up_gen_ = 0;             // bumped whenever up_ is dropped; stale handlers compare it
  std::string sent_log_;            // request bytes sent on the current upstream connection
  std::string replay_;              // bytes to send again on the next connection (retry)
  bool replay_valid_ = true;        // false once the request outgrew the replay limit
  bool abort_after_write_ = false;  // close once the queued bytes are out (stream aborted)
  bool recorded_ = true;            // the current exchange has been counted in the stats
  error last_error_{};
  // resilience
  breaker::circuit_breaker::ticket ticket_{};
  bool try_open_ = false;       // a try holds a breaker ticket not yet reported
  queue::ticket queue_id_ = 0;  // nonzero while queued
  int queued_cluster_ = -1;
  bool budget_counted_ = false;   // route budget's request_started() called
  bool retry_slot_held_ = false;  // one retry slot of the route budget held
  uint32_t retries_done_ = 0;
  size_t fallback_next_ = 0;
  bool upstream_write_pending_ = false;
  bool upstream_read_pending_ = false;
  bool request_complete_ = false;  // whole request (with body) parsed from the client
  bool response_complete_ = false;
  std::string up_out_;      // bytes queued for the upstream
  std::string up_writing_;  // bytes being written upstream
  std::optional<response_parser> res_parser_;
  http::response_head res_;
  size_t res_head_bytes_ = 0;
  bool client_head_sent_ = false;
  bool event_stream_ = false;
  framing client_framing_ = framing::none;
  std::string down_out_;      // bytes queued for the client
  std::string down_writing_;  // bytes being written to the client
  bool client_write_pending_ = false;
  int status_sent_ = 0;
  std::string request_id_;
  policy_exchange pol_;

  // timer
  boost::asio::steady_timer timer_;
  std::array<steady::time_point, kinds> deadlines_;
  steady::time_point armed_ = steady::time_point::max();
};

}  // namespace spillway::http1
