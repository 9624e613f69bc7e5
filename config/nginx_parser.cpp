#include "config/nginx_parser.hpp"

#include <fmt/format.h>

namespace spillway::config::nginx {
namespace {

// Deeper nesting than this is not a real configuration; the limit keeps recursion bounded.
constexpr int max_depth = 64;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum class token_kind { word, semicolon, open, close, end, error };

struct token {
  token_kind kind = token_kind::end;
  std::string value;  // the word, or the error message
  int line = 0;
};

class tokenizer {
 public:
  explicit tokenizer(std::string_view text) : text_(text) {}

  token next() {
    skip_blank();
    if (pos_ >= text_.size()) return {token_kind::end, {}, line_};
    const int line = line_;
    const char c = text_[pos_];
    if (c == ';' || c == '{' || c == '}') {
      ++pos_;
      return {c == ';'   ? token_kind::semicolon
              : c == '{' ? token_kind::open
                         : token_kind::close,
              {},
              line};
    }
    if (c == '"' || c == '\'') return quoted(c, line);
    return word(line);
  }

 private:
  void skip_blank() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') ++line_;
      if (is_space(c)) {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  // Appends the character after a backslash at pos_ (which points at the backslash) and
  // advances past both: \" \' \\ lose the backslash, \t \r \n become control characters, any
  // other pair is kept as written (regular expressions rely on it).
  void escape(std::string& out) {
    char n = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
    if (n == '"' || n == '\'' || n == '\\') {
      out += n;
    } else if (n == 't' || n == 'r' || n == 'n') {
      out += n == 't' ? '\t' : n == 'r' ? '\r' : '\n';
    } else {
      out += '\\';
      if (pos_ + 1 >= text_.size()) {
        ++pos_;
        return;
      }
      if (n == '\n') ++line_;
      out += n;
    }
    pos_ += 2;
  }

  token quoted(char quote, int line) {
    std::string out;
    ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') {
        escape(out);
        continue;
      }
      if (text_[pos_] == '\n') ++line_;
      out += text_[pos_++];
    }
    if (pos_ >= text_.size())
      return {token_kind::error,
              fmt::format("unterminated quoted string (opened on line {})", line), line};
    ++pos_;
    if (pos_ < text_.size()) {
      char c = text_[pos_];
      if (!is_space(c) && c != ';' && c != '{' && c != ')')
        return {token_kind::error, fmt::format("unexpected '{}' after a quoted string", c), line_};
    }
    return {token_kind::word, std::move(out), line};
  }

  // A bare word ends at whitespace, ';' or '{' (except the '{' of "${").
  token word(int line) {
    std::string out;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\\') {
        escape(out);
        continue;
      }
      if (is_space(c) || c == ';') break;
      if (c == '{' && !(!out.empty() && out.back() == '$')) break;
      out += c;
      ++pos_;
    }
    return {token_kind::word, std::move(out), line};
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

class parser {
 public:
  parser(std::string_view text, const std::string& file) : tokens_(text), file_(file) {}

  parse_result run() {
    parse_result result;
    block(result.directives, 0, 0);
    result.error = std::move(error_);
    if (!result.ok()) result.directives.clear();
    return result;
  }

 private:
  void fail(int line, std::string_view message) {
    if (error_.empty()) error_ = fmt::format("{}:{}: {}", file_, line, message);
  }

  static directive make(std::vector<std::string>& words, int line) {
    directive d;
    d.name = std::move(words.front());
    d.args.assign(std::make_move_iterator(words.begin() + 1), std::make_move_iterator(words.end()));
    d.line = line;
    words.clear();
    return d;
  }

  // Reads directives until the '}' closing a block opened on `open_line` (depth > 0) or the
  // end of the text (depth 0). Returns false after an error.
  bool block(std::vector<directive>& out, int depth, int open_line) {
    std::vector<std::string> words;
    int first_line = 0;
    for (;;) {
      token t = tokens_.next();
      switch (t.kind) {
        case token_kind::word:
          if (words.empty()) first_line = t.line;
          words.push_back(std::move(t.value));
          break;
        case token_kind::semicolon:
          if (words.empty()) return fail(t.line, "unexpected ';'"), false;
          out.push_back(make(words, first_line));
          break;
        case token_kind::open: {
          if (words.empty()) return fail(t.line, "unexpected '{'"), false;
          if (depth + 1 > max_depth) return fail(t.line, "blocks nested too deeply"), false;
          directive d = make(words, first_line);
          d.has_block = true;
          if (!block(d.block, depth + 1, t.line)) return false;
          out.push_back(std::move(d));
          break;
        }
        case token_kind::close:
          if (!words.empty())
            return fail(t.line, fmt::format("unexpected '}}' (is the ';' after '{}' missing?)",
                                            words.back())),
                   false;
          if (depth == 0) return fail(t.line, "unexpected '}'"), false;
          return true;
        case token_kind::end:
          if (!words.empty())
            return fail(first_line, fmt::format("unexpected end of file, expecting ';' or '}}' "
                                                "after '{}'",
                                                words.front())),
                   false;
          if (depth > 0)
            return fail(t.line, fmt::format("unexpected end of file, expecting '}}' to close "
                                            "the block opened on line {}",
                                            open_line)),
                   false;
          return true;
        case token_kind::error:
          return fail(t.line, t.value), false;
      }
    }
  }

  tokenizer tokens_;
  const std::string& file_;
  std::string error_;
};

}  // namespace

std::string directive::text() const {
  std::string out = name;
  for (const auto& a : args) {
    out += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t\r\n;{}#\"'") == std::string::npos;
    out += plain ? a : fmt::format("\"{}\"", a);
  }
  return out;
}

parse_result parse(std::string_view text, const std::string& file_name) {
  return parser(text, file_name).run();
}

}  // namespace spillway::config::nginx
