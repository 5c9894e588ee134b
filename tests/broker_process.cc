// SPDX-License-Identifier: Apache-2.0
#include "tests/broker_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#ifndef CHATPRO_BROKER_PATH
#error "CHATPRO_BROKER_PATH must name the chatpro-broker binary"
#endif
#ifndef CHATPRO_CLI_PATH
#define CHATPRO_CLI_PATH ""
#endif

namespace chatpro::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::milliseconds kPollInterval{10};
constexpr int kPortAttempts = 5;

int OpenOutput(const std::string& path) {
  if (path.empty()) return ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

ExitCode Decode(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return -WTERMSIG(wait_status);
  return -1000;
}

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace

std::string BrokerPath() { return CHATPRO_BROKER_PATH; }
std::string CliPath() { return CHATPRO_CLI_PATH; }

// ------------------------------------------------------------------ files

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                        "/chatpro-it-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a temporary folder from %s: %s\n", pattern.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (const char* keep = std::getenv("CHATPRO_KEEP_TEST_DIRS"); keep != nullptr && *keep != '\0') {
    std::fprintf(stderr, "kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

int PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Status WriteWholeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

std::string DescribeExit(ExitCode code) {
  if (code >= 0) return "exit code " + std::to_string(code);
  return "signal " + std::to_string(-code) + " (" + strsignal(-code) + ")";
}

std::string LastLine(const std::string& text) {
  std::size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos) return {};
  std::size_t begin = text.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return text.substr(begin, end - begin + 1);
}

// ------------------------------------------------------------------ ChildProcess

ChildProcess::~ChildProcess() {
  if (running()) Kill();
}

Status ChildProcess::Spawn(const std::vector<std::string>& argv, const std::string& stdout_path,
                           const std::string& stderr_path,
                           const std::vector<std::string>& environment) {
  if (running()) return Status::FailedPrecondition("the child is running already");
  if (argv.empty()) return Status::InvalidArgument("no program to run");
  // Everything the child needs is prepared before fork(): after it, in a
  // process with threads, only async-signal-safe calls are allowed.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (const auto& e : environment) env.push_back(const_cast<char*>(e.c_str()));
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view var(*e);
    std::string_view name = var.substr(0, var.find('='));
    bool replaced = false;
    for (const auto& mine : environment) {
      if (std::string_view(mine).substr(0, mine.find('=')) == name) replaced = true;
    }
    if (!replaced) env.push_back(*e);
  }
  env.push_back(nullptr);
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = OpenOutput(stdout_path);
  int err = OpenOutput(stderr_path);
  if (in < 0 || out < 0 || err < 0) {
    Status st = Status::IoError("cannot open the output files " + stdout_path + ", " + stderr_path +
                                ": " + std::strerror(errno));
    for (int fd : {in, out, err}) {
      if (fd >= 0) ::close(fd);
    }
    return st;
  }
  const pid_t parent = ::getpid();
  long max_fd = ::sysconf(_SC_OPEN_MAX);
  if (max_fd < 0 || max_fd > 65536) max_fd = 65536;

  pid_t pid = ::fork();
  if (pid < 0) {
    Status st = Status::Internal(std::string("fork failed: ") + std::strerror(errno));
    ::close(in);
    ::close(out);
    ::close(err);
    return st;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
#ifdef __linux__
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
    {
      for (long fd = 3; fd < max_fd; ++fd) ::close(static_cast<int>(fd));
    }
    ::execve(args[0], args.data(), env.data());
    const char msg[] = "exec failed\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so that no signal can race the child's own call
  ::close(in);
  ::close(out);
  ::close(err);
  pid_ = pid;
  return Status::Ok();
}

std::optional<ExitCode> ChildProcess::Poll() {
  pid_t pid = pid_;
  if (pid <= 0) return std::nullopt;
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == 0) return std::nullopt;
  pid_ = -1;
  if (r < 0) return -1000;  // not our child any more; nothing to reap
  return Decode(status);
}

std::optional<ExitCode> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (auto code = Poll()) return code;
    if (!running() || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
}

ExitCode ChildProcess::Terminate(std::chrono::milliseconds timeout) {
  if (!running()) return -1000;
  SignalNow(SIGTERM);
  if (auto code = Wait(timeout)) return *code;
  std::fprintf(stderr, "pid %d did not stop within %lld ms of SIGTERM; killing it\n",
               static_cast<int>(pid_), static_cast<long long>(timeout.count()));
  Kill();
  return -SIGKILL;
}

ExitCode ChildProcess::Kill() {
  pid_t pid = pid_;
  if (pid <= 0) return -1000;
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  pid_ = -1;
  return r < 0 ? -1000 : Decode(status);
}

void ChildProcess::SignalNow(int sig) const {
  pid_t pid = pid_;
  if (pid <= 0) return;
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);
}

RunResult RunProgram(const std::vector<std::string>& argv, const std::string& scratch_dir,
                     std::chrono::milliseconds timeout) {
  static std::atomic<unsigned> counter{0};
  std::string base = scratch_dir + "/run-" + std::to_string(counter++);
  std::string out_path = base + ".out";
  std::string err_path = base + ".err";
  RunResult result;
  ChildProcess child;
  Status st = child.Spawn(argv, out_path, err_path);
  if (!st.ok()) {
    result.err = st.ToString();
    return result;
  }
  if (auto code = child.Wait(timeout)) {
    result.exit_code = *code;
  } else {
    result.timed_out = true;
    result.exit_code = child.Kill();
  }
  result.out = ReadWholeFile(out_path);
  result.err = ReadWholeFile(err_path);
  std::error_code ec;
  fs::remove(out_path, ec);
  fs::remove(err_path, ec);
  return result;
}

// ------------------------------------------------------------------ BrokerProcess

BrokerProcess::BrokerProcess(std::string work_dir, BrokerProcessOptions options)
    : work_dir_(std::move(work_dir)),
      options_(std::move(options)),
      data_dir_(work_dir_ + "/data"),
      log_path_(work_dir_ + "/broker.log") {}

std::string BrokerProcess::endpoint() const {
  return "tcp://127.0.0.1:" + std::to_string(port_);
}

std::vector<std::string> BrokerProcess::BaseArgs() const {
  // Metrics and the console off unless a test turns them on (extra_args come
  // later and win): brokers of parallel tests must not share default ports.
  return {"--data-dir", data_dir_, "--listen", endpoint(), "--set", "metrics.listen=",
          "--set", "console.enabled=false", "--set", "webchat.enabled=false"};
}

Status BrokerProcess::Init() {
  Status last;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    port_ = PickFreePort();
    if (port_ == 0) return Status::Unavailable("cannot find a free loopback port");
    CHATPRO_RETURN_IF_ERROR(InitAdmin());
    bool in_use = false;
    last = StartOnce(&in_use);
    if (last.ok() || !in_use) return last;
  }
  return last;
}

Status BrokerProcess::InitAdmin() {
  std::vector<std::string> argv{BrokerPath()};
  for (auto& a : BaseArgs()) argv.push_back(a);
  for (const auto& a : options_.extra_args) argv.push_back(a);
  argv.push_back("--init-admin");
  argv.push_back(options_.admin);
  RunResult r = RunProgram(argv, work_dir_);
  {
    std::ofstream log(log_path_, std::ios::app);
    log << "$ " << Join(argv) << "\n" << r.out << r.err << "(" << DescribeExit(r.exit_code)
        << ")\n";
  }
  if (r.exit_code != 0) {
    return Status::Internal("chatpro-broker --init-admin failed (" + DescribeExit(r.exit_code) +
                            "):\n" + r.out + r.err);
  }
  admin_invite_ = LastLine(r.out);
  if (admin_invite_.rfind("chatpro://", 0) != 0) {
    return Status::Internal("chatpro-broker --init-admin did not end with an invite:\n" + r.out);
  }
  return Status::Ok();
}

Status BrokerProcess::Start() {
  bool in_use = false;
  return StartOnce(&in_use);
}

Status BrokerProcess::StartOnce(bool* port_in_use) {
  *port_in_use = false;
  if (running()) return Status::FailedPrecondition("the broker is running already");
  std::vector<std::string> argv{BrokerPath()};
  for (auto& a : BaseArgs()) argv.push_back(a);
  for (const auto& a : options_.extra_args) argv.push_back(a);
  std::size_t offset = 0;
  {
    std::ofstream log(log_path_, std::ios::app);
    log << "$ " << Join(argv) << "\n";
  }
  {
    std::error_code ec;
    offset = static_cast<std::size_t>(fs::file_size(log_path_, ec));
  }
  CHATPRO_RETURN_IF_ERROR(child_.Spawn(argv, log_path_, log_path_, options_.environment));
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  while (true) {
    std::string log = ReadWholeFile(log_path_);
    std::string since = log.size() > offset ? log.substr(offset) : std::string();
    if (since.find("listening on") != std::string::npos) return Status::Ok();
    if (auto code = child_.Poll()) {
      since = ReadWholeFile(log_path_).substr(std::min(offset, log.size()));
      *port_in_use = since.find("in use") != std::string::npos;
      return Status::Unavailable("chatpro-broker ended (" + DescribeExit(*code) +
                                 ") before listening:\n" + since);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      child_.Kill();
      return Status::Unavailable("chatpro-broker did not print \"listening on\" within " +
                                 std::to_string(kWaitTimeout.count()) + " ms:\n" + since);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

ExitCode BrokerProcess::Stop() {
  if (!running()) return -1000;
  ExitCode code = child_.Terminate();
  std::ofstream log(log_path_, std::ios::app);
  log << "(chatpro-broker stopped: " << DescribeExit(code) << ")\n";
  return code;
}

void BrokerProcess::Kill() {
  ExitCode code = child_.Kill();
  std::ofstream log(log_path_, std::ios::app);
  log << "(chatpro-broker killed: " << DescribeExit(code) << ")\n";
}

Status BrokerProcess::Restart() {
  ExitCode code = Stop();
  if (code != 0) {
    return Status::FailedPrecondition("chatpro-broker did not stop cleanly: " + DescribeExit(code));
  }
  return Start();
}

}  // namespace chatpro::testing
