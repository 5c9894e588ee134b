// SPDX-License-Identifier: Apache-2.0
//
// Clock: the source of time for everything that decides by time (expiry,
// retention, schedules, timeouts). Production uses SystemClock; tests use
// FakeClock and move time themselves.
//
// Thread-safety: both implementations may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace chatpro {

class Clock {
 public:
  virtual ~Clock() = default;

  // Wall-clock time, Unix microseconds. Used for stored timestamps and expiry.
  virtual std::int64_t NowMicros() const = 0;

  // Monotonic time in microseconds from an arbitrary origin. Used for
  // durations (timeouts, rate windows); never goes backwards.
  virtual std::int64_t MonotonicMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t NowMicros() const override;
  std::int64_t MonotonicMicros() const override;
};

// A clock that moves only when told. Starts at `start_micros` for both readings.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t start_micros = 1'700'000'000'000'000) : now_(start_micros) {}

  std::int64_t NowMicros() const override { return now_.load(); }
  std::int64_t MonotonicMicros() const override { return now_.load(); }

  void Advance(std::int64_t micros) { now_ += micros; }
  void Set(std::int64_t micros) { now_ = micros; }

 private:
  std::atomic<std::int64_t> now_;
};

constexpr std::int64_t kMicrosPerSecond = 1'000'000;

// Unix microseconds as UTC text through strftime(3), e.g.
// FormatUtc(t, "%Y-%m-%dT%H:%M:%SZ"). At most 63 characters.
std::string FormatUtc(std::int64_t unix_micros, const char* strftime_format);

}  // namespace chatpro
