#include "loadgen/prompts.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <sstream>

#include "common/random.hpp"

namespace spillway::loadgen {

namespace json = boost::json;

uint64_t mix64(uint64_t a, uint64_t b) noexcept {
  uint64_t z = a * 0x9e3779b97f4a7c15ULL + b + 0x632be59bd9b4e019ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string pseudo_words(uint64_t seed, uint32_t count) {
  static constexpr const char* syllables[] = {
      "ka",  "lo",  "mi",  "ne",  "ru",  "sa",  "ti",  "vo",  "den", "gar", "hul",
      "pim", "rox", "sel", "tun", "bri", "cla", "dro", "fen", "gol", "mar", "quo"};
  constexpr uint64_t n = sizeof(syllables) / sizeof(syllables[0]);
  xoshiro256 rng(seed);
  std::string out;
  out.reserve(count * 7);
  for (uint32_t w = 0; w < count; ++w) {
    if (w) out.push_back(' ');
    const uint64_t parts = 1 + rng.below(3);
    for (uint64_t s = 0; s < parts; ++s) out += syllables[rng.below(n)];
  }
  return out;
}

std::optional<std::vector<prompt_entry>> parse_prompts_jsonl(const std::string& text,
                                                             std::string& error) {
  std::vector<prompt_entry> out;
  std::istringstream in(text);
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = "line " + std::to_string(line_no) + ": ";
    json::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      error = at + "not a JSON object";
      return std::nullopt;
    }
    const auto& obj = v.as_object();
    prompt_entry e;
    if (const auto* p = obj.if_contains("prompt"); p && p->is_string()) {
      e.text = std::string(p->as_string());
    } else if (const auto* t = obj.if_contains("text"); t && t->is_string()) {
      e.text = std::string(t->as_string());
    } else if (const auto* m = obj.if_contains("messages"); m && m->is_array()) {
      e.messages_json = json::serialize(*m);
      for (const auto& msg : m->as_array()) {
        const auto* content = msg.is_object() ? msg.as_object().if_contains("content") : nullptr;
        if (!content || !content->is_string()) continue;
        if (!e.text.empty()) e.text.push_back('\n');
        e.text += std::string(content->as_string());
      }
    } else {
      error = at + "needs \"prompt\", \"text\" or \"messages\"";
      return std::nullopt;
    }
    if (const auto* mt = obj.if_contains("max_tokens"); mt && mt->is_int64() && mt->as_int64() > 0)
      e.max_tokens = static_cast<uint32_t>(mt->as_int64());
    out.push_back(std::move(e));
  }
  if (out.empty()) {
    error = "no prompts";
    return std::nullopt;
  }
  return out;
}

prompt_source prompt_source::from_entries(std::vector<prompt_entry> entries) {
  prompt_source s;
  s.entries_ = std::move(entries);
  return s;
}

prompt_source prompt_source::synthetic(const synthetic_prompts& cfg, uint64_t seed) {
  prompt_source s;
  s.synth_ = cfg;
  s.seed_ = seed;
  const uint32_t tenants = std::max<uint32_t>(cfg.tenants, 1);
  for (uint32_t t = 0; t < tenants; ++t) {
    s.tenant_prompts_.push_back("You are assistant " + std::to_string(t) + ". " +
                                pseudo_words(mix64(seed, 0x7e4a47 + t), cfg.system_words));
  }
  return s;
}

std::optional<prompt_source> prompt_source::create(const options& o, std::string& error) {
  if (o.prompts_file.empty()) return synthetic(o.synthetic, o.seed);
  std::ifstream in(o.prompts_file, std::ios::binary);
  if (!in) {
    error = "cannot read prompts file " + o.prompts_file;
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto entries = parse_prompts_jsonl(ss.str(), error);
  if (!entries) {
    error = o.prompts_file + ": " + error;
    return std::nullopt;
  }
  return from_entries(std::move(*entries));
}

prompt_parts prompt_source::get(uint64_t index, uint32_t session) const {
  prompt_parts p;
  if (!entries_.empty()) {
    const prompt_entry& e = entries_[index % entries_.size()];
    p.user = e.text;
    p.messages_json = e.messages_json;
    p.max_tokens = e.max_tokens;
    return p;
  }
  const size_t tenants = tenant_prompts_.size();
  const size_t tenant = session != UINT32_MAX ? session % tenants : mix64(seed_, index) % tenants;
  p.system = tenant_prompts_[tenant];
  if (session != UINT32_MAX && synth_.session_words > 0)
    p.context = pseudo_words(mix64(seed_ ^ 0x5e55, session), synth_.session_words);
  p.user = pseudo_words(mix64(seed_ ^ 0x7a11, index), synth_.tail_words);
  return p;
}

}  // namespace spillway::loadgen
