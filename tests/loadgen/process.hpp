// Runs a child process for the integration tests: argv, a time limit, stdout and stderr
// captured through files in a private temporary directory.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace spillway::loadgen::test {

struct process_result {
  int exit_code = -1;  // -1 when killed or not started
  bool timed_out = false;
  std::string out;
  std::string err;
};

process_result run_process(const std::vector<std::string>& argv, std::chrono::seconds limit);

/// A fresh directory under $TMPDIR (or /tmp), removed with its files on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);

}  // namespace spillway::loadgen::test
