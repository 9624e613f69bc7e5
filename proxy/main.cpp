// spillway: wiring only. Parse the command line, load the configuration, run the server.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/log.hpp"
#include "config/loader.hpp"
#include "config/nginx_import.hpp"
#include "proxy/server/server.hpp"
#include "proxy/server/tls_context.hpp"

namespace {

constexpr const char* usage =
    "usage: spillway --config FILE         run the proxy\n"
    "       spillway --check-config FILE   validate FILE; exit 0 when valid\n"
    "       spillway --version\n"
    "       spillway import-nginx NGINX.CONF  translate an nginx config; YAML on stdout\n";

int check_config(const std::string& path) {
  auto result = spillway::config::load_file(path);
  std::fputs(spillway::config::format_report(result).c_str(), stderr);
  if (!result.ok()) {
    std::fprintf(stderr, "%s: %zu error%s\n", path.c_str(), result.errors.size(),
                 result.errors.size() == 1 ? "" : "s");
    return 1;
  }
  // The certificate and key must load too, as they will at start-up.
  size_t tls_errors = 0;
  for (size_t i = 0; i < result.config->listeners.size(); ++i) {
    const auto& l = result.config->listeners[i];
    if (!l.tls) continue;
    auto made = spillway::server::make_tls_context(*l.tls, l.http2);
    if (made.context) continue;
    std::fprintf(stderr, "%s: listeners[%zu].tls: %s\n", path.c_str(), i, made.error.c_str());
    ++tls_errors;
  }
  if (tls_errors > 0) return 1;
  std::printf("%s: ok\n", path.c_str());
  return 0;
}

int import_nginx(const std::string& path) {
  auto result = spillway::config::import_nginx_file(path);
  for (const auto& w : result.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  for (const auto& e : result.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  std::fputs(result.yaml.c_str(), stdout);
  return result.ok() ? 0 : 1;
}

int run(const std::string& path) {
  auto result = spillway::config::load_file(path);
  std::fputs(spillway::config::format_report(result).c_str(), stderr);
  if (!result.ok()) {
    std::fprintf(stderr, "spillway: not started: %zu configuration error%s\n", result.errors.size(),
                 result.errors.size() == 1 ? "" : "s");
    return 1;
  }
  spillway::server::server srv(result.config);
  return srv.run();
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("spillway %s\n", SPILLWAY_VERSION);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--check-config") == 0) return check_config(argv[2]);
  if (argc == 3 && std::strcmp(argv[1], "--config") == 0) return run(argv[2]);
  if (argc == 3 && std::strcmp(argv[1], "import-nginx") == 0) return import_nginx(argv[2]);
  std::fputs(usage, stderr);
  return 2;
}
