// SPDX-License-Identifier: Apache-2.0
#include "broker/core/commit_pipeline.h"

#include <algorithm>
#include <chrono>

#ifdef __linux__
#include <pthread.h>
#endif

#include "broker/base/log.h"

namespace chatpro::core {

CommitPipeline::CommitPipeline(MessageStore* store, bool sync, Waker* waker, const Clock* clock)
    : store_(store), sync_(sync), waker_(waker), clock_(clock) {}

CommitPipeline::~CommitPipeline() { Stop(); }

void CommitPipeline::Start() {
  thread_ = std::thread([this] {
#ifdef __linux__
    pthread_setname_np(pthread_self(), "chatpro-commit");
#endif
    Run();
  });
}

void CommitPipeline::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CommitPipeline::Submit(std::unique_ptr<CommitBatch> batch) {
  batch->submitted_mono_us = clock_->MonotonicMicros();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(batch));
  }
  cv_.notify_one();
}

bool CommitPipeline::Busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return writing_ || !queue_.empty();
}

std::vector<std::unique_ptr<CommitBatch>> CommitPipeline::TakeCompleted() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::unique_ptr<CommitBatch>> out;
  out.swap(completed_);
  return out;
}

Status CommitPipeline::last_error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_error_;
}

void CommitPipeline::Run() {
  constexpr int kAttemptsWhenStopping = 3;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    std::unique_ptr<CommitBatch> batch = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();

    // Retry until written: a batch holds messages whose senders wait for an
    // acknowledgement, and seqs already assigned; dropping it would leave a
    // hole in the conversations' order.
    std::chrono::milliseconds backoff(20);
    int attempts_while_stopping = 0;
    while (true) {
      Status st = batch->writes.empty() ? Status::Ok() : store_->Write(batch->writes, sync_);
      if (st.ok()) {
        if (degraded_.exchange(false)) LOG_INFO() << "store writes succeed again";
        batch->status = Status::Ok();
        break;
      }
      {
        // Before degraded_, so that whoever sees degraded() reads this error.
        std::lock_guard<std::mutex> error_lock(mutex_);
        last_error_ = st;
      }
      if (!degraded_.exchange(true)) {
        LOG_ERROR() << "store write failed, refusing new messages until it succeeds: " << st;
      }
      lock.lock();
      bool stopping = stopping_;
      if (stopping && ++attempts_while_stopping >= kAttemptsWhenStopping) {
        lock.unlock();
        batch->status = st;
        break;
      }
      cv_.wait_for(lock, backoff);
      lock.unlock();
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
    batch->written_mono_us = clock_->MonotonicMicros();
    batches_written_.fetch_add(1, std::memory_order_relaxed);

    lock.lock();
    completed_.push_back(std::move(batch));
    writing_ = false;
    lock.unlock();
    if (waker_ != nullptr) waker_->Wake();
    lock.lock();
  }
}

}  // namespace chatpro::core
