#include "loadgen/report.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include <cmath>

namespace spillway::loadgen {

namespace json = boost::json;

namespace {

constexpr double percentiles[] = {50, 90, 95, 99, 99.9, 99.99};

double ms(double ns) {
  return ns / 1e6;
}

std::string p_word(double p) {
  return p == std::floor(p) ? fmt::format("{}", static_cast<int>(p)) : fmt::format("{}", p);
}

/// vLLM-style keys for one metric: mean_X_ms, median_X_ms, std_X_ms, pNN_X_ms, plus max_X_ms.
void add_vllm_metric(json::object& out, const std::string& name, const histogram& h) {
  out[fmt::format("mean_{}_ms", name)] = ms(h.mean());
  out[fmt::format("median_{}_ms", name)] = ms(static_cast<double>(h.percentile(50)));
  out[fmt::format("std_{}_ms", name)] = ms(h.stddev());
  for (double p : percentiles)
    out[fmt::format("p{}_{}_ms", p_word(p), name)] = ms(static_cast<double>(h.percentile(p)));
  out[fmt::format("max_{}_ms", name)] = ms(static_cast<double>(h.max()));
}

json::object metric_object(const histogram& h) {
  json::object o;
  o["count"] = h.count();
  o["mean_ms"] = ms(h.mean());
  o["std_ms"] = ms(h.stddev());
  o["min_ms"] = ms(static_cast<double>(h.min()));
  for (double p : percentiles)
    o[fmt::format("p{}_ms", p_word(p))] = ms(static_cast<double>(h.percentile(p)));
  o["max_ms"] = ms(static_cast<double>(h.max()));
  return o;
}

std::string fmt_ms(double ns) {
  const double v = ns / 1e6;
  if (v >= 10000) return fmt::format("{:.0f}", v);
  if (v >= 100) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}

std::string metric_row(std::string_view name, const histogram& h) {
  if (h.count() == 0) return {};
  std::string row = fmt::format("  {:<14}{:>10}", name, fmt_ms(h.mean()));
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99})
    row += fmt::format("{:>10}", fmt_ms(static_cast<double>(h.percentile(p))));
  row += fmt::format("{:>10}\n", fmt_ms(static_cast<double>(h.max())));
  return row;
}

template <class Map>
std::string join_counts(const Map& m, size_t limit = 8) {
  std::string s;
  size_t n = 0;
  for (const auto& [k, v] : m) {
    if (n++ == limit) {
      s += fmt::format("  (+{} more)", m.size() - limit);
      break;
    }
    s += fmt::format("{}{}: {}", s.empty() ? "" : "   ", k, v);
  }
  return s;
}

}  // namespace

std::string describe_load(const options& o) {
  std::string s;
  if (!o.phases.empty()) {
    s = fmt::format("open loop, scenario with {} phases, {} arrivals", o.phases.size(),
                    to_string(o.arrival));
  } else if (o.rate) {
    s = fmt::format("open loop, {} {:g} req/s", to_string(o.arrival), *o.rate);
    if (o.arrival == arrival_kind::gamma) s += fmt::format(" (burstiness {:g})", o.burstiness);
  } else {
    s = fmt::format("closed loop, {} concurrent", o.concurrency);
  }
  if (o.open_loop() && o.concurrency) s += fmt::format(", at most {} in flight", o.concurrency);
  if (o.duration.count() > 0)
    s += fmt::format(", {:g}s", std::chrono::duration<double>(o.duration).count());
  if (o.max_requests) s += fmt::format(", max {} requests", o.max_requests);
  if (o.warmup.count() > 0)
    s += fmt::format(" (+{:g}s warm-up)", std::chrono::duration<double>(o.warmup).count());
  s += o.http2 ? fmt::format(", HTTP/2 x{} streams", o.streams) : ", HTTP/1.1";
  if (o.threads > 1) s += fmt::format(", {} threads", o.threads);
  return s;
}

summary summarize(const options& o, const run_result& r) {
  const collector& c = *r.stats;
  summary s;
  if (c.first_scheduled >= 0 && c.last_done > c.first_scheduled)
    s.duration_s = static_cast<double>(c.last_done - c.first_scheduled) / 1e9;
  if (s.duration_s > 0) {
    s.request_throughput = static_cast<double>(c.completed) / s.duration_s;
    s.request_goodput = static_cast<double>(c.good) / s.duration_s;
    s.output_throughput = static_cast<double>(c.output_tokens) / s.duration_s;
    s.total_token_throughput = static_cast<double>(c.output_tokens + c.input_tokens) / s.duration_s;
  }
  const uint64_t connect_errors = c.errors[static_cast<size_t>(error_class::connect)];
  s.unreachable = c.completed == 0 && connect_errors > 0 && connect_errors == c.failed;
  return s;
}

std::string format_table(const options& o, const run_result& r) {
  const collector& c = *r.stats;
  const summary s = summarize(o, r);
  std::string out = fmt::format("spillway-loadgen  {}\n  {}\n\n", r.target, describe_load(o));
  out += fmt::format("  requests      {} sent   {} ok   {} failed   {} cancelled", c.sent,
                     c.completed, c.failed, c.cancelled);
  if (c.warmup_requests) out += fmt::format("   ({} in warm-up)", c.warmup_requests);
  if (c.unfinished()) out += fmt::format("   ({} cut at the end)", c.unfinished());
  out += fmt::format("\n  duration      {:.2f}s\n", s.duration_s);
  out += fmt::format("  throughput    {:.1f} req/s", s.request_throughput);
  if (o.openai) {
    out += fmt::format("   output {:.1f} tok/s   total {:.1f} tok/s", s.output_throughput,
                       s.total_token_throughput);
    if (o.slo.any()) out += fmt::format("   goodput {:.1f} req/s", s.request_goodput);
  }
  out += "\n";
  if (o.open_loop()) {
    out += fmt::format(
        "  sends         {} late (> {}ms)   {} waited for a connection   lag p99 {}ms max {}ms\n",
        c.late_sends, fmt_ms(static_cast<double>(o.late_threshold.count())), c.waited(),
        fmt_ms(static_cast<double>(c.send_lag.percentile(99))),
        fmt_ms(static_cast<double>(c.send_lag.max())));
  }
  if (!c.status_counts.empty()) out += "  status        " + join_counts(c.status_counts) + "\n";
  std::string errs;
  for (size_t i = 1; i < std::size(c.errors); ++i)
    if (c.errors[i])
      errs += fmt::format("{}{}: {}", errs.empty() ? "" : "   ",
                          to_string(static_cast<error_class>(i)), c.errors[i]);
  if (!errs.empty()) out += "  errors        " + errs + "\n";
  for (const auto& [status, body] : c.error_examples) {
    std::string line = body.substr(0, 160);
    for (char& ch : line)
      if (ch == '\n' || ch == '\r') ch = ' ';
    out += fmt::format("  e.g. {}      {}{}\n", status, line, body.size() > 160 ? " ..." : "");
  }
  out += fmt::format(
      "  connections   {} opened   {} reconnects   {} closed by server   {} connect errors   {} "
      "stale retries\n",
      c.conn.connects, c.conn.reconnects, c.conn.server_closed, c.conn.connect_errors,
      c.conn.stale_retries);
  if (o.openai) {
    out += fmt::format("  tokens        {} out   {} in", c.output_tokens, c.input_tokens);
    if (c.completed) {
      out += fmt::format(
          "   usage reported by {:.0f}% of answers",
          100.0 * static_cast<double>(c.usage_reported) / static_cast<double>(c.completed));
    }
    out += "\n";
  }
  if (!c.cache_status.empty()) out += "  cache-status  " + join_counts(c.cache_status) + "\n";
  if (!c.engines.empty()) {
    out += "  upstreams     " + join_counts(c.engines);
    if (const double st = c.session_stickiness(); st >= 0)
      out += fmt::format("   session stickiness {:.1f}%", st * 100);
    out += "\n";
  }
  out += fmt::format("\n  {:<14}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "(ms)", "mean",
                     "p50", "p90", "p99", "p99.9", "p99.99", "max");
  if (o.openai) {
    out += metric_row("TTFT", c.ttft);
    out += metric_row("TPOT", c.tpot);
    out += metric_row("ITL", c.itl);
    out += metric_row("E2E", c.latency);
  } else {
    out += metric_row("latency", c.latency);
  }
  out += metric_row("service time", c.service);
  out += metric_row("TTFB", c.ttfb);
  if (o.open_loop()) out += metric_row("send lag", c.send_lag);
  out += "\n  latency counts from the scheduled send time; service time from the actual send\n";
  return out;
}

json::object to_json(const options& o, const run_result& r) {
  const collector& c = *r.stats;
  const summary s = summarize(o, r);
  json::object j;
  j["backend"] = "spillway-loadgen";
  j["target"] = r.target;
  j["date_unix_ms"] = r.started_unix_ms;
  j["model_id"] = o.model;
  j["mode"] = o.open_loop() ? "open" : "closed";
  j["protocol"] = o.http2 ? "h2" : "http/1.1";
  j["load"] = describe_load(o);
  if (o.rate)
    j["request_rate"] = *o.rate;
  else
    j["request_rate"] = "inf";
  j["burstiness"] = o.burstiness;
  j["arrival"] = to_string(o.arrival);
  if (o.concurrency) j["max_concurrency"] = o.concurrency;
  j["seed"] = o.seed;
  j["num_prompts"] = c.sent;
  j["duration"] = s.duration_s;
  j["completed"] = c.completed;
  j["failed"] = c.failed;
  j["cancelled"] = c.cancelled;
  j["warmup_requests"] = c.warmup_requests;
  j["unfinished"] = c.unfinished();
  j["total_input_tokens"] = c.input_tokens;
  j["total_output_tokens"] = c.output_tokens;
  j["total_body_bytes"] = c.bytes;
  j["request_throughput"] = s.request_throughput;
  if (o.slo.any()) j["request_goodput"] = s.request_goodput;
  j["good_requests"] = c.good;
  j["output_throughput"] = s.output_throughput;
  j["total_token_throughput"] = s.total_token_throughput;
  if (o.openai) {
    add_vllm_metric(j, "ttft", c.ttft);
    add_vllm_metric(j, "tpot", c.tpot);
    add_vllm_metric(j, "itl", c.itl);
    add_vllm_metric(j, "e2el", c.latency);
  }
  j["latency"] = metric_object(c.latency);
  j["service_time"] = metric_object(c.service);
  j["ttfb"] = metric_object(c.ttfb);
  j["send_lag"] = metric_object(c.send_lag);
  j["late_sends"] = c.late_sends;
  j["late_threshold_ms"] = ms(static_cast<double>(o.late_threshold.count()));
  j["waited_for_connection"] = c.waited();
  json::object errors;
  for (size_t i = 1; i < std::size(c.errors); ++i)
    errors[to_string(static_cast<error_class>(i))] = c.errors[i];
  j["errors"] = std::move(errors);
  json::object status;
  for (const auto& [k, v] : c.status_counts) status[std::to_string(k)] = v;
  j["status_codes"] = std::move(status);
  json::object examples;
  for (const auto& [k, v] : c.error_examples) examples[std::to_string(k)] = v;
  j["error_examples"] = std::move(examples);
  json::object conns;
  conns["opened"] = c.conn.connects;
  conns["reconnects"] = c.conn.reconnects;
  conns["server_closed"] = c.conn.server_closed;
  conns["connect_errors"] = c.conn.connect_errors;
  conns["stale_retries"] = c.conn.stale_retries;
  j["connections"] = std::move(conns);
  json::object cache;
  for (const auto& [k, v] : c.cache_status) cache[k] = v;
  j["cache_status"] = std::move(cache);
  json::object engines;
  for (const auto& [k, v] : c.engines) engines[k] = v;
  j["engines"] = std::move(engines);
  if (const double st = c.session_stickiness(); st >= 0) j["session_stickiness"] = st;
  if (o.openai) {
    j["body_chunks"] = c.body_chunks;
    j["sse_events"] = c.sse_events;
    j["usage_reported"] = c.usage_reported;
  }
  if (o.slo.any()) {
    json::object slo;
    if (o.slo.ttft) slo["ttft_ms"] = ms(static_cast<double>(o.slo.ttft->count()));
    if (o.slo.tpot) slo["tpot_ms"] = ms(static_cast<double>(o.slo.tpot->count()));
    if (o.slo.e2e) slo["e2el_ms"] = ms(static_cast<double>(o.slo.e2e->count()));
    j["slo"] = std::move(slo);
  }
  json::array series;
  const auto& ss = c.series();
  for (size_t i = 0; i < ss.size(); ++i) {
    json::object row;
    row["second"] = i;
    row["scheduled"] = ss[i].scheduled;
    row["sent"] = ss[i].sent;
    row["completed"] = ss[i].completed;
    row["errors"] = ss[i].errors;
    row["late"] = ss[i].late;
    row["in_flight"] = ss[i].in_flight;
    row["output_tokens"] = ss[i].output_tokens;
    row["p50_ms"] = ms(static_cast<double>(ss[i].latency.percentile(50)));
    row["p99_ms"] = ms(static_cast<double>(ss[i].latency.percentile(99)));
    series.push_back(std::move(row));
  }
  j["timeseries"] = std::move(series);
  return j;
}

std::string to_csv_series(const run_result& r) {
  std::string out =
      "second,scheduled,sent,completed,errors,late,in_flight,output_tokens,p50_ms,p99_ms,max_ms\n";
  const auto& ss = r.stats->series();
  for (size_t i = 0; i < ss.size(); ++i) {
    const auto& s = ss[i];
    out += fmt::format("{},{},{},{},{},{},{},{},{:.3f},{:.3f},{:.3f}\n", i, s.scheduled, s.sent,
                       s.completed, s.errors, s.late, s.in_flight, s.output_tokens,
                       ms(static_cast<double>(s.latency.percentile(50))),
                       ms(static_cast<double>(s.latency.percentile(99))),
                       ms(static_cast<double>(s.latency.max())));
  }
  return out;
}

double chunk_ratio(const run_result& direct, const run_result& proxied) {
  const collector& d = *direct.stats;
  const collector& p = *proxied.stats;
  if (!d.completed || !p.completed || !d.body_chunks) return 0;
  const double dc = static_cast<double>(d.body_chunks) / static_cast<double>(d.completed);
  const double pc = static_cast<double>(p.body_chunks) / static_cast<double>(p.completed);
  return pc / dc;
}

namespace {

struct compare_metric {
  const char* name;
  const histogram collector::*h;
};

constexpr compare_metric compare_metrics[] = {
    {"latency", &collector::latency}, {"service_time", &collector::service},
    {"ttfb", &collector::ttfb},       {"ttft", &collector::ttft},
    {"itl", &collector::itl},         {"tpot", &collector::tpot},
};

double delta(const histogram& a, const histogram& b, double p) {
  return ms(static_cast<double>(b.percentile(p))) - ms(static_cast<double>(a.percentile(p)));
}

}  // namespace

std::string format_compare(const options& o, const run_result& direct, const run_result& proxied) {
  std::string out = fmt::format("compare  direct {}  vs  proxied {}\n  {}\n\n", direct.target,
                                proxied.target, describe_load(o));
  out += fmt::format("  {:<14}{:>12}{:>12}{:>12}{:>12}{:>12}\n", "added (ms)", "mean", "p50", "p90",
                     "p99", "p99.9");
  for (const auto& m : compare_metrics) {
    const histogram& a = (*direct.stats).*(m.h);
    const histogram& b = (*proxied.stats).*(m.h);
    if (!a.count() || !b.count()) continue;
    out += fmt::format("  {:<14}{:>+12.3f}{:>+12.3f}{:>+12.3f}{:>+12.3f}{:>+12.3f}\n", m.name,
                       ms(b.mean() - a.mean()), delta(a, b, 50), delta(a, b, 90), delta(a, b, 99),
                       delta(a, b, 99.9));
  }
  const summary sd = summarize(o, direct), sp = summarize(o, proxied);
  out += fmt::format("\n  throughput    direct {:.1f} req/s   proxied {:.1f} req/s\n",
                     sd.request_throughput, sp.request_throughput);
  out += fmt::format("  failed        direct {}   proxied {}\n", direct.stats->failed,
                     proxied.stats->failed);
  if (o.openai && o.stream) {
    out += fmt::format(
        "  SSE chunks    ratio {:.3f} (client chunks per request through the proxy "
        "/ direct)\n",
        chunk_ratio(direct, proxied));
  }
  return out;
}

json::object compare_json(const options& o, const run_result& direct, const run_result& proxied) {
  json::object j;
  j["direct"] = to_json(o, direct);
  j["proxied"] = to_json(o, proxied);
  json::object added;
  for (const auto& m : compare_metrics) {
    const histogram& a = (*direct.stats).*(m.h);
    const histogram& b = (*proxied.stats).*(m.h);
    if (!a.count() || !b.count()) continue;
    json::object row;
    row["mean_ms"] = ms(b.mean() - a.mean());
    for (double p : percentiles) row[fmt::format("p{}_ms", p_word(p))] = delta(a, b, p);
    added[m.name] = std::move(row);
  }
  j["added_latency"] = std::move(added);
  if (o.openai && o.stream) j["sse_chunk_ratio"] = chunk_ratio(direct, proxied);
  return j;
}

}  // namespace spillway::loadgen
