// SPDX-License-Identifier: Apache-2.0
//
// Unix process control for chatpro-broker: the stop and hang-up signals, and
// the daemon mode (--daemon, --pid-file).
//
// Signals: main() blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 before any
// thread starts, so that every thread inherits the mask, and one thread waits
// for them with WaitForStopSignal(): SIGTERM and SIGINT stop the broker,
// SIGHUP reopens the log file (logrotate), SIGUSR1 ends the wait from inside.
//
// Daemon: Daemon::Start() detaches the way a classic Unix daemon does (fork,
// setsid, fork again, so that the daemon is no session leader and can never
// get a controlling terminal). The process that was started stays until the
// daemon serves: it relays the daemon's start-up output (errors, the first
// administrator's invite, "listening on ...") to its own stdout and stderr
// through pipes, and exits 0 once the daemon calls Ready(), or 1 if the
// daemon ends first (a store that cannot be opened, a port in use). Ready()
// then points the daemon's stdin, stdout and stderr at /dev/null. The daemon
// keeps the working folder it was started in (relative paths from the
// command line and the config file keep their meaning).
//
// The pid file holds the daemon's pid and is locked (flock) while it runs; a
// second daemon with the same pid file refuses to start. It is removed when
// the Daemon is destroyed, after the store is closed.
//
// Lifecycle: Start() once, from the main thread, before any other thread
// exists (fork copies only the calling thread); the Daemon lives until the
// broker has stopped. Thread-safety: none needed; the main thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "broker/base/result.h"

namespace chatpro::service {

// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 in the calling thread; threads
// started afterwards inherit the mask. Call first thing in main().
void BlockServiceSignals();

// Waits for SIGTERM, SIGINT or SIGUSR1 and returns which; calls `on_hangup`
// for every SIGHUP meanwhile. REQUIRES: BlockServiceSignals() in main().
int WaitForStopSignal(const std::function<void()>& on_hangup);

class Daemon {
 public:
  // Detaches (see above) and returns in the daemon, with `pid_file` written
  // and locked. The original process never returns: it exits when the daemon
  // is ready or has ended. On failure returns IoError or FailedPrecondition
  // (another daemon holds the pid file), either in the original process
  // (fork failed) or in the daemon, whose output still reaches the original
  // process's stderr.
  static Result<std::unique_ptr<Daemon>> Start(const std::string& pid_file);

  // Removes the pid file.
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // The broker serves: the original process exits 0, and stdin, stdout and
  // stderr go to /dev/null from now on. Idempotent.
  void Ready();

  const std::string& pid_file() const { return pid_file_; }

 private:
  Daemon(std::string pid_file, int pid_fd, int status_fd)
      : pid_file_(std::move(pid_file)), pid_fd_(pid_fd), status_fd_(status_fd) {}

  const std::string pid_file_;
  const int pid_fd_;
  int status_fd_;
};

}  // namespace chatpro::service
