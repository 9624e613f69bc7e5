// spillway-engine subcommands: serve (default), make-model, bench. Each returns the exit status.
#pragma once

#include <string>
#include <vector>

namespace spillway::engine::cli {

int run_serve(const std::vector<std::string>& args);
int run_make_model(const std::vector<std::string>& args);
int run_bench(const std::vector<std::string>& args);
void print_usage();

/// Prints "spillway-engine: error: <message>" on stderr.
void print_error(const std::string& message);

}  // namespace spillway::engine::cli
