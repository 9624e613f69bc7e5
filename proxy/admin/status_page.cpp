// The status page served on admin GET / (SPEC §2.4). Self-contained: no external asset, so it
// works on an isolated network. It polls GET /admin/status every second and rebuilds its tables
// with DOM calls (names and addresses go through textContent, never innerHTML).
#include "proxy/admin/status.hpp"

namespace spillway::admin {

namespace {

constexpr std::string_view page = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spillway status</title>
<style>
:root {
  --bg: #f4f6f9; --panel: #ffffff; --ink: #1d2433; --muted: #667085; --line: #e3e7ee;
  --head: #1f2a44; --ok: #1a7f4b; --ok-bg: #e3f5ea; --bad: #b42318; --bad-bg: #fde7e5;
  --warn: #9a6700; --warn-bg: #fff4d6; --info: #3154c7; --info-bg: #e6ecfd; --grey-bg: #eceff3;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
header { background: var(--head); color: #fff; padding: 14px 24px; display: flex;
  align-items: baseline; gap: 24px; flex-wrap: wrap; }
header h1 { font-size: 20px; margin: 0; letter-spacing: .5px; }
header .meta { color: #c9d2e6; font-size: 13px; }
header .meta b { color: #fff; font-weight: 600; }
#conn { margin-left: auto; font-size: 12px; padding: 2px 10px; border-radius: 10px; }
#conn.live { background: var(--ok); } #conn.down { background: var(--bad); }
main { padding: 18px 24px 40px; max-width: 1400px; }
.summary { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 18px; }
.tile { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 16px; min-width: 150px; }
.tile .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .4px; }
.tile .v { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
section.cluster, section.routes { background: var(--panel); border: 1px solid var(--line);
  border-radius: 8px; margin-bottom: 18px; overflow: hidden; }
section h2 { font-size: 16px; margin: 0; padding: 10px 16px; background: #f9fafc;
  border-bottom: 1px solid var(--line); display: flex; gap: 18px; align-items: baseline;
  flex-wrap: wrap; }
section h2 .sub { font-size: 13px; font-weight: normal; color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 7px 12px; text-align: right; border-bottom: 1px solid var(--line);
  white-space: nowrap; font-variant-numeric: tabular-nums; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase;
  letter-spacing: .3px; background: #fcfcfd; }
th:first-child, td:first-child, td.state, th.state { text-align: left; }
tr:last-child td { border-bottom: none; }
td.address { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; margin-right: 4px; }
.b-healthy { color: var(--ok); background: var(--ok-bg); }
.b-unhealthy, .b-breaker-open, .b-ejected { color: var(--bad); background: var(--bad-bg); }
.b-unknown { color: var(--muted); background: var(--grey-bg); }
.b-half-open, .b-draining { color: var(--warn); background: var(--warn-bg); }
tr.down td { background: #fffafa; }
tr.down td.address { color: var(--muted); }
.err-hi { color: var(--bad); font-weight: 600; }
.dim { color: var(--muted); }
.bar { display: inline-block; width: 60px; height: 6px; background: var(--grey-bg);
  border-radius: 3px; vertical-align: middle; margin-left: 6px; overflow: hidden; }
.bar i { display: block; height: 100%; background: var(--info); }
svg.spark { display: block; margin-top: 4px; }
svg.spark polyline { fill: none; stroke: var(--info); stroke-width: 1.5; }
svg.spark.err polyline { stroke: var(--bad); }
footer { color: var(--muted); font-size: 12px; padding: 0 24px 24px; }
</style>
</head>
<body>
<header>
  <h1>spillway</h1>
  <span class="meta">version <b id="version">—</b></span>
  <span class="meta">uptime <b id="uptime">—</b></span>
  <span class="meta">ready <b id="ready">—</b></span>
  <span id="conn" class="down">connecting</span>
</header>
<main>
  <div class="summary">
    <div class="tile"><div class="k">requests/s</div><div class="v" id="sum-rate">—</div>
      <svg class="spark" id="spark-rate" width="120" height="24"></svg></div>
    <div class="tile"><div class="k">error rate</div><div class="v" id="sum-errors">—</div>
      <svg class="spark err" id="spark-errors" width="120" height="24"></svg></div>
    <div class="tile"><div class="k">endpoints up</div><div class="v" id="sum-up">—</div></div>
    <div class="tile"><div class="k">queued</div><div class="v" id="sum-queued">—</div></div>
    <div class="tile"><div class="k">cache hit ratio</div><div class="v" id="sum-cache">—</div></div>
  </div>
  <div id="clusters"></div>
  <section class="routes">
    <h2>Routes <span class="sub">rates and latencies over the last <span id="window">—</span></span></h2>
    <table id="routes"><thead><tr><th>route</th><th>cluster</th><th>req/s</th><th>errors</th>
      <th>p50</th><th>p99</th><th>total</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<footer>Refreshes every second from <code>/admin/status</code>. Metrics: <code>/metrics</code>.</footer>
<script>
"use strict";
const DASH = "\u2014";
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function num(v, digits) { return v === null || v === undefined ? DASH : v.toFixed(digits); }
function rate(v) { return v >= 100 ? v.toFixed(0) + "/s" : v >= 10 ? v.toFixed(1) + "/s" : v.toFixed(2) + "/s"; }
function pct(v) { return v === null || v === undefined ? DASH : (v * 100).toFixed(v < 0.1 ? 2 : 1) + "%"; }
function dur(s) {
  if (s === null || s === undefined) return DASH;
  if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 1 : 0) + " ms";
  if (s < 120) return s.toFixed(s < 10 ? 2 : 1) + " s";
  return (s / 60).toFixed(1) + " min";
}
function uptime(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  const sec = Math.floor(s % 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + (d || h || m ? m + "m " : "") + sec + "s";
}
function stateBadges(ep) {
  const out = [[ep.health, "b-" + ep.health]];
  if (ep.ejected) out.push(["ejected", "b-ejected"]);
  if (ep.breaker === "open") out.push(["breaker open", "b-breaker-open"]);
  if (ep.breaker === "half_open") out.push(["breaker half-open", "b-half-open"]);
  if (ep.draining) out.push(["draining", "b-draining"]);
  return out;
}
function errCell(v) {
  const td = el("td", "errors", pct(v));
  if (v !== null && v !== undefined && v >= 0.05) td.classList.add("err-hi");
  return td;
}
function loadCell(load) {
  const td = el("td", "load");
  if (!load || load.fresh === false) { td.textContent = DASH; td.classList.add("dim"); return td; }
  td.textContent = load.running + " run / " + load.waiting + " wait";
  const kv = load.kv_cache_usage || 0;
  const bar = el("span", "bar"), fill = el("i");
  fill.style.width = Math.round(kv * 100) + "%";
  bar.title = "KV cache " + pct(kv);
  bar.appendChild(fill);
  td.appendChild(bar);
  return td;
}
function clusterSection(c) {
  const s = el("section", "cluster");
  s.dataset.cluster = c.name;
  const h = el("h2", null, c.name);
  h.appendChild(el("span", "sub", "balancer " + c.balancer));
  h.appendChild(el("span", "sub", "queue " + c.queued));
  h.appendChild(el("span", "sub", rate(c.rate) + ", errors " + pct(c.error_rate)));
  h.appendChild(el("span", "sub", "p50 " + dur(c.p50) + ", p99 " + dur(c.p99)));
  s.appendChild(h);
  const t = el("table"), head = el("tr");
  for (const [name, cls] of [["endpoint"], ["state", "state"], ["weight"], ["effective"],
       ["in-flight"], ["engine load"], ["req/s"], ["errors"], ["p50"], ["p99"]])
    head.appendChild(el("th", cls || null, name));
  const thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
  const body = el("tbody");
  for (const ep of c.endpoints) {
    const tr = el("tr", ep.available ? "endpoint" : "endpoint down");
    tr.dataset.address = ep.address;
    tr.dataset.health = ep.health;
    tr.appendChild(el("td", "address", ep.address));
    const st = el("td", "state");
    for (const [text, cls] of stateBadges(ep)) st.appendChild(el("span", "badge " + cls, text));
    tr.appendChild(st);
    tr.appendChild(el("td", "weight", String(ep.weight)));
    tr.appendChild(el("td", "effective", num(ep.effective_weight, ep.effective_weight % 1 ? 2 : 0)));
    tr.appendChild(el("td", "active", ep.max_concurrent ? ep.active + " / " + ep.max_concurrent : String(ep.active)));
    tr.appendChild(loadCell(ep.reported_load));
    tr.appendChild(el("td", "rate", rate(ep.rate)));
    tr.appendChild(errCell(ep.error_rate));
    tr.appendChild(el("td", "p50", dur(ep.p50)));
    tr.appendChild(el("td", "p99", dur(ep.p99)));
    body.appendChild(tr);
  }
  t.appendChild(body);
  s.appendChild(t);
  return s;
}
const history = {rate: [], errors: []};  // last two minutes of the summary tiles
function spark(id, values) {
  const svg = document.getElementById(id), w = 120, h = 24;
  const max = Math.max(...values, 1e-9);
  const n = values.length;  // newest at the right edge
  const pts = values.map((v, i) => (w - (n - 1 - i) * w / 119).toFixed(1) + "," +
                                   (h - 1 - v / max * (h - 2)).toFixed(1)).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", pts);
  svg.replaceChildren(line);
}
function record(key, v) {
  history[key].push(v);
  if (history[key].length > 120) history[key].shift();
}
function render(doc) {
  document.getElementById("version").textContent = doc.version;
  document.getElementById("uptime").textContent = uptime(doc.uptime_s);
  document.getElementById("ready").textContent = doc.ready ? "yes" : "no";
  document.getElementById("window").textContent = doc.window_s.toFixed(0) + " s";
  const box = document.getElementById("clusters");
  box.replaceChildren(...doc.clusters.map(clusterSection));
  let up = 0, all = 0, queued = 0;
  for (const c of doc.clusters) {
    queued += c.queued;
    for (const ep of c.endpoints) { all++; if (ep.available) up++; }
  }
  let r = 0, reqs = 0, errs = 0;
  const tbody = document.querySelector("#routes tbody");
  tbody.replaceChildren(...doc.routes.map(rt => {
    r += rt.rate;
    if (rt.error_rate !== null) { reqs += rt.rate; errs += rt.rate * rt.error_rate; }
    const tr = el("tr", "route");
    tr.dataset.route = rt.name;
    tr.appendChild(el("td", "name", rt.name));
    tr.appendChild(el("td", "cluster", rt.cluster === null ? DASH : rt.cluster));
    tr.appendChild(el("td", "rate", rate(rt.rate)));
    tr.appendChild(errCell(rt.error_rate));
    tr.appendChild(el("td", "p50", dur(rt.p50)));
    tr.appendChild(el("td", "p99", dur(rt.p99)));
    tr.appendChild(el("td", "total", String(rt.requests_total)));
    return tr;
  }));
  record("rate", r);
  record("errors", reqs > 0 ? errs / reqs : 0);
  spark("spark-rate", history.rate);
  spark("spark-errors", history.errors);
  document.getElementById("sum-rate").textContent = rate(r);
  document.getElementById("sum-errors").textContent = reqs > 0 ? pct(errs / reqs) : DASH;
  document.getElementById("sum-up").textContent = up + " / " + all;
  document.getElementById("sum-queued").textContent = String(queued);
  document.getElementById("sum-cache").textContent = doc.cache ? pct(doc.cache.hit_ratio) : DASH;
}
function setConn(ok, text) {
  const c = document.getElementById("conn");
  c.className = ok ? "live" : "down";
  c.textContent = text;
}
async function refresh() {
  try {
    const res = await fetch("/admin/status", {cache: "no-store"});
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json());
    document.body.dataset.updated = String(Date.now());
    setConn(true, "live " + new Date().toLocaleTimeString());
  } catch (e) {
    setConn(false, "disconnected: " + e.message);
  }
  setTimeout(refresh, 1000);
}
refresh();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view status_page_html() noexcept {
  return page;
}

}  // namespace spillway::admin
