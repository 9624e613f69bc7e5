// redis_client::eval: Lua scripts for callers outside the cache (the shared rate limiter).
// Scripts are sent as EVALSHA (the script's SHA-1, so Redis neither receives nor hashes the
// text on every call); a Redis that does not know the script yet (NOSCRIPT: first use, restart,
// SCRIPT FLUSH) gets it once through EVAL, which also loads it for the next calls.
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <boost/asio/post.hpp>
#include <string_view>

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

bool is_noscript(const redisReply* r) {
  return r && r->type == REDIS_REPLY_ERROR &&
         std::string_view(r->str, r->len).starts_with("NOSCRIPT");
}

std::string sha1_hex(const std::string& text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(2 * SHA_DIGEST_LENGTH, '0');
  for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 0xf];
  }
  return out;
}

// The SHA-1 of the last script seen: callers pass one script again and again.
const std::string& sha_of(const std::string& script) {
  thread_local std::string last_script, last_sha;
  if (last_script != script) {
    last_script = script;
    last_sha = sha1_hex(script);
  }
  return last_sha;
}

}  // namespace

void redis_client::eval(const std::string& script, std::vector<std::string> keys,
                        std::vector<std::string> args, dispatcher d, eval_handler h) {
  const auto deadline = clock::now() + opt_.timeout;
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(sha_of(script));
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(opt_.key_prefix + k);
  for (auto& a : args) argv.push_back(std::move(a));
  asio::post(strand_, [self = shared_from_this(), argv = std::move(argv), script, d = std::move(d),
                       h = std::move(h), deadline]() mutable {
    auto finish = [self = self.get()](error_code ec, redisReply* r, dispatcher& d,
                                      eval_handler& h) {
      std::vector<int64_t> values;
      if (!ec) ec = integers_of(r, values);
      if (ec) self->count_failure(ec);
      d([h = std::move(h), ec, values = std::move(values)]() mutable { h(ec, std::move(values)); });
    };
    auto first = [self = self.get(), argv, script = std::move(script), d = std::move(d),
                  h = std::move(h), deadline, finish](error_code ec, redisReply* r) mutable {
      if (ec || !is_noscript(r)) return finish(ec, r, d, h);
      argv[0] = "EVAL";
      argv[1] = std::move(script);
      self->issue(argv, deadline,
                  [d = std::move(d), h = std::move(h), finish](
                      error_code ec2, redisReply* r2) mutable { finish(ec2, r2, d, h); });
    };
    self->issue(argv, deadline, std::move(first));
  });
}

}  // namespace spillway::cache
