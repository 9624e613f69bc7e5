// Paged KV bookkeeping: allocation, reference counts, prefix-cache hits and LRU eviction.
#include <gtest/gtest.h>

#include <numeric>

#include "upstream-engine/runtime/block_pool.hpp"

namespace spillway::engine::runtime {
namespace {

std::vector<int32_t> toks(int start, int n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Publishes `tokens` (whole blocks) in freshly allocated blocks, as one sequence would.
std::vector<int32_t> publish_all(block_pool& pool, const std::vector<int32_t>& tokens) {
  std::vector<int32_t> blocks;
  uint64_t parent = root_block_hash;
  const size_t bs = static_cast<size_t>(pool.block_size());
  for (size_t i = 0; (i + 1) * bs <= tokens.size(); ++i) {
    const int32_t b = pool.allocate();
    EXPECT_GE(b, 0);
    const std::span<const int32_t> chunk(tokens.data() + i * bs, bs);
    const uint64_t h = hash_block(parent, chunk);
    pool.publish(b, h, parent, chunk);
    parent = h;
    blocks.push_back(b);
  }
  return blocks;
}

TEST(BlockPool, AllocatesUntilFullAndCountsReferences) {
  block_pool pool(4, 2, false);
  std::vector<int32_t> got;
  for (int i = 0; i < 4; ++i) got.push_back(pool.allocate());
  EXPECT_EQ(pool.allocate(), -1);
  EXPECT_EQ(pool.num_used(), 4);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2, 3}));
  pool.release(got[2]);
  EXPECT_EQ(pool.num_used(), 3);
  EXPECT_EQ(pool.allocate(), got[2]);
}

TEST(BlockPool, PrefixHitsShareBlocksAndStopAtTheFirstMiss) {
  block_pool pool(8, 4, true);
  const auto prompt = toks(100, 12);
  const auto blocks = publish_all(pool, prompt);
  ASSERT_EQ(blocks.size(), 3u);

  auto other = prompt;
  other[9] = 7;  // differs in the third block
  std::vector<int32_t> hit;
  std::vector<uint64_t> hashes;
  EXPECT_EQ(pool.acquire_prefix(other, 10, hit, hashes), 2);
  EXPECT_EQ(hit, (std::vector<int32_t>{blocks[0], blocks[1]}));
  EXPECT_EQ(pool.ref_count(blocks[0]), 2);
  EXPECT_EQ(pool.ref_count(blocks[2]), 1);

  // The cap on hit blocks is respected.
  std::vector<int32_t> capped;
  std::vector<uint64_t> capped_hashes;
  EXPECT_EQ(pool.acquire_prefix(prompt, 1, capped, capped_hashes), 1);

  // A different first block misses entirely, even if later blocks match.
  auto shifted = prompt;
  shifted[0] = 1;
  std::vector<int32_t> none;
  std::vector<uint64_t> none_hashes;
  EXPECT_EQ(pool.acquire_prefix(shifted, 10, none, none_hashes), 0);
}

TEST(BlockPool, UnreferencedCachedBlocksSurviveUntilEvictedLeastRecentlyUsedFirst) {
  block_pool pool(4, 2, true);
  const auto a = toks(10, 2), b = toks(20, 2);
  const auto ba = publish_all(pool, a);
  const auto bb = publish_all(pool, b);
  pool.release(ba[0]);  // a becomes least recently used
  pool.release(bb[0]);
  EXPECT_EQ(pool.num_used(), 0);
  EXPECT_EQ(pool.num_cached(), 2);

  // Two plain free blocks are used before any cached one is evicted.
  const int32_t x = pool.allocate(), y = pool.allocate();
  EXPECT_EQ(pool.num_cached(), 2);
  const int32_t z = pool.allocate();  // evicts a
  EXPECT_EQ(z, ba[0]);
  EXPECT_EQ(pool.num_cached(), 1);
  std::vector<int32_t> hit;
  std::vector<uint64_t> hashes;
  EXPECT_EQ(pool.acquire_prefix(a, 4, hit, hashes), 0);
  EXPECT_EQ(pool.acquire_prefix(b, 4, hit, hashes), 1);
  EXPECT_EQ(hit, (std::vector<int32_t>{bb[0]}));
  EXPECT_EQ(pool.num_used(), 4);  // x, y, z and the re-referenced b
  EXPECT_EQ(pool.allocate(), -1);
  (void)x;
  (void)y;
}

TEST(BlockPool, AHitIsVerifiedAgainstTheStoredTokens) {
  block_pool pool(4, 2, true);
  const auto real = toks(1, 2), claimed = toks(50, 2);
  const int32_t b = pool.allocate();
  // Published under the hash of other tokens, as a hash collision would look.
  pool.publish(b, hash_block(root_block_hash, claimed), root_block_hash, real);
  std::vector<int32_t> hit;
  std::vector<uint64_t> hashes;
  EXPECT_EQ(pool.acquire_prefix(claimed, 4, hit, hashes), 0);
}

TEST(BlockPool, DuplicatePublishKeepsTheFirstBlock) {
  block_pool pool(4, 2, true);
  const auto t = toks(5, 2);
  const auto first = publish_all(pool, t);
  const auto second = publish_all(pool, t);
  EXPECT_EQ(pool.num_cached(), 1);
  std::vector<int32_t> hit;
  std::vector<uint64_t> hashes;
  ASSERT_EQ(pool.acquire_prefix(t, 4, hit, hashes), 1);
  EXPECT_EQ(hit[0], first[0]);
  pool.release(second[0]);  // unpublished: plainly free again
  EXPECT_EQ(pool.num_cached(), 1);
}

TEST(BlockHash, ChainsOnTheParent) {
  const auto t = toks(3, 4);
  EXPECT_EQ(hash_block(1, t), hash_block(1, t));
  EXPECT_NE(hash_block(1, t), hash_block(2, t));
  EXPECT_NE(hash_block(1, t), hash_block(1, toks(4, 4)));
  EXPECT_NE(hash_block(1, t), hash_block(1, std::span<const int32_t>(t).first(3)));
}

}  // namespace
}  // namespace spillway::engine::runtime
