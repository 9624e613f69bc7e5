// The importer's model → YAML document, section by section in SPEC §2.1 order, each value with
// its nginx origin as a comment.
#include <fmt/format.h>

#include "config/nginx_model.hpp"

namespace spillway::config::nginx {
namespace {

void add_noted(ynode& map, const std::string& key, const opt_noted& v) {
  if (v) map.add(key, v->value, v->note);
}

ynode listener_node(const listener_out& l) {
  ynode m = ynode::map();
  m.add("name", l.name);
  m.add("address", l.address(), l.note);
  add_noted(m, "http2", l.http2);
  if (l.tls_certificate) {
    ynode& tls = m.add("tls", ynode::map());
    add_noted(tls, "certificate", l.tls_certificate);
    add_noted(tls, "private_key", l.tls_private_key);
  }
  if (l.max_body_bytes != 0 || l.max_header_bytes || l.http2_max_concurrent_streams) {
    ynode& limits = m.add("limits", ynode::map());
    if (l.max_body_bytes != 0)
      limits.add("max_body_bytes", size_text(l.max_body_bytes), l.max_body_note);
    add_noted(limits, "max_header_bytes", l.max_header_bytes);
    add_noted(limits, "http2_max_concurrent_streams", l.http2_max_concurrent_streams);
  }
  if (l.header_timeout || l.idle_timeout) {
    ynode& t = m.add("timeouts", ynode::map());
    add_noted(t, "header", l.header_timeout);
    add_noted(t, "idle", l.idle_timeout);
  }
  return m;
}

ynode endpoint_node(const endpoint_out& e) {
  ynode m = ynode::map(true);
  m.add("address", e.address);
  if (e.weight != 1) m.add("weight", std::to_string(e.weight));
  if (e.max_concurrent) m.add("max_concurrent", std::to_string(*e.max_concurrent));
  m.comment = e.note;
  return m;
}

ynode cluster_node(const cluster_out& c) {
  ynode m = ynode::map();
  m.add("name", c.name, c.note);
  m.entries.front().second.before = c.comments;
  if (!c.balancer.value.empty()) m.add("balancer", c.balancer.value, c.balancer.note);
  if (c.affinity_key) {
    ynode& a = m.add("affinity", ynode::map());
    a.add("key", c.affinity_key->value, c.affinity_key->note);
    if (c.affinity_cookie_name || c.affinity_cookie_ttl) {
      ynode& cookie = a.add("cookie", ynode::map());
      add_noted(cookie, "name", c.affinity_cookie_name);
      add_noted(cookie, "ttl", c.affinity_cookie_ttl);
    }
  }
  ynode& eps = m.add("endpoints", ynode::seq());
  for (const auto& e : c.endpoints) eps.push(endpoint_node(e));
  add_noted(m, "connect_timeout", c.connect_timeout);
  if (c.pool_max_idle || c.pool_idle_timeout) {
    ynode& pool = m.add("pool", ynode::map());
    add_noted(pool, "max_idle", c.pool_max_idle);
    add_noted(pool, "idle_timeout", c.pool_idle_timeout);
  }
  add_noted(m, "slow_start", c.slow_start);
  if (c.queue_max_size || c.queue_timeout) {
    ynode& q = m.add("queue", ynode::map());
    add_noted(q, "max_size", c.queue_max_size);
    add_noted(q, "timeout", c.queue_timeout);
  }
  if (c.outlier) {
    const std::string base = duration_text(c.outlier->base_ejection_time);
    ynode o = ynode::map(true);
    o.add("consecutive_5xx", std::to_string(c.outlier->consecutive_5xx));
    o.add("base_ejection_time", base);
    o.add("max_ejection_time", base);
    o.comment = c.outlier->note;
    o.before = {
        "nginx takes a server out for fail_timeout after max_fails failures; Spillway ejects "
        "after consecutive_5xx failed tries (5xx or connect failures), for the same time each "
        "time"};
    m.add("outlier_detection", std::move(o));
  }
  return m;
}

ynode route_node(const route_out& r) {
  ynode m = ynode::map();
  m.add("name", r.name);
  ynode match = ynode::map(true);
  match.add(r.exact ? "path" : "path_prefix", r.path);
  if (!r.methods.empty()) {
    ynode methods = ynode::seq(true);
    for (const auto& x : r.methods) methods.push(ynode::scalar(x));
    match.add("methods", std::move(methods));
  }
  match.comment = r.methods_note.empty() ? r.note : r.note + "; " + r.methods_note;
  match.before = r.comments;
  m.add("match", std::move(match));
  m.add("cluster", r.cluster);
  if (!r.fallback_clusters.empty()) {
    ynode f = ynode::seq(true);
    for (const auto& x : r.fallback_clusters) f.push(ynode::scalar(x));
    f.comment = "nginx 'backup' servers";
    m.add("fallback_clusters", std::move(f));
  }
  if (r.first_byte || r.idle) {
    ynode& t = m.add("timeouts", ynode::map());
    t.before = r.timeout_comments;
    t.before = r.timeout_comments;
    add_noted(t, "first_byte", r.first_byte);
    add_noted(t, "idle", r.idle);
  }
  if (r.retry_attempts) {
    ynode retry = ynode::map(true);
    retry.add("attempts", std::to_string(*r.retry_attempts));
    ynode on = ynode::seq(true);
    for (const auto& x : r.retry_on) on.push(ynode::scalar(x));
    retry.add("on", std::move(on));
    retry.comment = r.retry_note;
    retry.before = r.retry_comments;
    m.add("retry", std::move(retry));
  }
  if (r.rate_limit) {
    ynode rl = ynode::map(true);
    rl.add("key", r.rate_limit->key);
    rl.add("rate", r.rate_limit->rate);
    if (r.rate_limit->burst) rl.add("burst", std::to_string(*r.rate_limit->burst));
    rl.comment = r.rate_limit->note;
    m.add("rate_limit", std::move(rl));
  }
  return m;
}

}  // namespace

ynode to_yaml(const config_out& c) {
  ynode root = ynode::map();
  if (c.workers) root.add("workers", c.workers->value, c.workers->note);
  if (c.drain_timeout) root.add("drain_timeout", c.drain_timeout->value, c.drain_timeout->note);

  const bool has_globals = !root.entries.empty();
  ynode& listeners = root.add("listeners", ynode::seq());
  if (has_globals) listeners.before = {""};
  for (const auto& l : c.listeners) listeners.push(listener_node(l));

  ynode admin = ynode::map();
  admin.add("address", c.admin_address,
            "not in nginx: GET /metrics, /healthz, /readyz and the admin API; keep it on loopback");
  admin.before = {""};
  root.add("admin", std::move(admin));

  ynode& clusters = root.add("clusters", ynode::seq());
  clusters.before = {""};
  for (const auto& cl : c.clusters) {
    ynode& item = clusters.push(cluster_node(cl));
    if (&cl != &c.clusters.front())
      item.entries.front().second.before.insert(item.entries.front().second.before.begin(), "");
  }

  ynode& routes = root.add("routes", ynode::seq());
  routes.before = {"",
                   "First match wins: exact paths first, then prefixes from the longest, "
                   "as nginx chooses locations."};
  for (const auto& r : c.routes) {
    ynode& item = routes.push(route_node(r));
    if (&r != &c.routes.front()) item.entries.front().second.before.push_back("");
  }

  if (c.access_log_path) {
    ynode log = ynode::map(true);
    log.add("path", c.access_log_path->value);
    log.add("format", c.access_log_format);
    log.comment = c.access_log_path->note;
    log.before = {""};
    root.add("access_log", std::move(log));
  }
  return root;
}

}  // namespace spillway::config::nginx
