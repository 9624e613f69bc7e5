#include "loadgen/http2_connection.hpp"

#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <cstring>

namespace spillway::loadgen {

namespace {

constexpr size_t read_size = 64 * 1024;
constexpr int32_t window = (1 << 30) - 1;

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

http2_connection::http2_connection(asio::io_context& io, const connection_config& cfg,
                                   const request_factory& factory, connection_owner& owner)
    : io_(io),
      cfg_(cfg),
      factory_(factory),
      owner_(owner),
      authority_(factory.target().authority()),
      scheme_(factory.target().scheme()) {
  in_.resize(read_size);
  nva_.reserve(8 + factory.h2_headers().size());
}

http2_connection::~http2_connection() {
  if (link_) link_->close();
  if (session_) nghttp2_session_del(session_);
}

bool http2_connection::has_capacity() const {
  if (goaway_) return false;
  return active() < std::min<uint32_t>(cfg_.max_streams, std::max<uint32_t>(remote_max_, 1));
}

void http2_connection::preconnect() {
  if (state_ == state::closed) do_connect();
}

void http2_connection::shutdown() {
  streams_.clear();
  waiting_.clear();
  finished_.clear();
  drop_link();
}

void http2_connection::submit(request_ctx* r) {
  r->conn = this;
  if (state_ == state::open) {
    start_stream(r);
    flush();
    return;
  }
  waiting_.push_back(r);
  if (state_ == state::closed) do_connect();
}

void http2_connection::do_connect() {
  state_ = state::connecting;
  goaway_ = false;
  remote_max_ = 100;
  link_ = std::make_shared<link>(io_, cfg_.tls);
  auto l = link_;
  l->async_connect(cfg_.endpoint,
                   [this, l](error_code ec, bool tls_failed) { on_connect(l, ec, tls_failed); });
}

void http2_connection::on_connect(const std::shared_ptr<link>& l, error_code ec, bool tls_failed) {
  if (l != link_) return;
  auto& stats = owner_.conn_stats();
  if (!ec && cfg_.tls.context && l->alpn() != "h2") {
    tls_failed = true;
    ec = make_error_code(errc::bad_response);
  }
  if (ec || !start_session()) {
    ++stats.connect_errors;
    drop_link();
    fail_all(tls_failed ? error_class::tls : error_class::connect);
    return;
  }
  ++stats.connects;
  if (ever_connected_) ++stats.reconnects;
  ever_connected_ = true;
  state_ = state::open;
  do_read(l);
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (request_ctx* r : waiting) start_stream(r);
  flush();
  owner_.on_ready(this);
}

bool http2_connection::start_session() {
  if (session_) nghttp2_session_del(session_);
  session_ = nullptr;
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return false;
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_cb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv_cb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close_cb);
  const int rv = nghttp2_session_client_new(&session_, cbs, this);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return false;
  const nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, std::size(iv));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, window);
  return true;
}

void http2_connection::start_stream(request_ctx* r) {
  const std::string length = std::to_string(r->body.size());
  std::vector<nghttp2_nv>& nva = nva_;
  nva.clear();
  nva.push_back(make_nv(":method", factory_.method()));
  nva.push_back(make_nv(":scheme", scheme_));
  nva.push_back(make_nv(":authority", authority_));
  nva.push_back(make_nv(":path", factory_.target().target));
  for (const auto& [name, value] : factory_.h2_headers()) nva.push_back(make_nv(name, value));
  if (!r->session.empty()) nva.push_back(make_nv(factory_.session_header_lower(), r->session));
  if (!r->body.empty()) nva.push_back(make_nv("content-length", length));
  nghttp2_data_provider prd;
  prd.source.ptr = r;
  prd.read_callback = read_body_cb;
  r->body_offset = 0;
  // Without NO_COPY flags nghttp2 copies the header block, so the locals above may go.
  const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                            r->body.empty() ? nullptr : &prd, r);
  if (id < 0) {
    r->error = error_class::bad_response;
    r->done = owner_.now();
    r->conn = nullptr;
    finished_.push_back(r);
    if (!in_recv_) deliver_finished();
    return;
  }
  r->stream_id = id;
  add_stream(r);
  if (r->sent < 0) {
    r->sent = owner_.now();
    owner_.on_sent(r);
  }
}

void http2_connection::add_stream(request_ctx* r) {
  r->slot = static_cast<uint32_t>(streams_.size());
  streams_.push_back(r);
}

void http2_connection::remove_stream(request_ctx* r) {
  const uint32_t s = r->slot;
  if (s >= streams_.size() || streams_[s] != r) return;
  streams_[s] = streams_.back();
  streams_[s]->slot = s;
  streams_.pop_back();
}

void http2_connection::abort(request_ctx* r, error_class why) {
  if (r->conn != this) return;
  if (auto it = std::find(waiting_.begin(), waiting_.end(), r); it != waiting_.end()) {
    waiting_.erase(it);
  } else {
    remove_stream(r);
    if (session_ && r->stream_id > 0) {
      nghttp2_session_set_stream_user_data(session_, r->stream_id, nullptr);
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_CANCEL);
    }
  }
  r->conn = nullptr;
  r->error = why;
  r->done = owner_.now();
  if (!in_recv_) flush();
  owner_.on_response(r);
  if (has_capacity()) owner_.on_ready(this);
}

void http2_connection::flush() {
  if (writing_ || in_recv_ || !session_ || !link_) return;
  out_.clear();
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      drop_link();
      fail_all(error_class::bad_response);
      return;
    }
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    if (out_.size() >= 256 * 1024) break;
  }
  if (out_.empty()) {
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      drop_link();
      fail_all(error_class::reset);
    }
    return;
  }
  writing_ = true;
  auto l = link_;
  l->async_write(asio::buffer(out_), [this, l](error_code ec, size_t) {
    if (l != link_) return;
    writing_ = false;
    if (ec) {
      drop_link();
      fail_all(error_class::reset);
      return;
    }
    flush();
  });
}

void http2_connection::do_read(const std::shared_ptr<link>& l) {
  l->async_read_some(asio::buffer(in_.data(), in_.size()),
                     [this, l](error_code ec, size_t n) { on_read(l, ec, n); });
}

void http2_connection::on_read(const std::shared_ptr<link>& l, error_code ec, size_t n) {
  if (l != link_) return;
  if (ec) {
    ++owner_.conn_stats().server_closed;
    drop_link();
    fail_all(error_class::reset);
    return;
  }
  in_recv_ = true;
  const ssize_t rv =
      nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(in_.data()), n);
  in_recv_ = false;
  if (rv < 0) {
    drop_link();
    for (request_ctx* r : streams_) r->error = error_class::bad_response;
    fail_all(error_class::bad_response);
    return;
  }
  deliver_finished();
  if (l != link_) return;
  flush();
  if (l != link_) return;
  if (goaway_ && streams_.empty()) {
    drop_link();
    owner_.on_ready(this);
    return;
  }
  do_read(l);
}

void http2_connection::deliver_finished() {
  auto done = std::move(finished_);
  finished_.clear();
  for (request_ctx* r : done) owner_.on_response(r);
  if (!done.empty() && has_capacity()) owner_.on_ready(this);
}

void http2_connection::fail_all(error_class why) {
  const int64_t now = owner_.now();
  auto streams = std::move(streams_);
  auto waiting = std::move(waiting_);
  streams_.clear();
  waiting_.clear();
  for (auto* list : {&streams, &waiting}) {
    for (request_ctx* r : *list) {
      r->conn = nullptr;
      if (why == error_class::reset) {
        fail_response(*r, now);
      } else {
        if (r->error == error_class::none) r->error = why;
        r->done = now;
      }
      finished_.push_back(r);
    }
  }
  deliver_finished();
  owner_.on_ready(this);
}

void http2_connection::drop_link() {
  if (link_) link_->close();
  link_.reset();
  if (session_) nghttp2_session_del(session_);
  session_ = nullptr;
  state_ = state::closed;
  writing_ = false;
  goaway_ = false;
}

int http2_connection::on_header_cb(nghttp2_session* session, const nghttp2_frame* frame,
                                   const uint8_t* name, size_t namelen, const uint8_t* value,
                                   size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<http2_connection*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* r =
      static_cast<request_ctx*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (!r) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    int status = 0;
    for (char c : v) status = status * 10 + (c - '0');
    if (status >= 200) on_response_status(*r, status, self->owner_.now());
    return 0;
  }
  if (r->status >= 200) on_response_header(*r, n, v, self->cfg_.rules);
  return 0;
}

int http2_connection::on_data_cb(nghttp2_session* session, uint8_t, int32_t stream_id,
                                 const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<http2_connection*>(user);
  auto* r = static_cast<request_ctx*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (!r) return 0;
  on_response_body(*r, std::string_view(reinterpret_cast<const char*>(data), len),
                   self->owner_.now(), ++self->data_seq_, self->cfg_.rules);
  return 0;
}

int http2_connection::on_frame_recv_cb(nghttp2_session* session, const nghttp2_frame* frame,
                                       void* user) {
  auto* self = static_cast<http2_connection*>(user);
  if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    self->remote_max_ =
        nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  } else if (frame->hd.type == NGHTTP2_GOAWAY) {
    if (!self->goaway_) ++self->owner_.conn_stats().server_closed;
    self->goaway_ = true;
  }
  return 0;
}

int http2_connection::on_stream_close_cb(nghttp2_session* session, int32_t stream_id,
                                         uint32_t error_code, void* user) {
  auto* self = static_cast<http2_connection*>(user);
  auto* r = static_cast<request_ctx*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (!r) return 0;  // aborted by us
  nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
  self->remove_stream(r);
  r->conn = nullptr;
  const int64_t now = self->owner_.now();
  if (error_code == NGHTTP2_NO_ERROR) {
    finish_response(*r, now, self->cfg_.rules);
  } else {
    fail_response(*r, now);
  }
  self->finished_.push_back(r);
  return 0;
}

ssize_t http2_connection::read_body_cb(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                                       size_t length, uint32_t* flags, nghttp2_data_source*,
                                       void*) {
  // The stream's user data, not the source pointer: an aborted stream has none any more.
  auto* r = static_cast<request_ctx*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (!r) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const size_t n = std::min(length, r->body.size() - r->body_offset);
  std::memcpy(buf, r->body.data() + r->body_offset, n);
  r->body_offset += n;
  if (r->body_offset == r->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace spillway::loadgen
