#include "upstream-engine/model/make_model.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_set>
#include <vector>

#include "common/random.hpp"

namespace spillway::engine::model {

std::optional<model_config> preset_config(std::string_view name) {
  model_config c;
  if (name == "tiny") {
    c = {64, 176, 2, 4, 2, 512, 256, false};
  } else if (name == "small") {
    c = {288, 768, 6, 6, 6, 32000, 256, true};
  } else if (name == "110m") {
    c = {768, 2048, 12, 12, 12, 32000, 1024, true};
  } else {
    return std::nullopt;
  }
  return c;
}

namespace {

constexpr const char* common_words[] = {
    "the",    "a",      "and",   "was",    "to",      "she",  "he",    "they",  "it",     "once",
    "upon",   "time",   "there", "little", "girl",    "boy",  "named", "lily",  "tom",    "ben",
    "loved",  "play",   "with",  "her",    "his",     "toy",  "ball",  "in",    "park",   "one",
    "day",    "saw",    "big",   "red",    "dog",     "cat",  "said",  "hello", "friend", "went",
    "see",    "sun",    "sky",   "tree",   "bird",    "fish", "happy", "sad",   "mom",    "dad",
    "home",   "after",  "cake",  "very",   "good",    "jump", "run",   "look",  "find",   "make",
    "help",   "wanted", "could", "not",    "like",    "all",  "what",  "when",  "then",   "so",
    "of",     "on",     "at",    "for",    "but",     "is",   "you",   "we",    "small",  "house",
    "garden", "flower", "water", "smiled", "laughed", "ran",  "found", "gave",  "took",   "shiny",
};

constexpr const char* consonants = "bcdfghjklmnprstvwz";
constexpr const char* vowels = "aeiou";

}  // namespace

tokenizer make_tokenizer(int vocab_size, uint64_t seed) {
  std::vector<std::string> pieces;
  std::unordered_set<std::string> seen;
  pieces.reserve(static_cast<size_t>(vocab_size));
  auto add = [&](std::string p) {
    if (static_cast<int>(pieces.size()) >= vocab_size || !seen.insert(p).second) return;
    pieces.push_back(std::move(p));
  };
  add("<unk>");
  add("\n<s>\n");
  add("\n</s>\n");
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b));
  for (int ch = 32; ch < 127; ++ch) add(std::string(1, static_cast<char>(ch)));
  // Words start at synthetic_word_start.

  // A word is usable only with all its prefixes, so BPE can merge its letters one by one.
  auto missing_prefixes = [&](const std::string& word) {
    int n = 0;
    for (size_t k = 2; k <= word.size(); ++k) n += seen.count(word.substr(0, k)) == 0 ? 1 : 0;
    return n;
  };
  auto add_word = [&](const std::string& word) {
    if (missing_prefixes(word) > vocab_size - static_cast<int>(pieces.size())) return;
    for (size_t k = 2; k <= word.size(); ++k) add(word.substr(0, k));
  };
  for (const char* w : common_words) add_word(std::string(" ") + w);

  // Fill the rest with pronounceable made-up words built syllable by syllable.
  xoshiro256 rng(seed ^ 0x746f6b656e697a65ULL);
  std::vector<std::string> words;
  while (static_cast<int>(pieces.size()) < vocab_size) {
    std::string w = " ";
    if (!words.empty() && rng.below(3) != 0) w = words[rng.below(words.size())];
    if (w.size() > 12) w = " ";
    w += consonants[rng.below(std::strlen(consonants))];
    w += vowels[rng.below(std::strlen(vowels))];
    if (rng.below(4) == 0) w += consonants[rng.below(std::strlen(consonants))];
    const size_t before = pieces.size();
    add_word(w);
    if (pieces.size() == before && missing_prefixes(w) > 0) {
      // Too long for the slots left: extend an existing piece by one letter instead.
      std::string base = words.empty() ? std::string(" ") : words[rng.below(words.size())];
      add(base + vowels[rng.below(std::strlen(vowels))]);
      if (pieces.size() > before) words.push_back(pieces.back());
      continue;
    }
    if (pieces.size() > before) words.push_back(w);
  }

  std::vector<float> scores(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) scores[i] = -static_cast<float>(i);
  // Specials and bytes never merge; give them the lowest scores as sentencepiece does.
  for (int i = 0; i < 259 && i < static_cast<int>(pieces.size()); ++i)
    scores[static_cast<size_t>(i)] = 0.0f;
  return tokenizer::from_pieces(std::move(pieces), std::move(scores));
}

namespace {

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

class tensor_writer {
 public:
  tensor_writer(std::FILE* f, uint64_t seed) : f_(f), rng_(seed) {}

  /// `n` values uniform in [-a, a] plus `offset`.
  bool random(uint64_t n, float a, float offset) {
    while (n > 0) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(n, buf_.size()));
      for (size_t i = 0; i < k; ++i)
        buf_[i] = offset + a * static_cast<float>(2.0 * rng_.uniform() - 1.0);
      if (std::fwrite(buf_.data(), sizeof(float), k, f_) != k) return false;
      n -= k;
    }
    return true;
  }

  /// A [rows][cols] table whose first `quiet_rows` rows are scaled by `quiet`.
  bool table(uint64_t rows, uint64_t cols, float a, uint64_t quiet_rows, float quiet) {
    for (uint64_t r = 0; r < rows; ++r)
      if (!random(cols, r < quiet_rows ? a * quiet : a, 0.0f)) return false;
    return true;
  }

  bool values(const std::vector<float>& v) {
    return std::fwrite(v.data(), sizeof(float), v.size(), f_) == v.size();
  }

 private:
  std::FILE* f_;
  xoshiro256 rng_;
  std::vector<float> buf_ = std::vector<float>(1 << 16);
};

}  // namespace

bool write_checkpoint(const model_config& c, uint64_t seed, const std::string& path,
                      std::string& error) {
  if (std::string why = validate_config(c); !why.empty()) {
    error = "invalid model shape: " + why;
    return false;
  }
  std::unique_ptr<std::FILE, file_closer> f(std::fopen(path.c_str(), "wb"));
  if (!f) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  const int32_t header[7] = {c.dim,        c.hidden_dim,
                             c.n_layers,   c.n_heads,
                             c.n_kv_heads, c.shared_classifier ? c.vocab_size : -c.vocab_size,
                             c.seq_len};
  bool ok = std::fwrite(header, sizeof header, 1, f.get()) == 1;
  tensor_writer w(f.get(), seed);
  const uint64_t d = c.dim, h = c.hidden_dim, l = c.n_layers, v = c.vocab_size, kv = c.kv_dim();
  const float unit = std::sqrt(3.0f);  // uniform [-sqrt3, sqrt3] has variance 1
  auto fan = [&](uint64_t fan_in) { return unit / std::sqrt(static_cast<float>(fan_in)); };
  // Specials, byte and single-character tokens get small classifier rows, so even a random
  // model mostly emits word tokens and its output reads as words.
  const uint64_t quiet_rows = std::min<uint64_t>(v, synthetic_word_start);
  const float quiet = 0.05f;
  ok = ok && w.table(v, d, unit, c.shared_classifier ? quiet_rows : 0, quiet);  // token embedding
  ok = ok && w.random(l * d, 0.1f, 1.0f);                                       // rms_att
  ok = ok && w.random(l * d * d, fan(d), 0.0f);                                 // wq
  ok = ok && w.random(l * kv * d, fan(d), 0.0f);                                // wk
  ok = ok && w.random(l * kv * d, fan(d), 0.0f);                                // wv
  ok = ok && w.random(l * d * d, fan(d), 0.0f);                                 // wo
  ok = ok && w.random(l * d, 0.1f, 1.0f);                                       // rms_ffn
  ok = ok && w.random(l * h * d, fan(d), 0.0f);                                 // w1
  ok = ok && w.random(l * d * h, fan(h), 0.0f);                                 // w2
  ok = ok && w.random(l * h * d, fan(d), 0.0f);                                 // w3
  // With a shared classifier the residual stream still holds the input token's embedding, so a
  // random model keeps repeating it; a negative final norm gain turns that echo into an
  // aversion and the output wanders through the vocabulary instead.
  ok = ok && w.random(d, 0.1f, c.shared_classifier ? -1.0f : 1.0f);  // rms_final
  // Legacy RoPE tables (run.c skips them; written with their true values for other readers).
  const int hs = c.head_size();
  std::vector<float> re, im;
  re.reserve(static_cast<size_t>(c.seq_len) * hs / 2);
  im.reserve(re.capacity());
  for (int pos = 0; pos < c.seq_len; ++pos) {
    for (int i = 0; i < hs; i += 2) {
      const double freq = 1.0 / std::pow(10000.0, static_cast<double>(i) / hs);
      re.push_back(static_cast<float>(std::cos(pos * freq)));
      im.push_back(static_cast<float>(std::sin(pos * freq)));
    }
  }
  ok = ok && w.values(re) && w.values(im);
  if (!c.shared_classifier) ok = ok && w.table(v, d, fan(d) * 4.0f, quiet_rows, quiet);  // wcls
  if (!ok || std::fflush(f.get()) != 0) {
    error = path + ": write failed: " + std::strerror(errno);
    return false;
  }
  return true;
}

bool write_tokenizer(const tokenizer& t, const std::string& path, std::string& error) {
  std::unique_ptr<std::FILE, file_closer> f(std::fopen(path.c_str(), "wb"));
  if (!f) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  const std::string bytes = t.serialize();
  if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size() ||
      std::fflush(f.get()) != 0) {
    error = path + ": write failed: " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace spillway::engine::model
