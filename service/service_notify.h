// SPDX-License-Identifier: Apache-2.0
//
// ServiceNotifier: tells the service manager how the broker is doing. On
// Linux it speaks systemd's notify protocol through libsystemd (sd_notify);
// another platform (a Windows service) supplies its own service_notify.cc.
//
// Every call is a no-op when the broker was not started by a service manager
// that asked for notifications (NOTIFY_SOCKET unset), so the broker behaves
// the same when run by hand or by the tests.
//
// Lifecycle: made once by the composition root before start-up.
// Thread-safety: Ready, Stopping and Status from any thread; WatchdogTick
// only from the event loop thread, whose liveness it proves.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

namespace chatpro::service {

class ServiceNotifier {
 public:
  // Reads the watchdog interval the service manager asked for (WatchdogSec=,
  // through WATCHDOG_USEC and WATCHDOG_PID); none if it asked for none.
  ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // READY=1 with STATUS=`status`. Send only once the broker serves clients:
  // the store is open and the endpoint is bound.
  void Ready(const std::string& status);
  // STOPPING=1 with STATUS=`status`: a stop has begun. Only the first call
  // sends anything.
  void Stopping(const std::string& status);

  // Pings the watchdog (WATCHDOG=1) when half the interval has passed since
  // the last ping. REQUIRES: called from the event loop, at least a few
  // times per interval; a loop that hangs stops the pings, and the service
  // manager then restarts the broker.
  void WatchdogTick();

  // Whether the service manager watches the broker with a watchdog.
  bool watchdog_enabled() const { return watchdog_interval_.count() > 0; }

 private:
  std::chrono::microseconds watchdog_interval_{0};
  std::chrono::steady_clock::time_point last_ping_{};
  std::atomic<bool> stopping_sent_{false};
};

}  // namespace chatpro::service
