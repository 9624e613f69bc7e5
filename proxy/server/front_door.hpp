// What happens to an accepted client connection before a protocol serves it: on a TLS
// listener the handshake (bounded by `timeouts.header`), then ALPN picks HTTP/2 or HTTP/1.1;
// on a plaintext listener with `http2: true` the first bytes tell an HTTP/2 connection
// preface (h2c with prior knowledge, RFC 9113 §3.3) from an HTTP/1.1 request. Plain HTTP/1.1
// listeners go straight to an http1::session.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace spillway::server {

class worker;
struct listener_shared;

/// Takes over `s`, already counted in `l.connections`.
void accept_connection(worker& w, listener_shared& l, boost::asio::ip::tcp::socket s);

}  // namespace spillway::server
