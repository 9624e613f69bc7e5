// redis_client::eval: Lua scripts for callers outside the cache (the shared rate limiter).
#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>

#include "cache/redis_client.hpp"

namespace spillway::cache {

namespace asio = boost::asio;

namespace {

error_code integers_of(const redisReply* r, std::vector<int64_t>& out) {
  if (r->type == REDIS_REPLY_INTEGER) {
    out.push_back(r->integer);
    return {};
  }
  if (r->type == REDIS_REPLY_ERROR) return cache_errc::redis_error_reply;
  if (r->type != REDIS_REPLY_ARRAY) return cache_errc::redis_bad_reply;
  out.reserve(r->elements);
  for (size_t i = 0; i < r->elements; ++i) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER) return cache_errc::redis_bad_reply;
    out.push_back(r->element[i]->integer);
  }
  return {};
}

}  // namespace

void redis_client::eval(const std::string& script, std::vector<std::string> keys,
                        std::vector<std::string> args, dispatcher d, eval_handler h) {
  const auto deadline = clock::now() + opt_.timeout;
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVAL");
  argv.push_back(script);
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(opt_.key_prefix + k);
  for (auto& a : args) argv.push_back(std::move(a));
  asio::post(strand_, [self = shared_from_this(), argv = std::move(argv), d = std::move(d),
                       h = std::move(h), deadline]() mutable {
    self->issue(
        argv, deadline,
        [self = self.get(), d = std::move(d), h = std::move(h)](error_code ec, redisReply* r) {
          std::vector<int64_t> values;
          if (!ec) ec = integers_of(r, values);
          if (ec) self->count_failure(ec);
          d([h = std::move(h), ec, values = std::move(values)]() mutable {
            h(ec, std::move(values));
          });
        });
  });
}

}  // namespace spillway::cache
