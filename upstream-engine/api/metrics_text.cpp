#include "upstream-engine/api/metrics_text.hpp"

#include <fmt/format.h>

#include "common/prometheus.hpp"

namespace spillway::engine::api {

using prometheus::escape_label;
namespace {

class writer {
 public:
  explicit writer(std::string model) : model_(std::move(model)) {}

  void header(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  void sample(std::string_view name, double v, std::string_view extra = {}) {
    fmt::format_to(std::back_inserter(out_), "{}{{model_name=\"{}\"{}{}}} {}\n", name, model_,
                   extra.empty() ? "" : ",", extra, v);
  }
  void gauge(std::string_view name, std::string_view help, double v) {
    header(name, "gauge", help);
    sample(name, v);
  }
  void counter(std::string_view name, std::string_view help, double v) {
    header(name, "counter", help);
    sample(name, v);
  }
  void hist(std::string_view name, std::string_view help, const runtime::histogram& h) {
    header(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    for (size_t i = 0; i < runtime::histogram::bounds.size(); ++i)
      sample(bucket, static_cast<double>(h.cumulative(i)),
             fmt::format("le=\"{}\"", runtime::histogram::bounds[i]));
    sample(bucket, static_cast<double>(h.count()), "le=\"+Inf\"");
    sample(std::string(name) + "_sum", h.sum());
    sample(std::string(name) + "_count", static_cast<double>(h.count()));
  }
  std::string& out() { return out_; }

 private:
  std::string model_;
  std::string out_;
};

double get(const std::atomic<int64_t>& a) {
  return static_cast<double>(a.load(std::memory_order_relaxed));
}
double get(const std::atomic<uint64_t>& a) {
  return static_cast<double>(a.load(std::memory_order_relaxed));
}

}  // namespace

std::string render_metrics(const runtime::engine_metrics& m, const metrics_labels& l) {
  writer w(escape_label(l.model_name));
  w.gauge("vllm:num_requests_running", "Requests in the running batch.", get(m.running));
  w.gauge("vllm:num_requests_waiting", "Requests waiting to be scheduled.", get(m.waiting));
  const double total = get(m.kv_blocks_total);
  w.gauge("vllm:kv_cache_usage_perc", "KV-cache usage: 1 means every block is in use.",
          total > 0 ? get(m.kv_blocks_used) / total : 0.0);
  w.counter("vllm:prompt_tokens_total", "Prompt tokens of admitted requests.",
            get(m.prompt_tokens));
  w.counter("vllm:generation_tokens_total", "Generated tokens.", get(m.generation_tokens));
  w.counter("vllm:prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
            get(m.prefix_queries));
  w.counter("vllm:prefix_cache_hits_total", "Prompt tokens found in the prefix cache.",
            get(m.prefix_hits));
  w.counter("vllm:num_preemptions_total", "Sequences preempted for lack of KV blocks.",
            get(m.preemptions));
  w.header("vllm:request_success_total", "counter", "Finished requests by finish reason.");
  w.sample("vllm:request_success_total", get(m.finished_stop), "finished_reason=\"stop\"");
  w.sample("vllm:request_success_total", get(m.finished_length), "finished_reason=\"length\"");
  w.sample("vllm:request_success_total", get(m.finished_abort), "finished_reason=\"abort\"");
  w.hist("vllm:time_to_first_token_seconds", "Time from arrival to the first generated token.",
         m.ttft);
  w.hist("vllm:e2e_request_latency_seconds", "Time from arrival to the last token.", m.e2e);
  w.hist("vllm:request_queue_time_seconds", "Time from arrival to first scheduling.", m.queue_time);
  w.header("vllm:cache_config_info", "gauge", "KV-cache configuration.");
  w.sample("vllm:cache_config_info", 1,
           fmt::format("block_size=\"{}\",num_gpu_blocks=\"{}\"", l.block_size, l.num_blocks));

  w.gauge("spillway_engine_kv_blocks_used", "KV blocks referenced by sequences.",
          get(m.kv_blocks_used));
  w.gauge("spillway_engine_kv_blocks_total", "KV blocks in the cache.", total);
  w.gauge("spillway_engine_kv_blocks_cached", "KV blocks published in the prefix cache.",
          get(m.kv_blocks_cached));
  w.header("spillway_engine_requests_rejected_total", "counter",
           "Requests refused before queueing.");
  w.sample("spillway_engine_requests_rejected_total", get(m.rejected_queue_full),
           "reason=\"queue_full\"");
  w.sample("spillway_engine_requests_rejected_total", get(m.rejected_loading),
           "reason=\"loading\"");
  w.sample("spillway_engine_requests_rejected_total", get(m.faults_injected), "reason=\"fault\"");
  w.counter("spillway_engine_requests_errored_total", "Requests ended by a backend error.",
            get(m.finished_error));
  w.counter("spillway_engine_steps_total", "Forward steps run.", get(m.steps));
  w.counter("spillway_engine_step_tokens_total", "Tokens processed by forward steps.",
            get(m.step_tokens));
  w.header("spillway_engine_info", "gauge", "Engine identity and limits.");
  w.sample(
      "spillway_engine_info", 1,
      fmt::format("name=\"{}\",device=\"{}\",max_batch=\"{}\",max_queue=\"{}\"",
                  escape_label(l.engine_name), escape_label(l.device), l.max_batch, l.max_queue));
  return std::move(w.out());
}

}  // namespace spillway::engine::api
