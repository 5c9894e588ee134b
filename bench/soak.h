// SPDX-License-Identifier: Apache-2.0
//
// The long run (`chatpro-bench --soak SECONDS`): mixed traffic at a steady
// rate against a broker of its own for a given time, with the broker's
// resident memory and open file descriptors sampled throughout. It fails if
// a send fails, a message is lost or comes out of order, or memory or file
// descriptors grow after the warm-up (see SoakVerdict).
//
// Thread-safety: RunSoak runs on the benchmark's main thread and starts its
// own sender, churn and sampler threads, all joined before it returns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/workloads.h"

namespace chatpro::bench {

struct SoakOptions {
  double seconds = 60;
  // Messages per second in all; 0: half of the mix's capacity, measured
  // first at full speed.
  int rate = 0;
  // Seconds between samples of the broker's memory and descriptors.
  double sample_interval_s = 5;
  // The first part of the run not judged (caches and the memtable filling).
  double warmup_fraction = 0.25;
  // Allowed growth of the median anonymous resident memory (RssAnon) from the
  // first to the last third of the judged samples: this fraction of the first
  // third's median plus rss_slack_bytes. Anonymous, because VmRSS also counts
  // the pages of LevelDB's memory-mapped tables that reads touched: page
  // cache, which grows with the store and which the kernel reclaims.
  double rss_growth_fraction = 0.10;
  std::uint64_t rss_slack_bytes = 16ull << 20;
  // Allowed growth of the highest descriptor count, first to last third.
  int fd_slack = 8;
  std::string json_path;  // also write the samples and the verdict here
};

struct SoakSample {
  double t_s = 0;
  std::uint64_t rss_bytes = 0;   // VmRSS
  std::uint64_t anon_bytes = 0;  // RssAnon: VmRSS without file-backed pages
  int fds = 0;
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  std::uint64_t delivered = 0;
};

// Whether the samples after the warm-up show growth, and the figures.
struct SoakVerdict {
  bool rss_flat = false;
  bool fds_flat = false;
  std::uint64_t rss_first_median = 0;
  std::uint64_t rss_last_median = 0;
  int fds_first_max = 0;
  int fds_last_max = 0;
  std::string explanation;
};

// Judges `samples` (in time order) as described in SoakOptions. With fewer
// than three samples after the warm-up, nothing can be judged: both flat
// flags are false and the explanation says so.
SoakVerdict JudgeSoak(const std::vector<SoakSample>& samples, const SoakOptions& options);

// Runs the long run; returns the process exit code (0: nothing lost, no
// failed send, memory and descriptors flat).
int RunSoak(const BenchOptions& bench, const SoakOptions& options);

}  // namespace chatpro::bench
