// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the time-zone tests: instants written as UTC calendar
// times, and working periods written as clock times.
#pragma once

#include <cstdint>

#include "broker/core/schedule.h"

namespace chatpro::tz::testing {

constexpr std::int64_t kMinuteUs = 60'000'000;
constexpr std::int64_t kHourUs = 60 * kMinuteUs;

inline core::LocalDate Date(int y, unsigned m, unsigned d) { return core::LocalDate{y, m, d}; }

// The Unix microseconds of `hour`:`minute` UTC on y-m-d.
inline std::int64_t Utc(int y, unsigned m, unsigned d, int hour, int minute = 0) {
  return core::DaysSinceEpoch(Date(y, m, d)) * 24 * kHourUs + hour * kHourUs + minute * kMinuteUs;
}

inline core::WorkPeriod P(int sh, int sm, int eh, int em) {
  return core::WorkPeriod{static_cast<std::uint16_t>(sh * 60 + sm),
                          static_cast<std::uint16_t>(eh * 60 + em)};
}

}  // namespace chatpro::tz::testing
