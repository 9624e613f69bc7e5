#include "loadgen/http1_connection.hpp"

#include <boost/asio/buffer.hpp>

namespace spillway::loadgen {

namespace {
constexpr size_t initial_buffer = 16 * 1024;
constexpr size_t max_buffer = 1 << 20;  // a response head larger than this is refused
}  // namespace

http1_connection::http1_connection(asio::io_context& io, const connection_config& cfg,
                                   connection_owner& owner)
    : io_(io), cfg_(cfg), owner_(owner) {
  buf_.resize(initial_buffer);
}

http1_connection::~http1_connection() {
  if (link_) link_->close();
}

void http1_connection::preconnect() {
  if (state_ == state::closed) do_connect();
}

void http1_connection::shutdown() {
  current_ = nullptr;
  drop_link();
}

void http1_connection::submit(request_ctx* r) {
  current_ = r;
  r->conn = this;
  if (state_ == state::open) {
    do_write();
  } else if (state_ == state::closed) {
    do_connect();
  }
}

void http1_connection::abort(request_ctx* r, error_class why) {
  if (r != current_) return;
  drop_link();
  r->error = why;
  complete(why);
}

void http1_connection::do_connect() {
  state_ = state::connecting;
  link_ = std::make_shared<link>(io_, cfg_.tls);
  auto l = link_;
  l->async_connect(cfg_.endpoint,
                   [this, l](error_code ec, bool tls_failed) { on_connect(l, ec, tls_failed); });
}

void http1_connection::on_connect(const std::shared_ptr<link>& l, error_code ec, bool tls_failed) {
  if (l != link_) return;  // dropped while connecting
  auto& stats = owner_.conn_stats();
  if (ec) {
    ++stats.connect_errors;
    drop_link();
    if (current_) {
      current_->error = tls_failed ? error_class::tls : error_class::connect;
      complete(current_->error);
    } else {
      owner_.on_ready(this);
    }
    return;
  }
  ++stats.connects;
  if (ever_connected_) ++stats.reconnects;
  ever_connected_ = true;
  state_ = state::open;
  served_on_link_ = false;
  begin_ = end_ = 0;
  do_read(l);
  if (current_) {
    do_write();
  } else {
    owner_.on_ready(this);
  }
}

void http1_connection::do_write() {
  request_ctx* r = current_;
  parser_.reset(r->head_request);
  if (r->sent < 0) {
    r->sent = owner_.now();
    owner_.on_sent(r);
  }
  auto l = link_;
  l->async_write(asio::buffer(r->wire.data(), r->wire.size()), [this, l](error_code ec, size_t) {
    if (ec && l == link_) on_link_lost(l);
  });
}

void http1_connection::do_read(const std::shared_ptr<link>& l) {
  if (end_ == buf_.size()) {
    if (begin_ > 0) {
      buf_.erase(0, begin_);
      end_ -= begin_;
      begin_ = 0;
      buf_.resize(std::max(buf_.size(), initial_buffer));
    } else {
      buf_.resize(buf_.size() * 2);
    }
  }
  l->async_read_some(asio::buffer(buf_.data() + end_, buf_.size() - end_),
                     [this, l](error_code ec, size_t n) { on_read(l, ec, n); });
}

void http1_connection::on_read(const std::shared_ptr<link>& l, error_code ec, size_t n) {
  if (l != link_) return;
  if (ec) return on_link_lost(l);
  end_ += n;
  ++read_seq_;
  process();
  if (l == link_ && state_ == state::open) {
    if (begin_ == 0 && end_ == buf_.size() && buf_.size() >= max_buffer) {
      drop_link();
      if (current_) {
        current_->error = error_class::bad_response;
        complete(current_->error);
      }
      return;
    }
    do_read(l);
  }
}

void http1_connection::process() {
  if (!current_) {
    // Bytes nobody asked for: the connection's framing can no longer be trusted.
    if (end_ > begin_) drop_link();
    begin_ = end_ = 0;
    return;
  }
  size_t consumed = 0;
  const auto res =
      parser_.feed(std::string_view(buf_.data() + begin_, end_ - begin_), consumed, *this);
  begin_ += consumed;
  if (begin_ == end_) begin_ = end_ = 0;
  if (res == http1_parser::result::error) {
    drop_link();
    current_->error = error_class::bad_response;
    return complete(current_->error);
  }
  if (res == http1_parser::result::done) {
    const bool keep = parser_.keep_alive();
    served_on_link_ = true;
    begin_ = end_ = 0;  // anything after the response is not ours
    if (!keep) {
      ++owner_.conn_stats().server_closed;
      drop_link();
    }
    complete(error_class::none);
  }
}

void http1_connection::on_link_lost(const std::shared_ptr<link>& l) {
  drop_link();
  ++owner_.conn_stats().server_closed;  // our own closes never come through here
  request_ctx* r = current_;
  if (!r) {
    owner_.on_ready(this);
    return;
  }
  if (parser_.started() && parser_.on_eof() == http1_parser::result::done)
    return complete(error_class::none);
  if (!parser_.started() && served_on_link_ && !r->retried) {
    ++owner_.conn_stats().stale_retries;
    r->retried = true;
    do_connect();
    return;
  }
  complete(error_class::reset);  // reset, or stream_cut when an event stream had begun
}

void http1_connection::drop_link() {
  if (link_) link_->close();
  link_.reset();
  state_ = state::closed;
  begin_ = end_ = 0;
}

void http1_connection::complete(error_class forced) {
  request_ctx* r = current_;
  current_ = nullptr;
  r->conn = nullptr;
  const int64_t now = owner_.now();
  if (forced == error_class::none) {
    finish_response(*r, now, cfg_.rules);
  } else if (forced == error_class::reset) {
    fail_response(*r, now);
  } else {
    r->done = now;
  }
  owner_.on_response(r);
  if (!current_) owner_.on_ready(this);
}

void http1_connection::on_status(int status) {
  on_response_status(*current_, status, owner_.now());
}

void http1_connection::on_header(std::string_view name, std::string_view value) {
  on_response_header(*current_, name, value, cfg_.rules);
}

void http1_connection::on_body(std::string_view bytes) {
  on_response_body(*current_, bytes, owner_.now(), read_seq_, cfg_.rules);
}

}  // namespace spillway::loadgen
