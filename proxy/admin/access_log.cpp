#include "proxy/admin/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace spillway::admin {

namespace {

void json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<int>(c));
        else
          out.push_back(c);
    }
  }
  out.push_back('"');
}

void timestamp(std::string& out) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = system_clock::to_time_t(now);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  fmt::format_to(std::back_inserter(out), "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 static_cast<int>(ms));
}

}  // namespace

access_log::access_log(const config::access_log_config& cfg) : cfg_(cfg) {}

access_log::~access_log() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

std::string access_log::reopen() {
  int fd;
  bool owns = false;
  if (cfg_.path == "stdout") {
    fd = STDOUT_FILENO;
  } else if (cfg_.path == "stderr") {
    fd = STDERR_FILENO;
  } else {
    fd = ::open(cfg_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
      return fmt::format("cannot open access log {}: {}", cfg_.path, std::strerror(errno));
    owns = true;
  }
  std::lock_guard lock(mutex_);
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
  fd_ = fd;
  owns_fd_ = owns;
  return {};
}

void access_log::format(std::string& out, const access_record& r) const {
  if (cfg_.format == config::access_log_format::text) {
    timestamp(out);
    fmt::format_to(std::back_inserter(out),
                   " {} {} {} {} {}{} route={} endpoint={} {}ms ttfb={}ms attempts={} in={} out={} "
                   "cache={} affinity={} idempotency={} id={}{}{}\n",
                   r.client, r.method, r.path, r.protocol, r.tls ? "tls " : "", r.status,
                   r.route.empty() ? "-" : r.route, r.endpoint.empty() ? "-" : r.endpoint,
                   r.duration_ms, r.ttfb_ms, r.attempts, r.bytes_in, r.bytes_out,
                   r.cache.empty() ? "-" : r.cache, r.affinity.empty() ? "-" : r.affinity,
                   r.idempotency.empty() ? "-" : r.idempotency, r.request_id,
                   r.error.empty() ? "" : " error=", r.error);
    return;
  }
  out.append("{\"time\":\"");
  timestamp(out);
  out.append("\",\"request_id\":");
  json_string(out, r.request_id);
  out.append(",\"client\":");
  json_string(out, r.client);
  out.append(",\"method\":");
  json_string(out, r.method);
  out.append(",\"path\":");
  json_string(out, r.path);
  out.append(",\"protocol\":");
  json_string(out, r.protocol);
  out.append(r.tls ? ",\"tls\":true" : ",\"tls\":false");
  out.append(",\"route\":");
  json_string(out, r.route);
  out.append(",\"cluster\":");
  json_string(out, r.cluster);
  out.append(",\"endpoint\":");
  json_string(out, r.endpoint);
  fmt::format_to(std::back_inserter(out),
                 ",\"status\":{},\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{:.3f},"
                 "\"ttfb_ms\":{:.3f},\"attempts\":{},\"retries\":{}",
                 r.status, r.bytes_in, r.bytes_out, r.duration_ms, r.ttfb_ms, r.attempts,
                 r.attempts > 0 ? r.attempts - 1 : 0);
  out.append(",\"cache\":");
  json_string(out, r.cache);
  out.append(",\"idempotency\":");
  json_string(out, r.idempotency);
  out.append(",\"affinity\":");
  json_string(out, r.affinity);
  out.append(",\"error\":");
  json_string(out, r.error);
  out.append("}\n");
}

void access_log::write(std::string& buffer) {
  if (buffer.empty()) return;
  std::lock_guard lock(mutex_);
  const char* p = buffer.data();
  size_t left = buffer.size();
  while (left > 0 && fd_ >= 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // a full disk or closed pipe must not stop the data plane; the lines are lost
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer.clear();
}

}  // namespace spillway::admin
