// The runtime end to end on the tiny model's CPU backend: greedy tokens do not depend on
// batching, paging, prefix-cache hits, chunking or preemption; queue bound, cancellation,
// stop conditions and sampling.
#include <gtest/gtest.h>

#include "tests/engine/engine_harness.hpp"

namespace spillway::engine::test {
namespace {

using runtime::finish_reason;
using runtime::submit_status;

std::vector<std::vector<int32_t>> mixed_prompts() {
  return {prompt_of(3, 1), prompt_of(17, 2), prompt_of(40, 3), prompt_of(9, 4), prompt_of(26, 5)};
}

std::vector<std::vector<int32_t>> tokens_of(const std::vector<outcome>& r) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& o : r) out.push_back(o.tokens);
  return out;
}

TEST(EngineGreedy, BatchedEqualsOneAtATime) {
  const auto prompts = mixed_prompts();
  harness_options batched;
  const auto together = run_all(batched, prompts, greedy(12));
  harness_options single;
  single.max_batch = 1;
  const auto alone = run_all(single, prompts, greedy(12));
  for (const auto& o : together) {
    EXPECT_EQ(o.tokens.size(), 12u);
    EXPECT_EQ(o.finish, finish_reason::length);
  }
  EXPECT_EQ(tokens_of(together), tokens_of(alone));
  // The outputs are not all the same sequence (the check above could not pass vacuously).
  EXPECT_NE(together[0].tokens, together[1].tokens);
}

TEST(EngineGreedy, PagedEqualsContiguous) {
  const auto prompts = mixed_prompts();
  harness_options paged;  // 4-token blocks, interleaved between sequences
  harness_options contiguous;
  contiguous.block_size = 256;  // one block holds a whole context
  contiguous.num_blocks = 8;
  contiguous.prefix_caching = false;
  EXPECT_EQ(tokens_of(run_all(paged, prompts, greedy(10))),
            tokens_of(run_all(contiguous, prompts, greedy(10))));
}

TEST(EngineGreedy, ChunkedPrefillEqualsWholePrompts) {
  const auto prompts = mixed_prompts();
  harness_options small_steps;
  small_steps.max_step_tokens = 8;
  small_steps.max_batch = 4;
  harness_options big_steps;
  big_steps.max_step_tokens = 512;
  EXPECT_EQ(tokens_of(run_all(small_steps, prompts, greedy(8))),
            tokens_of(run_all(big_steps, prompts, greedy(8))));
}

TEST(EngineGreedy, PrefixCacheHitEqualsMiss) {
  std::vector<int32_t> shared = prompt_of(30, 9);
  auto a = shared, b = shared;
  for (int i = 0; i < 5; ++i) a.push_back(400 + i), b.push_back(300 + i);

  auto eng = make_engine({});
  collector first;
  eng->submit(a, greedy(6), first.sink(0));
  ASSERT_TRUE(first.wait());
  collector second;
  eng->submit(b, greedy(6), second.sink(0));
  ASSERT_TRUE(second.wait());
  const outcome hit = second.results()[0];
  EXPECT_EQ(hit.cached_tokens, 28);  // 7 full 4-token blocks of the shared 30 tokens
  EXPECT_EQ(first.results()[0].cached_tokens, 0);

  harness_options no_cache;
  no_cache.prefix_caching = false;
  const auto miss = run_all(no_cache, {b}, greedy(6));
  EXPECT_EQ(miss[0].cached_tokens, 0);
  EXPECT_EQ(hit.tokens, miss[0].tokens);

  const auto& m = eng->metrics();
  EXPECT_EQ(m.prefix_hits.load(), 28u);
  EXPECT_EQ(m.prefix_queries.load(), a.size() + b.size());
}

TEST(EngineGreedy, WholePromptCachedStillComputesTheLastToken) {
  const auto p = prompt_of(16, 3);  // exactly four blocks
  auto eng = make_engine({});
  collector c1, c2;
  eng->submit(p, greedy(4), c1.sink(0));
  ASSERT_TRUE(c1.wait());
  eng->submit(p, greedy(4), c2.sink(0));
  ASSERT_TRUE(c2.wait());
  EXPECT_EQ(c2.results()[0].cached_tokens, 12);
  EXPECT_EQ(c1.results()[0].tokens, c2.results()[0].tokens);
}

TEST(EngineGreedy, PreemptionUnderBlockPressureKeepsTheTokens) {
  const auto prompts = mixed_prompts();
  harness_options tight;
  tight.num_blocks = 20;  // less than the five sequences need together
  tight.prefix_caching = false;
  auto eng = make_engine(tight);
  collector c;
  for (size_t i = 0; i < prompts.size(); ++i) eng->submit(prompts[i], greedy(24), c.sink(i));
  ASSERT_TRUE(c.wait());
  EXPECT_GT(eng->metrics().preemptions.load(), 0u);
  EXPECT_EQ(eng->metrics().kv_blocks_used.load(), 0);
  harness_options roomy;
  EXPECT_EQ(tokens_of(c.results()), tokens_of(run_all(roomy, prompts, greedy(24))));
}

TEST(Engine, BoundedQueueRefusesWhenFull) {
  harness_options o;
  o.max_queue = 2;
  auto eng = make_engine(o);
  eng->set_paused(true);
  collector c;
  EXPECT_EQ(eng->submit(prompt_of(5, 1), greedy(2), c.sink(0)).status, submit_status::ok);
  EXPECT_EQ(eng->submit(prompt_of(5, 2), greedy(2), c.sink(1)).status, submit_status::ok);
  collector refused;
  EXPECT_EQ(eng->submit(prompt_of(5, 3), greedy(2), nullptr).status, submit_status::queue_full);
  EXPECT_EQ(eng->metrics().waiting.load(), 2);
  EXPECT_EQ(eng->metrics().rejected_queue_full.load(), 1u);
  eng->set_paused(false);
  ASSERT_TRUE(c.wait());
  EXPECT_EQ(eng->metrics().waiting.load(), 0);
  EXPECT_EQ(eng->metrics().running.load(), 0);
}

TEST(Engine, RefusesWhileLoading) {
  runtime::engine eng({});
  EXPECT_EQ(eng.submit({1, 2}, greedy(1), nullptr).status, submit_status::loading);
  EXPECT_FALSE(eng.ready());
}

TEST(Engine, CancelFreesTheBlocks) {
  auto eng = make_engine({});
  collector c;
  std::mutex mu;
  std::condition_variable cv;
  int seen = 0;
  auto inner = c.sink(0);
  auto r = eng->submit(prompt_of(20, 1), greedy(200), [&](runtime::generation_event&& ev) {
    {
      std::lock_guard lock(mu);
      ++seen;
      cv.notify_all();
    }
    inner(std::move(ev));  // last: the final event lets the test end
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return seen >= 2; }));
  }
  eng->set_paused(true);
  EXPECT_GT(eng->metrics().kv_blocks_used.load(), 0);
  eng->cancel(r.handle);
  ASSERT_TRUE(c.wait());
  EXPECT_EQ(c.results()[0].finish, finish_reason::abort);
  EXPECT_LT(c.results()[0].completion_tokens, 200);
  EXPECT_EQ(eng->metrics().kv_blocks_used.load(), 0);
  EXPECT_EQ(eng->metrics().running.load(), 0);
  EXPECT_EQ(eng->metrics().finished_abort.load(), 1u);
}

TEST(Engine, ContinuousBatchingAdmitsNewSequencesWhileOthersDecode) {
  harness_options o;
  o.max_batch = 2;
  auto eng = make_engine(o);
  collector c;
  // Three long generations with room for two: the third joins when one leaves, and the
  // short one finishes long before the long ones.
  eng->submit(prompt_of(5, 1), greedy(40), c.sink(0));
  eng->submit(prompt_of(5, 2), greedy(3), c.sink(1));
  eng->submit(prompt_of(5, 3), greedy(3), c.sink(2));
  ASSERT_TRUE(c.wait());
  const auto& m = eng->metrics();
  // 40 + 3 + 3 tokens in fewer steps than running them one after another would take.
  EXPECT_LT(m.steps.load(), 46u);
  EXPECT_EQ(m.generation_tokens.load(), 46u);
}

TEST(Engine, StopStringEndsGenerationAndIsNotSent) {
  const auto p = prompt_of(6, 4);
  runtime::sampling_params free = greedy(30);
  const auto base = run_all({}, {p}, free)[0];
  ASSERT_GT(base.text.size(), 6u);
  const std::string stop = base.text.substr(base.text.size() / 2, 3);
  runtime::sampling_params with_stop = free;
  with_stop.stop = {stop};
  const auto cut = run_all({}, {p}, with_stop)[0];
  EXPECT_EQ(cut.finish, finish_reason::stop);
  EXPECT_EQ(cut.text, base.text.substr(0, base.text.find(stop)));
  EXPECT_LT(cut.completion_tokens, 30);
}

TEST(Engine, LengthLimitsAndContextEnd) {
  const auto r = run_all({}, {prompt_of(250, 1)}, greedy(100))[0];
  // The context is 256 tokens: generation stops when it is full.
  EXPECT_EQ(r.finish, finish_reason::length);
  EXPECT_EQ(r.completion_tokens, 6);
  EXPECT_EQ(r.prompt_tokens, 250);
}

TEST(Engine, SeededSamplingIsReproducible) {
  runtime::sampling_params p;
  p.temperature = 1.0f;
  p.top_p = 0.9f;
  p.max_tokens = 12;
  p.ignore_eos = true;
  p.has_seed = true;
  p.seed = 77;
  const auto prompt = prompt_of(5, 8);
  const auto a = run_all({}, {prompt, prompt}, p);
  EXPECT_EQ(a[0].tokens, a[1].tokens);
  bool differs = false;
  for (uint64_t seed = 1; seed < 6 && !differs; ++seed) {
    p.seed = seed;
    differs = run_all({}, {prompt}, p)[0].tokens != a[0].tokens;
  }
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace spillway::engine::test
