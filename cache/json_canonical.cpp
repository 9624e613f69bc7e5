#include "cache/json_canonical.hpp"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>

namespace spillway::cache {
namespace {

namespace json = boost::json;

// Builds a json_node tree; keeps the source text of numbers.
class tree_builder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  json_node root;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }

  bool on_array_begin(json::error_code&) { return open(json_node::type::array); }
  bool on_array_end(std::size_t, json::error_code&) { return close(); }
  bool on_object_begin(json::error_code&) { return open(json_node::type::object); }
  bool on_object_end(std::size_t, json::error_code&) { return close(); }

  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return scalar(json_node::type::string, take_part());
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    stack_.back().key = take_part();
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t, json::string_view s, json::error_code&) { return number(s); }
  bool on_uint64(uint64_t, json::string_view s, json::error_code&) { return number(s); }
  bool on_double(double, json::string_view s, json::error_code&) { return number(s); }
  bool on_bool(bool b, json::error_code&) {
    return scalar(json_node::type::boolean, b ? "true" : "false");
  }
  bool on_null(json::error_code&) { return scalar(json_node::type::null, {}); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct frame {
    json_node node;
    std::string key;  // object frames: the key of the member being parsed
  };

  std::string take_part() {
    std::string s = std::move(part_);
    part_.clear();
    return s;
  }
  bool number(json::string_view last) {
    part_.append(last.data(), last.size());
    std::string lit = take_part();
    return scalar(json_node::type::number, canonical_number(lit));
  }
  bool scalar(json_node::type t, std::string text) {
    json_node n;
    n.t = t;
    n.text = std::move(text);
    add(std::move(n));
    return true;
  }
  bool open(json_node::type t) {
    stack_.emplace_back();
    stack_.back().node.t = t;
    return true;
  }
  bool close() {
    json_node n = std::move(stack_.back().node);
    stack_.pop_back();
    if (n.t == json_node::type::object) dedupe(n.members);
    add(std::move(n));
    return true;
  }
  void add(json_node n) {
    if (stack_.empty()) {
      root = std::move(n);
      return;
    }
    frame& top = stack_.back();
    if (top.node.t == json_node::type::array)
      top.node.items.push_back(std::move(n));
    else
      top.node.members.emplace_back(std::move(top.key), std::move(n));
  }
  // Sorts by key; of equal keys the last one parsed stays.
  static void dedupe(std::vector<std::pair<std::string, json_node>>& m) {
    std::stable_sort(m.begin(), m.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t out = 0;
    for (size_t i = 0; i < m.size(); ++i) {
      if (i + 1 < m.size() && m[i + 1].first == m[i].first) continue;
      if (out != i) m[out] = std::move(m[i]);
      ++out;
    }
    m.resize(out);
  }

  std::vector<frame> stack_;
  std::string part_;
};

void append_string(std::string_view s, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the pending run of bytes copied as they are
  for (size_t i = 0; i < s.size(); ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    if (u == '"' || u == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(u));
    } else {
      out.append("\\u00");
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

}  // namespace

const json_node* json_node::find(std::string_view key) const noexcept {
  if (t != type::object) return nullptr;
  auto it = std::lower_bound(members.begin(), members.end(), key,
                             [](const auto& m, std::string_view k) { return m.first < k; });
  return it != members.end() && it->first == key ? &it->second : nullptr;
}

json_node parse_canonical(std::string_view text, boost::system::error_code& ec) {
  json::parse_options opt;
  opt.max_depth = 64;
  json::basic_parser<tree_builder> p(opt);
  ec = {};
  size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (!ec && n != text.size()) ec = json::error::extra_data;
  if (ec) return {};
  return std::move(p.handler().root);
}

void append_canonical(const json_node& n, std::string& out) {
  switch (n.t) {
    case json_node::type::null:
      out.append("null");
      break;
    case json_node::type::boolean:
    case json_node::type::number:
      out.append(n.text);
      break;
    case json_node::type::string:
      append_string(n.text, out);
      break;
    case json_node::type::array:
      out.push_back('[');
      for (size_t i = 0; i < n.items.size(); ++i) {
        if (i) out.push_back(',');
        append_canonical(n.items[i], out);
      }
      out.push_back(']');
      break;
    case json_node::type::object:
      out.push_back('{');
      for (size_t i = 0; i < n.members.size(); ++i) {
        if (i) out.push_back(',');
        append_string(n.members[i].first, out);
        out.push_back(':');
        append_canonical(n.members[i].second, out);
      }
      out.push_back('}');
      break;
  }
}

std::string to_canonical(const json_node& n) {
  std::string out;
  append_canonical(n, out);
  return out;
}

std::string canonical_number(std::string_view lit) {
  size_t i = 0;
  bool negative = false;
  if (i < lit.size() && lit[i] == '-') {
    negative = true;
    ++i;
  }
  std::string digits;
  int64_t exp10 = 0;
  for (; i < lit.size() && lit[i] >= '0' && lit[i] <= '9'; ++i) digits.push_back(lit[i]);
  if (i < lit.size() && lit[i] == '.') {
    for (++i; i < lit.size() && lit[i] >= '0' && lit[i] <= '9'; ++i) {
      digits.push_back(lit[i]);
      --exp10;
    }
  }
  if (i < lit.size() && (lit[i] == 'e' || lit[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < lit.size() && (lit[i] == '+' || lit[i] == '-')) eneg = lit[i++] == '-';
    int64_t e = 0;
    for (; i < lit.size() && lit[i] >= '0' && lit[i] <= '9'; ++i)
      e = std::min<int64_t>(e * 10 + (lit[i] - '0'), int64_t{1} << 40);  // saturate
    exp10 += eneg ? -e : e;
  }
  // Value = digits * 10^exp10; strip leading and trailing zeros to get the unique form.
  size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) return "0";  // every zero, -0 included
  digits.erase(0, lead);
  size_t last = digits.find_last_not_of('0');
  exp10 += static_cast<int64_t>(digits.size() - 1 - last);
  digits.resize(last + 1);

  std::string out = negative ? "-" : "";
  const auto n = static_cast<int64_t>(digits.size());
  if (exp10 >= 0 && n + exp10 <= 21) {
    out += digits;
    out.append(static_cast<size_t>(exp10), '0');
  } else if (exp10 < 0 && -exp10 < n) {
    out.append(digits, 0, static_cast<size_t>(n + exp10));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(n + exp10));
  } else if (exp10 < 0 && -exp10 - n <= 6) {
    out.append("0.");
    out.append(static_cast<size_t>(-exp10 - n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (n > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.append(std::to_string(exp10 + n - 1));
  }
  return out;
}

}  // namespace spillway::cache
