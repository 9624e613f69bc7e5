// Command-line flags for spillway-engine: `--name value`, `--name=value` and bare boolean flags.
// Startup code: every problem is collected as a message, none is thrown.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace spillway::engine::cli {

class flags {
 public:
  /// `valued`: flags that take a value; `booleans`: flags that do not.
  flags(std::set<std::string> valued, std::set<std::string> booleans);

  /// Parses args (without the program and subcommand names). Unknown flags, missing values and
  /// stray arguments go to errors().
  void parse(const std::vector<std::string>& args);

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string str(const std::string& name, const std::string& fallback) const;
  int integer(const std::string& name, int fallback, int lo, int hi);
  double number(const std::string& name, double fallback, double lo, double hi);
  std::chrono::milliseconds duration(const std::string& name, std::chrono::milliseconds fallback);
  std::vector<int> int_list(const std::string& name, std::vector<int> fallback);
  /// "on" or "off".
  bool on_off(const std::string& name, bool fallback);

  const std::vector<std::string>& errors() const noexcept { return errors_; }
  void error(std::string message) { errors_.push_back(std::move(message)); }

 private:
  std::set<std::string> valued_;
  std::set<std::string> booleans_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> errors_;
};

/// "250ms", "2s", "1.5s", "1m", "0" → milliseconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

}  // namespace spillway::engine::cli
