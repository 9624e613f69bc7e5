// spillway-engine: the upstream inference engine (SPEC §3). Wiring only; see cli/.
#include <cstdio>
#include <string>
#include <vector>

#include "upstream-engine/cli/commands.hpp"

int main(int argc, char** argv) {
  namespace cli = spillway::engine::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    cli::print_usage();
    return 0;
  }
  if (!args.empty() && args[0] == "--version") {
    std::printf("spillway-engine 0.1.0\n");
    return 0;
  }
  if (!args.empty() && args[0] == "make-model")
    return cli::run_make_model({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "bench") return cli::run_bench({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "serve") return cli::run_serve({args.begin() + 1, args.end()});
  return cli::run_serve(args);
}
