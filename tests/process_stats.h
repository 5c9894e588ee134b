// SPDX-License-Identifier: Apache-2.0
//
// What the reliability tests watch from outside a running broker: its
// resident memory and open file descriptors (Linux /proc), and samples from
// its /metrics text.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace chatpro::testing {

// VmRSS of `pid` in bytes, from /proc/PID/status; -1 if it cannot be read.
std::int64_t ResidentBytes(pid_t pid);

// The number of entries in /proc/PID/fd; -1 if it cannot be read.
int OpenFileDescriptors(pid_t pid);

// The value of the sample `name_and_labels` (e.g. `x_total{kind="text"}`) in
// Prometheus text, or -1 if it is not there.
double MetricSample(const std::string& text, const std::string& name_and_labels);

// MetricSample of a fresh GET /metrics on 127.0.0.1:`port`; -1 if there is no
// answer or no such sample.
double ScrapeMetric(int port, const std::string& name_and_labels);

}  // namespace chatpro::testing
