#include "config/reader.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cctype>
#include <fstream>

#include "config/address.hpp"
#include "config/suggest.hpp"
#include "config/values.hpp"

namespace spillway::config::detail {
namespace {

// yaml-cpp marks are 0-based; a null value's mark points past it, so the key's is used instead.
std::pair<int, int> position(const YAML::Node& n) {
  YAML::Mark m = n.Mark();
  if (m.line < 0) return {0, 0};
  return {m.line + 1, m.column + 1};
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return fmt::format("'{}'", n.Scalar());
    default:
      return "nothing";
  }
}

std::string parent_path(const std::string& path) {
  size_t cut = path.find_last_of(".[");
  return cut == std::string::npos ? std::string() : path.substr(0, cut);
}

}  // namespace

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum &&
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  }
  return true;
}

bool key_set::has(std::string_view key) const {
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}

reader::reader(std::string file, std::filesystem::path base_dir, env_lookup env)
    : file_(std::move(file)), base_dir_(std::move(base_dir)), env_(std::move(env)) {}

node_ref reader::root(const YAML::Node& node) const {
  auto [line, column] = position(node);
  return {node, "", std::max(line, 1), std::max(column, 1)};
}

// ---------------------------------------------------------------- reporting

void reader::error(const node_ref& at, std::string message) {
  errors_.push_back({{file_, at.line, at.column, at.path}, std::move(message)});
}

void reader::error(const std::string& path, std::string message) {
  errors_.push_back({mark(path), std::move(message)});
}

void reader::warning(const std::string& path, std::string message) {
  warnings_.push_back({mark(path), std::move(message)});
}

void reader::error_at(source_mark where, std::string message) {
  errors_.push_back({std::move(where), std::move(message)});
}

source_mark reader::mark(const std::string& path) const {
  for (std::string p = path;; p = parent_path(p)) {
    auto it = marks_.find(p);
    if (it != marks_.end()) return {file_, it->second.first, it->second.second, path};
    if (p.empty()) return {file_, 0, 0, path};
  }
}

void reader::record(const node_ref& n) {
  marks_.emplace(n.path, std::pair{n.line, n.column});
}

// ---------------------------------------------------------------- structure

node_ref reader::child(const node_ref& parent, const std::string& key, const YAML::Node& key_node,
                       const YAML::Node& value) {
  auto [line, column] = value.IsNull() ? position(key_node) : position(value);
  if (line == 0) std::tie(line, column) = std::pair{parent.line, parent.column};
  node_ref n{value, parent.path.empty() ? key : parent.path + "." + key, line, column};
  record(n);
  return n;
}

bool reader::expect_map(const node_ref& v) {
  if (v.node.IsMap()) return true;
  if (v.node.IsNull())
    error(v, "expected a mapping, got nothing (write {} to take the defaults)");
  else
    error(v, fmt::format("expected a mapping, got {}", describe(v.node)));
  return false;
}

std::optional<std::string> reader::key_text(const node_ref& map, const YAML::Node& key) {
  if (key.IsScalar()) return key.Scalar();
  auto [line, column] = position(key);
  error(node_ref{key, map.path, line, column}, "keys must be plain words");
  return std::nullopt;
}

key_set reader::fields(const node_ref& map, std::initializer_list<field> known) {
  key_set seen;
  if (!expect_map(map)) return seen;
  key_set all;
  for (auto it = map.node.begin(); it != map.node.end(); ++it) {
    auto key = key_text(map, it->first);
    if (!key) continue;
    node_ref value = child(map, *key, it->first, it->second);
    auto [key_line, key_column] = position(it->first);
    node_ref at_key{it->first, value.path, key_line, key_column};
    if (all.has(*key)) {
      error(at_key, "duplicate key");
      continue;
    }
    all.add(*key);
    auto f =
        std::find_if(known.begin(), known.end(), [&](const field& k) { return k.key == *key; });
    if (f == known.end()) {
      std::vector<std::string_view> names;
      for (const auto& k : known) names.push_back(k.key);
      error(at_key, "unknown key" + did_you_mean(*key, names));
      continue;
    }
    seen.add(*key);
    f->read(value);
  }
  return seen;
}

void reader::require(const node_ref& map, const key_set& seen,
                     std::initializer_list<std::string_view> keys) {
  if (!map.node.IsMap()) return;  // already reported
  for (std::string_view k : keys)
    if (!seen.has(k)) {
      node_ref at = map;
      at.path = map.path.empty() ? std::string(k) : map.path + "." + std::string(k);
      error(at, "missing required key");
    }
}

void reader::items(const node_ref& seq, const read_fn& fn) {
  if (!seq.node.IsSequence()) {
    error(seq, fmt::format("expected a list, got {}", describe(seq.node)));
    return;
  }
  for (size_t i = 0; i < seq.node.size(); ++i) {
    YAML::Node item = seq.node[i];
    auto [line, column] = position(item);
    if (line == 0 || item.IsNull()) std::tie(line, column) = std::pair{seq.line, seq.column};
    node_ref n{item, fmt::format("{}[{}]", seq.path, i), line, column};
    record(n);
    fn(n);
  }
}

void reader::entries(const node_ref& map,
                     const std::function<void(const std::string&, const node_ref&)>& fn) {
  if (!expect_map(map)) return;
  key_set all;
  for (auto it = map.node.begin(); it != map.node.end(); ++it) {
    auto key = key_text(map, it->first);
    if (!key) continue;
    node_ref value = child(map, *key, it->first, it->second);
    if (all.has(*key)) {
      error(value, "duplicate key");
      continue;
    }
    all.add(*key);
    fn(*key, value);
  }
}

// ---------------------------------------------------------------- scalars

std::optional<std::string> reader::text(const node_ref& v) {
  if (!v.node.IsScalar()) {
    error(v, v.node.IsNull() ? std::string("missing value")
                             : fmt::format("expected a single value, got {}", describe(v.node)));
    return std::nullopt;
  }
  auto expanded = expand_env(v.node.Scalar(), env_);
  if (!expanded) {
    error(v, expanded.error);
    return std::nullopt;
  }
  return std::move(expanded.value);
}

void reader::read(const node_ref& v, std::string& out) {
  if (auto t = text(v)) out = std::move(*t);
}

void reader::read(const node_ref& v, bool& out) {
  auto t = text(v);
  if (!t) return;
  auto b = parse_bool(*t);
  if (b)
    out = *b.value;
  else
    error(v, b.error);
}

std::optional<uint64_t> reader::number(const node_ref& v, uint64_t min, uint64_t max) {
  auto t = text(v);
  if (!t) return std::nullopt;
  auto n = parse_uint(*t);
  if (!n) {
    error(v, n.error);
    return std::nullopt;
  }
  if (*n.value < min || *n.value > max) {
    error(v, fmt::format("{} is out of range {}..{}", *n.value, min, max));
    return std::nullopt;
  }
  return n.value;
}

void reader::read(const node_ref& v, uint64_t& out, uint64_t min, uint64_t max) {
  if (auto n = number(v, min, max)) out = *n;
}

void reader::read(const node_ref& v, uint32_t& out, uint32_t min, uint32_t max) {
  if (auto n = number(v, min, max)) out = static_cast<uint32_t>(*n);
}

void reader::read(const node_ref& v, int& out, int min, int max) {
  if (auto n = number(v, static_cast<uint64_t>(min), static_cast<uint64_t>(max)))
    out = static_cast<int>(*n);
}

void reader::read_above(const node_ref& v, double& out, double min_exclusive) {
  auto t = text(v);
  if (!t) return;
  auto d = parse_decimal(*t);
  if (!d)
    error(v, d.error);
  else if (*d.value <= min_exclusive)
    error(v, fmt::format("must be above {}", min_exclusive));
  else
    out = *d.value;
}

void reader::read_duration(const node_ref& v, duration& out, duration min) {
  auto t = text(v);
  if (!t) return;
  auto d = parse_duration(*t);
  if (!d)
    error(v, d.error);
  else if (*d.value < min)
    error(v, fmt::format("must be at least {}", format_duration(min)));
  else
    out = *d.value;
}

void reader::read_size(const node_ref& v, uint64_t& out, uint64_t min, uint64_t max) {
  auto t = text(v);
  if (!t) return;
  auto s = parse_size(*t);
  if (!s)
    error(v, s.error);
  else if (*s.value < min)
    error(v, fmt::format("must be at least {} bytes", min));
  else if (*s.value > max)
    error(v, fmt::format("must be at most {} bytes", max));
  else
    out = *s.value;
}

void reader::read_percent(const node_ref& v, double& out) {
  auto t = text(v);
  if (!t) return;
  auto p = parse_percent(*t);
  if (p)
    out = *p.value;
  else
    error(v, p.error);
}

void reader::read_list(const node_ref& v, std::vector<std::string>& out) {
  std::vector<std::string> list;
  items(v, [&](const node_ref& item) {
    if (auto t = text(item)) list.push_back(std::move(*t));
  });
  if (v.node.IsSequence()) out = std::move(list);
}

void reader::unknown_value(const node_ref& v, std::string_view value,
                           std::span<const std::string_view> known) {
  error(v, fmt::format("unknown value '{}'; expected one of {}{}", value, fmt::join(known, ", "),
                       did_you_mean(value, known)));
}

// ---------------------------------------------------------------- checked strings

void reader::read_name(const node_ref& v, std::string& out) {
  auto t = text(v);
  if (!t) return;
  bool ok = !t->empty() && std::all_of(t->begin(), t->end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '-' || c == '.';
  });
  if (ok)
    out = std::move(*t);
  else
    error(v, fmt::format("invalid name '{}': use letters, digits, '_', '-' and '.'", *t));
}

std::optional<std::string> reader::header_name(const node_ref& v, std::string_view text) {
  if (!is_token(text)) {
    error(v, fmt::format("invalid header name '{}'", text));
    return std::nullopt;
  }
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

void reader::read_header_name(const node_ref& v, std::string& out) {
  auto t = text(v);
  if (!t) return;
  if (auto name = header_name(v, *t)) out = std::move(*name);
}

void reader::read_address(const node_ref& v, std::string& out, bool host_required) {
  auto t = text(v);
  if (!t) return;
  auto hp = parse_host_port(*t);
  if (!hp)
    error(v, fmt::format("invalid address '{}': expected host:port or [ipv6]:port, port 1..65535",
                         *t));
  else if (host_required && hp->host.empty())
    error(v, fmt::format("invalid address '{}': a host is required", *t));
  else
    out = std::move(*t);
}

void reader::read_url_path(const node_ref& v, std::string& out) {
  auto t = text(v);
  if (!t) return;
  bool ok = t->starts_with('/') && std::none_of(t->begin(), t->end(), [](unsigned char c) {
              return c <= ' ' || c == 0x7f;
            });
  if (ok)
    out = std::move(*t);
  else
    error(v, fmt::format("invalid path '{}': must start with '/' and hold no spaces", *t));
}

std::optional<reader::key_spec> reader::read_key_spec(
    const node_ref& v, std::initializer_list<std::string_view> plain) {
  auto t = text(v);
  if (!t) return std::nullopt;
  for (std::string_view p : plain)
    if (*t == p) return key_spec{*t, ""};
  if (t->starts_with("header:")) {
    auto name = header_name(v, std::string_view(*t).substr(7));
    if (!name) return std::nullopt;
    return key_spec{"header", std::move(*name)};
  }
  if (t->starts_with("jwt:")) {
    std::string claim = t->substr(4);
    bool ok = !claim.empty() && std::none_of(claim.begin(), claim.end(),
                                             [](unsigned char c) { return c <= ' ' || c == 0x7f; });
    if (!ok) {
      error(v, fmt::format("invalid JWT claim name '{}'", claim));
      return std::nullopt;
    }
    return key_spec{"jwt", std::move(claim)};
  }
  std::vector<std::string_view> known(plain);
  known.push_back("header:<name>");
  known.push_back("jwt:<claim>");
  unknown_value(v, *t, known);
  return std::nullopt;
}

std::filesystem::path reader::resolve(const std::string& path) const {
  std::filesystem::path p(path);
  return p.is_absolute() ? p : base_dir_ / p;
}

void reader::read_file_path(const node_ref& v, std::string& out) {
  auto t = text(v);
  if (!t) return;
  if (t->empty()) {
    error(v, "empty file name");
    return;
  }
  std::filesystem::path p = resolve(*t);
  std::error_code ec;
  bool regular = std::filesystem::is_regular_file(p, ec);
  std::ifstream probe(p, std::ios::binary);
  if (!regular || !probe)
    error(v, fmt::format("cannot read file '{}'{}", p.string(), regular ? "" : ": no such file"));
  else
    out = p.string();
}

}  // namespace spillway::config::detail
