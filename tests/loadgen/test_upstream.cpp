#include "test_upstream.hpp"

#include <nghttp2/nghttp2.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <charconv>
#include <cstring>
#include <deque>
#include <map>

namespace spillway::loadgen::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int query_int(std::string_view target, std::string_view key, int fallback) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return fallback;
  std::string_view qs = target.substr(q + 1);
  while (!qs.empty()) {
    const size_t amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    const size_t eq = kv.find('=');
    if (kv.substr(0, eq) == key && eq != std::string_view::npos) {
      int v = fallback;
      std::from_chars(kv.data() + eq + 1, kv.data() + kv.size(), v);
      return v;
    }
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
  return fallback;
}

int body_int(std::string_view body, std::string_view key, int fallback) {
  const size_t at = body.find(key);
  if (at == std::string_view::npos) return fallback;
  size_t i = at + key.size();
  while (i < body.size() && (body[i] == ' ' || body[i] == ':')) ++i;
  int v = fallback;
  std::from_chars(body.data() + i, body.data() + body.size(), v);
  return v;
}

/// What to answer, worked out from the request and the server's defaults.
struct plan {
  int status = 200;
  int delay_ms = 0;
  bool openai = false;
  bool sse = false;
  bool chat = false;
  int tokens = 0;
  int itl_ms = 0;
  int cut_after = -1;
  bool close = false;
  int prompt_tokens = 0;

  std::string event(int i) const {
    if (chat)
      return "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
             "{\"content\":\"tok" +
             std::to_string(i) + " \"}}]}\n\n";
    return "data: {\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"tok" +
           std::to_string(i) + " \"}]}\n\n";
  }
  std::string usage_event() const {
    return "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":" + std::to_string(prompt_tokens) +
           ",\"completion_tokens\":" + std::to_string(tokens) + "}}\n\n";
  }
  std::string whole_body() const {
    if (!openai) return "ok";
    std::string text;
    for (int i = 0; i < tokens; ++i) text += "tok" + std::to_string(i) + " ";
    const std::string usage = "\"usage\":{\"prompt_tokens\":" + std::to_string(prompt_tokens) +
                              ",\"completion_tokens\":" + std::to_string(tokens) + "}";
    if (chat)
      return "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" +
             text + "\"}}]," + usage + "}";
    return "{\"choices\":[{\"index\":0,\"text\":\"" + text + "\"}]," + usage + "}";
  }
};

}  // namespace

struct upstream::impl {
  upstream& owner;
  upstream_config cfg;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::atomic<uint64_t> seen{0};

  std::unique_ptr<asio::ssl::context> tls;  // set when the config names a certificate

  impl(upstream& o, upstream_config c) : owner(o), cfg(std::move(c)) {}

  /// ALPN: h2 when the client offers it, else http/1.1.
  static int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen,
                         const unsigned char* in, unsigned int inlen, void*) {
    for (const char* want : {"h2", "http/1.1"}) {
      const size_t n = std::strlen(want);
      for (unsigned int i = 0; i < inlen; i += 1 + in[i]) {
        if (in[i] == n && std::memcmp(in + i + 1, want, n) == 0) {
          *out = in + i + 1;
          *outlen = in[i];
          return SSL_TLSEXT_ERR_OK;
        }
      }
    }
    return SSL_TLSEXT_ERR_NOACK;
  }

  bool setup_tls() {
    if (cfg.tls_cert.empty()) return true;
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    boost::system::error_code ec;
    tls->use_certificate_chain_file(cfg.tls_cert, ec);
    if (!ec) tls->use_private_key_file(cfg.tls_key, asio::ssl::context::pem, ec);
    if (ec) return false;
    SSL_CTX_set_alpn_select_cb(tls->native_handle(), select_alpn, nullptr);
    return true;
  }

  plan make_plan(std::string_view target, std::string_view body, std::string_view session) {
    const uint64_t n = ++seen;
    ++owner.requests_;
    if (!session.empty()) {
      ++owner.session_requests_;
      std::lock_guard lock(owner.sessions_mutex_);
      owner.sessions_.insert(std::string(session));
    }
    plan p;
    p.status = query_int(target, "status", cfg.status);
    p.delay_ms = query_int(target, "delay_ms", cfg.delay_ms);
    if (cfg.stall_after && n == cfg.stall_after) p.delay_ms += cfg.stall_ms;
    p.openai = target.substr(0, 4) == "/v1/";
    p.chat = target.find("chat/completions") != std::string_view::npos;
    p.sse = p.openai && (body.find("\"stream\":true") != std::string_view::npos ||
                         body.find("\"stream\": true") != std::string_view::npos);
    p.tokens =
        query_int(target, "tokens", cfg.tokens ? cfg.tokens : body_int(body, "\"max_tokens\"", 8));
    p.itl_ms = query_int(target, "itl_ms", cfg.itl_ms);
    p.cut_after = query_int(target, "cut_after", cfg.cut_after);
    p.close = query_int(target, "close", 0) != 0;
    p.prompt_tokens = static_cast<int>(body.size() / 4);
    return p;
  }

  std::string head(const plan& p, size_t content_length) const {
    std::string h = "HTTP/1.1 " + std::to_string(p.status) + " X\r\n";
    h += "X-Engine-Name: " + cfg.name + "\r\n";
    if (!cfg.cache_status.empty()) h += "Cache-Status: " + cfg.cache_status + "\r\n";
    if (p.close) h += "Connection: close\r\n";
    if (p.sse) {
      h += "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    } else {
      h += std::string("Content-Type: ") + (p.openai ? "application/json" : "text/plain") +
           "\r\nContent-Length: " + std::to_string(content_length) + "\r\n\r\n";
    }
    return h;
  }

  static std::string chunk(std::string_view data) {
    char hex[20];
    auto [end, ec] = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
    std::string out(hex, end);
    out += "\r\n";
    out += data;
    out += "\r\n";
    return out;
  }

  awaitable<void> sleep_ms(int ms) {
    if (ms <= 0) co_return;
    asio::steady_timer t(io, std::chrono::milliseconds(ms));
    co_await t.async_wait(use_tuple);
  }

  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      ++owner.connections_;
      socket.set_option(tcp::no_delay(true), ec);
      if (tls) {
        asio::co_spawn(io, tls_session(std::move(socket)), asio::detached);
      } else {
        asio::co_spawn(io, session(std::move(socket)), asio::detached);
      }
    }
  }

  awaitable<void> tls_session(tcp::socket socket) {
    asio::ssl::stream<tcp::socket> s(std::move(socket), *tls);
    auto [ec] = co_await s.async_handshake(asio::ssl::stream_base::server, use_tuple);
    if (ec) co_return;
    co_await session(std::move(s));
  }

  template <class Stream>
  awaitable<void> session(Stream s) {
    boost::beast::flat_buffer buf;
    // Sniff the HTTP/2 connection preface (h2c with prior knowledge).
    while (buf.size() < h2_preface.size()) {
      auto [ec, n] = co_await s.async_read_some(buf.prepare(16 * 1024), use_tuple);
      if (ec) co_return;
      buf.commit(n);
      std::string_view have(static_cast<const char*>(buf.data().data()), buf.size());
      if (have.substr(0, std::min(have.size(), h2_preface.size())) !=
          h2_preface.substr(0, std::min(have.size(), h2_preface.size())))
        break;
    }
    std::string_view have(static_cast<const char*>(buf.data().data()), buf.size());
    if (have.substr(0, h2_preface.size()) == h2_preface) {
      co_await h2_session(std::move(s), std::string(have));
      co_return;
    }
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024 * 1024);
      // Keep-alive timeout as nginx's keepalive_timeout: close a connection left idle.
      asio::steady_timer idle(io);
      if (cfg.idle_timeout_ms > 0) {
        idle.expires_after(std::chrono::milliseconds(cfg.idle_timeout_ms));
        idle.async_wait([&s](boost::system::error_code tec) {
          boost::system::error_code ignored;
          if (!tec) boost::beast::get_lowest_layer(s).close(ignored);
        });
      }
      auto [ec, n] = co_await http::async_read(s, buf, parser, use_tuple);
      idle.cancel();
      if (ec) co_return;
      auto& req = parser.get();
      std::string session_id;
      if (auto it = req.find(cfg.session_header); it != req.end())
        session_id = std::string(it->value());
      plan p = make_plan(req.target(), req.body(), session_id);
      if (!req.keep_alive()) p.close = true;
      co_await sleep_ms(p.delay_ms);
      if (!p.sse) {
        const std::string body = p.whole_body();
        const std::string out = head(p, body.size()) + body;
        auto [wec, wn] = co_await asio::async_write(s, asio::buffer(out), use_tuple);
        if (wec || p.close) co_return;
        continue;
      }
      auto [hec, hn] = co_await asio::async_write(s, asio::buffer(head(p, 0)), use_tuple);
      if (hec) co_return;
      for (int i = 0; i < p.tokens; ++i) {
        if (i > 0) co_await sleep_ms(p.itl_ms);
        if (p.cut_after >= 0 && i >= p.cut_after) co_return;  // drops the connection mid-stream
        auto [cec, cn] = co_await asio::async_write(s, asio::buffer(chunk(p.event(i))), use_tuple);
        if (cec) co_return;
      }
      co_await sleep_ms(p.itl_ms);
      const std::string tail = chunk(p.usage_event()) + chunk("data: [DONE]\n\n") + "0\r\n\r\n";
      auto [tec, tn] = co_await asio::async_write(s, asio::buffer(tail), use_tuple);
      if (tec || p.close) co_return;
    }
  }

  // ---- HTTP/2 ----

  struct h2_stream {
    int32_t id = 0;
    std::string path, session, body;
    std::deque<std::string> pieces;
    size_t offset = 0;
    bool eof = false;
    bool deferred = false;
    bool closed = false;
  };

  template <class Stream>
  struct h2_conn : std::enable_shared_from_this<h2_conn<Stream>> {
    impl& server;
    Stream socket;
    nghttp2_session* session = nullptr;
    bool writing = false;
    bool dead = false;
    std::map<int32_t, std::shared_ptr<h2_stream>> streams;

    h2_conn(impl& s, Stream sock) : server(s), socket(std::move(sock)) {}
    ~h2_conn() {
      if (session) nghttp2_session_del(session);
    }

    void kick() {
      if (writing || dead) return;
      writing = true;
      asio::co_spawn(server.io, writer(this->shared_from_this()), asio::detached);
    }

    static awaitable<void> writer(std::shared_ptr<h2_conn> self) {
      std::string out;
      for (;;) {
        out.clear();
        for (;;) {
          const uint8_t* data = nullptr;
          const ssize_t n = nghttp2_session_mem_send(self->session, &data);
          if (n <= 0) break;
          out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
        }
        if (out.empty()) break;
        auto [ec, n] = co_await asio::async_write(self->socket, asio::buffer(out), use_tuple);
        if (ec) {
          self->dead = true;
          break;
        }
      }
      self->writing = false;
    }

    static awaitable<void> respond(std::shared_ptr<h2_conn> self, std::shared_ptr<h2_stream> st) {
      impl& srv = self->server;
      ++srv.owner.h2_requests_;
      plan p = srv.make_plan(st->path, st->body, st->session);
      co_await srv.sleep_ms(p.delay_ms);
      if (st->closed || self->dead) co_return;
      const std::string status = std::to_string(p.status);
      const std::string type =
          p.sse ? "text/event-stream" : (p.openai ? "application/json" : "text/plain");
      std::vector<nghttp2_nv> nva;
      const auto nv = [](std::string_view n, std::string_view v) {
        return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                          reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(),
                          v.size(), NGHTTP2_NV_FLAG_NONE};
      };
      nva.push_back(nv(":status", status));
      nva.push_back(nv("content-type", type));
      nva.push_back(nv("x-engine-name", srv.cfg.name));
      if (!srv.cfg.cache_status.empty()) nva.push_back(nv("cache-status", srv.cfg.cache_status));
      nghttp2_data_provider prd;
      prd.source.ptr = nullptr;
      prd.read_callback = read_cb;
      if (!p.sse) {
        st->pieces.push_back(p.whole_body());
        st->eof = true;
      }
      nghttp2_submit_response(self->session, st->id, nva.data(), nva.size(), &prd);
      self->kick();
      if (!p.sse) co_return;
      for (int i = 0; i < p.tokens; ++i) {
        if (i > 0) co_await srv.sleep_ms(p.itl_ms);
        if (st->closed || self->dead) co_return;
        if (p.cut_after >= 0 && i >= p.cut_after) {
          // Let the tokens already queued leave first, then reset the stream.
          while (!st->pieces.empty() && !st->closed && !self->dead) co_await srv.sleep_ms(1);
          if (st->closed || self->dead) co_return;
          nghttp2_submit_rst_stream(self->session, NGHTTP2_FLAG_NONE, st->id,
                                    NGHTTP2_INTERNAL_ERROR);
          self->kick();
          co_return;
        }
        self->push(*st, p.event(i));
      }
      co_await srv.sleep_ms(p.itl_ms);
      if (st->closed || self->dead) co_return;
      self->push(*st, p.usage_event() + "data: [DONE]\n\n");
      st->eof = true;
      self->resume(*st);
    }

    void push(h2_stream& st, std::string piece) {
      st.pieces.push_back(std::move(piece));
      resume(st);
    }

    void resume(h2_stream& st) {
      if (st.deferred) {
        st.deferred = false;
        nghttp2_session_resume_data(session, st.id);
      }
      kick();
    }

    static ssize_t read_cb(nghttp2_session* s, int32_t id, uint8_t* buf, size_t len,
                           uint32_t* flags, nghttp2_data_source*, void* user) {
      auto* self = static_cast<h2_conn*>(user);
      auto it = self->streams.find(id);
      if (it == self->streams.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      h2_stream& st = *it->second;
      if (st.pieces.empty()) {
        if (st.eof) {
          *flags |= NGHTTP2_DATA_FLAG_EOF;
          return 0;
        }
        st.deferred = true;
        return NGHTTP2_ERR_DEFERRED;
      }
      // One piece per DATA frame at most, so each event leaves in its own frame.
      std::string& front = st.pieces.front();
      const size_t n = std::min(len, front.size() - st.offset);
      std::memcpy(buf, front.data() + st.offset, n);
      st.offset += n;
      if (st.offset == front.size()) {
        st.pieces.pop_front();
        st.offset = 0;
        if (st.pieces.empty() && st.eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
      }
      (void)s;
      return static_cast<ssize_t>(n);
    }

    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* user) {
      auto* self = static_cast<h2_conn*>(user);
      if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        auto st = std::make_shared<h2_stream>();
        st->id = f->hd.stream_id;
        self->streams[st->id] = st;
      }
      return 0;
    }

    static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nl,
                         const uint8_t* value, size_t vl, uint8_t, void* user) {
      auto* self = static_cast<h2_conn*>(user);
      auto it = self->streams.find(f->hd.stream_id);
      if (it == self->streams.end()) return 0;
      std::string_view n(reinterpret_cast<const char*>(name), nl),
          v(reinterpret_cast<const char*>(value), vl);
      if (n == ":path") it->second->path = std::string(v);
      if (n == self->server.cfg.session_header) it->second->session = std::string(v);
      return 0;
    }

    static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                       void* user) {
      auto* self = static_cast<h2_conn*>(user);
      auto it = self->streams.find(id);
      if (it != self->streams.end())
        it->second->body.append(reinterpret_cast<const char*>(data), len);
      return 0;
    }

    static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* user) {
      auto* self = static_cast<h2_conn*>(user);
      if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
          (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        auto it = self->streams.find(f->hd.stream_id);
        if (it != self->streams.end())
          asio::co_spawn(self->server.io, respond(self->shared_from_this(), it->second),
                         asio::detached);
      }
      return 0;
    }

    static int on_close(nghttp2_session*, int32_t id, uint32_t, void* user) {
      auto* self = static_cast<h2_conn*>(user);
      auto it = self->streams.find(id);
      if (it != self->streams.end()) {
        it->second->closed = true;
        self->streams.erase(it);
      }
      return 0;
    }

    bool init() {
      nghttp2_session_callbacks* cbs;
      nghttp2_session_callbacks_new(&cbs);
      nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
      nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
      nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
      nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
      const int rv = nghttp2_session_server_new(&session, cbs, this);
      nghttp2_session_callbacks_del(cbs);
      if (rv != 0) return false;
      const nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
                                           {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1 << 30) - 1}};
      nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, iv, 2);
      nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, (1 << 30) - 1);
      return true;
    }
  };

  template <class Stream>
  awaitable<void> h2_session(Stream s, std::string initial) {
    auto conn = std::make_shared<h2_conn<Stream>>(*this, std::move(s));
    if (!conn->init()) co_return;
    std::string buf = std::move(initial);
    for (;;) {
      if (!buf.empty()) {
        const ssize_t rv = nghttp2_session_mem_recv(
            conn->session, reinterpret_cast<const uint8_t*>(buf.data()), buf.size());
        if (rv < 0) break;
      }
      conn->kick();
      if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session))
        break;
      buf.resize(64 * 1024);
      auto [ec, n] = co_await conn->socket.async_read_some(asio::buffer(buf), use_tuple);
      if (ec) break;
      buf.resize(n);
    }
    conn->dead = true;
    for (auto& [id, st] : conn->streams) st->closed = true;
    boost::system::error_code ignored;
    boost::beast::get_lowest_layer(conn->socket).close(ignored);
  }
};

upstream::upstream(upstream_config cfg) : cfg_(std::move(cfg)) {}

upstream::~upstream() {
  stop();
}

uint16_t upstream::start() {
  impl_ = std::make_unique<impl>(*this, cfg_);
  if (!impl_->setup_tls()) return 0;
  const size_t colon = cfg_.listen.rfind(':');
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(cfg_.listen.substr(0, colon), ec);
  if (ec) return 0;
  const auto port = static_cast<uint16_t>(std::stoi(cfg_.listen.substr(colon + 1)));
  tcp::endpoint ep(addr, port);
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  acc.set_option(tcp::acceptor::reuse_address(true), ec);
  acc.bind(ep, ec);
  if (ec) return 0;
  acc.listen(1024, ec);
  if (ec) return 0;
  port_ = acc.local_endpoint().port();
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  thread_ = std::thread([this] { impl_->io.run(); });
  return port_;
}

void upstream::stop() {
  if (!impl_) return;
  impl_->io.stop();
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

size_t upstream::distinct_sessions() const {
  std::lock_guard lock(sessions_mutex_);
  return sessions_.size();
}

}  // namespace spillway::loadgen::test
