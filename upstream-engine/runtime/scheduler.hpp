// Continuous batching (Orca, Yu et al. 2022; vLLM v1 scheduler): at every step running sequences
// first get their decode token, then unfinished prompts get chunks (chunked prefill) from the
// step's token budget, then waiting sequences are admitted in arrival order while the batch,
// the budget and the KV blocks allow. Prompts reuse cached prefix blocks on admission. When a
// decode needs a block and none is free, the most recently admitted sequence is preempted: its
// blocks are released (published ones stay cached) and it goes back to the head of the queue
// to be recomputed later. Finished and cancelled sequences leave the batch at once.
// Scheduler thread only; no locks.
#pragma once

#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "common/clock.hpp"
#include "upstream-engine/model/tokenizer.hpp"
#include "upstream-engine/runtime/backend.hpp"
#include "upstream-engine/runtime/block_pool.hpp"
#include "upstream-engine/runtime/metrics.hpp"
#include "upstream-engine/runtime/sampler.hpp"
#include "upstream-engine/runtime/sequence.hpp"

namespace spillway::engine::runtime {

struct scheduler_config {
  int max_batch = 32;         // running sequences at most
  int max_step_tokens = 256;  // tokens per step (decodes + prefill chunks); raised to max_batch
  int seq_len = 256;          // model context
};

/// One sequence's share of a step: tokens [start, start + count) of its token list.
struct scheduled {
  sequence* seq;
  int start;
  int count;
  bool sample;  // the chunk reaches the end of the tokens: sample the next one
};

class scheduler {
 public:
  scheduler(scheduler_config cfg, block_pool& pool, const model::tokenizer& tok,
            engine_metrics& metrics, const clock_source& clock);

  /// Queues a new sequence behind the waiting ones.
  void add(std::unique_ptr<sequence> seq);
  /// Ends every sequence whose handle is cancelled, releasing its blocks.
  void sweep_cancelled();
  /// Ends every sequence with an error event (backend failure, shutdown).
  void fail_all(const std::string& error);

  bool has_work() const noexcept { return !running_.empty() || !waiting_.empty(); }
  size_t num_waiting() const noexcept { return waiting_.size(); }
  size_t num_running() const noexcept { return running_.size(); }

  /// Plans the next step; an empty plan means there is nothing to run now.
  const std::vector<scheduled>& schedule();
  /// The plan as backend input (valid until the next schedule()).
  const batch_input& batch() const noexcept { return batch_; }
  /// Applies the step's results: advances sequences, samples, emits events, retires finished ones.
  void complete(std::span<const float> logits, std::span<const int32_t> argmax);

 private:
  bool ensure_blocks(sequence& seq, int tokens);
  int fit_blocks(sequence& seq, int count);
  void preempt(sequence& victim);
  void release_blocks(sequence& seq);
  void publish_full_blocks(sequence& seq);
  /// Ends a sequence: frees its blocks, updates the gauges, sends the final event (carrying
  /// the last sampled token, if any) and marks it for removal.
  void finish(sequence& seq, finish_reason why, std::string text, std::string error = {},
              int32_t token = -1);
  void append_token(sequence& seq, int32_t token);
  void retire_finished();
  void update_gauges();
  void build_batch();

  scheduler_config cfg_;
  block_pool& pool_;
  const model::tokenizer& tok_;
  engine_metrics& metrics_;
  const clock_source& clock_;
  sampler sampler_;
  std::deque<std::unique_ptr<sequence>> waiting_;
  std::vector<std::unique_ptr<sequence>> running_;  // in admission order
  std::vector<scheduled> plan_;
  batch_input batch_;
  std::vector<sequence*> finished_;
};

}  // namespace spillway::engine::runtime
