#include "cache/entry.hpp"

#include "common/ascii.hpp"

#include <boost/json/parse.hpp>
#include <cstring>

namespace spillway::cache {
namespace {

constexpr char magic[4] = {'S', 'W', 'C', '1'};

template <class T>
void put(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_string(std::string& out, std::string_view s) {
  put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

class reader {
 public:
  explicit reader(std::string_view b) : b_(b) {}
  template <class T>
  bool get(T& v) {
    if (b_.size() < sizeof(T)) return false;
    v = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<T>(static_cast<T>(static_cast<unsigned char>(b_[i])) << (8 * i));
    b_.remove_prefix(sizeof(T));
    return true;
  }
  bool get_string(std::string& s) {
    uint32_t n = 0;
    if (!get(n) || b_.size() < n) return false;
    s.assign(b_.data(), n);
    b_.remove_prefix(n);
    return true;
  }
  bool skip_magic() {
    if (b_.size() < sizeof(magic) || std::memcmp(b_.data(), magic, sizeof(magic)) != 0)
      return false;
    b_.remove_prefix(sizeof(magic));
    return true;
  }
  bool done() const { return b_.empty(); }

 private:
  std::string_view b_;
};

}  // namespace

uint64_t entry::payload_bytes() const noexcept {
  uint64_t n = body.size();
  for (const auto& ev : events) n += ev.size();
  return n;
}

uint64_t entry::footprint() const noexcept {
  return sizeof(entry) + content_type.size() + request_hash.size() + body.size() +
         events.size() * sizeof(std::string) + payload_bytes() - body.size();
}

std::optional<body_kind> kind_of(std::string_view content_type) noexcept {
  std::string_view media = ascii::trim_ows(content_type.substr(0, content_type.find(';')));
  if (ascii::iequals(media, "text/event-stream")) return body_kind::sse;
  if (ascii::iequals(media, "application/json")) return body_kind::json;
  auto slash = media.find('/');
  if (slash != std::string_view::npos && slash > 0 && media.size() > 5 &&
      ascii::iequals(media.substr(media.size() - 5), "+json"))
    return body_kind::json;
  return std::nullopt;
}

bool storable_head(int status, std::string_view content_type, std::string_view content_encoding,
                   std::optional<uint64_t> content_length, uint64_t max_object_bytes) noexcept {
  if (status < 200 || status > 299) return false;
  if (!kind_of(content_type)) return false;
  auto enc = ascii::trim_ows(content_encoding);
  if (!enc.empty() && !ascii::iequals(enc, "identity")) return false;
  return !content_length || *content_length <= max_object_bytes;
}

error_code entry_builder::begin(int status, std::string_view content_type) {
  begun_ = true;
  auto kind = kind_of(content_type);
  if (!kind) return failed_ = cache_errc::not_storable;
  e_.status = status;
  e_.content_type.assign(content_type);
  e_.kind = *kind;
  return {};
}

error_code entry_builder::append(std::string_view bytes) {
  if (failed_) return failed_;
  if (!begun_) return failed_ = cache_errc::not_storable;
  bytes_ += bytes.size();
  if (bytes_ > max_bytes_) {
    e_ = entry{};
    sse_ = sse_parser{};
    return failed_ = cache_errc::too_large;
  }
  if (e_.kind == body_kind::json)
    e_.body.append(bytes);
  else
    sse_.feed(bytes, e_.events);
  return {};
}

std::shared_ptr<entry> entry_builder::finish() {
  if (failed_ || !begun_) return nullptr;
  auto out = std::make_shared<entry>(std::move(e_));
  e_ = entry{};
  failed_ = cache_errc::not_storable;  // finished: no more appends
  return out;
}

bool storable(const entry& e) noexcept {
  if (e.status < 200 || e.status > 299) return false;
  if (e.kind == body_kind::sse) return true;
  boost::system::error_code ec;
  boost::json::parse(boost::json::string_view(e.body.data(), e.body.size()), ec);
  return !ec;
}

std::string serialize(const entry& e) {
  std::string out;
  out.reserve(64 + e.content_type.size() + e.body.size() + e.payload_bytes() + 4 * e.events.size());
  out.append(magic, sizeof(magic));
  put<uint8_t>(out, static_cast<uint8_t>(e.kind));
  put<uint16_t>(out, static_cast<uint16_t>(e.status));
  auto stored_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(e.stored_at.time_since_epoch()).count();
  put<uint64_t>(out, static_cast<uint64_t>(stored_ms));
  put<uint64_t>(out, static_cast<uint64_t>(e.ttl.count()));
  put<uint64_t>(out, static_cast<uint64_t>(e.stale_if_error.count()));
  put_string(out, e.content_type);
  if (e.kind == body_kind::json) {
    put_string(out, e.body);
  } else {
    put<uint32_t>(out, static_cast<uint32_t>(e.events.size()));
    for (const auto& ev : e.events) put_string(out, ev);
  }
  if (!e.request_hash.empty()) put_string(out, e.request_hash);
  return out;
}

error_code deserialize(std::string_view bytes, entry& out) {
  out = entry{};
  reader r(bytes);
  uint8_t kind = 0;
  uint16_t status = 0;
  uint64_t stored = 0, ttl = 0, stale = 0;
  if (!r.skip_magic() || !r.get(kind) || !r.get(status) || !r.get(stored) || !r.get(ttl) ||
      !r.get(stale) || !r.get_string(out.content_type))
    return cache_errc::corrupt_entry;
  if (kind != static_cast<uint8_t>(body_kind::json) && kind != static_cast<uint8_t>(body_kind::sse))
    return cache_errc::corrupt_entry;
  out.kind = static_cast<body_kind>(kind);
  out.status = status;
  out.stored_at = std::chrono::system_clock::time_point(
      std::chrono::milliseconds(static_cast<int64_t>(stored)));
  out.ttl = std::chrono::milliseconds(static_cast<int64_t>(ttl));
  out.stale_if_error = std::chrono::milliseconds(static_cast<int64_t>(stale));
  if (out.kind == body_kind::json) {
    if (!r.get_string(out.body)) return cache_errc::corrupt_entry;
  } else {
    uint32_t n = 0;
    if (!r.get(n) || n > bytes.size()) return cache_errc::corrupt_entry;  // 4+ bytes per event
    out.events.resize(n);
    for (auto& ev : out.events)
      if (!r.get_string(ev)) return cache_errc::corrupt_entry;
  }
  if (!r.done() && !r.get_string(out.request_hash)) return cache_errc::corrupt_entry;
  if (!r.done()) return cache_errc::corrupt_entry;
  return {};
}

}  // namespace spillway::cache
