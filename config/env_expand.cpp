#include "config/env_expand.hpp"

#include <fmt/format.h>
#include <cstdlib>

namespace spillway::config {
namespace {

bool valid_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Expands the body of one "${...}" (the text between the braces).
parsed<std::string> expand_one(std::string_view body, const env_lookup& env) {
  size_t sep = body.find(":-");
  std::string_view name = body.substr(0, sep);
  if (!valid_name(name))
    return parsed<std::string>::fail(fmt::format(
        "invalid environment reference '${{{}}}': expected ${{NAME}} or ${{NAME:-default}}", body));
  std::optional<std::string> value = env(std::string(name));
  if (sep == std::string_view::npos) {
    if (!value)
      return parsed<std::string>::fail(fmt::format(
          "environment variable {} is not set (write ${{{}:-default}} to give a default)", name,
          name));
    return parsed<std::string>::ok(std::move(*value));
  }
  if (value && !value->empty()) return parsed<std::string>::ok(std::move(*value));
  return parsed<std::string>::ok(std::string(body.substr(sep + 2)));
}

}  // namespace

env_lookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

parsed<std::string> expand_env(std::string_view text, const env_lookup& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos)
      return parsed<std::string>::fail("unterminated '${' (missing '}')");
    std::string_view body = text.substr(i + 2, close - i - 2);
    if (body.find("${") != std::string_view::npos)
      return parsed<std::string>::fail("nested '${' inside '${...}' is not supported");
    auto one = expand_one(body, env);
    if (!one) return one;
    out += *one.value;
    i = close + 1;
  }
  return parsed<std::string>::ok(std::move(out));
}

}  // namespace spillway::config
