#include "upstream-engine/api/openai_request.hpp"

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>

namespace spillway::engine::api {
namespace json = boost::json;

namespace {

bool fail(api_error& e, std::string param, std::string message) {
  e.status = 400;
  e.param = std::move(param);
  e.message = std::move(message);
  e.type = "invalid_request_error";
  e.code = "invalid_value";
  return false;
}

// Numbers arrive as int64, uint64 or double; accept any of them where a number is expected.
std::optional<double> as_number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

std::optional<int64_t> as_integer(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.0e15)
      return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

bool parse_prompt(const json::object& o, const model::tokenizer& tok, completion_request& r,
                  api_error& e) {
  const json::value* p = o.if_contains("prompt");
  if (p == nullptr || p->is_null()) return fail(e, "prompt", "'prompt' is required");
  if (const json::string* s = p->if_string()) {
    r.prompt = tok.encode(std::string_view(s->data(), s->size()), true);
    return true;
  }
  const json::array* a = p->if_array();
  if (a == nullptr) return fail(e, "prompt", "'prompt' must be a string or an array of token ids");
  if (a->size() == 1 && (*a)[0].is_string()) {
    const json::string& s = (*a)[0].get_string();
    r.prompt = tok.encode(std::string_view(s.data(), s.size()), true);
    return true;
  }
  if (a->empty()) return fail(e, "prompt", "'prompt' must not be empty");
  for (const json::value& t : *a) {
    const auto id = as_integer(t);
    if (!id)
      return fail(e, "prompt", "'prompt' array must hold one string or token ids (integers)");
    if (*id < 0 || *id >= tok.vocab_size())
      return fail(
          e, "prompt",
          fmt::format("token id {} is outside the vocabulary (0..{})", *id, tok.vocab_size() - 1));
    r.prompt.push_back(static_cast<int32_t>(*id));
  }
  return true;
}

bool parse_messages(const json::object& o, const model::tokenizer& tok, completion_request& r,
                    api_error& e) {
  const json::value* m = o.if_contains("messages");
  if (m == nullptr || m->is_null()) return fail(e, "messages", "'messages' is required");
  const json::array* a = m->if_array();
  if (a == nullptr || a->empty())
    return fail(e, "messages", "'messages' must be a non-empty array");
  std::vector<std::pair<std::string, std::string>> msgs;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string where = fmt::format("messages[{}]", i);
    const json::object* mo = (*a)[i].if_object();
    if (mo == nullptr) return fail(e, where, where + " must be an object");
    const json::value* role = mo->if_contains("role");
    if (role == nullptr || !role->is_string())
      return fail(e, where + ".role", where + ".role must be a string");
    const std::string_view rs = role->get_string();
    if (rs != "system" && rs != "user" && rs != "assistant" && rs != "developer" && rs != "tool")
      return fail(e, where + ".role", fmt::format("unknown role '{}'", rs));
    std::string content;
    const json::value* c = mo->if_contains("content");
    if (c == nullptr || c->is_null()) {
      // An assistant turn without content (tool calls) contributes nothing.
    } else if (const json::string* s = c->if_string()) {
      content.assign(s->data(), s->size());
    } else if (const json::array* parts = c->if_array()) {
      for (const json::value& part : *parts) {
        const json::object* po = part.if_object();
        const json::value* text = po ? po->if_contains("text") : nullptr;
        if (text == nullptr || !text->is_string())
          return fail(e, where + ".content",
                      where + ".content parts must be {\"type\": \"text\", \"text\": ...}");
        content.append(text->get_string().data(), text->get_string().size());
      }
    } else {
      return fail(e, where + ".content",
                  where + ".content must be a string or an array of text parts");
    }
    msgs.emplace_back(std::string(rs), std::move(content));
  }
  r.prompt = tok.encode(apply_chat_template(msgs), true);
  return true;
}

bool parse_stop(const json::value& v, runtime::sampling_params& p, api_error& e) {
  if (v.is_null()) return true;
  if (const json::string* s = v.if_string()) {
    if (!s->empty()) p.stop.emplace_back(s->data(), s->size());
    return true;
  }
  const json::array* a = v.if_array();
  if (a == nullptr) return fail(e, "stop", "'stop' must be a string or an array of strings");
  if (a->size() > 4) return fail(e, "stop", "'stop' takes at most 4 strings");
  for (const json::value& s : *a) {
    if (!s.is_string()) return fail(e, "stop", "'stop' must be a string or an array of strings");
    if (!s.get_string().empty()) p.stop.emplace_back(s.get_string().data(), s.get_string().size());
  }
  return true;
}

bool parse_sampling(const json::object& o, completion_request& r, api_error& e, int& max_tokens) {
  runtime::sampling_params& p = r.params;
  p.temperature = 1.0f;
  p.top_p = 1.0f;
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (v.is_null()) continue;
    if (key == "max_tokens" || key == "max_completion_tokens") {
      const auto n = as_integer(v);
      if (!n) return fail(e, std::string(key), fmt::format("'{}' must be an integer", key));
      if (*n < 1) return fail(e, std::string(key), fmt::format("'{}' must be at least 1", key));
      max_tokens = static_cast<int>(std::min<int64_t>(*n, 1 << 30));
    } else if (key == "temperature") {
      const auto t = as_number(v);
      if (!t) return fail(e, "temperature", "'temperature' must be a number");
      if (!(*t >= 0.0 && *t <= 2.0))
        return fail(e, "temperature", "'temperature' must be between 0 and 2");
      p.temperature = static_cast<float>(*t);
    } else if (key == "top_p") {
      const auto t = as_number(v);
      if (!t) return fail(e, "top_p", "'top_p' must be a number");
      if (!(*t > 0.0 && *t <= 1.0)) return fail(e, "top_p", "'top_p' must be in (0, 1]");
      p.top_p = static_cast<float>(*t);
    } else if (key == "seed") {
      const auto s = as_integer(v);
      if (!s) return fail(e, "seed", "'seed' must be an integer");
      p.has_seed = true;
      p.seed = static_cast<uint64_t>(*s);
    } else if (key == "stream") {
      if (!v.is_bool()) return fail(e, "stream", "'stream' must be a boolean");
      r.stream = v.get_bool();
    } else if (key == "stream_options") {
      const json::object* so = v.if_object();
      if (so == nullptr) return fail(e, "stream_options", "'stream_options' must be an object");
      if (const json::value* iu = so->if_contains("include_usage"); iu && !iu->is_null()) {
        if (!iu->is_bool())
          return fail(e, "stream_options.include_usage", "'include_usage' must be a boolean");
        r.include_usage = iu->get_bool();
      }
    } else if (key == "stop") {
      if (!parse_stop(v, p, e)) return false;
    } else if (key == "ignore_eos") {
      if (!v.is_bool()) return fail(e, "ignore_eos", "'ignore_eos' must be a boolean");
      p.ignore_eos = v.get_bool();
    } else if (key == "n") {
      const auto n = as_integer(v);
      if (!n || *n != 1) return fail(e, "n", "only 'n': 1 is supported");
    } else if (key == "model") {
      if (!v.is_string()) return fail(e, "model", "'model' must be a string");
      r.model.assign(v.get_string().data(), v.get_string().size());
    }
  }
  return true;
}

}  // namespace

std::string apply_chat_template(const std::vector<std::pair<std::string, std::string>>& messages) {
  std::string out;
  for (const auto& [role, content] : messages) {
    if (role == "system" || role == "developer")
      out += "System: ";
    else if (role == "assistant")
      out += "Assistant: ";
    else if (role == "tool")
      out += "Tool: ";
    else
      out += "User: ";
    out += content;
    out += "\n\n";
  }
  out += "Assistant:";
  return out;
}

std::optional<completion_request> parse_completion_request(std::string_view body, bool chat,
                                                           const model::tokenizer& tok, int seq_len,
                                                           api_error& e) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec) {
    fail(e, "", fmt::format("request body is not valid JSON: {}", ec.message()));
    return std::nullopt;
  }
  const json::object* o = doc.if_object();
  if (o == nullptr) {
    fail(e, "", "request body must be a JSON object");
    return std::nullopt;
  }
  completion_request r;
  r.chat = chat;
  int max_tokens = 0;
  if (!parse_sampling(*o, r, e, max_tokens)) return std::nullopt;
  if (!(chat ? parse_messages(*o, tok, r, e) : parse_prompt(*o, tok, r, e))) return std::nullopt;

  const int prompt_len = static_cast<int>(r.prompt.size());
  if (prompt_len >= seq_len) {
    fail(e, chat ? "messages" : "prompt",
         fmt::format("This model's maximum context length is {} tokens; the prompt has {} tokens.",
                     seq_len, prompt_len));
    return std::nullopt;
  }
  const int room = seq_len - prompt_len;
  if (max_tokens == 0) {
    max_tokens = std::min(room, chat ? default_chat_tokens : default_completion_tokens);
  } else if (max_tokens > room) {
    fail(e, chat ? "max_completion_tokens" : "max_tokens",
         fmt::format("This model's maximum context length is {} tokens. However, you requested {} "
                     "tokens ({} in the prompt, {} for the completion).",
                     seq_len, prompt_len + max_tokens, prompt_len, max_tokens));
    return std::nullopt;
  }
  r.params.max_tokens = max_tokens;
  return r;
}

}  // namespace spillway::engine::api
