#include "loadgen/driver.hpp"

#include <algorithm>

#include "loadgen/http1_connection.hpp"
#include "loadgen/http2_connection.hpp"

namespace spillway::loadgen {

namespace {

constexpr auto tick_period = std::chrono::milliseconds(10);

/// Share of `total` for thread `id` of `n` (the first `total % n` threads get one more).
uint64_t share(uint64_t total, unsigned id, unsigned n) {
  return total / n + (id < total % n ? 1 : 0);
}

}  // namespace

driver::driver(const run_plan& plan, unsigned id, collector& col, progress_slot& slot)
    : plan_(plan), opts_(*plan.opts), id_(id), col_(col), slot_(slot) {
  const options& o = opts_;
  const unsigned n = plan.threads;
  conn_cfg_.endpoint = plan.endpoint;
  conn_cfg_.tls.context = plan.tls;
  conn_cfg_.tls.server_name = plan.factory->target().host;
  conn_cfg_.tls.want_h2 = o.http2;
  conn_cfg_.rules.openai = o.openai;
  conn_cfg_.rules.stream = o.stream;
  conn_cfg_.rules.engine_header = o.engine_header;
  conn_cfg_.max_streams = o.http2 ? o.streams : 1;

  const bool open = o.open_loop();
  const uint64_t conc = o.concurrency ? std::max<uint64_t>(share(o.concurrency, id, n), 1) : 0;
  cap_ = open ? conc : 0;
  const uint64_t conns = o.connections ? std::max<uint64_t>(share(o.connections, id, n), 1) : 0;
  if (o.http2) {
    // Enough connections for the concurrency; an uncapped open loop adds connections on demand
    // when every stream is busy, so the client never becomes the queue.
    const uint64_t need = std::max<uint64_t>((conc + o.streams - 1) / o.streams, 1);
    max_conns_ = conns ? conns : (open && !cap_ ? 64 : need);
    preconnect_ = conns ? conns : (open ? 1 : need);
  } else {
    max_conns_ = conns ? conns : (open ? (cap_ ? cap_ : 4096) : conc);
    preconnect_ = open ? conns : std::min<uint64_t>(conc, max_conns_);
  }
  if (open) {
    for (size_t j = id; j < plan.schedule.size(); j += n) arrivals_.push_back(plan.schedule[j]);
  } else if (o.max_requests) {
    quota_ = share(o.max_requests, id, n);
  }
  if (!open && o.duration.count() > 0) end_time_ = (o.warmup + o.duration).count();
}

driver::~driver() {
  for (auto& c : conns_) c->shutdown();
}

connection* driver::add_connection() {
  if (opts_.http2) {
    conns_.push_back(std::make_unique<http2_connection>(io_, conn_cfg_, *plan_.factory, *this));
  } else {
    conns_.push_back(std::make_unique<http1_connection>(io_, conn_cfg_, *this));
  }
  connection* c = conns_.back().get();
  c->in_ready_list = true;
  ready_.push_back(c);
  return c;
}

void driver::preconnect() {
  while (conns_.size() < preconnect_) add_connection()->preconnect();
}

bool driver::preconnected() const {
  // Every connect attempt ends in exactly one of the two counters.
  return col_.conn.connects + col_.conn.connect_errors >= preconnect_;
}

int64_t driver::now() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                              t0_)
      .count();
}

void driver::begin(std::chrono::steady_clock::time_point t0) {
  t0_ = t0;
  started_ = true;
  tick_timer_.expires_at(t0_ + tick_period);
  tick_timer_.async_wait([this](error_code ec) {
    if (!ec) on_tick();
  });
  if (opts_.open_loop()) {
    arm_arrival();
    check_finished();
    return;
  }
  // The closed loop starts at t0 too, so its first sends are not before the clock's zero.
  arrival_timer_.expires_at(t0_);
  arrival_timer_.async_wait([this](error_code ec) {
    if (ec) return;
    const uint64_t conc = std::max<uint64_t>(share(opts_.concurrency, id_, plan_.threads), 1);
    for (uint64_t i = 0; i < conc; ++i) issue_closed();
    check_finished();
  });
}

request_ctx* driver::make_request(uint64_t index, int64_t scheduled) {
  request_ctx* r;
  if (free_.empty()) {
    pool_.push_back(std::make_unique<request_ctx>());
    r = pool_.back().get();
  } else {
    r = free_.back();
    free_.pop_back();
  }
  r->reset_response();
  r->index = index;
  r->scheduled = scheduled;
  r->measured = scheduled >= opts_.warmup.count();
  r->retried = false;
  r->cancel_at = -1;
  r->cancel_delay = plan_.factory->cancel_delay(index);
  r->conn = nullptr;
  plan_.factory->fill(*r);
  return r;
}

void driver::release(request_ctx* r) {
  free_.push_back(r);
}

bool driver::cap_reached() const {
  return cap_ && inflight_.size() >= cap_;
}

connection* driver::pick() {
  while (!ready_.empty()) {
    connection* c = ready_.back();
    if (c->has_capacity()) return c;
    ready_.pop_back();
    c->in_ready_list = false;
  }
  if (conns_.size() < max_conns_) return add_connection();
  return nullptr;
}

void driver::dispatch(request_ctx* r, bool count_wait) {
  connection* c = cap_reached() ? nullptr : pick();
  if (!c) {
    pending_.push_back(r);
    if (count_wait && r->measured) col_.on_waited();
    return;
  }
  start_on(c, r);
}

void driver::start_on(connection* c, request_ctx* r) {
  inflight_.push_back(r);
  slot_.in_flight.store(inflight_.size(), std::memory_order_relaxed);
  c->submit(r);
}

void driver::drain_pending() {
  while (!pending_.empty() && !cap_reached()) {
    connection* c = pick();
    if (!c) return;
    start_on(c, pending_.pop_front());
  }
}

void driver::on_sent(request_ctx* r) {
  if (r->cancel_delay >= 0) r->cancel_at = r->sent + r->cancel_delay;
  col_.on_sent(*r);
  slot_.sent.fetch_add(1, std::memory_order_relaxed);
}

void driver::on_response(request_ctx* r) {
  inflight_.remove(r);
  slot_.in_flight.store(inflight_.size(), std::memory_order_relaxed);
  if (discard_) {
    col_.on_unfinished(1);
  } else {
    col_.on_done(*r);
    slot_.done.fetch_add(1, std::memory_order_relaxed);
    if (!r->ok() && r->error != error_class::cancelled)
      slot_.errors.fetch_add(1, std::memory_order_relaxed);
  }
  const bool connect_failed = r->error == error_class::connect || r->error == error_class::tls;
  release(r);
  if (!opts_.open_loop() && !stopping_) {
    // Back off until the next tick when the target refuses connections, instead of spinning.
    if (connect_failed) {
      ++deferred_;
    } else {
      issue_closed();
    }
  }
  drain_pending();
  check_finished();
}

void driver::on_ready(connection* c) {
  if (!c->in_ready_list && c->has_capacity()) {
    c->in_ready_list = true;
    ready_.push_back(c);
  }
  if (started_) drain_pending();
}

void driver::issue_closed() {
  if (stopping_ || issued_ >= quota_) return;
  const int64_t t = now();
  if (t >= end_time_) return;
  request_ctx* r = make_request(id_ + issued_ * plan_.threads, t);
  ++issued_;
  dispatch(r, false);
}

void driver::arm_arrival() {
  if (next_arrival_ >= arrivals_.size()) return;
  arrival_timer_.expires_at(t0_ + std::chrono::nanoseconds(arrivals_[next_arrival_]));
  arrival_timer_.async_wait([this](error_code ec) {
    if (!ec) on_arrival();
  });
}

void driver::on_arrival() {
  const int64_t t = now();
  while (next_arrival_ < arrivals_.size() && arrivals_[next_arrival_] <= t) {
    const int64_t scheduled = arrivals_[next_arrival_];
    request_ctx* r = make_request(id_ + next_arrival_ * plan_.threads, scheduled);
    ++next_arrival_;
    col_.on_scheduled(scheduled);
    dispatch(r, true);
  }
  arm_arrival();
  check_finished();
}

void driver::expire(int64_t t) {
  const int64_t timeout = opts_.timeout.count();
  while (!pending_.empty() && pending_.front()->scheduled + timeout <= t) {
    request_ctx* r = pending_.pop_front();
    r->error = error_class::timeout;
    r->done = t;
    inflight_.push_back(r);  // on_response takes it off the in-flight list
    on_response(r);
  }
  struct due {
    request_ctx* r;
    uint64_t index;
    error_class why;
  };
  std::vector<due> list;
  for (request_ctx* r = inflight_.front(); r; r = r->next) {
    if (r->cancel_at >= 0 && r->cancel_at <= t) {
      list.push_back({r, r->index, error_class::cancelled});
    } else if (r->scheduled + timeout <= t) {
      list.push_back({r, r->index, error_class::timeout});
    }
  }
  for (const due& d : list) {
    // An earlier abort may have ended (and recycled) this context already.
    if (d.r->index != d.index || d.r->done >= 0 || !d.r->conn) continue;
    static_cast<connection*>(d.r->conn)->abort(d.r, d.why);
  }
}

void driver::on_tick() {
  const int64_t t = now();
  expire(t);
  if (!opts_.open_loop() && !stopping_) {
    if (t >= end_time_) {
      stop_closed();
    } else {
      for (uint64_t n = std::exchange(deferred_, 0); n > 0; --n) issue_closed();
    }
  }
  if (t >= next_second_) {
    col_.sample_in_flight(next_second_ - 1, inflight_.size() + pending_.size());
    slot_.p99_ns.store(col_.latency.percentile(99), std::memory_order_relaxed);
    next_second_ += 1'000'000'000;
    if (on_second) on_second(t);
  }
  check_finished();
  if (finished_) return;
  tick_timer_.expires_at(tick_timer_.expiry() + tick_period);
  tick_timer_.async_wait([this](error_code ec) {
    if (!ec) on_tick();
  });
}

void driver::stop_closed() {
  stopping_ = true;
  discard_ = true;
  while (!pending_.empty()) {
    release(pending_.pop_front());
    col_.on_unfinished(1);
  }
  std::vector<std::pair<request_ctx*, uint64_t>> list;
  for (request_ctx* r = inflight_.front(); r; r = r->next) list.emplace_back(r, r->index);
  for (auto [r, index] : list) {
    if (r->index != index || r->done >= 0 || !r->conn) continue;
    static_cast<connection*>(r->conn)->abort(r, error_class::cancelled);
  }
  discard_ = false;
}

void driver::check_finished() {
  if (!started_ || finished_) return;
  bool done = false;
  if (opts_.open_loop()) {
    done = next_arrival_ >= arrivals_.size() && inflight_.empty() && pending_.empty();
  } else {
    done = inflight_.empty() && pending_.empty() &&
           (stopping_ || issued_ >= quota_ || (deferred_ == 0 && now() >= end_time_));
  }
  if (done) finish();
}

void driver::finish() {
  finished_ = true;
  col_.sample_in_flight(now(), 0);
  col_.flush_jsonl();
  error_code ignored;
  arrival_timer_.cancel();
  tick_timer_.cancel();
  for (auto& c : conns_) c->shutdown();
  slot_.finished.store(true, std::memory_order_relaxed);
}

}  // namespace spillway::loadgen
