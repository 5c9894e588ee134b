// SPDX-License-Identifier: Apache-2.0
//
// LatencyHistogram: counts durations in fixed buckets (powers of two of a
// microsecond, up to about 17 minutes), cheaply enough to record every
// message. Monitoring exports the buckets; Quantile() estimates percentiles
// for logs and tests.
//
// Thread-safety: Record() from one thread at a time per histogram (the event
// loop); the readers (Count, Bucket, Quantile) from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace chatpro::core {

class LatencyHistogram {
 public:
  static constexpr int kBuckets = 31;  // bucket i counts durations < 2^i us (last: the rest)

  void Record(std::int64_t micros) {
    int i = 0;
    std::uint64_t v = micros <= 0 ? 0 : static_cast<std::uint64_t>(micros);
    while (i < kBuckets - 1 && v >= (1ull << i)) ++i;
    buckets_[static_cast<std::size_t>(i)].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(v, std::memory_order_relaxed);
  }

  // Upper bound of bucket i in microseconds.
  static std::uint64_t UpperBoundMicros(int i) { return 1ull << i; }
  std::uint64_t Bucket(int i) const {
    return buckets_[static_cast<std::size_t>(i)].load(std::memory_order_relaxed);
  }
  std::uint64_t Count() const {
    std::uint64_t n = 0;
    for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
    return n;
  }
  std::uint64_t SumMicros() const { return sum_us_.load(std::memory_order_relaxed); }

  // The upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 if empty.
  std::uint64_t Quantile(double q) const {
    std::uint64_t total = Count();
    if (total == 0) return 0;
    std::uint64_t rank = static_cast<std::uint64_t>(q * static_cast<double>(total));
    if (rank == 0) rank = 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += Bucket(i);
      if (seen >= rank) return UpperBoundMicros(i);
    }
    return UpperBoundMicros(kBuckets - 1);
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_us_{0};
};

}  // namespace chatpro::core
