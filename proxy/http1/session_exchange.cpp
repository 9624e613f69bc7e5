// The upstream half of http1::session: endpoint choice, connect, request streaming, response
// streaming, and what happens when any of it fails.
#include <sys/socket.h>

#include <charconv>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include "common/log.hpp"
#include "proxy/http1/error_map.hpp"
#include "proxy/http1/head_writer.hpp"
#include "proxy/http1/plain_response.hpp"
#include "proxy/http1/session.hpp"
#include "proxy/http1/session_cache.hpp"

namespace spillway::http1 {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::string_view_literals;

namespace {
constexpr size_t read_chunk = 16 * 1024;
constexpr size_t downstream_high_water = 64 * 1024;  // pause upstream reads above this
constexpr size_t watch_limit = 64 * 1024;            // pipelined bytes buffered while busy
constexpr size_t replay_head_allowance = 64 * 1024;  // replay keeps the head plus the body

void append_number(std::string& out, uint64_t v) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}

}  // namespace

// ---------------------------------------------------------------- endpoint choice and connect

void session::start_exchange() {
  phase_ = phase::send_request;
  attempts_ = 0;
  tried_.clear();
  request_complete_ = false;
  response_complete_ = false;
  client_head_sent_ = false;
  event_stream_ = false;
  up_fresh_retry_done_ = false;
  force_fresh_ = false;
  replay_.clear();
  sent_log_.clear();
  replay_valid_ = true;
  abort_after_write_ = false;
  up_out_.clear();
  expect_sent_ = false;
  last_error_ = {};
  framing f = req_.chunked          ? framing::chunked
              : req_.content_length ? framing::length
                                    : framing::none;
  if (req_parser_) {
    req_parser_->body().reset(&up_out_, f);
    req_parser_->eager(true);
    if (!req_.has_body()) request_complete_ = req_parser_->is_done();
  } else {
    request_complete_ = true;  // a head taken as a value (client_stream::take_head): no body
  }
  if (cache_ && cache_->body_done) cache_prepare_body(f);
  policy_take_body();  // a decoded request body goes upstream whole
  retries_done_ = 0;
  fallback_next_ = 0;
  route_state().budget.request_started();
  budget_counted_ = true;
  const auto& timeouts = rt().config->routes[route_].timeouts;
  if (timeouts.total.count() > 0) set_deadline(total, timeouts.total);
  if (affinity_begin()) return;  // prefix key: the body first
  // Requests already waiting go first: a newcomer does not overtake the queue.
  if (cluster_ >= 0 && cluster().queues() && cluster().queue().size() > 0) return enqueue();
  pick_and_connect();
}

void session::do_connect(std::vector<tcp::endpoint> addrs, size_t next) {
  up_ = std::make_unique<upstream_pool::upstream_connection>(tcp::socket(worker_.io()));
  const tcp::endpoint target = addrs[next];
  up_->socket.async_connect(target, [self = shared_from_this(), gen = up_gen_,
                                     addrs = std::move(addrs), next](const error_code& ec) mutable {
    if (gen != self->up_gen_) return;  // this attempt was abandoned (timeout, close)
    self->on_connect(ec, std::move(addrs), next);
  });
}

void session::on_connect(const error_code& ec, std::vector<tcp::endpoint> addrs, size_t next) {
  if (phase_ == phase::closed) return;
  if (ec) {
    if (next + 1 < addrs.size()) return do_connect(std::move(addrs), next + 1);
    return upstream_failed(upstream_error(errc::connect_failed, true));
  }
  clear_deadline(upstream_connect);
  error_code ignored;
  up_->socket.set_option(tcp::no_delay(true), ignored);
  send_request();
}

// ---------------------------------------------------------------- request to upstream

void session::send_request() {
  phase_ = phase::send_request;
  res_.clear();
  res_parser_.reset();
  res_body_bytes_ = 0;
  if (!replay_.empty()) {
    // Retrying on a new connection: send again what the failed one was sent.
    up_out_.insert(0, replay_);
    replay_.clear();
  } else if (up_out_.empty()) {
    build_upstream_head();
  } else {
    std::string body_so_far = std::move(up_out_);
    up_out_.clear();
    build_upstream_head();
    up_out_.append(body_so_far);
  }
  pump_request_body();
}

void session::build_upstream_head() {
  using f = http::field_id;
  // Everything written comes from the received head plus a bounded set of additions; a
  // forwarded field is at most 2 bytes longer than it was received ("a:b" becomes "a: b").
  head_writer o(up_out_, req_head_bytes_ + 2 * req_.headers.size() + req_.target.size() +
                             client_ip_.size() + request_id_.size() + 256 + 64);
  o.put(req_.method).put(' ').put(req_.target).put(" HTTP/1.1\r\n"sv);
  const auto connection = req_.headers.find(f::connection);
  const bool check_connection = connection && http::connection_lists_fields(*connection);
  std::string_view xff, via;
  bool has_request_id = false, te_trailers = false;
  for (size_t i = 0; i < req_.headers.size(); ++i) {
    const auto name = req_.headers.name(i);
    const auto value = req_.headers.value(i);
    const auto id = req_.headers.id(i);
    if (http::is_hop_by_hop(id) || id == f::content_length || id == f::expect) {
      if (id == f::te && http::listed_in_connection(value, "trailers"sv)) te_trailers = true;
      continue;
    }
    if (id == f::via) {
      via = value;
      continue;
    }
    if (id == f::unknown) {
      if (name.size() == 15 && http::iequals(name, "x-forwarded-for")) {
        xff = value;
        continue;
      }
      if (name.size() == 17 && http::iequals(name, "x-forwarded-proto")) continue;
      if (name.size() == 12 && http::iequals(name, "x-request-id")) {
        if (value != request_id_) continue;  // an over-long client id was replaced
        has_request_id = true;
      }
    }
    if (check_connection && http::listed_in_connection(*connection, name)) continue;
    o.field(name, value);
  }
  o.put("X-Forwarded-For: "sv);
  if (!xff.empty()) o.put(xff).put(", "sv);
  o.put(client_ip_).put("\r\nX-Forwarded-Proto: "sv).put(alt_ ? alt_->scheme() : "http"sv);
  o.put("\r\nVia: "sv);
  if (!via.empty()) o.put(via).put(", "sv);
  if (alt_)
    o.put(alt_->via_version()).put(" spillway\r\n"sv);
  else
    o.put(req_.version == 10 ? "1.0 spillway\r\n"sv : "1.1 spillway\r\n"sv);
  if (!has_request_id) o.field("X-Request-Id"sv, request_id_);
  if (pol_.websocket) {
    o.put("Connection: Upgrade\r\nUpgrade: websocket\r\n"sv);  // policy
  } else if (te_trailers) {
    // TE is hop-by-hop (RFC 9110 §10.1.4): the client accepting trailers is said again on this
    // hop, since Spillway relays them; gRPC servers send grpc-status only to such requests.
    o.put("TE: trailers\r\nConnection: TE\r\n"sv);
  }
  if (req_.chunked) {
    o.put("Transfer-Encoding: chunked\r\n"sv);
  } else if (req_.content_length) {
    o.put("Content-Length: "sv).number(*req_.content_length).put("\r\n"sv);
  }
  o.put("\r\n"sv);
}

void session::pump_request_body() {
  if (!request_complete_ && in_.size() > 0) {
    error_code ec;
    size_t used = req_parser_->put(in_.data(), ec);
    in_.consume(used);
    if (ec && ec != bhttp::error::need_more) {
      release_upstream(false);
      if (ec == bhttp::error::body_limit)
        return send_local(413, "request_too_large", "request body too large", true);
      return send_local(400, "bad_request", "malformed request body: " + ec.message(), true);
    }
    if (req_parser_->is_done()) {
      request_complete_ = true;
      clear_deadline(client);
    }
  }
  if (aff_wait_body_) return affinity_body_progress();
  if (!up_ || phase_ != phase::send_request) return;  // still connecting
  if (!up_out_.empty()) {
    if (!upstream_write_pending_) do_write_upstream();
    return;
  }
  if (upstream_write_pending_) return;
  if (request_complete_) return request_sent();
  if (req_.expect_continue && !expect_sent_ && in_.size() == 0) {
    expect_sent_ = true;
    down_out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    if (!client_write_pending_) do_write_client();
  }
  set_deadline(client, listener_.cfg.timeouts.idle);
  do_read_client();
}

void session::do_write_upstream() {
  up_writing_.swap(up_out_);
  up_out_.clear();
  if (replay_valid_) {
    if (sent_log_.size() + up_writing_.size() <=
        listener_.cfg.limits.max_body_bytes + replay_head_allowance) {
      sent_log_.append(up_writing_);
    } else {
      replay_valid_ = false;
      sent_log_.clear();
    }
  }
  // A request head (and a small body) fits the socket buffer: one non-blocking send, and the
  // exchange goes on from here rather than through a posted completion, which costs a handler
  // hop and a zero-timeout reactor poll. What is left, or an error, goes through async_write.
  const ssize_t sent = ::send(up_->socket.native_handle(), up_writing_.data(), up_writing_.size(),
                              MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent == static_cast<ssize_t>(up_writing_.size()))
    return on_write_upstream({}, up_writing_.size());
  const size_t done = sent > 0 ? static_cast<size_t>(sent) : 0;
  upstream_write_pending_ = true;
  asio::async_write(up_->socket, asio::buffer(up_writing_.data() + done, up_writing_.size() - done),
                    [self = shared_from_this(), gen = up_gen_](const error_code& ec, size_t n) {
                      self->upstream_write_pending_ = false;
                      if (gen != self->up_gen_) return;
                      self->on_write_upstream(ec, n);
                    });
}

void session::on_write_upstream(const error_code& ec, size_t) {
  if (phase_ == phase::closed) return;
  if (ec) return upstream_failed(upstream_error(errc::upstream_reset, true));
  if (phase_ != phase::send_request) return;  // the response already ended the exchange
  pump_request_body();
}

void session::request_sent() {
  phase_ = phase::await_response;
  set_deadline(first_byte, rt().config->routes[route_].timeouts.first_byte);
  do_read_upstream();
  // Watch the client: a disconnect must cancel the upstream request at once.
  if (in_.size() < watch_limit) do_read_client();
}

// ---------------------------------------------------------------- response from upstream

void session::do_read_upstream() {
  if (upstream_read_pending_ || !up_) return;
  upstream_read_pending_ = true;
  up_->socket.async_read_some(
      up_->buffer.prepare(read_chunk),
      [self = shared_from_this(), gen = up_gen_](const error_code& ec, size_t n) {
        self->upstream_read_pending_ = false;
        if (gen != self->up_gen_) return;
        self->on_read_upstream(ec, n);
      });
}

void session::on_read_upstream(const error_code& ec, size_t n) {
  if (phase_ == phase::closed) return;
  if (ec) {
    if (res_parser_ && res_parser_->is_header_done() && res_parser_->need_eof() &&
        (ec == asio::error::eof || ec == asio::error::connection_reset)) {
      error_code ignored;
      res_parser_->put_eof(ignored);
      response_complete_ = true;
      if (cache_) cache_on_response_done();
      release_upstream(false);
      if (!client_write_pending_) do_write_client();
      return;
    }
    const bool nothing_received = !res_parser_ && up_->buffer.size() == 0;
    return upstream_failed(upstream_error(errc::upstream_reset, nothing_received));
  }
  up_->buffer.commit(n);
  const auto now = steady::now();
  if (first_byte_at_ == steady::time_point{}) {
    first_byte_at_ = now;
    clear_deadline(first_byte);
  }
  const auto& timeouts = rt().config->routes[route_].timeouts;
  set_deadline(upstream_idle, timeouts.idle, now);
  parse_response();
}

void session::parse_response() {
  while (up_ && up_->buffer.size() > 0 && !response_complete_) {
    if (!res_parser_) {
      if (!client_head_sent_ && plain_response()) break;
      res_.clear();
      res_parser_.emplace(res_);
      res_parser_->header_limit(64 * 1024);
      res_parser_->body_limit(boost::none);
      res_parser_->eager(false);
      if (req_.method == "HEAD") res_parser_->skip(true);
    }
    error_code ec;
    size_t used = res_parser_->put(up_->buffer.data(), ec);
    up_->buffer.consume(used);
    if (ec == bhttp::error::need_more) break;
    if (ec) return upstream_failed(upstream_error(errc::bad_response, false));
    if (!client_head_sent_) {
      res_head_bytes_ = used;
      if (res_.status == 101 && pol_.websocket) return start_tunnel();  // session_policy.cpp
      if (res_.status >= 100 && res_.status < 200) {
        res_parser_.reset();  // interim response: wait for the final one
        continue;
      }
      if (retry_on_status()) return;
      if (cache_ && cache_stale_on_status()) return;
      on_response_head();
      continue;
    }
    if (res_parser_->is_done()) {
      response_complete_ = true;
      response_done_upstream();
    }
  }
  if (phase_ == phase::closed) return;
  cache_feed();
  if (!down_out_.empty() && !client_write_pending_) do_write_client();
  if (!response_complete_ && down_out_.size() < downstream_high_water) do_read_upstream();
}

bool session::plain_response() {
  // What a policy or the cache reads, a retry may drop or a HEAD answer frames differently goes
  // through the parser below.
  if (cache_ || pol_.metering || pol_.websocket || req_.method == "HEAD") return false;
  const auto& comp = rt().config->routes[route_].compression;
  if (comp && !comp->response.empty()) return false;
  const auto data = up_->buffer.data();
  const std::string_view buf(static_cast<const char*>(data.data()), data.size());
  const size_t head = read_plain_response_head(buf, res_, 64 * 1024);
  if (head == 0 || buf.size() - head < *res_.content_length) return false;
  if (route_state().policy.retryable({retry::failure_kind::status, res_.status})) return false;
  res_head_bytes_ = head;
  phase_ = phase::stream_response;
  clear_deadline(first_byte);
  client_head_sent_ = true;
  status_sent_ = res_.status;
  if (!pass_client_head()) build_client_head();
  res_body_bytes_ = *res_.content_length;
  body_framer body;
  body.reset(&down_out_, client_framing_);
  body.piece(buf.substr(head, res_body_bytes_));
  body.finish();
  up_->buffer.consume(head + res_body_bytes_);
  response_complete_ = true;
  response_done_upstream();
  return true;
}

void session::on_response_head() {
  if (begin_response_compression()) return;  // session_policy.cpp
  phase_ = phase::stream_response;
  clear_deadline(first_byte);
  client_head_sent_ = true;
  status_sent_ = res_.status;
  if (!pass_client_head()) build_client_head();
  if (cache_) cache_on_response_head();
  res_parser_->body().reset(&down_out_, client_framing_);
  res_parser_->eager(true);
  if (res_parser_->is_done()) {
    response_complete_ = true;
    response_done_upstream();
  }
}

void session::build_client_head() {
  using f = http::field_id;
  const std::string set_cookie = affinity_set_cookie();
  head_writer o(down_out_, res_head_bytes_ + 2 * res_.headers.size() + request_id_.size() +
                               set_cookie.size() + pol_.headers.size() + 144);
  o.put("HTTP/1.1 "sv).number(static_cast<uint64_t>(res_.status)).put(' ').put(res_.reason);
  o.put("\r\n"sv);
  const bool no_body = req_.method == "HEAD" || res_.status == 204 || res_.status == 304;
  const auto connection = res_.headers.find(f::connection);
  const bool check_connection = connection && http::connection_lists_fields(*connection);
  bool has_request_id = false;
  for (size_t i = 0; i < res_.headers.size(); ++i) {
    const auto name = res_.headers.name(i);
    const auto value = res_.headers.value(i);
    const auto id = res_.headers.id(i);
    if (http::is_hop_by_hop(id)) continue;
    if (id == f::content_length && !no_body) continue;
    if (id == f::content_type && value.starts_with("text/event-stream")) event_stream_ = true;
    if (id == f::unknown && name.size() == 12 && http::iequals(name, "x-request-id"))
      has_request_id = true;
    if (check_connection && http::listed_in_connection(*connection, name)) continue;
    o.field(name, value);
  }
  if (!has_request_id) o.field("X-Request-Id"sv, request_id_);
  if (!set_cookie.empty()) o.field("Set-Cookie"sv, set_cookie);
  o.put(pol_.headers);  // X-RateLimit-* (session_policy.cpp)
  if (no_body) {
    client_framing_ = framing::none;
  } else if (res_.content_length) {
    client_framing_ = framing::length;
    o.put("Content-Length: "sv).number(*res_.content_length).put("\r\n"sv);
  } else if (req_.version >= 11) {
    client_framing_ = framing::chunked;
    o.put("Transfer-Encoding: chunked\r\n"sv);
  } else {
    client_framing_ = framing::close_delimited;
    close_after_ = true;
  }
  if (close_after_ || draining_ || !req_.keep_alive || !request_complete_) {
    close_after_ = true;
    o.put("Connection: close\r\n"sv);
  } else if (req_.version == 10) {
    o.put("Connection: keep-alive\r\n"sv);
  }
  o.put("\r\n"sv);
}

bool session::pass_client_head() {
  // The common answer only: a body of known length, nothing queued before the head, no field
  // added as text (policies, cache status); anything else is written as HTTP/1.1.
  if (!alt_ || cache_ || !pol_.headers.empty() || !down_out_.empty() || client_write_pending_ ||
      !res_.content_length || *res_.content_length == 0 || req_.method == "HEAD" ||
      res_.status == 204 || res_.status == 304)
    return false;
  using f = http::field_id;
  // res_ goes as it is, with the fields the session adds appended: its hop-by-hop fields are
  // connection-specific to HTTP/2 and dropped there (RFC 9113 §8.2.2). Not when Connection
  // names other fields, or Content-Length is not in the form the text head would give it.
  const auto connection = res_.headers.find(f::connection);
  if (connection && http::connection_lists_fields(*connection)) return false;
  char length[24];
  const auto end = std::to_chars(length, length + sizeof length, *res_.content_length).ptr;
  if (res_.headers.find(f::content_length) != std::string_view(length, end - length)) return false;
  bool has_request_id = false;
  for (size_t i = 0; i < res_.headers.size(); ++i) {
    if (res_.headers.id(i) == f::content_type &&
        res_.headers.value(i).starts_with("text/event-stream"))
      event_stream_ = true;
    if (res_.headers.id(i) == f::unknown && res_.headers.name(i).size() == 12 &&
        http::iequals(res_.headers.name(i), "x-request-id"))
      has_request_id = true;
  }
  if (!has_request_id) res_.headers.add("x-request-id"sv, request_id_);
  const std::string set_cookie = affinity_set_cookie();
  if (!set_cookie.empty()) res_.headers.add("set-cookie"sv, set_cookie, f::set_cookie);
  if (!alt_->write_head(res_, *res_.content_length)) return false;
  client_framing_ = framing::length;
  if (draining_ || !req_.keep_alive || !request_complete_) close_after_ = true;
  return true;
}

void session::response_done_upstream() {
  clear_deadline(upstream_idle);
  if (cache_) cache_on_response_done();
  finish_try(res_.status >= 500 ? upstream::try_result::server_error
                                : upstream::try_result::success);
  const bool reusable = res_.keep_alive && request_complete_ && !upstream_write_pending_ && up_ &&
                        up_->buffer.size() == 0 && (!res_parser_ || !res_parser_->need_eof());
  release_upstream(reusable);
  if (pol_.compressing) finish_response_compression();
}

void session::release_upstream(bool reusable) {
  const auto now = slot_held_ || (up_ && reusable) ? steady::now() : steady::time_point{};
  if (slot_held_) {
    upstream::cluster& cl = cluster();
    cl.at(endpoint_).release();
    slot_held_ = false;
    auto& es = *rt().stats[worker_.id()].endpoints[cluster_][endpoint_];
    es.by_status[std::clamp(status_sent_, 0, admin::max_status - 1)].add();
    es.duration.observe(std::chrono::duration<double>(now - try_started_).count());
    if (cl.queues() && cl.queue().size() > 0) cl.wake_waiter();
  }
  if (!up_) return;
  ++up_gen_;
  if (reusable) {
    ++up_->requests;
    gen_->pool(cluster_).give_back(endpoint_, std::move(up_), now);
  } else {
    error_code ignored;
    up_->socket.close(ignored);
    up_.reset();
  }
}

// ---------------------------------------------------------------- downstream writes

void session::do_write_client() {
  down_writing_.swap(down_out_);
  down_out_.clear();
  client_write_pending_ = true;
  if (alt_)
    return alt_->async_write(asio::buffer(down_writing_),
                             [self = shared_from_this()](const error_code& ec, size_t n) {
                               self->on_write_client(ec, n);
                             });
  asio::async_write(socket_, asio::buffer(down_writing_),
                    [self = shared_from_this()](const error_code& ec, size_t n) {
                      self->on_write_client(ec, n);
                    });
}

void session::on_write_client(const error_code& ec, size_t) {
  client_write_pending_ = false;
  if (phase_ == phase::closed) return;
  if (ec) {
    if (!recorded_) record(499);
    return close();
  }
  if (!down_out_.empty()) return do_write_client();
  if (abort_after_write_) return close();
  if (phase_ == phase::tunnel) return tunnel_resume();
  if (phase_ == phase::write_local) return finish_local();
  if (response_complete_ && client_head_sent_) return exchange_finished();
  if (phase_ == phase::stream_response && !response_complete_) do_read_upstream();
}

void session::exchange_finished() {
  record(status_sent_);
  end_exchange_accounting();
  for (auto k : {upstream_connect, first_byte, upstream_idle, total, queue_wait, retry_wait_done})
    clear_deadline(k);
  next_request();
}

void session::next_request() {
  cache_reset();
  req_parser_.reset();
  res_parser_.reset();
  res_body_bytes_ = 0;
  if (close_after_ || draining_ || client_eof_) {
    error_code ignored;
    if (alt_)
      alt_->shutdown_send();
    else
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
    return close();
  }
  phase_ = phase::read_head;
  head_started_ = false;
  // An idle connection does not keep a replaced runtime alive.
  if (gen_ != worker_.current()) gen_ = worker_.current();
  set_deadline(client, listener_.cfg.timeouts.idle);
  if (in_.size() > 0) return process_head();
  if (alt_) alt_->idle();  // an HTTP/2 connection may hand this session its next stream
  do_read_client();
}

// ---------------------------------------------------------------- failures

void session::abort_stream(error e) {
  finish_try(upstream::try_result::reset);
  // Headers are out: the status can no longer change. An event stream gets an error event so
  // the client knows why; then the connection closes without the terminating chunk, so the
  // client sees the body as cut short.
  if (!recorded_) record(status_sent_ ? status_sent_ : 502);
  if (event_stream_ && client_framing_ == framing::chunked) {
    body_framer f;
    f.reset(&down_out_, framing::chunked);
    f.piece("event: error\ndata: {\"error\": {\"message\": \"" + std::string(e.message()) +
            "\", \"type\": \"upstream_error\", \"code\": \"" +
            std::string(code_for(static_cast<errc>(e.code.value()))) + "\"}}\n\n");
    close_after_ = true;
    response_complete_ = false;
    abort_after_write_ = true;
    if (!client_write_pending_) do_write_client();
    return;
  }
  close();
}

void session::send_local(int status, std::string_view code, std::string_view message, bool close) {
  if (phase_ == phase::closed) return;
  phase_ = phase::write_local;
  status_sent_ = status;
  if (close || !req_.keep_alive) close_after_ = true;  // the client's Connection: close too
  record(status, message);
  std::string body = "{\"error\": {\"message\": \"";
  for (char c : message) {
    if (c == '"' || c == '\\') body.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) body.push_back(c);
  }
  body.append("\", \"type\": \"")
      .append(status >= 500 ? "server_error" : "invalid_request_error")
      .append("\", \"code\": \"")
      .append(code)
      .append("\"}}\n");
  std::string& o = down_out_;
  o.append("HTTP/1.1 ");
  append_number(o, static_cast<uint64_t>(status));
  o.push_back(' ');
  o.append(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
  o.append("\r\nContent-Type: application/json\r\nContent-Length: ");
  append_number(o, body.size());
  o.append("\r\nX-Request-Id: ").append(request_id_).append("\r\n");
  if (status == 503 || status == 429) o.append("Retry-After: 1\r\n");
  if (close_after_ || draining_) o.append("Connection: close\r\n");
  cache_status_field(o);
  o.append("\r\n").append(body);
  if (!client_write_pending_) do_write_client();
}

void session::finish_local() {
  end_exchange_accounting();
  for (auto k : {upstream_connect, first_byte, upstream_idle, total, queue_wait, retry_wait_done})
    clear_deadline(k);
  next_request();
}

}  // namespace spillway::http1
