#include "proxy/http2/server_connection.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace spillway::http2 {

const char* to_string(abuse a) noexcept {
  switch (a) {
    case abuse::rapid_reset:
      return "rapid_reset";
    case abuse::continuation_flood:
      return "continuation_flood";
    case abuse::header_list_too_large:
      return "header_list_too_large";
    case abuse::settings_flood:
      return "settings_flood";
    case abuse::ping_flood:
      return "ping_flood";
    case abuse::empty_data_flood:
      return "empty_data_flood";
    case abuse::priority_flood:
      return "priority_flood";
    case abuse::window_update_flood:
      return "window_update_flood";
    case abuse::unknown_frame_flood:
      return "unknown_frame_flood";
    case abuse::protocol_error:
      return "protocol_error";
    case abuse::count:
      break;
  }
  return "unknown";
}

bool starts_with_preface(std::string_view bytes) noexcept {
  constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const size_t n = std::min(bytes.size(), preface.size());
  return bytes.substr(0, n) == preface.substr(0, n);
}

namespace {

/// Events allowed at once (`burst`) and refilled at `rate` per second.
class token_bucket {
 public:
  bool take(steady::time_point now, uint32_t burst, uint32_t rate) noexcept {
    if (last_ == steady::time_point{}) {
      tokens_ = burst;
    } else {
      const double dt = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min<double>(burst, tokens_ + dt * rate);
    }
    last_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  double tokens_ = 0.0;
  steady::time_point last_{};
};

struct stream_state {
  explicit stream_state(int32_t i) : id(i) {}
  int32_t id;
  // request
  http::request_head head;
  std::string authority;
  std::string cookies;
  std::string protocol;  // :protocol of an extended CONNECT (RFC 8441)
  http::header_list trailers;
  bool in_trailers = false;
  size_t header_bytes = 0;
  bool too_large = false;
  bool dispatched = false;     // the handler saw on_request
  bool peer_reset = false;     // the client sent RST_STREAM
  bool handler_reset = false;  // reset() by the handler (e.g. the upstream failed)
  bool request_ended = false;  // the client's END_STREAM arrived
  // response
  std::string out;
  size_t out_off = 0;
  bool body_ended = false;
  bool deferred = false;   // the data source returned DEFERRED and waits for resume
  bool told_full = false;  // send_body() returned false; on_writable() owed
  http::header_list response_trailers;
  bool has_response_trailers = false;

  size_t buffered() const noexcept { return out.size() - out_off; }

  /// Ready for stream `i`, keeping the capacity of every buffer.
  void reuse(int32_t i) noexcept {
    id = i;
    head.clear();
    authority.clear();
    cookies.clear();
    protocol.clear();
    trailers.clear();
    in_trailers = false;
    header_bytes = 0;
    too_large = false;
    dispatched = false;
    peer_reset = false;
    handler_reset = false;
    request_ended = false;
    out.clear();
    out_off = 0;
    body_ended = false;
    deferred = false;
    told_full = false;
    response_trailers.clear();
    has_response_trailers = false;
  }
};

// Closed streams' states kept for reuse, and the largest ones worth keeping.
constexpr size_t max_spare_streams = 8;
constexpr size_t max_spare_header_bytes = 4 * 1024;
constexpr size_t max_spare_buffer = 16 * 1024;

bool is_connection_specific(std::string_view name) noexcept {
  return http::is_hop_by_hop(name);
}

}  // namespace

struct server_connection::impl {
  impl(server_connection& o, handler& hd, const limits& l, steady::time_point (*c)())
      : owner(o), h(hd), lim(l), clock(c) {}
  ~impl() {
    if (session) nghttp2_session_del(session);
  }

  server_connection& owner;
  handler& h;
  limits lim;
  steady::time_point (*clock)();
  nghttp2_session* session = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<stream_state>> streams;
  // States of closed streams, reused so that a new stream's buffers start at the size earlier
  // streams grew them to; released when the connection is idle (release_spare()).
  std::vector<decltype(streams)::node_type> spare;
  std::vector<int32_t> writable;  // streams owed on_writable() after the current produce()
  token_bucket resets, settings, pings, empty_data, unknown_frames;
  // For the PRIORITY and WINDOW_UPDATE budgets (limits::priority_per_stream and
  // limits::window_updates_per_data_frame).
  uint64_t streams_opened = 0, data_frames_sent = 0, priority_frames = 0, window_updates = 0;
  bool ended = false;           // terminated for abuse or a protocol error
  bool notice_pending = false;  // shutdown_notice() waits for its PING's acknowledgement
  std::string scratch;          // lower-cased response header names
  std::vector<nghttp2_nv> nv;   // the response head being submitted (reused)

  stream_state* find(int32_t id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : it->second.get();
  }

  void end_for(abuse a) {
    owner.abuse_[static_cast<size_t>(a)]++;
    if (ended) return;
    ended = true;
    owner.ended_for_ = a;
    nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
  }

  void count(abuse a) { owner.abuse_[static_cast<size_t>(a)]++; }

  // RFC 9113 §8.3.1 → an origin-form HTTP/1.1 request head.
  void finish_head(stream_state& st, bool end_stream) {
    auto& head = st.head;
    head.version = 11;
    head.keep_alive = true;
    if (!st.authority.empty() && !head.headers.find(http::field_id::host))
      head.headers.add("host", st.authority, http::field_id::host);
    if (!st.cookies.empty()) head.headers.add("cookie", st.cookies, http::field_id::cookie);
    if (auto cl = head.headers.find(http::field_id::content_length)) {
      uint64_t v = 0;
      for (char c : *cl) v = v * 10 + static_cast<uint64_t>(c - '0');  // nghttp2 checked digits
      head.content_length = v;
    }
    head.chunked = !end_stream && !head.content_length;
    // nghttp2 let :protocol through only with CONNECT, :path and :scheme (RFC 8441 §4).
    if (!st.protocol.empty()) {
      head.websocket_tunnel = true;
      head.chunked = false;
    }
  }

  /// A bodiless answer from here, the stream never dispatched: 431, or 501 for a CONNECT that
  /// is not a WebSocket's.
  void answer_locally(int32_t id, const char (&status)[4]) {
    const nghttp2_nv nv[] = {{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":status")),
                              const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(status)), 7, 3,
                              NGHTTP2_NV_FLAG_NONE}};
    nghttp2_submit_response(session, id, nv, 1, nullptr);
  }

  // nghttp2 callbacks ---------------------------------------------------------------------

  static impl& self(void* p) { return *static_cast<impl*>(p); }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* p) {
    auto& me = self(p);
    if (f->hd.type != NGHTTP2_HEADERS) return 0;
    if (f->headers.cat == NGHTTP2_HCAT_REQUEST) {
      ++me.streams_opened;
      if (me.spare.empty()) {
        me.streams.emplace(f->hd.stream_id, std::make_unique<stream_state>(f->hd.stream_id));
      } else {
        auto node = std::move(me.spare.back());  // the map's node and the state in it
        me.spare.pop_back();
        node.key() = f->hd.stream_id;
        node.mapped()->reuse(f->hd.stream_id);
        me.streams.insert(std::move(node));
      }
    } else if (auto* st = me.find(f->hd.stream_id)) {
      st->in_trailers = true;
      st->header_bytes = 0;
    }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* p) {
    auto& me = self(p);
    auto* st = me.find(f->hd.stream_id);
    if (!st) return 0;
    st->header_bytes += namelen + valuelen + 32;  // RFC 9113 §6.5.2
    if (st->header_bytes > me.lim.max_header_list_bytes) {
      if (!st->too_large) me.count(abuse::header_list_too_large);
      st->too_large = true;
      // Past 16 times the limit the block is an attack, not a mistake: stop decoding it.
      if (st->header_bytes > 16ull * me.lim.max_header_list_bytes || st->in_trailers)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      return 0;
    }
    if (st->too_large) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (st->in_trailers) {
      if (!n.empty() && n[0] != ':') st->trailers.add(n, v);
      return 0;
    }
    if (!n.empty() && n[0] == ':') {
      if (n == ":method")
        st->head.method.assign(v);
      else if (n == ":path")
        st->head.target.assign(v);
      else if (n == ":authority")
        st->authority.assign(v);
      else if (n == ":protocol")
        st->protocol.assign(v);
      return 0;  // :scheme is not forwarded
    }
    if (n == "cookie") {  // RFC 9113 §8.2.3: one field for HTTP/1.1
      if (!st->cookies.empty()) st->cookies.append("; ");
      st->cookies.append(v);
      return 0;
    }
    st->head.headers.add(n, v, boost::beast::http::string_to_field(n));
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* p) {
    auto& me = self(p);
    const auto now = me.clock();
    const bool end_stream = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (end_stream && (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA))
      if (auto* st = me.find(f->hd.stream_id)) st->request_ended = true;
    switch (f->hd.type) {
      case NGHTTP2_HEADERS: {
        auto* st = me.find(f->hd.stream_id);
        if (!st) return 0;
        if (f->headers.cat == NGHTTP2_HCAT_REQUEST) {
          if (st->too_large) {
            me.answer_locally(st->id, "431");
            return 0;
          }
          // CONNECT tunnels only WebSocket (RFC 8441); a plain CONNECT (RFC 9113 §8.5) or
          // another protocol is not implemented here.
          if (st->head.method == "CONNECT" && !http::iequals(st->protocol, "websocket")) {
            me.answer_locally(st->id, "501");
            return 0;
          }
          me.finish_head(*st, end_stream);
          st->dispatched = true;
          me.h.on_request(st->id, st->head, end_stream);
        } else if (end_stream && st->dispatched) {
          me.h.on_body_end(st->id, &st->trailers);
        }
        return 0;
      }
      case NGHTTP2_DATA: {
        if (f->hd.length == 0 && !end_stream &&
            !me.empty_data.take(now, me.lim.empty_data_burst, me.lim.empty_data_per_second)) {
          me.end_for(abuse::empty_data_flood);
          return 0;
        }
        auto* st = me.find(f->hd.stream_id);
        if (end_stream && st && st->dispatched) me.h.on_body_end(st->id, nullptr);
        return 0;
      }
      case NGHTTP2_RST_STREAM:
        if (auto* st = me.find(f->hd.stream_id)) st->peer_reset = true;
        if (!me.resets.take(now, me.lim.reset_burst, me.lim.resets_per_second))
          me.end_for(abuse::rapid_reset);
        return 0;
      case NGHTTP2_SETTINGS:
        if (!(f->hd.flags & NGHTTP2_FLAG_ACK) &&
            !me.settings.take(now, me.lim.settings_burst, me.lim.settings_per_second))
          me.end_for(abuse::settings_flood);
        return 0;
      case NGHTTP2_PING:
        if ((f->hd.flags & NGHTTP2_FLAG_ACK) && me.notice_pending) {
          me.owner.shutdown();  // the client has seen the notice: the final GOAWAY
          return 0;
        }
        if (!(f->hd.flags & NGHTTP2_FLAG_ACK) &&
            !me.pings.take(now, me.lim.ping_burst, me.lim.pings_per_second))
          me.end_for(abuse::ping_flood);
        return 0;
      default:
        return 0;
    }
  }

  // Frames that do little for the client and cost a read, a lookup and (for unknown types)
  // nothing useful at all: bounded so that a connection cannot keep the worker busy with them
  // (CVE-2019-9513 "resource loop" for PRIORITY, CVE-2019-9511 style for WINDOW_UPDATE).
  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* p) {
    auto& me = self(p);
    if (me.ended) return 0;
    switch (hd->type) {
      case NGHTTP2_PRIORITY:
      case NGHTTP2_PRIORITY_UPDATE:
        if (++me.priority_frames > uint64_t{me.lim.priority_per_stream} * (1 + me.streams_opened))
          me.end_for(abuse::priority_flood);
        return 0;
      case NGHTTP2_WINDOW_UPDATE:
        if (++me.window_updates >
            1 + 2 * (me.streams_opened +
                     uint64_t{me.lim.window_updates_per_data_frame} * me.data_frames_sent))
          me.end_for(abuse::window_update_flood);
        return 0;
      default:
        if (hd->type > NGHTTP2_CONTINUATION &&
            !me.unknown_frames.take(me.clock(), me.lim.unknown_frame_burst,
                                    me.lim.unknown_frames_per_second))
          me.end_for(abuse::unknown_frame_flood);
        return 0;
    }
  }

  // Extension frames are registered only to be counted (on_begin_frame): never unpacked.
  static int on_extension_chunk(nghttp2_session*, const nghttp2_frame_hd*, const uint8_t*, size_t,
                                void*) {
    return 0;
  }
  static int unpack_extension(nghttp2_session*, void**, const nghttp2_frame_hd*, void*) {
    return NGHTTP2_ERR_CANCEL;
  }

  static int on_data_chunk(nghttp2_session* s, uint8_t, int32_t id, const uint8_t* data, size_t len,
                           void* p) {
    auto& me = self(p);
    auto* st = me.find(id);
    if (!st || !st->dispatched) {
      nghttp2_session_consume(s, id, len);  // nobody reads it: keep the windows open
      return 0;
    }
    // The connection window reopens at once and only the stream's waits for its reader:
    // otherwise streams whose requests wait in a queue (bodies unread) would hold the whole
    // connection window and starve the stream being served. Per-connection buffering stays
    // bounded by max_concurrent_streams × stream_window.
    nghttp2_session_consume_connection(s, len);
    me.h.on_body(id, {reinterpret_cast<const char*>(data), len});
    return 0;
  }

  // Our response is complete while the client has not finished its request: RST_STREAM
  // NO_ERROR (RFC 9113 §8.1) so the stream does not stay half-open, keeping the connection
  // out of its idle timeout, until the client deigns to end it.
  static int on_frame_send(nghttp2_session* s, const nghttp2_frame* f, void* p) {
    auto& me = self(p);
    if (f->hd.type == NGHTTP2_DATA) ++me.data_frames_sent;
    // nghttp2 ends a connection that breaks the protocol by itself: name it for the metrics.
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR &&
        !me.owner.ended_for_)
      me.owner.ended_for_ = abuse::protocol_error;
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
      return 0;
    auto* st = me.find(f->hd.stream_id);
    if (st && !st->request_ended)
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
    return 0;
  }

  static int on_invalid_frame(nghttp2_session*, const nghttp2_frame*, int, void* p) {
    self(p).count(abuse::protocol_error);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t code, void* p) {
    auto& me = self(p);
    auto it = me.streams.find(id);
    if (it == me.streams.end()) return 0;
    const bool dispatched = it->second->dispatched;
    // A dispatched stream that we reset for the client's fault (a stream error such as more
    // DATA than its content-length) costs an upstream request as a client reset does, without
    // the client sending RST_STREAM ("MadeYouReset", CVE-2025-8671): same bucket.
    if (dispatched && code != NGHTTP2_NO_ERROR && !it->second->peer_reset &&
        !it->second->handler_reset && !me.ended &&
        !me.resets.take(me.clock(), me.lim.reset_burst, me.lim.resets_per_second))
      me.end_for(abuse::rapid_reset);
    auto& st = *it->second;
    const bool keep = me.spare.size() < max_spare_streams && !st.in_trailers &&
                      st.header_bytes <= max_spare_header_bytes &&
                      st.out.capacity() <= max_spare_buffer;
    auto node = me.streams.extract(it);
    if (keep) me.spare.push_back(std::move(node));
    if (dispatched) me.h.on_stream_closed(id, code);
    return 0;
  }

  static ssize_t read_body(nghttp2_session* s, int32_t id, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source* src, void* p) {
    auto& me = self(p);
    auto* st = static_cast<stream_state*>(src->ptr);
    const size_t n = std::min(st->buffered(), length);
    std::memcpy(buf, st->out.data() + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out.size()) {
      st->out.clear();
      st->out_off = 0;
    }
    if (st->told_full && st->buffered() < me.lim.stream_buffer / 2) {
      st->told_full = false;
      me.writable.push_back(id);
    }
    if (st->buffered() == 0) {
      if (!st->body_ended) {
        if (n > 0) return static_cast<ssize_t>(n);
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
      }
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (st->has_response_trailers) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nv;
        me.to_nv(st->response_trailers, nv);
        nghttp2_submit_trailer(s, id, nv.data(), nv.size());
      }
    }
    return static_cast<ssize_t>(n);
  }

  // Response fields for nghttp2: lower-case names (RFC 9113 §8.2.1), connection-specific ones
  // dropped (§8.2.2). Names point into `scratch`, values into `fields`. A value that differs on
  // every response (x-request-id) is sent as a literal never indexed (RFC 7541 §6.2.3, the only
  // non-indexing form nghttp2 offers): adding it to the
  // dynamic table would only evict entries that later responses reuse.
  void to_nv(const http::header_list& fields, std::vector<nghttp2_nv>& nv) {
    size_t total = 0;
    for (size_t i = 0; i < fields.size(); ++i) total += fields.name(i).size();
    scratch.resize(total);  // no reallocation below: the names keep pointing into it
    size_t off = 0;
    for (size_t i = 0; i < fields.size(); ++i) {
      const auto n = fields.name(i);
      const auto id = fields.id(i);
      if (id != http::field_id::unknown ? http::is_hop_by_hop(id) : is_connection_specific(n))
        continue;
      char* out = scratch.data() + off;
      for (size_t k = 0; k < n.size(); ++k)
        out[k] = n[k] >= 'A' && n[k] <= 'Z' ? static_cast<char>(n[k] + 32) : n[k];
      off += n.size();
      const auto v = fields.value(i);
      const bool unique = n.size() == 12 && std::string_view(out, 12) == "x-request-id";
      nv.push_back({reinterpret_cast<uint8_t*>(out),
                    const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(v.data())), n.size(),
                    v.size(), unique ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE});
    }
  }
};

server_connection::server_connection(handler& h, const limits& l, steady::time_point (*clock)())
    : impl_(std::make_unique<impl>(*this, h, l, clock)) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &impl::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, &impl::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &impl::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &impl::on_data_chunk);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, &impl::on_invalid_frame);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, &impl::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &impl::on_stream_close);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &impl::on_begin_frame);
  nghttp2_session_callbacks_set_on_extension_chunk_recv_callback(cb, &impl::on_extension_chunk);
  nghttp2_session_callbacks_set_unpack_extension_callback(cb, &impl::unpack_extension);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_continuations(opt, l.max_continuations);
  nghttp2_option_set_max_settings(opt, 32);        // entries in one SETTINGS frame
  nghttp2_option_set_max_outbound_ack(opt, 1000);  // unread PING/SETTINGS acks
  // Every type past the RFC 9113 ones, so that on_begin_frame sees (and counts) them; nghttp2
  // skips unregistered ones without a callback. Server-side ALTSVC and ORIGIN mean nothing.
  for (unsigned t = NGHTTP2_CONTINUATION + 1; t <= 0xff; ++t)
    nghttp2_option_set_user_recv_extension_type(opt, static_cast<uint8_t>(t));
  nghttp2_session_server_new2(&impl_->session, cb, impl_.get(), opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
}

server_connection::~server_connection() = default;

void server_connection::start() {
  const nghttp2_settings_entry s[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, impl_->lim.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, impl_->lim.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, impl_->lim.max_header_list_bytes},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},  // WebSocket over HTTP/2 (RFC 8441)
  };
  nghttp2_submit_settings(impl_->session, NGHTTP2_FLAG_NONE, s, std::size(s));
  const auto conn = static_cast<int32_t>(
      std::max<uint32_t>(impl_->lim.connection_window, NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE));
  nghttp2_session_set_local_window_size(impl_->session, NGHTTP2_FLAG_NONE, 0, conn);
}

error server_connection::receive(std::span<const uint8_t> data) {
  const auto rv = nghttp2_session_mem_recv(impl_->session, data.data(), data.size());
  if (rv < 0) {
    switch (rv) {
      case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
        impl_->end_for(abuse::continuation_flood);
        break;
      case NGHTTP2_ERR_FLOODED:
        impl_->end_for(abuse::ping_flood);
        break;
      default:
        abuse_[static_cast<size_t>(abuse::protocol_error)]++;
        if (!impl_->ended) {
          impl_->ended = true;
          nghttp2_session_terminate_session(impl_->session, NGHTTP2_PROTOCOL_ERROR);
        }
    }
    return downstream_error(errc::bad_request);
  }
  if (impl_->ended) return downstream_error(errc::bad_request);
  return {};
}

bool server_connection::produce(std::string& out) {
  const size_t before = out.size();
  for (;;) {
    const uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(impl_->session, &data);
    if (n <= 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  // Outside nghttp2's send loop, so the handler may call back in.
  auto owed = std::move(impl_->writable);
  impl_->writable.clear();
  for (int32_t id : owed)
    if (impl_->find(id)) impl_->h.on_writable(id);
  return out.size() > before;
}

bool server_connection::finished() const noexcept {
  return !nghttp2_session_want_read(impl_->session) && !nghttp2_session_want_write(impl_->session);
}

bool server_connection::respond(int32_t id, const http::response_head& head, bool end_stream) {
  auto* st = impl_->find(id);
  if (!st) return false;
  char status[4];
  const int code = std::clamp(head.status, 100, 999);
  status[0] = static_cast<char>('0' + code / 100);
  status[1] = static_cast<char>('0' + code / 10 % 10);
  status[2] = static_cast<char>('0' + code % 10);
  auto& nv = impl_->nv;  // nghttp2 copies the fields at submission
  nv.clear();
  nv.reserve(head.headers.size() + 1);
  nv.push_back({const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":status")),
                reinterpret_cast<uint8_t*>(status), 7, 3, NGHTTP2_NV_FLAG_NONE});
  impl_->to_nv(head.headers, nv);
  nghttp2_data_provider prd{};
  prd.source.ptr = st;
  prd.read_callback = &impl::read_body;
  return nghttp2_submit_response(impl_->session, id, nv.data(), nv.size(),
                                 end_stream ? nullptr : &prd) == 0;
}

bool server_connection::send_body(int32_t id, std::string_view data) {
  auto* st = impl_->find(id);
  if (!st) return false;
  st->out.append(data);
  if (st->deferred) {
    st->deferred = false;
    nghttp2_session_resume_data(impl_->session, id);
  }
  if (st->buffered() >= impl_->lim.stream_buffer) {
    st->told_full = true;
    return false;
  }
  return true;
}

void server_connection::end_body(int32_t id, const http::header_list* trailers) {
  auto* st = impl_->find(id);
  if (!st) return;
  st->body_ended = true;
  if (trailers && trailers->size() > 0) {
    st->response_trailers = *trailers;
    st->has_response_trailers = true;
  }
  if (st->deferred) {
    st->deferred = false;
    nghttp2_session_resume_data(impl_->session, id);
  }
}

void server_connection::consume(int32_t id, size_t n) {
  nghttp2_session_consume_stream(impl_->session, id, n);
}

void server_connection::reset(int32_t id, uint32_t h2_error) {
  if (auto* st = impl_->find(id)) st->handler_reset = true;
  nghttp2_submit_rst_stream(impl_->session, NGHTTP2_FLAG_NONE, id, h2_error);
}

void server_connection::shutdown_notice() {
  if (impl_->notice_pending || impl_->ended) return;
  if (nghttp2_submit_shutdown_notice(impl_->session) != 0) return shutdown();
  impl_->notice_pending = true;
  nghttp2_submit_ping(impl_->session, NGHTTP2_FLAG_NONE, nullptr);
}

bool server_connection::notice_pending() const noexcept {
  return impl_->notice_pending;
}

void server_connection::shutdown() {
  impl_->notice_pending = false;
  nghttp2_submit_goaway(impl_->session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(impl_->session), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

size_t server_connection::buffered(int32_t id) const noexcept {
  auto* st = impl_->find(id);
  return st ? st->buffered() : 0;
}

bool server_connection::blocked_on_window() const noexcept {
  for (const auto& [id, st] : impl_->streams)
    if (st->buffered() > 0 &&
        nghttp2_session_get_stream_remote_window_size(impl_->session, id) <= 0)
      return true;
  return nghttp2_session_get_remote_window_size(impl_->session) <= 0 &&
         std::any_of(impl_->streams.begin(), impl_->streams.end(),
                     [](const auto& e) { return e.second->buffered() > 0; });
}

void server_connection::release_spare() noexcept {
  impl_->spare.clear();
}

size_t server_connection::open_streams() const noexcept {
  return impl_->streams.size();
}

}  // namespace spillway::http2
