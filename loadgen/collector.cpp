#include "loadgen/collector.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace spillway::loadgen {

jsonl_sink::~jsonl_sink() {
  if (file_) std::fflush(file_);
}

void jsonl_sink::write(const std::string& lines) {
  std::lock_guard lock(mutex_);
  if (file_) std::fwrite(lines.data(), 1, lines.size(), file_);
}

void connection_stats::merge(const connection_stats& o) {
  connects += o.connects;
  connect_errors += o.connect_errors;
  reconnects += o.reconnects;
  server_closed += o.server_closed;
  stale_retries += o.stale_retries;
}

collector::collector(const options& o, jsonl_sink* jsonl) : opts_(o), jsonl_(jsonl) {}

second_stats& collector::second(int64_t t) {
  const size_t s = t < 0 ? 0 : static_cast<size_t>(t / 1'000'000'000);
  if (s >= series_.size()) series_.resize(s + 1);
  return series_[s];
}

void collector::on_scheduled(int64_t scheduled) {
  ++second(scheduled).scheduled;
}

void collector::on_sent(const request_ctx& r) {
  auto& sec = second(r.sent);
  ++sec.sent;
  const int64_t lag = std::max<int64_t>(r.sent - r.scheduled, 0);
  const bool late = lag > opts_.late_threshold.count();
  if (late) ++sec.late;
  if (!r.measured) return;
  ++sent;
  send_lag.record(static_cast<uint64_t>(lag));
  if (late) ++late_sends;
}

void collector::sample_in_flight(int64_t now, uint64_t in_flight) {
  second(now).in_flight = in_flight;
}

namespace {
uint64_t since(int64_t t, int64_t from) {
  return t > from ? static_cast<uint64_t>(t - from) : 0;
}
}  // namespace

void collector::on_done(const request_ctx& r) {
  auto& sec = second(r.done);
  if (r.ok()) {
    ++sec.completed;
    sec.latency.record(since(r.done, r.scheduled));
  } else if (r.error != error_class::cancelled) {
    ++sec.errors;
  }
  if (!r.measured) {
    ++warmup_requests;
    return;
  }
  if (jsonl_) write_jsonl(r);
  if (r.status > 0) ++status_counts[r.status];
  if (r.status >= 400 && !error_examples.count(r.status)) error_examples[r.status] = r.body_text;
  if (first_scheduled < 0 || r.scheduled < first_scheduled) first_scheduled = r.scheduled;
  last_done = std::max(last_done, r.done);
  if (!r.cache_status.empty()) ++cache_status[r.cache_status];
  if (!r.engine.empty()) {
    ++engines[r.engine];
    if (r.session_index != UINT32_MAX) ++session_engines[r.session_index][r.engine];
  }
  if (r.error == error_class::cancelled) {
    ++cancelled;
    return;
  }
  if (!r.ok()) {
    ++failed;
    ++errors[static_cast<size_t>(r.error)];
    return;
  }
  ++completed;
  bytes += r.bytes;
  const uint64_t e2e = since(r.done, r.scheduled);
  latency.record(e2e);
  service.record(since(r.done, r.sent));
  if (r.first_byte >= 0) ttfb.record(since(r.first_byte, r.scheduled));
  if (r.usage_prompt > 0) input_tokens += static_cast<uint64_t>(r.usage_prompt);
  if (!opts_.openai) return;

  const uint64_t tokens =
      r.usage_completion >= 0 ? static_cast<uint64_t>(r.usage_completion) : r.tokens;
  if (r.usage_completion >= 0) ++usage_reported;
  output_tokens += tokens;
  sec.output_tokens += tokens;
  body_chunks += r.body_chunks;
  sse_events += r.sse.events();
  // Non-streamed answers: the first token arrives with the whole answer.
  const int64_t first = r.first_token >= 0 ? r.first_token : r.done;
  const uint64_t t_ttft = since(first, r.scheduled);
  ttft.record(t_ttft);
  for (int64_t gap : r.itl) itl.record(static_cast<uint64_t>(std::max<int64_t>(gap, 0)));
  std::optional<uint64_t> t_tpot;
  if (tokens > 1) {
    t_tpot = (e2e - t_ttft) / (tokens - 1);
    tpot.record(*t_tpot);
  }
  bool ok = true;
  if (opts_.slo.ttft && t_ttft > static_cast<uint64_t>(opts_.slo.ttft->count())) ok = false;
  if (opts_.slo.tpot && t_tpot && *t_tpot > static_cast<uint64_t>(opts_.slo.tpot->count()))
    ok = false;
  if (opts_.slo.e2e && e2e > static_cast<uint64_t>(opts_.slo.e2e->count())) ok = false;
  if (ok) ++good;
}

void collector::write_jsonl(const request_ctx& r) {
  namespace json = boost::json;
  json::object o;
  const auto us = [](int64_t t) -> json::value {
    if (t < 0) return nullptr;
    return static_cast<double>(t) / 1e3;
  };
  o["index"] = r.index;
  o["scheduled_us"] = us(r.scheduled);
  o["sent_us"] = us(r.sent);
  o["first_byte_us"] = us(r.first_byte);
  o["first_token_us"] = us(r.first_token);
  o["done_us"] = us(r.done);
  o["status"] = r.status;
  o["error"] = to_string(r.error);
  o["bytes"] = r.bytes;
  if (opts_.openai) {
    o["output_tokens"] = r.usage_completion >= 0 ? r.usage_completion : int64_t{r.tokens};
    o["text_chunks"] = r.tokens;
    o["body_chunks"] = r.body_chunks;
    if (r.usage_prompt >= 0) o["input_tokens"] = r.usage_prompt;
    const int64_t out = r.usage_completion >= 0 ? r.usage_completion : int64_t{r.tokens};
    if (r.ok() && out > 1 && r.first_token >= 0)
      o["tpot_us"] =
          static_cast<double>(r.done - r.first_token) / 1e3 / static_cast<double>(out - 1);
    json::array gaps;
    for (int64_t g : r.itl) gaps.push_back(static_cast<double>(g) / 1e3);
    o["itl_us"] = std::move(gaps);
  }
  if (!r.session.empty()) o["session"] = r.session;
  if (!r.cache_status.empty()) o["cache_status"] = r.cache_status;
  if (!r.engine.empty()) o["engine"] = r.engine;
  jsonl_buf_ += json::serialize(o);
  jsonl_buf_ += '\n';
  if (jsonl_buf_.size() > 64 * 1024) flush_jsonl();
}

void collector::flush_jsonl() {
  if (jsonl_ && !jsonl_buf_.empty()) jsonl_->write(jsonl_buf_);
  jsonl_buf_.clear();
}

void collector::merge(const collector& o) {
  sent += o.sent;
  warmup_requests += o.warmup_requests;
  completed += o.completed;
  failed += o.failed;
  cancelled += o.cancelled;
  late_sends += o.late_sends;
  good += o.good;
  output_tokens += o.output_tokens;
  input_tokens += o.input_tokens;
  bytes += o.bytes;
  body_chunks += o.body_chunks;
  sse_events += o.sse_events;
  usage_reported += o.usage_reported;
  waited_ += o.waited_;
  unfinished_ += o.unfinished_;
  for (size_t i = 0; i < std::size(errors); ++i) errors[i] += o.errors[i];
  for (const auto& [k, v] : o.status_counts) status_counts[k] += v;
  for (const auto& [k, v] : o.error_examples) error_examples.emplace(k, v);
  for (const auto& [k, v] : o.cache_status) cache_status[k] += v;
  for (const auto& [k, v] : o.engines) engines[k] += v;
  for (const auto& [s, m] : o.session_engines)
    for (const auto& [k, v] : m) session_engines[s][k] += v;
  conn.merge(o.conn);
  latency.merge(o.latency);
  service.merge(o.service);
  send_lag.merge(o.send_lag);
  ttfb.merge(o.ttfb);
  ttft.merge(o.ttft);
  itl.merge(o.itl);
  tpot.merge(o.tpot);
  if (o.first_scheduled >= 0 && (first_scheduled < 0 || o.first_scheduled < first_scheduled))
    first_scheduled = o.first_scheduled;
  last_done = std::max(last_done, o.last_done);
  if (o.series_.size() > series_.size()) series_.resize(o.series_.size());
  for (size_t i = 0; i < o.series_.size(); ++i) {
    auto& a = series_[i];
    const auto& b = o.series_[i];
    a.scheduled += b.scheduled;
    a.sent += b.sent;
    a.completed += b.completed;
    a.errors += b.errors;
    a.late += b.late;
    a.output_tokens += b.output_tokens;
    a.in_flight += b.in_flight;
    a.latency.merge(b.latency);
  }
}

double collector::session_stickiness() const {
  uint64_t total = 0, top = 0;
  for (const auto& [s, m] : session_engines) {
    uint64_t best = 0;
    for (const auto& [k, v] : m) {
      total += v;
      best = std::max(best, v);
    }
    top += best;
  }
  return total ? static_cast<double>(top) / static_cast<double>(total) : -1;
}

}  // namespace spillway::loadgen
