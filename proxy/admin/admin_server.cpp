#include "proxy/admin/admin_server.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include "common/log.hpp"
#include "proxy/admin/status.hpp"
#include "proxy/server/server.hpp"

namespace spillway::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class admin_server::connection : public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket s, server::server& srv, status_tracker& status, asio::io_context& ioc)
      : socket_(std::move(s)), server_(srv), status_(status), ioc_(ioc) {}

  void start() { do_read(); }

 private:
  void do_read() {
    req_ = {};
    bhttp::async_read(
        socket_, buffer_, req_,
        [self = shared_from_this()](const beast::error_code& ec, size_t) { self->on_read(ec); });
  }

  void on_read(const beast::error_code& ec) {
    if (ec) return;
    res_ = {};
    res_.version(11);
    res_.keep_alive(req_.keep_alive());
    deferred_ = false;
    route();
    if (!deferred_) send();
  }

  void send() {
    res_.prepare_payload();
    bhttp::async_write(socket_, res_,
                       [self = shared_from_this()](const beast::error_code& e, size_t) {
                         if (e) return;
                         if (!self->res_.keep_alive()) {
                           beast::error_code ignored;
                           self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
                           return;
                         }
                         self->do_read();
                       });
  }

  void route() {
    const std::string_view target = req_.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const bool get = req_.method() == bhttp::verb::get || req_.method() == bhttp::verb::head;
    if (get && path == "/healthz") return text(bhttp::status::ok, "ok\n", "text/plain");
    if (get && path == "/readyz") {
      return server_.ready()
                 ? text(bhttp::status::ok, "ready\n", "text/plain")
                 : text(bhttp::status::service_unavailable, "not ready\n", "text/plain");
    }
    if (get && path == "/metrics")
      return text(bhttp::status::ok, render_metrics(server_), "text/plain; version=0.0.4");
    if (get && path == "/admin/clusters")
      return text(bhttp::status::ok, render_clusters(server_), "application/json");
    if (get && path == "/")
      return text(bhttp::status::ok, std::string(status_page_html()), "text/html; charset=utf-8");
    if (get && path == "/admin/status")
      return text(bhttp::status::ok, status_.render_json(), "application/json");
    if (req_.method() == bhttp::verb::post && path == "/admin/reload") return reload();
    if (req_.method() == bhttp::verb::post && path.starts_with("/admin/clusters/"))
      return endpoint_action(path.substr(std::string_view("/admin/clusters/").size()));
    if (req_.method() == bhttp::verb::post && path == "/admin/cache/purge") {
      if (!authorised()) return;
      deferred_ = true;
      purge_cache(server_, target, req_.body(), ioc_,
                  [self = shared_from_this()](int status, std::string body) {
                    self->text(static_cast<bhttp::status>(status), std::move(body),
                               "application/json");
                    self->send();
                  });
      return;
    }
    text(bhttp::status::not_found,
         "{\"error\": {\"message\": \"not found\", \"type\": "
         "\"invalid_request_error\", \"code\": \"not_found\"}}\n",
         "application/json");
  }

  /// POST /admin/clusters/{cluster}/endpoints/{address}/drain | /undrain
  void endpoint_action(std::string_view rest) {
    auto slash = rest.find('/');
    const auto cluster_name = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (!rest.starts_with("endpoints/")) return not_found();
    rest.remove_prefix(std::string_view("endpoints/").size());
    const auto last = rest.rfind('/');
    if (last == std::string_view::npos) return not_found();
    const auto address = rest.substr(0, last);
    const auto action = rest.substr(last + 1);
    if (action != "drain" && action != "undrain") return not_found();
    if (!authorised()) return;
    for (const auto& c : server_.rt().clusters) {
      if (c->name() != cluster_name) continue;
      for (size_t i = 0; i < c->size(); ++i) {
        auto& e = c->at(i);
        if (e.address != address) continue;
        if (action == "drain")
          e.unavailable.fetch_or(upstream::draining, std::memory_order_relaxed);
        else
          e.unavailable.fetch_and(~static_cast<uint32_t>(upstream::draining),
                                  std::memory_order_relaxed);
        log::info("admin: {} {} in cluster {}", action, address, cluster_name);
        return text(bhttp::status::ok,
                    "{\"cluster\": \"" + std::string(cluster_name) + "\", \"endpoint\": \"" +
                        std::string(address) +
                        "\", \"draining\": " + (action == "drain" ? "true" : "false") + "}\n",
                    "application/json");
      }
    }
    not_found();
  }

  /// POST /admin/reload: 200 with warnings, or 400 with every error (file, line, key).
  void reload() {
    if (!authorised()) return;
    auto r = server_.reload("POST /admin/reload");
    boost::json::object body{{"status", r.ok ? "reloaded" : "failed"}};
    body["warnings"] = boost::json::value_from(r.warnings);
    if (!r.ok) body["errors"] = boost::json::value_from(r.errors);
    text(r.ok ? bhttp::status::ok : bhttp::status::bad_request, boost::json::serialize(body) + "\n",
         "application/json");
  }

  bool authorised() {
    const auto& admin = server_.rt().config->admin;
    if (!admin || admin->token.empty()) return true;
    const auto auth = req_[bhttp::field::authorization];
    if (auth == "Bearer " + admin->token) return true;
    text(bhttp::status::unauthorized,
         "{\"error\": {\"message\": \"bearer token required\", \"type\": "
         "\"invalid_request_error\", \"code\": \"unauthorized\"}}\n",
         "application/json");
    return false;
  }

  void not_found() {
    text(bhttp::status::not_found,
         "{\"error\": {\"message\": \"not found\", \"type\": "
         "\"invalid_request_error\", \"code\": \"not_found\"}}\n",
         "application/json");
  }

  void text(bhttp::status s, std::string body, std::string_view type) {
    res_.result(s);
    res_.set(bhttp::field::content_type, type);
    res_.body() = std::move(body);
  }

  tcp::socket socket_;
  server::server& server_;
  status_tracker& status_;
  asio::io_context& ioc_;
  bool deferred_ = false;  // the answer comes later (send())
  beast::flat_buffer buffer_;
  bhttp::request<bhttp::string_body> req_;
  bhttp::response<bhttp::string_body> res_;
};

admin_server::admin_server(asio::io_context& ioc, server::server& srv)
    : ioc_(ioc),
      server_(srv),
      acceptor_(ioc),
      status_(std::make_unique<status_tracker>(ioc, srv)) {}

admin_server::~admin_server() = default;

boost::system::error_code admin_server::listen(const tcp::endpoint& at) {
  boost::system::error_code ec;
  acceptor_.open(at.protocol(), ec);
  if (ec) return ec;
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_.bind(at, ec);
  if (ec) return ec;
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  do_accept();
  status_->start();
  return {};
}

void admin_server::close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  status_->stop();
}

void admin_server::do_accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      log::warn("admin: accept: {}", ec.message());
    } else {
      std::make_shared<connection>(std::move(s), server_, *status_, ioc_)->start();
    }
    if (acceptor_.is_open()) do_accept();
  });
}

}  // namespace spillway::admin
