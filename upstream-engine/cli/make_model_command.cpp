#include <fmt/format.h>
#include <cstdio>
#include <filesystem>

#include "upstream-engine/cli/commands.hpp"
#include "upstream-engine/cli/flags.hpp"
#include "upstream-engine/model/make_model.hpp"

namespace spillway::engine::cli {

int run_make_model(const std::vector<std::string>& args) {
  flags f({"preset", "seed", "out", "tokenizer-out"}, {});
  f.parse(args);
  const std::string preset = f.str("preset", "tiny");
  const int seed = f.integer("seed", 1, 0, 2147483647);
  const std::string out = f.str("out", "model.bin");
  const std::string tok_out =
      f.str("tokenizer-out", (std::filesystem::path(out).parent_path() / "tokenizer.bin").string());
  const auto cfg = model::preset_config(preset);
  if (!cfg) f.error(fmt::format("--preset must be tiny, small or 110m, got '{}'", preset));
  if (!f.errors().empty()) {
    for (const auto& e : f.errors()) print_error(e);
    return 2;
  }
  std::string error;
  if (!model::write_checkpoint(*cfg, static_cast<uint64_t>(seed), out, error) ||
      !model::write_tokenizer(model::make_tokenizer(cfg->vocab_size, static_cast<uint64_t>(seed)),
                              tok_out, error)) {
    print_error(error);
    return 1;
  }
  const double params = static_cast<double>(cfg->weight_floats());
  std::printf("%s",
              fmt::format("wrote {} ({}: dim {}, hidden {}, {} layers, {}/{} heads, vocab {}, "
                          "context {}, {:.1f}M parameters) and {}\n",
                          out, preset, cfg->dim, cfg->hidden_dim, cfg->n_layers, cfg->n_heads,
                          cfg->n_kv_heads, cfg->vocab_size, cfg->seq_len, params / 1e6, tok_out)
                  .c_str());
  return 0;
}

}  // namespace spillway::engine::cli
