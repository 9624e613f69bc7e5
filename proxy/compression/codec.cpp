#include "proxy/compression/codec.hpp"

#include "common/ascii.hpp"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>

#include <algorithm>
#include <array>

#include "proxy/http/message.hpp"

namespace spillway::compression {

namespace {

constexpr size_t block = 16 * 1024;

// window_bits: 16 + MAX_WBITS for the gzip wrapper, MAX_WBITS for the zlib one.
decoded decode_zlib(std::string_view in, uint64_t max_bytes, int window_bits) {
  decoded out;
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) return {decode_status::corrupt, {}};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::array<char, block> buf;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      out.status = decode_status::corrupt;
      break;
    }
    const size_t n = buf.size() - z.avail_out;
    if (out.data.size() + n > max_bytes) {
      out.status = decode_status::too_large;
      break;
    }
    out.data.append(buf.data(), n);
    if (rc == Z_OK && n == 0 && z.avail_in == 0) {  // input ended before the stream did
      out.status = decode_status::corrupt;
      break;
    }
  }
  inflateEnd(&z);
  if (out.status != decode_status::ok) out.data.clear();
  return out;
}

decoded decode_br(std::string_view in, uint64_t max_bytes) {
  decoded out;
  BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  if (!s) return {decode_status::corrupt, {}};
  size_t avail_in = in.size();
  auto next_in = reinterpret_cast<const uint8_t*>(in.data());
  std::array<uint8_t, block> buf;
  while (true) {
    size_t avail_out = buf.size();
    uint8_t* next_out = buf.data();
    const auto rc =
        BrotliDecoderDecompressStream(s, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    const size_t n = buf.size() - avail_out;
    if (out.data.size() + n > max_bytes) {
      out.status = decode_status::too_large;
      break;
    }
    out.data.append(reinterpret_cast<const char*>(buf.data()), n);
    if (rc == BROTLI_DECODER_RESULT_SUCCESS) break;
    if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) continue;
    out.status = decode_status::corrupt;  // error, or the input ended early
    break;
  }
  BrotliDecoderDestroyInstance(s);
  if (out.status != decode_status::ok) out.data.clear();
  return out;
}

// Smallest window (log2 bytes) holding `size` bytes, within [lo, hi]. Compression state is
// sized by the window: for the few-KiB answers of an API, setting up zlib's default 256 KiB of
// state costs more than compressing, and a window larger than the input gains nothing.
int window_for(size_t size, int lo, int hi) {
  int bits = lo;
  while (bits < hi && (size_t{1} << bits) < size) ++bits;
  return bits;
}

// wrapper: 16 for gzip, 0 for the zlib format.
std::string encode_zlib(std::string_view in, int wrapper) {
  z_stream z{};
  const int bits = window_for(in.size() + 262, 9, MAX_WBITS);  // 262: zlib's lookahead margin
  const int mem_level = std::clamp(bits - 7, 1, 8);            // hash table sized alike
  if (deflateInit2(&z, 6, Z_DEFLATED, wrapper + bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
    return {};
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(in.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(rc == Z_STREAM_END ? z.total_out : 0);
  deflateEnd(&z);
  return out;
}

std::string encode_br(std::string_view in) {
  std::string out;
  size_t size = BrotliEncoderMaxCompressedSize(in.size());
  if (size == 0) size = in.size() + 1024;
  out.resize(size);
  const int bits = window_for(in.size(), BROTLI_MIN_WINDOW_BITS, BROTLI_DEFAULT_WINDOW);
  if (!BrotliEncoderCompress(4, bits, BROTLI_MODE_TEXT, in.size(),
                             reinterpret_cast<const uint8_t*>(in.data()), &size,
                             reinterpret_cast<uint8_t*>(out.data())))
    return {};
  out.resize(size);
  return out;
}

}  // namespace

std::optional<coding> coding_of(std::string_view token) noexcept {
  token = ascii::trim_ows(token);
  if (http::iequals(token, "gzip") || http::iequals(token, "x-gzip")) return coding::gzip;
  if (http::iequals(token, "deflate")) return coding::deflate;
  if (http::iequals(token, "br")) return coding::br;
  if (http::iequals(token, "identity")) return coding::identity;
  return std::nullopt;
}

const char* to_string(coding c) noexcept {
  switch (c) {
    case coding::gzip:
      return "gzip";
    case coding::deflate:
      return "deflate";
    case coding::br:
      return "br";
    case coding::identity:
      break;
  }
  return "identity";
}

decoded decode(coding c, std::string_view in, uint64_t max_bytes) {
  switch (c) {
    case coding::gzip:
      return decode_zlib(in, max_bytes, 16 + MAX_WBITS);
    case coding::deflate:
      return decode_zlib(in, max_bytes, MAX_WBITS);
    case coding::br:
      return decode_br(in, max_bytes);
    case coding::identity:
      break;
  }
  if (in.size() > max_bytes) return {decode_status::too_large, {}};
  return {decode_status::ok, std::string(in)};
}

std::string encode(coding c, std::string_view in) {
  switch (c) {
    case coding::gzip:
      return encode_zlib(in, 16);
    case coding::deflate:
      return encode_zlib(in, 0);
    case coding::br:
      return encode_br(in);
    case coding::identity:
      break;
  }
  return std::string(in);
}

coding negotiate(std::string_view accept, const std::vector<std::string>& offered) {
  // q-values of the codings the client lists; "*" stands for any coding not listed.
  double q_gzip = -1, q_deflate = -1, q_br = -1, q_any = -1;
  while (!accept.empty()) {
    const auto comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept.remove_prefix(comma == std::string_view::npos ? accept.size() : comma + 1);
    double q = 1;
    const auto semi = item.find(';');
    if (semi != std::string_view::npos) {
      std::string_view param = ascii::trim_ows(item.substr(semi + 1));
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        q = std::strtod(std::string(param.substr(2)).c_str(), nullptr);
      }
      item = item.substr(0, semi);
    }
    item = ascii::trim_ows(item);
    if (item == "*")
      q_any = q;
    else if (auto c = coding_of(item); c == coding::gzip)
      q_gzip = q;
    else if (c == coding::deflate)
      q_deflate = q;
    else if (c == coding::br)
      q_br = q;
  }
  for (const auto& name : offered) {
    const auto c = coding_of(name);
    if (!c || *c == coding::identity) continue;
    double q = *c == coding::gzip ? q_gzip : *c == coding::deflate ? q_deflate : q_br;
    if (q < 0) q = q_any;
    if (q > 0) return *c;
  }
  return coding::identity;
}

}  // namespace spillway::compression
