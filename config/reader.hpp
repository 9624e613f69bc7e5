// The loader's walk over a yaml-cpp tree: typed reads of scalars after ${VAR} expansion,
// mappings checked against the keys they may hold (unknown and duplicate keys are errors, with a
// "did you mean"), and every problem collected with file, line, column and dotted key path
// (clusters[0].endpoints[1].weight) instead of stopping at the first.
// One reader per load, used from one thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/env_expand.hpp"
#include "config/loader.hpp"

namespace spillway::config::detail {

/// A node with the dotted path that leads to it and where it is in the file (1-based).
struct node_ref {
  YAML::Node node;
  std::string path;
  int line = 0;
  int column = 0;
};

/// Keys a mapping held, among the known ones.
class key_set {
 public:
  bool has(std::string_view key) const;
  void add(std::string key) { keys_.push_back(std::move(key)); }

 private:
  std::vector<std::string> keys_;
};

class reader {
 public:
  using read_fn = std::function<void(const node_ref&)>;
  struct field {
    std::string_view key;
    read_fn read;
  };

  /// `base_dir` anchors relative file paths (the config file's folder).
  reader(std::string file, std::filesystem::path base_dir, env_lookup env);

  const std::string& file() const { return file_; }
  node_ref root(const YAML::Node& node) const;

  // ---- reporting
  void error(const node_ref& at, std::string message);
  /// At the recorded position of `path` (or of its nearest recorded parent).
  void error(const std::string& path, std::string message);
  void warning(const std::string& path, std::string message);
  void error_at(source_mark where, std::string message);
  source_mark mark(const std::string& path) const;
  /// Whether the file holds `path` (a key or list item that was visited).
  bool present(const std::string& path) const { return marks_.count(path) != 0; }
  bool has_errors() const { return !errors_.empty(); }
  std::vector<config_error> take_errors() { return std::move(errors_); }
  std::vector<config_error> take_warnings() { return std::move(warnings_); }

  // ---- structure
  /// Reads a mapping whose keys must be among `known`; calls each key's reader in file order.
  key_set fields(const node_ref& map, std::initializer_list<field> known);
  /// Reports "missing required key" for each of `keys` absent from `seen`.
  void require(const node_ref& map, const key_set& seen,
               std::initializer_list<std::string_view> keys);
  /// Calls `fn` for each item of a sequence.
  void items(const node_ref& seq, const read_fn& fn);
  /// Calls `fn(key, value)` for each entry of a mapping with free-form keys.
  void entries(const node_ref& map,
               const std::function<void(const std::string&, const node_ref&)>& fn);
  bool expect_map(const node_ref& v);

  // ---- scalars (each reports its own error and leaves `out` unchanged on failure)
  /// The scalar's text after ${VAR} expansion.
  std::optional<std::string> text(const node_ref& v);
  void read(const node_ref& v, std::string& out);
  void read(const node_ref& v, bool& out);
  void read(const node_ref& v, uint32_t& out, uint32_t min, uint32_t max);
  void read(const node_ref& v, uint64_t& out, uint64_t min, uint64_t max);
  void read(const node_ref& v, int& out, int min, int max);  // min >= 0
  /// Real number strictly above `min_exclusive`.
  void read_above(const node_ref& v, double& out, double min_exclusive);
  void read_duration(const node_ref& v, duration& out, duration min = duration{1});
  void read_size(const node_ref& v, uint64_t& out, uint64_t min = 1, uint64_t max = UINT64_MAX);
  /// Fraction 0..1 from 50% or 50.
  void read_percent(const node_ref& v, double& out);
  void read_list(const node_ref& v, std::vector<std::string>& out);
  /// Letters, digits, '_', '-', '.': names used in metrics labels and admin URLs.
  void read_name(const node_ref& v, std::string& out);
  /// An HTTP field name, lower-cased.
  void read_header_name(const node_ref& v, std::string& out);
  std::optional<std::string> header_name(const node_ref& v, std::string_view text);
  /// host:port or [v6]:port; `host_required` rejects ":port".
  void read_address(const node_ref& v, std::string& out, bool host_required);
  /// A path that must be absolute URL path ("/...").
  void read_url_path(const node_ref& v, std::string& out);
  struct key_spec {
    std::string kind;  // "header", "jwt" or one of the plain words
    std::string arg;   // lower-cased header name or JWT claim; empty for plain words
  };
  /// "header:<name>", "jwt:<claim>" or one of `plain` (affinity and rate-limit keys).
  std::optional<key_spec> read_key_spec(const node_ref& v,
                                        std::initializer_list<std::string_view> plain);
  /// A readable file; relative paths resolve against the config file's folder.
  void read_file_path(const node_ref& v, std::string& out);

  template <class E>
  void read_enum(const node_ref& v, E& out,
                 std::initializer_list<std::pair<std::string_view, E>> names) {
    auto t = text(v);
    if (!t) return;
    for (const auto& [name, value] : names)
      if (name == *t) {
        out = value;
        return;
      }
    std::vector<std::string_view> all;
    for (const auto& n : names) all.push_back(n.first);
    unknown_value(v, *t, all);
  }

  /// "unknown value 'x'; expected one of a, b, c; did you mean 'b'?"
  void unknown_value(const node_ref& v, std::string_view value,
                     std::span<const std::string_view> known);

  /// Resolves `path` against the config file's folder.
  std::filesystem::path resolve(const std::string& path) const;

 private:
  node_ref child(const node_ref& parent, const std::string& key, const YAML::Node& key_node,
                 const YAML::Node& value);
  void record(const node_ref& n);
  std::optional<std::string> key_text(const node_ref& map, const YAML::Node& key);
  std::optional<uint64_t> number(const node_ref& v, uint64_t min, uint64_t max);

  std::string file_;
  std::filesystem::path base_dir_;
  env_lookup env_;
  std::unordered_map<std::string, std::pair<int, int>> marks_;
  std::vector<config_error> errors_;
  std::vector<config_error> warnings_;
};

/// True for an RFC 9110 token (field names, methods, cookie names).
bool is_token(std::string_view text);

}  // namespace spillway::config::detail
