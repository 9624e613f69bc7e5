#include "upstream-engine/model/tokenizer.hpp"

#include <fmt/format.h>
#include <cstring>
#include <queue>

#include "upstream-engine/model/mapped_file.hpp"

namespace spillway::engine::model {

std::optional<tokenizer> tokenizer::load(const std::string& path, int vocab_size,
                                         std::string& error) {
  mapped_file f;
  if (!f.open(path, error)) return std::nullopt;
  const unsigned char* p = f.data();
  const size_t size = f.size();
  size_t off = 0;
  auto read_i32 = [&](int32_t& v) {
    if (size - off < 4) return false;
    std::memcpy(&v, p + off, 4);
    off += 4;
    return true;
  };
  int32_t max_len = 0;
  if (!read_i32(max_len) || max_len <= 0 || max_len > 4096) {
    error = fmt::format("{}: not a llama2.c tokenizer: bad max token length", path);
    return std::nullopt;
  }
  std::vector<std::string> pieces;
  std::vector<float> scores;
  pieces.reserve(static_cast<size_t>(vocab_size));
  scores.reserve(static_cast<size_t>(vocab_size));
  for (int i = 0; i < vocab_size; ++i) {
    int32_t score_bits = 0, len = 0;
    if (!read_i32(score_bits) || !read_i32(len)) {
      error = fmt::format("{}: tokenizer truncated at token {} of {}", path, i, vocab_size);
      return std::nullopt;
    }
    if (len < 0 || len > max_len || size - off < static_cast<size_t>(len)) {
      error = fmt::format("{}: tokenizer token {} has bad length {}", path, i, len);
      return std::nullopt;
    }
    float score;
    std::memcpy(&score, &score_bits, 4);
    scores.push_back(score);
    pieces.emplace_back(reinterpret_cast<const char*>(p + off), static_cast<size_t>(len));
    off += static_cast<size_t>(len);
  }
  if (off != size) {
    error = fmt::format("{}: tokenizer has {} bytes after {} tokens (vocab size of another model?)",
                        path, size - off, vocab_size);
    return std::nullopt;
  }
  tokenizer t = from_pieces(std::move(pieces), std::move(scores));
  t.max_len_ = max_len;
  return t;
}

tokenizer tokenizer::from_pieces(std::vector<std::string> pieces, std::vector<float> scores) {
  tokenizer t;
  t.pieces_ = std::move(pieces);
  t.scores_ = std::move(scores);
  t.index();
  return t;
}

void tokenizer::index() {
  ids_.clear();
  ids_.reserve(pieces_.size());
  max_len_ = 1;
  // Later duplicates do not replace earlier ones, so the lowest id wins as in run.c's bsearch.
  for (size_t i = 0; i < pieces_.size(); ++i) {
    ids_.emplace(pieces_[i], static_cast<int32_t>(i));
    max_len_ = std::max(max_len_, static_cast<int>(pieces_[i].size()));
  }
  byte_pieces_.resize(256);
  for (int b = 0; b < 256; ++b)
    byte_pieces_[static_cast<size_t>(b)] = std::string(1, static_cast<char>(b));
}

int32_t tokenizer::find(std::string_view s) const {
  auto it = ids_.find(s);
  return it == ids_.end() ? -1 : it->second;
}

namespace {

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;  // stray continuation or invalid lead byte: one byte on its own
}

struct symbol {
  int32_t id;
  int prev;
  int next;
  uint32_t version;  // bumped when the symbol changes, invalidating queued pairs
};

struct candidate {
  float score;
  int left;  // index of the left symbol; symbols keep their original order
  uint32_t left_version;
  uint32_t right_version;
  int32_t merged;
  bool operator<(const candidate& o) const {
    if (score != o.score) return score < o.score;  // max-heap on score
    return left > o.left;                          // then leftmost first
  }
};

}  // namespace

std::vector<int32_t> tokenizer::encode(std::string_view text, bool bos) const {
  std::vector<int32_t> out;
  if (bos) out.push_back(token_bos);
  if (text.empty()) return out;

  std::vector<symbol> syms;
  syms.reserve(text.size() + 1);
  auto push = [&](int32_t id) {
    const int i = static_cast<int>(syms.size());
    syms.push_back({id, i - 1, i + 1, 0});
  };
  if (int32_t space = find(" "); space >= 0) push(space);
  for (size_t i = 0; i < text.size();) {
    size_t n = std::min(utf8_length(static_cast<unsigned char>(text[i])), text.size() - i);
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
        n = k;
        break;
      }
    }
    if (int32_t id = find(text.substr(i, n)); id >= 0) {
      push(id);
    } else {
      for (size_t k = 0; k < n; ++k) push(static_cast<unsigned char>(text[i + k]) + token_byte0);
    }
    i += n;
  }
  if (syms.empty()) return out;
  syms.back().next = -1;

  std::priority_queue<candidate> heap;
  std::string buf;
  auto consider = [&](int left) {
    if (left < 0) return;
    const int right = syms[static_cast<size_t>(left)].next;
    if (right < 0) return;
    const symbol& a = syms[static_cast<size_t>(left)];
    const symbol& b = syms[static_cast<size_t>(right)];
    buf.assign(pieces_[static_cast<size_t>(a.id)]);
    buf.append(pieces_[static_cast<size_t>(b.id)]);
    if (int32_t id = find(buf); id >= 0)
      heap.push({scores_[static_cast<size_t>(id)], left, a.version, b.version, id});
  };
  for (int i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) consider(i);

  while (!heap.empty()) {
    const candidate c = heap.top();
    heap.pop();
    symbol& a = syms[static_cast<size_t>(c.left)];
    if (a.id < 0 || a.version != c.left_version || a.next < 0) continue;
    symbol& b = syms[static_cast<size_t>(a.next)];
    if (b.version != c.right_version) continue;
    a.id = c.merged;
    ++a.version;
    b.id = -1;
    ++b.version;
    a.next = b.next;
    if (b.next >= 0) syms[static_cast<size_t>(b.next)].prev = c.left;
    consider(a.prev);
    consider(c.left);
  }
  for (int i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next)
    out.push_back(syms[static_cast<size_t>(i)].id);
  return out;
}

std::string_view tokenizer::decode(int32_t prev, int32_t token) const {
  if (token < 0 || token >= vocab_size()) return {};
  std::string_view piece = pieces_[static_cast<size_t>(token)];
  if (prev == token_bos && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
  // Byte-fallback tokens read "<0xAB>".
  if (piece.size() == 6 && piece[0] == '<' && piece[1] == '0' && piece[2] == 'x' &&
      piece[5] == '>') {
    auto hex = [](char ch) -> int {
      if (ch >= '0' && ch <= '9') return ch - '0';
      if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
      if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
      return -1;
    };
    const int hi = hex(piece[3]), lo = hex(piece[4]);
    if (hi >= 0 && lo >= 0) return byte_pieces_[static_cast<size_t>(hi * 16 + lo)];
  }
  return piece;
}

std::string tokenizer::serialize() const {
  std::string out;
  auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  int32_t max_len = max_len_;
  put(&max_len, 4);
  for (size_t i = 0; i < pieces_.size(); ++i) {
    float s = scores_[i];
    int32_t len = static_cast<int32_t>(pieces_[i].size());
    put(&s, 4);
    put(&len, 4);
    put(pieces_[i].data(), pieces_[i].size());
  }
  return out;
}

}  // namespace spillway::engine::model
