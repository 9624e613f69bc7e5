// Time per forward step of the CPU backend, by process CPU time (which load on a shared machine
// disturbs much less than wall time) and by wall time: decode steps at each batch size (every
// sequence one token per step, positions 0..63 over and over, as in `spillway-engine bench`) and
// prefill steps of a long prompt and of its last quarter alone (what a prefix-cache hit computes).
// Built and run by step_time.sh.
//
//   step_time MODEL THREADS STEPS BATCH...
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/reference/cpu_backend.hpp"

namespace {

using namespace spillway::engine;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct times {
  double cpu_ms, wall_ms;
};

// `tokens` tokens of sequence s at positions start..start+tokens-1, for `seqs` sequences, with
// logits for each sequence's last token.
runtime::batch_input step(int seqs, int tokens, int start, int blocks_per_seq, int vocab) {
  runtime::batch_input in;
  for (int s = 0; s < seqs; ++s) {
    in.table_offset.push_back(static_cast<int32_t>(in.block_table.size()));
    for (int b = 0; b < blocks_per_seq; ++b) in.block_table.push_back(s * blocks_per_seq + b);
    for (int t = 0; t < tokens; ++t) {
      in.tokens.push_back((s * 7919 + (start + t) * 104729) % vocab);
      in.pos.push_back(start + t);
      in.seq.push_back(s);
    }
    in.logit_rows.push_back(static_cast<int32_t>(in.tokens.size() - 1));
    in.want_logits.push_back(1);
  }
  return in;
}

// `steps` steps; a decode step (tokens == 1) at position step % 64, a prefill step at `start`.
times run(reference::cpu_backend& be, int seqs, int tokens, int steps, int blocks_per_seq,
          int start = 0) {
  const int vocab = be.config().vocab_size;
  std::vector<float> logits(static_cast<size_t>(seqs) * vocab);
  std::vector<int32_t> argmax(static_cast<size_t>(seqs));
  std::vector<double> cpu, wall;
  for (int i = 0; i < steps; ++i) {
    const auto in = step(seqs, tokens, tokens > 1 ? start : i % 64, blocks_per_seq, vocab);
    const double c0 = cpu_seconds(), w0 = wall_seconds();
    const std::string err = be.forward(in, logits, argmax);
    const double c1 = cpu_seconds(), w1 = wall_seconds();
    if (!err.empty()) {
      std::fprintf(stderr, "forward: %s\n", err.c_str());
      std::exit(1);
    }
    cpu.push_back((c1 - c0) * 1e3);
    wall.push_back((w1 - w0) * 1e3);
  }
  return {median(cpu), median(wall)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: step_time MODEL THREADS STEPS BATCH...\n");
    return 2;
  }
  std::string err;
  auto ck = model::checkpoint::open(argv[1], err);
  if (!ck) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  const int threads = std::atoi(argv[2]), steps = std::atoi(argv[3]);
  std::vector<int> batches;
  for (int i = 4; i < argc; ++i) batches.push_back(std::atoi(argv[i]));
  const int max_batch = *std::max_element(batches.begin(), batches.end());
  const int seq_len = ck->config().seq_len, block = 16;
  const int blocks_per_seq = (seq_len + block - 1) / block;
  reference::cpu_backend be(*ck, {max_batch * blocks_per_seq, block}, threads);
  run(be, 1, 1, 8, blocks_per_seq);  // warm-up: every weight page touched
  std::printf("| step | CPU ms (median) | wall ms (median) | tokens/s by CPU time |\n");
  std::printf("|---|---|---|---|\n");
  for (int b : batches) {
    const times t = run(be, b, 1, steps, blocks_per_seq);
    std::printf("| decode batch %d | %.3f | %.3f | %.1f |\n", b, t.cpu_ms, t.wall_ms,
                b / t.cpu_ms * 1e3);
  }
  const int prompt = std::min(192, seq_len - 8), tail = prompt / 4;
  const times full = run(be, 1, prompt, 5, blocks_per_seq);
  std::printf("| prefill %d tokens | %.3f | %.3f | %.1f |\n", prompt, full.cpu_ms, full.wall_ms,
              prompt / full.cpu_ms * 1e3);
  // The tail of the same prompt after its first 75% (a prefix-cache hit).
  const times part = run(be, 1, tail, 5, blocks_per_seq, prompt - tail);
  std::printf("| prefill %d tokens at %d..%d | %.3f | %.3f | %.1f |\n", tail, prompt - tail,
              prompt - 1, part.cpu_ms, part.wall_ms, tail / part.cpu_ms * 1e3);
  return 0;
}
