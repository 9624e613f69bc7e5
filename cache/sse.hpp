// Server-sent events (WHATWG HTML §9.2 "event stream interpretation"), reduced to what the
// cache keeps: the `data` of each event. Lines end with CRLF, LF or CR; `data:` lines of one
// event are joined with LF; comments and other fields (event, id, retry) are dropped; an event
// without data is not dispatched; an unfinished event at the end of the stream is discarded.
//
// sse_parser is fed the body as it arrives, in pieces of any size. Not thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace spillway::cache {

class sse_parser {
 public:
  /// Appends the data of every event completed by `bytes` to `events`.
  void feed(std::string_view bytes, std::vector<std::string>& events);
  /// Bytes held for an unfinished line or event.
  size_t pending_bytes() const noexcept { return line_.size() + data_.size(); }

 private:
  void on_line(std::vector<std::string>& events);

  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool after_cr_ = false;  // last byte was CR: a following LF belongs to the same line end
};

/// Appends one event carrying `data` ("data: x\n\n"; a multi-line payload as several lines).
void append_sse_event(std::string& out, std::string_view data);
std::string format_sse_event(std::string_view data);

}  // namespace spillway::cache
