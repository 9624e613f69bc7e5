// One client connection: reads requests (keep-alive), answers the small GET endpoints, and runs
// completions: submits to the engine, then either streams server-sent events as tokens arrive
// or sends the whole answer at the end. While a completion runs, the socket is watched for the
// client going away; then the sequence is cancelled so its KV blocks are freed at once.
// Everything runs on the connection's strand; engine events are posted onto it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "upstream-engine/api/openai_request.hpp"
#include "upstream-engine/api/openai_response.hpp"
#include "upstream-engine/runtime/sequence.hpp"

namespace spillway::engine::api {

class http_server;
namespace http = boost::beast::http;

class session : public std::enable_shared_from_this<session> {
 public:
  session(boost::asio::ip::tcp::socket socket, http_server& server);
  void start();

 private:
  /// The completion in progress on this connection.
  struct generation {
    completion_request req;
    response_meta meta;
    std::shared_ptr<runtime::request_handle> handle;
    std::string text;        // non-streamed answer so far
    bool role_sent = false;  // chat streams open with the assistant role
    bool stalled = false;    // --fault-stall-after reached: send nothing more
    bool finished = false;
  };

  void do_read();
  void on_header(const error_code& ec);
  void on_read(const error_code& ec);
  void route();
  void handle_completion(bool chat);
  void submit();
  void on_event(runtime::generation_event&& ev);
  void on_stream_event(runtime::generation_event&& ev);
  void finish_plain(runtime::generation_event&& ev);
  void stall();

  void reply(http::status status, std::string body, std::string_view content_type,
             int retry_after = 0);
  void reply_error(const api_error& e, int retry_after = 0);
  void on_write(const error_code& ec, bool keep_alive);

  void start_stream();
  void enqueue(std::string event);
  void end_stream();
  void do_write_stream();
  void on_write_stream(const error_code& ec);

  void watch_disconnect();
  void on_readable(const error_code& ec);
  void client_gone();
  void close();
  template <class Message>
  void common_headers(Message& m);

  boost::asio::ip::tcp::socket socket_;
  http_server& server_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  http::response<http::empty_body> sse_head_;
  std::optional<http::response_serializer<http::empty_body>> sse_serializer_;
  boost::asio::steady_timer timer_;
  std::string request_id_;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool watching_ = false;

  std::unique_ptr<generation> gen_;
  std::deque<std::string> out_;  // SSE bytes (already chunk-framed) waiting to be written
  std::string writing_buf_;
  bool writing_ = false;
  bool stream_ended_ = false;  // the last chunk is queued
};

}  // namespace spillway::engine::api
