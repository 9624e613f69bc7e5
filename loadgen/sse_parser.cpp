#include "loadgen/sse_parser.hpp"

namespace spillway::loadgen {

void sse_parser::process_line(std::string_view line) {
  if (line.front() == ':') return;  // comment
  const size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    name_.assign(value);
  }
}

}  // namespace spillway::loadgen
