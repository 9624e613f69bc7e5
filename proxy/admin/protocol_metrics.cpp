// TLS and HTTP/2 counters of /metrics (server/front_door.cpp counts them per worker).
#include <fmt/format.h>

#include "proxy/admin/admin_server.hpp"
#include "proxy/http2/server_connection.hpp"
#include "proxy/server/server.hpp"

namespace spillway::admin {

void render_protocol_metrics(std::string& out, const server::server& srv) {
  uint64_t handshakes = 0, handshake_failures = 0, h2_connections = 0, h2_streams = 0;
  constexpr size_t reasons = static_cast<size_t>(http2::abuse::count);
  std::array<uint64_t, reasons> abuse{}, closed{};
  for (const auto& w : srv.workers()) {
    const auto& st = w->stats();
    handshakes += st.tls_handshakes.get();
    handshake_failures += st.tls_handshake_failures.get();
    h2_connections += st.h2_connections.get();
    h2_streams += st.h2_streams.get();
    for (size_t i = 0; i < reasons; ++i) {
      abuse[i] += st.h2_abuse[i].get();
      closed[i] += st.h2_abuse_closed[i].get();
    }
  }
  fmt::format_to(std::back_inserter(out),
                 "# HELP spillway_tls_handshakes_total TLS handshakes on the listeners, by "
                 "result (failed: refused, broken, or not finished within timeouts.header).\n"
                 "# TYPE spillway_tls_handshakes_total counter\n"
                 "spillway_tls_handshakes_total{{result=\"ok\"}} {}\n"
                 "spillway_tls_handshakes_total{{result=\"failed\"}} {}\n"
                 "# HELP spillway_http2_connections_total Client connections that spoke HTTP/2 "
                 "(h2c or h2 by ALPN).\n"
                 "# TYPE spillway_http2_connections_total counter\n"
                 "spillway_http2_connections_total {}\n"
                 "# HELP spillway_http2_streams_total HTTP/2 requests (streams) received.\n"
                 "# TYPE spillway_http2_streams_total counter\n"
                 "spillway_http2_streams_total {}\n",
                 handshakes, handshake_failures, h2_connections, h2_streams);
  out.append(
      "# HELP spillway_http2_abuse_total HTTP/2 abuse events by reason (resets, frame floods, "
      "oversized header lists, protocol errors).\n"
      "# TYPE spillway_http2_abuse_total counter\n");
  for (size_t i = 0; i < reasons; ++i)
    fmt::format_to(std::back_inserter(out), "spillway_http2_abuse_total{{reason=\"{}\"}} {}\n",
                   http2::to_string(static_cast<http2::abuse>(i)), abuse[i]);
  out.append(
      "# HELP spillway_http2_goaway_total HTTP/2 connections ended with GOAWAY for abuse, by "
      "reason.\n"
      "# TYPE spillway_http2_goaway_total counter\n");
  for (size_t i = 0; i < reasons; ++i)
    fmt::format_to(std::back_inserter(out), "spillway_http2_goaway_total{{reason=\"{}\"}} {}\n",
                   http2::to_string(static_cast<http2::abuse>(i)), closed[i]);
}

}  // namespace spillway::admin
