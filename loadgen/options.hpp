// Command line and scenario file of spillway-loadgen (SPEC §4). A scenario YAML holds `phases`
// plus any long flag as a key (`max_tokens: 64` is `--max-tokens 64`); flags given on the command
// line win over the file. Parsing never throws: problems come back as a list of messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loadgen/schedule.hpp"
#include "loadgen/url.hpp"

namespace spillway::loadgen {

using nanos = std::chrono::nanoseconds;

/// Per-request service level objectives for goodput (vLLM's --goodput keys: ttft, tpot, e2el).
struct slo_spec {
  std::optional<nanos> ttft;
  std::optional<nanos> tpot;
  std::optional<nanos> e2e;
  bool any() const { return ttft || tpot || e2e; }
};

struct synthetic_prompts {
  uint32_t tenants = 4;         // distinct shared system prompts
  uint32_t system_words = 200;  // words in each tenant's system prompt
  uint32_t session_words = 50;  // words of per-session context (with --sessions)
  uint32_t tail_words = 20;     // unique words per request
};

struct options {
  std::string url_text;
  url target;
  std::string compare_url_text;  // `compare DIRECT PROXY`: the direct URL; target is the proxy
  url compare_target;

  // Load model.
  std::optional<double> rate;  // open loop when set (or when phases are given)
  arrival_kind arrival = arrival_kind::constant;
  double burstiness = 1.0;
  nanos duration{0};
  std::vector<phase> phases;  // from --scenario
  uint32_t concurrency = 0;   // closed loop size, or the in-flight cap of an open loop
  uint32_t connections = 0;   // 0 = automatic
  uint32_t streams = 100;     // HTTP/2 concurrent streams per connection
  uint32_t threads = 1;
  bool http2 = false;
  nanos warmup{0};
  uint64_t seed = 1;
  uint64_t max_requests = 0;
  nanos timeout = std::chrono::seconds(30);
  nanos late_threshold = std::chrono::milliseconds(1);
  double cancel_rate = 0;
  nanos cancel_after = std::chrono::seconds(1);
  bool tls_verify = false;

  // Request.
  std::string method;  // default GET, or POST with a body / --openai
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // OpenAI mode.
  bool openai = false;
  bool stream = false;
  uint32_t max_tokens = 64;
  std::string model;
  std::optional<double> temperature;
  bool ignore_eos = false;
  std::string prompts_file;
  synthetic_prompts synthetic;
  uint32_t sessions = 0;
  std::string session_header = "X-Session-ID";
  std::string engine_header = "X-Engine-Name";
  slo_spec slo;

  // Output.
  std::string json_out;
  std::string html_out;
  std::string requests_out;    // per-request JSONL
  std::string timeseries_out;  // per-second CSV
  bool quiet = false;
  std::optional<bool> progress;  // default: only when stdout is a terminal
  std::string scenario_file;

  bool open_loop() const { return rate.has_value() || !phases.empty(); }
  bool chat() const;  // URL path names chat/completions
};

struct parse_result {
  options opts;
  std::vector<std::string> errors;
  bool help = false;
  bool version = false;
  bool ok() const { return errors.empty(); }
};

/// Parses argv (argv[0] skipped); reads and merges the scenario file when one is named.
parse_result parse_command_line(int argc, const char* const* argv);

/// Parses a scenario YAML text into `opts` (used by parse_command_line; exposed for tests).
/// `explicit_flags` are long flag names set on the command line that the file must not override.
std::vector<std::string> apply_scenario(std::string_view yaml, const std::string& file_name,
                                        const std::vector<std::string>& explicit_flags,
                                        options& opts);

/// "250ms", "1.5s", "2m", "1h", "500us"; a bare number is seconds.
std::optional<nanos> parse_duration(std::string_view s);
/// "ttft=500ms,tpot=50ms,e2e=2s" (e2el accepted as e2e).
std::optional<slo_spec> parse_slo(std::string_view s);

/// The open-loop schedule the options describe (warm-up included at the start).
schedule_spec make_schedule_spec(const options& o);

std::string usage();

}  // namespace spillway::loadgen
