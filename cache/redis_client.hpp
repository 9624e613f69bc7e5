// The Redis cache tier (SPEC §2.1 cache.redis): a remote_store over one pipelined hiredis
// connection driven by Asio (redis_socket.hpp).
//
// - Connect: TCP (or unix:/path), then AUTH (if a password), SELECT (if db != 0) and PING,
//   pipelined, within connect_timeout. Commands are accepted only once that handshake is done;
//   before that, and while waiting to reconnect, they fail at once with redis_not_connected,
//   so a dead Redis costs the data path nothing.
// - Commands: GET, SET ... PX <ms>, and SCAN + UNLINK for purge, all pipelined on the one
//   connection; keys get key_prefix in front.
// - Timeouts: each command's deadline is `timeout` after the call. Replies come back in order,
//   so one timer watches the oldest outstanding command. When it expires, the commands past
//   their deadline complete with redis_timeout and the connection is dropped (a Redis that
//   stopped answering is treated as down); the rest complete with redis_connection_lost.
// - Reconnect: exponential backoff with jitter, from reconnect_base doubling to
//   reconnect_max; reset by a successful handshake.
//
// Threading: all state lives on a strand of the executor given to create(); the public
// methods post onto it and may be called from any thread. Handlers run through the caller's
// dispatcher. Shut down with stop(), let the executor run the posted work, then drop the last
// reference before the io_context is destroyed.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/remote_store.hpp"
#include "common/random.hpp"
#include "config/config.hpp"

struct redisAsyncContext;
struct redisReply;

namespace spillway::cache {

class redis_socket;

struct redis_options {
  std::string host = "127.0.0.1";  // or a unix socket path when unix_socket
  uint16_t port = 6379;
  bool unix_socket = false;
  std::string password;
  uint32_t db = 0;
  std::chrono::milliseconds timeout{50};
  std::chrono::milliseconds connect_timeout{1000};
  std::string key_prefix = "spillway:";
  std::chrono::milliseconds reconnect_base{100};
  std::chrono::milliseconds reconnect_max{5000};

  /// From the config: address "host:port", "[v6]:port" or "unix:/path". Returns the error
  /// text in `error` and nullopt for a malformed address.
  static std::optional<redis_options> from_config(const config::redis_config& c,
                                                  std::string* error);
};

struct redis_stats {
  uint64_t hits = 0;        // GET found the key
  uint64_t misses = 0;      // GET found nothing
  uint64_t errors = 0;      // sent but failed: connection lost, error or unexpected reply
  uint64_t timeouts = 0;    // no reply within the timeout
  uint64_t skipped = 0;     // not sent: not connected
  uint64_t reconnects = 0;  // connections re-established after a loss
  bool connected = false;
};

class redis_client final : public remote_store, public std::enable_shared_from_this<redis_client> {
 public:
  static std::shared_ptr<redis_client> create(boost::asio::any_io_executor ex, redis_options opt);
  ~redis_client() override;

  /// Starts connecting (in the background). Thread-safe.
  void start();
  /// Drops the connection for good: outstanding and later commands fail with `stopped`.
  void stop();

  void get(std::string key, dispatcher d, get_handler h) override;
  void set(std::string key, std::string value, std::chrono::milliseconds ttl, dispatcher d,
           set_handler h) override;
  void purge(std::string prefix, dispatcher d, purge_handler h) override;

  /// EVAL of `script` with `keys` (key_prefix put in front) and `args`; the reply, an integer
  /// or a flat array of integers, goes to `h` (redis_bad_reply for anything else). Same
  /// threading, timeout and failure rules as get(). Defined in redis_eval.cpp.
  using eval_handler = std::function<void(error_code, std::vector<int64_t>)>;
  void eval(const std::string& script, std::vector<std::string> keys, std::vector<std::string> args,
            dispatcher d, eval_handler h);

  redis_stats stats() const noexcept;
  const redis_options& options() const noexcept { return opt_; }

  // Implementation details, public for the C callbacks.
  struct command;
  void on_reply(command* cmd, redisReply* r);
  void on_connected(int status);
  void on_disconnected(const redisAsyncContext* ac);

 private:
  enum class state : uint8_t { idle, connecting, ready, waiting, stopped };
  using clock = std::chrono::steady_clock;
  using reply_fn = std::function<void(error_code, redisReply*)>;

  redis_client(boost::asio::any_io_executor ex, redis_options opt);

  void do_connect();
  void send_handshake();
  void on_handshake_reply(uint64_t gen, error_code ec, redisReply* r, bool last);
  void drop_connection();
  void schedule_reconnect();
  void issue(const std::vector<std::string>& argv, clock::time_point deadline, reply_fn fn,
             bool handshake = false);
  void arm_deadline(clock::time_point t);
  void on_deadline(const boost::system::error_code& ec);
  void purge_step(std::shared_ptr<struct purge_job> job);
  void count_failure(error_code ec) noexcept;

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  redis_options opt_;
  // strand state
  state state_ = state::idle;
  redisAsyncContext* ac_ = nullptr;
  std::shared_ptr<redis_socket> socket_;
  uint64_t generation_ = 0;
  std::deque<std::unique_ptr<command>> pending_;  // in send order = reply order
  boost::asio::steady_timer deadline_timer_;
  bool deadline_armed_ = false;
  clock::time_point armed_for_{};
  boost::asio::steady_timer reconnect_timer_;
  unsigned attempt_ = 0;
  bool was_connected_ = false;
  bool destroying_ = false;
  xoshiro256 rng_;
  // any thread
  std::atomic<uint64_t> hits_{0}, misses_{0}, errors_{0}, timeouts_{0}, skipped_{0}, reconnects_{0};
  std::atomic<bool> connected_{false};
};

}  // namespace spillway::cache
