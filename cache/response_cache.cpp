#include "cache/response_cache.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace spillway::cache {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

struct windows {
  nanoseconds fresh_for, stale_for;
};

// Remaining fresh and stale windows of `e` at wall time `now` (a future stored_at, from a
// replica whose clock runs ahead, counts as age 0).
windows remaining(const entry& e, std::chrono::system_clock::time_point now) {
  nanoseconds age = std::max(nanoseconds::zero(), nanoseconds(now - e.stored_at));
  nanoseconds ttl = e.ttl, total = e.ttl + e.stale_if_error;
  nanoseconds fresh = std::max(nanoseconds::zero(), ttl - age);
  nanoseconds left = std::max(nanoseconds::zero(), total - age);
  return {fresh, left - fresh};
}

}  // namespace

struct response_cache::maintenance : std::enable_shared_from_this<maintenance> {
  maintenance(boost::asio::any_io_executor ex, nanoseconds p, inflight_table* t)
      : timer(ex), period(p), table(t) {}

  void arm() {
    timer.expires_after(period);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      {
        std::lock_guard lock(self->mu);
        if (!self->table) return;
        self->table->expire();
      }
      self->arm();
    });
  }

  boost::asio::steady_timer timer;  // used on its executor only
  nanoseconds period;
  std::mutex mu;
  inflight_table* table;  // null once stopped
};

response_cache_options response_cache_options::from_config(const config::cache_config& c) {
  response_cache_options o;
  o.memory_max_bytes = c.memory.max_bytes;
  o.max_object_bytes = c.max_object_bytes;
  return o;
}

response_cache::response_cache(response_cache_options opt, const clock_source& clock,
                               std::shared_ptr<remote_store> remote, wall_clock wall)
    : opt_(opt),
      clock_(clock),
      remote_(std::move(remote)),
      wall_(std::move(wall)),
      memory_(opt.memory_max_bytes,
              opt.shards ? opt.shards
                         : memory_store::shards_for(opt.memory_max_bytes, opt.max_object_bytes),
              clock),
      keys_(opt.key_memo_max_bytes),
      flights_({opt.max_object_bytes, opt.flight_idle_timeout}, clock) {}

response_cache::~response_cache() {
  stop();
}

lookup_result response_cache::classify(entry_ptr e) const {
  lookup_result r;
  windows w = remaining(*e, wall_now());
  if (w.fresh_for > nanoseconds::zero())
    r.state = lookup_state::fresh;
  else if (w.stale_for > nanoseconds::zero())
    r.state = lookup_state::stale;
  else
    return r;
  r.e = std::move(e);
  return r;
}

lookup_result response_cache::lookup_memory(std::string_view key) {
  lookup_result r;
  auto hit = memory_.find(key);
  if (!hit) return r;
  r.state = hit->state == freshness::fresh ? lookup_state::fresh : lookup_state::stale;
  r.e = std::move(hit->e);
  return r;
}

void response_cache::lookup_remote(std::string key, dispatcher d,
                                   std::function<void(lookup_result)> done) {
  if (!remote_) {
    d([done = std::move(done)] { done(lookup_result{}); });
    return;
  }
  auto on_value = [this, key, done = std::move(done)](error_code ec,
                                                      std::optional<std::string> value) {
    lookup_result miss;
    miss.remote_error = ec;
    if (ec || !value) return done(miss);
    auto e = std::make_shared<entry>();
    if (auto dec = deserialize(*value, *e)) {
      miss.remote_error = dec;
      return done(miss);
    }
    if (e->payload_bytes() > opt_.max_object_bytes) return done(miss);
    lookup_result r = classify(e);
    if (r.state != lookup_state::miss) {
      windows w = remaining(*e, wall_now());
      memory_.insert(key, e, w.fresh_for, w.stale_for);
    }
    done(std::move(r));
  };
  remote_->get(std::move(key), std::move(d), std::move(on_value));
}

entry_times response_cache::times_for(const config::route_cache_config& route) const {
  entry_times t;
  t.stored_at = wall_now();
  t.ttl = std::chrono::duration_cast<milliseconds>(route.ttl);
  t.stale_if_error = std::chrono::duration_cast<milliseconds>(route.stale_if_error);
  return t;
}

entry_ptr response_cache::finish(flight_leader& leader, const config::route_cache_config& route,
                                 bool* stored) {
  entry_ptr e = leader.finish(times_for(route));
  bool keep = e && storable(*e);
  if (keep) store(leader.key(), e);
  leader.release();
  if (stored) *stored = keep;
  return e;
}

bool response_cache::store(const std::string& key, const entry_ptr& e) {
  if (!e) return false;
  windows w = remaining(*e, wall_now());
  bool in_memory = memory_.insert(key, e, w.fresh_for, w.stale_for);
  auto expiry = std::chrono::duration_cast<milliseconds>(w.fresh_for + w.stale_for);
  if (remote_ && expiry > milliseconds::zero())
    remote_->set(key, serialize(*e), std::max(expiry, milliseconds(1)), nullptr, nullptr);
  return in_memory;
}

void response_cache::purge(std::string prefix, dispatcher d,
                           std::function<void(error_code, uint64_t, uint64_t)> done) {
  uint64_t dropped = memory_.purge(prefix);
  keys_.purge(prefix);
  if (!remote_) {
    d([done = std::move(done), dropped] { done({}, dropped, 0); });
    return;
  }
  remote_->purge(
      std::move(prefix), std::move(d),
      [done = std::move(done), dropped](error_code ec, uint64_t n) { done(ec, dropped, n); });
}

void response_cache::start_maintenance(boost::asio::any_io_executor ex, nanoseconds period) {
  stop();
  auto m = std::make_shared<maintenance>(ex, period, &flights_);
  maint_ = m;
  boost::asio::post(ex, [m] { m->arm(); });
}

void response_cache::stop() {
  if (!maint_) return;
  auto m = std::move(maint_);
  {
    std::lock_guard lock(m->mu);
    m->table = nullptr;
  }
  boost::asio::post(m->timer.get_executor(), [m] { m->timer.cancel(); });
}

}  // namespace spillway::cache
