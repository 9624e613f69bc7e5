// The spillway-engine binary: make-model, a clear one-line failure on a bad model file, flag
// errors, and a served engine that answers 503 while loading, then 200, and exits 0 on SIGTERM.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/engine/http_client.hpp"
#include "tests/engine/test_model.hpp"

extern char** environ;

namespace spillway::engine::test {
namespace {

using namespace std::chrono_literals;

#ifdef SPILLWAY_ENGINE_BINARY

/// A child process with its stdout and stderr on pipes.
class child {
 public:
  explicit child(std::vector<std::string> args) {
    args.insert(args.begin(), SPILLWAY_ENGINE_BINARY);
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, err[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  ~child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
    if (out_ >= 0) ::close(out_);
    if (err_ >= 0) ::close(err_);
  }

  /// Reads stdout until a full line arrives (bounded).
  std::string stdout_line(std::chrono::milliseconds limit = 20s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (out_buf_.find('\n') == std::string::npos && std::chrono::steady_clock::now() < end) {
      if (!read_some(out_, out_buf_, 100ms)) continue;
    }
    const size_t nl = out_buf_.find('\n');
    if (nl == std::string::npos) return {};
    std::string line = out_buf_.substr(0, nl);
    out_buf_.erase(0, nl + 1);
    return line;
  }
  /// Waits for the exit (bounded); returns the exit status or -1.
  int wait(std::chrono::milliseconds limit = 30s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      read_some(err_, err_buf_, 10ms);
      int st = 0;
      const pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        while (read_some(err_, err_buf_, 10ms)) {
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
    }
    return -1;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  const std::string& stderr_text() const { return err_buf_; }
  bool started() const { return pid_ > 0; }

 private:
  static bool read_some(int fd, std::string& buf, std::chrono::milliseconds limit) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char tmp[4096];
    const ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int out_ = -1, err_ = -1;
  std::string out_buf_, err_buf_;
};

TEST(Cli, BadModelFileFailsWithOneClearLine) {
  const model_files& m = test_model("tiny");
  const std::string bad = m.dir + "/truncated.bin";
  std::filesystem::copy_file(m.model_path, bad, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(bad, std::filesystem::file_size(bad) - 8);
  child c({"--model", bad, "--tokenizer", m.tokenizer_path, "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(c.started());
  EXPECT_EQ(c.wait(), 1);
  const std::string& err = c.stderr_text();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(err.rfind("spillway-engine: error: ", 0), 0u) << err;
  EXPECT_NE(err.find("size mismatch"), std::string::npos) << err;
}

TEST(Cli, FlagErrorsAreListed) {
  child c({"--model", "x.bin", "--bogus", "1", "--max-batch", "zero", "--cuda-graphs", "yes"});
  EXPECT_EQ(c.wait(), 2);
  EXPECT_NE(c.stderr_text().find("unknown flag --bogus"), std::string::npos) << c.stderr_text();
  EXPECT_NE(c.stderr_text().find("--max-batch"), std::string::npos) << c.stderr_text();
  EXPECT_NE(c.stderr_text().find("--cuda-graphs must be on or off"), std::string::npos)
      << c.stderr_text();
  child mm({"make-model", "--preset", "giant"});
  EXPECT_EQ(mm.wait(), 2);
  EXPECT_NE(mm.stderr_text().find("--preset"), std::string::npos);
}

TEST(Cli, MakeModelThenServeLoadingReadyAndSigterm) {
  const std::string dir = temp_dir("cli");
  {
    child mm({"make-model", "--preset", "tiny", "--seed", "3", "--out", dir + "/m.bin"});
    ASSERT_EQ(mm.wait(), 0) << mm.stderr_text();
  }
  ASSERT_TRUE(std::filesystem::exists(dir + "/tokenizer.bin"));
  child c({"--model", dir + "/m.bin", "--listen", "127.0.0.1:0", "--name", "cli-engine",
           "--fault-load-delay", "2s", "--threads", "1", "--cuda-graphs", "off"});
  const std::string line = c.stdout_line();
  const size_t colon = line.rfind(':');
  ASSERT_NE(colon, std::string::npos) << line;
  const int port = std::stoi(line.substr(colon + 1));
  {
    http_client h(port);
    auto r = h.request("GET", "/health");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->header("x-engine-name"), "cli-engine");
  }
  bool ready = false;
  for (int i = 0; i < 200 && !ready; ++i) {
    http_client h(port);
    auto r = h.request("GET", "/health");
    ready = r && r->status == 200;
    if (!ready) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(ready);
  http_client h(port);
  auto r = h.request("POST", "/v1/completions",
                     R"({"prompt": "the cat", "max_tokens": 3, "temperature": 0})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(), 0) << c.stderr_text();
  std::filesystem::remove_all(dir);
}

#endif

}  // namespace
}  // namespace spillway::engine::test
