#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>

namespace spillway::log {
namespace {
std::atomic<level> g_level{level::info};

const char* name(level l) {
  switch (l) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
  }
  return "info";
}
}  // namespace

void set_level(level l) noexcept {
  g_level.store(l, std::memory_order_relaxed);
}
bool enabled(level l) noexcept {
  return l >= g_level.load(std::memory_order_relaxed);
}

void write(level l, std::string_view line) {
  using namespace std::chrono;
  auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::string out =
      fmt::format("{}.{:03d} {} {}\n", now / 1000, static_cast<int>(now % 1000), name(l), line);
  // One write(2) per line keeps lines from different threads whole.
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, out.data(), out.size());
}

}  // namespace spillway::log
