#include "proxy/http1/session.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <cstring>

#include "common/log.hpp"
#include "config/address.hpp"
#include "proxy/http1/session_cache.hpp"

namespace spillway::http1 {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

namespace {
constexpr size_t read_chunk = 16 * 1024;
constexpr size_t watch_limit = 64 * 1024;
}  // namespace

session::session(server::worker& w, server::listener_shared& l, tcp::socket socket)
    : worker_(w), listener_(l), gen_(w.current()), socket_(std::move(socket)), timer_(w.io()) {
  deadlines_.fill(steady::time_point::max());
}

session::session(server::worker& w, server::listener_shared& l,
                 std::shared_ptr<client_stream> stream, std::string client_ip, tcp::endpoint local)
    : worker_(w),
      listener_(l),
      gen_(w.current()),
      socket_(w.io()),
      alt_(std::move(stream)),
      local_(local),
      client_ip_(std::move(client_ip)),
      timer_(w.io()) {
  deadlines_.fill(steady::time_point::max());
}

session::~session() {
  // An HTTP/2 stream's session is not a connection: its connection counts itself.
  if (!alt_ || !alt_->http2_stream()) {
    listener_.connections.fetch_sub(1, std::memory_order_relaxed);
    worker_.stats().connections_open.fetch_sub(1, std::memory_order_relaxed);
  }
  if (slot_held_) rt().clusters[cluster_]->at(endpoint_).release();
}

void session::start(std::string_view already_read) {
  worker_.register_session(*this);
  if (!alt_ || !alt_->http2_stream())
    worker_.stats().connections_open.fetch_add(1, std::memory_order_relaxed);
  if (!alt_) {
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    auto remote = socket_.remote_endpoint(ec);
    if (ec) return close();
    client_ip_ = remote.address().to_string();
  }
  set_deadline(client, listener_.cfg.timeouts.header);
  if (already_read.empty()) return do_read_client();
  const size_t n =
      boost::asio::buffer_copy(in_.prepare(already_read.size()), boost::asio::buffer(already_read));
  in_.commit(n);
  process_head();
}

void session::drain() {
  draining_ = true;
  if (phase_ == phase::read_head && !head_started_ && in_.size() == 0)
    close();
  else
    close_after_ = true;
}

// ---------------------------------------------------------------- downstream reads

void session::do_read_client() {
  if (client_read_pending_ || phase_ == phase::closed || client_eof_) return;
  client_read_pending_ = true;
  const auto buf = in_.prepare(read_chunk);
  // A consume() of every readable byte while this read is pending rewinds the flat_buffer
  // (its storage stays): the bytes that arrived move to where commit() takes them.
  auto done = [self = shared_from_this(), at = static_cast<const char*>(buf.data())](
                  const error_code& ec, size_t n) {
    if (!ec && n > 0) {
      const auto dst = self->in_.prepare(n);
      if (dst.data() != at) std::memmove(dst.data(), at, n);
    }
    self->on_read_client(ec, n);
  };
  if (alt_) return alt_->async_read_some(buf, std::move(done));
  socket_.async_read_some(buf, std::move(done));
}

void session::on_read_client(const error_code& ec, size_t n) {
  client_read_pending_ = false;
  if (phase_ == phase::closed) return;
  if (ec) {
    client_eof_ = true;
    if (phase_ == phase::tunnel) return tunnel_client_closed();  // session_policy.cpp
    if (phase_ == phase::write_local) {
      close_after_ = true;  // finish writing the answer, then close
      return;
    }
    if (phase_ != phase::read_head && !recorded_) record(499);
    return close();
  }
  in_.commit(n);
  switch (phase_) {
    case phase::read_head:
      return process_head();
    case phase::send_request:
      return pump_request_body();
    case phase::cache_wait:
      return cache_read_body();
    case phase::policy_wait:
      return collect_request_body();
    case phase::tunnel:
      return tunnel_client_data();
    default:
      // Busy with the exchange: keep what arrived (a pipelined request, or the body of a queued
      // one) and keep watching for a disconnect, within a bound.
      if (in_.size() < watch_limit) do_read_client();
      return;
  }
}

void session::process_head() {
  if (!req_parser_ && alt_ && in_.size() == 0 && alt_->take_head(req_)) {
    // No parser: the request has no body, and its head is already checked (client_stream.hpp).
    // Its size is that of its HTTP/1.1 text, for the same header limit.
    begin_request(false);
    req_head_bytes_ = req_.method.size() + req_.target.size() + 14;
    for (size_t i = 0; i < req_.headers.size(); ++i)
      req_head_bytes_ += req_.headers.name(i).size() + req_.headers.value(i).size() + 4;
    if (req_head_bytes_ > listener_.cfg.limits.max_header_bytes)
      return send_local(431, "request_header_too_large", "request header too large", true);
    return route_request();
  }
  if (!req_parser_) {
    req_.clear();
    req_parser_.emplace(req_);
    req_parser_->header_limit(static_cast<uint32_t>(listener_.cfg.limits.max_header_bytes));
    req_parser_->body_limit(listener_.cfg.limits.max_body_bytes);
    req_parser_->eager(false);
  }
  if (in_.size() == 0) return do_read_client();
  if (!head_started_) begin_request(true);
  error_code ec;
  size_t used = req_parser_->put(in_.data(), ec);
  if (ec == bhttp::error::need_more) {
    if (in_.size() > listener_.cfg.limits.max_header_bytes)
      return send_local(431, "request_header_too_large", "request header too large", true);
    return do_read_client();
  }
  if (ec == bhttp::error::header_limit)
    return send_local(431, "request_header_too_large", "request header too large", true);
  if (ec == bhttp::error::body_limit)
    return send_local(413, "request_too_large", "request body too large", true);
  if (ec) return send_local(400, "bad_request", "malformed request: " + ec.message(), true);
  on_request_head(used);
}

void session::begin_request(bool header_deadline) {
  head_started_ = true;
  recorded_ = false;
  route_ = -1;
  cluster_ = -1;
  endpoint_ = -1;
  if (gen_ != worker_.current()) gen_ = worker_.current();
  attempts_ = 0;
  started_ = steady::now();
  first_byte_at_ = {};
  if (header_deadline) set_deadline(client, listener_.cfg.timeouts.header, started_);
}

void session::on_request_head(size_t head_bytes) {
  const std::string_view raw(static_cast<const char*>(in_.data().data()), head_bytes);
  // An HTTP/2 stream's head was written by its bridge from fields nghttp2 validated (RFC 9113
  // §8.2.1: no NUL, CR or LF), one per CRLF line.
  if ((!alt_ || !alt_->http2_stream()) && !raw_head_is_clean(raw))
    return send_local(400, "bad_request", "malformed request: invalid characters or line folding",
                      true);
  in_.consume(head_bytes);
  req_head_bytes_ = head_bytes;
  route_request();
}

void session::route_request() {
  clear_deadline(client);

  auto rid = req_.headers.find("x-request-id");
  if (rid && !rid->empty() && rid->size() <= 200) {
    request_id_.assign(*rid);
  } else {
    static constexpr char hex[] = "0123456789abcdef";
    request_id_.resize(32);
    uint64_t a = worker_.rng().next(), b = worker_.rng().next();
    for (int i = 0; i < 16; ++i) {
      request_id_[i] = hex[(a >> (i * 4)) & 0xf];
      request_id_[16 + i] = hex[(b >> (i * 4)) & 0xf];
    }
  }
  if (!normalise_target())
    return send_local(400, "bad_request", "request target must be origin-form for this host", true);
  route_ = rt().routes.match(req_);
  if (route_ < 0)
    return send_local(404, "no_route",
                      "no route for " + req_.method + " " + std::string(req_.path()),
                      req_.has_body());
  cluster_ = rt().route_cluster[route_];
  if (apply_policies()) return;  // session_policy.cpp; continues in after_policies()
  after_policies();
}

void session::after_policies() {
  if (cache_begin()) return;  // session_cache.cpp
  start_exchange();
}

bool session::normalise_target() {
  std::string_view t = req_.target;
  if (!t.empty() && t.front() == '/') return true;
  if (t == "*") return req_.method == "OPTIONS";
  size_t scheme_end = 0;
  if (t.size() > 7 && http::iequals(t.substr(0, 7), "http://"))
    scheme_end = 7;
  else
    return false;  // https, authority-form (CONNECT) or garbage: we are not a forward proxy
  auto slash = t.find('/', scheme_end);
  auto authority =
      t.substr(scheme_end, slash == std::string_view::npos ? t.npos : slash - scheme_end);
  // Absolute-form is accepted only when it names this listener; anything else would make us an
  // open proxy for whatever host the client chooses (RFC 9112 §3.2.2).
  if (!names_this_listener(authority)) return false;
  req_.target = slash == std::string_view::npos ? std::string("/") : std::string(t.substr(slash));
  return true;
}

bool session::names_this_listener(std::string_view authority) const {
  auto hp = config::parse_host_port(authority);
  if (!hp) {
    hp = config::parse_host_port(std::string(authority) + ":80");
    if (!hp) return false;
  }
  error_code ec;
  const auto local = alt_ ? local_ : socket_.local_endpoint(ec);
  if (ec || hp->port != local.port()) return false;
  if (http::iequals(hp->host, "localhost")) return local.address().is_loopback();
  auto addr = boost::asio::ip::make_address(hp->host, ec);
  if (!ec) return addr == local.address();
  auto configured = config::parse_host_port(listener_.cfg.address);
  return configured && http::iequals(configured->host, hp->host);
}

// ---------------------------------------------------------------- deadlines

void session::set_deadline(deadline_kind k, std::chrono::milliseconds d) {
  if (d.count() <= 0) return clear_deadline(k);
  set_deadline(k, d, steady::now());
}

void session::set_deadline(deadline_kind k, std::chrono::milliseconds d, steady::time_point now) {
  if (d.count() <= 0) return clear_deadline(k);
  deadlines_[k] = now + d;
  if (deadlines_[k] < armed_) rearm();
}

void session::rearm() {
  steady::time_point next = steady::time_point::max();
  for (auto t : deadlines_) next = std::min(next, t);
  armed_ = next;
  if (next == steady::time_point::max()) return;
  timer_.expires_at(next);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_timer(ec); });
}

void session::on_timer(const error_code& ec) {
  if (ec || phase_ == phase::closed) return;  // aborted: re-armed earlier, or closed
  armed_ = steady::time_point::max();
  const auto now = steady::now();
  for (int k = 0; k < kinds; ++k) {
    if (deadlines_[k] <= now) {
      deadlines_[k] = steady::time_point::max();
      on_deadline(static_cast<deadline_kind>(k));
      if (phase_ == phase::closed) return;
    }
  }
  if (armed_ == steady::time_point::max()) rearm();
}

void session::on_deadline(deadline_kind k) {
  switch (k) {
    case client:
      if (phase_ == phase::cache_wait && cache_ && !cache_->body_done)
        return send_local(408, "request_timeout", "request body not received in time", true);
      if (phase_ == phase::read_head && head_started_)
        return send_local(408, "request_timeout", "request not received in time", true);
      if (phase_ == phase::send_request) {
        release_upstream(false);
        return send_local(408, "request_timeout", "request body not received in time", true);
      }
      return close();
    case upstream_connect:
      return upstream_failed(upstream_error(errc::connect_timeout, true));
    case first_byte:
      // Retried only when the route lists `timeout` (the endpoint may have seen the request).
      return upstream_failed(upstream_error(errc::first_byte_timeout, true));
    case upstream_idle:
      return upstream_failed(upstream_error(errc::upstream_idle_timeout, false));
    case total:
      if (phase_ == phase::queued || phase_ == phase::retry_wait) {
        end_exchange_accounting();
        return send_local(504, "total_timeout", "request exceeded the total timeout",
                          !request_complete_);
      }
      return upstream_failed(upstream_error(errc::total_timeout, false));
    case queue_wait:
      if (phase_ != phase::queued) return;
      if (!rt().clusters[queued_cluster_]->queue().cancel(queue_id_)) return;  // already woken
      queue_id_ = 0;
      return shed(server::shed_reason::queue_timeout);
    case retry_wait_done:
      if (phase_ != phase::retry_wait) return;
      phase_ = phase::send_request;
      return pick_and_connect();
    case kinds:
      break;
  }
}

// ---------------------------------------------------------------- stats

void session::record(int status, std::string_view error) {
  if (recorded_) return;
  recorded_ = true;
  policy_charge();
  admin::route_stats& rs =
      route_ >= 0 ? *rt().stats[worker_.id()].routes[route_] : worker_.stats().unrouted;
  rs.by_status[std::clamp(status, 0, admin::max_status - 1)].add();
  const auto now = steady::now();
  const double duration = std::chrono::duration<double>(now - started_).count();
  rs.duration.observe(duration);
  const bool got_first_byte = first_byte_at_ != steady::time_point{};
  const double ttfb =
      got_first_byte ? std::chrono::duration<double>(first_byte_at_ - started_).count() : -1;
  if (got_first_byte) rs.ttfb.observe(ttfb);
  const std::string_view affinity = affinity_record();
  cache_count();
  if (!worker_.logging()) return;
  admin::access_record r;
  r.request_id = request_id_;
  r.method = req_.method;
  r.path = req_.path();
  r.client = client_ip_;
  if (alt_ && alt_->http2_stream())
    r.protocol = "HTTP/2";
  else if (req_.version == 10)
    r.protocol = "HTTP/1.0";
  r.tls = alt_ && std::string_view(alt_->scheme()) == "https";
  r.status = status;
  r.duration_ms = duration * 1e3;
  r.ttfb_ms = got_first_byte ? ttfb * 1e3 : -1;
  r.attempts = attempts_;
  r.affinity = affinity;
  r.error = error;
  if (route_ >= 0) r.route = rt().config->routes[route_].name;
  r.cache = cache_log_value();
  r.idempotency = idempotency_log_value();
  if (cluster_ >= 0 && route_ >= 0) r.cluster = cluster().name();
  if (cluster_ >= 0 && endpoint_ >= 0 && attempts_ > 0)
    r.endpoint = cluster().at(endpoint_).address;
  if (req_parser_) r.bytes_in = req_parser_->body_bytes();
  r.bytes_out = res_parser_ ? res_parser_->body_bytes() : res_body_bytes_;
  worker_.log_request(r);
}

// ---------------------------------------------------------------- teardown

void session::close() {
  if (phase_ == phase::closed) return;
  phase_ = phase::closed;
  end_exchange_accounting();
  release_upstream(false);
  cache_reset();
  timer_.cancel();
  if (alt_) return alt_->close();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace spillway::http1
