// Settings a reload cannot apply to a running process: the worker count, the listeners (their
// sockets are bound per worker at start), the admin address and the access log destination.
// A reload keeps the running values of these and reports each difference as a warning.
//
// Pure function over two configurations; no I/O.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace spillway::server {

/// One "needs a restart" message per setting of `loaded` that differs from `running`, naming
/// the key, e.g. "listeners[0].address: 127.0.0.1:8080 -> 127.0.0.1:8081 needs a restart".
std::vector<std::string> needs_restart(const config::proxy_config& running,
                                       const config::proxy_config& loaded);

}  // namespace spillway::server
