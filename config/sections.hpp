// The loader's stages after YAML parsing: one reader per section of SPEC §2.1 (each checks its
// own keys, types and ranges), then cross-checks over the whole config (names that refer to each
// other, uniqueness, addresses that clash). All report through the reader; none throws.
#pragma once

#include "config/config.hpp"
#include "config/reader.hpp"

namespace spillway::config::detail {

// proxy_reader.cpp: the top level, listeners, admin, cache, access_log.
void read_proxy(reader& r, const node_ref& root, proxy_config& out);

// cluster_reader.cpp
void read_cluster(reader& r, const node_ref& n, cluster_config& out);

// route_reader.cpp
void read_route(reader& r, const node_ref& n, route_config& out);

// validate.cpp: runs after every section was read.
void cross_check(reader& r, const proxy_config& c);

}  // namespace spillway::config::detail
