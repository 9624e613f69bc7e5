// Self-contained HTML report: inline CSS and SVG only, no scripts or external assets, so the
// file can be mailed or attached to a CI run and still open anywhere.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/report.hpp"

namespace spillway::loadgen {

namespace {

struct series {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;
};

struct tick {
  double at;
  std::string label;
};

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string fmt_num(double v) {
  if (v == 0) return "0";
  if (std::abs(v) >= 100) return fmt::format("{:.0f}", v);
  if (std::abs(v) >= 1) return fmt::format("{:.3g}", v);
  return fmt::format("{:.2g}", v);
}

std::vector<tick> nice_ticks(double lo, double hi) {
  std::vector<tick> t;
  if (hi <= lo) hi = lo + 1;
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  double v = std::ceil(lo / step) * step;
  for (; v <= hi + step * 1e-9; v += step) t.push_back({v, fmt_num(v)});
  if (t.empty() || t.back().at < hi) t.push_back({v, fmt_num(v)});  // the top tick covers the data
  return t;
}

constexpr int W = 760, H = 310, ML = 64, MR = 44, MT = 48, MB = 46;

/// Line chart (or bars when `bars`); `xticks` overrides the automatic x axis.
std::string svg_chart(const std::string& title, const std::string& xlabel,
                      const std::string& ylabel, const std::vector<series>& data,
                      std::optional<std::vector<tick>> xticks = std::nullopt, bool bars = false) {
  double x0 = INFINITY, x1 = -INFINITY, y1 = 0;
  for (const auto& s : data)
    for (auto [x, y] : s.points) {
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y1 = std::max(y1, y);
    }
  std::string out = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' viewBox='0 0 {} {}' "
      "class='chart'><text x='{}' y='20' class='title'>{}</text>",
      W, H, W, H, ML, escape(title));
  if (!std::isfinite(x0)) return out + "<text x='300' y='150'>no data</text></svg>";
  if (xticks && !xticks->empty()) {
    x0 = std::min(x0, xticks->front().at);
    x1 = std::max(x1, xticks->back().at);
  }
  if (bars) {  // room for the last bar, which starts at the largest x
    size_t n = 0;
    for (const auto& s : data) n = std::max(n, s.points.size());
    if (n > 1) x1 += (x1 - x0) / static_cast<double>(n - 1);
  }
  if (x1 <= x0) x1 = x0 + 1;
  const auto yt = nice_ticks(0, y1 > 0 ? y1 : 1);
  const double ytop = yt.back().at > 0 ? yt.back().at : 1;
  const double pw = W - ML - MR, ph = H - MT - MB;
  const auto px = [&](double x) { return ML + (x - x0) / (x1 - x0) * pw; };
  const auto py = [&](double y) { return MT + ph - y / ytop * ph; };
  for (const auto& t : yt) {
    out += fmt::format(
        "<line x1='{}' y1='{:.1f}' x2='{}' y2='{:.1f}' class='grid'/>"
        "<text x='{}' y='{:.1f}' class='yl'>{}</text>",
        ML, py(t.at), W - MR, py(t.at), ML - 6, py(t.at) + 4, t.label);
  }
  const auto xt = xticks ? *xticks : nice_ticks(x0, x1);
  for (const auto& t : xt) {
    if (t.at < x0 - 1e-9 || t.at > x1 + 1e-9) continue;
    out += fmt::format(
        "<line x1='{:.1f}' y1='{}' x2='{:.1f}' y2='{}' class='grid'/>"
        "<text x='{:.1f}' y='{}' class='xl'>{}</text>",
        px(t.at), MT, px(t.at), MT + ph, px(t.at), MT + ph + 16, escape(t.label));
  }
  out +=
      fmt::format("<text x='{}' y='{}' class='xl'>{}</text>", ML + pw / 2, H - 8, escape(xlabel));
  out += fmt::format(
      "<text x='14' y='{}' class='yl' transform='rotate(-90 14 {})' style='text-anchor:middle'>{}"
      "</text>",
      MT + ph / 2, MT + ph / 2, escape(ylabel));
  double lx = ML;
  for (const auto& s : data) {
    if (bars && s.points.size() > 1) {
      const double bw = std::max(1.0, pw / static_cast<double>(s.points.size()) - 1);
      for (auto [x, y] : s.points)
        out += fmt::format(
            "<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='{}' opacity='0.8'/>",
            px(x), py(y), bw, MT + ph - py(y), s.color);
    } else {
      std::string pts;
      for (auto [x, y] : s.points) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
      out += fmt::format("<polyline points='{}' fill='none' stroke='{}' stroke-width='1.8'/>", pts,
                         s.color);
    }
    out += fmt::format(
        "<rect x='{:.0f}' y='{}' width='10' height='10' fill='{}'/>"
        "<text x='{:.0f}' y='{}' class='lg'>{}</text>",
        lx, MT - 18, s.color, lx + 14, MT - 9, escape(s.name));
    lx += 24 + 7.0 * static_cast<double>(s.name.size());
  }
  return out + "</svg>";
}

const char* palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

/// Percentile spectrum: x = -log10(1 - p), so 90, 99, 99.9 ... are evenly spaced (HdrHistogram
/// plots).
series spectrum(const std::string& name, const std::string& color, const histogram& h) {
  series s{name, color, {}};
  if (!h.count()) return s;
  for (double x = 0; x <= 5.0001; x += 0.05) {
    const double p = 100 * (1 - std::pow(10, -x));
    s.points.emplace_back(x, static_cast<double>(h.percentile(p)) / 1e6);
  }
  return s;
}

std::vector<tick> spectrum_ticks() {
  return {{0, "0%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}, {5, "99.999%"}};
}

/// Histogram re-binned into 40 linear bins up to its p99.9.
series distribution(const std::string& name, const std::string& color, const histogram& h) {
  series s{name, color, {}};
  if (!h.count()) return s;
  const double hi = std::max<double>(static_cast<double>(h.percentile(99.9)), 1) * 1.05;
  constexpr int bins = 40;
  std::vector<double> counts(bins, 0);
  for (size_t i = 0; i < h.bucket_count(); ++i) {
    const uint64_t n = h.count_at(i);
    if (!n) continue;
    const double mid = (static_cast<double>(h.lowest_equivalent(i)) +
                        static_cast<double>(h.highest_equivalent(i))) /
                       2;
    const int b = std::min(bins - 1, static_cast<int>(mid / hi * bins));
    counts[b] += static_cast<double>(n);
  }
  for (int b = 0; b < bins; ++b) s.points.emplace_back(hi * b / bins / 1e6, counts[b]);
  return s;
}

std::string card(const std::string& label, const std::string& value) {
  return fmt::format("<div class='card'><div class='v'>{}</div><div class='l'>{}</div></div>",
                     escape(value), escape(label));
}

}  // namespace

std::string render_html(const options& o, const run_result& r, const run_result* direct) {
  const collector& c = *r.stats;
  const summary s = summarize(o, r);
  std::string h =
      R"(<!doctype html><html><head><meta charset="utf-8"><title>spillway-loadgen report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1600px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 8px}
.sub{color:#666} .cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:120px}
.card .v{font-size:20px;font-weight:600} .card .l{color:#666;font-size:12px}
.grid{stroke:#e5e5e5} .title{font-weight:600;font-size:13px}
.xl{font-size:11px;text-anchor:middle;fill:#555} .yl{font-size:11px;text-anchor:end;fill:#555}
.lg{font-size:11px;fill:#333} .charts{display:flex;flex-wrap:wrap;gap:16px}
pre{background:#f7f7f7;padding:12px;border-radius:6px;overflow-x:auto;font-size:12px}
</style></head><body>
)";
  h += fmt::format("<h1>spillway-loadgen</h1><div class='sub'>{} &middot; {}</div>",
                   escape(r.target), escape(describe_load(o)));
  h += "<div class='cards'>";
  h += card("requests ok", std::to_string(c.completed));
  h += card("failed", std::to_string(c.failed));
  h += card("throughput (req/s)", fmt::format("{:.1f}", s.request_throughput));
  const histogram& main = o.openai ? c.ttft : c.latency;
  const std::string main_name = o.openai ? "TTFT" : "latency";
  h += card(main_name + " p50 (ms)", fmt::format("{:.2f}", main.percentile(50) / 1e6));
  h += card(main_name + " p99 (ms)", fmt::format("{:.2f}", main.percentile(99) / 1e6));
  if (o.openai) {
    h += card("output tok/s", fmt::format("{:.1f}", s.output_throughput));
    h += card("TPOT p50 (ms)", fmt::format("{:.2f}", c.tpot.percentile(50) / 1e6));
    if (o.slo.any()) h += card("goodput (req/s)", fmt::format("{:.1f}", s.request_goodput));
  }
  if (o.open_loop()) h += card("late sends", std::to_string(c.late_sends));
  h += "</div>";

  h += "<h2>Latency percentile spectrum</h2><div class='charts'>";
  std::vector<series> spec;
  if (o.openai) {
    spec.push_back(spectrum("E2E", palette[0], c.latency));
    spec.push_back(spectrum("TTFT", palette[1], c.ttft));
    spec.push_back(spectrum("service time", palette[2], c.service));
  } else {
    spec.push_back(spectrum("latency (from schedule)", palette[0], c.latency));
    spec.push_back(spectrum("service time (from send)", palette[2], c.service));
  }
  h += svg_chart("Latency by percentile", "percentile", "ms", spec, spectrum_ticks());
  if (direct) {
    const histogram& d = o.openai ? direct->stats->ttft : direct->stats->latency;
    h += svg_chart(main_name + ": direct vs proxied", "percentile", "ms",
                   {spectrum("direct", palette[2], d), spectrum("proxied", palette[0], main)},
                   spectrum_ticks());
  }
  if (o.openai)
    h += svg_chart("Token latency by percentile", "percentile", "ms",
                   {spectrum("ITL", palette[3], c.itl), spectrum("TPOT", palette[4], c.tpot)},
                   spectrum_ticks());
  h += "</div>";

  const auto& ss = c.series();
  series offered{"scheduled/s", palette[5], {}}, done{"completed/s", palette[0], {}},
      errs{"errors/s", palette[1], {}}, inflight{"in flight", palette[4], {}},
      p50{"p50", palette[2], {}}, p99{"p99", palette[1], {}}, toks{"output tok/s", palette[3], {}};
  for (size_t i = 0; i < ss.size(); ++i) {
    const double t = static_cast<double>(i);
    if (o.open_loop()) offered.points.emplace_back(t, static_cast<double>(ss[i].scheduled));
    done.points.emplace_back(t, static_cast<double>(ss[i].completed));
    errs.points.emplace_back(t, static_cast<double>(ss[i].errors));
    inflight.points.emplace_back(t, static_cast<double>(ss[i].in_flight));
    toks.points.emplace_back(t, static_cast<double>(ss[i].output_tokens));
    if (ss[i].latency.count()) {
      p50.points.emplace_back(t, ss[i].latency.percentile(50) / 1e6);
      p99.points.emplace_back(t, ss[i].latency.percentile(99) / 1e6);
    }
  }
  h += "<h2>Over time</h2><div class='charts'>";
  std::vector<series> rate{done, errs};
  if (o.open_loop()) rate.insert(rate.begin(), offered);
  h += svg_chart("Throughput and errors", "seconds", "requests/s", rate);
  h += svg_chart("Latency per second (by completion)", "seconds", "ms", {p50, p99});
  h += svg_chart("In flight", "seconds", "requests", {inflight});
  if (o.openai) h += svg_chart("Output tokens", "seconds", "tokens/s", {toks});
  h += "</div>";

  h += "<h2>Distributions</h2><div class='charts'>";
  if (o.openai) {
    h += svg_chart("TTFT", "ms", "requests", {distribution("TTFT", palette[1], c.ttft)},
                   std::nullopt, true);
    h += svg_chart("ITL", "ms", "gaps", {distribution("ITL", palette[3], c.itl)}, std::nullopt,
                   true);
  } else {
    h += svg_chart("Latency", "ms", "requests", {distribution("latency", palette[0], c.latency)},
                   std::nullopt, true);
  }
  h += "</div>";

  h += "<h2>Summary</h2><pre>" + escape(format_table(o, r)) + "</pre>";
  if (direct) h += "<h2>Compare</h2><pre>" + escape(format_compare(o, *direct, r)) + "</pre>";
  h += "</body></html>\n";
  return h;
}

}  // namespace spillway::loadgen
