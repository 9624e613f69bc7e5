// spillway-loadgen: wiring only (SPEC §4). Parse the command line, build the schedule, run,
// write the reports. Exit 0 on a completed run, 1 on usage or setup errors, 2 when the target
// could not be reached for any request.
#include <sys/resource.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "loadgen/options.hpp"
#include "loadgen/report.hpp"
#include "loadgen/runner.hpp"
#include "loadgen/schedule.hpp"

namespace lg = spillway::loadgen;

namespace {

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) std::cerr << "spillway-loadgen: cannot write " << path << "\n";
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = lg::parse_command_line(argc, argv);
  if (parsed.help) {
    std::cout << lg::usage();
    return 0;
  }
  if (parsed.version) {
    std::cout << "spillway-loadgen 0.1.0\n";
    return 0;
  }
  if (!parsed.ok()) {
    for (const auto& e : parsed.errors) std::cerr << "spillway-loadgen: " << e << "\n";
    std::cerr << "try --help\n";
    return 1;
  }
  const lg::options& o = parsed.opts;
  // Open loops may hold thousands of connections: take every file descriptor we may.
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::vector<int64_t> schedule;
  if (o.open_loop()) schedule = lg::build_schedule(lg::make_schedule_spec(o));
  const bool progress = !o.quiet && o.progress.value_or(::isatty(STDOUT_FILENO) == 1);

  std::string error;
  std::optional<lg::run_result> direct;
  if (!o.compare_url_text.empty()) {
    direct = lg::run_load(o, o.compare_target, schedule, progress, error);
    if (!direct) {
      std::cerr << "spillway-loadgen: " << error << "\n";
      return 1;
    }
  }
  auto result = lg::run_load(o, o.target, schedule, progress, error);
  if (!result) {
    std::cerr << "spillway-loadgen: " << error << "\n";
    return 1;
  }

  if (!o.quiet) {
    if (direct) {
      std::cout << lg::format_table(o, *direct) << "\n";
      std::cout << lg::format_table(o, *result) << "\n" << lg::format_compare(o, *direct, *result);
    } else {
      std::cout << lg::format_table(o, *result);
    }
    std::cout.flush();
  }
  bool ok = true;
  if (!o.json_out.empty()) {
    auto j = direct ? lg::compare_json(o, *direct, *result) : lg::to_json(o, *result);
    ok &= write_file(o.json_out, boost::json::serialize(j) + "\n");
  }
  if (!o.html_out.empty())
    ok &= write_file(o.html_out, lg::render_html(o, *result, direct ? &*direct : nullptr));
  if (!o.timeseries_out.empty()) ok &= write_file(o.timeseries_out, lg::to_csv_series(*result));

  const auto s = lg::summarize(o, *result);
  if (s.unreachable || (direct && lg::summarize(o, *direct).unreachable)) {
    std::cerr << "spillway-loadgen: the target was unreachable for every request\n";
    return 2;
  }
  return ok ? 0 : 1;
}
