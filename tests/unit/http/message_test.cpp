// proxy/http/message: header_list storage and lookup, hop-by-hop classification (RFC 9110
// §7.6.1) and Connection token lists.
#include <gtest/gtest.h>

#include <string>

#include "proxy/http/message.hpp"

namespace spillway::http {
namespace {

using f = field_id;

TEST(Iequals, ComparesAsciiCaseInsensitively) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_TRUE(iequals("X-A-Z", "x-a-z"));
  EXPECT_FALSE(iequals("host", "hosts"));
  EXPECT_FALSE(iequals("host", "hust"));
  // '@' and '`' sit next to the letter ranges; only A-Z fold.
  EXPECT_FALSE(iequals("@", "`"));
  EXPECT_FALSE(iequals("[", "{"));
}

TEST(HeaderList, AddKeepsOrderNamesValuesAndIds) {
  header_list h;
  EXPECT_EQ(h.size(), 0u);
  h.add("Host", "example.com", f::host);
  h.add("X-Custom", "one");
  h.add("Accept", "", f::accept);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h.name(0), "Host");
  EXPECT_EQ(h.value(0), "example.com");
  EXPECT_EQ(h.id(0), f::host);
  EXPECT_EQ(h.name(1), "X-Custom");
  EXPECT_EQ(h.value(1), "one");
  EXPECT_EQ(h.id(1), f::unknown);
  EXPECT_EQ(h.name(2), "Accept");
  EXPECT_EQ(h.value(2), "");
}

TEST(HeaderList, ViewsStayCorrectAfterTheArenaGrows) {
  header_list h;
  for (int i = 0; i < 200; ++i)
    h.add("name-" + std::to_string(i), std::string(static_cast<size_t>(i % 37), 'v'));
  ASSERT_EQ(h.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(h.name(static_cast<size_t>(i)), "name-" + std::to_string(i));
    EXPECT_EQ(h.value(static_cast<size_t>(i)), std::string(static_cast<size_t>(i % 37), 'v'));
  }
}

TEST(HeaderList, FindByNameIsCaseInsensitiveAndReturnsFirst) {
  header_list h;
  h.add("X-Tag", "first");
  h.add("x-tag", "second");
  h.add("X-Other", "o");
  ASSERT_TRUE(h.find("x-TAG"));
  EXPECT_EQ(*h.find("x-TAG"), "first");
  EXPECT_EQ(*h.find("X-OTHER"), "o");
  EXPECT_FALSE(h.find("x-ta"));
  EXPECT_FALSE(h.find("x-tags"));
  EXPECT_FALSE(h.find(""));
}

TEST(HeaderList, FindByIdIgnoresUnknownFieldsWithTheSameName) {
  header_list h;
  h.add("content-type", "not-by-id");  // added without an id
  h.add("Content-Type", "text/plain", f::content_type);
  ASSERT_TRUE(h.find(f::content_type));
  EXPECT_EQ(*h.find(f::content_type), "text/plain");
  EXPECT_EQ(*h.find("content-type"), "not-by-id");
  EXPECT_FALSE(h.find(f::host));
}

TEST(HeaderList, FindEmptyValueIsEngaged) {
  header_list h;
  h.add("X-Empty", "");
  auto v = h.find("x-empty");
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->empty());
}

TEST(HeaderList, CountCountsEveryCaseVariant) {
  header_list h;
  h.add("Via", "a", f::via);
  h.add("VIA", "b", f::via);
  h.add("via", "c", f::via);
  h.add("Vias", "d");
  EXPECT_EQ(h.count("via"), 3u);
  EXPECT_EQ(h.count("vias"), 1u);
  EXPECT_EQ(h.count("host"), 0u);
}

TEST(HeaderList, ClearEmptiesAndIsReusable) {
  header_list h;
  h.add("A", "1");
  h.add("B", "2");
  h.clear();
  EXPECT_EQ(h.size(), 0u);
  EXPECT_FALSE(h.find("a"));
  h.add("C", "3");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h.name(0), "C");
  EXPECT_EQ(h.value(0), "3");
}

TEST(HopByHop, ByNameCoversRfc9110AndLegacyFields) {
  for (const char* n :
       {"connection", "Keep-Alive", "PROXY-CONNECTION", "te", "TE", "trailer", "transfer-encoding",
        "Upgrade", "http2-settings", "proxy-authenticate", "Proxy-Authorization"})
    EXPECT_TRUE(is_hop_by_hop(n)) << n;
}

TEST(HopByHop, ByNameRejectsEndToEndAndNearMisses) {
  for (const char* n :
       {"", "t", "host", "content-length", "trailers", "tE-", "connections", "x-connection",
        "authorization", "proxy-authorization-x", "transfer-encodin", "keepalive"})
    EXPECT_FALSE(is_hop_by_hop(n)) << n;
}

TEST(HopByHop, ByIdAgreesWithByNameForEveryKnownField) {
  using boost::beast::http::to_string;
  // Over every field Beast knows, the id and the name classification must agree.
  int hop = 0;
  for (unsigned i = 1; i <= static_cast<unsigned>(f::xref); ++i) {
    const auto id = static_cast<f>(i);
    const auto name = to_string(id);
    if (name.empty()) continue;
    const std::string_view n(name.data(), name.size());
    EXPECT_EQ(is_hop_by_hop(id), is_hop_by_hop(n)) << n;
    if (is_hop_by_hop(id)) ++hop;
  }
  EXPECT_EQ(hop, 10);
  EXPECT_FALSE(is_hop_by_hop(f::unknown));
  EXPECT_FALSE(is_hop_by_hop(f::host));
  EXPECT_FALSE(is_hop_by_hop(f::content_length));
  EXPECT_TRUE(is_hop_by_hop(f::te));
  EXPECT_TRUE(is_hop_by_hop(f::http2_settings));
}

TEST(ConnectionTokens, ListedInConnectionFindsTrimmedTokensCaseInsensitively) {
  EXPECT_TRUE(listed_in_connection("close", "close"));
  EXPECT_TRUE(listed_in_connection("keep-alive, X-Secret", "x-secret"));
  EXPECT_TRUE(listed_in_connection(" \tX-A\t ,x-b", "x-a"));
  EXPECT_TRUE(listed_in_connection("x-a,,x-b", "X-B"));
  EXPECT_TRUE(listed_in_connection("x-a , x-b ,", "x-b"));
  EXPECT_FALSE(listed_in_connection("x-ab", "x-a"));
  EXPECT_FALSE(listed_in_connection("x-a", "x-ab"));
  EXPECT_FALSE(listed_in_connection("", "x-a"));
  EXPECT_FALSE(listed_in_connection("close", ""));
  EXPECT_FALSE(listed_in_connection("x a", "x"));
}

TEST(ConnectionTokens, ListsFieldsOnlyBeyondCloseKeepAliveUpgrade) {
  EXPECT_FALSE(connection_lists_fields(""));
  EXPECT_FALSE(connection_lists_fields("close"));
  EXPECT_FALSE(connection_lists_fields("Keep-Alive"));
  EXPECT_FALSE(connection_lists_fields("Upgrade, close"));
  EXPECT_FALSE(connection_lists_fields(" , ,close, "));
  EXPECT_TRUE(connection_lists_fields("close, X-Secret"));
  EXPECT_TRUE(connection_lists_fields("x-secret"));
  EXPECT_TRUE(connection_lists_fields("keep-alive,te"));
  EXPECT_TRUE(connection_lists_fields("closed"));
}

TEST(RequestHead, PathStripsQueryAndHasBodyFollowsFraming) {
  request_head r;
  r.target = "/v1/chat?x=1?y";
  EXPECT_EQ(r.path(), "/v1/chat");
  r.target = "/plain";
  EXPECT_EQ(r.path(), "/plain");
  r.target = "?only";
  EXPECT_EQ(r.path(), "");
  EXPECT_FALSE(r.has_body());
  r.content_length = 0;
  EXPECT_FALSE(r.has_body());
  r.content_length = 1;
  EXPECT_TRUE(r.has_body());
  r.content_length.reset();
  r.chunked = true;
  EXPECT_TRUE(r.has_body());
  r.headers.add("A", "b");
  r.version = 10;
  r.keep_alive = false;
  r.expect_continue = true;
  r.clear();
  EXPECT_TRUE(r.target.empty());
  EXPECT_EQ(r.version, 11);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_FALSE(r.chunked);
  EXPECT_FALSE(r.expect_continue);
  EXPECT_EQ(r.headers.size(), 0u);
}

}  // namespace
}  // namespace spillway::http
