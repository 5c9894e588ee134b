// SPDX-License-Identifier: Apache-2.0
//
// The benchmark's workloads (W1..W7), each measured against a broker the
// harness starts, with the ZeroMQ reference run alongside where one applies.
// Every workload also checks that nothing was lost: each message sent was
// acknowledged and delivered exactly once, in order.
//
// Thread-safety: run from the benchmark's main thread, one at a time.
#pragma once

#include <string>
#include <vector>
#include <vector>

#include "bench/report.h"

namespace chatpro::bench {

struct BenchOptions {
  std::string broker_path;
  std::string self_path;  // this executable, for worker processes
  int repeat = 3;
  bool short_run = false;
  // Sizes; the defaults are the full run, --short shrinks them.
  int w1_messages = 1'000'000;
  int w2_messages = 1'000'000;
  int w3_messages = 20'000;
  int w3_members = 100;
  int w4_rate = 10'000;
  double w4_seconds = 5;
  int w5_messages = 4'000;
  int w6_devices = 10'000;
  int w7_messages = 1'000'000;
  int w8_messages = 1'000'000;  // removed by the retention run of W8
  std::size_t text_bytes = 200;
  std::size_t picture_bytes = 256 * 1024;
  // Print the broker's own account of each run (frames, batches).
  bool verbose = false;
  // Extra command-line arguments for every broker the benchmark starts.
  std::vector<std::string> broker_args;
  // Use the running broker of this administrator profile instead of starting
  // brokers (W2 and W7 need brokers of their own and are skipped).
  std::string attach_profile;
  int attach_pid = 0;
};

std::vector<Metric> RunW1(const BenchOptions& o);
std::vector<Metric> RunW2(const BenchOptions& o);
std::vector<Metric> RunW3(const BenchOptions& o);
std::vector<Metric> RunW4(const BenchOptions& o);
std::vector<Metric> RunW5(const BenchOptions& o);
std::vector<Metric> RunW6(const BenchOptions& o);
std::vector<Metric> RunW7(const BenchOptions& o);
std::vector<Metric> RunW8(const BenchOptions& o);

// The W6 worker process: connects the devices listed in `keys_file` to
// `endpoint` (lines FIRST:LAST of the file), says Hello on each, prints
// "connected" and waits for
// stdin to close. Returns the process exit code.
int RunIdleDeviceWorker(const std::string& keys_file, const std::string& range,
                        const std::string& endpoint,
                        const std::string& server_key_hex);

}  // namespace chatpro::bench
