// Entry points of the configuration loader: YAML text → parse → per-section read → cross-check,
// with every error collected and sorted by position. Nothing escapes as an exception.
#include "config/loader.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "config/sections.hpp"

namespace spillway::config {
namespace {

// Files above this are not configuration files (and would only slow the parser down).
constexpr size_t max_file_bytes = 16 * MiB;

// Notes whether a YAML document holds anything besides a null, and where it starts.
class document_probe : public YAML::EventHandler {
 public:
  bool has_content = false;
  YAML::Mark start;

  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { has_content = true; }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {
    has_content = true;
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    has_content = true;
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    has_content = true;
  }
  void OnMapEnd() override {}
};

// Where a second, non-empty document starts, if there is one. Looks at two documents only:
// yaml-cpp 0.7 can report endless empty documents for some malformed input (which is why
// YAML::LoadAll, which collects them all, is not used).
std::optional<YAML::Mark> second_document(std::string_view yaml) {
  std::istringstream in{std::string(yaml)};
  YAML::Parser parser(in);
  document_probe first;
  document_probe second;
  if (!parser.HandleNextDocument(first) || !parser.HandleNextDocument(second)) return std::nullopt;
  if (!second.has_content) return std::nullopt;  // e.g. a trailing "---"
  return second.start;
}

// The first document of `yaml`, or nothing after reporting why there is none.
std::optional<YAML::Node> parse_yaml(detail::reader& r, std::string_view yaml) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (root.IsNull()) {
      r.error_at({r.file(), 1, 1, ""}, "the configuration is empty");
      return std::nullopt;
    }
    if (auto second = second_document(yaml)) {
      r.error_at({r.file(), second->line + 1, 1, ""},
                 "only one YAML document is allowed ('---' starts another)");
      return std::nullopt;
    }
    return root;
  } catch (const YAML::Exception& e) {
    int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    int column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    r.error_at({r.file(), line, column, ""}, "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
}

void sort_by_position(std::vector<config_error>& list) {
  std::stable_sort(list.begin(), list.end(), [](const config_error& a, const config_error& b) {
    return std::pair{a.where.line, a.where.column} < std::pair{b.where.line, b.where.column};
  });
}

load_result load_text(std::string_view yaml, const std::string& file_name,
                      std::filesystem::path base_dir) {
  detail::reader r(file_name, std::move(base_dir), process_environment());
  load_result result;
  try {
    if (auto root = parse_yaml(r, yaml)) {
      auto config = std::make_shared<proxy_config>();
      config->source_file = file_name;
      detail::read_proxy(r, r.root(*root), *config);
      detail::cross_check(r, *config);
      result.config = std::move(config);
    }
  } catch (const std::exception& e) {
    r.error_at({file_name, 0, 0, ""}, fmt::format("internal error while loading: {}", e.what()));
  }
  result.errors = r.take_errors();
  result.warnings = r.take_warnings();
  sort_by_position(result.errors);
  sort_by_position(result.warnings);
  if (!result.errors.empty()) result.config.reset();
  return result;
}

load_result single_error(const std::string& file, std::string message) {
  load_result result;
  result.errors.push_back({{file, 0, 0, ""}, std::move(message)});
  return result;
}

}  // namespace

std::string config_error::to_string() const {
  std::string out = where.file.empty() ? std::string("<config>") : where.file;
  if (where.line > 0) out += fmt::format(":{}:{}", where.line, where.column);
  out += ": ";
  if (!where.key.empty()) out += where.key + ": ";
  return out + message;
}

std::string format_report(const load_result& result) {
  std::string out;
  for (const auto& e : result.errors) out += e.to_string() + "\n";
  for (const auto& w : result.warnings) out += "warning: " + w.to_string() + "\n";
  return out;
}

load_result load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return single_error(path, fmt::format("cannot open: {}", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return single_error(path, "read error");
  if (text.str().size() > max_file_bytes)
    return single_error(
        path, fmt::format("larger than {} bytes; not a configuration file", max_file_bytes));
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return load_text(text.str(), path,
                   ec ? std::filesystem::path(path).parent_path() : absolute.parent_path());
}

load_result load_string(std::string_view yaml, const std::string& file_name) {
  std::error_code ec;
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  return load_text(yaml, file_name, cwd);
}

}  // namespace spillway::config
