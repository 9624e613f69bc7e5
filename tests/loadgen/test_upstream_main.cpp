// spillway-loadgen-test-upstream: the scripted test upstream as a process, for scripts and
// benchmarks. Prints "port N" once listening; runs until SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include <unistd.h>

#include "test_upstream.hpp"

int main(int argc, char** argv) {
  spillway::loadgen::test::upstream_config cfg;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--listen")
      cfg.listen = v;
    else if (k == "--name")
      cfg.name = v;
    else if (k == "--delay-ms")
      cfg.delay_ms = std::stoi(v);
    else if (k == "--itl-ms")
      cfg.itl_ms = std::stoi(v);
    else if (k == "--tokens")
      cfg.tokens = std::stoi(v);
    else if (k == "--status")
      cfg.status = std::stoi(v);
    else if (k == "--cache-status")
      cfg.cache_status = v;
    else if (k == "--stall-after")
      cfg.stall_after = std::stoull(v);
    else if (k == "--stall-ms")
      cfg.stall_ms = std::stoi(v);
    else if (k == "--cut-after")
      cfg.cut_after = std::stoi(v);
    else if (k == "--idle-timeout-ms")
      cfg.idle_timeout_ms = std::stoi(v);
    else if (k == "--session-header")
      cfg.session_header = v;
    else if (k == "--tls-cert")
      cfg.tls_cert = v;
    else if (k == "--tls-key")
      cfg.tls_key = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 1;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // the server thread inherits the mask
  spillway::loadgen::test::upstream server(cfg);
  const uint16_t port = server.start();
  if (!port) {
    std::fprintf(stderr, "cannot listen on %s\n", cfg.listen.c_str());
    return 1;
  }
  std::printf("port %u\n", port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server.stop();
  std::fprintf(stderr, "requests %llu\n", static_cast<unsigned long long>(server.requests()));
  return 0;
}
