#include "upstream-engine/runtime/engine.hpp"

#include <random>

#include "common/log.hpp"

namespace spillway::engine::runtime {

engine::engine(engine_config cfg, const clock_source& clock) : cfg_(cfg), clock_(clock) {
  std::random_device rd;
  seed_base_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

engine::~engine() {
  stop();
}

void engine::start(std::unique_ptr<backend> be, const model::tokenizer& tok) {
  backend_ = std::move(be);
  tok_ = &tok;
  const kv_geometry g = backend_->geometry();
  pool_ = std::make_unique<block_pool>(g.num_blocks, g.block_size, cfg_.prefix_caching);
  scheduler_config sc;
  sc.max_batch = cfg_.max_batch;
  sc.max_step_tokens = cfg_.max_step_tokens;
  sc.seq_len = backend_->config().seq_len;
  sched_ = std::make_unique<scheduler>(sc, *pool_, tok, metrics_, clock_);
  thread_ = std::thread([this] { loop(); });
  ready_.store(true, std::memory_order_release);
}

void engine::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

submit_result engine::submit(std::vector<int32_t> prompt, sampling_params params, event_sink sink) {
  submit_result r;
  if (failed()) {
    r.status = submit_status::failed;
    return r;
  }
  if (!ready()) {
    metrics_.rejected_loading.fetch_add(1, std::memory_order_relaxed);
    r.status = submit_status::loading;
    return r;
  }
  int64_t waiting = metrics_.waiting.load(std::memory_order_relaxed);
  do {
    if (waiting >= cfg_.max_queue) {
      metrics_.rejected_queue_full.fetch_add(1, std::memory_order_relaxed);
      r.status = submit_status::queue_full;
      return r;
    }
  } while (
      !metrics_.waiting.compare_exchange_weak(waiting, waiting + 1, std::memory_order_relaxed));

  auto seq = std::make_unique<sequence>();
  seq->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  seq->handle = std::make_shared<request_handle>();
  seq->handle->id = seq->id;
  seq->sink = std::move(sink);
  seq->rng.reseed(params.has_seed ? params.seed : seed_base_ ^ (seq->id * 0x9e3779b97f4a7c15ULL));
  seq->text = text_stream(params.stop);
  seq->params = std::move(params);
  seq->prompt_len = static_cast<int>(prompt.size());
  seq->tokens = std::move(prompt);
  seq->arrival = clock_.now();
  r.handle = seq->handle;
  {
    std::lock_guard lock(mu_);
    inbox_.push_back(std::move(seq));
  }
  cv_.notify_one();
  return r;
}

void engine::cancel(const std::shared_ptr<request_handle>& handle) {
  if (!handle) return;
  handle->cancelled.store(true, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    cancel_pending_ = true;
  }
  cv_.notify_one();
}

void engine::set_paused(bool paused) {
  {
    std::lock_guard lock(mu_);
    paused_ = paused;
  }
  cv_.notify_one();
}

void engine::loop() {
  for (;;) {
    bool sweep = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        return stopping_ || cancel_pending_ ||
               (!paused_ && (!inbox_.empty() || sched_->has_work()));
      });
      if (stopping_) break;
      for (auto& s : inbox_) sched_->add(std::move(s));
      inbox_.clear();
      sweep = cancel_pending_;
      cancel_pending_ = false;
    }
    if (sweep) sched_->sweep_cancelled();
    bool paused;
    {
      std::lock_guard lock(mu_);
      paused = paused_;
    }
    if (!paused && sched_->has_work()) step();
  }
  {
    std::lock_guard lock(mu_);
    for (auto& s : inbox_) sched_->add(std::move(s));
    inbox_.clear();
  }
  sched_->fail_all("engine shutting down");
}

void engine::step() {
  const auto& plan = sched_->schedule();
  if (plan.empty()) return;
  const batch_input& in = sched_->batch();
  const size_t rows = in.logit_rows.size();
  logits_.resize(rows * static_cast<size_t>(backend_->config().vocab_size));
  argmax_.resize(rows);
  const auto t0 = std::chrono::steady_clock::now();
  std::string err = backend_->forward(in, logits_, argmax_);
  if (!err.empty()) {
    log::error("engine: {} backend failed: {}", backend_->name(), err);
    sched_->fail_all("inference backend failed: " + err);
    return;
  }
  if (cfg_.slowdown > 1.0) {
    const auto spent = std::chrono::steady_clock::now() - t0;
    std::this_thread::sleep_for(
        std::chrono::duration_cast<std::chrono::nanoseconds>(spent * (cfg_.slowdown - 1.0)));
  }
  sched_->complete(logits_, argmax_);
}

}  // namespace spillway::engine::runtime
