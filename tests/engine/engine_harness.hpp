// Test helper: an engine on the tiny model's CPU backend, and a collector that records every
// event of submitted sequences and waits for them to finish.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "tests/engine/test_model.hpp"
#include "upstream-engine/reference/cpu_backend.hpp"
#include "upstream-engine/runtime/engine.hpp"

namespace spillway::engine::test {

struct outcome {
  std::vector<int32_t> tokens;
  std::string text;
  runtime::finish_reason finish = runtime::finish_reason::none;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
};

class collector {
 public:
  runtime::event_sink sink(size_t i) {
    {
      std::lock_guard lock(mu_);
      if (results_.size() <= i) results_.resize(i + 1);
      ++expected_;
    }
    return [this, i](runtime::generation_event&& ev) {
      std::lock_guard lock(mu_);
      outcome& o = results_[i];
      if (ev.token >= 0) o.tokens.push_back(ev.token);
      o.text += ev.text;
      o.prompt_tokens = ev.prompt_tokens;
      o.completion_tokens = ev.completion_tokens;
      o.cached_tokens = ev.cached_tokens;
      if (ev.finish != runtime::finish_reason::none) {
        o.finish = ev.finish;
        ++done_;
        cv_.notify_all();
      }
    };
  }
  /// Waits (bounded) until every sink saw its final event.
  bool wait(std::chrono::seconds limit = std::chrono::seconds(60)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return done_ == expected_; });
  }
  std::vector<outcome> results() {
    std::lock_guard lock(mu_);
    return results_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<outcome> results_;
  size_t expected_ = 0;
  size_t done_ = 0;
};

struct harness_options {
  int max_batch = 8;
  int max_queue = 64;
  int max_step_tokens = 64;
  bool prefix_caching = true;
  int block_size = 4;
  int num_blocks = 256;
  int threads = 2;
};

inline std::unique_ptr<runtime::engine> make_engine(const harness_options& o) {
  const model_files& m = test_model("tiny");
  runtime::engine_config c;
  c.max_batch = o.max_batch;
  c.max_queue = o.max_queue;
  c.max_step_tokens = o.max_step_tokens;
  c.prefix_caching = o.prefix_caching;
  auto eng = std::make_unique<runtime::engine>(c);
  eng->start(std::make_unique<reference::cpu_backend>(
                 m.ck, runtime::kv_geometry{o.num_blocks, o.block_size}, o.threads,
                 std::chrono::microseconds(0)),  // always hand off, whatever the load
             m.tok);
  return eng;
}

inline runtime::sampling_params greedy(int max_tokens) {
  runtime::sampling_params p;
  p.temperature = 0.0f;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

/// Runs `prompts` on a fresh engine with `o`, all submitted at once; returns their outcomes.
inline std::vector<outcome> run_all(const harness_options& o,
                                    const std::vector<std::vector<int32_t>>& prompts,
                                    const runtime::sampling_params& p) {
  auto eng = make_engine(o);
  collector c;
  for (size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(eng->submit(prompts[i], p, c.sink(i)).status, runtime::submit_status::ok);
  EXPECT_TRUE(c.wait());
  return c.results();
}

/// Deterministic pseudo-random prompt of `n` tokens (BOS first).
inline std::vector<int32_t> prompt_of(int n, uint32_t salt) {
  std::vector<int32_t> t{1};
  uint32_t x = salt * 2654435761u + 12345u;
  while (static_cast<int>(t.size()) < n) {
    x = x * 1664525u + 1013904223u;
    t.push_back(static_cast<int32_t>(3 + (x >> 8) % 509));
  }
  return t;
}

}  // namespace spillway::engine::test
