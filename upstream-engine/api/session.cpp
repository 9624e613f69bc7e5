#include "upstream-engine/api/session.hpp"

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>

#include "common/log.hpp"
#include "upstream-engine/api/http_server.hpp"
#include "upstream-engine/api/metrics_text.hpp"

namespace spillway::engine::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One HTTP/1.1 chunk holding `data`.
std::string frame_chunk(std::string_view data) {
  return fmt::format("{:x}\r\n{}\r\n", data.size(), data);
}

api_error make_error(int status, std::string message, std::string type, std::string code) {
  api_error e;
  e.status = status;
  e.message = std::move(message);
  e.type = std::move(type);
  e.code = std::move(code);
  return e;
}

}  // namespace

session::session(asio::ip::tcp::socket socket, http_server& server)
    : socket_(std::move(socket)), server_(server), timer_(socket_.get_executor()) {}

void session::start() {
  do_read();
}

template <class Message>
void session::common_headers(Message& m) {
  m.set(http::field::server, "spillway-engine");
  m.set("X-Engine-Name", server_.options().name);
  if (!request_id_.empty()) m.set("X-Request-Id", request_id_);
}

void session::do_read() {
  parser_.emplace();
  parser_->body_limit(server_.options().max_body_bytes);
  http::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& ec, size_t) { self->on_header(ec); });
}

void session::on_header(const error_code& ec) {
  if (ec) return on_read(ec);
  auto read_body = [self = shared_from_this()] {
    http::async_read(self->socket_, self->buffer_, *self->parser_,
                     [self](const error_code& e, size_t) { self->on_read(e); });
  };
  // A client that waits for "100 Continue" before sending the body (curl with large bodies).
  if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
    static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
    return asio::async_write(socket_, asio::buffer(go_on),
                             [self = shared_from_this(), read_body](const error_code& e, size_t) {
                               if (e) return self->close();
                               read_body();
                             });
  }
  read_body();
}

void session::on_read(const error_code& ec) {
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    return reply_error(
        make_error(413, "request body too large", "invalid_request_error", "body_too_large"));
  }
  if (ec) {
    // eof / end_of_stream / aborted: the client left or we are shutting down.
    if (!is_benign(ec) && ec != asio::error::connection_reset && !closed_) {
      keep_alive_ = false;
      return reply_error(make_error(400, "malformed HTTP request: " + ec.message(),
                                    "invalid_request_error", "bad_request"));
    }
    return close();
  }
  const auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  request_id_ = std::string(req["X-Request-Id"]);
  route();
}

void session::route() {
  const auto& req = parser_->get();
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  runtime::engine& eng = server_.engine();

  if (path == "/health") {
    if (!get)
      return reply_error(make_error(405, "use GET", "invalid_request_error", "method_not_allowed"));
    json::object o;
    o["name"] = server_.options().name;
    if (eng.failed())
      o["status"] = "failed";
    else if (!eng.ready())
      o["status"] = "loading";
    else {
      o["status"] = "ok";
      o["model"] = server_.options().model_id;
      o["device"] = eng.device();
    }
    const bool ok = eng.ready() && !eng.failed();
    return reply(ok ? http::status::ok : http::status::service_unavailable, json::serialize(o),
                 "application/json", ok ? 0 : 1);
  }
  if (path == "/metrics") {
    if (!get)
      return reply_error(make_error(405, "use GET", "invalid_request_error", "method_not_allowed"));
    metrics_labels l;
    l.model_name = server_.options().model_id;
    l.engine_name = server_.options().name;
    l.device = eng.ready() ? eng.device() : "none";
    if (eng.ready()) {
      l.block_size = eng.geometry().block_size;
      l.num_blocks = eng.geometry().num_blocks;
    }
    l.max_batch = eng.config().max_batch;
    l.max_queue = eng.config().max_queue;
    return reply(http::status::ok, render_metrics(eng.metrics(), l), "text/plain; version=0.0.4");
  }
  if (path == "/v1/models") {
    if (!get)
      return reply_error(make_error(405, "use GET", "invalid_request_error", "method_not_allowed"));
    if (!eng.ready())
      return reply_error(make_error(503, "the model is loading", "service_unavailable", "loading"),
                         1);
    json::object m;
    m["id"] = server_.options().model_id;
    m["object"] = "model";
    m["created"] = unix_now();
    m["owned_by"] = "spillway";
    m["max_model_len"] = eng.model_config().seq_len;
    json::array data;
    data.push_back(std::move(m));
    json::object o;
    o["object"] = "list";
    o["data"] = std::move(data);
    return reply(http::status::ok, json::serialize(o), "application/json");
  }
  if (path == "/v1/completions" || path == "/v1/chat/completions") {
    if (!post)
      return reply_error(
          make_error(405, "use POST", "invalid_request_error", "method_not_allowed"));
    return handle_completion(path == "/v1/chat/completions");
  }
  reply_error(
      make_error(404, fmt::format("no route for {}", path), "invalid_request_error", "not_found"));
}

void session::handle_completion(bool chat) {
  runtime::engine& eng = server_.engine();
  if (eng.failed())
    return reply_error(
        make_error(503, "the model failed to load", "service_unavailable", "unavailable"), 5);
  if (!eng.ready())
    return reply_error(make_error(503, "the model is loading", "service_unavailable", "loading"),
                       1);
  if (server_.roll_fault()) {
    eng.metrics().faults_injected.fetch_add(1, std::memory_order_relaxed);
    const int status = server_.options().fault_status;
    return reply_error(make_error(status, "injected fault", "server_error", "injected_fault"),
                       status == 429 || status == 503 ? 1 : 0);
  }
  api_error err;
  auto req = parse_completion_request(parser_->get().body(), chat, eng.tokenizer(),
                                      eng.model_config().seq_len, err);
  if (!req) return reply_error(err);
  gen_ = std::make_unique<generation>();
  gen_->req = std::move(*req);
  gen_->meta.id = server_.next_id(chat);
  gen_->meta.created = unix_now();
  gen_->meta.model = server_.options().model_id;
  gen_->meta.chat = chat;
  if (request_id_.empty()) request_id_ = gen_->meta.id;
  if (server_.options().fault_delay.count() > 0) {
    timer_.expires_after(server_.options().fault_delay);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->closed_) return;
      self->submit();
    });
    watch_disconnect();
    return;
  }
  submit();
}

void session::submit() {
  runtime::engine& eng = server_.engine();
  auto self = shared_from_this();
  const auto executor = socket_.get_executor();
  runtime::event_sink sink = [self, executor](runtime::generation_event&& ev) {
    asio::post(executor, [self, ev = std::move(ev)]() mutable { self->on_event(std::move(ev)); });
  };
  std::vector<int32_t> prompt = gen_->req.prompt;
  const runtime::submit_result r = eng.submit(std::move(prompt), gen_->req.params, std::move(sink));
  switch (r.status) {
    case runtime::submit_status::ok:
      break;
    case runtime::submit_status::queue_full:
      gen_.reset();
      return reply_error(make_error(429, "the engine's waiting queue is full; retry later",
                                    "rate_limit_error", "queue_full"),
                         1);
    case runtime::submit_status::loading:
      gen_.reset();
      return reply_error(make_error(503, "the model is loading", "service_unavailable", "loading"),
                         1);
    case runtime::submit_status::failed:
      gen_.reset();
      return reply_error(
          make_error(503, "the model failed to load", "service_unavailable", "unavailable"), 5);
  }
  gen_->handle = r.handle;
  if (gen_->req.stream) start_stream();
  watch_disconnect();
}

void session::on_event(runtime::generation_event&& ev) {
  if (!gen_ || gen_->finished || closed_) return;  // client gone or request already answered
  if (ev.finish != runtime::finish_reason::none) gen_->finished = true;
  if (gen_->stalled) return;
  const int stall_after = server_.options().fault_stall_after;
  if (stall_after >= 0 && ev.completion_tokens > stall_after &&
      ev.finish != runtime::finish_reason::abort && ev.finish != runtime::finish_reason::error)
    return stall();
  if (gen_->req.stream) return on_stream_event(std::move(ev));
  gen_->text += ev.text;
  if (ev.finish != runtime::finish_reason::none) finish_plain(std::move(ev));
}

void session::finish_plain(runtime::generation_event&& ev) {
  if (ev.finish == runtime::finish_reason::abort) return close();
  if (ev.finish == runtime::finish_reason::error) {
    gen_.reset();
    return reply_error(make_error(500, ev.error, "server_error", "internal_error"));
  }
  const usage_counts u{ev.prompt_tokens, ev.completion_tokens, ev.cached_tokens};
  std::string body = completion_json(gen_->meta, gen_->text, runtime::to_string(ev.finish), u);
  gen_.reset();
  reply(http::status::ok, std::move(body), "application/json");
}

void session::on_stream_event(runtime::generation_event&& ev) {
  const bool role = gen_->meta.chat && !gen_->role_sent;
  if (role) {
    gen_->role_sent = true;
    enqueue(chunk_event(gen_->meta, "", "", true, nullptr));
  }
  if (!ev.text.empty()) enqueue(chunk_event(gen_->meta, ev.text, "", false, nullptr));
  switch (ev.finish) {
    case runtime::finish_reason::none:
      return;
    case runtime::finish_reason::abort:
      return close();
    case runtime::finish_reason::error:
      enqueue(error_event(make_error(500, ev.error, "server_error", "internal_error")));
      break;
    default: {
      const usage_counts u{ev.prompt_tokens, ev.completion_tokens, ev.cached_tokens};
      enqueue(chunk_event(gen_->meta, "", runtime::to_string(ev.finish), false, &u));
      if (gen_->req.include_usage) enqueue(usage_event(gen_->meta, u));
    }
  }
  enqueue(std::string(done_event));
  end_stream();
}

void session::stall() {
  // Keep the connection open and silent; the engine can drop the sequence.
  gen_->stalled = true;
  server_.engine().cancel(gen_->handle);
  watch_disconnect();
}

void session::reply(http::status status, std::string body, std::string_view content_type,
                    int retry_after) {
  res_ = {};
  res_.version(11);
  res_.result(status);
  res_.keep_alive(keep_alive_);
  common_headers(res_);
  res_.set(http::field::content_type, content_type);
  if (retry_after > 0) res_.set(http::field::retry_after, std::to_string(retry_after));
  res_.body() = std::move(body);
  res_.prepare_payload();
  http::async_write(socket_, res_,
                    [self = shared_from_this(), ka = keep_alive_](const error_code& ec, size_t) {
                      self->on_write(ec, ka);
                    });
}

void session::reply_error(const api_error& e, int retry_after) {
  reply(static_cast<http::status>(e.status), error_json(e), "application/json", retry_after);
}

void session::on_write(const error_code& ec, bool keep_alive) {
  if (ec || !keep_alive) return close();
  request_id_.clear();
  do_read();
}

void session::start_stream() {
  sse_head_ = {};
  sse_head_.version(11);
  sse_head_.result(http::status::ok);
  sse_head_.keep_alive(keep_alive_);
  common_headers(sse_head_);
  sse_head_.set(http::field::content_type, "text/event-stream");
  sse_head_.set(http::field::cache_control, "no-cache");
  sse_head_.chunked(true);
  sse_serializer_.emplace(sse_head_);
  stream_ended_ = false;
  writing_ = true;
  http::async_write_header(
      socket_, *sse_serializer_,
      [self = shared_from_this()](const error_code& ec, size_t) { self->on_write_stream(ec); });
}

void session::enqueue(std::string event) {
  out_.push_back(frame_chunk(event));
  if (!writing_) do_write_stream();
}

void session::end_stream() {
  out_.push_back("0\r\n\r\n");
  stream_ended_ = true;
  if (!writing_) do_write_stream();
}

void session::do_write_stream() {
  if (out_.empty()) {
    writing_ = false;
    if (stream_ended_) {
      // The answer is complete: next request on this connection, or close.
      stream_ended_ = false;
      gen_.reset();
      sse_serializer_.reset();
      if (!keep_alive_) return close();
      request_id_.clear();
      return do_read();
    }
    return;
  }
  // Coalesce whatever is queued into one write.
  writing_buf_.clear();
  while (!out_.empty()) {
    writing_buf_ += out_.front();
    out_.pop_front();
  }
  writing_ = true;
  asio::async_write(
      socket_, asio::buffer(writing_buf_),
      [self = shared_from_this()](const error_code& ec, size_t) { self->on_write_stream(ec); });
}

void session::on_write_stream(const error_code& ec) {
  if (ec) return client_gone();
  writing_ = false;
  do_write_stream();
}

void session::watch_disconnect() {
  if (watching_ || closed_) return;
  watching_ = true;
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const error_code& ec) { self->on_readable(ec); });
}

void session::on_readable(const error_code& ec) {
  watching_ = false;
  if (ec == asio::error::operation_aborted || closed_) return;
  if (!gen_) return;  // between requests: the next read sees the data or the end
  error_code aec;
  const size_t available = socket_.available(aec);
  // Readable with nothing to read is the peer's FIN (or an error): the client left.
  if (ec || aec || available == 0) return client_gone();
  // Otherwise a pipelined request arrived; it is read after this answer.
}

void session::client_gone() {
  if (gen_ && gen_->handle && !gen_->finished) server_.engine().cancel(gen_->handle);
  close();
}

void session::close() {
  if (closed_) return;
  closed_ = true;
  if (gen_ && gen_->handle && !gen_->finished) server_.engine().cancel(gen_->handle);
  error_code ignored;
  timer_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace spillway::engine::api
