#include "cache/redis_client.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <optional>
#include <thread>

#include "cache/response_cache.hpp"
#include "tests/integration/cache/redis_server.hpp"

namespace spillway::cache {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

struct get_result {
  error_code ec;
  std::optional<std::string> value;
};

class redis_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::redis_server::available()) GTEST_SKIP() << "redis-server not installed";
    server_ = std::make_unique<test::redis_server>(server_args());
    ASSERT_TRUE(server_->start());
    work_.emplace(io_.get_executor());
    runner_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    for (auto& c : clients_) c->stop();
    work_.reset();
    if (runner_.joinable()) runner_.join();
    clients_.clear();
  }

  redis_options options() {
    redis_options o;
    o.port = server_->port();
    o.timeout = 200ms;
    o.connect_timeout = 500ms;
    o.key_prefix = "test:";
    o.reconnect_base = 20ms;
    o.reconnect_max = 200ms;
    return o;
  }

  std::shared_ptr<redis_client> client(redis_options o) {
    auto c = redis_client::create(io_.get_executor(), std::move(o));
    c->start();
    clients_.push_back(c);
    return c;
  }

  std::shared_ptr<redis_client> connected_client(redis_options o) {
    auto c = client(std::move(o));
    EXPECT_TRUE(wait_connected(*c, 5s));
    return c;
  }

  // Waits on a real external process: polling is the only clock there is.
  static bool wait_connected(const redis_client& c, std::chrono::milliseconds limit) {
    const auto until = steady::now() + limit;
    while (steady::now() < until) {
      if (c.stats().connected) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  dispatcher here() { return post_to(io_.get_executor()); }

  get_result get(redis_client& c, std::string key) {
    auto p = std::make_shared<std::promise<get_result>>();
    auto f = p->get_future();
    c.get(std::move(key), here(), [p](error_code ec, std::optional<std::string> v) {
      p->set_value({ec, std::move(v)});
    });
    if (f.wait_for(5s) != std::future_status::ready) {
      ADD_FAILURE() << "get never completed";
      return {make_error_code(cache_errc::redis_timeout), std::nullopt};
    }
    return f.get();
  }

  error_code set(redis_client& c, std::string key, std::string value,
                 std::chrono::milliseconds ttl = 10s) {
    auto p = std::make_shared<std::promise<error_code>>();
    auto f = p->get_future();
    c.set(std::move(key), std::move(value), ttl, here(), [p](error_code ec) { p->set_value(ec); });
    if (f.wait_for(5s) != std::future_status::ready) {
      ADD_FAILURE() << "set never completed";
      return cache_errc::redis_timeout;
    }
    return f.get();
  }

  // A plain blocking connection to look at what the client wrote.
  std::unique_ptr<redisContext, void (*)(redisContext*)> inspect(const std::string& password = "",
                                                                 int db = 0) {
    std::unique_ptr<redisContext, void (*)(redisContext*)> c(
        redisConnect("127.0.0.1", server_->port()), &redisFree);
    if (!password.empty()) freeReplyObject(redisCommand(c.get(), "AUTH %s", password.c_str()));
    freeReplyObject(redisCommand(c.get(), "SELECT %d", db));
    return c;
  }
  static std::optional<std::string> sync_get(redisContext* c, const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "GET %b", key.data(), key.size()));
    std::optional<std::string> v;
    if (r && r->type == REDIS_REPLY_STRING) v.emplace(r->str, r->len);
    freeReplyObject(r);
    return v;
  }
  static long long sync_int(redisContext* c, const char* fmt, const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(c, fmt, key.c_str()));
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    freeReplyObject(r);
    return v;
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread runner_;
  std::unique_ptr<test::redis_server> server_;
  std::vector<std::shared_ptr<redis_client>> clients_;

  virtual std::vector<std::string> server_args() { return {}; }
};

TEST_F(redis_fixture, set_and_get_through_the_asio_adapter) {
  auto c = connected_client(options());
  EXPECT_FALSE(set(*c, "a", std::string("v\0\xff", 3), 10s));
  auto g = get(*c, "a");
  ASSERT_FALSE(g.ec) << g.ec.message();
  ASSERT_TRUE(g.value);
  EXPECT_EQ(*g.value, std::string("v\0\xff", 3));
  auto miss = get(*c, "absent");
  EXPECT_FALSE(miss.ec);
  EXPECT_FALSE(miss.value);

  auto s = c->stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.errors + s.timeouts + s.skipped, 0u);

  // Stored under key_prefix with a PX expiry.
  auto raw = inspect();
  EXPECT_EQ(sync_get(raw.get(), "test:a"), std::string("v\0\xff", 3));
  long long pttl = sync_int(raw.get(), "PTTL %s", "test:a");
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 10000);
  EXPECT_FALSE(sync_get(raw.get(), "a"));
}

TEST_F(redis_fixture, expiry_is_honoured) {
  auto c = connected_client(options());
  ASSERT_FALSE(set(*c, "short", "x", 1ms));
  auto raw = inspect();
  // PX 1: gone once a millisecond has passed on the server.
  const auto until = steady::now() + 2s;
  while (sync_get(raw.get(), "test:short") && steady::now() < until)
    std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(get(*c, "short").value);
}

TEST_F(redis_fixture, many_commands_pipelined) {
  auto o = options();
  o.timeout = 3s;  // a command queued behind thousands (under sanitizers) must not expire first
  auto c = connected_client(o);
  constexpr int n = 2000;
  std::atomic<int> sets_ok{0}, gets_ok{0}, done{0};
  std::promise<void> all;
  auto finished = [&] {
    if (done.fetch_add(1) + 1 == 2 * n) all.set_value();
  };
  const auto start = steady::now();
  for (int i = 0; i < n; ++i)
    c->set("p" + std::to_string(i), "value-" + std::to_string(i), 10s, here(), [&](error_code ec) {
      if (!ec) sets_ok.fetch_add(1);
      finished();
    });
  // Issued without waiting for the sets: same connection, so each GET sees its SET.
  for (int i = 0; i < n; ++i)
    c->get("p" + std::to_string(i), here(), [&, i](error_code ec, std::optional<std::string> v) {
      if (!ec && v == "value-" + std::to_string(i)) gets_ok.fetch_add(1);
      finished();
    });
  ASSERT_EQ(all.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(sets_ok.load(), n);
  EXPECT_EQ(gets_ok.load(), n);
  EXPECT_LT(steady::now() - start, 5s);
  EXPECT_EQ(c->stats().hits, static_cast<uint64_t>(n));
}

class redis_auth_fixture : public redis_fixture {
  std::vector<std::string> server_args() override { return {"--requirepass", "s3cret"}; }
};

TEST_F(redis_auth_fixture, auth_with_password) {
  auto o = options();
  o.password = "s3cret";
  auto c = connected_client(o);
  ASSERT_FALSE(set(*c, "k", "v"));
  EXPECT_EQ(get(*c, "k").value, "v");
  EXPECT_EQ(sync_get(inspect("s3cret").get(), "test:k"), "v");
}

TEST_F(redis_auth_fixture, wrong_password_never_connects_and_skips) {
  auto o = options();
  o.password = "wrong";
  auto c = client(o);
  EXPECT_FALSE(wait_connected(*c, 300ms));
  const auto t0 = steady::now();
  auto g = get(*c, "k");
  EXPECT_EQ(g.ec, cache_errc::redis_not_connected);
  EXPECT_LT(steady::now() - t0, 100ms);  // skipped at once, no waiting
  EXPECT_GE(c->stats().skipped, 1u);
}

TEST_F(redis_fixture, select_db) {
  auto o = options();
  o.db = 3;
  auto c = connected_client(o);
  ASSERT_FALSE(set(*c, "in3", "yes"));
  EXPECT_EQ(sync_get(inspect("", 3).get(), "test:in3"), "yes");
  EXPECT_FALSE(sync_get(inspect("", 0).get(), "test:in3"));
}

TEST_F(redis_fixture, stopped_redis_times_out_then_recovers) {
  auto o = options();
  o.timeout = 100ms;
  auto c = connected_client(o);
  ASSERT_FALSE(set(*c, "k", "v"));
  server_->pause();  // SIGSTOP: the socket stays open, nothing answers

  const auto t0 = steady::now();
  auto g = get(*c, "k");
  const auto took = steady::now() - t0;
  EXPECT_EQ(g.ec, cache_errc::redis_timeout) << g.ec.message();
  EXPECT_GE(took, 90ms);
  EXPECT_LT(took, 100ms + 250ms);  // the timeout plus a scheduling margin
  EXPECT_GE(c->stats().timeouts, 1u);

  // Meanwhile requests never wait longer than the timeout.
  for (int i = 0; i < 5; ++i) {
    const auto t = steady::now();
    auto r = get(*c, "k");
    EXPECT_TRUE(r.ec);
    EXPECT_LT(steady::now() - t, 100ms + 250ms);
  }

  server_->resume();
  ASSERT_TRUE(wait_connected(*c, 5s));
  auto back = get(*c, "k");
  EXPECT_FALSE(back.ec) << back.ec.message();
  EXPECT_EQ(back.value, "v");
}

TEST_F(redis_fixture, killed_redis_gives_errors_then_reconnects) {
  auto c = connected_client(options());
  ASSERT_FALSE(set(*c, "k", "v"));
  server_->kill();

  for (int i = 0; i < 5; ++i) {  // errors, not hangs
    const auto t = steady::now();
    auto r = get(*c, "k");
    EXPECT_TRUE(r.ec);
    EXPECT_LT(steady::now() - t, 500ms);
  }
  EXPECT_FALSE(c->stats().connected);

  ASSERT_TRUE(server_->start());  // same port, empty data set
  ASSERT_TRUE(wait_connected(*c, 5s));
  EXPECT_FALSE(set(*c, "k2", "again"));
  EXPECT_EQ(get(*c, "k2").value, "again");
  EXPECT_GE(c->stats().reconnects, 1u);
}

TEST_F(redis_fixture, no_server_at_start_then_one_appears) {
  server_->kill();
  auto c = client(options());
  auto r = get(*c, "k");
  EXPECT_EQ(r.ec, cache_errc::redis_not_connected);
  ASSERT_TRUE(server_->start());
  ASSERT_TRUE(wait_connected(*c, 5s));
  EXPECT_FALSE(set(*c, "k", "v"));
  EXPECT_EQ(c->stats().reconnects, 0u);  // the first connection is not a reconnect
}

TEST_F(redis_fixture, purge_by_prefix) {
  auto c = connected_client(options());
  for (int i = 0; i < 1200; ++i) ASSERT_FALSE(set(*c, "chat:" + std::to_string(i), "x"));
  ASSERT_FALSE(set(*c, "embed:1", "y"));
  ASSERT_FALSE(set(*c, "chat*", "glob metacharacter in a key"));
  auto p = std::make_shared<std::promise<std::pair<error_code, uint64_t>>>();
  c->purge("chat:", here(), [p](error_code ec, uint64_t n) { p->set_value({ec, n}); });
  auto f = p->get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto [ec, n] = f.get();
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, 1200u);
  EXPECT_FALSE(get(*c, "chat:7").value);
  EXPECT_EQ(get(*c, "embed:1").value, "y");
  EXPECT_TRUE(get(*c, "chat*").value);
}

TEST_F(redis_fixture, stop_fails_what_comes_after) {
  auto c = connected_client(options());
  c->stop();
  auto g = get(*c, "k");
  EXPECT_EQ(g.ec, cache_errc::stopped);
}

// Two proxy replicas sharing one Redis: what one stores, the other finds (and keeps in memory).
TEST_F(redis_fixture, replicas_share_entries_through_redis) {
  manual_clock clock;
  auto ra = connected_client(options());
  auto rb = connected_client(options());
  response_cache a({.memory_max_bytes = 1 << 20}, clock, ra);
  response_cache b({.memory_max_bytes = 1 << 20}, clock, rb);
  config::route_cache_config route;

  auto j = a.join("chat:k1", here(), nullptr);
  ASSERT_TRUE(j.is_leader());
  ASSERT_FALSE(j.leader.begin(200, "text/event-stream"));
  ASSERT_FALSE(
      j.leader.append("data: {\"choices\":[{\"index\":0,\"text\":\"hi\"}]}\n\ndata: [DONE]\n\n"));
  bool stored = false;
  ASSERT_TRUE(a.finish(j.leader, route, &stored));
  ASSERT_TRUE(stored);

  EXPECT_EQ(b.lookup_memory("chat:k1").state, lookup_state::miss);
  // The SET is fire and forget: poll the remote tier until it lands.
  lookup_result found;
  const auto until = steady::now() + 5s;
  while (steady::now() < until) {
    auto p = std::make_shared<std::promise<lookup_result>>();
    b.lookup_remote("chat:k1", here(), [p](lookup_result r) { p->set_value(std::move(r)); });
    auto f = p->get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    found = f.get();
    if (found.state == lookup_state::fresh) break;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(found.state, lookup_state::fresh);
  ASSERT_TRUE(found.e);
  EXPECT_EQ(found.e->kind, body_kind::sse);
  EXPECT_EQ(found.e->events.size(), 2u);
  EXPECT_EQ(b.lookup_memory("chat:k1").state, lookup_state::fresh);
}

}  // namespace
}  // namespace spillway::cache
