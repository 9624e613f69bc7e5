// Reads nginx configuration syntax into a tree of directives, for `spillway import-nginx`.
// Follows the tokenizer rules of nginx's ngx_conf_read_token: words separated by whitespace,
// ';' ends a simple directive, '{' ... '}' holds a block, '#' at the start of a token comments
// to the end of the line, "..." and '...' quote (with \" \' \\ \t \r \n escapes), a backslash
// escapes the next character in a bare word, and "${" does not open a block. `include` is not
// followed. Parsing stops at the first syntax error, as nginx does.
// Pure function, no I/O; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace spillway::config::nginx {

struct directive {
  std::string name;
  std::vector<std::string> args;
  int line = 0;  // 1-based line of the directive's name
  bool has_block = false;
  std::vector<directive> block;

  /// "name arg1 arg2", for messages and YAML comments.
  std::string text() const;
};

struct parse_result {
  std::vector<directive> directives;  // the main context
  std::string error;                  // "file:line: message"; empty when the text parsed
  bool ok() const { return error.empty(); }
};

/// Parses `text`; `file_name` prefixes the error message.
parse_result parse(std::string_view text, const std::string& file_name);

}  // namespace spillway::config::nginx
