#include "proxy/http2/session_bridge.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <cstring>
#include <random>

#include "common/ascii.hpp"
#include "proxy/http1/session.hpp"
#include "proxy/server/worker.hpp"

namespace spillway::http2 {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

void append_fields(std::string& out, const http::header_list& h) {
  for (size_t i = 0; i < h.size(); ++i) {
    out.append(h.name(i)).append(": ").append(h.value(i)).append("\r\n");
  }
}

bool token_char(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

// True when the HTTP/1.1 request parser would take `head`, a request without a body, as it
// stands (request_parser, RFC 9112 §3 and §6): a token method, a target of visible characters,
// one Host, no Transfer-Encoding, at most one Content-Length, of 0. Field names and values were
// checked by nghttp2 (RFC 9113 §8.2.1), which is laxer about the method and the path.
bool plain_request(const http::request_head& head) noexcept {
  if (head.method.empty() || head.target.empty()) return false;
  for (unsigned char c : head.method)
    if (!token_char(c)) return false;
  for (unsigned char c : head.target)
    if (c <= 0x20 || c == 0x7f) return false;
  unsigned hosts = 0, lengths = 0;
  for (size_t i = 0; i < head.headers.size(); ++i) {
    switch (head.headers.id(i)) {
      case http::field_id::host:
        ++hosts;
        break;
      case http::field_id::content_length:
        ++lengths;
        break;
      case http::field_id::transfer_encoding:
        return false;
      default:
        break;
    }
  }
  return hosts == 1 && lengths <= 1 && head.content_length.value_or(0) == 0 && !head.chunked;
}

// Standard base64 with padding (RFC 4648 §4) of at most SHA_DIGEST_LENGTH bytes.
std::string base64(const unsigned char* bytes, size_t n) {
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int len = EVP_EncodeBlock(out, bytes, static_cast<int>(n));
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(len));
}

// A Sec-WebSocket-Key (RFC 6455 §4.1): 16 random bytes in base64. A nonce for the upstream's
// handshake check, not a secret.
std::string websocket_key() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  unsigned char raw[16];
  for (size_t i = 0; i < sizeof raw; i += 8) {
    const uint64_t r = rng();
    std::memcpy(raw + i, &r, 8);
  }
  return base64(raw, sizeof raw);
}

// RFC 6455 §4.2.2: base64(SHA-1(key + the protocol's GUID)).
std::string websocket_accept(std::string_view key) {
  std::string input(key);
  input.append("258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return base64(digest, sizeof digest);
}

bool expects_continue(const http::header_list& h) noexcept {
  auto v = h.find(http::field_id::expect);
  if (!v) return false;
  return http::iequals(ascii::trim_ows(*v), "100-continue");
}

// The driver's view of one stream: forwards to the bridge while it still serves this stream.
class stream_handle final : public http::exchange {
 public:
  explicit stream_handle(std::shared_ptr<stream_bridge> b)
      : b_(std::move(b)), generation_(b_->generation()) {}
  void on_body(std::string_view data) override {
    if (live()) b_->on_body(data);
  }
  void on_body_end(const http::header_list* trailers) override {
    if (live()) b_->on_body_end(trailers);
  }
  void on_client_gone() override {
    if (live()) b_->on_client_gone();
  }
  void on_writable() override {
    if (live()) b_->on_writable();
  }

 private:
  bool live() const noexcept { return b_->generation() == generation_; }
  std::shared_ptr<stream_bridge> b_;
  uint64_t generation_;
};

}  // namespace

std::shared_ptr<http::exchange> session_bridge_factory::open(http::request_head& head,
                                                             bool end_stream,
                                                             http::downstream_port& port) {
  worker_.stats().h2_streams.add();
  auto& idle = heads_->idle;
  while (!idle.empty()) {
    auto b = std::move(idle.back());
    idle.pop_back();
    if (b->closed()) continue;  // its session timed out or was drained meanwhile
    b->attach(port, head, end_stream);
    return std::make_shared<stream_handle>(std::move(b));
  }
  auto b = std::make_shared<stream_bridge>(worker_.io().get_executor(), port, tls_, head,
                                           end_stream, heads_, true);
  std::make_shared<http1::session>(worker_, listener_, b, client_ip_, local_)->start();
  return std::make_shared<stream_handle>(std::move(b));
}

void session_bridge_factory::close_idle() {
  auto idle = std::move(heads_->idle);
  heads_->idle.clear();
  for (auto& b : idle) b->retire();
}

stream_bridge::stream_bridge(asio::any_io_executor ex, http::downstream_port& port, bool tls,
                             const http::request_head& head, bool end_stream,
                             std::shared_ptr<head_pool> heads, bool heads_as_values)
    : ex_(std::move(ex)),
      port_(&port),
      tls_(tls),
      heads_as_values_(heads_as_values),
      heads_(std::move(heads)) {
  if (heads_ && !heads_->spare.empty()) {
    res_ = std::move(heads_->spare.back());
    heads_->spare.pop_back();
  }
  start_request(head, end_stream);
}

void stream_bridge::start_request(const http::request_head& head, bool end_stream) {
  head_request_ = head.method == "HEAD";
  tunnel_ = head.websocket_tunnel;
  tunnel_open_ = false;
  if (tunnel_) {
    in_.append("GET ").append(head.target).append(" HTTP/1.1\r\n");
    for (size_t i = 0; i < head.headers.size(); ++i)
      if (!http::iequals(head.headers.name(i), "sec-websocket-key"))
        in_.append(head.headers.name(i)).append(": ").append(head.headers.value(i)).append("\r\n");
    ws_key_ = websocket_key();
    in_.append("upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: ")
        .append(ws_key_)
        .append("\r\n\r\n");
    request_done_ = end_stream;
    request_body_.reset(&in_, http1::framing::length);  // DATA passes unframed
    return;
  }
  if (heads_as_values_ && end_stream && plain_request(head)) {
    // The driver's copy lives until the stream closes, and a closing stream reaches the
    // bridge (on_client_gone()) before it is reused.
    pending_head_ = &head;
    expect_continue_ = expects_continue(head.headers);
    head_ready_ = true;
    request_done_ = true;
    request_body_.reset(&in_, http1::framing::none);
    return;
  }
  const bool chunked = !end_stream && !head.content_length;
  if (in_.capacity() < 256)
    in_.reserve(head.method.size() + head.target.size() + 64 + 2 * head.headers.size() + 256);
  in_.append(head.method).append(" ").append(head.target).append(" HTTP/1.1\r\n");
  append_fields(in_, head.headers);
  if (chunked) in_.append("transfer-encoding: chunked\r\n");
  in_.append("\r\n");
  request_done_ = end_stream;
  request_body_.reset(&in_, chunked ? http1::framing::chunked : http1::framing::length);
}

void stream_bridge::attach(http::downstream_port& port, const http::request_head& head,
                           bool end_stream) {
  ++generation_;
  port_ = &port;
  head_ready_ = false;
  pending_head_ = nullptr;
  in_.clear();
  in_off_ = 0;
  unconsumed_ = 0;
  res_in_.clear();
  parser_.reset();
  body_left_ = 0;
  body_.clear();
  head_sent_ = false;
  blocked_ = false;
  response_done_ = false;
  reusable_ = false;
  pooled_ = false;
  start_request(head, end_stream);
  deliver();  // the session's read is waiting for it
}

void stream_bridge::idle() noexcept {
  if (!reusable_ || pooled_ || closed_ || retired_ || !response_done_ || !heads_) return;
  pooled_ = true;
  if (heads_->idle.size() >= max_idle_sessions) return retire();
  heads_->idle.push_back(shared_from_this());
}

void stream_bridge::retire() {
  retired_ = true;
  deliver();
}

stream_bridge::~stream_bridge() {
  constexpr size_t max_spare = 4;  // a few hundred bytes each, kept while the connection lives
  if (!heads_ || heads_->spare.size() >= max_spare) return;
  parser_.reset();  // it refers to res_
  res_.clear();
  heads_->spare.push_back(std::move(res_));
}

void stream_bridge::new_parser() {
  res_.clear();
  parser_.emplace(res_);
  parser_->eager(true);
  parser_->header_limit(1024 * 1024);  // the session wrote it; its own limits applied upstream
  parser_->body_limit(boost::none);
  parser_->skip(head_request_);
  parser_->body().reset(&body_, http1::framing::length);
}

// ---------------------------------------------------------------- request side

void stream_bridge::on_body(std::string_view data) {
  if (closed_ || data.empty()) {
    if (port_) port_->consume_request_body(data.size());
    return;
  }
  request_body_.piece(data);
  // Grant the client more only while the session keeps up.
  if (in_.size() - in_off_ <= request_buffer) {
    if (port_) port_->consume_request_body(data.size() + unconsumed_);
    unconsumed_ = 0;
  } else {
    unconsumed_ += data.size();
  }
  deliver();
}

void stream_bridge::on_body_end(const http::header_list* trailers) {
  if (request_done_) return;
  request_done_ = true;
  request_body_.finish(trailers);
  deliver();
}

void stream_bridge::async_read_some(asio::mutable_buffer b, io_handler h) {
  read_buf_ = b;
  read_h_ = std::move(h);
  deliver();
}

void stream_bridge::deliver() {
  if (!read_h_) return;
  error_code ec;
  size_t n = 0;
  if (closed_) {
    ec = asio::error::operation_aborted;
  } else if (head_ready_) {
    // n == 0: the head waits in take_head()
  } else if (in_off_ < in_.size()) {
    n = std::min(read_buf_.size(), in_.size() - in_off_);
    std::memcpy(read_buf_.data(), in_.data() + in_off_, n);
    in_off_ += n;
    if (in_off_ == in_.size()) {
      in_.clear();
      in_off_ = 0;
    } else if (in_off_ >= request_buffer) {
      in_.erase(0, in_off_);
      in_off_ = 0;
    }
    if (unconsumed_ > 0 && in_.size() - in_off_ <= request_buffer) {
      if (port_) port_->consume_request_body(unconsumed_);
      unconsumed_ = 0;
    }
  } else if (client_gone_) {
    ec = asio::error::connection_reset;
  } else if (retired_ || (response_done_ && !reusable_)) {
    ec = asio::error::eof;  // no further stream for this session: it winds down
  } else if (tunnel_ && request_done_) {
    ec = asio::error::eof;  // the client ended its side of the tunnel
  } else {
    return;  // the session watches for a disconnect while it answers, or waits for a stream
  }
  asio::post(ex_, [h = std::move(read_h_), ec, n] { h(ec, n); });
  read_h_ = nullptr;
}

bool stream_bridge::take_head(http::request_head& into) noexcept {
  if (!head_ready_ || closed_ || client_gone_) return false;
  head_ready_ = false;
  into = *pending_head_;  // into's storage, grown by earlier requests, is reused
  pending_head_ = nullptr;
  into.version = 11;
  into.keep_alive = true;
  into.expect_continue = expect_continue_;
  return true;
}

void stream_bridge::on_client_gone() {
  client_gone_ = true;
  head_ready_ = false;
  pending_head_ = nullptr;
  port_ = nullptr;
  deliver();
  if (write_h_) complete_write(asio::error::connection_reset);
}

// ---------------------------------------------------------------- response side

void stream_bridge::async_write(asio::const_buffer b, io_handler h) {
  write_h_ = std::move(h);
  write_n_ = b.size();
  if (closed_ || client_gone_) return complete_write(asio::error::broken_pipe);
  if (response_done_) return complete_write({});  // bytes after the end: nothing to carry them
  const std::string_view data(static_cast<const char*>(b.data()), b.size());
  if (res_in_.empty()) {
    const size_t used = take_response(data);
    if (!response_done_ && port_) res_in_.assign(data.substr(used));
  } else {
    res_in_.append(data);
    res_in_.erase(0, take_response(res_in_));
  }
  if (response_done_ || !port_) res_in_.clear();
  deliver();  // after the end of the response, the session learns whether a stream follows
  // A complete answer needs no more room: the driver holds it, and the stream may be gone
  // (with it the on_writable() this write would wait for) by the time it drains.
  if ((!blocked_ || response_done_) && write_h_) complete_write({});
}

size_t stream_bridge::take_response(std::string_view data) {
  size_t off = 0;
  while (off < data.size() && !response_done_ && port_) {
    if (parser_) return off + parse_full(data.substr(off));
    if (!head_sent_) {
      size_t used = 0;
      const head_result r = read_head(data.substr(off), used);
      if (r == head_result::need_more) break;
      if (r == head_result::fallback) {
        new_parser();
        continue;
      }
      off += used;
      if (tunnel_ && res_.status == 101) {
        const auto accept = res_.headers.find("sec-websocket-accept");
        if (!accept || ascii::trim_ows(*accept) != websocket_accept(ws_key_)) {
          res_.clear();
          res_.status = 502;  // not the handshake this key asked for: no tunnel
          res_.version = 11;
          head_sent_ = true;
          response_done_ = true;
          port_->send_head(res_, true);
          finish_port();
          break;
        }
        res_.status = 200;  // RFC 8441 §5: the tunnel is open
        res_.reason.clear();
        tunnel_open_ = true;
        head_sent_ = true;
        body_left_ = UINT64_MAX;  // until the session closes
        port_->send_head(res_, false);
        continue;
      }
      if (tunnel_ && res_.status >= 200 && res_.status < 300) res_.status = 501;  // not upgraded
      if (res_.status < 200) continue;  // 100 Continue, 103: nothing to carry over HTTP/2 here
      head_sent_ = true;
      const bool empty = body_left_ == 0;
      port_->send_head(res_, empty);
      if (empty) {
        response_done_ = true;
        finish_port();
      }
      continue;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(body_left_, data.size() - off));
    body_left_ -= n;
    if (!port_->send_body(data.substr(off, n))) blocked_ = true;
    off += n;
    if (body_left_ == 0 && port_) {
      port_->end_body(nullptr);
      response_done_ = true;
      finish_port();
    }
  }
  return off;
}

bool stream_bridge::write_head(const http::response_head& head, uint64_t body_bytes) noexcept {
  if (closed_ || client_gone_ || !port_ || response_done_ || head_sent_ || parser_ ||
      !res_in_.empty() || body_bytes == 0 || tunnel_)  // a tunnel's answer is read as text
    return false;
  head_sent_ = true;
  body_left_ = body_bytes;
  port_->send_head(head, false);
  return true;
}

stream_bridge::head_result stream_bridge::read_head(std::string_view data, size_t& used) {
  constexpr size_t max_fast_head = 64 * 1024;
  // One line at a time: [pos, eol) without its CRLF. need_more until the empty line.
  size_t pos = 0, eol = 0;
  const auto next_line = [&]() {
    const size_t lf = data.find('\n', pos);
    if (lf == std::string_view::npos) return false;
    eol = lf > pos && data[lf - 1] == '\r' ? lf - 1 : std::string_view::npos;
    return true;
  };
  if (!next_line())
    return data.size() > max_fast_head ? head_result::fallback : head_result::need_more;
  if (eol == std::string_view::npos) return head_result::fallback;  // bare LF
  const std::string_view line = data.substr(0, eol);
  // "HTTP/1.x NNN[ reason]"
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
      line[8] != ' ' || (line.size() > 12 && line[12] != ' '))
    return head_result::fallback;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return head_result::fallback;
    status = status * 10 + (line[i] - '0');
  }
  res_.clear();
  res_.status = status;
  res_.version = line[7] == '1' ? 11 : 10;
  if (line.size() > 13) res_.reason.assign(line.substr(13));
  bool has_length = false;
  uint64_t length = 0;
  for (;;) {
    pos = eol + 2;
    if (!next_line())
      return data.size() > max_fast_head ? head_result::fallback : head_result::need_more;
    if (eol == pos) break;  // the empty line: end of the head
    if (eol == std::string_view::npos) return head_result::fallback;
    const std::string_view f = data.substr(pos, eol - pos);
    const size_t colon = f.find(':');
    if (colon == 0 || colon == std::string_view::npos) return head_result::fallback;
    const std::string_view name = f.substr(0, colon);
    const std::string_view value = ascii::trim_ows(f.substr(colon + 1));
    const auto id = bhttp::string_to_field(name);
    if (id == bhttp::field::transfer_encoding) return head_result::fallback;
    if (id == bhttp::field::content_length) {
      if (has_length || value.empty() || value.size() > 18) return head_result::fallback;
      for (char c : value) {
        if (c < '0' || c > '9') return head_result::fallback;
        length = length * 10 + static_cast<uint64_t>(c - '0');
      }
      has_length = true;
    }
    res_.headers.add(name, value, id);
  }
  used = eol + 2;
  // No raw_head_is_clean() pass: the session wrote this head from fields its own parsers (or
  // nghttp2) accepted, which refuse NUL, CR and LF in values; lines end in CRLF (checked above).
  // Whitespace in a name: the full parser decides.
  for (size_t i = 0; i < res_.headers.size(); ++i)
    for (char c : res_.headers.name(i))
      if (c == ' ' || c == '\t') return head_result::fallback;
  if (has_length) res_.content_length = length;
  const bool no_body = status < 200 || status == 204 || status == 304 || head_request_;
  if (!no_body && !has_length) return head_result::fallback;  // delimited by the end of stream
  body_left_ = no_body ? 0 : length;
  return head_result::done;
}

size_t stream_bridge::parse_full(std::string_view data) {
  size_t off = 0;
  while (off < data.size() && !response_done_ && port_) {
    error_code ec;
    const size_t used = parser_->put(asio::buffer(data.data() + off, data.size() - off), ec);
    off += used;
    if (ec && ec != bhttp::error::need_more) {
      port_->abort(internal_error(errc::internal_error));
      finish_port();
      break;
    }
    if (parser_->is_header_done() && !head_sent_) {
      if (res_.status < 200) {  // 100 Continue, 103: nothing to carry over HTTP/2 here
        new_parser();
        continue;
      }
      head_sent_ = true;
      const bool done = parser_->is_done();
      port_->send_head(res_, done && body_.empty());
      if (done && body_.empty()) {
        response_done_ = true;
        finish_port();
        break;
      }
    }
    if (!body_.empty() && port_) {
      if (!port_->send_body(body_)) blocked_ = true;
      body_.clear();
    }
    if (parser_->is_done() && port_) {
      port_->end_body(parser_->trailers().size() > 0 ? &parser_->trailers() : nullptr);
      response_done_ = true;
      finish_port();
      break;
    }
    if (ec == bhttp::error::need_more || used == 0) break;
  }
  return off;
}

void stream_bridge::on_writable() {
  blocked_ = false;
  if (write_h_) complete_write({});
}

void stream_bridge::complete_write(const error_code& ec) {
  asio::post(ex_, [h = std::move(write_h_), ec, n = write_n_] { h(ec, ec ? 0 : n); });
  write_h_ = nullptr;
}

void stream_bridge::finish_port() {
  port_ = nullptr;
  // The session may serve another stream once it has read the whole request.
  reusable_ = heads_ && response_done_ && request_done_ && in_off_ == in_.size() && !client_gone_ &&
              !head_ready_;
}

void stream_bridge::close() noexcept {
  if (closed_) return;
  closed_ = true;
  head_ready_ = false;
  pending_head_ = nullptr;
  // A session that ends before its answer is complete cuts the stream off (RST_STREAM); an open
  // tunnel ends as its upstream connection did, with END_STREAM.
  if (port_ && !response_done_) {
    if (tunnel_open_) {
      response_done_ = true;
      port_->end_body(nullptr);
    } else {
      port_->abort(internal_error(errc::internal_error));
    }
  }
  port_ = nullptr;
  deliver();
  if (write_h_) complete_write(asio::error::operation_aborted);
}

}  // namespace spillway::http2
