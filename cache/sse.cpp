#include "cache/sse.hpp"

namespace spillway::cache {

void sse_parser::feed(std::string_view bytes, std::vector<std::string>& events) {
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      on_line(events);
      line_.clear();
    } else {
      line_.push_back(c);
    }
  }
}

void sse_parser::on_line(std::vector<std::string>& events) {
  if (line_.empty()) {  // blank line: dispatch
    if (has_data_) events.push_back(std::move(data_));
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line_[0] == ':') return;  // comment
  std::string_view l = line_;
  auto colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = l.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field != "data") return;
  if (has_data_) data_.push_back('\n');
  data_.append(value);
  has_data_ = true;
}

void append_sse_event(std::string& out, std::string_view data) {
  for (;;) {
    auto nl = data.find('\n');
    out.append("data: ").append(data.substr(0, nl)).push_back('\n');
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
  out.push_back('\n');
}

std::string format_sse_event(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 8);
  append_sse_event(out, data);
  return out;
}

}  // namespace spillway::cache
