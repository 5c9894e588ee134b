// SPDX-License-Identifier: Apache-2.0
// SystemZoneDb against the system's tz database.
#include "broker/tz/system_zone_db.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "broker/tz/tests/tz_test_util.h"

namespace chatpro::tz {
namespace {

using testing::Date;
using testing::kHourUs;
using testing::kMinuteUs;
using testing::Utc;

std::int64_t ToUtc(const core::ZoneDb& zones, const char* zone, const core::LocalDate& d, int hour,
                   int minute = 0) {
  Result<std::int64_t> r = zones.ToUtc(zone, d, static_cast<std::uint32_t>(hour * 60 + minute));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : 0;
}

TEST(SystemZoneDb, KnowsIanaNamesOnly) {
  auto zones = SystemZoneDb();
  EXPECT_TRUE(zones->CheckZone("Europe/Berlin").ok());
  EXPECT_TRUE(zones->CheckZone("America/New_York").ok());
  EXPECT_TRUE(zones->CheckZone("UTC").ok());
  Status s = zones->CheckZone("Europe/Atlantis");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("Europe/Atlantis"), std::string::npos) << s;
  EXPECT_EQ(zones->CheckZone("").code(), StatusCode::kNotFound);
  EXPECT_EQ(zones->ToUtc("Mars/Olympus", Date(2026, 1, 1), 0).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(zones->ToLocal("Mars/Olympus", 0).status().code(), StatusCode::kNotFound);
}

TEST(SystemZoneDb, ToLocalGivesDateWeekdayAndTimeOfDay) {
  auto zones = SystemZoneDb();
  // 2026-11-24 23:30 UTC is Wednesday 08:30 in Tokyo and Tuesday 23:30 in London.
  Result<core::LocalTime> tokyo = zones->ToLocal("Asia/Tokyo", Utc(2026, 11, 24, 23, 30));
  ASSERT_TRUE(tokyo.ok()) << tokyo.status();
  EXPECT_EQ(tokyo->date, Date(2026, 11, 25));
  EXPECT_EQ(tokyo->weekday, 2u);
  EXPECT_EQ(tokyo->micros_of_day, 8 * kHourUs + 30 * kMinuteUs);
  Result<core::LocalTime> london = zones->ToLocal("Europe/London", Utc(2026, 11, 24, 23, 30) + 5);
  ASSERT_TRUE(london.ok()) << london.status();
  EXPECT_EQ(london->date, Date(2026, 11, 24));
  EXPECT_EQ(london->weekday, 1u);
  EXPECT_EQ(london->micros_of_day, 23 * kHourUs + 30 * kMinuteUs + 5);
  // Before 1970 too.
  Result<core::LocalTime> old = zones->ToLocal("UTC", -1);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->date, Date(1969, 12, 31));
  EXPECT_EQ(old->micros_of_day, 24 * kHourUs - 1);
}

TEST(SystemZoneDb, ToUtcFollowsDaylightSavingTime) {
  auto zones = SystemZoneDb();
  EXPECT_EQ(ToUtc(*zones, "Europe/Berlin", Date(2026, 1, 15), 9), Utc(2026, 1, 15, 8));
  EXPECT_EQ(ToUtc(*zones, "Europe/Berlin", Date(2026, 7, 15), 9), Utc(2026, 7, 15, 7));
  EXPECT_EQ(ToUtc(*zones, "America/New_York", Date(2026, 7, 15), 9), Utc(2026, 7, 15, 13));
  EXPECT_EQ(ToUtc(*zones, "Asia/Tokyo", Date(2026, 7, 15), 9), Utc(2026, 7, 15, 0));
  // Minute 1440 is the next midnight.
  EXPECT_EQ(ToUtc(*zones, "Europe/Berlin", Date(2026, 1, 15), 24), Utc(2026, 1, 15, 23));
}

TEST(SystemZoneDb, SkippedLocalTimesMapToTheJumpAndRepeatedOnesToTheFirst) {
  auto zones = SystemZoneDb();
  // Berlin 2026-03-29: 02:00 CET became 03:00 CEST at 01:00 UTC.
  EXPECT_EQ(ToUtc(*zones, "Europe/Berlin", Date(2026, 3, 29), 1, 59), Utc(2026, 3, 29, 0, 59));
  EXPECT_EQ(ToUtc(*zones, "Europe/Berlin", Date(2026, 3, 29), 2, 0), Utc(2026, 3, 29, 1));
  EXPECT_EQ(ToUtc(*zones, "Europe/Berlin", Date(2026, 3, 29), 2, 30), Utc(2026, 3, 29, 1));
  EXPECT_EQ(ToUtc(*zones, "Europe/Berlin", Date(2026, 3, 29), 3, 0), Utc(2026, 3, 29, 1));
  // Berlin 2026-10-25: 03:00 CEST became 02:00 CET at 01:00 UTC; 02:30 happened twice.
  EXPECT_EQ(ToUtc(*zones, "Europe/Berlin", Date(2026, 10, 25), 2, 30), Utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(ToUtc(*zones, "Europe/Berlin", Date(2026, 10, 25), 3, 0), Utc(2026, 10, 25, 2));
  // New York 2026-03-08 02:00 EST -> 03:00 EDT at 07:00 UTC; 2026-11-01 01:30 twice.
  EXPECT_EQ(ToUtc(*zones, "America/New_York", Date(2026, 3, 8), 2, 30), Utc(2026, 3, 8, 7));
  EXPECT_EQ(ToUtc(*zones, "America/New_York", Date(2026, 11, 1), 1, 30), Utc(2026, 11, 1, 5, 30));
}

TEST(SystemZoneDb, RefusesDatesThatDoNotExist) {
  auto zones = SystemZoneDb();
  EXPECT_EQ(zones->ToUtc("UTC", Date(2026, 2, 30), 0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(SystemZoneDb, MayBeUsedFromManyThreadsAtOnce) {
  auto zones = SystemZoneDb();
  const char* names[] = {"Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata"};
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const char* zone = names[(t + i) % 4];
        const std::int64_t at = Utc(2026, 1, 1, 0) + static_cast<std::int64_t>(i) * 4 * kHourUs;
        Result<core::LocalTime> local = zones->ToLocal(zone, at);
        if (!local.ok()) {
          ++failures[t];
          continue;
        }
        const std::uint32_t minute = static_cast<std::uint32_t>(local->micros_of_day / kMinuteUs);
        Result<std::int64_t> back = zones->ToUtc(zone, local->date, minute);
        if (!back.ok() || *back != at) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace chatpro::tz
