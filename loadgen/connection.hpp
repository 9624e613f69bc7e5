// Protocol-neutral view of one connection to the target, as the driver sees it: submit requests
// while it has capacity, abort one (timeout, client cancellation), and hear back through
// connection_owner when a request ends or capacity frees up. HTTP/1.1 carries one request at a
// time; HTTP/2 carries up to --streams. Everything runs on the owning driver's thread.
#pragma once

#include <cstdint>

#include "loadgen/collector.hpp"
#include "loadgen/request.hpp"
#include "loadgen/response.hpp"
#include "loadgen/transport.hpp"

namespace spillway::loadgen {

class connection;

class connection_owner {
 public:
  virtual ~connection_owner() = default;
  /// Nanoseconds since the run's start.
  virtual int64_t now() const = 0;
  /// The request was written for the first time (its `sent` is set).
  virtual void on_sent(request_ctx* r) = 0;
  /// The request ended (`done` and `error` set); the connection no longer refers to it.
  virtual void on_response(request_ctx* r) = 0;
  /// The connection can take another request (connected, or a request ended).
  virtual void on_ready(connection* c) = 0;
  virtual connection_stats& conn_stats() = 0;
};

struct connection_config {
  tcp::endpoint endpoint;
  tls_settings tls;
  response_rules rules;
  uint32_t max_streams = 1;
};

class connection {
 public:
  virtual ~connection() = default;
  virtual bool has_capacity() const = 0;
  virtual size_t active() const = 0;
  /// Takes `r` (requires has_capacity()); connects first when needed.
  virtual void submit(request_ctx* r) = 0;
  /// Ends `r` now with `why` (reported through on_response).
  virtual void abort(request_ctx* r, error_class why) = 0;
  /// Opens the connection ahead of the first request; on_ready follows either way.
  virtual void preconnect() = 0;
  /// Closes the connection; requests still on it are dropped without being reported.
  virtual void shutdown() = 0;

  bool in_ready_list = false;  // driver bookkeeping
};

}  // namespace spillway::loadgen
