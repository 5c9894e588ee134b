// SPDX-License-Identifier: Apache-2.0
#include "client/ring_queue.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>
#include <string>

namespace chatpro::client::internal {
namespace {

TEST(RingQueue, BehavesAsAFifoWithRandomAccessAcrossWrapsAndGrowth) {
  RingQueue<std::string> q;
  std::deque<std::string> model;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    // Push more than pop for a while, then drain: growth happens while the
    // front has wrapped around.
    bool push = model.empty() || (step % 5000 < 3000 ? rng() % 3 != 0 : rng() % 3 == 0);
    if (push) {
      std::string v = "value " + std::to_string(step);
      q.push_back(v);
      model.push_back(v);
    } else {
      ASSERT_EQ(q.front(), model.front());
      q.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(q.size(), model.size());
    if (!model.empty()) {
      ASSERT_EQ(q.back(), model.back());
      std::size_t i = rng() % model.size();
      ASSERT_EQ(q[i], model[i]);
    }
  }
  EXPECT_EQ(q.capacity() & (q.capacity() - 1), 0u) << "a power of two";
}

TEST(RingQueue, PopReleasesWhatTheElementOwned) {
  RingQueue<std::shared_ptr<int>> q;
  auto p = std::make_shared<int>(1);
  q.push_back(p);
  EXPECT_EQ(p.use_count(), 2);
  q.pop_front();
  EXPECT_EQ(p.use_count(), 1);
  q.push_back(p);
  q.clear();
  EXPECT_EQ(p.use_count(), 1);
  EXPECT_TRUE(q.empty());
}

TEST(RingQueue, ShrinkIfEmptyGivesBackOnlyALargeEmptyBuffer) {
  RingQueue<int> q;
  for (int i = 0; i < 100; ++i) q.push_back(i);
  q.ShrinkIfEmpty(16);
  EXPECT_GE(q.capacity(), 100u) << "not empty: kept";
  while (!q.empty()) q.pop_front();
  q.ShrinkIfEmpty(1024);
  EXPECT_GE(q.capacity(), 100u) << "small enough: kept";
  q.ShrinkIfEmpty(16);
  EXPECT_EQ(q.capacity(), 0u);
  q.push_back(5);
  EXPECT_EQ(q.front(), 5);
}

}  // namespace
}  // namespace chatpro::client::internal
