// Loads and validates a proxy configuration file (SPEC §2.1): YAML → typed structs, with
// ${VAR} / ${VAR:-default} expansion, units for durations and sizes, unknown keys rejected,
// and cross-checks (routes name real clusters, addresses parse, weights > 0).
// Never throws: every problem found is returned, each with file, line and key.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace spillway::config {

struct config_error {
  source_mark where;
  std::string message;
  /// "file:line:col: key: message"
  std::string to_string() const;
};

struct load_result {
  std::shared_ptr<const proxy_config> config;  // null when errors is not empty
  std::vector<config_error> errors;
  /// Legal but probably unintended (a cluster no route uses, a route no request can reach,
  /// an admin API open to the network without a token). Never stop a load; print them.
  std::vector<config_error> warnings;
  bool ok() const { return errors.empty() && config != nullptr; }
};

/// Reads and validates `path`. Relative file names inside it resolve against its folder and are
/// stored resolved. Safe to call from any thread (reads the environment with getenv).
load_result load_file(const std::string& path);

/// Validates YAML text; `file_name` is used in messages only; relative file names in it
/// (tls files, body_file) resolve against the working directory.
load_result load_string(std::string_view yaml, const std::string& file_name);

/// Every error, then every warning (prefixed "warning: "), one "file:line:col: key: message"
/// per line: what `spillway --check-config` prints and `POST /admin/reload` answers with.
std::string format_report(const load_result& result);

}  // namespace spillway::config
