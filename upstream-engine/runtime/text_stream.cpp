#include "upstream-engine/runtime/text_stream.hpp"

#include <algorithm>

namespace spillway::engine::runtime {
namespace {

// Expected length of the character a byte starts; 0 for a byte that cannot start one.
size_t lead_length(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

// Length of the valid character at s[i], or 0 if the bytes there are invalid or cut short.
size_t valid_char(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const size_t n = lead_length(c);
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  const unsigned char c1 = n > 1 ? static_cast<unsigned char>(s[i + 1]) : 0;
  if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
  if (c == 0xED && c1 >= 0xA0) return 0;  // surrogate
  if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
  if (c == 0xF4 && c1 >= 0x90) return 0;  // above U+10FFFF
  return n;
}

}  // namespace

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (const size_t n = valid_char(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

size_t utf8_complete_prefix(std::string_view s) {
  // Look back at most 3 bytes for the lead byte of a possibly unfinished character.
  for (size_t back = 1; back <= std::min<size_t>(3, s.size()); ++back) {
    const unsigned char c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    const size_t n = lead_length(c);
    return n > back ? s.size() - back : s.size();
  }
  return s.size();
}

text_stream::text_stream(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string text_stream::push(std::string_view piece, bool& stopped) {
  stopped = false;
  pending_.append(piece);
  size_t first = std::string::npos;
  for (const std::string& stop : stops_) first = std::min(first, pending_.find(stop));
  if (first != std::string::npos) {
    stopped = true;
    std::string out = sanitize_utf8(std::string_view(pending_).substr(0, first));
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& stop : stops_) {
    for (size_t len = std::min(stop.size() - 1, pending_.size()); len > hold; --len) {
      if (std::string_view(pending_).substr(pending_.size() - len) ==
          std::string_view(stop).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  const size_t emit =
      utf8_complete_prefix(std::string_view(pending_).substr(0, pending_.size() - hold));
  std::string out = sanitize_utf8(std::string_view(pending_).substr(0, emit));
  pending_.erase(0, emit);
  return out;
}

std::string text_stream::flush() {
  std::string out = sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace spillway::engine::runtime
