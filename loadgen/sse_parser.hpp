// Incremental server-sent events parser (WHATWG HTML §9.2 "event stream interpretation"):
// lines end in CRLF, LF or CR; "data:" lines accumulate (joined by LF); a blank line dispatches
// the event; comments (":") and unknown fields are ignored; one leading space after the colon is
// dropped. Input may be split or joined at any byte, including between CR and LF.
// One parser per response; not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace spillway::loadgen {

class sse_parser {
 public:
  struct event {
    std::string_view name;  // "event:" field, empty for the default "message"
    std::string_view data;
  };

  /// Feeds bytes; calls `on_event(const event&)` for each complete event. Views are valid only
  /// during the call.
  template <class F>
  void feed(std::string_view bytes, F&& on_event) {
    for (size_t i = 0; i < bytes.size();) {
      if (skip_lf_) {
        skip_lf_ = false;
        if (bytes[i] == '\n') {
          ++i;
          continue;
        }
      }
      const size_t end = bytes.find_first_of("\r\n", i);
      if (end == std::string_view::npos) {
        line_.append(bytes.substr(i));
        return;
      }
      std::string_view line = bytes.substr(i, end - i);
      if (!line_.empty()) {
        line_.append(line);
        line = line_;
      }
      skip_lf_ = bytes[end] == '\r';
      i = end + 1;
      if (line.empty()) {
        dispatch(on_event);
      } else {
        process_line(line);
      }
      line_.clear();
    }
  }

  /// Events dispatched so far.
  size_t events() const noexcept { return events_; }

 private:
  void process_line(std::string_view line);

  template <class F>
  void dispatch(F& on_event) {
    if (!has_data_) {
      name_.clear();
      return;
    }
    ++events_;
    on_event(event{name_, data_});
    data_.clear();
    name_.clear();
    has_data_ = false;
  }

  std::string line_;  // partial line carried across feeds
  std::string data_;
  std::string name_;
  bool has_data_ = false;
  bool skip_lf_ = false;
  size_t events_ = 0;
};

}  // namespace spillway::loadgen
