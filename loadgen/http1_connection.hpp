// HTTP/1.1 keep-alive connection: one request at a time, no pipelining. A read is always
// pending while connected, so a server closing an idle connection is noticed (and counted) at
// once. A request that meets a dead keep-alive connection before any response byte is resent
// once on a fresh connection (RFC 9112 §9.3.1 allows it for requests that were never answered),
// and counted as a stale retry. Aborting a request closes the connection.
// Runs on the owning driver's thread.
#pragma once

#include <memory>
#include <string>

#include "loadgen/connection.hpp"
#include "loadgen/http1_parser.hpp"

namespace spillway::loadgen {

class http1_connection final : public connection, private http1_parser::sink {
 public:
  http1_connection(asio::io_context& io, const connection_config& cfg, connection_owner& owner);
  ~http1_connection() override;

  bool has_capacity() const override { return current_ == nullptr; }
  size_t active() const override { return current_ ? 1 : 0; }
  void submit(request_ctx* r) override;
  void abort(request_ctx* r, error_class why) override;
  void preconnect() override;
  void shutdown() override;

 private:
  enum class state { closed, connecting, open };

  void do_connect();
  void on_connect(const std::shared_ptr<link>& l, error_code ec, bool tls_failed);
  void do_write();
  void do_read(const std::shared_ptr<link>& l);
  void on_read(const std::shared_ptr<link>& l, error_code ec, size_t n);
  void process();
  void on_link_lost(const std::shared_ptr<link>& l);
  void drop_link();
  void complete(error_class forced);

  void on_status(int status) override;
  void on_header(std::string_view name, std::string_view value) override;
  void on_body(std::string_view bytes) override;

  asio::io_context& io_;
  const connection_config& cfg_;
  connection_owner& owner_;
  std::shared_ptr<link> link_;
  state state_ = state::closed;
  bool ever_connected_ = false;
  bool served_on_link_ = false;  // a response finished on the current link
  request_ctx* current_ = nullptr;
  http1_parser parser_;
  std::string buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  uint32_t read_seq_ = 0;
};

}  // namespace spillway::loadgen
