#include "loadgen/request_factory.hpp"

#include <algorithm>

#include "loadgen/http1_parser.hpp"
#include "loadgen/openai.hpp"

namespace spillway::loadgen {

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
}  // namespace

request_factory::request_factory(const options& o, const url& target,
                                 std::optional<prompt_source> prompts)
    : opts_(o), target_(target), prompts_(std::move(prompts)) {
  bool has_host = false, has_type = false, has_agent = false;
  std::string extra;
  for (const auto& [name, value] : o.headers) {
    has_host |= iequals(name, "host");
    has_type |= iequals(name, "content-type");
    has_agent |= iequals(name, "user-agent");
    extra += name + ": " + value + "\r\n";
    if (!iequals(name, "host") && !iequals(name, "connection"))
      h2_headers_.emplace_back(lower(name), value);
  }
  fixed_head_ = o.method + " " + target.target + " HTTP/1.1\r\n";
  if (!has_host) fixed_head_ += "Host: " + target.authority() + "\r\n";
  if (!has_agent) {
    fixed_head_ += "User-Agent: spillway-loadgen\r\n";
    h2_headers_.emplace_back("user-agent", "spillway-loadgen");
  }
  if (o.openai && !has_type) {
    fixed_head_ += "Content-Type: application/json\r\n";
    h2_headers_.emplace_back("content-type", "application/json");
  }
  if (o.openai && o.stream) {
    fixed_head_ += "Accept: text/event-stream\r\n";
    h2_headers_.emplace_back("accept", "text/event-stream");
  }
  fixed_head_ += extra;
  session_header_lower_ = lower(o.session_header);
  if (!o.openai && o.sessions == 0) static_wire_ = head(o.body.size(), {}) + o.body;
}

std::string request_factory::head(size_t content_length, const std::string& session) const {
  std::string h = fixed_head_;
  if (!session.empty()) h += opts_.session_header + ": " + session + "\r\n";
  if (content_length > 0 || opts_.method == "POST" || opts_.method == "PUT")
    h += "Content-Length: " + std::to_string(content_length) + "\r\n";
  h += "\r\n";
  return h;
}

void request_factory::fill(request_ctx& r) const {
  r.head_request = opts_.method == "HEAD";
  r.session.clear();
  r.session_index = UINT32_MAX;
  if (opts_.sessions > 0) {
    r.session_index = static_cast<uint32_t>(mix64(opts_.seed ^ 0x5e5510, r.index) % opts_.sessions);
    r.session = "session-" + std::to_string(r.session_index);
  }
  if (!static_wire_.empty()) {
    r.wire = static_wire_;
    r.body = std::string_view(static_wire_).substr(static_wire_.size() - opts_.body.size());
    return;
  }
  std::string body =
      opts_.openai ? build_openai_body(opts_, prompts_->get(r.index, r.session_index)) : opts_.body;
  r.owned_wire = head(body.size(), r.session);
  const size_t head_size = r.owned_wire.size();
  r.owned_wire += body;
  r.wire = r.owned_wire;
  r.body = std::string_view(r.owned_wire).substr(head_size);
}

int64_t request_factory::cancel_delay(uint64_t index) const noexcept {
  if (opts_.cancel_rate <= 0) return -1;
  const uint64_t h = mix64(opts_.seed ^ 0xca9ce1, index);
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
  if (u >= opts_.cancel_rate) return -1;
  const double v = static_cast<double>(mix64(h, 1) >> 11) * 0x1.0p-53;
  return static_cast<int64_t>(v * static_cast<double>(opts_.cancel_after.count()));
}

}  // namespace spillway::loadgen
