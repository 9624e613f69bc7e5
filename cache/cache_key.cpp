#include "cache/cache_key.hpp"

#include <openssl/evp.h>

#include <array>
#include <memory>

namespace spillway::cache {

std::string_view to_string(not_cacheable r) noexcept {
  switch (r) {
    case not_cacheable::none:
      return "cacheable";
    case not_cacheable::not_json:
      return "body is not JSON";
    case not_cacheable::not_object:
      return "body is not a JSON object";
    case not_cacheable::no_temperature:
      return "no temperature or seed";
    case not_cacheable::nonzero_temperature:
      return "temperature is not 0 and no seed";
  }
  return "unknown";
}

bool ignored_body_field(std::string_view name) noexcept {
  static constexpr std::array<std::string_view, 5> ignored{"metadata", "store", "stream",
                                                           "stream_options", "user"};
  for (auto f : ignored)
    if (f == name) return true;
  return false;
}

not_cacheable deterministic_check(const json_node& body) noexcept {
  if (body.t != json_node::type::object) return not_cacheable::not_object;
  const json_node* seed = body.find("seed");
  if (seed && seed->is_number()) return not_cacheable::none;
  const json_node* temp = body.find("temperature");
  if (!temp || temp->t == json_node::type::null) return not_cacheable::no_temperature;
  if (temp->is_number() && temp->text == "0") return not_cacheable::none;
  return not_cacheable::nonzero_temperature;
}

std::string canonical_request(const key_request& req, const json_node& body,
                              const config::route_cache_config& route) {
  // Length-free framing is safe: method, target and header values cannot hold a newline.
  std::string out;
  out.reserve(req.method.size() + req.target.size() + req.body.size() + 64);
  out.append(req.method).push_back('\n');
  out.append(req.target).push_back('\n');
  for (size_t i = 0; i < route.vary_headers.size(); ++i) {
    for (char c : route.vary_headers[i])
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    auto v = i < req.vary_values.size() ? req.vary_values[i] : std::nullopt;
    if (v) {
      out.append("=").append(*v);
    } else {
      out.append("!");  // absent differs from empty
    }
    out.push_back('\n');
  }
  if (body.t != json_node::type::object) {
    append_canonical(body, out);
    return out;
  }
  out.push_back('{');
  bool first = true;
  for (const auto& [name, value] : body.members) {
    if (ignored_body_field(name)) continue;
    if (!first) out.push_back(',');
    first = false;
    json_node key;
    key.t = json_node::type::string;
    key.text = name;
    append_canonical(key, out);
    out.push_back(':');
    append_canonical(value, out);
  }
  out.push_back('}');
  return out;
}

key_result make_key(const key_request& req, const config::route_cache_config& route,
                    std::string_view prefix) {
  key_result r;
  boost::system::error_code ec;
  json_node body = req.body.empty() ? json_node{} : parse_canonical(req.body, ec);
  if (req.body.empty() || ec) {
    r.reason = not_cacheable::not_json;
    return r;
  }
  if (route.only_deterministic) {
    r.reason = deterministic_check(body);
    if (r.reason != not_cacheable::none) return r;
  }
  if (const json_node* s = body.find("stream")) r.stream = s->is_true();
  if (const json_node* so = body.find("stream_options"))
    if (const json_node* u = so->find("include_usage")) r.include_usage = u->is_true();
  r.key.reserve(prefix.size() + 64);
  r.key.append(prefix);
  r.key.append(sha256_hex(canonical_request(req, body, route)));
  return r;
}

namespace {

// OpenSSL 3 looks the algorithm up on every EVP_sha256() use ("implicit fetch"); fetch it once
// and keep one digest context per thread.
const EVP_MD* sha256_md() {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md) return md;
#endif
  return EVP_sha256();
}

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

}  // namespace

std::array<unsigned char, 32> sha256(std::string_view data) {
  thread_local std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
  std::array<unsigned char, 32> md{};
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md.data(), &len) != 1)
    EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  return md;
}

std::string sha256_hex(std::string_view data) {
  const std::array<unsigned char, 32> md = sha256(data);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(md.size() * 2, '0');
  for (size_t i = 0; i < md.size(); ++i) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  return out;
}

}  // namespace spillway::cache
