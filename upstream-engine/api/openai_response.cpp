#include "upstream-engine/api/openai_response.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace spillway::engine::api {
namespace json = boost::json;

namespace {

json::value usage_value(const usage_counts& u) {
  json::object o;
  o["prompt_tokens"] = u.prompt_tokens;
  o["completion_tokens"] = u.completion_tokens;
  o["total_tokens"] = u.prompt_tokens + u.completion_tokens;
  json::object details;
  details["cached_tokens"] = u.cached_tokens;
  o["prompt_tokens_details"] = std::move(details);
  return o;
}

json::object head(const response_meta& m, bool chunk) {
  json::object o;
  o["id"] = m.id;
  o["object"] = m.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  o["created"] = m.created;
  o["model"] = m.model;
  return o;
}

json::value reason(std::string_view r) {
  if (r.empty()) return nullptr;
  return json::string(r);
}

}  // namespace

std::string error_json(const api_error& e) {
  json::object err;
  err["message"] = e.message;
  err["type"] = e.type;
  err["param"] = e.param.empty() ? json::value(nullptr) : json::value(e.param);
  err["code"] = e.code.empty() ? json::value(nullptr) : json::value(e.code);
  json::object o;
  o["error"] = std::move(err);
  return json::serialize(o);
}

std::string completion_json(const response_meta& m, std::string_view text,
                            std::string_view finish_reason, const usage_counts& u) {
  json::object o = head(m, false);
  json::object choice;
  choice["index"] = 0;
  if (m.chat) {
    json::object msg;
    msg["role"] = "assistant";
    msg["content"] = text;
    choice["message"] = std::move(msg);
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = reason(finish_reason);
  json::array choices;
  choices.push_back(std::move(choice));
  o["choices"] = std::move(choices);
  o["usage"] = usage_value(u);
  return json::serialize(o);
}

std::string chunk_event(const response_meta& m, std::string_view text,
                        std::string_view finish_reason, bool role, const usage_counts* usage) {
  json::object o = head(m, true);
  json::object choice;
  choice["index"] = 0;
  if (m.chat) {
    json::object delta;
    if (role) delta["role"] = "assistant";
    if (!text.empty() || role) delta["content"] = text;
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = reason(finish_reason);
  json::array choices;
  choices.push_back(std::move(choice));
  o["choices"] = std::move(choices);
  if (usage != nullptr) o["usage"] = usage_value(*usage);
  return "data: " + json::serialize(o) + "\n\n";
}

std::string usage_event(const response_meta& m, const usage_counts& u) {
  json::object o = head(m, true);
  o["choices"] = json::array();
  o["usage"] = usage_value(u);
  return "data: " + json::serialize(o) + "\n\n";
}

std::string error_event(const api_error& e) {
  return "data: " + error_json(e) + "\n\n";
}

}  // namespace spillway::engine::api
