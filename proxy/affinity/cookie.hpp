// The affinity cookie (SPEC §2.2 Affinity, key `cookie`): names the endpoint a client is pinned
// to, signed so that clients cannot choose or forge a pin.
//
// Value: base64url(address "|" expiry) "." base64url(HMAC-SHA256(key, context "\n" payload64)),
// where address is the endpoint's configured address (identical on every replica), expiry is in
// Unix seconds and context binds the cookie to one cluster. A value whose MAC does not match
// (forged or any byte altered), whose expiry has passed or lies further ahead than the TTL allows,
// or that does not decode is rejected; the caller then pins afresh and replaces the cookie.
// Whether the address still belongs to the cluster is the caller's check (affinity_picker).
//
// Key: the configured secret, or with an empty secret one random 32-byte key per process
// (cookies then do not survive a restart or span replicas, as the SPEC says).
//
// Threading: a signer is immutable after construction; share one per cluster across workers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "proxy/http/message.hpp"

namespace spillway::affinity {

struct cookie_claim {
  std::string address;  // endpoint address as configured
  int64_t expires = 0;  // Unix seconds
};

class cookie_signer {
 public:
  /// Allowed clock difference between replicas when checking how far ahead an expiry lies.
  static constexpr int64_t clock_skew_s = 60;

  /// `context` is mixed into every MAC (use the cluster name) so a cookie minted for one cluster
  /// is not accepted by another that shares the secret.
  cookie_signer(const config::affinity_cookie_config& cfg, std::string_view context);

  /// Cookie value pinning to `address`, valid for the configured TTL from `now_unix`.
  std::string encode(std::string_view address, int64_t now_unix) const;
  /// Same with an explicit expiry (tests).
  std::string encode_until(std::string_view address, int64_t expires_unix) const;

  /// The claim of a genuine, unexpired value; nullopt otherwise. Constant-time MAC comparison.
  std::optional<cookie_claim> verify(std::string_view value, int64_t now_unix) const;

  /// Set-Cookie field value carrying `value`: name, Path=/, Max-Age, HttpOnly, Secure,
  /// SameSite=Lax as configured.
  std::string set_cookie(std::string_view value) const;

  const config::affinity_cookie_config& config() const noexcept { return cfg_; }
  int64_t ttl_seconds() const noexcept { return ttl_s_; }

 private:
  using mac_bytes = std::array<unsigned char, 32>;
  mac_bytes mac(std::string_view payload64) const;

  config::affinity_cookie_config cfg_;
  std::string key_;
  std::string context_;
  int64_t ttl_s_;
};

/// Calls `f(value)` for every cookie named `name` in the request's Cookie fields, in order, until
/// it returns true; returns whether one did. Surrounding double quotes are removed.
template <class F>
bool for_each_cookie(const http::header_list& headers, std::string_view name, F&& f);

/// The first cookie named `name` that `signer` accepts.
std::optional<cookie_claim> find_valid_cookie(const http::header_list& headers,
                                              const cookie_signer& signer, int64_t now_unix);

// ------------------------------------------------------------------ implementation

template <class F>
bool for_each_cookie(const http::header_list& headers, std::string_view name, F&& f) {
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (headers.id(i) != http::field_id::cookie && !http::iequals(headers.name(i), "cookie"))
      continue;
    std::string_view rest = headers.value(i);
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      const std::string_view pair = ascii::trim_ows(rest.substr(0, semi));
      rest.remove_prefix(semi == std::string_view::npos ? rest.size() : semi + 1);
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos || ascii::trim_ows(pair.substr(0, eq)) != name) continue;
      std::string_view value = ascii::trim_ows(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      if (f(value)) return true;
    }
  }
  return false;
}

}  // namespace spillway::affinity
