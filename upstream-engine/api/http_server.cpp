#include "upstream-engine/api/http_server.hpp"

#include <fmt/format.h>
#include <boost/asio/strand.hpp>
#include <random>

#include "common/log.hpp"
#include "upstream-engine/api/session.hpp"

namespace spillway::engine::api {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

http_server::http_server(asio::io_context& ioc, runtime::engine& eng, server_options opts)
    : ioc_(ioc), engine_(eng), opts_(std::move(opts)), acceptor_(ioc) {
  std::random_device rd;
  nonce_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  rng_.reseed(nonce_);
}

http_server::~http_server() = default;

error_code http_server::listen(const tcp::endpoint& at) {
  error_code ec;
  acceptor_.open(at.protocol(), ec);
  if (ec) return ec;
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_.bind(at, ec);
  if (ec) return ec;
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  do_accept();
  return {};
}

tcp::endpoint http_server::local_endpoint() const {
  error_code ec;
  return acceptor_.local_endpoint(ec);
}

void http_server::close() {
  error_code ignored;
  acceptor_.close(ignored);
}

bool http_server::roll_fault() {
  if (opts_.fault_error_rate <= 0.0) return false;
  std::lock_guard lock(rng_mu_);
  return rng_.uniform() < opts_.fault_error_rate;
}

std::string http_server::next_id(bool chat) {
  return fmt::format("{}-{:08x}{:x}", chat ? "chatcmpl" : "cmpl", static_cast<uint32_t>(nonce_),
                     ids_.fetch_add(1, std::memory_order_relaxed) + 1);
}

void http_server::do_accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](const error_code& ec, tcp::socket s) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      log::warn("engine: accept: {}", ec.message());
    } else {
      std::make_shared<session>(std::move(s), *this)->start();
    }
    if (acceptor_.is_open()) do_accept();
  });
}

}  // namespace spillway::engine::api
