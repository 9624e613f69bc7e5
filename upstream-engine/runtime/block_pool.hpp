// Paged KV cache bookkeeping (vLLM's PagedAttention block manager, Kwon et al. 2023) with
// automatic prefix caching (vLLM v1 design): a full block is published under a hash of all tokens
// up to its end (hash of the parent block's hash and its own tokens), blocks are reference
// counted, and blocks nobody uses stay cached in an LRU free queue until a new allocation evicts
// them. A hit is verified against the stored parent hash and tokens, so a hash collision can only
// cost a miss. Scheduler thread only; the KV data itself lives in the backend.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace spillway::engine::runtime {

inline constexpr uint64_t root_block_hash = 0x5350494c4c574159ULL;

/// Hash of a block's tokens chained to its parent's hash (root_block_hash for the first block).
uint64_t hash_block(uint64_t parent, std::span<const int32_t> tokens) noexcept;

class block_pool {
 public:
  block_pool(int num_blocks, int block_size, bool prefix_caching);

  int num_blocks() const noexcept { return num_blocks_; }
  int block_size() const noexcept { return block_size_; }
  bool prefix_caching() const noexcept { return prefix_caching_; }
  /// Blocks with a reference (in use by some sequence).
  int num_used() const noexcept { return used_; }
  /// Blocks an allocation can take (free, or cached and unreferenced).
  int num_free() const noexcept { return num_blocks_ - used_; }
  /// Blocks published in the prefix cache (referenced or not).
  int num_cached() const noexcept { return static_cast<int>(by_hash_.size()); }

  /// Takes a block for a sequence (reference count 1), evicting the least recently used cached
  /// block when no plain free block is left. Returns -1 when every block is in use.
  int32_t allocate();
  /// Drops one reference; at zero a published block stays cached (most recently used end of the
  /// LRU queue), an unpublished one becomes plainly free.
  void release(int32_t block);

  /// Longest run of cached full blocks that starts `tokens`, at most `max_blocks` of them. Each
  /// hit gains a reference and is appended to `blocks`, its hash to `hashes`. Returns the count.
  int acquire_prefix(std::span<const int32_t> tokens, int max_blocks, std::vector<int32_t>& blocks,
                     std::vector<uint64_t>& hashes);
  /// Publishes a full, computed block. If the hash is already published (another sequence
  /// computed the same tokens), the block stays private. No-op without prefix caching.
  void publish(int32_t block, uint64_t hash, uint64_t parent, std::span<const int32_t> tokens);

  int ref_count(int32_t block) const { return meta_[static_cast<size_t>(block)].refs; }

 private:
  struct block_meta {
    int refs = 0;
    bool published = false;
    uint64_t hash = 0;
    uint64_t parent = 0;
    int32_t prev = -1;  // free-queue links; -1 when not queued
    int32_t next = -1;
    bool queued = false;
  };

  void unlink(int32_t b);
  void push_back(int32_t b);
  void push_front(int32_t b);
  void unpublish(int32_t b);
  std::span<const int32_t> tokens_of(int32_t b) const;

  int num_blocks_;
  int block_size_;
  bool prefix_caching_;
  int used_ = 0;
  std::vector<block_meta> meta_;
  std::vector<int32_t> tokens_;  // [block][block_size] tokens of published blocks
  int32_t head_ = -1;            // free queue: evict from the head, cached blocks join at the tail
  int32_t tail_ = -1;
  std::unordered_map<uint64_t, int32_t> by_hash_;
};

}  // namespace spillway::engine::runtime
