// SPDX-License-Identifier: Apache-2.0
#include "broker/core/commit_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/clock.h"
#include "broker/core/in_memory_message_store.h"

namespace chatpro::core {
namespace {

// Far longer than any test needs; only a bug waits this long.
constexpr auto kTimeout = std::chrono::seconds(20);

class CountingWaker final : public Waker {
 public:
  void Wake() override { wakes_.fetch_add(1); }
  std::uint64_t wakes() const { return wakes_.load(); }

 private:
  std::atomic<std::uint64_t> wakes_{0};
};

std::unique_ptr<CommitBatch> BatchWithRecord(std::uint64_t number) {
  auto b = std::make_unique<CommitBatch>();
  b->number = number;
  b->writes.records.push_back(
      {RecordKind::kMeta, "batch" + std::to_string(number), std::to_string(number)});
  return b;
}

class CommitPipelineTest : public ::testing::Test {
 protected:
  // Takes completed batches until there are `n` (or the timeout passes).
  std::vector<std::unique_ptr<CommitBatch>> TakeCompleted(CommitPipeline& p, std::size_t n) {
    std::vector<std::unique_ptr<CommitBatch>> out;
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      for (auto& b : p.TakeCompleted()) out.push_back(std::move(b));
      if (out.size() < n) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    EXPECT_EQ(out.size(), n);
    return out;
  }

  ::testing::AssertionResult WaitUntilDegraded(const CommitPipeline& p) {
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (!p.degraded()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return ::testing::AssertionFailure() << "the pipeline never reported degraded";
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return ::testing::AssertionSuccess();
  }

  bool Stored(std::uint64_t number) {
    Result<std::optional<std::string>> r =
        store_.GetRecord(RecordKind::kMeta, "batch" + std::to_string(number));
    return r.ok() && r->has_value();
  }

  InMemoryMessageStore store_;
  FakeClock clock_;
  CountingWaker waker_;
};

TEST_F(CommitPipelineTest, BatchesCompleteInSubmissionOrder) {
  CommitPipeline p(&store_, /*sync=*/true, &waker_, &clock_);
  p.Start();
  for (std::uint64_t n = 1; n <= 50; ++n) p.Submit(BatchWithRecord(n));
  std::vector<std::unique_ptr<CommitBatch>> done = TakeCompleted(p, 50);
  for (std::size_t i = 0; i < done.size(); ++i) {
    EXPECT_EQ(done[i]->number, i + 1);
    EXPECT_TRUE(done[i]->status.ok()) << done[i]->status;
    EXPECT_EQ(done[i]->submitted_mono_us, clock_.MonotonicMicros());
    EXPECT_TRUE(Stored(i + 1));
  }
  EXPECT_FALSE(p.Busy());
  EXPECT_FALSE(p.degraded());
  EXPECT_EQ(p.batches_written(), 50u);
  EXPECT_GE(waker_.wakes(), 1u);
  EXPECT_EQ(store_.writes(), 50u);
  EXPECT_EQ(store_.synced_writes(), 50u);
}

TEST_F(CommitPipelineTest, OsDurabilityWritesWithoutSync) {
  CommitPipeline p(&store_, /*sync=*/false, &waker_, &clock_);
  p.Start();
  p.Submit(BatchWithRecord(1));
  TakeCompleted(p, 1);
  EXPECT_EQ(store_.writes(), 1u);
  EXPECT_EQ(store_.synced_writes(), 0u);
}

TEST_F(CommitPipelineTest, BatchWithoutWritesCompletesWithoutTouchingTheStore) {
  CommitPipeline p(&store_, true, &waker_, &clock_);
  p.Start();
  auto b = std::make_unique<CommitBatch>();
  b->number = 1;
  b->acks.push_back(PendingAck{});
  p.Submit(std::move(b));
  std::vector<std::unique_ptr<CommitBatch>> done = TakeCompleted(p, 1);
  EXPECT_TRUE(done[0]->status.ok());
  EXPECT_EQ(store_.writes(), 0u);
}

TEST_F(CommitPipelineTest, FailingWriteIsRetriedAndCompletesOnceTheStoreRecovers) {
  CommitPipeline p(&store_, true, &waker_, &clock_);
  p.Start();
  store_.FailWrites(Status::ResourceExhausted("disk full"));
  p.Submit(BatchWithRecord(1));
  p.Submit(BatchWithRecord(2));
  ASSERT_TRUE(WaitUntilDegraded(p));
  EXPECT_TRUE(p.Busy());
  EXPECT_TRUE(p.TakeCompleted().empty());
  EXPECT_FALSE(Stored(1));

  store_.FailWrites(Status::Ok());
  std::vector<std::unique_ptr<CommitBatch>> done = TakeCompleted(p, 2);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0]->number, 1u);
  EXPECT_EQ(done[1]->number, 2u);
  EXPECT_TRUE(done[0]->status.ok());
  EXPECT_TRUE(done[1]->status.ok());
  EXPECT_FALSE(p.degraded());
  EXPECT_EQ(p.last_error().code(), StatusCode::kResourceExhausted);
  // Each batch was written exactly once.
  EXPECT_EQ(store_.writes(), 2u);
  EXPECT_TRUE(Stored(1));
  EXPECT_TRUE(Stored(2));
  // Nothing more completes later.
  EXPECT_FALSE(p.Busy());
  EXPECT_TRUE(p.TakeCompleted().empty());
}

TEST_F(CommitPipelineTest, StopWritesEverythingQueued) {
  CommitPipeline p(&store_, true, &waker_, &clock_);
  p.Start();
  for (std::uint64_t n = 1; n <= 20; ++n) p.Submit(BatchWithRecord(n));
  p.Stop();
  std::vector<std::unique_ptr<CommitBatch>> done = p.TakeCompleted();
  ASSERT_EQ(done.size(), 20u);
  for (std::size_t i = 0; i < done.size(); ++i) {
    EXPECT_EQ(done[i]->number, i + 1);
    EXPECT_TRUE(done[i]->status.ok());
  }
  EXPECT_EQ(store_.writes(), 20u);
}

TEST_F(CommitPipelineTest, StopWhileWritesFailCompletesTheBatchWithTheError) {
  CommitPipeline p(&store_, true, &waker_, &clock_);
  p.Start();
  store_.FailWrites(Status::IoError("device gone"));
  p.Submit(BatchWithRecord(1));
  ASSERT_TRUE(WaitUntilDegraded(p));
  p.Stop();
  std::vector<std::unique_ptr<CommitBatch>> done = p.TakeCompleted();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]->status.code(), StatusCode::kIoError);
  EXPECT_FALSE(Stored(1));
}

TEST_F(CommitPipelineTest, DestructorStopsAStartedPipeline) {
  auto p = std::make_unique<CommitPipeline>(&store_, true, &waker_, &clock_);
  p->Start();
  p->Submit(BatchWithRecord(1));
  p.reset();
  EXPECT_TRUE(Stored(1));
}

}  // namespace
}  // namespace chatpro::core
