#include "upstream-engine/runtime/block_pool.hpp"

#include <algorithm>
#include <cstring>

namespace spillway::engine::runtime {

uint64_t hash_block(uint64_t parent, std::span<const int32_t> tokens) noexcept {
  // splitmix64 finaliser folded over the tokens; the length is mixed in so a short block never
  // matches a longer one.
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  uint64_t h = mix(parent + 0x9e3779b97f4a7c15ULL * (tokens.size() + 1));
  for (int32_t t : tokens)
    h = mix(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ULL));
  return h;
}

block_pool::block_pool(int num_blocks, int block_size, bool prefix_caching)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      prefix_caching_(prefix_caching),
      meta_(static_cast<size_t>(num_blocks)),
      tokens_(prefix_caching ? static_cast<size_t>(num_blocks) * block_size : 0) {
  for (int32_t b = 0; b < num_blocks; ++b) push_back(b);
}

void block_pool::unlink(int32_t b) {
  block_meta& m = meta_[static_cast<size_t>(b)];
  if (!m.queued) return;
  if (m.prev >= 0)
    meta_[static_cast<size_t>(m.prev)].next = m.next;
  else
    head_ = m.next;
  if (m.next >= 0)
    meta_[static_cast<size_t>(m.next)].prev = m.prev;
  else
    tail_ = m.prev;
  m.prev = m.next = -1;
  m.queued = false;
}

void block_pool::push_back(int32_t b) {
  block_meta& m = meta_[static_cast<size_t>(b)];
  m.prev = tail_;
  m.next = -1;
  if (tail_ >= 0)
    meta_[static_cast<size_t>(tail_)].next = b;
  else
    head_ = b;
  tail_ = b;
  m.queued = true;
}

void block_pool::push_front(int32_t b) {
  block_meta& m = meta_[static_cast<size_t>(b)];
  m.prev = -1;
  m.next = head_;
  if (head_ >= 0)
    meta_[static_cast<size_t>(head_)].prev = b;
  else
    tail_ = b;
  head_ = b;
  m.queued = true;
}

void block_pool::unpublish(int32_t b) {
  block_meta& m = meta_[static_cast<size_t>(b)];
  if (!m.published) return;
  by_hash_.erase(m.hash);
  m.published = false;
}

std::span<const int32_t> block_pool::tokens_of(int32_t b) const {
  return {tokens_.data() + static_cast<size_t>(b) * block_size_, static_cast<size_t>(block_size_)};
}

int32_t block_pool::allocate() {
  if (head_ < 0) return -1;
  const int32_t b = head_;
  unlink(b);
  unpublish(b);  // eviction of the least recently used cached block
  meta_[static_cast<size_t>(b)].refs = 1;
  ++used_;
  return b;
}

void block_pool::release(int32_t b) {
  block_meta& m = meta_[static_cast<size_t>(b)];
  if (m.refs <= 0) return;
  if (--m.refs > 0) return;
  --used_;
  if (m.published)
    push_back(b);
  else
    push_front(b);
}

int block_pool::acquire_prefix(std::span<const int32_t> tokens, int max_blocks,
                               std::vector<int32_t>& blocks, std::vector<uint64_t>& hashes) {
  if (!prefix_caching_) return 0;
  const size_t bs = static_cast<size_t>(block_size_);
  int hits = 0;
  uint64_t parent = hashes.empty() ? root_block_hash : hashes.back();
  for (size_t i = blocks.size(); static_cast<int>(i) < max_blocks && (i + 1) * bs <= tokens.size();
       ++i) {
    const std::span<const int32_t> chunk = tokens.subspan(i * bs, bs);
    const uint64_t h = hash_block(parent, chunk);
    auto it = by_hash_.find(h);
    if (it == by_hash_.end()) break;
    const int32_t b = it->second;
    const block_meta& m = meta_[static_cast<size_t>(b)];
    const std::span<const int32_t> stored = tokens_of(b);
    if (m.parent != parent || !std::equal(stored.begin(), stored.end(), chunk.begin())) break;
    if (meta_[static_cast<size_t>(b)].refs++ == 0) {
      unlink(b);
      ++used_;
    }
    blocks.push_back(b);
    hashes.push_back(h);
    parent = h;
    ++hits;
  }
  return hits;
}

void block_pool::publish(int32_t b, uint64_t hash, uint64_t parent,
                         std::span<const int32_t> tokens) {
  if (!prefix_caching_ || static_cast<int>(tokens.size()) != block_size_) return;
  block_meta& m = meta_[static_cast<size_t>(b)];
  if (m.published || by_hash_.count(hash) != 0) return;
  m.published = true;
  m.hash = hash;
  m.parent = parent;
  std::memcpy(tokens_.data() + static_cast<size_t>(b) * block_size_, tokens.data(),
              tokens.size() * sizeof(int32_t));
  by_hash_.emplace(hash, b);
}

}  // namespace spillway::engine::runtime
