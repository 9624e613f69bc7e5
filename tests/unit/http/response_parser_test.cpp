// proxy/http1 response_parser: body framings (length, chunked, close-delimited; RFC 9112
// §6.3), bodiless responses (HEAD, 1xx, 204, 304), interim responses, trailers passed on (minus the
// fields a trailer may not carry), refused framings and arbitrary input splits.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/unit/http/parse_harness.hpp"

namespace spillway::http1::testing {
namespace {

TEST(ResponseParser, ContentLengthBody) {
  response_run r(framing::chunked);
  r.feed("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1");
  ASSERT_TRUE(r.done()) << r.ec.message();
  EXPECT_EQ(r.mode, framing::length);
  EXPECT_EQ(r.head.status, 200);
  EXPECT_EQ(r.head.reason, "OK");
  EXPECT_EQ(r.head.version, 11);
  EXPECT_TRUE(r.head.keep_alive);
  EXPECT_FALSE(r.head.chunked);
  ASSERT_TRUE(r.head.content_length);
  EXPECT_EQ(*r.head.content_length, 5u);
  ASSERT_EQ(r.head.headers.size(), 2u);
  EXPECT_EQ(r.head.headers.id(0), http::field_id::content_type);
  EXPECT_EQ(r.head.headers.value(1), "5");
  EXPECT_EQ(r.out, "hello");
  EXPECT_EQ(r.parser->body_bytes(), 5u);
  EXPECT_EQ(r.pending, "HTTP/1.1");  // bytes past the message are left alone
}

TEST(ResponseParser, ReasonPhraseWithSpaces) {
  response_run r;
  r.feed("HTTP/1.1 503 Service Temporarily Unavailable\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r.done()) << r.ec.message();
  EXPECT_EQ(r.head.status, 503);
  EXPECT_EQ(r.head.reason, "Service Temporarily Unavailable");
}

const std::string chunked_response =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
    "7;ext=1\r\ndata: a\r\n"
    "11\r\n\ndata: bbbbbbbb\n\n\r\n"
    "0\r\nX-Usage: 12\r\nServer-Timing: total;dur=5\r\n\r\n";
const std::string chunked_response_payload = "data: a\ndata: bbbbbbbb\n\n";

TEST(ResponseParser, ChunkedIsReframedToChunkedWithoutExtensionsButWithTrailers) {
  response_run r(framing::chunked);
  r.feed(chunked_response);
  ASSERT_TRUE(r.done()) << r.ec.message();
  EXPECT_TRUE(r.head.chunked);
  EXPECT_FALSE(r.head.content_length);
  EXPECT_EQ(r.out,
            "7\r\ndata: a\r\n11\r\n\ndata: bbbbbbbb\n\n\r\n0\r\nX-Usage: 12\r\n"
            "Server-Timing: total;dur=5\r\n\r\n");
  EXPECT_EQ(r.parser->body_bytes(), chunked_response_payload.size());
}

TEST(ResponseParser, TrailersAreDroppedFromTheHead) {
  response_run r(framing::chunked);
  r.feed(chunked_response);
  ASSERT_TRUE(r.done()) << r.ec.message();
  ASSERT_EQ(r.head.headers.size(), 2u);
  EXPECT_FALSE(r.head.headers.find("x-usage"));
  EXPECT_FALSE(r.head.headers.find("server-timing"));
  EXPECT_EQ(r.parser->trailers().size(), 2u);
  EXPECT_EQ(r.parser->trailers().find("x-usage"), "12");
}

TEST(ResponseParser, FieldsATrailerMayNotCarryAreDropped) {
  response_run r(framing::chunked);
  r.feed(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n"
      "Set-Cookie: s=1\r\nAuthorization: x\r\nHost: h\r\nConnection: close\r\ngrpc-status: "
      "0\r\n\r\n");
  ASSERT_TRUE(r.done()) << r.ec.message();
  ASSERT_EQ(r.parser->trailers().size(), 1u);
  EXPECT_EQ(r.parser->trailers().name(0), "grpc-status");
  EXPECT_EQ(r.out, "1\r\na\r\n0\r\ngrpc-status: 0\r\n\r\n");
}

TEST(ResponseParser, ChunkedIsDecodedForAnHttp10Client) {
  response_run r(framing::close_delimited);
  r.feed(chunked_response);
  ASSERT_TRUE(r.done()) << r.ec.message();
  EXPECT_EQ(r.out, chunked_response_payload);
}

TEST(ResponseParser, CloseDelimitedBodyEndsAtEof) {
  response_run r(framing::chunked);
  r.feed("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n");
  ASSERT_FALSE(r.ec) << r.ec.message();
  ASSERT_TRUE(r.head_done);
  EXPECT_FALSE(r.head.chunked);
  EXPECT_FALSE(r.head.content_length);
  EXPECT_TRUE(r.parser->need_eof());
  EXPECT_FALSE(r.parser->is_done());
  r.feed("data: 22\n\n");
  EXPECT_FALSE(r.parser->is_done());
  ASSERT_TRUE(r.eof()) << r.ec.message();
  EXPECT_TRUE(r.parser->is_done());
  EXPECT_EQ(r.out, "9\r\ndata: 1\n\n\r\na\r\ndata: 22\n\n\r\n0\r\n\r\n");
  EXPECT_EQ(r.parser->body_bytes(), 19u);
}

TEST(ResponseParser, EofBeforeContentLengthIsAnError) {
  response_run r;
  r.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  ASSERT_FALSE(r.ec);
  EXPECT_FALSE(r.eof());
  EXPECT_TRUE(r.ec);
  EXPECT_EQ(r.out, "short");
}

TEST(ResponseParser, EofInTheHeadIsAnError) {
  response_run r;
  r.feed("HTTP/1.1 200 OK\r\nContent-Le");
  EXPECT_FALSE(r.eof());
  EXPECT_FALSE(r.head_done);
}

TEST(ResponseParser, NoContentAndNotModifiedHaveNoBody) {
  for (const char* status : {"204 No Content", "304 Not Modified"}) {
    response_run r(framing::chunked);
    // A 304 may carry the Content-Length of the full representation (RFC 9110 §8.6).
    r.feed(std::string("HTTP/1.1 ") + status +
           "\r\nContent-Length: 100\r\nETag: \"x\"\r\n\r\nNEXT");
    ASSERT_TRUE(r.done()) << status << ": " << r.ec.message();
    EXPECT_TRUE(r.out.empty()) << status;
    EXPECT_EQ(r.pending, "NEXT") << status;
    ASSERT_TRUE(r.head.content_length);
    EXPECT_EQ(*r.head.content_length, 100u);
    EXPECT_EQ(r.parser->body_bytes(), 0u);
  }
}

TEST(ResponseParser, NoContentWithoutLengthIsNotCloseDelimited) {
  response_run r(framing::chunked);
  r.feed("HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_TRUE(r.done()) << r.ec.message();
  EXPECT_FALSE(r.parser->need_eof());
  EXPECT_TRUE(r.out.empty());
}

TEST(ResponseParser, HeadResponseSkipsTheAnnouncedBody) {
  response_run r(framing::chunked, /*head_request=*/true);
  r.feed("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nHTTP/1.1 200 OK\r\n");
  ASSERT_TRUE(r.done()) << r.ec.message();
  ASSERT_TRUE(r.head.content_length);
  EXPECT_EQ(*r.head.content_length, 1234u);
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.pending, "HTTP/1.1 200 OK\r\n");
}

TEST(ResponseParser, HeadResponseWithChunkedHasNoBodyEither) {
  response_run r(framing::chunked, /*head_request=*/true);
  r.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_TRUE(r.done()) << r.ec.message();
  EXPECT_TRUE(r.out.empty());
}

TEST(ResponseParser, InterimResponsesPrecedeTheFinalOne) {
  response_run r(framing::chunked);
  r.feed(
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_TRUE(r.done()) << r.ec.message();
  EXPECT_EQ(r.interim, (std::vector<int>{100, 103}));
  EXPECT_EQ(r.head.status, 201);
  EXPECT_EQ(r.head.reason, "Created");
  EXPECT_FALSE(r.head.headers.find("link"));  // the 103's fields belong to the 103
  EXPECT_EQ(r.out, "ok");
}

TEST(ResponseParser, InterimResponseAloneIsCompleteWithoutBody) {
  response_run r(framing::chunked);
  r.feed("HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.interim, (std::vector<int>{100}));
  EXPECT_FALSE(r.head_done);  // still waiting for the final response
  EXPECT_TRUE(r.out.empty());
}

TEST(ResponseParser, KeepAliveFollowsVersionAndConnection) {
  struct item {
    const char* head;
    bool keep_alive;
  };
  const item cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true},
  };
  for (const auto& c : cases) {
    response_run r;
    r.feed(c.head);
    ASSERT_TRUE(r.done()) << c.head << r.ec.message();
    EXPECT_EQ(r.head.keep_alive, c.keep_alive) << c.head;
  }
  response_run close_delimited;
  close_delimited.feed("HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(close_delimited.head_done);
  EXPECT_FALSE(close_delimited.head.keep_alive);  // the body ends with the connection
}

TEST(ResponseParser, RefusesAmbiguousOrUnknownFraming) {
  const char* heads[] = {
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n",
  };
  for (const char* h : heads) {
    response_run r(framing::chunked);
    r.feed(std::string(h) + "abc");
    EXPECT_TRUE(r.ec) << h;
    EXPECT_TRUE(r.out.empty()) << h;
  }
}

TEST(ResponseParser, RefusesNonResponses) {
  for (const char* in :
       {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n",
        "\x16\x03\x01\x02\x01\r\n\r\n"}) {
    response_run r;
    r.feed(in);
    EXPECT_TRUE(r.ec) << in;
    EXPECT_FALSE(r.head_done) << in;
  }
}

// RFC 9110 §15: status codes outside 100..599 are invalid. Beast accepts any three digits, and
// the session indexes endpoint_stats::by_status (600 entries) with the forwarded status without
// a clamp (session_exchange.cpp, release_upstream), so "HTTP/1.1 999" from an upstream writes
// out of bounds; "HTTP/1.1 000" is forwarded as "HTTP/1.1 0".
TEST(ResponseParser, StatusOutside100To599IsRefused) {
  for (const char* status : {"000", "099", "600", "999"}) {
    response_run r;
    r.feed(std::string("HTTP/1.1 ") + status + " X\r\nContent-Length: 0\r\n\r\n");
    EXPECT_TRUE(r.ec) << status << " accepted";
  }
}

TEST(ResponseParser, StatusCodesAtTheValidEdgesAreAccepted) {
  for (int status : {100, 199, 200, 599}) {
    response_run r;
    r.feed("HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n" +
           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    ASSERT_TRUE(r.done()) << status << ": " << r.ec.message();
    if (status < 200) {
      EXPECT_EQ(r.interim, std::vector<int>{status});
      EXPECT_EQ(r.head.status, 200);
    } else {
      EXPECT_EQ(r.head.status, status);
    }
  }
}

TEST(ResponseParser, HeaderLimitApplies) {
  response_run r;
  r.parser->header_limit(128);
  r.feed("HTTP/1.1 200 OK\r\nX-Pad: " + std::string(200, 'p') + "\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.ec, make_error_code(bhttp::error::header_limit));
}

TEST(ResponseParserSplits, EverySplitAndByteByByteGiveTheSamePayload) {
  const std::string length_response =
      "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz";
  for (const std::string* in : {&chunked_response, &length_response}) {
    response_run whole(framing::close_delimited);
    whole.feed(*in);
    ASSERT_TRUE(whole.done());
    const std::string payload = whole.out;
    for (size_t k = 1; k < in->size(); ++k) {
      response_run r(framing::chunked);
      r.feed(std::string_view(*in).substr(0, k));
      r.feed(std::string_view(*in).substr(k));
      ASSERT_TRUE(r.done()) << "split at " << k << ": " << r.ec.message();
      EXPECT_EQ(forwarded_payload(r).value_or("<invalid>"), payload) << "split at " << k;
      EXPECT_EQ(r.head.headers.size(), whole.head.headers.size()) << "split at " << k;
    }
    response_run bytes(framing::close_delimited);
    for (char c : *in) bytes.feed(std::string_view(&c, 1));
    ASSERT_TRUE(bytes.done()) << bytes.ec.message();
    EXPECT_EQ(bytes.out, payload);
  }
}

TEST(ResponseParserSplits, RandomSplitsOfInterimAndFinalGiveTheSameResult) {
  const std::string in =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nT: 1\r\n\r\n";
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    response_run r(framing::close_delimited);
    size_t at = 0;
    while (at < in.size()) {
      size_t n = 1 + rng() % 9;
      r.feed(std::string_view(in).substr(at, n));
      at += n;
    }
    ASSERT_TRUE(r.done()) << "trial " << trial << ": " << r.ec.message();
    EXPECT_EQ(r.interim, (std::vector<int>{100}));
    EXPECT_EQ(r.head.status, 200);
    EXPECT_EQ(r.out, "abcdefg");
    EXPECT_EQ(r.head.headers.size(), 1u);
  }
}

}  // namespace
}  // namespace spillway::http1::testing
