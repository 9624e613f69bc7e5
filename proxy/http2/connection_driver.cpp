#include "proxy/http2/connection_driver.hpp"

#include <nghttp2/nghttp2.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <utility>

namespace spillway::http2 {

namespace asio = boost::asio;
using steady_clock = std::chrono::steady_clock;

namespace {
constexpr size_t read_chunk = 16 * 1024;
}

// The port an exchange answers through: one per stream, owned by the driver.
template <class Stream>
class connection_driver<Stream>::port final : public http::downstream_port {
 public:
  port(connection_driver& d, int32_t id) : d_(d), id_(id) {}
  void reuse(int32_t id) noexcept {
    id_ = id;
    ended = false;
  }

  void send_head(const http::response_head& head, bool end_stream) override {
    if (!d_.conn_.respond(id_, head, end_stream)) return;
    if (end_stream) ended = true;
    d_.schedule_flush();
  }
  bool send_body(std::string_view data) override {
    const bool more = d_.conn_.send_body(id_, data);
    d_.schedule_flush();
    return more;
  }
  void end_body(const http::header_list* trailers) override {
    d_.conn_.end_body(id_, trailers);
    ended = true;
    d_.schedule_flush();
  }
  void abort(const error&) override {
    d_.conn_.reset(id_, NGHTTP2_INTERNAL_ERROR);
    ended = true;
    d_.schedule_flush();
  }
  void consume_request_body(size_t n) override {
    d_.conn_.consume(id_, n);
    d_.schedule_flush();
  }
  std::string_view client_address() const noexcept override { return d_.client_address_; }

  bool ended = false;  // the exchange finished its answer (normally or not)

 private:
  connection_driver& d_;
  int32_t id_;
};

template <class Stream>
connection_driver<Stream>::connection_driver(Stream stream, http::exchange_factory& factory,
                                             const limits& l, const driver_timeouts& t,
                                             std::string client_address)
    : stream_(std::move(stream)),
      factory_(factory),
      timeouts_(t),
      client_address_(std::move(client_address)),
      conn_(*this, l),
      tick_(stream_.get_executor()) {}

template <class Stream>
connection_driver<Stream>::~connection_driver() = default;

template <class Stream>
void connection_driver<Stream>::start(std::string_view already_read) {
  last_activity_ = steady_clock::now();
  conn_.start();
  if (!already_read.empty()) {
    in_receive_ = true;
    const error e =
        conn_.receive({reinterpret_cast<const uint8_t*>(already_read.data()), already_read.size()});
    in_receive_ = false;
    if (e) fatal_ = true;
    open_pending();
  }
  flush();
  if (!fatal_) do_read();
  arm_tick();
}

template <class Stream>
void connection_driver<Stream>::do_read() {
  if (closed_ || reading_) return;
  reading_ = true;
  in_.resize(read_chunk);
  stream_.async_read_some(asio::buffer(in_), [self = this->shared_from_this()](const error_code& ec,
                                                                               size_t n) {
    self->reading_ = false;
    if (self->closed_) return;
    if (ec) return self->close();
    self->last_activity_ = steady_clock::now();
    self->in_receive_ = true;
    const error e = self->conn_.receive({reinterpret_cast<const uint8_t*>(self->in_.data()), n});
    self->in_receive_ = false;
    if (e) self->fatal_ = true;
    self->open_pending();
    self->flush();
    if (!self->fatal_ && !self->closed_) self->do_read();
  });
}

template <class Stream>
void connection_driver<Stream>::flush() {
  if (closed_) return;
  if (in_receive_ || in_flush_ || writing_) {
    flush_again_ = true;
    return;
  }
  in_flush_ = true;
  do {
    flush_again_ = false;
    conn_.produce(out_);  // may run on_writable(), which may queue more
  } while (flush_again_);
  in_flush_ = false;
  if (out_.empty()) {
    if (fatal_ || conn_.finished()) close();
    return;
  }
  writing_ = true;
  asio::async_write(stream_, asio::buffer(out_),
                    [self = this->shared_from_this()](const error_code& ec, size_t) {
                      self->writing_ = false;
                      self->out_.clear();
                      if (self->closed_) return;
                      if (ec) return self->close();
                      self->flush();
                    });
}

template <class Stream>
void connection_driver<Stream>::schedule_flush() {
  if (closed_) return;
  if (in_receive_ || in_flush_ || writing_) {
    flush_again_ = true;  // the read handler, the flush loop or the write's completion flushes
    return;
  }
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
  });
}

template <class Stream>
void connection_driver<Stream>::shutdown() {
  if (closed_) return;
  conn_.shutdown();
  flush();
}

template <class Stream>
void connection_driver<Stream>::drain() {
  if (closed_) return;
  notice_at_ = steady_clock::now();
  conn_.shutdown_notice();
  flush();
}

template <class Stream>
void connection_driver<Stream>::close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  stream_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.lowest_layer().close(ignored);
  tick_.cancel();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams)
    if (s.ex && !s.p->ended) s.ex->on_client_gone();
  if (on_closed) on_closed(conn_);
}

template <class Stream>
void connection_driver<Stream>::arm_tick() {
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([self = this->shared_from_this()](const error_code& ec) {
    if (ec || self->closed_) return;
    self->on_tick();
    self->arm_tick();
  });
}

template <class Stream>
void connection_driver<Stream>::on_tick() {
  const auto now = steady_clock::now();
  if (conn_.notice_pending() && now - notice_at_ >= std::chrono::seconds(1)) shutdown();
  if (conn_.blocked_on_window()) {
    if (stalled_since_ == steady_clock::time_point{}) stalled_since_ = now;
    if (now - stalled_since_ >= timeouts_.send_stall) return close();
  } else {
    stalled_since_ = {};
  }
  if (streams_.empty()) conn_.release_spare();  // nothing in flight since the last tick or more
  if (streams_.empty() && now - last_activity_ >= timeouts_.idle) {
    shutdown();
    if (!writing_) close();
  }
}

// The exchange opens only after the whole read is processed: a stream the client resets in
// the same read (HEADERS + RST_STREAM, the rapid-reset pattern), or that a flood in it ends
// with the connection, never costs an upstream request. `head` and `trailers` live in the
// protocol's stream state until the stream closes.
template <class Stream>
void connection_driver<Stream>::on_request(int32_t id, http::request_head& head, bool end_stream) {
  stream_entry* e;
  if (spare_.empty()) {
    e = &streams_[id];
    e->p = std::make_unique<port>(*this, id);
  } else {
    auto node = std::move(spare_.back());  // the map's node, with its port
    spare_.pop_back();
    node.key() = id;
    node.mapped().p->reuse(id);
    e = &streams_.insert(std::move(node)).position->second;
  }
  auto& s = *e;
  s.head = &head;
  s.end_stream = end_stream;
  pending_.push_back(id);
}

template <class Stream>
void connection_driver<Stream>::open_pending() {
  auto ids = std::move(pending_);
  pending_.clear();
  if (fatal_ || closed_) return;  // the connection ends: close() drops them unopened
  for (int32_t id : ids) {
    auto it = streams_.find(id);
    if (it == streams_.end() || !it->second.head) continue;  // reset meanwhile
    auto& s = it->second;
    http::request_head* head = std::exchange(s.head, nullptr);
    auto ex = factory_.open(*head, s.end_stream, *s.p);
    // open() may already have answered and closed the stream (its port is gone with it): look
    // it up again.
    it = streams_.find(id);
    if (it == streams_.end()) {
      if (ex) ex->on_client_gone();
      continue;
    }
    if (!ex) continue;
    it->second.ex = ex;
    std::string body = std::move(it->second.body);
    const bool ended = it->second.body_ended;
    const http::header_list* trailers = it->second.trailers;
    if (!body.empty()) on_body(id, body);
    if (ended && streams_.count(id)) on_body_end(id, trailers);
  }
}

template <class Stream>
void connection_driver<Stream>::on_body(int32_t id, std::string_view data) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second.head) {  // not opened yet
    it->second.body.append(data);
    return;
  }
  // After its answer an exchange no longer uses the port, so the driver grants the window.
  if (it != streams_.end() && it->second.ex && !it->second.p->ended)
    it->second.ex->on_body(data);
  else
    conn_.consume(id, data.size());
}

template <class Stream>
void connection_driver<Stream>::on_body_end(int32_t id, const http::header_list* trailers) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second.head) {
    it->second.body_ended = true;
    it->second.trailers = trailers;
    return;
  }
  if (it != streams_.end() && it->second.ex) it->second.ex->on_body_end(trailers);
}

template <class Stream>
void connection_driver<Stream>::on_stream_closed(int32_t id, uint32_t) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  auto node = streams_.extract(it);
  auto& s = node.mapped();
  last_activity_ = steady_clock::now();
  if (s.ex && !s.p->ended) s.ex->on_client_gone();
  constexpr size_t max_spare = 16;
  if (spare_.size() >= max_spare || closed_) return;
  // Kept for a later stream: nothing of this one's may outlive it.
  s.ex.reset();
  s.head = nullptr;
  s.end_stream = false;
  s.body.clear();
  s.body_ended = false;
  s.trailers = nullptr;
  spare_.push_back(std::move(node));
}

template <class Stream>
void connection_driver<Stream>::on_writable(int32_t id) {
  if (auto it = streams_.find(id); it != streams_.end() && it->second.ex)
    it->second.ex->on_writable();
}

template class connection_driver<asio::ip::tcp::socket>;
template class connection_driver<asio::ssl::stream<asio::ip::tcp::socket>>;

}  // namespace spillway::http2
