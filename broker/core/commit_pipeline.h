// SPDX-License-Identifier: Apache-2.0
//
// CommitPipeline: group commit on a store thread.
//
// The event loop fills a CommitBatch (messages, records, and what to answer
// once they are stored) and submits it; the store thread writes it as one
// atomic store write, synced in fsync durability, and hands it back. While one
// batch is being written the loop fills the next, so under load every sync
// covers many messages and at low load a message waits for one write only.
//
// A write that fails (disk full, I/O error) is retried, in order, with
// backoff, until it succeeds or the pipeline stops: nothing submitted is
// dropped and batches complete in submission order. While a write is failing
// the pipeline reports degraded() so that the core can refuse new messages.
//
// Lifecycle: construct, Start(), Submit()/TakeCompleted() from the loop thread,
// Stop() (writes everything still queued, then joins). The destructor stops.
// Thread-safety: Submit, TakeCompleted, Busy on the loop thread; degraded and
// last_error from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/base/clock.h"
#include "broker/core/message_store.h"
#include "broker/core/transport.h"

namespace chatpro::core {

// A SendAck owed once the batch is stored.
struct PendingAck {
  ConnectionId connection = 0;
  std::uint64_t request_id = 0;
  ClientMsgId client_msg_id = 0;
  ConversationId conversation;
  Seq seq = 0;
  std::int64_t sent_at_us = 0;
  bool duplicate = false;
  std::int64_t received_mono_us = 0;
  // The recipients off duty when the message was stored (working hours).
  struct OffDuty {
    UserId user;
    std::int64_t until_us = 0;
  };
  std::vector<OffDuty> off_duty;
};

struct CommitBatch {
  std::uint64_t number = 0;  // submission order, from 1
  WriteBatch writes;
  // When each message of writes.messages arrived (monotonic microseconds).
  std::vector<std::int64_t> received_mono_us;
  std::vector<PendingAck> acks;
  // Run on the loop thread after the write, with its outcome.
  std::vector<std::function<void(const Status&)>> on_commit;
  // Set by the pipeline.
  Status status;
  std::int64_t submitted_mono_us = 0;
  std::int64_t written_mono_us = 0;

  bool empty() const { return writes.empty() && acks.empty() && on_commit.empty(); }
};

class CommitPipeline {
 public:
  CommitPipeline(MessageStore* store, bool sync, Waker* waker, const Clock* clock);
  ~CommitPipeline();
  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  void Start();
  // Writes what is queued (retrying failures a few more times), then joins.
  // Batches that still fail complete with their error.
  void Stop();

  void Submit(std::unique_ptr<CommitBatch> batch);
  // True while a batch is queued or being written.
  bool Busy() const;
  // Completed batches, oldest first.
  std::vector<std::unique_ptr<CommitBatch>> TakeCompleted();

  bool degraded() const { return degraded_.load(std::memory_order_relaxed); }
  Status last_error() const;
  std::uint64_t batches_written() const { return batches_written_.load(); }

 private:
  void Run();

  MessageStore* const store_;
  const bool sync_;
  Waker* const waker_;
  const Clock* const clock_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<CommitBatch>> queue_;      // GUARDED_BY(mutex_)
  std::vector<std::unique_ptr<CommitBatch>> completed_;  // GUARDED_BY(mutex_)
  bool writing_ = false;                                // GUARDED_BY(mutex_)
  bool stopping_ = false;                               // GUARDED_BY(mutex_)
  Status last_error_;                                   // GUARDED_BY(mutex_)
  std::atomic<bool> degraded_{false};
  std::atomic<std::uint64_t> batches_written_{0};
  std::thread thread_;
};

}  // namespace chatpro::core
