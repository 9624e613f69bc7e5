#include "upstream-engine/runtime/scheduler.hpp"

#include <algorithm>

namespace spillway::engine::runtime {

const char* to_string(finish_reason r) noexcept {
  switch (r) {
    case finish_reason::none:
      return "none";
    case finish_reason::stop:
      return "stop";
    case finish_reason::length:
      return "length";
    case finish_reason::abort:
      return "abort";
    case finish_reason::error:
      return "error";
  }
  return "none";
}

namespace {
double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

scheduler::scheduler(scheduler_config cfg, block_pool& pool, const model::tokenizer& tok,
                     engine_metrics& metrics, const clock_source& clock)
    : cfg_(cfg), pool_(pool), tok_(tok), metrics_(metrics), clock_(clock) {
  cfg_.max_batch = std::max(1, cfg_.max_batch);
  cfg_.max_step_tokens = std::max(cfg_.max_step_tokens, cfg_.max_batch);
  metrics_.kv_blocks_total.store(pool_.num_blocks(), std::memory_order_relaxed);
}

void scheduler::add(std::unique_ptr<sequence> seq) {
  waiting_.push_back(std::move(seq));
}

void scheduler::release_blocks(sequence& seq) {
  for (int32_t b : seq.blocks) pool_.release(b);
  seq.blocks.clear();
  seq.hashes.clear();
  seq.computed = 0;
}

void scheduler::finish(sequence& seq, finish_reason why, std::string text, std::string error,
                       int32_t token) {
  generation_event ev;
  ev.text = std::move(text);
  ev.token = token;
  ev.finish = why;
  ev.prompt_tokens = seq.prompt_len;
  ev.completion_tokens = seq.generated;
  ev.cached_tokens = seq.cached_tokens;
  ev.error = std::move(error);
  release_blocks(seq);
  // Gauges first, so whoever the event wakes already sees the sequence gone.
  const bool was_running =
      std::any_of(running_.begin(), running_.end(), [&](const auto& s) { return s.get() == &seq; });
  (was_running ? metrics_.running : metrics_.waiting).fetch_sub(1, std::memory_order_relaxed);
  update_gauges();
  switch (why) {
    case finish_reason::stop:
      metrics_.finished_stop.fetch_add(1, std::memory_order_relaxed);
      break;
    case finish_reason::length:
      metrics_.finished_length.fetch_add(1, std::memory_order_relaxed);
      break;
    case finish_reason::abort:
      metrics_.finished_abort.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      metrics_.finished_error.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  if (why == finish_reason::stop || why == finish_reason::length)
    metrics_.e2e.observe(seconds(clock_.now() - seq.arrival));
  if (seq.sink) seq.sink(std::move(ev));
  seq.sink = nullptr;
  finished_.push_back(&seq);
}

void scheduler::retire_finished() {
  if (finished_.empty()) return;
  auto gone = [&](const std::unique_ptr<sequence>& s) {
    return std::find(finished_.begin(), finished_.end(), s.get()) != finished_.end();
  };
  std::erase_if(running_, gone);
  std::erase_if(waiting_, gone);
  finished_.clear();
  update_gauges();
}

void scheduler::update_gauges() {
  metrics_.kv_blocks_used.store(pool_.num_used(), std::memory_order_relaxed);
  metrics_.kv_blocks_cached.store(pool_.num_cached(), std::memory_order_relaxed);
}

void scheduler::sweep_cancelled() {
  for (auto& s : running_)
    if (s->handle && s->handle->cancelled.load(std::memory_order_relaxed))
      finish(*s, finish_reason::abort, {});
  for (auto& s : waiting_)
    if (s->handle && s->handle->cancelled.load(std::memory_order_relaxed))
      finish(*s, finish_reason::abort, {});
  retire_finished();
}

void scheduler::fail_all(const std::string& error) {
  for (auto& s : running_) finish(*s, finish_reason::error, {}, error);
  for (auto& s : waiting_) finish(*s, finish_reason::error, {}, error);
  retire_finished();
}

void scheduler::preempt(sequence& victim) {
  release_blocks(victim);
  metrics_.preemptions.fetch_add(1, std::memory_order_relaxed);
  auto it = std::find_if(running_.begin(), running_.end(),
                         [&](const auto& s) { return s.get() == &victim; });
  if (it == running_.end()) return;
  waiting_.push_front(std::move(*it));
  running_.erase(it);
  metrics_.running.fetch_sub(1, std::memory_order_relaxed);
  metrics_.waiting.fetch_add(1, std::memory_order_relaxed);
}

bool scheduler::ensure_blocks(sequence& seq, int tokens) {
  const int bs = pool_.block_size();
  while (static_cast<int>(seq.blocks.size()) * bs < tokens) {
    const int32_t b = pool_.allocate();
    if (b >= 0) {
      seq.blocks.push_back(b);
      continue;
    }
    sequence& victim = *running_.back();
    preempt(victim);
    if (&victim == &seq) return false;
  }
  return true;
}

int scheduler::fit_blocks(sequence& seq, int count) {
  const int bs = pool_.block_size();
  const int want = seq.computed + count;
  while (static_cast<int>(seq.blocks.size()) * bs < want) {
    const int32_t b = pool_.allocate();
    if (b < 0) break;
    seq.blocks.push_back(b);
  }
  return std::min(count, static_cast<int>(seq.blocks.size()) * bs - seq.computed);
}

const std::vector<scheduled>& scheduler::schedule() {
  plan_.clear();
  int budget = cfg_.max_step_tokens;

  // 1. One decode token for every running sequence that has finished its prompt.
  for (size_t i = 0; i < running_.size(); ++i) {
    sequence& s = *running_[i];
    if (s.remaining() != 1) continue;
    if (!ensure_blocks(s, s.computed + 1)) break;  // s itself was preempted: it was the youngest
    plan_.push_back({&s, s.computed, 1, true});
    --budget;
  }
  // 2. Chunks of prompts already running.
  for (auto& p : running_) {
    sequence& s = *p;
    if (budget <= 0) break;
    if (s.remaining() <= 1) continue;
    const int n = fit_blocks(s, std::min(s.remaining(), budget));
    if (n <= 0) continue;
    plan_.push_back({&s, s.computed, n, n == s.remaining()});
    budget -= n;
  }
  // 3. Admit waiting sequences in order while batch, budget and blocks allow.
  while (!waiting_.empty() && budget > 0 && static_cast<int>(running_.size()) < cfg_.max_batch) {
    sequence& s = *waiting_.front();
    if (pool_.prefix_caching() && s.blocks.empty()) {
      // At least one token must be computed to produce logits, so the last token never hits.
      const int max_hit = (static_cast<int>(s.tokens.size()) - 1) / pool_.block_size();
      const int hits = pool_.acquire_prefix(s.tokens, max_hit, s.blocks, s.hashes);
      s.computed = hits * pool_.block_size();
      metrics_.prefix_queries.fetch_add(s.tokens.size(), std::memory_order_relaxed);
      metrics_.prefix_hits.fetch_add(static_cast<uint64_t>(s.computed), std::memory_order_relaxed);
    }
    const int n = fit_blocks(s, std::min(s.remaining(), budget));
    if (n <= 0) {
      release_blocks(s);  // give back prefix hits; try again next step
      break;
    }
    if (!s.admitted_once) {
      s.admitted_once = true;
      s.cached_tokens = s.computed;
      metrics_.prompt_tokens.fetch_add(static_cast<uint64_t>(s.prompt_len),
                                       std::memory_order_relaxed);
      metrics_.queue_time.observe(seconds(clock_.now() - s.arrival));
    }
    plan_.push_back({&s, s.computed, n, n == s.remaining()});
    budget -= n;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    metrics_.waiting.fetch_sub(1, std::memory_order_relaxed);
    metrics_.running.fetch_add(1, std::memory_order_relaxed);
  }
  // Prompts can hold every block between them with none able to grow: preempt the youngest
  // until one of them fits (with nothing running, the head of the queue always fits).
  if (plan_.empty() && !running_.empty()) {
    preempt(*running_.back());
    return schedule();
  }
  build_batch();
  update_gauges();
  return plan_;
}

void scheduler::build_batch() {
  batch_.clear();
  for (size_t k = 0; k < plan_.size(); ++k) {
    const scheduled& item = plan_[k];
    const sequence& s = *item.seq;
    batch_.table_offset.push_back(static_cast<int32_t>(batch_.block_table.size()));
    batch_.block_table.insert(batch_.block_table.end(), s.blocks.begin(), s.blocks.end());
    for (int i = 0; i < item.count; ++i) {
      batch_.tokens.push_back(s.tokens[static_cast<size_t>(item.start + i)]);
      batch_.pos.push_back(item.start + i);
      batch_.seq.push_back(static_cast<int32_t>(k));
    }
    if (item.sample) {
      batch_.logit_rows.push_back(static_cast<int32_t>(batch_.tokens.size() - 1));
      batch_.want_logits.push_back(s.params.temperature > 0.0f ? 1 : 0);
    }
  }
}

void scheduler::publish_full_blocks(sequence& seq) {
  if (!pool_.prefix_caching()) return;
  const size_t bs = static_cast<size_t>(pool_.block_size());
  const std::span<const int32_t> all(seq.tokens);
  while (seq.hashes.size() < static_cast<size_t>(seq.computed) / bs) {
    const size_t i = seq.hashes.size();
    const uint64_t parent = i == 0 ? root_block_hash : seq.hashes.back();
    const std::span<const int32_t> chunk = all.subspan(i * bs, bs);
    const uint64_t h = hash_block(parent, chunk);
    pool_.publish(seq.blocks[i], h, parent, chunk);
    seq.hashes.push_back(h);
  }
}

void scheduler::append_token(sequence& s, int32_t token) {
  const int32_t prev = s.tokens.back();
  s.tokens.push_back(token);
  ++s.generated;
  metrics_.generation_tokens.fetch_add(1, std::memory_order_relaxed);
  if (s.generated == 1) {
    s.first_token = clock_.now();
    metrics_.ttft.observe(seconds(s.first_token - s.arrival));
  }
  if (token == model::token_eos && !s.params.ignore_eos) {
    finish(s, finish_reason::stop, s.text.flush(), {}, token);
    return;
  }
  bool stopped = false;
  std::string text = s.text.push(tok_.decode(prev, token), stopped);
  if (stopped) {
    finish(s, finish_reason::stop, std::move(text), {}, token);
    return;
  }
  if (s.generated >= s.params.max_tokens || static_cast<int>(s.tokens.size()) >= cfg_.seq_len) {
    text += s.text.flush();
    finish(s, finish_reason::length, std::move(text), {}, token);
    return;
  }
  generation_event ev;
  ev.text = std::move(text);
  ev.token = token;
  ev.prompt_tokens = s.prompt_len;
  ev.completion_tokens = s.generated;
  ev.cached_tokens = s.cached_tokens;
  if (s.sink) s.sink(std::move(ev));
}

void scheduler::complete(std::span<const float> logits, std::span<const int32_t> argmax) {
  const size_t vocab = static_cast<size_t>(tok_.vocab_size());
  size_t row = 0;
  metrics_.steps.fetch_add(1, std::memory_order_relaxed);
  metrics_.step_tokens.fetch_add(batch_.tokens.size(), std::memory_order_relaxed);
  for (const scheduled& item : plan_) {
    sequence& s = *item.seq;
    s.computed += item.count;
    publish_full_blocks(s);
    if (!item.sample) continue;
    const size_t r = row++;
    int32_t token = argmax[r];
    if (s.params.temperature > 0.0f)
      token = sampler_.sample(logits.subspan(r * vocab, vocab), s.params.temperature,
                              s.params.top_p, s.rng);
    append_token(s, token);
  }
  plan_.clear();
  retire_finished();
}

}  // namespace spillway::engine::runtime
