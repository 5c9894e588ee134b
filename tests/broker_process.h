// SPDX-License-Identifier: Apache-2.0
//
// Child processes for the integration tests: the real `chatpro-broker` and
// the `chatpro` command-line client, started with fork/exec on loopback ports
// and temporary folders chosen at run time.
//
// Every child runs in its own process group and is killed (SIGKILL) when its
// owner is destroyed, so a failed assertion never leaves a process behind; on
// Linux a child is also killed if the test process dies (PR_SET_PDEATHSIG).
// Every wait is a bounded poll: a bug makes a test fail, never hang.
//
// Thread-safety: a ChildProcess or BrokerProcess is used by one thread (the
// test's), except SignalNow(), which may be called from any thread (e.g. from
// a client callback, to kill the broker at an exact moment).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "broker/base/result.h"

namespace chatpro::testing {

// Generous bound for everything the tests wait for.
constexpr std::chrono::milliseconds kWaitTimeout{20000};

// Paths of the programs under test (compile definitions from CMake).
std::string BrokerPath();
std::string CliPath();  // empty if the chatpro CLI is not part of the build

// A folder under $TMPDIR (or /tmp) removed with everything in it on
// destruction, unless $CHATPRO_KEEP_TEST_DIRS is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A loopback TCP port that was free a moment ago (bound to port 0, read,
// closed). Another process may take it before we use it; callers retry.
int PickFreePort();

std::string ReadWholeFile(const std::string& path);
Status WriteWholeFile(const std::string& path, const std::string& bytes);

// How a child ended: exit code >= 0, or minus the signal that killed it.
using ExitCode = int;
std::string DescribeExit(ExitCode code);

// One child process in its own process group.
class ChildProcess {
 public:
  ChildProcess() = default;
  // Kills the process group and reaps the child if it still runs.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (a path) with stdout and stderr appended to the given
  // files ("" = /dev/null) and stdin from /dev/null, in this process's
  // environment plus `environment` ("NAME=VALUE" each; these win).
  // REQUIRES: not running.
  Status Spawn(const std::vector<std::string>& argv, const std::string& stdout_path,
               const std::string& stderr_path, const std::vector<std::string>& environment = {});

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Reaps the child if it has ended; nullopt while it runs.
  std::optional<ExitCode> Poll();
  // Waits up to `timeout` for the child to end; nullopt if it did not.
  std::optional<ExitCode> Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL after `timeout`. Returns how it ended.
  ExitCode Terminate(std::chrono::milliseconds timeout = kWaitTimeout);
  // SIGKILL to the whole group, then reap. Returns how it ended.
  ExitCode Kill();
  // Sends `sig` to the process group without waiting. Safe from any thread
  // while the owner has not reaped the child.
  void SignalNow(int sig) const;

 private:
  std::atomic<pid_t> pid_{-1};
};

struct RunResult {
  ExitCode exit_code = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs a program to completion (killed after `timeout`), capturing stdout and
// stderr through files in `scratch_dir`.
RunResult RunProgram(const std::vector<std::string>& argv, const std::string& scratch_dir,
                     std::chrono::milliseconds timeout = kWaitTimeout);

// The last non-empty line of `text`, without its line break.
std::string LastLine(const std::string& text);

struct BrokerProcessOptions {
  // The administrator created by --init-admin.
  std::string admin = "root";
  // Passed to every start after --data-dir and --listen (e.g. "--set", "k=v").
  std::vector<std::string> extra_args;
  // Added to the environment of the running broker (not of --init-admin),
  // "NAME=VALUE" each, e.g. "NOTIFY_SOCKET=/tmp/x/notify".
  std::vector<std::string> environment;
};

// A real chatpro-broker on 127.0.0.1:PORT with its data directory, log file
// (stdout and stderr of every start, appended) and the administrator's
// one-time invite.
class BrokerProcess {
 public:
  BrokerProcess(std::string work_dir, BrokerProcessOptions options = {});
  ~BrokerProcess() = default;  // the ChildProcess kills a broker still running
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Picks a port, runs `--init-admin` (its last stdout line is the invite)
  // and starts the broker. If the port was taken meanwhile, tries another
  // one (and takes a new invite for it). On failure the status says why and
  // holds the broker's output.
  Status Init();

  // Starts the broker on the same port and data directory and waits until it
  // prints "listening on". On failure returns Unavailable with the log.
  Status Start();
  // SIGTERM and wait (SIGKILL after the timeout). Returns how it ended; 0 is
  // a clean stop.
  ExitCode Stop();
  // SIGKILL and reap: a crash.
  void Kill();
  // Stop() then Start(); fails if the stop was not clean.
  Status Restart();
  // SIGKILL without reaping; for use from another thread. Kill() reaps later.
  void KillNow() const { child_.SignalNow(SIGKILL); }
  // Sends `sig` (e.g. SIGHUP) without waiting.
  void SignalNow(int sig) const { child_.SignalNow(sig); }

  bool running() const { return child_.running(); }
  // The running broker's process id (-1 when not running), e.g. to read its
  // memory and open files from /proc.
  pid_t pid() const { return child_.pid(); }
  const std::string& admin_invite() const { return admin_invite_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }
  std::string endpoint() const;
  int port() const { return port_; }
  std::string Log() const { return ReadWholeFile(log_path_); }
  // --data-dir DIR --listen tcp://127.0.0.1:PORT --set metrics.listen= (off)
  // --set console.enabled=false --set webchat.enabled=false
  std::vector<std::string> BaseArgs() const;

 private:
  Status InitAdmin();
  // Starts and waits; *port_in_use tells whether it failed because the port
  // was taken.
  Status StartOnce(bool* port_in_use);

  const std::string work_dir_;
  const BrokerProcessOptions options_;
  const std::string data_dir_;
  const std::string log_path_;
  int port_ = 0;
  std::string admin_invite_;
  ChildProcess child_;
};

}  // namespace chatpro::testing
