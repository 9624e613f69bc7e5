#include "cache/redis_client.hpp"

#include <hiredis/async.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <charconv>
#include <random>

#include "cache/redis_socket.hpp"
#include "common/log.hpp"

namespace spillway::cache {

namespace asio = boost::asio;
using std::chrono::milliseconds;

struct redis_client::command {
  clock::time_point deadline;
  reply_fn fn;
  bool done = false;
};

namespace {

void reply_cb(redisAsyncContext* ac, void* reply, void* priv) {
  if (!ac->data) return;
  static_cast<redis_client*>(ac->data)->on_reply(static_cast<redis_client::command*>(priv),
                                                 static_cast<redisReply*>(reply));
}

void connect_cb(const redisAsyncContext* ac, int status) {
  if (ac->data) static_cast<redis_client*>(ac->data)->on_connected(status);
}

void disconnect_cb(const redisAsyncContext* ac, int) {
  if (ac->data) static_cast<redis_client*>(ac->data)->on_disconnected(ac);
}

// SCAN MATCH pattern for keys starting with `prefix`: glob metacharacters escaped.
std::string match_prefix(std::string_view prefix) {
  std::string p;
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') p.push_back('\\');
    p.push_back(c);
  }
  p.push_back('*');
  return p;
}

bool is_status(const redisReply* r, std::string_view s) {
  return r && r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == s;
}

}  // namespace

struct purge_job {
  std::string pattern;
  std::string cursor = "0";
  uint64_t removed = 0;
  dispatcher d;
  remote_store::purge_handler h;
};

// ---------------------------------------------------------------- options

std::optional<redis_options> redis_options::from_config(const config::redis_config& c,
                                                        std::string* error) {
  redis_options o;
  o.password = c.password;
  o.db = c.db;
  o.timeout = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(c.timeout));
  o.key_prefix = c.key_prefix;
  std::string_view a = c.address;
  auto fail = [&](const char* why) -> std::optional<redis_options> {
    if (error) *error = std::string("redis address '") + c.address + "': " + why;
    return std::nullopt;
  };
  if (a.starts_with("unix:")) {
    o.unix_socket = true;
    o.host = a.substr(5);
    if (o.host.empty()) return fail("empty socket path");
    return o;
  }
  std::string_view port;
  if (a.starts_with("[")) {
    auto close = a.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    o.host = a.substr(1, close - 1);
    if (close + 1 < a.size()) {
      if (a[close + 1] != ':') return fail("expected ':' after ']'");
      port = a.substr(close + 2);
    }
  } else if (auto colon = a.rfind(':'); colon != std::string_view::npos) {
    o.host = a.substr(0, colon);
    port = a.substr(colon + 1);
  } else {
    o.host = a;
  }
  if (o.host.empty()) return fail("empty host");
  if (!port.empty() || a.ends_with(":")) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535)
      return fail("bad port");
    o.port = static_cast<uint16_t>(v);
  }
  return o;
}

// ---------------------------------------------------------------- lifetime

std::shared_ptr<redis_client> redis_client::create(asio::any_io_executor ex, redis_options opt) {
  return std::shared_ptr<redis_client>(new redis_client(std::move(ex), std::move(opt)));
}

redis_client::redis_client(asio::any_io_executor ex, redis_options opt)
    : strand_(asio::make_strand(ex)),
      opt_(std::move(opt)),
      deadline_timer_(strand_),
      reconnect_timer_(strand_),
      rng_(std::random_device{}()) {}

redis_client::~redis_client() {
  destroying_ = true;
  if (ac_) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    redisAsyncFree(ac);
  }
}

void redis_client::start() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->state_ == state::idle) self->do_connect();
  });
}

void redis_client::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->state_ = state::stopped;
    self->connected_ = false;
    self->reconnect_timer_.cancel();
    self->drop_connection();
    self->deadline_timer_.cancel();
  });
}

redis_stats redis_client::stats() const noexcept {
  redis_stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.skipped = skipped_.load(std::memory_order_relaxed);
  s.reconnects = reconnects_.load(std::memory_order_relaxed);
  s.connected = connected_.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------- connection

void redis_client::do_connect() {
  if (state_ == state::stopped) return;
  state_ = state::connecting;
  socket_.reset();
  redisAsyncContext* ac = opt_.unix_socket ? redisAsyncConnectUnix(opt_.host.c_str())
                                           : redisAsyncConnect(opt_.host.c_str(), opt_.port);
  if (!ac || ac->err) {
    log::debug("redis {}:{}: connect failed: {}", opt_.host, opt_.port,
               ac ? ac->errstr : "out of memory");
    if (ac) redisAsyncFree(ac);
    schedule_reconnect();
    return;
  }
  socket_ = redis_socket::attach(ac, strand_);
  if (!socket_) {
    redisAsyncFree(ac);
    schedule_reconnect();
    return;
  }
  ++generation_;
  ac->data = this;
  ac_ = ac;
  redisAsyncSetConnectCallback(ac, &connect_cb);
  redisAsyncSetDisconnectCallback(ac, &disconnect_cb);
  send_handshake();
}

void redis_client::send_handshake() {
  const auto deadline = clock::now() + opt_.connect_timeout;
  const uint64_t gen = generation_;
  std::vector<std::vector<std::string>> cmds;
  if (!opt_.password.empty()) cmds.push_back({"AUTH", opt_.password});
  if (opt_.db != 0) cmds.push_back({"SELECT", std::to_string(opt_.db)});
  cmds.push_back({"PING"});
  for (size_t i = 0; i < cmds.size(); ++i) {
    bool last = i + 1 == cmds.size();
    issue(
        cmds[i], deadline,
        [this, gen, last](error_code ec, redisReply* r) { on_handshake_reply(gen, ec, r, last); },
        true);
  }
}

void redis_client::on_handshake_reply(uint64_t gen, error_code ec, redisReply* r, bool last) {
  if (gen != generation_ || state_ != state::connecting) return;
  if (!ec && r && r->type == REDIS_REPLY_ERROR) {
    log::warn("redis {}:{}: handshake refused: {}", opt_.host, opt_.port,
              std::string_view(r->str, r->len));
    // Unusable from now on (later handshake replies are ignored). Called from inside hiredis:
    // free the context from the strand, not from here.
    state_ = state::waiting;
    asio::post(strand_, [self = shared_from_this(), gen] {
      if (gen != self->generation_ || !self->ac_) return;
      self->drop_connection();
      self->schedule_reconnect();
    });
    return;
  }
  if (ec || !last) return;  // a failed connection reports itself through on_connected / drop
  state_ = state::ready;
  connected_ = true;
  attempt_ = 0;
  if (was_connected_) reconnects_.fetch_add(1, std::memory_order_relaxed);
  was_connected_ = true;
  log::info("redis {}:{}: connected", opt_.host, opt_.port);
}

void redis_client::on_connected(int status) {
  if (status == REDIS_OK) return;  // the handshake's PING says when we are ready
  // hiredis frees the context right after this callback; pending commands get NULL replies.
  log::debug("redis {}:{}: connect failed: {}", opt_.host, opt_.port, ac_ ? ac_->errstr : "");
  ac_ = nullptr;
  connected_ = false;
  schedule_reconnect();
}

void redis_client::on_disconnected(const redisAsyncContext* ac) {
  if (ac != ac_) return;  // our own drop_connection()
  log::warn("redis {}:{}: connection lost: {}", opt_.host, opt_.port, ac->errstr ? ac->errstr : "");
  ac_ = nullptr;
  connected_ = false;
  schedule_reconnect();
}

void redis_client::drop_connection() {
  if (!ac_) return;
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;
  connected_ = false;
  redisAsyncFree(ac);  // pending commands complete through on_reply with a NULL reply
}

void redis_client::schedule_reconnect() {
  if (state_ == state::stopped || destroying_) return;
  state_ = state::waiting;
  // Exponential backoff with "equal jitter": half fixed, half random.
  const double base = static_cast<double>(opt_.reconnect_base.count());
  const double cap = static_cast<double>(opt_.reconnect_max.count());
  const double full = std::min(cap, base * static_cast<double>(1ull << std::min(attempt_, 20u)));
  ++attempt_;
  const auto delay = milliseconds(static_cast<int64_t>(full / 2 + rng_.uniform() * full / 2));
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->state_ != state::waiting) return;
    self->do_connect();
  });
}

// ---------------------------------------------------------------- commands

void redis_client::count_failure(error_code ec) noexcept {
  if (ec == cache_errc::redis_timeout)
    timeouts_.fetch_add(1, std::memory_order_relaxed);
  else if (ec == cache_errc::redis_not_connected)
    skipped_.fetch_add(1, std::memory_order_relaxed);
  else if (ec != cache_errc::stopped)
    errors_.fetch_add(1, std::memory_order_relaxed);
}

void redis_client::issue(const std::vector<std::string>& argv, clock::time_point deadline,
                         reply_fn fn, bool handshake) {
  if (state_ == state::stopped) return fn(cache_errc::stopped, nullptr);
  if (!ac_ || (state_ != state::ready && !handshake))
    return fn(cache_errc::redis_not_connected, nullptr);
  if (clock::now() >= deadline) return fn(cache_errc::redis_timeout, nullptr);
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto cmd = std::make_unique<command>();
  cmd->deadline = deadline;
  cmd->fn = std::move(fn);
  if (redisAsyncCommandArgv(ac_, &reply_cb, cmd.get(), static_cast<int>(args.size()), args.data(),
                            lens.data()) != REDIS_OK)
    return cmd->fn(cache_errc::redis_connection_lost, nullptr);
  pending_.push_back(std::move(cmd));
  arm_deadline(deadline);
}

void redis_client::on_reply(command* cmd, redisReply* r) {
  std::unique_ptr<command> owned;
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [cmd](const auto& p) { return p.get() == cmd; });  // the front, in order
  if (it == pending_.end()) return;
  owned = std::move(*it);
  pending_.erase(it);
  if (owned->done || destroying_) return;
  owned->done = true;
  error_code ec;
  if (!r) {
    if (state_ == state::stopped)
      ec = cache_errc::stopped;
    else if (clock::now() >= owned->deadline)
      ec = cache_errc::redis_timeout;
    else
      ec = cache_errc::redis_connection_lost;
  }
  owned->fn(ec, r);
}

void redis_client::arm_deadline(clock::time_point t) {
  if (deadline_armed_ && armed_for_ <= t) return;
  deadline_armed_ = true;
  armed_for_ = t;
  deadline_timer_.expires_at(t);  // a wait armed for later is cancelled (operation_aborted)
  deadline_timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) { self->on_deadline(ec); });
}

void redis_client::on_deadline(const boost::system::error_code& ec) {
  if (ec) return;  // superseded by an earlier deadline, or stopped
  deadline_armed_ = false;
  if (state_ == state::stopped) return;
  const auto now = clock::now();
  size_t expired = 0;
  auto next = clock::time_point::max();
  for (auto& c : pending_) {
    if (c->done) continue;
    if (c->deadline > now) {
      next = std::min(next, c->deadline);
      continue;
    }
    c->done = true;
    ++expired;
    c->fn(cache_errc::redis_timeout, nullptr);
  }
  if (expired == 0) {
    if (next != clock::time_point::max()) arm_deadline(next);
    return;
  }
  // A Redis that does not answer in time is treated as down: drop it and reconnect later.
  log::debug("redis {}:{}: {} command(s) timed out; reconnecting", opt_.host, opt_.port, expired);
  drop_connection();
  schedule_reconnect();
}

void redis_client::get(std::string key, dispatcher d, get_handler h) {
  const auto deadline = clock::now() + opt_.timeout;
  asio::post(strand_, [self = shared_from_this(), key = opt_.key_prefix + key, d = std::move(d),
                       h = std::move(h), deadline]() mutable {
    self->issue(
        {"GET", std::move(key)}, deadline,
        [self = self.get(), d = std::move(d), h = std::move(h)](error_code ec, redisReply* r) {
          std::optional<std::string> value;
          if (!ec && r->type == REDIS_REPLY_STRING) {
            value.emplace(r->str, r->len);
            self->hits_.fetch_add(1, std::memory_order_relaxed);
          } else if (!ec && r->type == REDIS_REPLY_NIL) {
            self->misses_.fetch_add(1, std::memory_order_relaxed);
          } else if (!ec) {
            ec = r->type == REDIS_REPLY_ERROR ? cache_errc::redis_error_reply
                                              : cache_errc::redis_bad_reply;
          }
          if (ec) self->count_failure(ec);
          d([h = std::move(h), ec, value = std::move(value)]() mutable {
            h(ec, std::move(value));
          });
        });
  });
}

void redis_client::set(std::string key, std::string value, milliseconds ttl, dispatcher d,
                       set_handler h) {
  const auto deadline = clock::now() + opt_.timeout;
  asio::post(strand_, [self = shared_from_this(), key = opt_.key_prefix + key,
                       value = std::move(value), ttl = std::max(ttl, milliseconds(1)),
                       d = std::move(d), h = std::move(h), deadline]() mutable {
    std::vector<std::string> argv{"SET", std::move(key), std::move(value), "PX",
                                  std::to_string(ttl.count())};
    self->issue(
        argv, deadline,
        [self = self.get(), d = std::move(d), h = std::move(h)](error_code ec, redisReply* r) {
          if (!ec && !is_status(r, "OK"))
            ec = r->type == REDIS_REPLY_ERROR ? cache_errc::redis_error_reply
                                              : cache_errc::redis_bad_reply;
          if (ec) self->count_failure(ec);
          if (h) d([h = std::move(h), ec] { h(ec); });
        });
  });
}

void redis_client::purge(std::string prefix, dispatcher d, purge_handler h) {
  auto job = std::make_shared<purge_job>();
  job->pattern = match_prefix(opt_.key_prefix + prefix);
  job->d = std::move(d);
  job->h = std::move(h);
  asio::post(strand_, [self = shared_from_this(), job] { self->purge_step(job); });
}

// One SCAN, then UNLINK of what it found, then the next SCAN, until the cursor is back at 0.
void redis_client::purge_step(std::shared_ptr<purge_job> job) {
  auto finish = [job](error_code ec) { job->d([job, ec] { job->h(ec, job->removed); }); };
  // SCAN and UNLINK may take longer than a GET; they still must not stall for ever.
  const auto deadline = clock::now() + std::max(opt_.timeout * 10, milliseconds(1000));
  issue({"SCAN", job->cursor, "MATCH", job->pattern, "COUNT", "500"}, deadline,
        [this, job, finish, deadline](error_code ec, redisReply* r) {
          if (!ec && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                      r->element[0]->type != REDIS_REPLY_STRING ||
                      r->element[1]->type != REDIS_REPLY_ARRAY))
            ec = cache_errc::redis_bad_reply;
          if (ec) {
            count_failure(ec);
            return finish(ec);
          }
          job->cursor.assign(r->element[0]->str, r->element[0]->len);
          std::vector<std::string> argv{"UNLINK"};
          for (size_t i = 0; i < r->element[1]->elements; ++i) {
            const redisReply* k = r->element[1]->element[i];
            if (k->type == REDIS_REPLY_STRING) argv.emplace_back(k->str, k->len);
          }
          auto next = [this, job, finish] {
            if (job->cursor == "0") return finish({});
            asio::post(strand_, [self = shared_from_this(), job] { self->purge_step(job); });
          };
          if (argv.size() == 1) return next();
          issue(argv, deadline, [this, job, finish, next](error_code ec, redisReply* r) {
            if (!ec && r->type != REDIS_REPLY_INTEGER) ec = cache_errc::redis_bad_reply;
            if (ec) {
              count_failure(ec);
              return finish(ec);
            }
            job->removed += static_cast<uint64_t>(r->integer);
            next();
          });
        });
}

}  // namespace spillway::cache
