// The response-cache half of http1::session (SPEC §2.2 Cache, §2.3 Cache-Status), following
// cache/README.md "Per request": client opt-out, key from the buffered body, memory then Redis
// lookup, coalescing (the leader goes upstream with the usual retries and fallbacks and feeds
// the flight; followers get the same answer), storing, replaying an entry as JSON or as an
// event stream, and stale_if_error.
//
// Results of the cache's asynchronous calls arrive through worker::post and are matched to the
// request they were for by cache_ctx::gen.
#include <array>
#include <boost/beast/http/status.hpp>
#include <span>

#include "cache/render.hpp"
#include "cache/response_cache.hpp"
#include "cache/sse.hpp"
#include "common/log.hpp"
#include "proxy/http1/head_writer.hpp"
#include "proxy/http1/session.hpp"
#include "proxy/http1/session_cache.hpp"

namespace spillway::http1 {

namespace bhttp = boost::beast::http;
using namespace std::string_view_literals;
using cache::cache_status;

namespace {

constexpr size_t watch_limit = 64 * 1024;

cache::dispatcher dispatcher_for(server::worker& w) {
  return [w = &w, open = w.cache_open()](cache::task t) {
    if (open == nullptr || open->load(std::memory_order_acquire)) w->post(std::move(t));
  };
}

// Values of header `name`, several lines joined with ", " (stored in `scratch`).
std::optional<std::string_view> joined(const http::header_list& h, std::string_view name,
                                       std::string_view sep, std::string& scratch) {
  std::optional<std::string_view> first;
  bool several = false;
  for (size_t i = 0; i < h.size(); ++i) {
    if (!http::iequals(h.name(i), name)) continue;
    if (!first) {
      first = h.value(i);
      continue;
    }
    if (!several) {
      scratch.assign(*first);
      several = true;
    }
    scratch.append(sep).append(h.value(i));
  }
  if (several) return std::string_view(scratch);
  return first;
}

std::string_view log_value(cache_status s) noexcept {
  switch (s) {
    case cache_status::hit:
      return "hit";
    case cache_status::stale_hit:
      return "stale";
    case cache_status::miss_stored:
      return "stored";
    case cache_status::miss:
      return "miss";
    case cache_status::collapsed:
      return "collapsed";
    case cache_status::bypass:
      return "bypass";
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------- request

bool session::cache_begin() {
  cache_.reset();
  auto* rc = worker_.cache();
  const auto& route = rt().config->routes[route_];
  if (rc == nullptr) return false;
  std::string scratch;
  std::optional<std::string_view> idem;
  if (route.idempotency) idem = joined(req_.headers, route.idempotency->header, ", ", scratch);
  if (idem && idem->empty()) idem.reset();
  if (!route.cache && !idem) return false;
  cache_ = std::make_unique<cache_ctx>();
  cache_->gen = worker_.rng().next();
  if (idem) {
    // Idempotent requests skip the client's opt-out: a retry must get the first answer.
    cache_->idem = true;
    cache_->idem_value.assign(*idem);
  }
  const auto cc = cache_->idem ? std::nullopt : joined(req_.headers, "cache-control", ",", scratch);
  if (cc && cache::client_bypasses_cache(*cc)) {
    cache_->status = cache_status::bypass;
    return false;  // forwarded as usual, with Cache-Status: fwd=bypass
  }
  phase_ = phase::cache_wait;
  if (pol_.has_decoded) {
    // A compressed request body was decoded whole (session_policy.cpp): that is the body the
    // key is made of and the one that goes upstream.
    cache_->body = std::move(pol_.decoded);
    pol_.decoded.clear();
    pol_.has_decoded = false;
  }
  if (req_parser_) {  // none for a head taken as a value: no body
    req_parser_->body().reset(&cache_->body, framing::length);
    req_parser_->eager(true);
  }
  if (req_.has_body()) set_deadline(client, listener_.cfg.timeouts.idle);
  cache_read_body();
  return true;
}

void session::cache_read_body() {
  if (cache_->body_done) {
    // Waiting for Redis or a flight: keep watching the client for a disconnect.
    if (in_.size() < watch_limit) do_read_client();
    return;
  }
  if (in_.size() > 0 && req_parser_ && !req_parser_->is_done()) {
    error_code ec;
    const size_t used = req_parser_->put(in_.data(), ec);
    in_.consume(used);
    if (ec && ec != bhttp::error::need_more) {
      if (ec == bhttp::error::body_limit)
        return send_local(413, "request_too_large", "request body too large", true);
      return send_local(400, "bad_request", "malformed request body: " + ec.message(), true);
    }
  }
  if (req_parser_ && !req_parser_->is_done()) {
    if (req_.expect_continue && !expect_sent_ && in_.size() == 0) {
      expect_sent_ = true;
      down_out_.append("HTTP/1.1 100 Continue\r\n\r\n");
      if (!client_write_pending_) do_write_client();
    }
    return do_read_client();
  }
  cache_->body_done = true;
  clear_deadline(client);

  const auto& route = rt().config->routes[route_];
  static const config::route_cache_config no_cache;  // idempotency alone: default vary headers
  const auto& names = (route.cache ? *route.cache : no_cache).vary_headers;
  // Routes vary on a header or two: no allocation for up to four.
  constexpr size_t inline_vary = 4;
  std::array<std::string, inline_vary> scratch_inline;
  std::array<std::optional<std::string_view>, inline_vary> vary_inline;
  std::vector<std::string> scratch_heap;
  std::vector<std::optional<std::string_view>> vary_heap;
  std::span<std::string> scratch(scratch_inline.data(), names.size());
  std::span<std::optional<std::string_view>> vary(vary_inline.data(), names.size());
  if (names.size() > inline_vary) {
    scratch_heap.resize(names.size());
    vary_heap.resize(names.size());
    scratch = scratch_heap;
    vary = vary_heap;
  }
  for (size_t i = 0; i < names.size(); ++i)
    vary[i] = joined(req_.headers, names[i], ", ", scratch[i]);
  if (cache_->idem) {
    auto facts = cache::read_body_facts(cache_->body);
    cache_->fingerprint = std::move(facts.fingerprint);
    cache_->key = {};
    cache_->key.stream = facts.stream;
    cache_->key.include_usage = facts.include_usage;
    cache_->key.key =
        cache::idempotency_key(route.name, {req_.method, req_.target, cache_->idem_value, vary});
    return cache_lookup();
  }
  // A byte-identical repeat of a request gets its key from the key memo (key_memo.hpp).
  cache_->key = worker_.cache()->key_for({req_.method, req_.target, cache_->body, vary},
                                         *route.cache, route.name + ":");
  if (!cache_->key) return cache_go_upstream(cache_status::bypass);
  cache_lookup();
}

void session::cache_lookup() {
  auto& rc = *worker_.cache();
  auto r = rc.lookup_memory(cache_->key.key);
  if (r.state == cache::lookup_state::fresh && cache_serve(r.e, cache_status::hit)) return;
  if (r.state == cache::lookup_state::stale) cache_->stale = r.e;
  rc.lookup_remote(
      cache_->key.key, dispatcher_for(worker_),
      [self = shared_from_this(), gen = cache_->gen](cache::lookup_result rr) {
        if (self->phase_ != phase::cache_wait || !self->cache_ || self->cache_->gen != gen) return;
        self->cache_after_remote(static_cast<int>(rr.state), std::move(rr.e));
      });
  if (in_.size() < watch_limit) do_read_client();
}

void session::cache_after_remote(int state, std::shared_ptr<const cache::entry> e) {
  const auto s = static_cast<cache::lookup_state>(state);
  if (s == cache::lookup_state::fresh && cache_serve(e, cache_status::hit)) return;
  if (s == cache::lookup_state::stale && !cache_->stale) cache_->stale = std::move(e);
  cache_join();
}

void session::cache_join() {
  std::weak_ptr<session> weak = shared_from_this();
  auto j = worker_.cache()->join(cache_->key.key, dispatcher_for(worker_),
                                 [weak, gen = cache_->gen](const cache::flight_event& ev) {
                                   auto self = weak.lock();
                                   if (!self || !self->cache_ || self->cache_->gen != gen ||
                                       !self->cache_->following || self->phase_ == phase::closed)
                                     return;
                                   self->cache_on_event(ev);
                                 });
  if (j.is_leader()) {
    cache_->leader = std::move(j.leader);
    return cache_go_upstream(cache_status::miss);
  }
  cache_->sub = std::move(j.subscription);
  cache_->following = true;
  cache_->status = cache_status::collapsed;
}

void session::cache_go_upstream(cache_status s) {
  cache_->status = s;
  if (cache_->idem) cache_->idem_result = cache::idempotency_result::not_stored;
  start_exchange();
}

void session::cache_prepare_body(framing f) {
  body_framer b;
  b.reset(&up_out_, f);
  b.piece(cache_->body);
  b.finish();
  request_complete_ = true;
  std::string().swap(cache_->body);
}

// ---------------------------------------------------------------- answers from the cache

bool session::cache_serve(const cache::entry_ptr& e, cache_status s) {
  if (!e) return false;
  if (cache_->idem && cache::idempotency_conflict(*e, cache_->fingerprint)) {
    cache_->following = false;
    cache_->idem_result = cache::idempotency_result::conflict;
    send_local(422, "idempotency_key_reused",
               "this Idempotency-Key was used with a different request body", false);
    return true;
  }
  // A JSON entry asked for as JSON goes out as stored, without a copy; other forms are rendered.
  std::string rendered;
  std::string_view body, type;
  if (cache::answer_as_stream(*e, cache_->key.stream)) {
    if (cache::render_sse(*e, {.include_usage = cache_->key.include_usage}, rendered)) return false;
    body = rendered;
    type = cache::sse_content_type(*e);
  } else if (e->kind == cache::body_kind::json) {
    body = e->body;
    type = cache::json_content_type(*e);
  } else {
    if (cache::render_json(*e, rendered)) return false;
    body = rendered;
    type = cache::json_content_type(*e);
  }
  cache_->status = s;
  cache_->following = false;
  phase_ = phase::write_local;
  status_sent_ = e->status;
  if (draining_ || !req_.keep_alive) close_after_ = true;
  {
    const size_t head_max = type.size() + request_id_.size() + 256;
    down_out_.reserve(down_out_.size() + head_max + body.size());  // head and body: one growth
    head_writer o(down_out_, head_max);
    o.put("HTTP/1.1 "sv).number(static_cast<uint64_t>(e->status)).put(' ');
    o.put(bhttp::obsolete_reason(static_cast<bhttp::status>(e->status))).put("\r\n"sv);
    o.field("Content-Type"sv, type);
    o.put("Content-Length: "sv).number(req_.method == "HEAD" ? 0 : body.size()).put("\r\n"sv);
    o.field("X-Request-Id"sv, request_id_);
    if (!cache_->idem || rt().config->routes[route_].cache)
      o.field("Cache-Status"sv, cache::cache_status_value(s));
    if (cache_->idem) o.put("Idempotency-Replayed: true\r\n"sv);
    if (close_after_) o.put("Connection: close\r\n"sv);
    o.put("\r\n"sv);
  }
  if (req_.method != "HEAD") down_out_.append(body);
  if (cache_->idem)
    cache_->idem_result = s == cache_status::collapsed ? cache::idempotency_result::waited
                                                       : cache::idempotency_result::replayed;
  first_byte_at_ = steady::now();
  record(e->status);
  if (!client_write_pending_) do_write_client();
  return true;
}

void session::cache_on_event(const cache::flight_event& ev) {
  using t = cache::flight_event::type;
  switch (ev.t) {
    case t::head: {
      // An idempotent repeat waits for the whole answer: its fingerprint is checked first.
      if (cache_->idem || !cache_->key.stream || ev.kind != cache::body_kind::sse ||
          ev.status < 200 || ev.status > 299 || req_.version < 11 || req_.method == "HEAD")
        return;  // answered whole on `complete`
      cache_->follow_stream = true;
      phase_ = phase::stream_response;
      client_head_sent_ = true;
      response_complete_ = false;
      event_stream_ = true;
      status_sent_ = ev.status;
      client_framing_ = framing::chunked;
      if (draining_ || !req_.keep_alive) close_after_ = true;
      {
        head_writer o(down_out_, ev.content_type.size() + request_id_.size() + 256);
        o.put("HTTP/1.1 "sv).number(static_cast<uint64_t>(ev.status)).put(' ');
        o.put(bhttp::obsolete_reason(static_cast<bhttp::status>(ev.status))).put("\r\n"sv);
        o.field("Content-Type"sv, ev.content_type);
        o.put("Transfer-Encoding: chunked\r\n"sv);
        o.field("X-Request-Id"sv, request_id_);
        o.field("Cache-Status"sv, cache::cache_status_value(cache_status::collapsed));
        if (close_after_) o.put("Connection: close\r\n"sv);
        o.put("\r\n"sv);
      }
      first_byte_at_ = steady::now();
      cache_->framer.reset(&down_out_, framing::chunked);
      break;
    }
    case t::data:
      if (!cache_->follow_stream) return;
      cache_->framer.piece(cache::format_sse_event(ev.data));
      break;
    case t::complete:
      cache_->following = false;
      if (cache_->follow_stream) {
        cache_->framer.finish();
        response_complete_ = true;
        break;
      }
      if (cache_serve(ev.result, cache_status::collapsed)) return;
      // Not renderable in the form asked for: this request goes upstream on its own.
      cache_->collapsed_failed = true;
      return cache_go_upstream(cache_status::miss);
    case t::error:
      cache_->following = false;
      if (cache_->follow_stream) return abort_stream(upstream_error(errc::upstream_reset, false));
      cache_->collapsed_failed = true;
      return cache_go_upstream(cache_status::miss);
  }
  if (!down_out_.empty() && !client_write_pending_) do_write_client();
}

bool session::cache_on_failure() {
  if (!cache_ || !cache_->stale || client_head_sent_ || cache_->following) return false;
  if (cache_->leader) cache_->leader.fail();
  end_exchange_accounting();
  return cache_serve(cache_->stale, cache_status::stale_hit);
}

bool session::cache_stale_on_status() {
  // stale-if-error counts 500, 502, 503 and 504 answers as errors (RFC 5861 §4).
  const int s = res_.status;
  if (!cache_->stale || cache_->following || !(s == 500 || (s >= 502 && s <= 504))) return false;
  finish_try(upstream::try_result::server_error);
  status_sent_ = s;
  clear_deadline(first_byte);
  clear_deadline(upstream_idle);
  release_upstream(false);  // the error body is not read: the connection cannot be reused
  res_parser_.reset();
  if (!cache_on_failure()) upstream_failed_final(upstream_error(errc::bad_response, false));
  return true;
}

// ---------------------------------------------------------------- the leader's upstream answer

void session::cache_on_response_head() {
  if (cache_->leader) {
    using f = http::field_id;
    const auto type = res_.headers.find(f::content_type).value_or(std::string_view{});
    const auto encoding = res_.headers.find(f::content_encoding).value_or(std::string_view{});
    auto& rc = *worker_.cache();
    bool storable = cache::storable_head(res_.status, type, encoding, res_.content_length,
                                         rc.options().max_object_bytes);
    if (cache_->leader.begin(res_.status, type)) {
      cache_->leader = {};  // not kept (content type): the flight has failed its followers
      storable = false;
    } else {
      res_parser_->body().copy_to(&cache_->tap);
    }
    cache_->status = storable ? cache_status::miss_stored : cache_status::miss;
  }
  // The head ends with an empty line: the field goes before it.
  std::string field;
  cache_status_field(field);
  down_out_.insert(down_out_.size() - 2, field);
}

void session::cache_feed() {
  if (!cache_ || cache_->tap.empty()) return;
  if (cache_->leader && cache_->leader.append(cache_->tap)) {
    cache_->leader = {};  // too large or timed out: followers failed, client unaffected
    if (res_parser_) res_parser_->body().copy_to(nullptr);
  }
  cache_->tap.clear();
}

void session::cache_on_response_done() {
  cache_feed();
  if (res_parser_) res_parser_->body().copy_to(nullptr);
  if (!cache_->leader) return;
  const auto& route = rt().config->routes[route_];
  if (cache_->idem && route.idempotency) {
    auto& rc = *worker_.cache();
    config::route_cache_config record;
    record.ttl = route.idempotency->ttl;
    record.stale_if_error = {};
    auto times = rc.times_for(record);
    times.request_hash = cache_->fingerprint;
    auto e = cache_->leader.finish(times);
    if (e && cache::storable(*e)) {
      rc.store(cache_->leader.key(), e);
      cache_->idem_result = cache::idempotency_result::stored;
    }
    cache_->leader.release();
  } else if (route.cache && !cache_->idem) {
    worker_.cache()->finish(cache_->leader, *route.cache);
  } else {
    cache_->leader.fail();
  }
  cache_->leader = {};
}

// ---------------------------------------------------------------- accounting

void session::cache_status_field(std::string& out) const {
  if (!cache_ || (cache_->idem && !rt().config->routes[route_].cache)) return;
  out.append("Cache-Status: ").append(cache::cache_status_value(cache_->status)).append("\r\n");
}

void session::cache_count() {
  if (!cache_ || cache_->counted) return;
  cache_->counted = true;
  if (cache_->idem) {
    if (cache_->idem_result)
      worker_.cache()->idempotency().count(rt().config->routes[route_].name, *cache_->idem_result);
    return;
  }
  worker_.cache()->counters().count(cache_->status);
}

std::string_view session::cache_log_value() const {
  return cache_ && !cache_->idem ? log_value(cache_->status) : std::string_view{};
}

std::string_view session::idempotency_log_value() const {
  return cache_ && cache_->idem_result ? cache::to_string(*cache_->idem_result)
                                       : std::string_view{};
}

void session::cache_reset() {
  if (!cache_) return;
  if (res_parser_) res_parser_->body().copy_to(nullptr);
  cache_.reset();  // an unfinished leader fails its flight; a subscription is cancelled
}

}  // namespace spillway::http1
