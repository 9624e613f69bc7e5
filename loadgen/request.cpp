#include "loadgen/request.hpp"

namespace spillway::loadgen {

std::string_view to_string(error_class c) {
  switch (c) {
    case error_class::none:
      return "none";
    case error_class::connect:
      return "connect";
    case error_class::tls:
      return "tls";
    case error_class::timeout:
      return "timeout";
    case error_class::reset:
      return "reset";
    case error_class::http_status:
      return "http_status";
    case error_class::stream_cut:
      return "stream_cut";
    case error_class::bad_response:
      return "bad_response";
    case error_class::cancelled:
      return "cancelled";
    case error_class::count_:
      break;
  }
  return "unknown";
}

void request_ctx::reset_response() {
  sent = first_byte = first_token = last_token = done = -1;
  status = 0;
  error = error_class::none;
  bytes = 0;
  body_chunks = 0;
  tokens = 0;
  usage_completion = usage_prompt = -1;
  event_stream = false;
  saw_done = false;
  cache_status.clear();
  engine.clear();
  body_text.clear();
  itl.clear();
  sse = sse_parser{};
  stream_id = -1;
  body_offset = 0;
  read_seq = 0;
}

void request_list::push_back(request_ctx* r) noexcept {
  r->next = nullptr;
  r->prev = tail_;
  if (tail_) {
    tail_->next = r;
  } else {
    head_ = r;
  }
  tail_ = r;
  ++size_;
}

void request_list::remove(request_ctx* r) noexcept {
  if (r->prev) {
    r->prev->next = r->next;
  } else {
    head_ = r->next;
  }
  if (r->next) {
    r->next->prev = r->prev;
  } else {
    tail_ = r->prev;
  }
  r->prev = r->next = nullptr;
  --size_;
}

request_ctx* request_list::pop_front() noexcept {
  request_ctx* r = head_;
  if (r) remove(r);
  return r;
}

}  // namespace spillway::loadgen
