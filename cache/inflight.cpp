#include "cache/inflight.hpp"

#include <vector>

namespace spillway::cache {
namespace detail {

struct follower {
  dispatcher d;
  flight_listener listener;
  std::atomic<bool> cancelled{false};
};

struct flight {
  enum class state : uint8_t { waiting, streaming, complete, failed };

  flight(std::string k, uint64_t max_bytes, steady_time now)
      : key(std::move(k)), builder(max_bytes), last_progress(now) {}

  std::mutex mu;
  const std::string key;
  entry_builder builder;
  state st = state::waiting;
  entry_ptr result;
  error_code error;
  steady_time last_progress;
  std::vector<std::shared_ptr<follower>> followers;
};

}  // namespace detail

namespace {

using detail::flight;
using detail::follower;
using event_ptr = std::shared_ptr<const flight_event>;

// Hands `ev` to `s` through its dispatcher; dropped if the follower cancelled in between.
void deliver(const std::shared_ptr<follower>& s, event_ptr ev) {
  s->d([s, ev = std::move(ev)] {
    if (!s->cancelled.load(std::memory_order_acquire)) s->listener(*ev);
  });
}

void broadcast(flight& f, const event_ptr& ev) {
  for (const auto& s : f.followers) deliver(s, ev);
}

event_ptr head_event(const entry& e) {
  auto ev = std::make_shared<flight_event>();
  ev->t = flight_event::type::head;
  ev->status = e.status;
  ev->content_type = e.content_type;
  ev->kind = e.kind;
  return ev;
}

event_ptr data_event(std::string data) {
  auto ev = std::make_shared<flight_event>();
  ev->t = flight_event::type::data;
  ev->data = std::move(data);
  return ev;
}

event_ptr complete_event(entry_ptr e) {
  auto ev = std::make_shared<flight_event>();
  ev->t = flight_event::type::complete;
  ev->result = std::move(e);
  return ev;
}

event_ptr error_event(error_code ec) {
  auto ev = std::make_shared<flight_event>();
  ev->t = flight_event::type::error;
  ev->ec = ec;
  return ev;
}

// Under f.mu. Moves the flight to failed and tells every follower.
void fail_locked(flight& f, error_code ec) {
  if (f.st == flight::state::complete || f.st == flight::state::failed) return;
  f.st = flight::state::failed;
  f.error = ec;
  broadcast(f, error_event(ec));
  f.followers.clear();
}

// Under f.mu. What a follower joining now has missed.
void replay(flight& f, const std::shared_ptr<follower>& s) {
  switch (f.st) {
    case flight::state::waiting:
      return;
    case flight::state::failed:
      deliver(s, error_event(f.error));
      return;
    case flight::state::streaming: {
      const entry& e = f.builder.current();
      deliver(s, head_event(e));
      for (const auto& d : e.events) deliver(s, data_event(d));
      return;
    }
    case flight::state::complete:
      deliver(s, head_event(*f.result));
      for (const auto& d : f.result->events) deliver(s, data_event(d));
      deliver(s, complete_event(f.result));
      return;
  }
}

}  // namespace

// ---------------------------------------------------------------- leader

flight_leader& flight_leader::operator=(flight_leader&& o) noexcept {
  if (this != &o) {
    if (f_) fail(cache_errc::leader_abandoned);
    table_ = o.table_;
    f_ = std::move(o.f_);
  }
  return *this;
}

flight_leader::~flight_leader() {
  if (f_) fail(cache_errc::leader_abandoned);
}

const std::string& flight_leader::key() const noexcept {
  static const std::string none;
  return f_ ? f_->key : none;
}

error_code flight_leader::begin(int status, std::string_view content_type) {
  if (!f_) return cache_errc::stopped;
  error_code ec;
  {
    std::lock_guard lock(f_->mu);
    if (f_->st != flight::state::waiting) return f_->error ? f_->error : cache_errc::not_storable;
    ec = f_->builder.begin(status, content_type);
    if (!ec) {
      f_->st = flight::state::streaming;
      f_->last_progress = table_->clock_.now();
      broadcast(*f_, head_event(f_->builder.current()));
      return {};
    }
    fail_locked(*f_, ec);
  }
  release();
  return ec;
}

error_code flight_leader::append(std::string_view bytes) {
  if (!f_) return cache_errc::stopped;
  error_code ec;
  {
    std::lock_guard lock(f_->mu);
    if (f_->st != flight::state::streaming) return f_->error ? f_->error : cache_errc::not_storable;
    const size_t before = f_->builder.current().events.size();
    ec = f_->builder.append(bytes);
    if (!ec) {
      f_->last_progress = table_->clock_.now();
      const auto& events = f_->builder.current().events;
      for (size_t i = before; i < events.size(); ++i) broadcast(*f_, data_event(events[i]));
      return {};
    }
    fail_locked(*f_, ec);
  }
  release();
  return ec;
}

entry_ptr flight_leader::finish(const entry_times& times) {
  if (!f_) return nullptr;
  std::lock_guard lock(f_->mu);
  if (f_->st != flight::state::streaming) return nullptr;
  std::shared_ptr<entry> e = f_->builder.finish();
  if (!e) return nullptr;
  e->stored_at = times.stored_at;
  e->ttl = times.ttl;
  e->stale_if_error = times.stale_if_error;
  e->request_hash = times.request_hash;
  f_->result = e;
  f_->st = flight::state::complete;
  broadcast(*f_, complete_event(e));
  f_->followers.clear();
  return e;
}

void flight_leader::fail(error_code ec) {
  if (!f_) return;
  {
    std::lock_guard lock(f_->mu);
    fail_locked(*f_, ec);
  }
  release();
}

void flight_leader::release() {
  if (!f_) return;
  table_->remove(f_);
  {
    // Released before finishing: nobody will finish it.
    std::lock_guard lock(f_->mu);
    fail_locked(*f_, cache_errc::leader_abandoned);
  }
  f_.reset();
}

// ---------------------------------------------------------------- follower

flight_subscription& flight_subscription::operator=(flight_subscription&& o) noexcept {
  if (this != &o) {
    cancel();
    f_ = std::move(o.f_);
    sub_ = std::move(o.sub_);
  }
  return *this;
}

void flight_subscription::cancel() {
  if (!sub_) return;
  sub_->cancelled.store(true, std::memory_order_release);
  {
    std::lock_guard lock(f_->mu);
    std::erase(f_->followers, sub_);
  }
  sub_.reset();
  f_.reset();
}

// ---------------------------------------------------------------- table

inflight_table::~inflight_table() {
  std::lock_guard lock(mu_);
  for (auto& [k, f] : flights_) {
    std::lock_guard fl(f->mu);
    fail_locked(*f, cache_errc::stopped);
  }
}

join_result inflight_table::join(const std::string& key, dispatcher d, flight_listener listener) {
  join_result r;
  std::lock_guard lock(mu_);
  auto it = flights_.find(key);
  if (it == flights_.end()) {
    auto f = std::make_shared<flight>(key, opt_.max_object_bytes, clock_.now());
    flights_.emplace(key, f);
    r.leader = flight_leader(this, std::move(f));
    return r;
  }
  auto s = std::make_shared<follower>();
  s->d = std::move(d);
  s->listener = std::move(listener);
  flight& f = *it->second;
  std::lock_guard fl(f.mu);
  replay(f, s);
  if (f.st == flight::state::waiting || f.st == flight::state::streaming) f.followers.push_back(s);
  r.subscription = flight_subscription(it->second, std::move(s));
  return r;
}

void inflight_table::remove(const std::shared_ptr<flight>& f) {
  std::lock_guard lock(mu_);
  auto it = flights_.find(f->key);
  if (it != flights_.end() && it->second == f) flights_.erase(it);
}

size_t inflight_table::expire() {
  const steady_time now = clock_.now();
  size_t n = 0;
  std::lock_guard lock(mu_);
  for (auto it = flights_.begin(); it != flights_.end();) {
    flight& f = *it->second;
    std::lock_guard fl(f.mu);
    bool active = f.st == flight::state::waiting || f.st == flight::state::streaming;
    if (active && now - f.last_progress >= opt_.idle_timeout) {
      fail_locked(f, cache_errc::flight_timeout);
      it = flights_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

size_t inflight_table::size() const {
  std::lock_guard lock(mu_);
  return flights_.size();
}

}  // namespace spillway::cache
