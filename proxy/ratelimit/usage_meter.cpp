#include "proxy/ratelimit/usage_meter.hpp"

#include <algorithm>

namespace spillway::ratelimit {

namespace {
constexpr std::string_view event_marker = "data:";
constexpr std::string_view done_marker = "data: [DONE]";
}  // namespace

void usage_meter::reset() {
  tail_.clear();
  events_ = 0;
  done_seen_ = false;
}

void usage_meter::feed(std::string_view bytes) {
  // Markers split across two feeds are found in the seam: the end of the old tail plus the new
  // bytes. A match counts only when it ends past the seam (it was not seen by an earlier feed).
  const size_t keep = std::min(tail_.size(), done_marker.size() - 1);
  const size_t seam_start = tail_.size() - keep;
  tail_.append(bytes);
  std::string_view scan(tail_);
  scan.remove_prefix(seam_start);
  for (size_t at = scan.find(event_marker); at != std::string_view::npos;
       at = scan.find(event_marker, at + 1))
    if (at + event_marker.size() > keep) ++events_;
  for (size_t at = scan.find(done_marker); at != std::string_view::npos;
       at = scan.find(done_marker, at + 1))
    if (at + done_marker.size() > keep) done_seen_ = true;
  if (tail_.size() > tail_bytes) tail_.erase(0, tail_.size() - tail_bytes);
}

uint64_t usage_meter::tokens() const {
  const int64_t total = last_json_integer(tail_, "total_tokens");
  if (total >= 0) return static_cast<uint64_t>(total);
  const int64_t prompt = last_json_integer(tail_, "prompt_tokens");
  const int64_t completion = last_json_integer(tail_, "completion_tokens");
  if (prompt >= 0 || completion >= 0)
    return static_cast<uint64_t>((prompt > 0 ? prompt : 0) + (completion > 0 ? completion : 0));
  const uint64_t counted = events_ - (done_seen_ && events_ > 0 ? 1 : 0);
  return counted;
}

int64_t last_json_integer(std::string_view text, std::string_view name) {
  std::string quoted;
  quoted.reserve(name.size() + 2);
  quoted.push_back('"');
  quoted.append(name);
  quoted.push_back('"');
  for (size_t at = text.rfind(quoted); at != std::string_view::npos;
       at = at == 0 ? std::string_view::npos : text.rfind(quoted, at - 1)) {
    size_t i = at + quoted.size();
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    int64_t v = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 18) {
      v = v * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits > 0) return v;
  }
  return -1;
}

}  // namespace spillway::ratelimit
