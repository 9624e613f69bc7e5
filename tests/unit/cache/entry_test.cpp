#include "cache/entry.hpp"

#include <gtest/gtest.h>

namespace spillway::cache {
namespace {

using namespace std::chrono_literals;

TEST(entry, kind_of_content_types) {
  EXPECT_EQ(kind_of("application/json"), body_kind::json);
  EXPECT_EQ(kind_of("Application/JSON; charset=utf-8"), body_kind::json);
  EXPECT_EQ(kind_of("application/problem+json"), body_kind::json);
  EXPECT_EQ(kind_of("text/event-stream"), body_kind::sse);
  EXPECT_EQ(kind_of(" text/event-stream ; charset=utf-8"), body_kind::sse);
  EXPECT_FALSE(kind_of("text/plain"));
  EXPECT_FALSE(kind_of("+json"));
  EXPECT_FALSE(kind_of(""));
}

TEST(entry, storable_head_rules) {
  EXPECT_TRUE(storable_head(200, "application/json", "", std::nullopt, 100));
  EXPECT_TRUE(storable_head(201, "text/event-stream", "identity", std::nullopt, 100));
  EXPECT_TRUE(storable_head(200, "application/json", "", 100, 100));
  EXPECT_FALSE(storable_head(200, "application/json", "", 101, 100));
  EXPECT_FALSE(storable_head(200, "application/json", "gzip", std::nullopt, 100));
  EXPECT_FALSE(storable_head(200, "text/html", "", std::nullopt, 100));
  EXPECT_FALSE(storable_head(404, "application/json", "", std::nullopt, 100));
  EXPECT_FALSE(storable_head(500, "application/json", "", std::nullopt, 100));
  EXPECT_FALSE(storable_head(304, "application/json", "", std::nullopt, 100));
}

TEST(entry_builder, json_body_in_pieces) {
  entry_builder b(1000);
  ASSERT_FALSE(b.begin(200, "application/json"));
  ASSERT_FALSE(b.append(R"({"id":)"));
  ASSERT_FALSE(b.append(R"("x"})"));
  auto e = b.finish();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, body_kind::json);
  EXPECT_EQ(e->body, R"({"id":"x"})");
  EXPECT_EQ(e->status, 200);
  EXPECT_TRUE(storable(*e));
  EXPECT_TRUE(b.append("more"));  // finished: nothing more goes in
}

TEST(entry_builder, event_stream_split_anywhere) {
  const std::string stream =
      "data: {\"a\":1}\r\n\r\n: comment\n\ndata: {\"a\":2}\n\ndata: [DONE]\n\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    entry_builder b(1000);
    ASSERT_FALSE(b.begin(200, "text/event-stream"));
    ASSERT_FALSE(b.append(std::string_view(stream).substr(0, cut)));
    ASSERT_FALSE(b.append(std::string_view(stream).substr(cut)));
    auto e = b.finish();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->events, (std::vector<std::string>{R"({"a":1})", R"({"a":2})", "[DONE]"})) << cut;
  }
}

TEST(entry_builder, max_object_bytes_enforced) {
  entry_builder b(10);
  ASSERT_FALSE(b.begin(200, "application/json"));
  ASSERT_FALSE(b.append("0123456789"));
  EXPECT_EQ(b.append("x"), cache_errc::too_large);
  EXPECT_EQ(b.append("y"), cache_errc::too_large);
  EXPECT_FALSE(b.finish());
}

TEST(entry_builder, other_content_types_refused) {
  entry_builder b(100);
  EXPECT_EQ(b.begin(200, "text/plain"), cache_errc::not_storable);
  EXPECT_TRUE(b.append("x"));
  EXPECT_FALSE(b.finish());
}

TEST(entry, storable_needs_2xx_and_valid_json) {
  entry e;
  e.body = R"({"ok":true})";
  EXPECT_TRUE(storable(e));
  e.status = 429;
  EXPECT_FALSE(storable(e));
  e.status = 200;
  e.body = R"({"ok":tru)";
  EXPECT_FALSE(storable(e));
}

entry sample_sse() {
  entry e;
  e.status = 200;
  e.content_type = "text/event-stream; charset=utf-8";
  e.kind = body_kind::sse;
  e.events = {R"({"x":1})", "", "line1\nline2", std::string("\0bin\xff", 5), "[DONE]"};
  e.stored_at = std::chrono::system_clock::time_point(1700000000123ms);
  e.ttl = 300000ms;
  e.stale_if_error = 3600000ms;
  return e;
}

TEST(entry, serialisation_round_trip) {
  entry e = sample_sse();
  std::string bytes = serialize(e);
  entry back;
  ASSERT_FALSE(deserialize(bytes, back));
  EXPECT_EQ(back.status, e.status);
  EXPECT_EQ(back.content_type, e.content_type);
  EXPECT_EQ(back.kind, e.kind);
  EXPECT_EQ(back.events, e.events);
  EXPECT_EQ(back.stored_at, e.stored_at);
  EXPECT_EQ(back.ttl, e.ttl);
  EXPECT_EQ(back.stale_if_error, e.stale_if_error);

  entry j;
  j.status = 203;
  j.content_type = "application/json";
  j.body = R"({"id":"c1","choices":[]})";
  j.ttl = 5ms;
  ASSERT_FALSE(deserialize(serialize(j), back));
  EXPECT_EQ(back.kind, body_kind::json);
  EXPECT_EQ(back.status, 203);
  EXPECT_EQ(back.body, j.body);
  EXPECT_TRUE(back.events.empty());
  EXPECT_EQ(back.ttl, 5ms);
}

TEST(entry, corrupt_bytes_rejected) {
  std::string bytes = serialize(sample_sse());
  entry out;
  for (size_t n = 0; n < bytes.size(); ++n)  // every truncation
    EXPECT_EQ(deserialize(std::string_view(bytes).substr(0, n), out), cache_errc::corrupt_entry)
        << n;
  EXPECT_EQ(deserialize(bytes + "x", out), cache_errc::corrupt_entry);
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  EXPECT_EQ(deserialize(bad_magic, out), cache_errc::corrupt_entry);
  std::string bad_kind = bytes;
  bad_kind[4] = 9;
  EXPECT_EQ(deserialize(bad_kind, out), cache_errc::corrupt_entry);
}

}  // namespace
}  // namespace spillway::cache
