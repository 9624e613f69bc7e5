#include "loadgen/openai.hpp"

#include <boost/json.hpp>

namespace spillway::loadgen {

namespace json = boost::json;

namespace {

bool nonempty_string(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() && !v->as_string().empty();
}

void read_usage(const json::object& obj, chunk_info& out) {
  const auto* u = obj.if_contains("usage");
  if (!u || !u->is_object()) return;
  const auto& usage = u->as_object();
  if (const auto* c = usage.if_contains("completion_tokens"); c && c->is_int64())
    out.completion_tokens = c->as_int64();
  if (const auto* p = usage.if_contains("prompt_tokens"); p && p->is_int64())
    out.prompt_tokens = p->as_int64();
}

chunk_info interpret_object(std::string_view text, bool whole) {
  chunk_info out;
  unsigned char buffer[4096];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::error_code ec;
  json::value v = json::parse(text, ec, &mr);
  if (ec || !v.is_object()) {
    out.error = true;
    return out;
  }
  const auto& obj = v.as_object();
  if (obj.contains("error") && !obj.at("error").is_null()) out.error = true;
  read_usage(obj, out);
  const auto* choices = obj.if_contains("choices");
  if (!choices || !choices->is_array()) return out;
  for (const auto& c : choices->as_array()) {
    if (!c.is_object()) continue;
    const auto& choice = c.as_object();
    if (nonempty_string(choice, "text")) out.has_text = true;
    const char* key = whole ? "message" : "delta";
    if (const auto* d = choice.if_contains(key); d && d->is_object()) {
      const auto& delta = d->as_object();
      if (nonempty_string(delta, "content") || nonempty_string(delta, "reasoning_content"))
        out.has_text = true;
    }
  }
  return out;
}

std::string quoted(std::string_view s) {
  return json::serialize(json::string_view(s));
}

}  // namespace

chunk_info interpret_stream_event(std::string_view data) {
  while (!data.empty() && (data.back() == ' ' || data.back() == '\n')) data.remove_suffix(1);
  if (data == "[DONE]") {
    chunk_info out;
    out.done = true;
    return out;
  }
  return interpret_object(data, false);
}

chunk_info interpret_completion(std::string_view body) {
  return interpret_object(body, true);
}

std::string build_openai_body(const options& o, const prompt_parts& p) {
  std::string b;
  b.reserve(p.system.size() + p.context.size() + p.user.size() + p.messages_json.size() + 256);
  b += '{';
  if (!o.model.empty()) b += "\"model\":" + quoted(o.model) + ",";
  if (o.chat()) {
    if (!p.messages_json.empty()) {
      b += "\"messages\":" + p.messages_json;
    } else {
      b += "\"messages\":[";
      if (!p.system.empty()) b += "{\"role\":\"system\",\"content\":" + quoted(p.system) + "},";
      std::string user = p.context.empty() ? p.user : p.context + "\n" + p.user;
      b += "{\"role\":\"user\",\"content\":" + quoted(user) + "}]";
    }
  } else {
    std::string prompt = p.system;
    for (const std::string* part : {&p.context, &p.user}) {
      if (part->empty()) continue;
      if (!prompt.empty()) prompt += "\n";
      prompt += *part;
    }
    b += "\"prompt\":" + quoted(prompt);
  }
  b += ",\"max_tokens\":" + std::to_string(p.max_tokens.value_or(o.max_tokens));
  if (o.temperature) b += ",\"temperature\":" + json::serialize(json::value(*o.temperature));
  if (o.ignore_eos) b += ",\"ignore_eos\":true";
  if (o.stream) b += ",\"stream\":true,\"stream_options\":{\"include_usage\":true}";
  b += '}';
  return b;
}

}  // namespace spillway::loadgen
