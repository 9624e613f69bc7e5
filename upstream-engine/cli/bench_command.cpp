// `spillway-engine bench`: in-process CPU/GPU throughput figures without HTTP in the way.
//  - decode tokens/s at each batch size (all sequences decoding together, ignore_eos), median
//    of --repeat runs;
//  - prefill tokens/s (one long prompt, time to its first token);
//  - time to first token for a prompt whose leading `shared` fraction is already in the prefix
//    cache, against the same prompt on a cold cache.
#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "common/random.hpp"
#include "upstream-engine/cli/backend_factory.hpp"
#include "upstream-engine/cli/commands.hpp"
#include "upstream-engine/cli/flags.hpp"
#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/model/tokenizer.hpp"
#include "upstream-engine/runtime/engine.hpp"

namespace spillway::engine::cli {
namespace {

using clock_type = std::chrono::steady_clock;

double secs(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

/// Collects event times from the engine thread.
class tracker {
 public:
  explicit tracker(size_t n) : first_(n), done_(n) {}

  runtime::event_sink sink(size_t i) {
    return [this, i](runtime::generation_event&& ev) {
      const auto now = clock_type::now();
      std::lock_guard lock(mu_);
      if (ev.completion_tokens > 0 && first_[i] == clock_type::time_point{}) first_[i] = now;
      if (ev.finish == runtime::finish_reason::none ||
          ev.finish == runtime::finish_reason::length || ev.finish == runtime::finish_reason::stop)
        if (ev.completion_tokens > 0) token_times_.push_back(now);
      if (ev.finish != runtime::finish_reason::none) {
        done_[i] = now;
        ++finished_;
        cv_.notify_all();
      }
    };
  }
  void wait_all() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return finished_ == done_.size(); });
  }
  // Tokens per second once every sequence has its first token.
  double decode_rate() const {
    const auto start = *std::max_element(first_.begin(), first_.end());
    const auto end = *std::max_element(done_.begin(), done_.end());
    const auto n =
        std::count_if(token_times_.begin(), token_times_.end(), [&](auto t) { return t > start; });
    return end > start ? static_cast<double>(n) / secs(end - start) : 0.0;
  }
  clock_type::time_point first(size_t i) const { return first_[i]; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<clock_type::time_point> first_;
  std::vector<clock_type::time_point> done_;
  std::vector<clock_type::time_point> token_times_;
  size_t finished_ = 0;
};

struct bench_setup {
  const model::checkpoint* ck;
  const model::tokenizer* tok;
  backend_options bo;
  int max_step_tokens;
};

std::unique_ptr<runtime::engine> make_engine(const bench_setup& s, int max_batch,
                                             bool prefix_cache) {
  runtime::engine_config ec;
  ec.max_batch = max_batch;
  ec.max_queue = 1 << 20;
  ec.max_step_tokens = s.max_step_tokens;
  ec.prefix_caching = prefix_cache;
  backend_options bo = s.bo;
  bo.max_batch = max_batch;
  std::string err;
  auto be = make_backend(*s.ck, bo, err);
  if (!be) {
    print_error(err);
    return nullptr;
  }
  auto eng = std::make_unique<runtime::engine>(ec);
  eng->start(std::move(be), *s.tok);
  return eng;
}

std::vector<int32_t> random_tokens(xoshiro256& rng, int n, int vocab) {
  std::vector<int32_t> t{model::token_bos};
  while (static_cast<int>(t.size()) < n)
    t.push_back(static_cast<int32_t>(354 + rng.below(static_cast<uint64_t>(vocab - 354))));
  return t;
}

runtime::sampling_params greedy(int max_tokens) {
  runtime::sampling_params p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

// Time to first token of one request on `eng`.
double ttft(runtime::engine& eng, std::vector<int32_t> prompt) {
  tracker t(1);
  const auto start = clock_type::now();
  eng.submit(std::move(prompt), greedy(1), t.sink(0));
  t.wait_all();
  return secs(t.first(0) - start);
}

}  // namespace

int run_bench(const std::vector<std::string>& args) {
  flags f({"model", "tokenizer", "threads", "batches", "decode-tokens", "prompt-tokens", "shared",
           "device", "max-step-tokens", "block-size", "repeat", "cuda-graphs"},
          {});
  f.parse(args);
  const std::string model_path = f.str("model", "");
  if (model_path.empty()) f.error("--model is required");
  const std::string tok_path = f.str(
      "tokenizer", (std::filesystem::path(model_path).parent_path() / "tokenizer.bin").string());
  bench_setup s;
  s.bo.device = f.str("device", "auto");
  s.bo.threads = f.integer("threads", 0, 0, 1024);
  s.bo.block_size = f.integer("block-size", 16, 1, 1024);
  s.bo.cuda_graphs = f.on_off("cuda-graphs", true);
  s.max_step_tokens = f.integer("max-step-tokens", 256, 1, 1 << 16);
  const std::vector<int> batches = f.int_list("batches", {1, 4, 16, 64});
  const int decode_tokens = f.integer("decode-tokens", 64, 2, 1 << 16);
  const int repeat = f.integer("repeat", 3, 1, 100);
  int prompt_tokens = f.integer("prompt-tokens", 0, 0, 1 << 20);
  const double shared = f.number("shared", 0.75, 0.0, 0.99);
  if (!f.errors().empty()) {
    for (const auto& e : f.errors()) print_error(e);
    return 2;
  }
  std::string err;
  auto ck = model::checkpoint::open(model_path, err);
  if (!ck) return print_error(err), 1;
  auto tok = model::tokenizer::load(tok_path, ck->config().vocab_size, err);
  if (!tok) return print_error(err), 1;
  s.ck = &*ck;
  s.tok = &*tok;
  const auto& c = ck->config();
  if (prompt_tokens <= 0) prompt_tokens = std::min(192, c.seq_len - 8);
  prompt_tokens = std::min(prompt_tokens, c.seq_len - 2);
  const int short_prompt = 8;
  const int decode = std::min(decode_tokens, c.seq_len - short_prompt - 1);
  xoshiro256 rng(42);

  std::printf("model %s: dim %d, %d layers, vocab %d, context %d; device %s\n", model_path.c_str(),
              c.dim, c.n_layers, c.vocab_size, c.seq_len, resolve_device(s.bo.device, err).c_str());
  std::string json = "{";
  {
    // Warm-up: touch every weight page once.
    auto eng = make_engine(s, 1, false);
    if (!eng) return 1;
    ttft(*eng, random_tokens(rng, 4, c.vocab_size));
  }

  double single = 0.0;
  json += "\"decode_tokens_per_s\":{";
  for (size_t bi = 0; bi < batches.size(); ++bi) {
    const int b = batches[bi];
    auto eng = make_engine(s, b, false);
    if (!eng) return 1;
    std::vector<double> rates;
    for (int rep = 0; rep < repeat; ++rep) {
      tracker t(static_cast<size_t>(b));
      for (int i = 0; i < b; ++i)
        eng->submit(random_tokens(rng, short_prompt, c.vocab_size), greedy(decode),
                    t.sink(static_cast<size_t>(i)));
      t.wait_all();
      rates.push_back(t.decode_rate());
    }
    std::sort(rates.begin(), rates.end());
    const double rate = rates[rates.size() / 2];
    if (b == 1) single = rate;
    std::printf(
        "decode  batch %3d: %9.1f tokens/s%s\n", b, rate,
        single > 0 && b > 1 ? fmt::format("  ({:.1f}x batch 1)", rate / single).c_str() : "");
    json += fmt::format("{}\"{}\":{:.1f}", bi ? "," : "", b, rate);
  }
  json += "}";

  {
    auto eng = make_engine(s, 1, false);
    if (!eng) return 1;
    std::vector<double> runs;
    for (int i = 0; i < std::max(3, repeat); ++i)
      runs.push_back(ttft(*eng, random_tokens(rng, prompt_tokens, c.vocab_size)));
    std::sort(runs.begin(), runs.end());
    const double med = runs[runs.size() / 2];
    const double rate = prompt_tokens / med;
    std::printf("prefill %d tokens: %9.1f tokens/s (TTFT %.1f ms, median of %zu)\n", prompt_tokens,
                rate, med * 1e3, runs.size());
    json +=
        fmt::format(",\"prefill_tokens\":{},\"prefill_tokens_per_s\":{:.1f}", prompt_tokens, rate);
  }

  {
    // The shared prefix, block-aligned; every prompt has its own tail.
    const int bs = s.bo.block_size;
    const int shared_tokens = static_cast<int>(prompt_tokens * shared) / bs * bs;
    const std::vector<int32_t> prefix = random_tokens(rng, shared_tokens, c.vocab_size);
    auto with_tail = [&](int salt) {
      xoshiro256 r(1000 + static_cast<uint64_t>(salt));
      std::vector<int32_t> p = prefix;
      while (static_cast<int>(p.size()) < prompt_tokens)
        p.push_back(static_cast<int32_t>(354 + r.below(static_cast<uint64_t>(c.vocab_size - 354))));
      return p;
    };
    std::vector<double> miss, hit;
    for (int i = 0; i < std::max(3, repeat); ++i) {
      auto eng = make_engine(s, 1, true);
      if (!eng) return 1;
      miss.push_back(ttft(*eng, with_tail(2 * i)));     // cold cache: computes everything
      hit.push_back(ttft(*eng, with_tail(2 * i + 1)));  // shared blocks come from the cache
    }
    std::sort(miss.begin(), miss.end());
    std::sort(hit.begin(), hit.end());
    const double m = miss[miss.size() / 2], h = hit[hit.size() / 2];
    const double frac = static_cast<double>(shared_tokens) / prompt_tokens;
    std::printf(
        "TTFT %d-token prompt, %d shared (%.0f%%): miss %.1f ms, hit %.1f ms (%.0f%% less)\n",
        prompt_tokens, shared_tokens, frac * 100, m * 1e3, h * 1e3, (1 - h / m) * 100);
    // The most a hit can save: the tail's tokens attend over the whole prompt so far (more per
    // token than the prompt's average), and both compute one classifier row.
    auto madds = [&](int from, int to) {  // multiply-adds of prompt positions [from, to)
      const double dim = c.dim, kvd = c.kv_dim(), hid = c.hidden_dim;
      const double per_token = c.n_layers * (2 * dim * dim + 2 * dim * kvd + 3 * dim * hid);
      double positions = 0;  // attended, summed over the tokens
      for (int p = from; p < to; ++p) positions += p + 1;
      return (to - from) * per_token + positions * c.n_layers * c.n_heads * c.head_size() * 2.0 +
             dim * c.vocab_size;
    };
    const double work = madds(shared_tokens, prompt_tokens) / madds(0, prompt_tokens);
    std::printf("     multiply-adds: the hit computes %.1f%% of the miss's (at most %.0f%% less)\n",
                work * 100, (1 - work) * 100);
    // Any step streams every weight once; beyond that floor (one batch-1 decode step) the hit
    // should save the shared share of the work.
    if (single > 0) {
      const double floor = 1.0 / single;
      if (m > floor && h > floor)
        std::printf(
            "     beyond one weight pass (%.1f ms): miss %.1f ms, hit %.1f ms (%.0f%% less)\n",
            floor * 1e3, (m - floor) * 1e3, (h - floor) * 1e3,
            (1 - (h - floor) / (m - floor)) * 100);
    }
    json += fmt::format(
        ",\"ttft_prompt_tokens\":{},\"ttft_shared_tokens\":{},\"ttft_miss_ms\":{:.2f},"
        "\"ttft_hit_ms\":{:.2f},\"ttft_hit_work_fraction\":{:.4f}",
        prompt_tokens, shared_tokens, m * 1e3, h * 1e3, work);
  }
  json += "}";
  std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace spillway::engine::cli
