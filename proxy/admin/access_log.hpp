// Access log: one line per request (JSON by default), to stdout, stderr or a file that is
// reopened on SIGUSR1 for log rotation.
//
// Threading: each worker formats lines into its own buffer (no lock per request) and hands the
// buffer to write() when it grows past a threshold or on the worker's tick; write() holds a
// mutex so lines from different workers never interleave and reopen() can swap the file.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace spillway::admin {

struct access_record {
  std::string_view request_id, method, path, route, cluster, endpoint, client, cache, affinity;
  std::string_view idempotency;  // replayed, waited, stored, not_stored, conflict; "" if none
  std::string_view protocol = "HTTP/1.1";  // the client's: HTTP/1.0, HTTP/1.1, HTTP/2
  bool tls = false;
  int status = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  double duration_ms = 0, ttfb_ms = -1;
  uint32_t attempts = 0;
  std::string_view error;  // why the proxy answered itself, empty otherwise
};

class access_log {
 public:
  explicit access_log(const config::access_log_config& cfg);
  ~access_log();
  access_log(const access_log&) = delete;
  access_log& operator=(const access_log&) = delete;

  /// Opens (or reopens, after rotation) the destination. Returns an error message or "".
  std::string reopen();

  /// Appends one formatted line for `r` to `buffer` (the caller's per-worker buffer).
  void format(std::string& buffer, const access_record& r) const;

  /// Writes `buffer` out whole and clears it. Any thread.
  void write(std::string& buffer);

 private:
  config::access_log_config cfg_;
  std::mutex mutex_;
  int fd_ = -1;
  bool owns_fd_ = false;
};

}  // namespace spillway::admin
