// The resilience half of http1::session: endpoint choice through breakers and the balancer,
// the cluster queue, retries (budget, backoff, Retry-After), fallback clusters, and the final
// answer when nothing can serve the request.
#include <chrono>

#include "common/log.hpp"
#include "proxy/http1/error_map.hpp"
#include "proxy/http1/session.hpp"
#include "proxy/queue/priority.hpp"

namespace spillway::http1 {

using upstream::try_result;

namespace {

try_result result_for(errc e) {
  switch (e) {
    case errc::connect_failed:
      return try_result::connect_failure;
    case errc::connect_timeout:
    case errc::first_byte_timeout:
    case errc::upstream_idle_timeout:
    case errc::total_timeout:
      return try_result::timeout;
    default:
      return try_result::reset;
  }
}

retry::failure_kind kind_for(errc e) {
  switch (e) {
    case errc::connect_failed:
    case errc::connect_timeout:
      return retry::failure_kind::connect_failure;
    case errc::first_byte_timeout:
      return retry::failure_kind::timeout;
    default:
      return retry::failure_kind::reset;
  }
}

}  // namespace

// ---------------------------------------------------------------- endpoint choice

void session::pick_and_connect() {
  if (cluster_ < 0) return no_endpoint();
  upstream::cluster& cl = cluster();
  int idx = -1;
  std::vector<int> skipped;  // breaker refusals and capacity races: excluded for this pick only
  while (true) {
    tried_.insert(tried_.end(), skipped.begin(), skipped.end());
    idx = pick_endpoint();
    tried_.resize(tried_.size() - skipped.size());
    if (idx < 0) break;
    ticket_ = cl.admit(idx);
    if (!ticket_.admitted) {
      skipped.push_back(idx);
      continue;
    }
    if (!cl.at(idx).try_acquire()) {
      cl.report(idx, ticket_, try_result::cancelled);
      skipped.push_back(idx);
      continue;
    }
    break;
  }
  if (idx < 0)
    return aff_pick_.what == affinity::decision::failed ? affinity_unavailable() : no_endpoint();
  endpoint_ = idx;
  slot_held_ = true;
  try_started_ = steady::now();
  try_open_ = true;
  ++attempts_;
  tried_.push_back(idx);
  if (!force_fresh_) {
    up_ = gen_->pool(cluster_).take(idx);
    if (up_) {
      up_reused_ = true;
      return send_request();
    }
  }
  force_fresh_ = false;
  up_reused_ = false;
  auto addrs = cl.addresses(idx);
  if (addrs.empty()) return upstream_failed(upstream_error(errc::connect_failed, true));
  set_deadline(upstream_connect, cl.config().connect_timeout);
  do_connect(std::move(addrs), 0);
}

void session::finish_try(try_result r) {
  if (!try_open_) return;
  try_open_ = false;
  cluster().report(endpoint_, ticket_, r);
}

bool session::should_queue() const {
  // Waiting helps only when an endpoint we may still use is healthy but full.
  const upstream::cluster& cl = *rt().clusters[cluster_];
  for (size_t i = 0; i < cl.size(); ++i) {
    const auto& e = cl.at(i);
    if (!e.available() || !e.at_capacity()) continue;
    bool tried = false;
    for (int t : tried_) tried = tried || t == static_cast<int>(i);
    if (!tried) return true;
  }
  return false;
}

void session::no_endpoint() {
  if (cluster_ >= 0 && should_queue()) return enqueue();
  // A stale answer (stale_if_error) comes before the fallback clusters (SPEC §2.2).
  if (cache_on_failure()) return;
  if (try_fallback()) return;
  error e = last_error_ ? last_error_ : upstream_error(errc::no_endpoint, false);
  if (!last_error_) route_state().count_shed(server::shed_reason::no_endpoint);
  upstream_failed_final(e);
}

bool session::try_fallback() {
  const auto& fallbacks = route_state().fallbacks;
  while (fallback_next_ < fallbacks.size()) {
    const int next = fallbacks[fallback_next_++];
    if (next == cluster_) continue;
    cluster_ = next;
    tried_.clear();
    last_error_ = {};
    pick_and_connect();
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- queue

void session::enqueue() {
  upstream::cluster& cl = cluster();
  const auto& prio_cfg = rt().config->routes[route_].priority;
  const auto value = req_.headers.find(prio_cfg.header).value_or(std::string_view{});
  const auto cls = queue::priority_of(value, prio_cfg.default_class);
  auto self = std::static_pointer_cast<queue::queued_request>(shared_from_this());
  auto r = cl.queue().push(cls, queue::queue_handle(self));
  if (r.evicted)
    if (auto victim = r.evicted->lock()) victim->on_shed();
  if (!r.admitted) return shed(server::shed_reason::queue_full);
  phase_ = phase::queued;
  queue_id_ = r.id;
  queued_cluster_ = cluster_;
  set_deadline(queue_wait, cl.config().queue.timeout);
  // A slot may have been freed between our failed pick and the push.
  if (cl.has_free_slot()) cl.wake_waiter();
  // Watch the client while waiting: leaving the queue at once when it goes away.
  if (in_.size() < 64 * 1024) do_read_client();
}

void session::on_dequeued() {
  worker_.post([self = shared_from_this()] { self->resume_from_queue(); });
}

void session::on_shed() {
  worker_.post([self = shared_from_this()] {
    if (self->phase_ != phase::queued) return;
    self->queue_id_ = 0;
    self->clear_deadline(queue_wait);
    self->shed(server::shed_reason::evicted);
  });
}

void session::resume_from_queue() {
  if (phase_ != phase::queued) return;  // timed out or closed meanwhile
  queue_id_ = 0;
  clear_deadline(queue_wait);
  phase_ = phase::send_request;
  pick_and_connect();
}

void session::shed(server::shed_reason r) {
  route_state().count_shed(r);
  if (cache_on_failure()) return;
  if (try_fallback()) return;
  const char* message =
      r == server::shed_reason::queue_timeout ? "timed out waiting for an endpoint"
      : r == server::shed_reason::evicted     ? "shed for a higher-priority request"
                                              : "every endpoint is busy and the queue is full";
  if (serve_fallback_response()) return;
  send_local(503, "overloaded", message, !request_complete_);
}

// ---------------------------------------------------------------- retries

bool session::another_endpoint_possible() {
  if (cluster_ >= 0 && another_pick_possible()) return true;
  if (cluster_ >= 0 && should_queue()) return true;
  return fallback_next_ < route_state().fallbacks.size();
}

bool session::try_retry(const retry::failed_try& f, std::string_view retry_after, error e) {
  auto& rs = route_state();
  const auto reason = rs.policy.retryable(f);
  if (!reason) return false;
  if (!rs.policy.attempts_left(attempts_)) {
    rs.retries.count(retry::retry_reason::attempts_exhausted);
    return false;
  }
  if (!replay_valid_ && !sent_log_.empty()) return false;
  if (!another_endpoint_possible()) return false;
  // A connect failure put no load on any endpoint: its retry is not charged to the budget.
  const bool charged = f.kind != retry::failure_kind::connect_failure;
  if (charged && !retry_slot_held_) {
    if (!rs.budget.try_acquire_retry()) {
      rs.retries.count(retry::retry_reason::budget_exhausted);
      return false;
    }
    retry_slot_held_ = true;
  }
  rs.retries.count(*reason);
  last_error_ = e;
  take_replay();
  const auto delay = rs.policy.delay(retries_done_++, retry_after, std::chrono::system_clock::now(),
                                     worker_.rng());
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(delay);
  if (ms.count() <= 0) {
    pick_and_connect();
  } else {
    phase_ = phase::retry_wait;
    set_deadline(retry_wait_done, ms);
  }
  return true;
}

void session::take_replay() {
  // What the failed connection was sent is what the next one must be sent. When nothing went
  // out (a connect failure), an earlier replay still waiting in replay_ is kept.
  if (sent_log_.empty()) return;
  replay_.swap(sent_log_);
  sent_log_.clear();
}

bool session::retry_on_status() {
  const int status = res_.status;
  retry::failed_try f{retry::failure_kind::status, status};
  if (!route_state().policy.retryable(f)) return false;
  const auto retry_after = res_.headers.find(http::field_id::retry_after);
  std::string retry_after_value(retry_after.value_or(std::string_view{}));
  status_sent_ = status;
  finish_try(status >= 500 ? try_result::server_error : try_result::success);
  const error e = upstream_error(errc::bad_response, true);
  // Decided before the response is dropped: when no retry happens, it goes to the client.
  if (!try_retry(f, retry_after_value, e)) return false;
  clear_deadline(first_byte);
  clear_deadline(upstream_idle);
  release_upstream(false);  // the error body is not read: the connection cannot be reused
  res_parser_.reset();
  return true;
}

void session::end_exchange_accounting() {
  finish_try(try_result::cancelled);
  if (queue_id_ != 0 && queued_cluster_ >= 0) {
    rt().clusters[queued_cluster_]->queue().cancel(queue_id_);
    queue_id_ = 0;
  }
  if (route_ < 0) return;
  auto& rs = route_state();
  if (retry_slot_held_) {
    rs.budget.release_retry();
    retry_slot_held_ = false;
  }
  if (budget_counted_) {
    rs.budget.request_finished();
    budget_counted_ = false;
  }
}

// ---------------------------------------------------------------- failures

void session::upstream_failed(error e) {
  if (phase_ == phase::closed) return;
  const errc code = static_cast<errc>(e.code.value());
  clear_deadline(upstream_connect);
  clear_deadline(first_byte);
  clear_deadline(upstream_idle);
  status_sent_ = 0;
  // A pooled connection the upstream had already closed says nothing about the endpoint.
  const bool stale_pooled = code == errc::upstream_reset && e.retryable && up_reused_ &&
                            !up_fresh_retry_done_ && replay_valid_;
  finish_try(stale_pooled ? try_result::cancelled : result_for(code));
  release_upstream(false);
  if (client_head_sent_) return abort_stream(e);

  if (stale_pooled) {
    up_fresh_retry_done_ = true;
    take_replay();
    tried_.pop_back();
    --attempts_;
    force_fresh_ = true;
    return pick_and_connect();
  }
  if (e.retryable && try_retry({kind_for(code), 0}, {}, e)) return;
  if (code == errc::connect_failed || code == errc::connect_timeout) {
    // Nothing reached the endpoint: another cluster may still answer.
    last_error_ = e;
    if (try_fallback()) return;
  }
  upstream_failed_final(e);
}

void session::upstream_failed_final(error e) {
  const errc code = static_cast<errc>(e.code.value());
  if (phase_ == phase::closed) return;
  release_upstream(false);
  if (cache_on_failure()) return;
  log::debug("request {}: {} ({})", request_id_, e.message(), to_string(e.source));
  if (serve_fallback_response()) return;  // session_policy.cpp
  send_local(status_for(code), code_for(code), std::string(e.message()), !request_complete_);
}

}  // namespace spillway::http1
