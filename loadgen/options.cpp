#include "loadgen/options.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

namespace spillway::loadgen {

bool options::chat() const {
  return target.target.find("chat/completions") != std::string::npos;
}

namespace {

template <class T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  auto v = parse_number<double>(s);
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return std::nullopt;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using handler = std::function<std::optional<std::string>(options&, std::string_view)>;

struct flag {
  std::string_view name;  // without the leading dashes
  bool takes_value;
  handler apply;
};

template <class T>
handler set_uint(T options::*field, T min = 0) {
  return [field, min](options& o, std::string_view v) -> std::optional<std::string> {
    auto n = parse_number<T>(v);
    if (!n || *n < min) return "expects an integer >= " + std::to_string(min);
    o.*field = *n;
    return std::nullopt;
  };
}

handler set_duration(nanos options::*field) {
  return [field](options& o, std::string_view v) -> std::optional<std::string> {
    auto d = parse_duration(v);
    if (!d) return "expects a duration such as 250ms, 10s or 2m";
    o.*field = *d;
    return std::nullopt;
  };
}

handler set_string(std::string options::*field) {
  return [field](options& o, std::string_view v) -> std::optional<std::string> {
    o.*field = std::string(v);
    return std::nullopt;
  };
}

handler set_true(bool options::*field) {
  return [field](options& o, std::string_view) -> std::optional<std::string> {
    o.*field = true;
    return std::nullopt;
  };
}

handler set_synthetic(uint32_t synthetic_prompts::*field) {
  return [field](options& o, std::string_view v) -> std::optional<std::string> {
    auto n = parse_number<uint32_t>(v);
    if (!n) return "expects a non-negative integer";
    o.synthetic.*field = *n;
    return std::nullopt;
  };
}

const std::vector<flag>& flags() {
  static const std::vector<flag> table = {
      {"rate", true,
       [](options& o, std::string_view v) -> std::optional<std::string> {
         auto r = parse_double(v);
         if (!r || *r <= 0) return "expects a positive number of requests per second";
         o.rate = *r;
         return std::nullopt;
       }},
      {"arrival", true,
       [](options& o, std::string_view v) -> std::optional<std::string> {
         auto a = parse_arrival(v);
         if (!a) return "expects constant, poisson or gamma";
         o.arrival = *a;
         return std::nullopt;
       }},
      {"burstiness", true,
       [](options& o, std::string_view v) -> std::optional<std::string> {
         auto b = parse_double(v);
         if (!b || *b <= 0) return "expects a positive number";
         o.burstiness = *b;
         return std::nullopt;
       }},
      {"duration", true, set_duration(&options::duration)},
      {"concurrency", true, set_uint<uint32_t>(&options::concurrency, 1)},
      {"connections", true, set_uint<uint32_t>(&options::connections, 1)},
      {"streams", true, set_uint<uint32_t>(&options::streams, 1)},
      {"threads", true, set_uint<uint32_t>(&options::threads, 1)},
      {"http2", false, set_true(&options::http2)},
      {"warmup", true, set_duration(&options::warmup)},
      {"seed", true, set_uint<uint64_t>(&options::seed)},
      {"max-requests", true, set_uint<uint64_t>(&options::max_requests, 1)},
      {"timeout", true, set_duration(&options::timeout)},
      {"late-threshold", true, set_duration(&options::late_threshold)},
      {"cancel-rate", true,
       [](options& o, std::string_view v) -> std::optional<std::string> {
         auto r = parse_double(v);
         if (!r || *r < 0 || *r > 1) return "expects a fraction between 0 and 1";
         o.cancel_rate = *r;
         return std::nullopt;
       }},
      {"cancel-after", true, set_duration(&options::cancel_after)},
      {"tls-verify", false, set_true(&options::tls_verify)},
      {"method", true, set_string(&options::method)},
      {"body", true, set_string(&options::body)},
      {"body-file", true,
       [](options& o, std::string_view v) -> std::optional<std::string> {
         auto text = read_file(std::string(v));
         if (!text) return "cannot read " + std::string(v);
         o.body = std::move(*text);
         return std::nullopt;
       }},
      {"header", true,
       [](options& o, std::string_view v) -> std::optional<std::string> {
         const size_t colon = v.find(':');
         if (colon == std::string_view::npos || colon == 0) return "expects 'Name: value'";
         o.headers.emplace_back(trim(v.substr(0, colon)), trim(v.substr(colon + 1)));
         return std::nullopt;
       }},
      {"openai", false, set_true(&options::openai)},
      {"stream", false, set_true(&options::stream)},
      {"max-tokens", true, set_uint<uint32_t>(&options::max_tokens, 1)},
      {"model", true, set_string(&options::model)},
      {"temperature", true,
       [](options& o, std::string_view v) -> std::optional<std::string> {
         auto t = parse_double(v);
         if (!t || *t < 0) return "expects a non-negative number";
         o.temperature = *t;
         return std::nullopt;
       }},
      {"ignore-eos", false, set_true(&options::ignore_eos)},
      {"prompts", true, set_string(&options::prompts_file)},
      {"tenants", true, set_synthetic(&synthetic_prompts::tenants)},
      {"system-prompt-words", true, set_synthetic(&synthetic_prompts::system_words)},
      {"session-words", true, set_synthetic(&synthetic_prompts::session_words)},
      {"tail-words", true, set_synthetic(&synthetic_prompts::tail_words)},
      {"sessions", true, set_uint<uint32_t>(&options::sessions)},
      {"session-header", true, set_string(&options::session_header)},
      {"engine-header", true, set_string(&options::engine_header)},
      {"slo", true,
       [](options& o, std::string_view v) -> std::optional<std::string> {
         auto s = parse_slo(v);
         if (!s) return "expects ttft=500ms,tpot=50ms,e2e=10s (any subset)";
         o.slo = *s;
         return std::nullopt;
       }},
      {"json", true, set_string(&options::json_out)},
      {"html", true, set_string(&options::html_out)},
      {"requests-out", true, set_string(&options::requests_out)},
      {"timeseries", true, set_string(&options::timeseries_out)},
      {"quiet", false, set_true(&options::quiet)},
      {"progress", false,
       [](options& o, std::string_view) -> std::optional<std::string> {
         o.progress = true;
         return std::nullopt;
       }},
      {"no-progress", false,
       [](options& o, std::string_view) -> std::optional<std::string> {
         o.progress = false;
         return std::nullopt;
       }},
      {"scenario", true, set_string(&options::scenario_file)},
      {"url", true, set_string(&options::url_text)},
  };
  return table;
}

const flag* find_flag(std::string_view name) {
  for (const auto& f : flags())
    if (f.name == name) return &f;
  return nullptr;
}

void validate(options& o, std::vector<std::string>& errors) {
  if (o.url_text.empty()) {
    errors.push_back("no target URL given");
  } else if (auto u = parse_url(o.url_text)) {
    o.target = *u;
  } else {
    errors.push_back("not an http:// or https:// URL: " + o.url_text);
  }
  if (!o.compare_url_text.empty()) {
    if (auto u = parse_url(o.compare_url_text)) {
      o.compare_target = *u;
    } else {
      errors.push_back("not an http:// or https:// URL: " + o.compare_url_text);
    }
  }
  if (o.rate && !o.phases.empty()) errors.push_back("--rate and scenario phases both given");
  if (!o.open_loop() && o.concurrency == 0) o.concurrency = 10;
  if (o.duration.count() == 0 && o.max_requests == 0 && o.phases.empty())
    o.duration = std::chrono::seconds(10);
  if (o.stream && !o.openai) errors.push_back("--stream needs --openai");
  if (o.method.empty()) o.method = (o.openai || !o.body.empty()) ? "POST" : "GET";
  if (o.openai && !o.body.empty()) errors.push_back("--openai builds the body: drop --body");
  if (o.openai && o.synthetic.tenants == 0) errors.push_back("--tenants must be >= 1");
  if (o.timeout.count() <= 0) errors.push_back("--timeout must be positive");
  if (o.threads > 64) errors.push_back("--threads is at most 64");
  for (const auto& p : o.phases)
    if (p.rate < 0 || (p.rate_end && *p.rate_end < 0) || p.duration.count() < 0)
      errors.push_back("scenario phases need non-negative rates and durations");
}

}  // namespace

std::optional<nanos> parse_duration(std::string_view s) {
  s = std::string_view(s.data(), s.size());
  size_t unit = 0;
  while (unit < s.size() && (std::isdigit(static_cast<unsigned char>(s[unit])) || s[unit] == '.'))
    ++unit;
  auto n = parse_double(s.substr(0, unit));
  if (!n || *n < 0) return std::nullopt;
  const std::string_view u = s.substr(unit);
  double scale = 0;
  if (u.empty() || u == "s")
    scale = 1e9;
  else if (u == "ms")
    scale = 1e6;
  else if (u == "us")
    scale = 1e3;
  else if (u == "ns")
    scale = 1;
  else if (u == "m")
    scale = 60e9;
  else if (u == "h")
    scale = 3600e9;
  else
    return std::nullopt;
  return nanos(static_cast<int64_t>(std::llround(*n * scale)));
}

std::optional<slo_spec> parse_slo(std::string_view s) {
  slo_spec out;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    const std::string item = trim(s.substr(0, comma));
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find_first_of("=:");
    if (eq == std::string::npos) return std::nullopt;
    const std::string key = trim(std::string_view(item).substr(0, eq));
    auto d = parse_duration(trim(std::string_view(item).substr(eq + 1)));
    if (!d) return std::nullopt;
    if (key == "ttft")
      out.ttft = *d;
    else if (key == "tpot")
      out.tpot = *d;
    else if (key == "e2e" || key == "e2el")
      out.e2e = *d;
    else
      return std::nullopt;
  }
  if (!out.any()) return std::nullopt;
  return out;
}

namespace {

std::string yaml_scalar(const YAML::Node& n) {
  return n.IsScalar() ? n.Scalar() : std::string{};
}

std::string where(const std::string& file, const YAML::Node& n) {
  return file + ":" + std::to_string(n.Mark().line + 1);
}

void parse_phase(const YAML::Node& node, const std::string& file, options& o,
                 std::vector<std::string>& errors) {
  if (!node.IsMap()) {
    errors.push_back(where(file, node) + ": a phase is a map");
    return;
  }
  // `steps: [50, 100, 200]` with `step_duration: 10s` expands into constant-rate phases.
  if (node["steps"]) {
    auto step = parse_duration(yaml_scalar(node["step_duration"]));
    if (!step || !node["steps"].IsSequence()) {
      errors.push_back(where(file, node) + ": steps needs a list and step_duration");
      return;
    }
    for (const auto& r : node["steps"]) {
      auto rate = parse_double(yaml_scalar(r));
      if (!rate) {
        errors.push_back(where(file, r) + ": steps: not a number");
        continue;
      }
      o.phases.push_back(phase{*step, *rate, std::nullopt, std::nullopt, std::nullopt, 0});
    }
    return;
  }
  phase p;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const std::string value = yaml_scalar(kv.second);
    const std::string at = where(file, kv.first) + ": phases: " + key;
    if (key == "duration") {
      auto d = parse_duration(value);
      if (!d)
        errors.push_back(at + ": expects a duration");
      else
        p.duration = *d;
    } else if (key == "rate") {
      auto r = parse_double(value);
      if (!r)
        errors.push_back(at + ": expects a number");
      else
        p.rate = *r;
    } else if (key == "to" || key == "ramp_to") {
      auto r = parse_double(value);
      if (!r)
        errors.push_back(at + ": expects a number");
      else
        p.rate_end = *r;
    } else if (key == "arrival") {
      auto a = parse_arrival(value);
      if (!a)
        errors.push_back(at + ": expects constant, poisson or gamma");
      else
        p.arrival = *a;
    } else if (key == "burstiness") {
      auto b = parse_double(value);
      if (!b || *b <= 0)
        errors.push_back(at + ": expects a positive number");
      else
        p.burstiness = *b;
    } else if (key == "burst") {
      auto n = parse_number<uint64_t>(value);
      if (!n)
        errors.push_back(at + ": expects a request count");
      else
        p.burst = *n;
    } else if (key == "name") {
      // free-form label
    } else {
      errors.push_back(at + ": unknown key");
    }
  }
  o.phases.push_back(p);
}

}  // namespace

std::vector<std::string> apply_scenario(std::string_view yaml, const std::string& file,
                                        const std::vector<std::string>& explicit_flags,
                                        options& o) {
  std::vector<std::string> errors;
  YAML::Node root;
  try {  // yaml-cpp reports syntax errors by exception; this is startup code
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    errors.push_back(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    return errors;
  }
  if (!root.IsMap()) {
    errors.push_back(file + ": a scenario is a map of settings and phases");
    return errors;
  }
  for (const auto& kv : root) {
    std::string key = kv.first.Scalar();
    const std::string at = where(file, kv.first) + ": " + key;
    if (key == "phases") {
      if (!kv.second.IsSequence()) {
        errors.push_back(at + ": expects a list");
        continue;
      }
      for (const auto& p : kv.second) parse_phase(p, file, o, errors);
      continue;
    }
    std::replace(key.begin(), key.end(), '_', '-');
    if (key == "headers" && kv.second.IsMap()) {
      for (const auto& h : kv.second)
        o.headers.emplace_back(h.first.Scalar(), yaml_scalar(h.second));
      continue;
    }
    if (key == "slo" && kv.second.IsMap()) {
      std::string text;
      for (const auto& s : kv.second) text += s.first.Scalar() + "=" + yaml_scalar(s.second) + ",";
      if (auto slo = parse_slo(text))
        o.slo = *slo;
      else
        errors.push_back(at + ": expects ttft/tpot/e2e durations");
      continue;
    }
    if (key == "target") key = "url";
    const flag* f = find_flag(key);
    if (!f || key == "scenario") {
      errors.push_back(at + ": unknown key");
      continue;
    }
    if (std::find(explicit_flags.begin(), explicit_flags.end(), key) != explicit_flags.end())
      continue;
    std::vector<std::string> values;
    if (kv.second.IsSequence()) {
      for (const auto& v : kv.second) values.push_back(yaml_scalar(v));
    } else {
      values.push_back(yaml_scalar(kv.second));
    }
    for (const auto& v : values) {
      if (!f->takes_value) {
        auto b = parse_bool(v);
        if (!b)
          errors.push_back(at + ": expects true or false");
        else if (*b)
          f->apply(o, "");
        continue;
      }
      if (auto err = f->apply(o, v)) errors.push_back(at + ": " + *err);
    }
  }
  return errors;
}

parse_result parse_command_line(int argc, const char* const* argv) {
  parse_result r;
  options& o = r.opts;
  std::vector<std::string> positional;
  std::vector<std::string> explicit_flags;
  bool compare = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      r.help = true;
      return r;
    }
    if (arg == "--version") {
      r.version = true;
      return r;
    }
    if (i == 1 && arg == "compare") {
      compare = true;
      continue;
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      positional.emplace_back(arg);
      continue;
    }
    std::string name(arg.substr(2));
    std::optional<std::string> value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const flag* f = find_flag(name);
    if (!f) {
      r.errors.push_back("unknown option --" + name);
      continue;
    }
    if (f->takes_value && !value) {
      if (i + 1 >= argc) {
        r.errors.push_back("--" + name + " needs a value");
        continue;
      }
      value = argv[++i];
    }
    if (!f->takes_value && value) {
      r.errors.push_back("--" + name + " takes no value");
      continue;
    }
    explicit_flags.push_back(name);
    if (auto err = f->apply(o, value.value_or(""))) r.errors.push_back("--" + name + ": " + *err);
  }
  if (compare) {
    if (positional.size() != 2) {
      r.errors.push_back("compare needs two URLs: DIRECT PROXY");
    } else {
      o.compare_url_text = positional[0];
      o.url_text = positional[1];
    }
  } else if (positional.size() > 1) {
    r.errors.push_back("more than one target URL given");
  } else if (positional.size() == 1) {
    o.url_text = positional[0];
  }
  if (!o.scenario_file.empty()) {
    auto text = read_file(o.scenario_file);
    if (!text) {
      r.errors.push_back("cannot read scenario " + o.scenario_file);
    } else {
      if (!positional.empty()) explicit_flags.push_back("url");
      auto errs = apply_scenario(*text, o.scenario_file, explicit_flags, o);
      r.errors.insert(r.errors.end(), errs.begin(), errs.end());
    }
  }
  validate(o, r.errors);
  return r;
}

schedule_spec make_schedule_spec(const options& o) {
  schedule_spec s;
  s.arrival = o.arrival;
  s.burstiness = o.burstiness;
  s.seed = o.seed;
  s.max_requests = o.max_requests;
  if (!o.phases.empty()) {
    s.phases = o.phases;
  } else if (o.rate) {
    phase p;
    p.rate = *o.rate;
    // Without a duration the run ends after --max-requests arrivals.
    p.duration = o.duration.count() > 0 ? o.warmup + o.duration : nanos::max() / 2;
    s.phases.push_back(p);
  }
  return s;
}

std::string usage() {
  return R"(usage: spillway-loadgen URL [options]
       spillway-loadgen --scenario FILE.yaml [URL] [options]
       spillway-loadgen compare DIRECT_URL PROXY_URL [options]

load model
  --rate R                 open loop at R requests/s (else closed loop)
  --arrival KIND           constant | poisson | gamma            (default constant)
  --burstiness K           gamma shape; 1 = Poisson, < 1 burstier (default 1)
  --duration D             measured length, after --warmup        (default 10s)
  --concurrency N          closed loop with N in flight; with --rate: in-flight cap
  --max-requests N         stop after N requests
  --warmup D               run D first and leave it out of the results
  --scenario FILE          YAML with phases (rate steps, ramps, bursts) and any flag as a key
  --seed S                 schedule, prompts, sessions and cancellations (default 1)
connections
  --connections N          HTTP/1.1: pool cap (default: concurrency, or grow on demand)
                           HTTP/2: connections (default 1)
  --http2                  HTTP/2 (h2c prior knowledge, or ALPN h2 for https)
  --streams N              HTTP/2 streams per connection (default 100)
  --threads N              event-loop threads (default 1)
  --timeout D              per request, from its scheduled time (default 30s)
  --tls-verify             verify the server certificate (default off)
request
  --method M  --body TEXT  --body-file F  --header 'Name: value' (repeatable)
  --cancel-rate P          cancel this fraction of requests ...
  --cancel-after D         ... at a uniform time within D of sending (default 1s)
OpenAI mode
  --openai  --stream  --max-tokens N  --model NAME  --temperature T  --ignore-eos
  --prompts FILE.jsonl     {"prompt": ...} or {"messages": [...]} per line
  --tenants N --system-prompt-words N --session-words N --tail-words N   synthetic prompts
  --sessions N             N sessions: session id header and shared per-session context
  --session-header NAME    (default X-Session-ID)
  --engine-header NAME     header naming the upstream that served (default X-Engine-Name)
  --slo ttft=500ms,tpot=50ms,e2e=10s   goodput thresholds
output
  --json F  --html F  --requests-out F.jsonl  --timeseries F.csv
  --late-threshold D       a send later than this is counted late (default 1ms)
  --quiet  --progress  --no-progress  --version
)";
}

}  // namespace spillway::loadgen
