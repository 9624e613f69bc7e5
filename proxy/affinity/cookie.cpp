#include "proxy/affinity/cookie.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <random>

#include "proxy/affinity/base64url.hpp"

namespace spillway::affinity {
namespace {

/// One random key per process, made on first use (thread-safe static initialisation).
const std::string& process_secret() {
  static const std::string secret = [] {
    std::string s(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(s.size())) != 1) {
      std::random_device rd;  // OpenSSL's generator unavailable: the OS source directly
      for (char& c : s) c = static_cast<char>(rd());
    }
    return s;
  }();
  return secret;
}

constexpr std::size_t mac_b64_size = 43;  // 32 bytes, unpadded

}  // namespace

cookie_signer::cookie_signer(const config::affinity_cookie_config& cfg, std::string_view context)
    : cfg_(cfg),
      key_(cfg.secret.empty() ? process_secret() : cfg.secret),
      context_(context),
      ttl_s_(std::chrono::duration_cast<std::chrono::seconds>(cfg.ttl).count()) {}

cookie_signer::mac_bytes cookie_signer::mac(std::string_view payload64) const {
  std::string input;
  input.reserve(context_.size() + 1 + payload64.size());
  input.append(context_).append(1, '\n').append(payload64);
  mac_bytes out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out.data(), &len);
  return out;
}

std::string cookie_signer::encode(std::string_view address, int64_t now_unix) const {
  return encode_until(address, now_unix + ttl_s_);
}

std::string cookie_signer::encode_until(std::string_view address, int64_t expires_unix) const {
  std::string payload(address);
  payload += '|';
  payload += std::to_string(expires_unix);
  std::string value = base64url_encode(payload);
  const mac_bytes m = mac(value);
  value += '.';
  value += base64url_encode({reinterpret_cast<const char*>(m.data()), m.size()});
  return value;
}

std::optional<cookie_claim> cookie_signer::verify(std::string_view value, int64_t now_unix) const {
  const std::size_t dot = value.rfind('.');
  if (dot == std::string_view::npos || value.size() - dot - 1 != mac_b64_size) return std::nullopt;
  const std::string_view payload64 = value.substr(0, dot);
  const auto got = base64url_decode(value.substr(dot + 1));
  if (!got || got->size() != sizeof(mac_bytes)) return std::nullopt;
  const mac_bytes want = mac(payload64);
  if (CRYPTO_memcmp(want.data(), got->data(), want.size()) != 0) return std::nullopt;

  // Genuine from here on; still check that it decodes and has not expired.
  const auto payload = base64url_decode(payload64);
  if (!payload) return std::nullopt;
  const std::size_t bar = payload->rfind('|');
  if (bar == std::string::npos || bar == 0) return std::nullopt;
  cookie_claim claim;
  const char* first = payload->data() + bar + 1;
  const char* last = payload->data() + payload->size();
  const auto [end, ec] = std::from_chars(first, last, claim.expires);
  if (ec != std::errc{} || end != last || first == last) return std::nullopt;
  if (claim.expires <= now_unix || claim.expires > now_unix + ttl_s_ + clock_skew_s)
    return std::nullopt;
  claim.address = payload->substr(0, bar);
  return claim;
}

std::string cookie_signer::set_cookie(std::string_view value) const {
  std::string s = cfg_.name;
  s += '=';
  s.append(value);
  s += "; Path=/; Max-Age=";
  s += std::to_string(ttl_s_);
  if (cfg_.http_only) s += "; HttpOnly";
  if (cfg_.secure) s += "; Secure";
  s += "; SameSite=Lax";
  return s;
}

std::optional<cookie_claim> find_valid_cookie(const http::header_list& headers,
                                              const cookie_signer& signer, int64_t now_unix) {
  std::optional<cookie_claim> found;
  for_each_cookie(headers, signer.config().name, [&](std::string_view value) {
    found = signer.verify(value, now_unix);
    return found.has_value();
  });
  return found;
}

}  // namespace spillway::affinity
