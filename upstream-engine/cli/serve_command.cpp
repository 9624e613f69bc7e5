#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/log.hpp"
#include "upstream-engine/api/http_server.hpp"
#include "upstream-engine/cli/backend_factory.hpp"
#include "upstream-engine/cli/commands.hpp"
#include "upstream-engine/cli/flags.hpp"
#include "upstream-engine/model/checkpoint.hpp"
#include "upstream-engine/model/tokenizer.hpp"
#include "upstream-engine/runtime/engine.hpp"

namespace spillway::engine::cli {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

void print_error(const std::string& message) {
  std::fprintf(stderr, "spillway-engine: error: %s\n", message.c_str());
}

void print_usage() {
  std::printf(
      "usage:\n"
      "  spillway-engine --model model.bin [--tokenizer tokenizer.bin] [--listen 127.0.0.1:9001]\n"
      "      [--device auto|cpu|cuda] [--max-batch 32] [--max-queue 256] [--name engine]\n"
      "      [--threads N] [--max-step-tokens 256] [--block-size 16] [--kv-blocks N]\n"
      "      [--kv-cache-mib 1024] [--no-prefix-cache] [--served-model-name ID] [--io-threads 1]\n"
      "      [--fault-error-rate 0.2] [--fault-status 503] [--fault-delay 200ms]\n"
      "      [--fault-stall-after N] [--slowdown 2.0] [--fault-load-delay 2s] [--log-level info]\n"
      "      [--cuda-graphs on|off]\n"
      "  spillway-engine make-model --preset tiny|small|110m --seed 1 --out model.bin\n"
      "      [--tokenizer-out tokenizer.bin]\n"
      "  spillway-engine bench --model model.bin [--tokenizer tokenizer.bin] [--threads N]\n"
      "      [--batches 1,4,16,64] [--decode-tokens 64] [--prompt-tokens 192] [--shared 0.75]\n"
      "      [--repeat 3] [--device auto|cpu|cuda] [--max-step-tokens 256] [--block-size 16]\n"
      "      [--cuda-graphs on|off]\n");
}

namespace {

bool parse_listen(const std::string& text, tcp::endpoint& out, std::string& error) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    error = "--listen must be HOST:PORT, got '" + text + "'";
    return false;
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  const std::string port_text = text.substr(colon + 1);
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (ec || port_text.empty() || *end != '\0' || port < 0 || port > 65535) {
    error = "--listen must be HOST:PORT with a numeric address, got '" + text + "'";
    return false;
  }
  out = tcp::endpoint(addr, static_cast<unsigned short>(port));
  return true;
}

std::optional<log::level> parse_level(const std::string& s) {
  if (s == "debug") return log::level::debug;
  if (s == "info") return log::level::info;
  if (s == "warn") return log::level::warn;
  if (s == "error") return log::level::error;
  return std::nullopt;
}

}  // namespace

int run_serve(const std::vector<std::string>& args) {
  flags f(
      {"listen",       "model",        "tokenizer",         "device",          "max-batch",
       "max-queue",    "name",         "threads",           "max-step-tokens", "block-size",
       "kv-blocks",    "kv-cache-mib", "served-model-name", "io-threads",      "fault-error-rate",
       "fault-status", "fault-delay",  "fault-stall-after", "slowdown",        "fault-load-delay",
       "log-level",    "cuda-graphs"},
      {"no-prefix-cache"});
  f.parse(args);
  const std::string model_path = f.str("model", "");
  if (model_path.empty())
    f.error("--model is required (make one with: spillway-engine make-model)");
  const std::string tok_path = f.str(
      "tokenizer", (std::filesystem::path(model_path).parent_path() / "tokenizer.bin").string());
  tcp::endpoint listen_at;
  std::string err;
  if (!parse_listen(f.str("listen", "127.0.0.1:9001"), listen_at, err)) f.error(err);

  runtime::engine_config ec;
  ec.max_batch = f.integer("max-batch", 32, 1, 4096);
  ec.max_queue = f.integer("max-queue", 256, 1, 1 << 20);
  ec.max_step_tokens = f.integer("max-step-tokens", 256, 1, 1 << 16);
  ec.prefix_caching = !f.has("no-prefix-cache");
  ec.slowdown = f.number("slowdown", 1.0, 1.0, 1000.0);

  backend_options bo;
  bo.device = f.str("device", "auto");
  bo.threads = f.integer("threads", 0, 0, 1024);
  bo.block_size = f.integer("block-size", 16, 1, 1024);
  bo.kv_blocks = f.integer("kv-blocks", 0, 0, 1 << 24);
  bo.kv_cache_mib = f.integer("kv-cache-mib", 1024, 1, 1 << 24);
  bo.max_batch = ec.max_batch;
  bo.cuda_graphs = f.on_off("cuda-graphs", true);

  api::server_options so;
  so.name = f.str("name", "engine");
  so.model_id = f.str("served-model-name", std::filesystem::path(model_path).stem().string().empty()
                                               ? std::string("model")
                                               : std::filesystem::path(model_path).stem().string());
  so.fault_error_rate = f.number("fault-error-rate", 0.0, 0.0, 1.0);
  so.fault_status = f.integer("fault-status", 503, 400, 599);
  so.fault_delay = f.duration("fault-delay", std::chrono::milliseconds(0));
  so.fault_stall_after = f.integer("fault-stall-after", -1, -1, 1 << 20);
  const auto load_delay = f.duration("fault-load-delay", std::chrono::milliseconds(0));
  const int io_threads = f.integer("io-threads", 1, 1, 64);
  if (auto lvl = parse_level(f.str("log-level", "info")))
    log::set_level(*lvl);
  else
    f.error("--log-level must be debug, info, warn or error");
  if (!f.errors().empty()) {
    for (const auto& e : f.errors()) print_error(e);
    print_usage();
    return 2;
  }

  // Validate the files before listening, so a bad file fails fast with one clear line.
  auto ck = model::checkpoint::open(model_path, err);
  if (!ck) {
    print_error(err);
    return 1;
  }
  auto tok = model::tokenizer::load(tok_path, ck->config().vocab_size, err);
  if (!tok) {
    print_error(err);
    return 1;
  }
  if (resolve_device(bo.device, err).empty()) {
    print_error(err);
    return 1;
  }

  asio::io_context ioc;
  runtime::engine eng(ec);
  api::http_server server(ioc, eng, so);
  if (auto lec = server.listen(listen_at)) {
    print_error(fmt::format("cannot listen on {}:{}: {}", listen_at.address().to_string(),
                            listen_at.port(), lec.message()));
    return 1;
  }
  const tcp::endpoint bound = server.local_endpoint();
  std::printf("spillway-engine %s listening on http://%s:%u\n", so.name.c_str(),
              bound.address().to_string().c_str(), bound.port());
  std::fflush(stdout);

  int exit_code = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const error_code& sec, int) {
    if (sec) return;
    log::info("engine {}: shutting down", so.name);
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    server.close();
    ioc.stop();
  });

  // Loading runs beside the listener so /health answers 503 until the model is ready.
  std::thread loader([&] {
    {
      std::unique_lock lock(mu);
      if (cv.wait_for(lock, load_delay, [&] { return stopping; })) return;
    }
    std::string lerr;
    auto be = make_backend(*ck, bo, lerr);
    if (!be) {
      print_error(lerr);
      eng.set_failed();
      asio::post(ioc, [&] {
        exit_code = 1;
        server.close();
        ioc.stop();
      });
      return;
    }
    const auto g = be->geometry();
    const auto& c = ck->config();
    log::info(
        "engine {}: ready on {} ({} layers, dim {}, vocab {}, context {}; KV cache {} blocks of "
        "{})",
        so.name, be->name(), c.n_layers, c.dim, c.vocab_size, c.seq_len, g.num_blocks,
        g.block_size);
    eng.start(std::move(be), *tok);
  });

  std::vector<std::thread> io;
  for (int i = 1; i < io_threads; ++i) io.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : io) t.join();
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  cv.notify_all();
  loader.join();
  eng.stop();
  return exit_code;
}

}  // namespace spillway::engine::cli
