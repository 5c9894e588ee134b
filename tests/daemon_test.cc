// SPDX-License-Identifier: Apache-2.0
//
// chatpro-broker --daemon: the command returns once the broker serves, the
// broker goes on in the background with its pid in the pid file, people chat
// through it, SIGTERM to that pid stops it cleanly and removes the pid file.
//
// The daemon is no child of the command that started it. So that it can
// never outlive a failing test, the test process makes itself the
// "subreaper" of its descendants (prctl PR_SET_CHILD_SUBREAPER): the daemon
// becomes the test's child when the command exits, the test can wait for its
// exit status, and a guard kills it if anything fails.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "tests/chat_fixture.h"

namespace chatpro::testing {
namespace {

using client::Message;
using client::Profile;
using client::SendResult;
using client::Target;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Makes this process the subreaper of its descendants while it lives, and on
// destruction kills and reaps every chatpro-broker that was adopted that way
// (a daemon: its process group is not its own pid, unlike the brokers the
// fixtures start).
class DaemonGuard {
 public:
  DaemonGuard() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~DaemonGuard() {
    for (auto [pid, running] : AdoptedBrokers()) {
      // A daemon that ended is only reaped (a zombie until then).
      if (running) std::fprintf(stderr, "killing the leftover daemon %d\n", static_cast<int>(pid));
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  DaemonGuard(const DaemonGuard&) = delete;
  DaemonGuard& operator=(const DaemonGuard&) = delete;

  // Waits for the adopted daemon `pid` to end; its exit code (or minus the
  // signal), or nullopt if it still runs after `timeout`.
  static std::optional<int> WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return -WTERMSIG(status);
      }
      if (r < 0) return -1000;  // not our child: the test cannot see how it ended
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

 private:
  // (pid, still running) of each adopted broker.
  static std::vector<std::pair<pid_t, bool>> AdoptedBrokers() {
    std::vector<std::pair<pid_t, bool>> out;
    const pid_t self = ::getpid();
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      // pid (comm) state ppid pgrp ...
      std::string stat = ReadWholeFile(entry.path().string() + "/stat");
      std::size_t close = stat.rfind(')');
      std::size_t open = stat.find('(');
      if (close == std::string::npos || open == std::string::npos) continue;
      std::string comm = stat.substr(open + 1, close - open - 1);
      int ppid = 0;
      int pgrp = 0;
      char state = 0;
      if (std::sscanf(stat.c_str() + close + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
      const pid_t pid = static_cast<pid_t>(std::stol(name));
      if (ppid == self && comm == "chatpro-broker" && pgrp != pid)
        out.emplace_back(pid, state != 'Z');
    }
    return out;
  }
};

std::optional<pid_t> ReadPid(const std::string& pid_file) {
  std::string text = ReadWholeFile(pid_file);
  if (text.empty() || text.back() != '\n') return std::nullopt;
  return static_cast<pid_t>(std::stol(text));
}

class DaemonMode : public BrokerTest {
 protected:
  // The daemon's command line: the fixture broker's, plus --daemon.
  std::vector<std::string> DaemonArgs(const std::string& pid_file) const {
    std::vector<std::string> argv{BrokerPath()};
    for (const auto& a : broker_->BaseArgs()) argv.push_back(a);
    argv.insert(argv.end(), {"--set", "log.target=file", "--daemon", "--pid-file", pid_file});
    return argv;
  }
};

TEST_F(DaemonMode, ReturnsOnceServingChatsAndStopsOnSigtermRemovingItsPidFile) {
  // The fixture's foreground broker made the store and enrolled root; the
  // daemon takes over the same data folder and port.
  root_.reset();
  ASSERT_EQ(broker_->Stop(), 0);
  DaemonGuard guard;
  const std::string pid_file = dir_->Sub("chatpro-broker.pid");

  RunResult started = RunProgram(DaemonArgs(pid_file), dir_->path());
  ASSERT_EQ(started.exit_code, 0) << "--daemon did not report a start:\n"
                                  << started.out << started.err;
  EXPECT_TRUE(Has(started.out, "listening on " + broker_->endpoint()))
      << "the start-up output reaches the command:\n"
      << started.out;
  std::optional<pid_t> pid = ReadPid(pid_file);
  ASSERT_TRUE(pid.has_value()) << "no pid in " << pid_file;
  ASSERT_EQ(::kill(*pid, 0), 0) << "the daemon does not run";

  // A second daemon with the same pid file refuses to start, naming it.
  RunResult second = RunProgram(DaemonArgs(pid_file), dir_->path());
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_TRUE(Has(second.err, "pid " + std::to_string(*pid))) << second.err;
  EXPECT_TRUE(Has(second.err, pid_file)) << second.err;
  ASSERT_EQ(ReadPid(pid_file), pid) << "the refused start must leave the pid file alone";

  {
    ASSERT_OK_AND_ASSIGN(root_, Connect(root_profile_, nullptr));
    ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
    ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
    ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
    auto inbox = std::make_shared<Inbox>();
    ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, inbox));
    auto sent = ana_client->Send(Target::User("ben"), MakeText("hello from the daemon"));
    ASSERT_OK_AND_ASSIGN(SendResult r, Await(sent));
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_TRUE(inbox->WaitFor(1));
    EXPECT_EQ(TextOf(inbox->messages()[0]), "hello from the daemon");
    root_.reset();
  }

  ASSERT_EQ(::kill(*pid, SIGTERM), 0);
  std::optional<int> code = DaemonGuard::WaitForExit(*pid, kWaitTimeout);
  ASSERT_TRUE(code.has_value()) << "the daemon did not stop within " << kWaitTimeout.count()
                                << " ms of SIGTERM";
  EXPECT_EQ(*code, 0) << "the daemon did not stop cleanly";
  EXPECT_FALSE(std::filesystem::exists(pid_file)) << "the pid file outlived the daemon";
  const std::string log = ReadWholeFile(broker_->data_dir() + "/chatpro-broker.log");
  EXPECT_TRUE(Has(log, "received SIGTERM")) << log;
  EXPECT_TRUE(Has(log, "stopped cleanly")) << log;

  // What the daemon stored is there for the next start.
  ASSERT_OK(broker_->Start());
  ASSERT_OK_AND_ASSIGN(root_, Connect(root_profile_, nullptr));
  ASSERT_OK_AND_ASSIGN(std::vector<client::UserInfo> users, root_->AdminListUsers());
  EXPECT_EQ(users.size(), 3u);
}

TEST_F(DaemonMode, ThatCannotOpenItsStoreMakesTheCommandFailWithTheReason) {
  // The fixture's broker still holds the store's lock.
  DaemonGuard guard;
  const std::string pid_file = dir_->Sub("chatpro-broker.pid");
  RunResult started = RunProgram(DaemonArgs(pid_file), dir_->path());
  EXPECT_EQ(started.exit_code, 1) << started.out << started.err;
  EXPECT_TRUE(Has(started.err, "cannot open the store")) << started.err;
  EXPECT_FALSE(std::filesystem::exists(pid_file))
      << "a daemon that did not start left its pid file";
}

TEST_F(DaemonMode, WithTheConsoleTargetLogsToSyslogAndSaysSo) {
  root_.reset();
  ASSERT_EQ(broker_->Stop(), 0);
  DaemonGuard guard;
  const std::string pid_file = dir_->Sub("chatpro-broker.pid");
  std::vector<std::string> argv = DaemonArgs(pid_file);
  argv.insert(argv.end(), {"--set", "log.target=console"});
  RunResult started = RunProgram(argv, dir_->path());
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  EXPECT_TRUE(Has(started.err, "logging to syslog")) << started.err;
  std::optional<pid_t> pid = ReadPid(pid_file);
  ASSERT_TRUE(pid.has_value());
  ASSERT_EQ(::kill(*pid, SIGTERM), 0);
  EXPECT_EQ(DaemonGuard::WaitForExit(*pid, kWaitTimeout), std::optional<int>(0));
  EXPECT_FALSE(std::filesystem::exists(pid_file));
}

}  // namespace
}  // namespace chatpro::testing
