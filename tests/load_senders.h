// SPDX-License-Identifier: Apache-2.0
//
// What the load tests (graceful stop, crash) keep of their senders' flood:
// each sender's results by send order, and a count of acknowledgements to
// wait on. Shared with the client's callbacks through shared_ptr, since those
// may outlive a failed test body. Thread-safety: every member under `mutex`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <vector>

#include "client/client.h"
#include "tests/chat_fixture.h"

namespace chatpro::testing {

// What one sender sent and what the broker answered.
struct SenderLog {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::optional<client::SendResult>> results;  // GUARDED_BY(mutex), by send order
  std::size_t completed = 0;                               // GUARDED_BY(mutex)
};

// Counts acknowledgements across senders, for the test to wait on.
struct AckCounter {
  std::mutex mutex;
  std::condition_variable cv;
  std::size_t acked = 0;  // GUARDED_BY(mutex)

  void Add() {
    std::lock_guard<std::mutex> lock(mutex);
    ++acked;
    cv.notify_all();
  }
  std::size_t Get() {
    std::lock_guard<std::mutex> lock(mutex);
    return acked;
  }
  bool WaitFor(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, kWaitTimeout, [&] { return acked >= count; });
  }
};

}  // namespace chatpro::testing
