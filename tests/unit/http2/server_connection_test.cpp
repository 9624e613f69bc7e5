// The HTTP/2 server connection against nghttp2's client session (and hand-made frames for the
// floods a well-behaved client library will not produce), in memory with a fake clock.
#include "proxy/http2/server_connection.hpp"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace spillway::http2 {
namespace {

steady::time_point fake_now() {
  return steady::time_point{} + std::chrono::hours(1);
}

struct recorder : server_connection::handler {
  struct request {
    http::request_head head;
    bool end_stream_at_head = false;
    std::string body;
    bool body_ended = false;
    std::vector<std::pair<std::string, std::string>> trailers;
    bool closed = false;
    uint32_t close_code = 0;
  };
  server_connection* conn = nullptr;
  bool auto_consume = true;
  std::map<int32_t, request> requests;
  std::vector<int32_t> writable;

  void on_request(int32_t id, http::request_head& head, bool end_stream) override {
    auto& r = requests[id];
    r.head = head;
    r.end_stream_at_head = end_stream;
  }
  void on_body(int32_t id, std::string_view data) override {
    requests[id].body.append(data);
    if (auto_consume) conn->consume(id, data.size());
  }
  void on_body_end(int32_t id, const http::header_list* t) override {
    auto& r = requests[id];
    r.body_ended = true;
    if (t)
      for (size_t i = 0; i < t->size(); ++i)
        r.trailers.emplace_back(std::string(t->name(i)), std::string(t->value(i)));
  }
  void on_stream_closed(int32_t id, uint32_t code) override {
    auto& r = requests[id];
    r.closed = true;
    r.close_code = code;
  }
  void on_writable(int32_t id) override { writable.push_back(id); }
};

// An nghttp2 client session whose bytes go through memory.
class client {
 public:
  struct response {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::map<std::string, std::string> trailers;
    std::string body;
    bool closed = false;
    uint32_t close_code = 0;
  };

  explicit client(bool auto_window = true, uint32_t window = 65535) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &client::on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &client::on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &client::on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &client::on_frame);
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, auto_window ? 0 : 1);
    nghttp2_session_client_new2(&s_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry e[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    nghttp2_submit_settings(s_, NGHTTP2_FLAG_NONE, e, 1);
  }
  ~client() { nghttp2_session_del(s_); }

  int32_t request(const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> extra = {},
                  const std::string* body = nullptr, bool trailers = false) {
    std::vector<std::pair<std::string, std::string>> h = {
        {":method", method}, {":scheme", "http"}, {":authority", "example.test"}, {":path", path}};
    h.insert(h.end(), extra.begin(), extra.end());
    auto nv = to_nv(h);
    nghttp2_data_provider prd{};
    if (body) {
      auto src = std::make_unique<upload>();
      src->data = *body;
      src->trailers = trailers;
      prd.source.ptr = src.get();
      prd.read_callback = &client::read;
      uploads_.push_back(std::move(src));
    }
    return nghttp2_submit_request(s_, nullptr, nv.data(), nv.size(), body ? &prd : nullptr,
                                  nullptr);
  }

  std::string take_output() {
    std::string out;
    for (;;) {
      const uint8_t* d;
      auto n = nghttp2_session_mem_send(s_, &d);
      if (n <= 0) break;
      out.append(reinterpret_cast<const char*>(d), static_cast<size_t>(n));
    }
    return out;
  }
  void feed(const std::string& in) {
    nghttp2_session_mem_recv(s_, reinterpret_cast<const uint8_t*>(in.data()), in.size());
  }

  nghttp2_session* session() { return s_; }
  std::map<int32_t, response> responses;
  bool goaway = false;
  uint32_t goaway_code = 0;
  std::vector<int32_t> goaway_last_ids;  // each GOAWAY's last stream id, in order

 private:
  struct upload {
    std::string data;
    size_t off = 0;
    bool trailers = false;
  };

  static std::vector<nghttp2_nv> to_nv(const std::vector<std::pair<std::string, std::string>>& h) {
    std::vector<nghttp2_nv> nv;
    for (const auto& [n, v] : h)
      nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                    NGHTTP2_NV_FLAG_NONE});
    return nv;
  }
  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
                       const uint8_t* v, size_t vl, uint8_t, void* p) {
    auto& r = static_cast<client*>(p)->responses[f->hd.stream_id];
    std::string name(reinterpret_cast<const char*>(n), nl),
        value(reinterpret_cast<const char*>(v), vl);
    if (name == ":status")
      r.status = std::stoi(value);
    else if (f->headers.cat == NGHTTP2_HCAT_HEADERS)
      r.trailers[name] = value;
    else
      r.headers[name] = value;
    return 0;
  }
  static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t n, void* p) {
    static_cast<client*>(p)->responses[id].body.append(reinterpret_cast<const char*>(d), n);
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t id, uint32_t code, void* p) {
    auto& r = static_cast<client*>(p)->responses[id];
    r.closed = true;
    r.close_code = code;
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* p) {
    if (f->hd.type == NGHTTP2_GOAWAY) {
      static_cast<client*>(p)->goaway = true;
      static_cast<client*>(p)->goaway_code = f->goaway.error_code;
      static_cast<client*>(p)->goaway_last_ids.push_back(f->goaway.last_stream_id);
    }
    return 0;
  }
  static ssize_t read(nghttp2_session* s, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                      nghttp2_data_source* src, void*) {
    auto* u = static_cast<upload*>(src->ptr);
    const size_t n = std::min(len, u->data.size() - u->off);
    std::memcpy(buf, u->data.data() + u->off, n);
    u->off += n;
    if (u->off == u->data.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (u->trailers) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        static uint8_t name[] = "x-checksum", value[] = "abc";
        nghttp2_nv nv{name, value, 10, 3, NGHTTP2_NV_FLAG_NONE};
        nghttp2_submit_trailer(s, id, &nv, 1);
      }
    }
    return static_cast<ssize_t>(n);
  }

  nghttp2_session* s_ = nullptr;
  std::vector<std::unique_ptr<upload>> uploads_;
};

class Http2Server : public ::testing::Test {
 protected:
  void make(limits l = {}) {
    conn_ = std::make_unique<server_connection>(rec_, l, &fake_now);
    rec_.conn = conn_.get();
    conn_->start();
  }
  // Moves bytes both ways until neither side has anything to say; returns the server's last
  // receive() result.
  error pump(client& c) {
    error last{};
    for (int round = 0; round < 1000; ++round) {
      const std::string up = c.take_output();
      if (!up.empty()) {
        auto e = conn_->receive({reinterpret_cast<const uint8_t*>(up.data()), up.size()});
        if (e) last = e;
      }
      std::string down;
      conn_->produce(down);
      if (!down.empty()) c.feed(down);
      if (up.empty() && down.empty()) break;
    }
    return last;
  }
  error send_raw(const std::string& bytes) {
    return conn_->receive({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  }

  recorder rec_;
  std::unique_ptr<server_connection> conn_;
  size_t consumed_ = 0;
};

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
  std::string f;
  const auto n = payload.size();
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int shift : {24, 16, 8, 0}) f.push_back(static_cast<char>(stream >> shift & 0x7f));
  return f + payload;
}

// Preface, empty SETTINGS, and HEADERS for GET / on stream 1 (HPACK static-table indexes).
std::string raw_request_start(uint8_t headers_flags) {
  std::string block = "\x82\x84\x86\x01\x09localhost";
  return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(0x4, 0, 0, "") +
         frame(0x1, headers_flags, 1, block);
}

TEST_F(Http2Server, RequestIsTranslatedToAnOriginFormHead) {
  make();
  client c;
  const int32_t id = c.request("GET", "/v1/models?x=1",
                               {{"cookie", "a=1"}, {"cookie", "b=2"}, {"x-tenant", "t1"}});
  pump(c);
  ASSERT_EQ(rec_.requests.count(id), 1u);
  const auto& r = rec_.requests[id];
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_EQ(r.head.target, "/v1/models?x=1");
  EXPECT_EQ(r.head.headers.find(http::field_id::host).value_or(""), "example.test");
  EXPECT_EQ(r.head.headers.find("cookie").value_or(""), "a=1; b=2");
  EXPECT_EQ(r.head.headers.find("x-tenant").value_or(""), "t1");
  EXPECT_EQ(r.head.headers.count("cookie"), 1u);
  EXPECT_TRUE(r.end_stream_at_head);
  EXPECT_FALSE(r.head.has_body());
}

TEST_F(Http2Server, ResponseDropsConnectionFieldsAndLowerCasesNames) {
  make();
  client c;
  const int32_t id = c.request("GET", "/");
  pump(c);
  http::response_head h;
  h.status = 200;
  h.headers.add("Content-Type", "application/json");
  h.headers.add("Connection", "keep-alive");
  h.headers.add("Keep-Alive", "timeout=5");
  h.headers.add("Transfer-Encoding", "chunked");
  h.headers.add("X-Engine-Name", "a");
  ASSERT_TRUE(conn_->respond(id, h, false));
  EXPECT_TRUE(conn_->send_body(id, "{\"ok\":"));
  EXPECT_TRUE(conn_->send_body(id, "true}"));
  conn_->end_body(id);
  pump(c);
  const auto& r = c.responses[id];
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"ok\":true}");
  EXPECT_EQ(r.headers.count("content-type"), 1u);
  EXPECT_EQ(r.headers.at("x-engine-name"), "a");
  EXPECT_EQ(r.headers.count("connection"), 0u);
  EXPECT_EQ(r.headers.count("keep-alive"), 0u);
  EXPECT_EQ(r.headers.count("transfer-encoding"), 0u);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, 0u);
  EXPECT_TRUE(rec_.requests[id].closed);
}

TEST_F(Http2Server, ReusedStreamStateCarriesNothingOver) {
  make();
  client c;
  const std::string body = "hello";
  const int32_t first = c.request(
      "POST", "/a", {{"cookie", "a=1"}, {"x-tenant", "t1"}, {"content-length", "5"}}, &body);
  pump(c);
  ASSERT_TRUE(rec_.requests[first].body_ended);
  http::response_head h;
  h.status = 200;
  h.headers.add("x-request-id", "0123456789abcdef");
  ASSERT_TRUE(conn_->respond(first, h, false));
  conn_->send_body(first, "one");
  http::header_list t;
  t.add("x-checksum", "1");
  conn_->end_body(first, &t);
  pump(c);
  ASSERT_TRUE(c.responses[first].closed);
  EXPECT_EQ(c.responses[first].headers.at("x-request-id"), "0123456789abcdef");

  // The next stream gets the closed one's state back: none of its fields may leak through.
  for (int round = 0; round < 2; ++round) {
    const int32_t id = c.request("GET", "/b", {{"x-other", "2"}});
    pump(c);
    const auto& r = rec_.requests[id];
    EXPECT_EQ(r.head.method, "GET");
    EXPECT_EQ(r.head.target, "/b");
    EXPECT_EQ(r.head.headers.size(), 2u);  // x-other and host
    EXPECT_FALSE(r.head.headers.find("cookie"));
    EXPECT_FALSE(r.head.headers.find("x-tenant"));
    EXPECT_FALSE(r.head.content_length);
    EXPECT_FALSE(r.head.chunked);
    EXPECT_TRUE(r.end_stream_at_head);
    http::response_head h2;
    h2.status = 200;
    h2.headers.add("x-request-id", round == 0 ? "fedcba9876543210" : "0011223344556677");
    ASSERT_TRUE(conn_->respond(id, h2, false));
    conn_->send_body(id, "two");
    conn_->end_body(id);
    pump(c);
    const auto& resp = c.responses[id];
    EXPECT_TRUE(resp.closed);
    EXPECT_EQ(resp.body, "two");
    EXPECT_TRUE(resp.trailers.empty());
    EXPECT_EQ(resp.headers.at("x-request-id"),
              round == 0 ? "fedcba9876543210" : "0011223344556677");
    conn_->release_spare();  // the second round starts from fresh state
  }

  // A state whose client had ended its request is reused for a request that never ends: the
  // complete answer must still reset the half-open stream (RST_STREAM NO_ERROR).
  const int32_t ended = c.request("GET", "/c");
  pump(c);
  http::response_head h3;
  h3.status = 204;
  ASSERT_TRUE(conn_->respond(ended, h3, true));
  pump(c);
  ASSERT_TRUE(c.responses[ended].closed);
  const std::vector<std::pair<std::string, std::string>> hs = {
      {":method", "POST"}, {":scheme", "http"}, {":authority", "example.test"}, {":path", "/d"}};
  std::vector<nghttp2_nv> nv;
  for (const auto& [n, v] : hs)
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                  NGHTTP2_NV_FLAG_NONE});
  const int32_t open = nghttp2_submit_headers(c.session(), NGHTTP2_FLAG_NONE, -1, nullptr,
                                              nv.data(), nv.size(), nullptr);
  ASSERT_GT(open, 0);
  pump(c);
  ASSERT_TRUE(conn_->respond(open, h3, true));
  pump(c);
  EXPECT_TRUE(c.responses[open].closed);  // only an RST_STREAM closes it for the client
}

TEST_F(Http2Server, BodyPiecesGoOutAsTheyArrive) {
  make();
  client c;
  const int32_t id = c.request("POST", "/v1/completions", {}, nullptr);
  pump(c);
  http::response_head h;
  h.status = 200;
  h.headers.add("content-type", "text/event-stream");
  conn_->respond(id, h, false);
  for (int i = 0; i < 3; ++i) {
    const std::string ev = "data: " + std::to_string(i) + "\n\n";
    conn_->send_body(id, ev);
    pump(c);
    EXPECT_EQ(c.responses[id].body.size(), (i + 1) * ev.size()) << "event " << i << " held back";
    EXPECT_FALSE(c.responses[id].closed);
  }
  conn_->end_body(id);
  pump(c);
  EXPECT_TRUE(c.responses[id].closed);
}

TEST_F(Http2Server, RequestBodyWindowOpensOnlyAsTheHandlerConsumes) {
  limits l;
  l.stream_window = 64 * 1024;
  l.connection_window = 64 * 1024;
  make(l);
  rec_.auto_consume = false;
  client c;
  const std::string body(1 << 20, 'x');
  const int32_t id = c.request("POST", "/upload", {}, &body);
  pump(c);
  auto& r = rec_.requests[id];
  EXPECT_TRUE(r.head.chunked) << "a body without content-length goes upstream chunked";
  EXPECT_LE(r.body.size(), 64u * 1024) << "the client sent past the advertised window";
  EXPECT_GT(r.body.size(), 0u);
  for (int i = 0; i < 200 && !r.body_ended; ++i) {
    conn_->consume(id, r.body.size() - consumed_);
    consumed_ = r.body.size();
    pump(c);
  }
  EXPECT_TRUE(r.body_ended);
  EXPECT_EQ(r.body, body);
}

TEST_F(Http2Server, ResponseBufferIsBoundedAndReportsWhenWritable) {
  limits l;
  l.stream_buffer = 32 * 1024;
  make(l);
  client c(/*auto_window=*/false, /*window=*/16 * 1024);
  const int32_t id = c.request("GET", "/big");
  pump(c);
  http::response_head h;
  h.status = 200;
  conn_->respond(id, h, false);
  const std::string chunk(8 * 1024, 'y');
  int accepted = 0;
  while (conn_->send_body(id, chunk)) ++accepted;
  EXPECT_EQ(accepted, 3) << "the 4th chunk fills the 32 KiB buffer";
  pump(c);
  EXPECT_EQ(c.responses[id].body.size(), 16u * 1024) << "more than the client's window was sent";
  EXPECT_TRUE(conn_->blocked_on_window());
  EXPECT_TRUE(rec_.writable.empty()) << "still 16 KiB buffered of 32";
  nghttp2_session_consume(c.session(), id, 16 * 1024);
  pump(c);
  EXPECT_EQ(rec_.writable, std::vector<int32_t>{id});
  EXPECT_EQ(c.responses[id].body.size(), 32u * 1024);
}

TEST_F(Http2Server, ClientResetClosesTheStream) {
  make();
  client c;
  const int32_t id = c.request("GET", "/slow");
  pump(c);
  ASSERT_EQ(rec_.requests.count(id), 1u);
  nghttp2_submit_rst_stream(c.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  pump(c);
  EXPECT_TRUE(rec_.requests[id].closed);
  EXPECT_EQ(rec_.requests[id].close_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_EQ(conn_->open_streams(), 0u);
}

TEST_F(Http2Server, TrailersPassBothWays) {
  make();
  client c;
  const std::string body = "prompt";
  const int32_t id = c.request("POST", "/t", {{"te", "trailers"}}, &body, /*trailers=*/true);
  pump(c);
  auto& r = rec_.requests[id];
  EXPECT_EQ(r.body, "prompt");
  ASSERT_TRUE(r.body_ended);
  ASSERT_EQ(r.trailers.size(), 1u);
  EXPECT_EQ(r.trailers[0].first, "x-checksum");
  http::response_head h;
  h.status = 200;
  conn_->respond(id, h, false);
  conn_->send_body(id, "ok");
  http::header_list t;
  t.add("Grpc-Status", "0");
  conn_->end_body(id, &t);
  pump(c);
  EXPECT_EQ(c.responses[id].body, "ok");
  EXPECT_EQ(c.responses[id].trailers["grpc-status"], "0");
}

TEST_F(Http2Server, ConnectionSpecificRequestFieldsResetTheStream) {
  make();
  client c;
  const int32_t a = c.request("GET", "/a", {{"connection", "keep-alive"}});
  const int32_t b = c.request("GET", "/b", {{"te", "gzip"}});
  const int32_t ok = c.request("GET", "/ok");
  pump(c);
  EXPECT_EQ(rec_.requests.count(a), 0u);
  EXPECT_EQ(rec_.requests.count(b), 0u);
  EXPECT_EQ(rec_.requests.count(ok), 1u) << "one bad stream must not hurt the others";
  EXPECT_EQ(c.responses[a].close_code, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_FALSE(conn_->ended_for());
}

TEST_F(Http2Server, ContentLengthDisagreeingWithDataResetsTheStream) {
  make();
  client c;
  const std::string body = "12345";
  const int32_t id = c.request("POST", "/cl", {{"content-length", "10"}}, &body);
  pump(c);
  EXPECT_TRUE(rec_.requests[id].closed);
  EXPECT_FALSE(rec_.requests[id].body_ended);
  EXPECT_EQ(c.responses[id].close_code, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
}

TEST_F(Http2Server, OversizedHeaderListGets431WithoutReachingTheHandler) {
  limits l;
  l.max_header_list_bytes = 4096;
  make(l);
  client c;
  std::vector<std::pair<std::string, std::string>> big;
  for (int i = 0; i < 10; ++i)
    big.emplace_back("x-big-" + std::to_string(i), std::string(1000, 'v'));
  const int32_t id = c.request("GET", "/", big);
  const int32_t ok = c.request("GET", "/fine");
  pump(c);
  EXPECT_EQ(c.responses[id].status, 431);
  EXPECT_EQ(rec_.requests.count(id), 0u);
  EXPECT_EQ(rec_.requests.count(ok), 1u);
  EXPECT_EQ(conn_->abuse_counts()[static_cast<size_t>(abuse::header_list_too_large)], 1u);
}

TEST_F(Http2Server, RapidResetEndsTheConnection) {
  make();
  client c;
  // HEADERS then RST_STREAM, ten streams at a time (CVE-2023-44487's pattern).
  for (int round = 0; round < 100 && !c.goaway; ++round) {
    std::vector<int32_t> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(c.request("GET", "/r"));
    pump(c);
    for (int32_t id : ids)
      nghttp2_submit_rst_stream(c.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    pump(c);
  }
  EXPECT_TRUE(c.goaway);
  EXPECT_EQ(c.goaway_code, static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(conn_->ended_for(), abuse::rapid_reset);
  EXPECT_LE(rec_.requests.size(), 220u) << "requests kept reaching the handler after the limit";
}

TEST_F(Http2Server, PingFloodEndsTheConnection) {
  make();
  client c;
  pump(c);
  for (int i = 0; i < 100; ++i) nghttp2_submit_ping(c.session(), NGHTTP2_FLAG_NONE, nullptr);
  pump(c);
  EXPECT_EQ(conn_->ended_for(), abuse::ping_flood);
  EXPECT_TRUE(c.goaway);
}

TEST_F(Http2Server, SettingsFloodEndsTheConnection) {
  make();
  client c;
  for (int i = 0; i < 100; ++i) nghttp2_submit_settings(c.session(), NGHTTP2_FLAG_NONE, nullptr, 0);
  pump(c);
  EXPECT_EQ(conn_->ended_for(), abuse::settings_flood);
}

TEST_F(Http2Server, ContinuationFloodEndsTheConnection) {
  make();
  std::string bytes = raw_request_start(/*flags: none, END_HEADERS missing*/ 0);
  for (int i = 0; i < 100; ++i)
    bytes += frame(0x9, 0, 1,
                   std::string("\x00\x03x-a\x01"
                               "b",
                               7));
  const error e = send_raw(bytes);
  EXPECT_TRUE(e);
  EXPECT_EQ(conn_->ended_for(), abuse::continuation_flood);
  EXPECT_TRUE(rec_.requests.empty());
  std::string out;
  conn_->produce(out);
  EXPECT_NE(out.find(std::string("\x07", 1)), std::string::npos) << "no GOAWAY written";
}

TEST_F(Http2Server, EmptyDataFloodEndsTheConnection) {
  make();
  std::string bytes = raw_request_start(/*END_HEADERS*/ 0x4);
  for (int i = 0; i < 500; ++i) bytes += frame(0x0, 0, 1, "");
  send_raw(bytes);
  EXPECT_EQ(conn_->ended_for(), abuse::empty_data_flood);
  EXPECT_EQ(rec_.requests.size(), 1u);
}

// PRIORITY frames for idle streams (5 bytes: dependency 0, weight 16).
std::string priority_frames(int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += frame(0x2, 0, 3 + 2 * static_cast<uint32_t>(i), std::string(5, '\0'));
  return out;
}

TEST_F(Http2Server, PriorityFramesPastTheBudgetEndTheConnection) {
  make();  // priority_per_stream 100: stream 1 opened, so 200 in all
  send_raw(raw_request_start(/*END_HEADERS|END_STREAM*/ 0x5) + priority_frames(200));
  EXPECT_FALSE(conn_->ended_for()) << "200 PRIORITY frames for one stream are within the budget";
  send_raw(priority_frames(1));
  EXPECT_EQ(conn_->ended_for(), abuse::priority_flood);
  std::string out;
  conn_->produce(out);
  EXPECT_NE(out.find(std::string("\x00\x00\x00\x0b", 4)), std::string::npos)
      << "no GOAWAY ENHANCE_YOUR_CALM written";
}

TEST_F(Http2Server, PriorityUpdateFramesCountInThePriorityBudget) {
  make();
  std::string bytes = raw_request_start(0x5);
  // RFC 9218 PRIORITY_UPDATE (type 0x10) on stream 0: prioritized stream 1, "u=1".
  for (int i = 0; i < 201; ++i) bytes += frame(0x10, 0, 0, std::string("\x00\x00\x00\x01u=1", 7));
  send_raw(bytes);
  EXPECT_EQ(conn_->ended_for(), abuse::priority_flood);
  EXPECT_EQ(rec_.requests.size(), 1u);
}

TEST_F(Http2Server, PriorityBudgetGrowsWithTheStreamsOpened) {
  make();
  client c;
  for (int i = 0; i < 20; ++i) {
    const int32_t id = c.request("GET", "/p/" + std::to_string(i));
    // A reprioritisation per stream, as browsers do: far inside the budget.
    nghttp2_priority_spec ps;
    nghttp2_priority_spec_init(&ps, 0, 32, 0);
    nghttp2_submit_priority(c.session(), NGHTTP2_FLAG_NONE, id, &ps);
  }
  pump(c);
  send_raw(priority_frames(1500));  // 1,520 of a budget of 100 × 21
  EXPECT_FALSE(conn_->ended_for());
  EXPECT_EQ(rec_.requests.size(), 20u);
}

TEST_F(Http2Server, WindowUpdateFloodEndsTheConnection) {
  make();
  std::string bytes = raw_request_start(0x5);
  for (int i = 0; i < 100; ++i) bytes += frame(0x8, 0, 0, std::string("\x00\x00\x00\x01", 4));
  send_raw(bytes);
  EXPECT_EQ(conn_->ended_for(), abuse::window_update_flood);
  EXPECT_EQ(conn_->abuse_counts()[static_cast<size_t>(abuse::window_update_flood)], 1u);
}

TEST_F(Http2Server, WindowUpdatesOfALargeDownloadAreNotAFlood) {
  make();
  // The client opens its window a little at a time: one WINDOW_UPDATE per DATA frame for the
  // stream and one for the connection, the most a well-behaved client sends.
  client c(/*auto_window=*/false, /*window=*/16 * 1024);
  nghttp2_session_set_local_window_size(c.session(), NGHTTP2_FLAG_NONE, 0, 16 * 1024);
  const int32_t id = c.request("GET", "/download");
  pump(c);
  http::response_head h;
  h.status = 200;
  conn_->respond(id, h, false);
  const std::string chunk(16 * 1024, 'd');
  size_t received = 0;
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(conn_->send_body(id, chunk));
    pump(c);
    const size_t got = c.responses[id].body.size() - received;
    received += got;
    nghttp2_session_consume(c.session(), id, got);
  }
  conn_->end_body(id);
  pump(c);
  EXPECT_FALSE(conn_->ended_for());
  EXPECT_EQ(c.responses[id].body.size(), 64u * 16 * 1024);
}

TEST_F(Http2Server, UnknownFrameTypesAreIgnoredUntilTheyFlood) {
  make();  // unknown_frame_burst 64 at a fixed clock
  std::string bytes = raw_request_start(0x5);
  for (int i = 0; i < 64; ++i)  // GREASE-like reserved types (RFC 9113 §5.5: ignore them)
    bytes += frame(static_cast<uint8_t>(0x0b + 0x1f * (i % 8)), 0, 0, "grease");
  send_raw(bytes);
  EXPECT_FALSE(conn_->ended_for());
  EXPECT_EQ(rec_.requests.size(), 1u);
  send_raw(frame(0xfa, 0, 0, ""));
  EXPECT_EQ(conn_->ended_for(), abuse::unknown_frame_flood);
}

TEST_F(Http2Server, ExtendedConnectForWebSocketIsATunnelRequest) {
  make();
  client c;
  pump(c);  // the server's SETTINGS, with ENABLE_CONNECT_PROTOCOL
  EXPECT_EQ(
      nghttp2_session_get_remote_settings(c.session(), NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL),
      1u);
  const std::string none;
  const int32_t ws =
      c.request("CONNECT", "/chat", {{":protocol", "websocket"}, {"sec-websocket-version", "13"}},
                &none);  // a body provider: the stream stays open
  const int32_t udp = c.request("CONNECT", "/udp", {{":protocol", "connect-udp"}}, &none);
  // A plain CONNECT (RFC 9113 §8.5): :authority only.
  const nghttp2_nv plain[] = {
      {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":method")),
       const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>("CONNECT")), 7, 7,
       NGHTTP2_NV_FLAG_NONE},
      {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":authority")),
       const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>("example.test:443")), 10, 16,
       NGHTTP2_NV_FLAG_NONE}};
  const int32_t tunnel =
      nghttp2_submit_headers(c.session(), NGHTTP2_FLAG_NONE, -1, nullptr, plain, 2, nullptr);
  pump(c);
  ASSERT_EQ(rec_.requests.count(ws), 1u);
  const auto& head = rec_.requests[ws].head;
  EXPECT_TRUE(head.websocket_tunnel);
  EXPECT_EQ(head.method, "CONNECT");
  EXPECT_EQ(head.target, "/chat");
  EXPECT_FALSE(head.chunked) << "tunnel bytes are not chunked";
  EXPECT_EQ(rec_.requests.count(udp), 0u) << "a protocol other than websocket was dispatched";
  EXPECT_EQ(c.responses[udp].status, 501);
  EXPECT_EQ(rec_.requests.count(tunnel), 0u) << "a plain CONNECT was dispatched";
  EXPECT_EQ(c.responses[tunnel].status, 501);
}

TEST_F(Http2Server, PlainRequestsAreNotTunnels) {
  make();
  client c;
  const int32_t id = c.request("GET", "/");
  pump(c);
  EXPECT_FALSE(rec_.requests[id].head.websocket_tunnel);
}

TEST_F(Http2Server, GarbageInsteadOfThePrefaceIsAnError) {
  make();
  EXPECT_TRUE(send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(rec_.requests.empty());
}

TEST_F(Http2Server, ShutdownLetsStreamsInFlightFinish) {
  make();
  client c;
  const int32_t id = c.request("GET", "/long");
  pump(c);
  conn_->shutdown();
  pump(c);
  EXPECT_TRUE(c.goaway);
  EXPECT_EQ(c.goaway_code, 0u);
  http::response_head h;
  h.status = 204;
  conn_->respond(id, h, true);
  pump(c);
  EXPECT_EQ(c.responses[id].status, 204);
  const int32_t late = c.request("GET", "/late");
  pump(c);
  EXPECT_EQ(rec_.requests.count(late), 0u) << "a stream opened after GOAWAY was served";
}

TEST_F(Http2Server, DrainNoticeLetsStreamsInFlightInThenSendsTheFinalGoaway) {
  make();
  client c;
  const int32_t first = c.request("GET", "/first");
  pump(c);
  conn_->shutdown_notice();
  std::string notice;
  conn_->produce(notice);  // GOAWAY(2^31-1) and a PING, still on their way to the client
  EXPECT_TRUE(conn_->notice_pending());
  // A stream the client opened before the notice reached it.
  const int32_t in_flight = c.request("GET", "/in-flight");
  const std::string up = c.take_output();
  conn_->receive({reinterpret_cast<const uint8_t*>(up.data()), up.size()});
  c.feed(notice);
  pump(c);  // the client acknowledges the PING: the final GOAWAY goes out
  EXPECT_FALSE(conn_->notice_pending());
  ASSERT_EQ(c.goaway_last_ids.size(), 2u);
  EXPECT_EQ(c.goaway_last_ids[0], 0x7fffffff);
  EXPECT_EQ(c.goaway_last_ids[1], in_flight);
  EXPECT_EQ(c.goaway_code, 0u);
  EXPECT_EQ(rec_.requests.count(in_flight), 1u) << "a stream sent before the notice was refused";
  http::response_head h;
  h.status = 204;
  for (int32_t id : {first, in_flight}) conn_->respond(id, h, true);
  pump(c);
  EXPECT_EQ(c.responses[first].status, 204);
  EXPECT_EQ(c.responses[in_flight].status, 204);
  EXPECT_TRUE(conn_->finished());
}

TEST(Http2Preface, RecognisesThePrefaceAndItsPrefixes) {
  EXPECT_TRUE(starts_with_preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  EXPECT_TRUE(starts_with_preface("PRI * HT"));
  EXPECT_TRUE(starts_with_preface(""));
  EXPECT_FALSE(starts_with_preface("POST / HTTP/1.1\r\n"));
  EXPECT_FALSE(starts_with_preface("PRI * HTTP/1.1"));
}

}  // namespace
}  // namespace spillway::http2
