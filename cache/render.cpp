#include "cache/render.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <map>

namespace spillway::cache {
namespace {

namespace json = boost::json;

bool parse_object(std::string_view text, json::object& out) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec || !v.is_object()) return false;
  out = std::move(v.get_object());
  return true;
}

const json::value* member(const json::object& o, std::string_view name) {
  auto it = o.find(json::string_view(name.data(), name.size()));
  return it == o.end() || it->value().is_null() ? nullptr : &it->value();
}

void append_string_member(const json::object& o, std::string_view name, std::string& out) {
  if (const json::value* v = member(o, name); v && v->is_string()) out.append(v->get_string());
}

struct tool_call {
  json::value id, type, name;
  std::string arguments;
};

struct choice_acc {
  bool chat = false;
  std::string content;  // delta.content or text
  json::value role, finish_reason;
  std::map<int64_t, tool_call> tools;
};

int64_t index_of(const json::object& o) {
  const json::value* i = member(o, "index");
  return i && i->is_int64() ? i->get_int64() : 0;
}

void add_tool_deltas(const json::array& calls, choice_acc& c) {
  for (const auto& cv : calls) {
    if (!cv.is_object()) continue;
    const auto& call = cv.get_object();
    tool_call& t = c.tools[index_of(call)];
    if (const auto* v = member(call, "id")) t.id = *v;
    if (const auto* v = member(call, "type")) t.type = *v;
    if (const auto* f = member(call, "function"); f && f->is_object()) {
      if (const auto* n = member(f->get_object(), "name")) t.name = *n;
      append_string_member(f->get_object(), "arguments", t.arguments);
    }
  }
}

// Folds one chunk's choices into the accumulators; false if the chunk is not a completion chunk.
bool add_chunk(const json::object& chunk, std::map<int64_t, choice_acc>& acc, bool& chat) {
  const json::value* choices = member(chunk, "choices");
  if (!choices || !choices->is_array()) return member(chunk, "usage") != nullptr;
  for (const auto& cv : choices->get_array()) {
    if (!cv.is_object()) return false;
    const auto& ch = cv.get_object();
    choice_acc& c = acc[index_of(ch)];
    if (const auto* d = member(ch, "delta"); d && d->is_object()) {
      chat = c.chat = true;
      const auto& delta = d->get_object();
      append_string_member(delta, "content", c.content);
      if (const auto* r = member(delta, "role")) c.role = *r;
      if (const auto* t = member(delta, "tool_calls"); t && t->is_array())
        add_tool_deltas(t->get_array(), c);
    } else {
      append_string_member(ch, "text", c.content);
    }
    if (const auto* f = member(ch, "finish_reason")) c.finish_reason = *f;
  }
  return true;
}

json::object chat_choice(int64_t index, choice_acc& c) {
  json::object msg;
  msg["role"] = c.role.is_null() ? json::value("assistant") : c.role;
  if (c.content.empty() && !c.tools.empty())
    msg["content"] = nullptr;
  else
    msg["content"] = c.content;
  if (!c.tools.empty()) {
    json::array calls;
    for (auto& [i, t] : c.tools) {
      json::object call;
      call["id"] = t.id;
      call["type"] = t.type.is_null() ? json::value("function") : t.type;
      call["function"] = json::object{{"name", t.name}, {"arguments", t.arguments}};
      calls.push_back(std::move(call));
    }
    msg["tool_calls"] = std::move(calls);
  }
  return {{"index", index},
          {"message", std::move(msg)},
          {"logprobs", nullptr},
          {"finish_reason", c.finish_reason}};
}

error_code rebuild_completion(const entry& e, std::string& body) {
  std::map<int64_t, choice_acc> acc;
  json::object head;  // id, created, model, system_fingerprint
  json::value usage;
  bool chat = false, any = false;
  for (const auto& payload : e.events) {
    if (payload == "[DONE]") continue;
    json::object chunk;
    if (!parse_object(payload, chunk) || member(chunk, "error")) return cache_errc::render_failed;
    if (!add_chunk(chunk, acc, chat)) return cache_errc::render_failed;
    any = true;
    for (std::string_view f : {"id", "created", "model", "system_fingerprint"})
      if (const auto* v = member(chunk, f); v && !head.contains(f)) head[f] = *v;
    if (const auto* obj = member(chunk, "object"); obj && obj->is_string())
      chat = chat || obj->get_string() == "chat.completion.chunk";
    if (const auto* u = member(chunk, "usage")) usage = *u;
  }
  if (!any) return cache_errc::render_failed;
  json::object out;
  out["id"] = head.contains("id") ? head["id"] : json::value("");
  out["object"] = chat ? "chat.completion" : "text_completion";
  out["created"] = head.contains("created") ? head["created"] : json::value(0);
  out["model"] = head.contains("model") ? head["model"] : json::value("");
  if (head.contains("system_fingerprint")) out["system_fingerprint"] = head["system_fingerprint"];
  json::array choices;
  for (auto& [i, c] : acc) {
    if (chat)
      choices.push_back(chat_choice(i, c));
    else
      choices.push_back(json::object{{"index", i},
                                     {"text", c.content},
                                     {"logprobs", nullptr},
                                     {"finish_reason", c.finish_reason}});
  }
  out["choices"] = std::move(choices);
  if (!usage.is_null()) out["usage"] = usage;
  body = json::serialize(out);
  return {};
}

// Fields every synthesised chunk repeats.
json::object chunk_head(const json::object& completion, bool chat) {
  json::object c;
  for (std::string_view f : {"id", "created", "model", "system_fingerprint"})
    if (const auto* v = member(completion, f)) c[f] = *v;
  c["object"] = chat ? "chat.completion.chunk" : "text_completion";
  return c;
}

json::array delta_tool_calls(const json::array& calls) {
  json::array out;
  int64_t k = 0;
  for (const auto& cv : calls) {
    if (!cv.is_object()) continue;
    json::object d = cv.get_object();
    d["index"] = k++;
    out.push_back(std::move(d));
  }
  return out;
}

void synthesise_chunks(const json::object& completion, bool chat, const sse_options& opt,
                       std::vector<std::string>& out) {
  json::array content_choices, finish_choices;
  for (const auto& cv : member(completion, "choices")->get_array()) {
    if (!cv.is_object()) continue;
    const auto& ch = cv.get_object();
    json::value index = member(ch, "index") ? *member(ch, "index") : json::value(0);
    json::value finish = member(ch, "finish_reason") ? *member(ch, "finish_reason") : nullptr;
    if (chat) {
      json::object delta;
      if (const auto* m = member(ch, "message"); m && m->is_object()) {
        const auto& msg = m->get_object();
        delta["role"] = member(msg, "role") ? *member(msg, "role") : json::value("assistant");
        if (const auto* c = member(msg, "content")) delta["content"] = *c;
        if (const auto* t = member(msg, "tool_calls"); t && t->is_array())
          delta["tool_calls"] = delta_tool_calls(t->get_array());
      }
      content_choices.push_back(json::object{{"index", index},
                                             {"delta", std::move(delta)},
                                             {"logprobs", nullptr},
                                             {"finish_reason", nullptr}});
      finish_choices.push_back(json::object{{"index", index},
                                            {"delta", json::object{}},
                                            {"logprobs", nullptr},
                                            {"finish_reason", finish}});
    } else {
      json::value text = member(ch, "text") ? *member(ch, "text") : json::value("");
      content_choices.push_back(json::object{
          {"index", index}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
      finish_choices.push_back(json::object{
          {"index", index}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", finish}});
    }
  }
  json::object head = chunk_head(completion, chat);
  json::object first = head, last = head;
  first["choices"] = std::move(content_choices);
  last["choices"] = std::move(finish_choices);
  out.push_back(json::serialize(first));
  out.push_back(json::serialize(last));
  if (const auto* u = member(completion, "usage"); u && opt.include_usage) {
    json::object usage = head;
    usage["choices"] = json::array{};
    usage["usage"] = *u;
    out.push_back(json::serialize(usage));
  }
}

}  // namespace

error_code render_json(const entry& e, std::string& body) {
  if (e.kind == body_kind::json) {
    body = e.body;
    return {};
  }
  return rebuild_completion(e, body);
}

std::string_view json_content_type(const entry& e) noexcept {
  return e.kind == body_kind::json ? std::string_view(e.content_type) : "application/json";
}

error_code sse_payloads(const entry& e, const sse_options& opt, std::vector<std::string>& out) {
  out.clear();
  if (e.kind == body_kind::sse) {
    out = e.events;
    return {};
  }
  json::object completion;
  if (!parse_object(e.body, completion)) return cache_errc::render_failed;
  const json::value* obj = member(completion, "object");
  const json::value* choices = member(completion, "choices");
  bool shaped = choices && choices->is_array() && obj && obj->is_string() &&
                (obj->get_string() == "chat.completion" || obj->get_string() == "text_completion");
  if (shaped)
    synthesise_chunks(completion, obj->get_string() == "chat.completion", opt, out);
  else
    out.push_back(e.body);
  out.emplace_back("[DONE]");
  return {};
}

error_code render_sse(const entry& e, const sse_options& opt, std::string& out) {
  std::vector<std::string> payloads;
  if (auto ec = sse_payloads(e, opt, payloads)) return ec;
  out.clear();
  for (const auto& p : payloads) append_sse_event(out, p);
  return {};
}

std::string_view sse_content_type(const entry& e) noexcept {
  return e.kind == body_kind::sse ? std::string_view(e.content_type) : "text/event-stream";
}

}  // namespace spillway::cache
