// SPDX-License-Identifier: Apache-2.0
#include "broker/base/clock.h"

#include <chrono>
#include <ctime>

namespace chatpro {

std::int64_t SystemClock::NowMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t SystemClock::MonotonicMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string FormatUtc(std::int64_t unix_micros, const char* strftime_format) {
  std::time_t secs = static_cast<std::time_t>(unix_micros / 1'000'000);
  std::tm tm{};
#ifdef _WIN32
  gmtime_s(&tm, &secs);
#else
  gmtime_r(&secs, &tm);
#endif
  char buf[64];
  if (std::strftime(buf, sizeof buf, strftime_format, &tm) == 0) return std::string();
  return buf;
}

}  // namespace chatpro
