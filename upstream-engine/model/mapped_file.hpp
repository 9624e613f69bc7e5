// Read-only memory mapping of a whole file (model weights, tokenizer). Move-only owner; the
// mapping lives as long as the object. Startup code: errors come back as a message.
#pragma once

#include <cstddef>
#include <string>

namespace spillway::engine::model {

class mapped_file {
 public:
  mapped_file() = default;
  mapped_file(mapped_file&& other) noexcept;
  mapped_file& operator=(mapped_file&& other) noexcept;
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  ~mapped_file();

  /// Maps `path`; on failure returns false and sets `error` to a one-line reason.
  bool open(const std::string& path, std::string& error);

  const unsigned char* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }

 private:
  void close() noexcept;

  const unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace spillway::engine::model
