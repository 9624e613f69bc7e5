// TLS termination settings of one listener: an OpenSSL context with the configured certificate
// chain and key, TLS 1.2 and 1.3 only, server cipher preference, session tickets, and ALPN that
// selects h2 (when the listener has `http2: true`) or http/1.1.
//
// Built at startup and on reload (a changed certificate takes effect for new connections);
// errors are values naming the file and what is wrong with it.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace spillway::server {

enum class alpn_protocol : unsigned char { http1, h2 };

struct tls_context_result {
  std::shared_ptr<boost::asio::ssl::context> context;  // null on error
  std::string error;                                   // "<file>: <reason>"
};

/// Loads `tls` for a listener; `http2` adds h2 to the ALPN choices (preferred over http/1.1).
tls_context_result make_tls_context(const config::tls_config& tls, bool http2);

/// The protocol ALPN settled on for an established connection (http/1.1 when none was
/// negotiated, as RFC 7301 §3.2 leaves it to the server).
alpn_protocol negotiated_protocol(const SSL* ssl) noexcept;

}  // namespace spillway::server
