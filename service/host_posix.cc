// SPDX-License-Identifier: Apache-2.0
// The POSIX host: signals, and systemd's notify protocol (ServiceNotifier).
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <mutex>
#include <thread>

#include "broker/base/log.h"
#include "service/daemon.h"
#include "service/host.h"
#include "service/service_notify.h"

namespace chatpro::service {
namespace {

class PosixHost final : public Host {
 public:
  PosixHost() = default;
  PosixHost(const PosixHost&) = delete;
  PosixHost& operator=(const PosixHost&) = delete;
  ~PosixHost() override { StopWatching(); }

  void Starting(const std::string&) override {}
  void Ready(const std::string& status) override { notifier_.Ready(status); }
  void Stopping(const std::string& status) override { notifier_.Stopping(status); }
  void WatchdogTick() override { notifier_.WatchdogTick(); }

  void WatchForStop(std::function<void()> request_stop, std::function<void()> reopen_log) override {
    signals_ = std::thread(
        [this, request_stop = std::move(request_stop), reopen_log = std::move(reopen_log)] {
          // SIGUSR1 is sent by StopWatching to end this thread.
          int sig = WaitForStopSignal([&reopen_log] {
            if (reopen_log) reopen_log();
          });
          if (sig == SIGUSR1) return;
          LOG_INFO() << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ", stopping";
          notifier_.Stopping("stopping");
          request_stop();
        });
  }

  void StopWatching() override {
    if (!signals_.joinable()) return;
    // Ends the thread if no signal came; a SIGUSR1 left pending after a
    // SIGTERM stays blocked and harmless.
    ::pthread_kill(signals_.native_handle(), SIGUSR1);
    signals_.join();
  }

 private:
  ServiceNotifier notifier_;
  std::thread signals_;
};

}  // namespace

std::unique_ptr<Host> ConsoleHost() { return std::make_unique<PosixHost>(); }

void PrepareProcess() {
  // Block the stop and hang-up signals before any thread starts, so that
  // every thread (ZeroMQ's, LevelDB's, the pipeline's) inherits the mask and
  // only the host's thread receives them.
  BlockServiceSignals();
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace chatpro::service
