// SPDX-License-Identifier: Apache-2.0
// core::DutyAt over the real tz database: daylight-saving changes, night
// shifts, days without work, and people in different zones.
#include <gtest/gtest.h>

#include "broker/core/schedule.h"
#include "broker/tz/system_zone_db.h"
#include "broker/tz/tests/tz_test_util.h"

namespace chatpro::tz {
namespace {

using core::DutyState;
using core::WorkingHours;
using testing::Date;
using testing::kHourUs;
using testing::P;
using testing::Utc;

class DutyAtTest : public ::testing::Test {
 protected:
  DutyState Duty(const WorkingHours& h, std::int64_t utc_us) {
    Result<DutyState> r = core::DutyAt(h, utc_us, *zones_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : DutyState{};
  }

  // Every day 09:00-17:00 in `zone`.
  static WorkingHours EveryDay(const char* zone, core::WorkPeriod p = P(9, 0, 17, 0)) {
    WorkingHours h;
    h.time_zone = zone;
    for (auto& day : h.week) day = {p};
    return h;
  }

  // Monday to Friday 09:00-17:00 in `zone`.
  static WorkingHours Weekdays(const char* zone) {
    WorkingHours h;
    h.time_zone = zone;
    for (int d = 0; d < 5; ++d) h.week[d] = {P(9, 0, 17, 0)};
    return h;
  }

  std::unique_ptr<core::ZoneDb> zones_ = SystemZoneDb();
};

TEST_F(DutyAtTest, AWorkingDayIsEightLocalHoursAcrossBerlinsSpringChange) {
  const WorkingHours h = EveryDay("Europe/Berlin");
  // Saturday 2026-03-28 in CET (UTC+1), Sunday 2026-03-29 in CEST (UTC+2).
  DutyState d = Duty(h, Utc(2026, 3, 28, 8, 30));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 3, 28, 16));
  d = Duty(h, Utc(2026, 3, 28, 16));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 3, 29, 7));  // 09:00 CEST: the night was an hour shorter
  d = Duty(h, Utc(2026, 3, 29, 7));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 3, 29, 15));
  EXPECT_EQ(d.until_us - Utc(2026, 3, 29, 7), 8 * kHourUs);
}

TEST_F(DutyAtTest, AWorkingDayIsEightLocalHoursAcrossBerlinsAutumnChange) {
  const WorkingHours h = EveryDay("Europe/Berlin");
  // Sunday 2026-10-25 is in CET (UTC+1) from 03:00 CEST on.
  DutyState d = Duty(h, Utc(2026, 10, 24, 14));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 10, 24, 15));
  d = Duty(h, Utc(2026, 10, 24, 15));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 10, 25, 8));  // the night was an hour longer
  d = Duty(h, Utc(2026, 10, 25, 12));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 10, 25, 16));
}

TEST_F(DutyAtTest, PeriodsAroundTheSkippedHourLastOnlyTheTimeThatExists) {
  WorkingHours h;
  h.time_zone = "Europe/Berlin";
  // 01:30-03:30 on the spring Sunday is one real hour (00:30-01:30 UTC).
  h.shifts = {{Date(2026, 3, 29), {P(1, 30, 3, 30)}}};
  DutyState d = Duty(h, Utc(2026, 3, 28, 20));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 3, 29, 0, 30));
  d = Duty(h, Utc(2026, 3, 29, 1));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 3, 29, 1, 30));
  // 02:00-03:00 on that day never happens: nothing to be on duty for.
  h.shifts = {{Date(2026, 3, 29), {P(2, 0, 3, 0)}}, {Date(2026, 3, 30), {P(9, 0, 10, 0)}}};
  d = Duty(h, Utc(2026, 3, 28, 20));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 3, 30, 7));
  // The repeated hour in autumn: 02:00-03:00 runs from the first 02:00 to
  // 03:00 CET, two real hours.
  h.shifts = {{Date(2026, 10, 25), {P(2, 0, 3, 0)}}};
  d = Duty(h, Utc(2026, 10, 25, 0, 30));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 10, 25, 2));
}

TEST_F(DutyAtTest, NewYorkChangesOnItsOwnDates) {
  const WorkingHours h = Weekdays("America/New_York");
  // Friday 2026-03-06 in EST (UTC-5); Monday 2026-03-09 in EDT (UTC-4).
  DutyState d = Duty(h, Utc(2026, 3, 6, 15));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 3, 6, 22));
  d = Duty(h, Utc(2026, 3, 6, 22));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 3, 9, 13));
  // Friday 2026-10-30 in EDT; Monday 2026-11-02 in EST.
  d = Duty(h, Utc(2026, 10, 30, 21));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 11, 2, 14));
}

TEST_F(DutyAtTest, ANightShiftRunsAcrossMidnightAndTheClockChange) {
  WorkingHours h;
  h.time_zone = "Europe/Berlin";
  for (auto& day : h.week) day = {P(0, 0, 6, 0), P(22, 0, 24, 0)};  // 22:00-06:00 nightly
  // Saturday 2026-10-24 22:00 CEST (20:00 UTC) to Sunday 06:00 CET (05:00 UTC): 9 hours.
  DutyState d = Duty(h, Utc(2026, 10, 24, 19));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 10, 24, 20));
  d = Duty(h, Utc(2026, 10, 24, 23));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 10, 25, 5));
  d = Duty(h, Utc(2026, 10, 25, 1));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 10, 25, 5));
  d = Duty(h, Utc(2026, 10, 25, 5));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 10, 25, 21));
}

TEST_F(DutyAtTest, HolidaysAndDaysOffAreSkippedForTheNextChange) {
  WorkingHours h = Weekdays("Europe/Berlin");
  h.holidays = {Date(2026, 12, 24), Date(2026, 12, 25)};  // Thursday, Friday
  h.days_off = {Date(2026, 12, 28), Date(2026, 12, 29)};  // Monday, Tuesday
  // Wednesday 23rd after work: next on duty Wednesday 30th 09:00 CET.
  DutyState d = Duty(h, Utc(2026, 12, 23, 17));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 12, 30, 8));
  // During a holiday's would-be working hours: off.
  d = Duty(h, Utc(2026, 12, 24, 10));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 12, 30, 8));
}

TEST_F(DutyAtTest, ShiftChangesReplaceTheWeekForTheirDate) {
  WorkingHours h = Weekdays("Europe/Berlin");
  h.shifts = {{Date(2026, 12, 1), {P(13, 0, 21, 0)}},   // Tuesday late
              {Date(2026, 12, 2), {}},                  // Wednesday free
              {Date(2026, 12, 5), {P(10, 0, 14, 0)}}};  // Saturday
  DutyState d = Duty(h, Utc(2026, 12, 1, 9));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 12, 1, 12));
  d = Duty(h, Utc(2026, 12, 1, 19));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 12, 1, 20));
  d = Duty(h, Utc(2026, 12, 1, 20));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 12, 3, 8));
  d = Duty(h, Utc(2026, 12, 4, 18));
  EXPECT_EQ(d.until_us, Utc(2026, 12, 5, 9));
}

TEST_F(DutyAtTest, TheSameInstantIsMorningInTokyoAndNightInLondon) {
  const WorkingHours tokyo = Weekdays("Asia/Tokyo");
  const WorkingHours london = Weekdays("Europe/London");
  const std::int64_t now = Utc(2026, 11, 25, 0, 30);  // Wednesday 09:30 JST, 00:30 GMT
  DutyState t = Duty(tokyo, now);
  EXPECT_TRUE(t.on_duty);
  EXPECT_EQ(t.until_us, Utc(2026, 11, 25, 8));
  DutyState l = Duty(london, now);
  EXPECT_FALSE(l.on_duty);
  EXPECT_EQ(l.until_us, Utc(2026, 11, 25, 9));
}

TEST_F(DutyAtTest, WithoutWorkingDaysWithinFourHundredDaysItNeverChanges) {
  WorkingHours h;
  h.time_zone = "Europe/Berlin";
  DutyState d = Duty(h, Utc(2026, 11, 25, 12));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, 0);
  // Only work that is more than 400 days away.
  h.shifts = {{Date(2028, 6, 1), {P(9, 0, 17, 0)}}};
  d = Duty(h, Utc(2026, 11, 25, 12));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, 0);
  // A whole year of holidays over the week is skipped.
  h = Weekdays("Europe/Berlin");
  for (std::int64_t day = core::DaysSinceEpoch(Date(2026, 11, 25));
       day < core::DaysSinceEpoch(Date(2027, 11, 25)); ++day) {
    h.holidays.push_back(core::DateFromDaysSinceEpoch(day));
  }
  d = Duty(h, Utc(2026, 11, 25, 12));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2027, 11, 25, 8));  // a Thursday, in CET
}

TEST_F(DutyAtTest, AnUnknownZoneIsAnError) {
  Result<DutyState> r = core::DutyAt(Weekdays("Europe/Atlantis"), Utc(2026, 1, 1, 0), *zones_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("Europe/Atlantis"), std::string::npos);
}

TEST_F(DutyAtTest, EffectiveHoursHonourWhatThePersonMayChange) {
  core::ScheduleProfile office;
  office.name = "office";
  office.hours = Weekdays("Europe/London");
  office.hours.holidays = {Date(2026, 11, 26)};
  WorkingHours own;
  own.time_zone = "Asia/Tokyo";
  own.days_off = {Date(2026, 11, 25)};
  const std::int64_t now = Utc(2026, 11, 25, 10);  // Wednesday 10:00 GMT, 19:00 JST

  // May change nothing: London office hours.
  DutyState d = Duty(core::EffectiveHours(office, own), now);
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 11, 25, 17));
  // May change the zone: Tokyo hours, over by now; Thursday is the profile's holiday.
  office.may_change.time_zone = true;
  d = Duty(core::EffectiveHours(office, own), now);
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 11, 27, 0));
  // May change days off too, but not the zone: Wednesday is off in London.
  office.may_change = core::ScheduleRights{false, false, true, false};
  d = Duty(core::EffectiveHours(office, own), now);
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, Utc(2026, 11, 27, 9));
}

}  // namespace
}  // namespace chatpro::tz
