// SPDX-License-Identifier: Apache-2.0
// Windows has no Unix daemon mode or signals: a background broker there is a
// service (windows_service.h), and its host stops it.
#include "service/daemon.h"

namespace chatpro::service {

void BlockServiceSignals() {}

int WaitForStopSignal(const std::function<void()>&) { return 0; }

Result<std::unique_ptr<Daemon>> Daemon::Start(const std::string&) {
  return Status::InvalidArgument(
      "--daemon is for Unix; on Windows run chatpro-broker as a service (--register-service)");
}

Daemon::~Daemon() = default;

void Daemon::Ready() {}

}  // namespace chatpro::service
