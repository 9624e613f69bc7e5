// The traffic-policy half of http1::session (SPEC §2.2 Traffic policy), run between routing and
// the exchange: the weighted cluster split, the rate limit (local, or shared through Redis,
// which makes the session wait in phase policy_wait), and decoding a compressed request body
// (collected whole, decoded under a cap, then sent upstream with a Content-Length). Also the
// route's fallback_response, the last answer when nothing upstream can give one, and the token
// charge of the answer once it is out.
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <cmath>

#include "proxy/affinity/key.hpp"
#include "proxy/http1/session.hpp"

namespace spillway::http1 {

namespace bhttp = boost::beast::http;

namespace {

constexpr size_t watch_limit = 64 * 1024;

uint64_t seconds_up(std::chrono::milliseconds ms) {
  return static_cast<uint64_t>((ms.count() + 999) / 1000);
}

void append_rate_fields(std::string& out, const ratelimit::decision& d) {
  out.append("X-RateLimit-Limit: ").append(std::to_string(d.limit));
  out.append("\r\nX-RateLimit-Remaining: ").append(std::to_string(d.remaining));
  out.append("\r\nX-RateLimit-Reset: ").append(std::to_string(seconds_up(d.reset)));
  out.append("\r\n");
}

}  // namespace

// Returns true when the policies took over the request (an answer, or a wait); false when the
// exchange may start now.
bool session::apply_policies() {
  pol_.reset();
  if (rt().config->routes[route_].websocket && req_.method == "GET") {
    const auto upgrade = req_.headers.find(http::field_id::upgrade);
    pol_.websocket = upgrade && http::iequals(*upgrade, "websocket");
  }
  auto& traffic = route_state().traffic;
  if (traffic.split.splits()) {
    const auto& first = rt().config->find_cluster(rt().config->routes[route_].clusters[0].name);
    std::optional<uint64_t> key;
    if (first) key = affinity::affinity_key(first->affinity, req_, {});
    const int picked = traffic.split.pick(key, worker_.rng().next());
    if (picked >= 0) cluster_ = picked;
  }
  if (auto* limiter = traffic.limiter.get()) {
    pol_.rate_key = limiter->key_of(req_, client_ip_);
    if (limiter->shared()) {
      phase_ = phase::policy_wait;
      auto& w = worker_;
      limiter->check_shared(
          pol_.rate_key, [&w](cache::task t) { w.post(std::move(t)); },
          [self = shared_from_this(), gen = pol_.gen](ratelimit::decision d) {
            if (self->phase_ != phase::policy_wait || gen != self->pol_.gen) return;
            self->on_rate_decision(d);
          });
      if (in_.size() < watch_limit) do_read_client();  // notice a client that goes away
      return true;
    }
    const auto d = limiter->check_local(pol_.rate_key);
    if (!d.allowed) {
      on_rate_decision(d);
      return true;
    }
    append_rate_fields(pol_.headers, d);
    pol_.metering = limiter->limits_tokens();
    if (pol_.metering) pol_.meter.reset();
  }
  return begin_body_decode();
}

// Starts collecting a request body compressed in a coding the route accepts; false when the
// body goes upstream as it comes.
bool session::begin_body_decode() {
  const auto& comp = rt().config->routes[route_].compression;
  if (!comp || !req_.has_body()) return false;
  const auto ce = req_.headers.find(http::field_id::content_encoding);
  if (!ce) return false;
  const auto coding = compression::coding_of(*ce);
  if (!coding || *coding == compression::coding::identity) return false;
  bool accepted = false;
  for (const auto& name : comp->request)
    accepted = accepted || compression::coding_of(name) == coding;
  if (!accepted) return false;
  pol_.coding = *coding;
  pol_.collecting = true;
  phase_ = phase::policy_wait;
  req_parser_->body().reset(&pol_.raw_body, framing::length);
  req_parser_->eager(true);
  if (req_.expect_continue && in_.size() == 0) {
    expect_sent_ = true;
    down_out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    if (!client_write_pending_) do_write_client();
  }
  set_deadline(client, listener_.cfg.timeouts.idle);
  collect_request_body();
  return true;
}

void session::on_rate_decision(const ratelimit::decision& d) {
  if (d.allowed) {
    append_rate_fields(pol_.headers, d);
    auto* limiter = route_state().traffic.limiter.get();
    pol_.metering = limiter->limits_tokens();
    if (pol_.metering) pol_.meter.reset();
    return after_rate_limit();
  }
  std::string fields =
      "Retry-After: " + std::to_string(std::max<uint64_t>(1, seconds_up(d.retry_after))) + "\r\n";
  append_rate_fields(fields, d);
  const bool tokens = d.reason == ratelimit::limit_reason::tokens;
  const std::string message = tokens ? "token budget of this key is spent; retry later"
                                     : "request rate limit of this key exceeded; retry later";
  std::string body = "{\"error\": {\"message\": \"" + message +
                     "\", \"type\": \"rate_limit_error\", \"code\": \"" +
                     (tokens ? "token_budget_exceeded" : "rate_limited") + "\"}}\n";
  send_policy_answer(429, "application/json", body, fields,
                     tokens ? "rate_limited: tokens" : "rate_limited: requests", req_.has_body());
}

void session::after_rate_limit() {
  phase_ = phase::read_head;
  if (!begin_body_decode()) after_policies();
}

void session::collect_request_body() {
  if (!pol_.collecting) {
    // Waiting for Redis: keep what arrives, within a bound, and watch for a disconnect.
    if (in_.size() < watch_limit) do_read_client();
    return;
  }
  if (in_.size() > 0 && !req_parser_->is_done()) {
    error_code ec;
    const size_t used = req_parser_->put(in_.data(), ec);
    in_.consume(used);
    if (ec && ec != bhttp::error::need_more) {
      pol_.collecting = false;
      if (ec == bhttp::error::body_limit)
        return send_local(413, "request_too_large", "request body too large", true);
      return send_local(400, "bad_request", "malformed request body: " + ec.message(), true);
    }
  }
  if (req_parser_->is_done()) return finish_request_body();
  do_read_client();
}

void session::finish_request_body() {
  pol_.collecting = false;
  clear_deadline(client);
  auto& traffic = route_state().traffic;
  const auto& comp = *rt().config->routes[route_].compression;
  const uint64_t cap =
      comp.max_decoded_bytes ? comp.max_decoded_bytes : listener_.cfg.limits.max_body_bytes;
  auto out = compression::decode(pol_.coding, pol_.raw_body, cap);
  pol_.raw_body.clear();
  pol_.raw_body.shrink_to_fit();
  if (out.status != compression::decode_status::ok) {
    traffic.refused_bodies.fetch_add(1, std::memory_order_relaxed);
    if (out.status == compression::decode_status::too_large)
      return send_local(413, "request_too_large", "request body too large once decoded", false);
    return send_local(400, "bad_request",
                      std::string("request body is not valid ") + to_string(pol_.coding), false);
  }
  traffic.decoded_requests.fetch_add(1, std::memory_order_relaxed);
  // The upstream gets the decoded body with its length; Content-Encoding goes away.
  http::header_list kept;
  for (size_t i = 0; i < req_.headers.size(); ++i) {
    const auto id = req_.headers.id(i);
    if (id == http::field_id::content_encoding || id == http::field_id::content_length ||
        id == http::field_id::transfer_encoding)
      continue;
    kept.add(req_.headers.name(i), req_.headers.value(i), id);
  }
  req_.headers = std::move(kept);
  req_.chunked = false;
  req_.content_length = out.data.size();
  pol_.decoded = std::move(out.data);
  pol_.has_decoded = true;
  phase_ = phase::read_head;
  after_policies();
}

void session::policy_take_body() {
  if (!pol_.has_decoded) return;
  pol_.has_decoded = false;
  up_out_ = std::move(pol_.decoded);
  pol_.decoded.clear();
  request_complete_ = true;
}

bool session::serve_fallback_response() {
  if (route_ < 0 || client_head_sent_ || phase_ == phase::closed) return false;
  const auto& fr = rt().config->routes[route_].fallback_response;
  if (!fr) return false;
  release_upstream(false);
  route_state().traffic.fallback_responses.fetch_add(1, std::memory_order_relaxed);
  send_policy_answer(fr->status, fr->content_type, fr->body, "X-Spillway-Fallback: response\r\n",
                     "fallback_response", !request_complete_);
  return true;
}

void session::send_policy_answer(int status, std::string_view content_type, std::string_view body,
                                 std::string_view extra_fields, std::string_view error,
                                 bool close) {
  if (phase_ == phase::closed) return;
  phase_ = phase::write_local;
  status_sent_ = status;
  if (close) close_after_ = true;
  pol_.metering = false;
  record(status, error);
  std::string& o = down_out_;
  o.append("HTTP/1.1 ").append(std::to_string(status)).push_back(' ');
  o.append(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
  o.append("\r\nContent-Type: ").append(content_type);
  o.append("\r\nContent-Length: ").append(std::to_string(body.size()));
  o.append("\r\nX-Request-Id: ").append(request_id_).append("\r\n");
  o.append(extra_fields);
  if (close_after_ || draining_) o.append("Connection: close\r\n");
  o.append("\r\n");
  if (req_.method != "HEAD") o.append(body);
  if (!client_write_pending_) do_write_client();
}

void session::policy_charge() {
  if (!pol_.metering || route_ < 0) return;
  pol_.metering = false;
  if (auto* limiter = route_state().traffic.limiter.get())
    limiter->charge(pol_.rate_key, pol_.meter.tokens());
}

}  // namespace spillway::http1

namespace spillway::http1 {

namespace {

// Answers worth compressing: text and the structured formats LLM APIs send. Event streams are
// never compressed (each event must reach the client as it comes).
bool compressible(std::string_view content_type) {
  if (content_type.starts_with("text/event-stream")) return false;
  return content_type.starts_with("text/") || content_type.find("json") != content_type.npos ||
         content_type.find("xml") != content_type.npos ||
         content_type.find("javascript") != content_type.npos;
}

// Responses are buffered whole to be compressed; larger ones stream through as they are.
constexpr uint64_t max_compressed_response = 8 * 1024 * 1024;

}  // namespace

// Called with every final response head: starts metering the answer's tokens when the route's
// rate limit has a token budget. Then, when the route compresses responses and the client
// accepts a coding we offer, buffers the body (Content-Length framed, min_bytes and up, not an
// event stream, not encoded already) instead of streaming it. The head goes out with the body
// in finish_response_compression().
bool session::begin_response_compression() {
  if (route_ < 0) return false;
  if (pol_.metering) {
    // The answer's tokens, read from the body as it comes, before any re-framing.
    res_parser_->body().tap(
        [](void* meter, std::string_view data) {
          static_cast<ratelimit::usage_meter*>(meter)->feed(data);
        },
        &pol_.meter);
  }
  const auto& comp = rt().config->routes[route_].compression;
  if (!comp || comp->response.empty()) return false;
  if (req_.method == "HEAD" || res_.status < 200 || res_.status == 204 || res_.status == 304)
    return false;
  if (!res_.content_length || *res_.content_length < comp->min_bytes ||
      *res_.content_length > max_compressed_response)
    return false;
  if (res_.headers.find(http::field_id::content_encoding)) return false;
  const auto type = res_.headers.find(http::field_id::content_type);
  if (!type || !compressible(*type)) return false;
  const auto accept = req_.headers.find(http::field_id::accept_encoding);
  if (!accept) return false;
  const auto coding = compression::negotiate(*accept, comp->response);
  if (coding == compression::coding::identity) return false;
  pol_.compressing = true;
  pol_.res_coding = coding;
  pol_.res_body.clear();
  pol_.res_body.reserve(*res_.content_length);
  phase_ = phase::stream_response;
  clear_deadline(first_byte);
  client_head_sent_ = true;  // from here the exchange is past retries, as for a streamed answer
  status_sent_ = res_.status;
  res_parser_->body().reset(&pol_.res_body, framing::length);
  res_parser_->eager(true);
  if (res_parser_->is_done()) {
    response_complete_ = true;
    response_done_upstream();
  }
  return true;
}

void session::finish_response_compression() {
  pol_.compressing = false;
  std::string packed = compression::encode(pol_.res_coding, pol_.res_body);
  if (packed.empty() || packed.size() >= pol_.res_body.size()) {
    packed.clear();
    res_.content_length = pol_.res_body.size();
    build_client_head();
    down_out_.append(pol_.res_body);
  } else {
    route_state().traffic.compressed_responses.fetch_add(1, std::memory_order_relaxed);
    pol_.headers.append("Content-Encoding: ")
        .append(to_string(pol_.res_coding))
        .append("\r\nVary: Accept-Encoding\r\n");
    res_.content_length = packed.size();
    build_client_head();
    down_out_.append(packed);
  }
  pol_.res_body.clear();
  pol_.res_body.shrink_to_fit();
}

}  // namespace spillway::http1

namespace spillway::http1 {

namespace {
constexpr size_t tunnel_chunk = 16 * 1024;
constexpr size_t tunnel_high_water = 64 * 1024;
}  // namespace

// The upstream accepted the upgrade: the 101 goes to the client and from here bytes flow both
// ways unchanged (RFC 6455 §4: after the handshake it is no longer HTTP). Either side closing,
// or no bytes either way for the route's idle timeout, closes both.
void session::start_tunnel() {
  using f = http::field_id;
  clear_deadline(first_byte);
  clear_deadline(upstream_idle);
  finish_try(upstream::try_result::success);
  phase_ = phase::tunnel;
  client_head_sent_ = true;
  status_sent_ = 101;
  close_after_ = true;  // the connection never returns to HTTP
  std::string& o = down_out_;
  o.append("HTTP/1.1 101 Switching Protocols\r\n");
  bool has_request_id = false;
  for (size_t i = 0; i < res_.headers.size(); ++i) {
    const auto id = res_.headers.id(i);
    if (http::is_hop_by_hop(id) || id == f::content_length) continue;
    const auto name = res_.headers.name(i);
    if (id == f::unknown && http::iequals(name, "x-request-id")) has_request_id = true;
    o.append(name).append(": ").append(res_.headers.value(i)).append("\r\n");
  }
  if (!has_request_id) o.append("X-Request-Id: ").append(request_id_).append("\r\n");
  o.append("Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  // Frames the upstream sent right behind its 101.
  const auto rest = up_->buffer.data();
  o.append(static_cast<const char*>(rest.data()), rest.size());
  up_->buffer.consume(rest.size());
  record(101);
  route_state().traffic.websockets.fetch_add(1, std::memory_order_relaxed);
  set_deadline(upstream_idle, rt().config->routes[route_].timeouts.idle);
  if (!client_write_pending_) do_write_client();
  pol_.ws_down.resize(tunnel_chunk);
  tunnel_read_upstream();
  tunnel_client_data();
}

void session::tunnel_client_data() {
  if (phase_ != phase::tunnel || pol_.ws_up_writing) return;
  if (in_.size() == 0) return do_read_client();
  const auto data = in_.data();
  pol_.ws_up.assign(static_cast<const char*>(data.data()), data.size());
  in_.consume(data.size());
  pol_.ws_up_writing = true;
  set_deadline(upstream_idle, rt().config->routes[route_].timeouts.idle);
  boost::asio::async_write(
      up_->socket, boost::asio::buffer(pol_.ws_up),
      [self = shared_from_this(), gen = up_gen_](const error_code& ec, size_t) {
        self->pol_.ws_up_writing = false;
        if (gen != self->up_gen_ || self->phase_ != phase::tunnel) return;
        if (ec) return self->close();
        if (self->client_eof_) return self->tunnel_client_closed();
        self->tunnel_client_data();
      });
}

void session::tunnel_read_upstream() {
  if (phase_ != phase::tunnel || !up_) return;
  up_->socket.async_read_some(
      boost::asio::buffer(pol_.ws_down),
      [self = shared_from_this(), gen = up_gen_](const error_code& ec, size_t n) {
        if (gen != self->up_gen_ || self->phase_ != phase::tunnel) return;
        if (ec) {
          // The upstream closed: what it sent last (its Close frame) still goes out first.
          self->abort_after_write_ = true;
          if (!self->client_write_pending_ && self->down_out_.empty()) return self->close();
          if (!self->client_write_pending_) self->do_write_client();
          return;
        }
        self->down_out_.append(self->pol_.ws_down.data(), n);
        self->set_deadline(upstream_idle, self->rt().config->routes[self->route_].timeouts.idle);
        if (!self->client_write_pending_) self->do_write_client();
        if (self->down_out_.size() < tunnel_high_water)
          self->tunnel_read_upstream();
        else
          self->pol_.ws_paused = true;
      });
}

// The client closed its side: once its last bytes are upstream, the upstream sees the close
// too, and the tunnel ends when the upstream closes (or at the idle timeout).
void session::tunnel_client_closed() {
  if (pol_.ws_up_writing || !up_) return;  // the write's handler comes back here
  if (in_.size() > 0) return tunnel_client_data();
  error_code ignored;
  up_->socket.shutdown(tcp::socket::shutdown_send, ignored);
}

void session::tunnel_resume() {
  if (!pol_.ws_paused) return;
  pol_.ws_paused = false;
  tunnel_read_upstream();
}

}  // namespace spillway::http1
