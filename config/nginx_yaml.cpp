#include "config/nginx_yaml.hpp"

#include <fmt/format.h>
#include <algorithm>

namespace spillway::config::nginx {
namespace {

bool plain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '/' || c == ':' || c == '-' || c == '+';
}

bool plain_ok(std::string_view t) {
  if (t.empty() || t == "null" || t == "Null" || t == "NULL") return false;
  if (t.front() == '-' || t.front() == ':' || t.back() == ':') return false;
  return std::all_of(t.begin(), t.end(), plain_char);
}

std::string one_line(std::string_view text) {
  std::string out(text);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return out;
}

class writer {
 public:
  std::string take() { return std::move(out_); }

  void comment_lines(const std::vector<std::string>& lines, int indent) {
    for (const auto& c : lines) {
      if (c.empty())
        out_ += '\n';
      else
        out_ += fmt::format("{:{}}# {}\n", "", indent, one_line(c));
    }
  }

  void end_line(std::string_view comment) {
    if (!comment.empty()) out_ += fmt::format("  # {}", one_line(comment));
    out_ += '\n';
  }

  // The value part of a scalar or flow node (what follows "key: " or "- ").
  static std::string inline_text(const ynode& n) {
    if (n.type == ynode::kind::scalar) return yaml_scalar(n.value);
    std::string out = n.type == ynode::kind::map ? "{" : "[";
    bool first = true;
    for (const auto& [k, v] : n.entries) {
      out += fmt::format("{}{}: {}", first ? "" : ", ", k, inline_text(v));
      first = false;
    }
    for (const auto& v : n.items) {
      out += fmt::format("{}{}", first ? "" : ", ", inline_text(v));
      first = false;
    }
    return out + (n.type == ynode::kind::map ? "}" : "]");
  }

  static bool is_inline(const ynode& n) {
    return n.type == ynode::kind::scalar || n.flow || (n.entries.empty() && n.items.empty());
  }

  // `lead` replaces the indentation of the first entry's line ("- " for a list item).
  void map(const ynode& n, int indent, std::string_view lead = {}) {
    bool first = true;
    for (const auto& [key, value] : n.entries) {
      // A list item's leading comments sit at the dash, above the item they describe.
      const int lead_width = first ? static_cast<int>(lead.size()) : 0;
      comment_lines(value.before, indent - lead_width);
      if (first && !lead.empty())
        out_ += fmt::format("{:{}}{}", "", indent - static_cast<int>(lead.size()), lead);
      else
        out_ += fmt::format("{:{}}", "", indent);
      first = false;
      node_after_key(key, value, indent);
    }
  }

  void node_after_key(const std::string& key, const ynode& value, int indent) {
    if (is_inline(value)) {
      out_ += fmt::format("{}: {}", key, inline_text(value));
      end_line(value.comment);
      return;
    }
    out_ += key + ":";
    end_line(value.comment);
    if (value.type == ynode::kind::map)
      map(value, indent + 2);
    else
      seq(value, indent + 2);
  }

  void seq(const ynode& n, int indent) {
    for (const auto& item : n.items) {
      comment_lines(item.before, indent);
      if (is_inline(item)) {
        out_ += fmt::format("{:{}}- {}", "", indent, inline_text(item));
        end_line(item.comment);
      } else if (item.type == ynode::kind::map) {
        if (!item.comment.empty()) comment_lines({item.comment}, indent);
        map(item, indent + 2, "- ");
      } else {
        out_ += fmt::format("{:{}}-", "", indent);
        end_line(item.comment);
        seq(item, indent + 2);
      }
    }
  }

 private:
  std::string out_;
};

}  // namespace

ynode ynode::scalar(std::string v, std::string comment) {
  ynode n;
  n.value = std::move(v);
  n.comment = std::move(comment);
  return n;
}

ynode ynode::map(bool flow) {
  ynode n;
  n.type = kind::map;
  n.flow = flow;
  return n;
}

ynode ynode::seq(bool flow) {
  ynode n;
  n.type = kind::seq;
  n.flow = flow;
  return n;
}

ynode& ynode::add(std::string key, ynode value) {
  entries.emplace_back(std::move(key), std::move(value));
  return entries.back().second;
}

ynode& ynode::add(std::string key, std::string value, std::string comment) {
  return add(std::move(key), scalar(std::move(value), std::move(comment)));
}

ynode& ynode::push(ynode value) {
  items.push_back(std::move(value));
  return items.back();
}

std::string yaml_scalar(std::string_view text) {
  if (plain_ok(text)) return std::string(text);
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else if (c == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      out += "$$";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string write_yaml(const ynode& root, const std::vector<std::string>& header) {
  writer w;
  w.comment_lines(header, 0);
  w.map(root, 0);
  return w.take();
}

}  // namespace spillway::config::nginx
