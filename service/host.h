// SPDX-License-Identifier: Apache-2.0
//
// Host: what runs chatpro-broker, and how the broker tells it how it is
// doing and learns that it must stop. Starting, serving and stopping the
// broker are the same everywhere (service/main.cc); the hosts differ:
//   - a terminal or systemd on POSIX: SIGTERM/SIGINT, sd_notify (host_posix.cc),
//   - a console on Windows: Ctrl+C, Ctrl+Break, closing the window (host_windows.cc),
//   - the Windows service control manager (windows_service.cc).
//
// Lifecycle: made by main() before the broker starts, destroyed after it
// stopped. Thread-safety: Starting, Ready and Stopping from the thread that
// runs the broker (Stopping also from the host's own thread); WatchdogTick
// from the event loop; WatchForStop and StopWatching from the broker's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace chatpro::service {

class Host {
 public:
  virtual ~Host() = default;

  // A step of the start-up, before Ready (e.g. "opening the store"). The
  // Windows service manager gets a new checkpoint and wait hint, so that a
  // long recovery is not taken for a hung start.
  virtual void Starting(const std::string& step) = 0;
  // The broker serves clients: the store is open and the endpoint bound.
  virtual void Ready(const std::string& status) = 0;
  // A stop has begun, asked for by the host or not. Only the first call counts.
  virtual void Stopping(const std::string& status) = 0;
  // Called from the event loop several times a second; proves it is alive.
  virtual void WatchdogTick() = 0;

  // From now on, calls `request_stop` once, from a thread of the host's, when
  // the host asks the broker to stop (SIGTERM or SIGINT; Ctrl+C; the service
  // manager's STOP or SHUTDOWN), after reporting Stopping itself. A request
  // that came before this call is passed on at once. Calls `reopen_log` on
  // SIGHUP (POSIX hosts only), from the same thread.
  virtual void WatchForStop(std::function<void()> request_stop,
                            std::function<void()> reopen_log) = 0;
  // After it returns, `request_stop` is not called any more.
  virtual void StopWatching() = 0;
};

// The host of a broker run from a terminal, a console or systemd (a Windows
// service has its own: windows_service.h). REQUIRES: PrepareProcess() ran.
std::unique_ptr<Host> ConsoleHost();

// Process-wide set-up, before any thread starts. POSIX: blocks the stop and
// hang-up signals in every thread (service/daemon.h; the host's own thread
// waits for them), ignores SIGPIPE, and raises the open-file limit. Windows:
// nothing yet.
void PrepareProcess();

}  // namespace chatpro::service
