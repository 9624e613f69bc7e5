// Test helper: a blocking HTTP/1.1 client on plain POSIX sockets with deadlines, that decodes
// Content-Length and chunked bodies itself (so the tests check the server's framing byte by byte).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace spillway::engine::test {

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool chunked = false;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class http_client {
 public:
  explicit http_client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~http_client() { close(); }
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send_raw(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  bool send(const std::string& method, const std::string& path, const std::string& body = {},
            const std::string& extra_headers = {}) {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers;
    if (!body.empty() || method == "POST")
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    req += "\r\n" + body;
    return send_raw(req);
  }

  /// Reads the status line and headers.
  bool read_head(http_response& r, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::string line;
    if (!read_line(line, limit)) return false;
    if (line.size() < 12 || line.compare(0, 9, "HTTP/1.1 ") != 0) return false;
    r.status = std::stoi(line.substr(9, 3));
    for (;;) {
      if (!read_line(line, limit)) return false;
      if (line.empty()) break;
      const size_t colon = line.find(':');
      if (colon == std::string::npos) return false;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[name] = value;
    }
    r.chunked = r.header("transfer-encoding") == "chunked";
    return true;
  }

  /// Reads one chunk of a chunked body; false on a framing error or timeout. An empty `data`
  /// with true means the last chunk.
  bool read_chunk(std::string& data, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::string line;
    if (!read_line(line, limit)) return false;
    size_t size = 0;
    try {
      size = std::stoul(line, nullptr, 16);
    } catch (...) {
      return false;
    }
    if (!read_exact(size, data, limit)) return false;
    std::string crlf;
    if (!read_exact(2, crlf, limit) || crlf != "\r\n") return false;
    return true;
  }

  std::optional<http_response> read_response(
      std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    http_response r;
    if (!read_head(r, limit)) return std::nullopt;
    if (r.chunked) {
      for (;;) {
        std::string data;
        if (!read_chunk(data, limit)) return std::nullopt;
        if (data.empty()) break;
        r.body += data;
      }
    } else {
      const std::string cl = r.header("content-length");
      if (!cl.empty() && !read_exact(std::stoul(cl), r.body, limit)) return std::nullopt;
    }
    return r;
  }

  std::optional<http_response> request(const std::string& method, const std::string& path,
                                       const std::string& body = {},
                                       const std::string& extra = {}) {
    if (!send(method, path, body, extra)) return std::nullopt;
    return read_response();
  }

  /// True if the peer sends nothing (and does not close) within `quiet`.
  bool silent_for(std::chrono::milliseconds quiet) {
    if (!buf_.empty()) return false;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(quiet.count())) == 0;
  }

 private:
  bool fill(std::chrono::milliseconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char tmp[4096];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  bool read_line(std::string& line, std::chrono::milliseconds limit) {
    for (;;) {
      const size_t eol = buf_.find("\r\n");
      if (eol != std::string::npos) {
        line = buf_.substr(0, eol);
        buf_.erase(0, eol + 2);
        return true;
      }
      if (!fill(limit)) return false;
    }
  }
  bool read_exact(size_t n, std::string& out, std::chrono::milliseconds limit) {
    while (buf_.size() < n)
      if (!fill(limit)) return false;
    out = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

/// The `data:` payloads of an SSE body, in order; false if the framing is wrong.
inline bool split_sse(const std::string& body, std::vector<std::string>& events) {
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) return false;
    const std::string ev = body.substr(pos, end - pos);
    if (ev.compare(0, 6, "data: ") != 0) return false;
    events.push_back(ev.substr(6));
    pos = end + 2;
  }
  return true;
}

}  // namespace spillway::engine::test
