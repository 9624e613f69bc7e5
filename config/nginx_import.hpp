// `spillway import-nginx nginx.conf`: translates an nginx reverse-proxy configuration into a
// Spillway configuration (SPEC §2.1). Upstream blocks become clusters (weights, max_conns,
// max_fails/fail_timeout, backup servers as a fallback cluster, the balancing method, keepalive
// pools), server/listen blocks become listeners, locations with proxy_pass become routes (with
// proxy_next_upstream retries and proxy timeouts). Each value in the YAML carries a comment
// naming the nginx line it came from; everything that has no translation is reported as a
// warning "file:line: directive: why". `include` is not followed (reported).
// The result is validated with the configuration loader before it is returned.
// See docs/migrating-from-nginx.md for the directive-by-directive mapping.
// Pure function apart from import_nginx_file's read; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace spillway::config {

struct import_result {
  /// The Spillway configuration; empty when the nginx file could not be parsed or held
  /// nothing to translate.
  std::string yaml;
  /// "file:line: directive: message", one per thing left untranslated or changed in meaning.
  std::vector<std::string> warnings;
  /// Syntax errors, nothing to translate, or a translation that does not validate.
  std::vector<std::string> errors;
  bool ok() const { return errors.empty() && !yaml.empty(); }
};

/// Translates nginx configuration text; `file_name` names it in messages and comments.
import_result import_nginx(std::string_view text, const std::string& file_name);

/// Reads `path` and translates it.
import_result import_nginx_file(const std::string& path);

}  // namespace spillway::config
