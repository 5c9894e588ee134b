// SPDX-License-Identifier: Apache-2.0
#include "broker/core/latency_histogram.h"

#include <gtest/gtest.h>

namespace chatpro::core {
namespace {

TEST(LatencyHistogram, QuantilesFallInTheBucketOfTheRank) {
  LatencyHistogram h;
  for (int i = 0; i < 90; ++i) h.Record(100);   // bucket < 128
  for (int i = 0; i < 9; ++i) h.Record(1000);   // bucket < 1024
  h.Record(50'000);                             // bucket < 65536
  EXPECT_EQ(h.Count(), 100u);
  EXPECT_EQ(h.Quantile(0.5), 128u);
  EXPECT_EQ(h.Quantile(0.95), 1024u);
  EXPECT_EQ(h.Quantile(1.0), 65536u);
  EXPECT_EQ(h.SumMicros(), 90u * 100 + 9 * 1000 + 50'000);
}

TEST(LatencyHistogram, NegativeAndHugeDurationsLandInTheEndBuckets) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(std::int64_t{1} << 40);
  EXPECT_EQ(h.Bucket(0), 1u);
  EXPECT_EQ(h.Bucket(LatencyHistogram::kBuckets - 1), 1u);
  EXPECT_EQ(LatencyHistogram().Quantile(0.5), 0u);
}

}  // namespace
}  // namespace chatpro::core
