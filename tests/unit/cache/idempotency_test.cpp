// Idempotency records: key derivation, body fingerprints and the conflict rule, the record's
// fingerprint through Redis serialization, and the counters.
#include "cache/idempotency.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cache/cache_key.hpp"
#include "cache/entry.hpp"

namespace spillway::cache {
namespace {

using vary = std::vector<std::optional<std::string_view>>;

std::string key_of(std::string_view route, std::string_view method, std::string_view target,
                   std::string_view k, const vary& v) {
  return idempotency_key(route, {method, target, k, v});
}

TEST(IdempotencyKey, SameRequestSameKeyUnderRoutePrefix) {
  const vary v{"Bearer a"};
  const auto a = key_of("chat", "POST", "/v1/chat", "k1", v);
  EXPECT_EQ(a, key_of("chat", "POST", "/v1/chat", "k1", v));
  EXPECT_EQ(a.rfind(idempotency_prefix("chat"), 0), 0u);
  EXPECT_EQ(idempotency_prefix("chat"), "idem:chat:");
  EXPECT_EQ(a.size(), idempotency_prefix("chat").size() + 64);
}

TEST(IdempotencyKey, EveryPartChangesTheKey) {
  const vary v{"Bearer a"};
  const auto base = key_of("chat", "POST", "/v1/chat", "k1", v);
  EXPECT_NE(base, key_of("other", "POST", "/v1/chat", "k1", v));
  EXPECT_NE(base, key_of("chat", "PUT", "/v1/chat", "k1", v));
  EXPECT_NE(base, key_of("chat", "POST", "/v1/chat?x=1", "k1", v));
  EXPECT_NE(base, key_of("chat", "POST", "/v1/chat", "k2", v));
  EXPECT_NE(base, key_of("chat", "POST", "/v1/chat", "k1", vary{"Bearer b"}));
}

TEST(IdempotencyKey, PartsCannotRunIntoEachOther) {
  // Without length prefixes "/a" + "bc" and "/ab" + "c" would hash alike.
  EXPECT_NE(key_of("r", "POST", "/a", "bc", {}), key_of("r", "POST", "/ab", "c", {}));
  // An absent tenant header is not the empty one.
  EXPECT_NE(key_of("r", "POST", "/", "k", vary{std::nullopt}),
            key_of("r", "POST", "/", "k", vary{""}));
}

TEST(BodyFacts, CanonicalJsonFingerprint) {
  const auto a = read_body_facts(R"({"temperature": 0.9, "model": "m"})");
  const auto b = read_body_facts("{\n  \"model\":\"m\",\"temperature\":0.90}");
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_NE(a.fingerprint, read_body_facts(R"({"model": "m", "temperature": 1})").fingerprint);
  EXPECT_FALSE(a.stream);
  // Not JSON: the bytes themselves; an empty body has a fingerprint too.
  EXPECT_EQ(read_body_facts("abc").fingerprint, sha256_hex("abc"));
  EXPECT_NE(read_body_facts("abc ").fingerprint, read_body_facts("abc").fingerprint);
  EXPECT_EQ(read_body_facts("").fingerprint, sha256_hex(""));
}

TEST(BodyFacts, StreamFlags) {
  const auto f = read_body_facts(R"({"stream": true, "stream_options": {"include_usage": true}})");
  EXPECT_TRUE(f.stream);
  EXPECT_TRUE(f.include_usage);
  EXPECT_FALSE(read_body_facts(R"({"stream": false})").stream);
}

TEST(IdempotencyConflict, RecordOfAnotherBodyConflicts) {
  entry e;
  e.request_hash = read_body_facts(R"({"a": 1})").fingerprint;
  EXPECT_FALSE(idempotency_conflict(e, read_body_facts(R"({ "a" : 1 })").fingerprint));
  EXPECT_TRUE(idempotency_conflict(e, read_body_facts(R"({"a": 2})").fingerprint));
  entry plain;  // a record always carries a fingerprint; one without never matches
  EXPECT_TRUE(idempotency_conflict(plain, e.request_hash));
}

TEST(IdempotencyRecord, FingerprintSurvivesSerialization) {
  entry e;
  e.content_type = "application/json";
  e.body = R"({"x":1})";
  e.ttl = std::chrono::milliseconds(60000);
  e.request_hash = sha256_hex("body");
  entry back;
  ASSERT_FALSE(deserialize(serialize(e), back));
  EXPECT_EQ(back.request_hash, e.request_hash);
  EXPECT_EQ(back.body, e.body);
  // A cache entry (no fingerprint) keeps its old form.
  e.request_hash.clear();
  const auto bytes = serialize(e);
  ASSERT_FALSE(deserialize(bytes, back));
  EXPECT_TRUE(back.request_hash.empty());
  // Trailing garbage after the fingerprint is still refused.
  e.request_hash = "h";
  EXPECT_TRUE(deserialize(serialize(e) + "x", back));
}

TEST(IdempotencyCounters, PerRouteAndResult) {
  idempotency_counters c;
  c.count("chat", idempotency_result::stored);
  c.count("chat", idempotency_result::replayed);
  c.count("chat", idempotency_result::replayed);
  c.count("embed", idempotency_result::conflict);
  const auto rows = c.snapshot();
  ASSERT_EQ(rows.size(), 2u);
  const auto& chat = rows.at("chat");
  EXPECT_EQ(chat[static_cast<size_t>(idempotency_result::stored)], 1u);
  EXPECT_EQ(chat[static_cast<size_t>(idempotency_result::replayed)], 2u);
  EXPECT_EQ(chat[static_cast<size_t>(idempotency_result::conflict)], 0u);
  EXPECT_EQ(rows.at("embed")[static_cast<size_t>(idempotency_result::conflict)], 1u);
  EXPECT_EQ(to_string(idempotency_result::waited), "waited");
}

}  // namespace
}  // namespace spillway::cache
