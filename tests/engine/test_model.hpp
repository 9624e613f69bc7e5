// Test helper: writes a seeded synthetic model of a preset into a temporary directory once per
// process and keeps it mapped.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/model/make_model.hpp"
#include "upstream-engine/model/tokenizer.hpp"

namespace spillway::engine::test {

struct model_files {
  std::string dir;
  std::string model_path;
  std::string tokenizer_path;
  model::checkpoint ck;
  model::tokenizer tok;
};

inline std::string temp_dir(const std::string& tag) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / ("spillway-engine-" + tag + "-XXXXXX")).string();
  const char* d = mkdtemp(tmpl.data());
  return d ? std::string(d) : std::string();
}

/// The model for `preset` and `seed`, created on first use, removed at exit.
inline const model_files& test_model(const std::string& preset = "tiny", uint64_t seed = 7) {
  static std::unique_ptr<model_files> cached;
  static std::string cached_key;
  const std::string key = preset + "/" + std::to_string(seed);
  if (cached && cached_key == key) return *cached;
  const std::string dir = temp_dir(preset);
  std::string error;
  auto cfg = model::preset_config(preset);
  EXPECT_TRUE(cfg.has_value());
  const std::string mp = dir + "/model.bin", tp = dir + "/tokenizer.bin";
  EXPECT_TRUE(model::write_checkpoint(*cfg, seed, mp, error)) << error;
  EXPECT_TRUE(model::write_tokenizer(model::make_tokenizer(cfg->vocab_size, seed), tp, error))
      << error;
  auto ck = model::checkpoint::open(mp, error);
  EXPECT_TRUE(ck.has_value()) << error;
  auto tok = model::tokenizer::load(tp, ck->config().vocab_size, error);
  EXPECT_TRUE(tok.has_value()) << error;
  cached = std::make_unique<model_files>(model_files{dir, mp, tp, std::move(*ck), std::move(*tok)});
  cached_key = key;
  static const bool cleanup_registered = [] {
    std::atexit([] {
      if (cached) std::filesystem::remove_all(cached->dir);
    });
    return true;
  }();
  (void)cleanup_registered;
  return *cached;
}

}  // namespace spillway::engine::test
