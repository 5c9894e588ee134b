// SPDX-License-Identifier: Apache-2.0
#include "service/service_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdint>

namespace chatpro::service {

ServiceNotifier::ServiceNotifier() {
  std::uint64_t usec = 0;
  // > 0 only when WatchdogSec= is set and the watchdog is meant for this
  // process (WATCHDOG_PID, when set, is ours). The variables are left in
  // place: the broker starts no child process that could inherit them.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec);
  }
}

void ServiceNotifier::Ready(const std::string& status) {
  // sd_notify returns 0 without NOTIFY_SOCKET: nothing to do outside systemd.
  (void)sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void ServiceNotifier::Stopping(const std::string& status) {
  if (stopping_sent_.exchange(true)) return;
  (void)sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status.c_str());
}

void ServiceNotifier::WatchdogTick() {
  if (!watchdog_enabled()) return;
  auto now = std::chrono::steady_clock::now();
  // Half the interval, as sd_watchdog_enabled(3) advises, so one late tick
  // does not cost a restart.
  if (now - last_ping_ < watchdog_interval_ / 2) return;
  last_ping_ = now;
  (void)sd_notify(0, "WATCHDOG=1");
}

}  // namespace chatpro::service
