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
#include "proxy/affinity/affinity_picker.hpp"
#include "proxy/http/message.hpp"
#include "proxy/http1/client_stream.hpp"
#include "proxy/http1/parser.hpp"
#include "proxy/http1/session_policy.hpp"
#include "proxy/queue/queued_request.hpp"
#include "proxy/server/worker.hpp"
#include "proxy/upstream_pool/connection_pool.hpp"

namespace spillway::cache {
struct flight_event;
struct entry;
enum class cache_status : uint8_t;
}  // namespace spillway::cache

namespace spillway::http1 {

struct cache_ctx;  // session_cache.hpp

using tcp = boost::asio::ip::tcp;
using steady = std::chrono::steady_clock;

class session final : public std::enable_shared_from_this<session>,
                      public server::drainable,
                      public queue::queued_request {
 public:
  session(server::worker& w, server::listener_shared& l, tcp::socket socket);
  /// Over a TLS connection or an HTTP/2 stream instead of a plain socket.
  session(server::worker& w, server::listener_shared& l, std::shared_ptr<client_stream> stream,
          std::string client_ip, tcp::endpoint local);
  ~session();

  /// `already_read`: request bytes read before the session existed (protocol sniffing).
  void start(std::string_view already_read = {});
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
    cache_wait,       // cached route: reading the body, waiting for Redis or a coalesced flight
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
  void begin_request(bool header_deadline);  // the first byte (or the whole head) is in
  void on_request_head(size_t head_bytes);
  void route_request();  // the head is parsed: request id, target, route, policies
  bool normalise_target();
  bool names_this_listener(std::string_view authority) const;

  // exchange
  void after_policies();  // cache lookup or start_exchange()
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
  const server::runtime& rt() const noexcept { return gen_->rt(); }
  upstream::cluster& cluster() const noexcept { return *rt().clusters[cluster_]; }
  server::route_state& route_state() const noexcept { return *rt().route_states[route_]; }
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
  bool plain_response();  // a whole plain answer in the buffer, without the parser
  bool retry_on_status();
  void take_replay();
  void on_response_head();
  void build_client_head();
  bool pass_client_head();  // res_ handed to an HTTP/2 bridge instead of build_client_head()
  void do_write_client();
  void on_write_client(const error_code& ec, size_t n);
  void response_done_upstream();
  void exchange_finished();
  void next_request();
  void release_upstream(bool reusable);

  // affinity (session_affinity.cpp)
  bool affinity_begin();
  void affinity_body_progress();
  void continue_after_body();
  int pick_endpoint();
  bool another_pick_possible();
  void affinity_unavailable();
  std::string affinity_set_cookie() const;
  std::string_view affinity_record();

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
  void set_deadline(deadline_kind k, std::chrono::milliseconds d, steady::time_point now);
  void clear_deadline(deadline_kind k) { deadlines_[k] = steady::time_point::max(); }
  void rearm();
  void on_timer(const error_code& ec);
  void on_deadline(deadline_kind k);

  void record(int status, std::string_view error = {});

  // response cache (session_cache.cpp, cache/README.md "Per request")
  bool cache_begin();  // true when the cache took the request over
  void cache_read_body();
  void cache_lookup();
  void cache_after_remote(int state, std::shared_ptr<const cache::entry> e);
  void cache_join();
  void cache_go_upstream(cache::cache_status s);
  bool cache_serve(const std::shared_ptr<const cache::entry>& e, cache::cache_status s);
  void cache_on_event(const cache::flight_event& ev);
  void cache_prepare_body(framing f);  // start_exchange: the buffered body, framed
  void cache_on_response_head();
  void cache_feed();
  void cache_on_response_done();
  bool cache_on_failure();       // true when a stale entry was served instead
  bool cache_stale_on_status();  // a 5xx upstream head: serve a stale entry instead
  void cache_status_field(std::string& out) const;
  void cache_count();  // once per request, from record()
  std::string_view cache_log_value() const;
  std::string_view idempotency_log_value() const;
  void cache_reset();

  server::worker& worker_;
  server::listener_shared& listener_;
  // The runtime snapshot (and this worker's balancers and pools for it) the current exchange
  // runs on; taken from the worker when a request starts, so a reload never changes it mid-way.
  std::shared_ptr<server::generation> gen_;
  tcp::socket socket_;
  std::shared_ptr<client_stream> alt_;  // set instead of socket_ for TLS and HTTP/2 streams
  tcp::endpoint local_;
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
  steady::time_point try_started_{};  // when the slot was taken (per-endpoint latency)
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
  uint64_t res_body_bytes_ = 0;  // body of a plain_response() (no parser)
  bool client_head_sent_ = false;
  bool event_stream_ = false;
  framing client_framing_ = framing::none;
  std::string down_out_;      // bytes queued for the client
  std::string down_writing_;  // bytes being written to the client
  bool client_write_pending_ = false;
  int status_sent_ = 0;
  std::string request_id_;
  std::unique_ptr<cache_ctx> cache_;  // set for a request on a cached route

  // affinity of the current exchange (session_affinity.cpp)
  affinity::affinity_request aff_req_;
  affinity::affinity_pick aff_pick_;
  int aff_cluster_ = -1;        // cluster aff_req_ was resolved for; -1: not yet
  bool aff_used_ = false;       // a picker chose for this exchange: count and log its decision
  bool aff_wait_body_ = false;  // prefix key: reading the body before the first pick
  std::string aff_body_;        // the buffered body the prefix key is read from

  policy_exchange pol_;

  // timer
  boost::asio::steady_timer timer_;
  std::array<steady::time_point, kinds> deadlines_;
  steady::time_point armed_ = steady::time_point::max();
};

}  // namespace spillway::http1
