// SPDX-License-Identifier: Apache-2.0
//
// The reference limit: a bare one-hop ZeroMQ ROUTER forwarder (no CURVE, no
// persistence, no checks) moving the same payloads between DEALER sockets in
// this process. Every ChatPro figure is stated as a ratio to it, measured in
// the same run on the same machine.
//
// Thread-safety: each function runs its own sockets and threads and returns
// when they are done.
#pragma once

#include <cstddef>
#include <vector>

namespace chatpro::bench {

struct ReferenceResult {
  double messages_per_second = 0;  // deliveries per second, over all receivers
  double megabytes_per_second = 0;
  std::vector<double> latencies_us;  // for the fixed-rate run
  bool complete = false;             // every message arrived
  double cpu_us_per_message = 0;     // CPU of sender, forwarder and receivers
};

// One sender, one forwarder, `receivers` receivers (each gets every message).
ReferenceResult RunReferenceThroughput(int messages, std::size_t payload_bytes, int receivers);

// One sender at `rate` messages per second for `seconds`; one-way latencies.
ReferenceResult RunReferenceLatency(int rate, double seconds, std::size_t payload_bytes);

}  // namespace chatpro::bench
