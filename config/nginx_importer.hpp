// The nginx importer's walk over the directive tree: main → http → server → location, with
// nginx's inheritance of proxy and client settings from outer blocks to inner ones. Builds a
// config_out (nginx_model.hpp). nginx_import.cpp holds the outer contexts and listeners,
// nginx_location.cpp the locations and what a route takes from them.
// One importer per translation, used from one thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/nginx_model.hpp"

namespace spillway::config::nginx {

/// Settings visible in a block: its own, else the nearest outer block's (nginx inheritance).
class scope {
 public:
  /// The scope inside `block`: these settings plus any the block sets itself.
  scope inner(const std::vector<directive>& block) const;
  const directive* get(std::string_view name) const;
  /// Whether `name` is one of the inherited settings read through a scope.
  static bool inherited(std::string_view name);

 private:
  std::vector<std::pair<std::string_view, const directive*>> set_;
};

/// A `limit_req_zone` definition.
struct limit_zone {
  std::string key;   // rate_limit key: client_address or header:<name>; empty when untranslatable
  std::string rate;  // "10/s"
  const directive* where = nullptr;
};

/// What a server block has gathered while its locations are read.
struct server_ctx {
  const directive* block = nullptr;
  uint64_t max_body = 0;  // largest client_max_body_size seen in the server and its locations
  std::string max_body_note;
  size_t routes = 0;
};

class importer {
 public:
  explicit importer(const std::string& file) : diag_(file) {}

  /// Translates the parsed file into the model; warnings go to diag().
  config_out run(const std::vector<directive>& main);
  diagnostics& diag() { return diag_; }

 private:
  // nginx_import.cpp
  void main_context(const std::vector<directive>& block);
  void http(const std::vector<directive>& block, const scope& parent);
  void http_directive(const directive& d);
  void server(const directive& d, const scope& parent);
  void listen(const directive& d, const scope& sc, const server_ctx& srv, bool tls_on);
  size_t listener_for(const directive& d, std::string host, uint16_t port, bool v6_wildcard);
  void listener_settings(listener_out& l, const scope& sc, const server_ctx& srv);
  void access_log(const directive& d);
  void add_upstream(const directive& d);
  void limit_req_zone(const directive& d);
  void finish();
  void order_routes();

  // nginx_location.cpp
  void location(const directive& d, const scope& parent, server_ctx& srv);
  void add_route(const directive& loc, const directive& pass, std::string path, bool exact,
                 const scope& sc, server_ctx& srv, const directive* limit_except);
  std::optional<size_t> cluster_for(const directive& pass, std::string_view host, bool https);
  void route_timeouts(route_out& r, const scope& sc);
  void route_retry(route_out& r, const scope& sc, const cluster_out& c);
  void route_rate_limit(route_out& r, const scope& sc);
  void route_notes(route_out& r, const scope& sc);
  void cluster_connect_timeout(cluster_out& c, const scope& sc);
  void body_limit(const scope& sc, server_ctx& srv);
  std::string unique_route_name(std::string base) const;

  /// Warns about a directive read nowhere in this context.
  void other(const directive& d);
  /// proxy_set_header: the usual lines need nothing in Spillway; others are reported.
  void proxy_set_header(const directive& d);

  diagnostics diag_;
  config_out out_;
  std::map<std::string, size_t, std::less<>> upstreams_;  // nginx upstream name → cluster index
  std::map<std::string, limit_zone, std::less<>> zones_;
  std::vector<std::string> dropped_upstreams_;  // upstreams without a usable server
  std::vector<server_ctx> servers_with_routes_;
  std::string first_access_log_;  // as written in nginx
};

}  // namespace spillway::config::nginx
