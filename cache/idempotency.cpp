#include "cache/idempotency.hpp"

#include "cache/cache_key.hpp"
#include "cache/json_canonical.hpp"

namespace spillway::cache {

namespace {

void put_part(std::string& out, std::string_view s) {
  out.append(std::to_string(s.size())).append(":").append(s).append("\n");
}

}  // namespace

std::string idempotency_prefix(std::string_view route) {
  std::string p = "idem:";
  p.append(route).append(":");
  return p;
}

std::string idempotency_key(std::string_view route, const idempotency_request& req) {
  std::string canonical;
  put_part(canonical, req.method);
  put_part(canonical, req.target);
  put_part(canonical, req.key);
  for (const auto& v : req.vary_values) {
    if (v)
      put_part(canonical, *v);
    else
      canonical.append("-\n");
  }
  return idempotency_prefix(route) + sha256_hex(canonical);
}

body_facts read_body_facts(std::string_view body) {
  body_facts f;
  boost::system::error_code ec;
  json_node n = body.empty() ? json_node{} : parse_canonical(body, ec);
  if (body.empty() || ec) {
    f.fingerprint = sha256_hex(body);
    return f;
  }
  f.fingerprint = sha256_hex(to_canonical(n));
  if (const json_node* s = n.find("stream")) f.stream = s->is_true();
  if (const json_node* so = n.find("stream_options"))
    if (const json_node* u = so->find("include_usage")) f.include_usage = u->is_true();
  return f;
}

bool idempotency_conflict(const entry& e, std::string_view fingerprint) noexcept {
  return e.request_hash != fingerprint;
}

std::string_view to_string(idempotency_result r) noexcept {
  switch (r) {
    case idempotency_result::replayed:
      return "replayed";
    case idempotency_result::waited:
      return "waited";
    case idempotency_result::stored:
      return "stored";
    case idempotency_result::not_stored:
      return "not_stored";
    case idempotency_result::conflict:
      return "conflict";
  }
  return "";
}

void idempotency_counters::count(std::string_view route, idempotency_result r) {
  std::lock_guard lock(mu_);
  auto it = rows_.find(route);
  if (it == rows_.end()) it = rows_.emplace(std::string(route), row{}).first;
  ++it->second[static_cast<size_t>(r)];
}

std::map<std::string, idempotency_counters::row, std::less<>> idempotency_counters::snapshot()
    const {
  std::lock_guard lock(mu_);
  return rows_;
}

}  // namespace spillway::cache
