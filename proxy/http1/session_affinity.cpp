// The affinity half of http1::session (SPEC §2.2 Affinity, proxy/affinity/README.md): the
// request's key or cookie is read once per exchange and cluster, every pick of the exchange
// (first try, retries, dequeue) goes through the cluster's affinity_picker, the pick that served
// may set the signed cookie on the response head, and the decision of the last pick is counted
// (spillway_affinity_decisions_total) and logged (`affinity`).
//
// Prefix keys need the body before the first pick: a Content-Length body up to
// max_prefix_body is read into the upstream buffer first (it is sent from there once connected,
// as a retry replays it); a chunked or larger body is streamed as usual and gets no key.
#include <chrono>

#include "proxy/http1/session.hpp"

namespace spillway::http1 {

namespace {

constexpr uint64_t max_prefix_body = 1024 * 1024;

int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

/// Start of an exchange, after routing. True while the body is being read for a prefix key;
/// the exchange then goes on from continue_after_body().
bool session::affinity_begin() {
  aff_req_ = {};
  aff_pick_ = {};
  aff_cluster_ = -1;
  aff_wait_body_ = false;
  aff_body_.clear();
  affinity::affinity_picker* picker = cluster_ >= 0 ? gen_->picker(cluster_) : nullptr;
  aff_used_ = picker != nullptr;
  if (!picker || !picker->needs_body() || request_complete_ || req_.chunked || !req_.content_length)
    return false;
  const uint64_t limit = std::min<uint64_t>(max_prefix_body, listener_.cfg.limits.max_body_bytes);
  if (*req_.content_length > limit) return false;
  aff_wait_body_ = true;
  pump_request_body();  // parses what already arrived; goes on in affinity_body_progress()
  return true;
}

/// pump_request_body() while aff_wait_body_: the body parsed so far is in up_out_ (framing
/// length, so the bytes are the body itself).
void session::affinity_body_progress() {
  if (phase_ != phase::send_request) return;
  if (request_complete_) {
    aff_wait_body_ = false;
    aff_body_ = up_out_;
    return continue_after_body();
  }
  if (req_.expect_continue && !expect_sent_ && in_.size() == 0) {
    expect_sent_ = true;
    down_out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    if (!client_write_pending_) do_write_client();
  }
  set_deadline(client, listener_.cfg.timeouts.idle);
  do_read_client();
}

void session::continue_after_body() {
  if (cluster_ >= 0 && cluster().queues() && cluster().queue().size() > 0) return enqueue();
  pick_and_connect();
}

/// One pick for the current cluster, excluding tried_ (tried and skipped endpoints). Without a
/// picker this is the cluster balancer's pick. -1 with aff_pick_.what == failed: the pinned
/// endpoint is gone and on_unavailable is fail.
int session::pick_endpoint() {
  affinity::affinity_picker* picker = gen_->picker(cluster_);
  if (!picker) {
    aff_pick_ = {};
    return gen_->lb(cluster_).pick({tried_, 0, false});
  }
  if (aff_cluster_ != cluster_) {
    // First pick in this cluster (the primary, or a fallback cluster with its own affinity).
    aff_cluster_ = cluster_;
    aff_req_ = picker->resolve(req_, aff_body_, unix_now());
  }
  aff_used_ = true;
  aff_pick_ = picker->pick(aff_req_, tried_);
  return aff_pick_.index;
}

/// Whether a retry could go somewhere in the current cluster. A pick that would fail under
/// on_unavailable: fail counts as possible, so that the retry answers 503 rather than falling
/// through to fallback clusters.
bool session::another_pick_possible() {
  affinity::affinity_picker* picker = gen_->picker(cluster_);
  if (!picker || aff_cluster_ != cluster_) return gen_->lb(cluster_).pick({tried_, 0, false}) >= 0;
  const affinity::affinity_pick p = picker->pick(aff_req_, tried_);
  return p.index >= 0 || p.what == affinity::decision::failed;
}

/// on_unavailable: fail. No queue, no fallback cluster, no further retry.
void session::affinity_unavailable() {
  std::string message = "the endpoint this session is pinned to is unavailable";
  if (last_error_) message.append(" (").append(last_error_.message()).append(")");
  send_local(503, "affinity_unavailable", message, !request_complete_);
}

/// Set-Cookie value for the response head of the serving try; empty when none is due.
std::string session::affinity_set_cookie() const {
  if (!aff_pick_.set_cookie || endpoint_ < 0 || cluster_ != aff_cluster_) return {};
  const affinity::affinity_picker* picker = gen_->picker(cluster_);
  return picker ? picker->cookie_for(endpoint_, unix_now()) : std::string{};
}

/// Once per exchange, from record(): counts the decision of the last pick and returns its name
/// for the access log (empty when no picker chose).
std::string_view session::affinity_record() {
  if (!aff_used_ || aff_cluster_ < 0) {
    aff_used_ = false;
    return {};
  }
  aff_used_ = false;
  rt().policies[aff_cluster_]->count(aff_pick_.what);
  return affinity::to_string(aff_pick_.what);
}

}  // namespace spillway::http1
