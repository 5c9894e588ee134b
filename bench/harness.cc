// SPDX-License-Identifier: Apache-2.0
#include "bench/harness.h"

#include <iterator>

#include <sys/resource.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

namespace chatpro::bench {
namespace {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a program to completion; returns its stdout, or an error with its output.
Result<std::string> RunToCompletion(const std::vector<std::string>& argv) {
  int out[2];
  if (::pipe(out) != 0) return Status::IoError("pipe failed");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::close(out[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::_Exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Internal(argv[0] + " failed: " + text);
  }
  return text;
}

std::string LastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace

double ProcessCpuUs(pid_t pid) {
  if (pid == 0) {
    struct rusage ru;
    if (::getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
    return us(ru.ru_utime) + us(ru.ru_stime);
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which may hold spaces: state is field 3,
  // utime and stime are fields 14 and 15.
  std::size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
  }
  return ticks * 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/chatpro-bench-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
}

TempDir::~TempDir() {
  if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
}

Result<std::unique_ptr<BrokerProcess>> BrokerProcess::Start(const BrokerSettings& settings,
                                                            const std::string& work_dir) {
  std::unique_ptr<BrokerProcess> b(new BrokerProcess());
  b->settings_ = settings;
  b->work_dir_ = work_dir;
  b->data_dir_ = work_dir + "/data";
  b->log_path_ = work_dir + "/broker.log";
  b->admin_profile_ = work_dir + "/admin";
  int port = FreePort();
  if (port == 0) return Status::Unavailable("no free loopback port");
  b->listen_ = "tcp://127.0.0.1:" + std::to_string(port);
  b->endpoint_ = b->listen_;
  Result<std::string> init = RunToCompletion({settings.broker_path, "--data-dir", b->data_dir_,
                                              "--listen", b->listen_, "--init-admin", "admin"});
  if (!init.ok()) return init.status();
  CHATPRO_RETURN_IF_ERROR(b->Launch());
  client::EnrollOptions eo;
  eo.device_name = "bench-admin";
  Result<client::Profile> admin = client::Enroll(b->admin_profile_, LastLine(*init), eo);
  if (!admin.ok()) return admin.status().WithContext("enrolling the administrator");
  return b;
}

Result<std::unique_ptr<BrokerProcess>> BrokerProcess::Attach(const std::string& admin_profile,
                                                             pid_t pid) {
  CHATPRO_ASSIGN_OR_RETURN(client::Profile p, client::Profile::Load(admin_profile));
  std::unique_ptr<BrokerProcess> b(new BrokerProcess());
  b->attached_ = true;
  b->admin_profile_ = admin_profile;
  b->endpoint_ = p.endpoint;
  b->pid_ = pid;
  return b;
}

Status BrokerProcess::Launch() {
  // The log is appended to across restarts: look only at what this start adds.
  const size_t log_offset = ReadFile(log_path_).size();
  pid_t pid = ::fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (settings_.pin_cpu >= 0) PinToCpu(settings_.pin_cpu);
    // The benchmark measures capacity: its brokers run without the per-device
    // rate limits and per-address connection limits that protect a real one.
    std::vector<std::string> argv = {settings_.broker_path, "--data-dir", data_dir_, "--listen",
                                     listen_, "--durability", settings_.durability,
                                     "--log-level", "info",
                                     "--set", "metrics.listen=",
                                     "--set", "rate.messages_per_second=0",
                                     "--set", "rate.bytes_per_second=0",
                                     "--set", "limits.connections_per_address=0",
                                     "--set", "limits.auth_failures_per_minute=0",
                                     "--set", "console.enabled=false", "--set", "webchat.enabled=false"};
    argv.insert(argv.end(), settings_.extra_args.begin(), settings_.extra_args.end());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::_Exit(127);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = ReadFile(log_path_);
    if (log.size() > log_offset && log.find("listening on ", log_offset) != std::string::npos) {
      return Status::Ok();
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Internal("the broker exited at start: " + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Unavailable("the broker did not start within 120 s: " + LogTail());
}

BrokerProcess::~BrokerProcess() { Stop(); }

bool BrokerProcess::Stop() {
  if (attached_ || pid_ <= 0) return true;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 3000; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return false;
}

Status BrokerProcess::Restart(double* elapsed_s) {
  if (attached_) return Status::FailedPrecondition("a broker the benchmark did not start is not restarted");
  Stop();
  auto start = std::chrono::steady_clock::now();
  Status st = Launch();
  *elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return st;
}

std::uint64_t BrokerProcess::ResidentBytes() const {
  if (pid_ <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
    }
  }
  return 0;
}

std::string BrokerProcess::ServedLine() const {
  if (attached_) return "broker: (attached; see its own log)";
  std::string log = ReadFile(log_path_);
  size_t pos = log.rfind("served ");
  if (pos == std::string::npos) return "(the broker did not report its batching)";
  size_t end = log.find('\n', pos);
  return "broker: " + log.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

std::string BrokerProcess::LogTail() const {
  std::string log = ReadFile(log_path_);
  return log.size() > 2000 ? log.substr(log.size() - 2000) : log;
}

Result<std::vector<std::string>> Population::AddUsers(const std::string& prefix, int count) {
  client::ClientOptions options;
  options.receive = false;
  CHATPRO_ASSIGN_OR_RETURN(std::unique_ptr<client::Client> admin, Connect(admin_profile_, options));
  std::vector<std::string> profiles;
  for (int i = 0; i < count; ++i) {
    std::string login = prefix + std::to_string(i);
    CHATPRO_ASSIGN_OR_RETURN(client::InviteInfo invite,
                             admin->AdminAddUser(login, login, client::Role::kUser));
    std::string dir = work_dir_ + "/" + login;
    client::EnrollOptions eo;
    eo.device_name = "bench";
    Result<client::Profile> p = client::Enroll(dir, invite.invite, eo);
    if (!p.ok()) return p.status().WithContext("enrolling " + login);
    profiles.push_back(dir);
  }
  return profiles;
}

Result<std::unique_ptr<client::Client>> Population::Connect(const std::string& profile,
                                                            client::ClientOptions options) {
  CHATPRO_ASSIGN_OR_RETURN(client::Profile p, client::Profile::Load(profile));
  return client::Client::Connect(p, std::move(options));
}

}  // namespace chatpro::bench
