// SPDX-License-Identifier: Apache-2.0
//
// chatpro-broker as a Windows service: registering and removing it with the
// service control manager (SCM), and the service entry the SCM starts.
//
//   chatpro-broker --register-service [--config PATH] [--start-type auto|manual|delayed]
//                  [--service-name NAME] [--display-name TEXT] [broker options...]
//   chatpro-broker --unregister-service [--service-name NAME]
//
// The registered command line is
//   "C:\...\chatpro-broker.exe" --service NAME --config "C:\...\chatpro.conf" [broker options]
// with the config file's absolute path (relative paths in the file resolve
// against its folder, never against the service's working directory).
//
// Started by the SCM, the service reports START_PENDING with a checkpoint and
// wait hint for each start-up step (the store may take long to open), RUNNING
// only once the broker serves, and on STOP or SHUTDOWN reports STOP_PENDING
// before the broker's graceful stop (the one SIGTERM does on Linux) and
// STOPPED at its end, with the broker's exit code. Start, stop and errors go
// to the event log (event_log.h) as well as to the broker's log.
//
// Only on Windows.
#pragma once

#include <optional>

#include "service/host.h"

namespace chatpro::service {

// The broker itself: runs with `argv` (without the service arguments) under
// `host` until stopped; returns the process exit code.
using BrokerMain = int (*)(int argc, char** argv, Host& host);

// Handles the service command lines: --register-service,
// --unregister-service, and --service NAME (only the SCM starts the broker
// so). Returns the exit code, or nullopt when argv is none of them.
std::optional<int> RunServiceCommand(int argc, char** argv, BrokerMain broker_main);

// The lines that `chatpro-broker --help` adds on Windows.
extern const char kServiceUsage[];

}  // namespace chatpro::service
