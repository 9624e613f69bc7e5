// Writes a message head into a std::string through a raw pointer: one size reservation up front
// (the caller passes an upper bound) instead of a capacity check and an out-of-line call per
// piece. Heads are built once per message on the hot path.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace spillway::http1 {

class head_writer {
 public:
  head_writer(std::string& out, size_t max_bytes) : out_(out) {
    const size_t base = out_.size();
    out_.resize(base + max_bytes);
    p_ = out_.data() + base;
  }
  ~head_writer() { out_.resize(static_cast<size_t>(p_ - out_.data())); }
  head_writer(const head_writer&) = delete;
  head_writer& operator=(const head_writer&) = delete;

  head_writer& put(std::string_view s) noexcept {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
    return *this;
  }
  head_writer& put(char c) noexcept {
    *p_++ = c;
    return *this;
  }
  head_writer& number(uint64_t v) noexcept {
    char buf[20];
    int n = 0;
    do {
      buf[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p_++ = buf[--n];
    return *this;
  }
  /// "name: value\r\n"
  head_writer& field(std::string_view name, std::string_view value) noexcept {
    put(name);
    *p_++ = ':';
    *p_++ = ' ';
    put(value);
    *p_++ = '\r';
    *p_++ = '\n';
    return *this;
  }

 private:
  std::string& out_;
  char* p_;
};

}  // namespace spillway::http1
