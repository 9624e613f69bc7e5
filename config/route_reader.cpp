// routes[]: match, target clusters, timeouts, retry, cache, rate limit, priority, compression,
// idempotency and the fallback response (SPEC §2.1).
#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

#include "config/sections.hpp"

namespace spillway::config::detail {
namespace {

constexpr uint32_t max_attempts = 10;
constexpr uint32_t max_weight = 1'000'000;
constexpr uint64_t max_fallback_body = 1 * MiB;
constexpr std::string_view known_methods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                              "CONNECT", "OPTIONS", "TRACE", "PATCH"};
constexpr std::string_view known_encodings[] = {"br", "gzip", "deflate"};

void read_methods(reader& r, const node_ref& n, std::vector<std::string>& out) {
  r.items(n, [&](const node_ref& item) {
    auto t = r.text(item);
    if (!t) return;
    std::transform(t->begin(), t->end(), t->begin(),
                   [](unsigned char c) { return std::toupper(c); });
    if (std::find(std::begin(known_methods), std::end(known_methods), *t) ==
        std::end(known_methods))
      r.unknown_value(item, *t, known_methods);
    else
      out.push_back(std::move(*t));
  });
}

void read_match(reader& r, const node_ref& n, route_match& out) {
  auto seen =
      r.fields(n, {
                      {"path_prefix", [&](auto& v) { r.read_url_path(v, out.path_prefix); }},
                      {"path", [&](auto& v) { r.read_url_path(v, out.path); }},
                      {"methods", [&](auto& v) { read_methods(r, v, out.methods); }},
                      {"headers",
                       [&](auto& v) {
                         r.entries(v, [&](const std::string& key, const node_ref& value) {
                           auto name = r.header_name(value, key);
                           auto text = r.text(value);
                           if (name && text)
                             out.headers.emplace_back(std::move(*name), std::move(*text));
                         });
                       }},
                  });
  if (seen.has("path") && seen.has("path_prefix"))
    r.error(n.path + ".path", "set path or path_prefix, not both");
}

void read_weighted_clusters(reader& r, const node_ref& n, std::vector<weighted_cluster>& out) {
  r.items(n, [&](const node_ref& item) {
    weighted_cluster w;
    auto seen = r.fields(item, {
                                   {"name", [&](auto& v) { r.read_name(v, w.name); }},
                                   {"weight", [&](auto& v) { r.read(v, w.weight, 1, max_weight); }},
                               });
    r.require(item, seen, {"name"});
    out.push_back(std::move(w));
  });
  if (n.node.IsSequence() && out.empty()) r.error(n, "list at least one cluster");
}

void read_retry_on(reader& r, const node_ref& n, retry_config& out) {
  out.conditions = 0;
  r.items(n, [&](const node_ref& item) {
    auto t = r.text(item);
    if (!t) return;
    if (!t->empty() && std::isdigit(static_cast<unsigned char>((*t)[0]))) {
      auto status = parse_uint(*t);
      if (!status || *status.value < 400 || *status.value > 599)
        r.error(item, fmt::format("retry status '{}' must be an HTTP status 400..599", *t));
      else if (std::find(out.statuses.begin(), out.statuses.end(), *status.value) !=
               out.statuses.end())
        r.error(item, fmt::format("status {} is listed twice", *t));
      else
        out.statuses.push_back(static_cast<int>(*status.value));
      return;
    }
    retry_condition c{};
    r.read_enum(item, c,
                {{"connect_failure", retry_condition::connect_failure},
                 {"reset", retry_condition::reset},
                 {"timeout", retry_condition::timeout}});
    out.conditions |= static_cast<uint32_t>(c);
  });
}

void read_retry(reader& r, const node_ref& n, retry_config& out) {
  auto& backoff = out.backoff;
  auto seen = r.fields(
      n, {
             {"attempts", [&](auto& v) { r.read(v, out.attempts, 1, max_attempts); }},
             {"on", [&](auto& v) { read_retry_on(r, v, out); }},
             {"backoff",
              [&](auto& v) {
                r.fields(v, {
                                {"base", [&](auto& x) { r.read_duration(x, backoff.base); }},
                                {"max", [&](auto& x) { r.read_duration(x, backoff.max); }},
                            });
              }},
             {"respect_retry_after", [&](auto& v) { r.read(v, out.respect_retry_after); }},
             {"max_retry_after",
              [&](auto& v) { r.read_duration(v, out.max_retry_after, duration{0}); }},
             {"budget", [&](auto& v) { r.read_percent(v, out.budget); }},
             {"min_retries", [&](auto& v) { r.read(v, out.min_retries, 0, 1'000'000); }},
         });
  if (backoff.max < backoff.base)
    r.error(n.path + ".backoff",
            fmt::format("backoff max ({}) is below base ({})", format_duration(backoff.max),
                        format_duration(backoff.base)));
}

void read_route_cache(reader& r, const node_ref& n, route_cache_config& out) {
  r.fields(n, {
                  {"ttl", [&](auto& v) { r.read_duration(v, out.ttl); }},
                  {"only_deterministic", [&](auto& v) { r.read(v, out.only_deterministic); }},
                  {"stale_if_error",
                   [&](auto& v) { r.read_duration(v, out.stale_if_error, duration{0}); }},
                  {"vary_headers",
                   [&](auto& v) {
                     out.vary_headers.clear();
                     r.items(v, [&](const node_ref& item) {
                       r.read_header_name(item, out.vary_headers.emplace_back());
                     });
                   }},
              });
}

void read_rate_limit_key(reader& r, const node_ref& v, rate_limit_config& out) {
  auto spec = r.read_key_spec(v, {"client_address"});
  if (!spec) return;
  out.key_arg = spec->arg;
  if (spec->kind == "client_address") out.key = rate_limit_key_kind::client_address;
  if (spec->kind == "header") out.key = rate_limit_key_kind::header;
  if (spec->kind == "jwt") out.key = rate_limit_key_kind::jwt;
}

void read_rate_limit(reader& r, const node_ref& n, rate_limit_config& out) {
  auto seen = r.fields(n, {
                              {"key", [&](auto& v) { read_rate_limit_key(r, v, out); }},
                              {"rate",
                               [&](auto& v) {
                                 auto t = r.text(v);
                                 if (!t) return;
                                 auto rate = parse_rate(*t);
                                 if (rate)
                                   out.rate_per_second = *rate.value;
                                 else
                                   r.error(v, rate.error);
                               }},
                              {"burst", [&](auto& v) { r.read(v, out.burst, 1, 1'000'000'000); }},
                              {"tokens_per_minute",
                               [&](auto& v) { r.read(v, out.tokens_per_minute, 1, UINT64_MAX); }},
                              {"shared", [&](auto& v) { r.read(v, out.shared); }},
                          });
  if (n.node.IsMap() && !seen.has("rate") && !seen.has("tokens_per_minute"))
    r.error(n, "set rate, tokens_per_minute or both");
  if (seen.has("burst") && !seen.has("rate")) r.error(n.path + ".burst", "burst needs a rate");
}

void read_encodings(reader& r, const node_ref& n, std::vector<std::string>& out) {
  r.items(n, [&](const node_ref& item) {
    auto t = r.text(item);
    if (!t) return;
    if (std::find(std::begin(known_encodings), std::end(known_encodings), *t) ==
        std::end(known_encodings))
      r.unknown_value(item, *t, known_encodings);
    else if (std::find(out.begin(), out.end(), *t) != out.end())
      r.error(item, fmt::format("encoding {} is listed twice", *t));
    else
      out.push_back(std::move(*t));
  });
}

void read_compression(reader& r, const node_ref& n, compression_config& out) {
  r.fields(n, {
                  {"request", [&](auto& v) { read_encodings(r, v, out.request); }},
                  {"response", [&](auto& v) { read_encodings(r, v, out.response); }},
                  {"min_bytes", [&](auto& v) { r.read_size(v, out.min_bytes, 0); }},
                  {"max_decoded_bytes", [&](auto& v) { r.read_size(v, out.max_decoded_bytes, 0); }},
              });
}

// Reads the whole file named by body_file into `out.body` (at load time, so a missing file is a
// config error rather than a failure during an outage).
void read_body_file(reader& r, const node_ref& v, fallback_response_config& out) {
  r.read_file_path(v, out.body_file);
  if (out.body_file.empty()) return;
  std::ifstream in(out.body_file, std::ios::binary);
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad())
    r.error(v, fmt::format("cannot read file '{}'", out.body_file));
  else if (body.size() > max_fallback_body)
    r.error(v, fmt::format("file '{}' is {} bytes; the limit is {}", out.body_file, body.size(),
                           max_fallback_body));
  else
    out.body = std::move(body);
}

void read_fallback_response(reader& r, const node_ref& n, fallback_response_config& out) {
  auto seen = r.fields(n, {
                              {"status", [&](auto& v) { r.read(v, out.status, 200, 599); }},
                              {"content_type",
                               [&](auto& v) {
                                 r.read(v, out.content_type);
                                 if (out.content_type.empty()) r.error(v, "empty content type");
                               }},
                              {"body_file", [&](auto& v) { read_body_file(r, v, out); }},
                              {"body", [&](auto& v) { r.read(v, out.body); }},
                          });
  if (seen.has("body") && seen.has("body_file"))
    r.error(n.path + ".body", "set body or body_file, not both");
}

void read_priority(reader& r, const node_ref& n, priority_config& out) {
  r.fields(n, {
                  {"header", [&](auto& v) { r.read_header_name(v, out.header); }},
                  {"default",
                   [&](auto& v) {
                     r.read_enum(v, out.default_class,
                                 {{"high", priority_class::high},
                                  {"normal", priority_class::normal},
                                  {"low", priority_class::low}});
                   }},
              });
}

void read_route_timeouts(reader& r, const node_ref& n, route_timeouts& out) {
  r.fields(n, {
                  {"first_byte", [&](auto& v) { r.read_duration(v, out.first_byte); }},
                  {"idle", [&](auto& v) { r.read_duration(v, out.idle); }},
                  {"total", [&](auto& v) { r.read_duration(v, out.total, duration{0}); }},
              });
}

void read_idempotency(reader& r, const node_ref& n, idempotency_config& out) {
  r.fields(n, {
                  {"header", [&](auto& v) { r.read_header_name(v, out.header); }},
                  {"ttl", [&](auto& v) { r.read_duration(v, out.ttl); }},
              });
}

void read_cluster_names(reader& r, const node_ref& n, std::vector<std::string>& out) {
  r.items(n, [&](const node_ref& item) { r.read_name(item, out.emplace_back()); });
}

}  // namespace

void read_route(reader& r, const node_ref& n, route_config& out) {
  auto seen = r.fields(
      n,
      {
          {"name", [&](auto& v) { r.read_name(v, out.name); }},
          {"match", [&](auto& v) { read_match(r, v, out.match); }},
          {"cluster",
           [&](auto& v) {
             weighted_cluster only;
             r.read_name(v, only.name);
             out.clusters = {only};
           }},
          {"clusters", [&](auto& v) { read_weighted_clusters(r, v, out.clusters); }},
          {"fallback_clusters", [&](auto& v) { read_cluster_names(r, v, out.fallback_clusters); }},
          {"timeouts", [&](auto& v) { read_route_timeouts(r, v, out.timeouts); }},
          {"retry",
           [&](auto& v) {
             out.retry_configured = true;
             read_retry(r, v, out.retry);
           }},
          {"cache", [&](auto& v) { read_route_cache(r, v, out.cache.emplace()); }},
          {"rate_limit", [&](auto& v) { read_rate_limit(r, v, out.rate_limit.emplace()); }},
          {"priority", [&](auto& v) { read_priority(r, v, out.priority); }},
          {"compression", [&](auto& v) { read_compression(r, v, out.compression.emplace()); }},
          {"idempotency", [&](auto& v) { read_idempotency(r, v, out.idempotency.emplace()); }},
          {"fallback_response",
           [&](auto& v) { read_fallback_response(r, v, out.fallback_response.emplace()); }},
          {"websocket", [&](auto& v) { r.read(v, out.websocket); }},
      });
  r.require(n, seen, {"name"});
  if (!n.node.IsMap()) return;
  if (seen.has("cluster") && seen.has("clusters"))
    r.error(n.path + ".clusters", "set cluster or clusters, not both");
  else if (!seen.has("cluster") && !seen.has("clusters"))
    r.error(n.path + ".cluster",
            "missing required key (cluster, or clusters for a weighted split)");
}

}  // namespace spillway::config::detail
