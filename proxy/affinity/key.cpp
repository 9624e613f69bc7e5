#include "proxy/affinity/key.hpp"

#include "common/ascii.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "proxy/affinity/base64url.hpp"
#include "proxy/balancer/key_hash.hpp"

namespace spillway::affinity {
namespace {

namespace json = boost::json;
using balancer::hash64;

constexpr std::size_t max_token_bytes = 16 * 1024;  // larger bearer tokens are not read

// Seeds keep the key kinds apart (a header value and a claim with the same text differ).
constexpr uint64_t header_seed = 0x6865616465722d6bULL;
constexpr uint64_t jwt_seed = 0x6a77742d636c6169ULL;

std::optional<json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

/// Appends at most `limit - out.size()` bytes of `s`; false once `out` is full.
bool append_limited(std::string& out, std::string_view s, std::size_t limit) {
  if (out.size() >= limit) return false;
  out.append(s.substr(0, limit - out.size()));
  return out.size() < limit;
}

/// Text of a chat message's content: a string, or the parts of an array (text parts by their
/// text, other parts such as images by their JSON).
bool append_content(std::string& out, const json::value& content, std::size_t limit) {
  if (const auto* s = content.if_string()) return append_limited(out, *s, limit);
  const auto* parts = content.if_array();
  if (parts == nullptr) return out.size() < limit;
  for (const json::value& part : *parts) {
    const auto* obj = part.if_object();
    const json::value* text = obj != nullptr ? obj->if_contains("text") : nullptr;
    const bool more = text != nullptr && text->is_string()
                          ? append_limited(out, text->get_string(), limit)
                          : append_limited(out, json::serialize(part), limit);
    if (!more) return false;
  }
  return out.size() < limit;
}

std::optional<std::string> prompt_text_of(const json::value& body, std::size_t limit) {
  const auto* obj = body.if_object();
  if (obj == nullptr) return std::nullopt;
  std::string out;
  if (const json::value* messages = obj->if_contains("messages")) {
    const auto* list = messages->if_array();
    if (list == nullptr) return std::nullopt;
    for (const json::value& m : *list) {
      const auto* msg = m.if_object();
      if (msg == nullptr) return std::nullopt;
      const json::value* role = msg->if_contains("role");
      if (role != nullptr && role->is_string() && !append_limited(out, role->get_string(), limit))
        break;
      if (!append_limited(out, "\x1f", limit)) break;
      if (const json::value* content = msg->if_contains("content"))
        if (!append_content(out, *content, limit)) break;
      if (!append_limited(out, "\x1e", limit)) break;
    }
    return out;
  }
  if (const json::value* prompt = obj->if_contains("prompt")) {
    if (const auto* s = prompt->if_string()) {
      append_limited(out, *s, limit);
      return out;
    }
    const auto* list = prompt->if_array();
    if (list == nullptr) return std::nullopt;
    for (const json::value& p : *list) {  // strings, token ids, or lists of token ids
      const bool more =
          p.is_string()
              ? append_limited(out, p.get_string(), limit) && append_limited(out, "\x1e", limit)
              : append_limited(out, json::serialize(p), limit) && append_limited(out, ",", limit);
      if (!more) break;
    }
    return out;
  }
  return std::nullopt;
}

uint64_t model_seed(const json::value& body) {
  const auto* obj = body.if_object();
  const json::value* model = obj != nullptr ? obj->if_contains("model") : nullptr;
  if (model == nullptr || !model->is_string()) return 0;
  return hash64(model->get_string());
}

}  // namespace

std::optional<uint64_t> header_key(const http::header_list& headers, std::string_view name) {
  const auto value = headers.find(name);
  if (!value) return std::nullopt;
  const std::string_view v = ascii::trim_ows(*value);
  if (v.empty()) return std::nullopt;
  return hash64(v, header_seed);
}

std::optional<std::string> jwt_claim(std::string_view token, std::string_view claim) {
  if (token.size() > max_token_bytes) return std::nullopt;
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  std::string_view payload = token.substr(first + 1);
  payload = payload.substr(0, payload.find('.'));
  const auto decoded = base64url_decode_lenient(payload);
  if (!decoded) return std::nullopt;
  const auto doc = parse_json(*decoded);
  if (!doc || !doc->is_object()) return std::nullopt;
  const json::value* v = doc->get_object().if_contains(claim);
  if (v == nullptr) return std::nullopt;
  if (const auto* s = v->if_string()) return std::string(*s);
  if (v->is_number()) return json::serialize(*v);
  return std::nullopt;
}

std::optional<uint64_t> jwt_key(const http::header_list& headers, std::string_view claim) {
  const auto auth = headers.find(http::field_id::authorization);
  if (!auth) return std::nullopt;
  const std::string_view a = ascii::trim_ows(*auth);
  constexpr std::string_view scheme = "bearer";
  if (a.size() <= scheme.size() || !http::iequals(a.substr(0, scheme.size()), scheme) ||
      (a[scheme.size()] != ' ' && a[scheme.size()] != '\t'))
    return std::nullopt;
  const auto value = jwt_claim(ascii::trim_ows(a.substr(scheme.size())), claim);
  if (!value || value->empty()) return std::nullopt;
  return hash64(*value, jwt_seed);
}

std::optional<std::string> prompt_text(std::string_view body, std::size_t limit) {
  const auto doc = parse_json(body);
  if (!doc) return std::nullopt;
  return prompt_text_of(*doc, limit);
}

std::optional<uint64_t> prefix_key(const json::value& body, const prefix_options& options) {
  if (options.block_bytes == 0 || options.max_blocks == 0) return std::nullopt;
  const auto text = prompt_text_of(body, options.block_bytes * options.max_blocks);
  if (!text) return std::nullopt;
  const std::size_t blocks = text->size() / options.block_bytes;
  if (blocks == 0) return std::nullopt;
  return hash64(std::string_view(*text).substr(0, blocks * options.block_bytes), model_seed(body));
}

std::optional<uint64_t> prefix_key(std::string_view body, const prefix_options& options) {
  const auto doc = parse_json(body);
  if (!doc) return std::nullopt;
  return prefix_key(*doc, options);
}

std::optional<uint64_t> affinity_key(const config::affinity_config& cfg,
                                     const http::request_head& head, std::string_view body,
                                     const prefix_options& prefix) {
  switch (cfg.key) {
    case config::affinity_key_kind::header:
      return header_key(head.headers, cfg.key_arg);
    case config::affinity_key_kind::jwt:
      return jwt_key(head.headers, cfg.key_arg);
    case config::affinity_key_kind::prefix:
      return prefix_key(body, prefix);
    case config::affinity_key_kind::cookie:
    case config::affinity_key_kind::none:
      break;
  }
  return std::nullopt;
}

}  // namespace spillway::affinity
