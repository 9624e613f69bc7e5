// A small YAML document model with comments, and its block-style writer, for the configuration
// `spillway import-nginx` prints. yaml-cpp's emitter cannot put a comment after a flow mapping
// on the same line, which is where the importer notes each value's nginx origin.
// Values are plain text; the writer quotes what YAML (or the loader's ${VAR} expansion) would
// otherwise read differently. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spillway::config::nginx {

struct ynode {
  enum class kind { scalar, map, seq };

  kind type = kind::scalar;
  std::string value;                                   // scalar
  std::vector<std::pair<std::string, ynode>> entries;  // map, in order
  std::vector<ynode> items;                            // seq
  std::string comment;              // written as "# ..." at the end of the node's first line
  std::vector<std::string> before;  // comment lines written above the node
  bool flow = false;                // a map or seq of scalars on one line: {a: 1} / [a, b]

  static ynode scalar(std::string v, std::string comment = {});
  static ynode map(bool flow = false);
  static ynode seq(bool flow = false);

  /// Appends a map entry and returns it.
  ynode& add(std::string key, ynode value);
  ynode& add(std::string key, std::string value, std::string comment = {});
  /// Appends a sequence item and returns it.
  ynode& push(ynode value);
  bool empty() const { return entries.empty() && items.empty() && value.empty(); }
};

/// The scalar as YAML text: plain when that reads back as the same string, double-quoted
/// otherwise; "${" is written as "$${" so the loader does not expand it.
std::string yaml_scalar(std::string_view text);

/// The whole document in block style, two-space indents; `header` lines become leading comments.
std::string write_yaml(const ynode& root, const std::vector<std::string>& header);

}  // namespace spillway::config::nginx
