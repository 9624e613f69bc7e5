// Open-loop HTTP/1.1 client for fixed-rate latency runs.
//
// Requests fall due at evenly spaced times (wrk2's constant-throughput model). Each due request
// goes to the longest-idle keep-alive connection, or waits until one is free. Latency runs from
// the due time, so a server that stalls is charged for every request it delayed (no coordinated
// omission). Single thread, epoll with nanosecond timeouts (epoll_pwait2).
//
// usage: openloop PORT RATE CONNECTIONS SECONDS WARMUP_SECONDS
// Prints one line of key=value pairs; latencies in microseconds, counted for requests due after
// the warm-up. late = requests sent more than 1 ms after their due time.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ns_t = std::int64_t;
constexpr ns_t ns_per_s = 1'000'000'000;
constexpr ns_t late_after = 1'000'000;
constexpr std::size_t buffer_size = 16384;

ns_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * ns_per_s + ts.tv_nsec;
}

struct connection {
  int fd = -1;
  bool busy = false;
  ns_t due = 0;
  std::size_t len = 0;
  char buf[buffer_size];
};

int open_connection(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Returns the length of the complete response at the start of buf, 0 if more bytes are needed,
// -1 if it cannot be parsed (only Content-Length bodies are expected from the bench upstream).
long response_length(std::string_view buf, bool& ok) {
  auto head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return buf.size() >= buffer_size ? -1 : 0;
  std::string_view head = buf.substr(0, head_end);
  ok = head.substr(0, 12) == "HTTP/1.1 200";
  long body = -1;
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    std::size_t next = head.find("\r\n", pos + 2);
    std::string_view line =
        head.substr(pos + 2, next == std::string_view::npos ? head.npos : next - pos - 2);
    constexpr std::string_view name = "content-length:";
    if (line.size() > name.size() &&
        std::equal(name.begin(), name.end(), line.begin(),
                   [](char a, char b) { return a == (b | 0x20) || a == b; }))
      body = std::strtol(std::string(line.substr(name.size())).c_str(), nullptr, 10);
    pos = next;
  }
  if (body < 0) return -1;
  long total = static_cast<long>(head_end) + 4 + body;
  return static_cast<long>(buf.size()) >= total ? total : 0;
}

ns_t percentile(const std::vector<ns_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.5);
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PORT RATE CONNECTIONS SECONDS WARMUP_SECONDS\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const double rate = std::atof(argv[2]);
  const int conns = std::atoi(argv[3]);
  const double seconds = std::atof(argv[4]);
  const double warmup = std::atof(argv[5]);
  if (port <= 0 || rate <= 0 || conns <= 0 || seconds <= 0 || warmup < 0) return 2;
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  const std::string request =
      "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
  int ep = epoll_create1(0);
  std::vector<connection> pool(static_cast<std::size_t>(conns));
  std::deque<std::size_t> idle;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    pool[i].fd = open_connection(port);
    if (pool[i].fd < 0) {
      std::fprintf(stderr, "connect failed: %s\n", std::strerror(errno));
      return 1;
    }
    epoll_event ev{EPOLLIN, {.u64 = i}};
    epoll_ctl(ep, EPOLL_CTL_ADD, pool[i].fd, &ev);
    idle.push_back(i);
  }

  const ns_t t0 = now_ns();
  const ns_t measure_from = t0 + static_cast<ns_t>(warmup * ns_per_s);
  const ns_t end_due = measure_from + static_cast<ns_t>(seconds * ns_per_s);
  const ns_t hard_stop = end_due + 5 * ns_per_s;
  std::vector<ns_t> lat;
  lat.reserve(static_cast<std::size_t>(rate * seconds * 1.05) + 16);
  std::deque<ns_t> pending;
  std::uint64_t k = 0, due_count = 0, sent = 0, done = 0, errors = 0, late = 0;
  ns_t next_due = t0, max_lag = 0;
  epoll_event events[64];

  for (;;) {
    ns_t now = now_ns();
    while (next_due <= now && next_due < end_due) {
      pending.push_back(next_due);
      ++k;
      next_due = t0 + static_cast<ns_t>(static_cast<double>(k) * ns_per_s / rate);
    }
    while (!pending.empty() && !idle.empty()) {
      connection& c = pool[idle.front()];
      idle.pop_front();
      c.due = pending.front();
      pending.pop_front();
      if (c.due >= measure_from) ++due_count;
      ns_t lag = now - c.due;
      max_lag = std::max(max_lag, lag);
      late += lag > late_after;
      c.busy = true;
      c.len = 0;
      if (send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
        ++errors;
        c.busy = false;
        continue;  // the read side sees the failure and reconnects
      }
      ++sent;
    }
    bool outstanding =
        std::any_of(pool.begin(), pool.end(), [](const connection& c) { return c.busy; });
    if (next_due >= end_due && pending.empty() && !outstanding) break;
    if (now > hard_stop) {
      for (auto& c : pool) errors += c.busy;
      errors += pending.size();
      break;
    }
    ns_t wait = next_due < end_due ? std::max<ns_t>(0, next_due - now) : 100'000'000;
    timespec ts{wait / ns_per_s, wait % ns_per_s};
    int n = epoll_pwait2(ep, events, 64, &ts, nullptr);
    if (n < 0 && errno != EINTR) {
      std::perror("epoll_pwait2");
      return 1;
    }
    for (int e = 0; e < n; ++e) {
      std::size_t i = events[e].data.u64;
      connection& c = pool[i];
      ssize_t got = recv(c.fd, c.buf + c.len, buffer_size - c.len, 0);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      bool ok = false;
      long whole = 0;
      if (got > 0) {
        c.len += static_cast<std::size_t>(got);
        whole = response_length(std::string_view(c.buf, c.len), ok);
        if (whole == 0) continue;
      }
      if (got <= 0 || whole < 0 ||
          !c.busy) {                  // closed, reset, unparsable or unsolicited: reconnect
        errors += c.busy || got > 0;  // a server may close an idle keep-alive connection
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
        c.fd = open_connection(port);
        if (c.fd < 0) {
          std::fprintf(stderr, "reconnect failed: %s\n", std::strerror(errno));
          return 1;
        }
        epoll_event ev{EPOLLIN, {.u64 = i}};
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
        c.busy = false;
        idle.push_back(i);
        continue;
      }
      ns_t t = now_ns();
      ++done;
      if (!ok) ++errors;
      if (ok && c.due >= measure_from) lat.push_back(t - c.due);
      c.busy = false;
      idle.push_back(i);
    }
  }

  std::sort(lat.begin(), lat.end());
  auto us = [](ns_t v) { return static_cast<long long>(v / 1000); };
  std::printf(
      "due=%llu sent=%llu done=%llu errors=%llu late=%llu max_lag_us=%lld samples=%zu "
      "achieved_rps=%.1f p50_us=%lld p90_us=%lld p99_us=%lld p999_us=%lld max_us=%lld\n",
      static_cast<unsigned long long>(due_count), static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(done), static_cast<unsigned long long>(errors),
      static_cast<unsigned long long>(late), us(max_lag), lat.size(),
      static_cast<double>(lat.size()) / seconds, us(percentile(lat, 50)), us(percentile(lat, 90)),
      us(percentile(lat, 99)), us(percentile(lat, 99.9)), us(lat.empty() ? 0 : lat.back()));
  return 0;
}
