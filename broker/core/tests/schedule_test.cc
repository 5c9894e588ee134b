// SPDX-License-Identifier: Apache-2.0
// The pure parts of working hours, over a zone database of fixed offsets
// (DST is tested against the real database in broker/tz/tests).
#include "broker/core/schedule.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace chatpro::core {
namespace {

constexpr std::int64_t kMinuteUs = 60'000'000;
constexpr std::int64_t kHourUs = 60 * kMinuteUs;
constexpr std::int64_t kDayUs = 24 * kHourUs;

// Zones with a fixed offset from UTC, in minutes.
class FixedOffsetZoneDb : public ZoneDb {
 public:
  Status CheckZone(std::string_view zone) const override {
    if (offsets_.count(std::string(zone)) == 0) {
      return Status::NotFound("unknown time zone '" + std::string(zone) + "'");
    }
    return Status::Ok();
  }
  Result<LocalTime> ToLocal(std::string_view zone, std::int64_t utc_us) const override {
    if (Status s = CheckZone(zone); !s.ok()) return s;
    const std::int64_t local = utc_us + offsets_.at(std::string(zone)) * kMinuteUs;
    std::int64_t days = local / kDayUs;
    if (local % kDayUs < 0) --days;
    LocalTime t;
    t.date = DateFromDaysSinceEpoch(days);
    t.weekday = WeekdayOf(t.date);
    t.micros_of_day = local - days * kDayUs;
    return t;
  }
  Result<std::int64_t> ToUtc(std::string_view zone, const LocalDate& date,
                             std::uint32_t minute) const override {
    if (Status s = CheckZone(zone); !s.ok()) return s;
    return DaysSinceEpoch(date) * kDayUs +
           (static_cast<std::int64_t>(minute) - offsets_.at(std::string(zone))) * kMinuteUs;
  }

 private:
  std::map<std::string, std::int64_t> offsets_ = {{"UTC", 0}, {"Plus2", 120}, {"Minus5", -300}};
};

LocalDate Date(int y, unsigned m, unsigned d) { return LocalDate{y, m, d}; }

// The instant of local `hour`:`minute` on the date in a zone `offset` minutes east of UTC.
std::int64_t At(const LocalDate& date, int hour, int minute = 0, int offset = 0) {
  return DaysSinceEpoch(date) * kDayUs + (hour * 60 + minute - offset) * kMinuteUs;
}

WorkPeriod P(int sh, int sm, int eh, int em) {
  return WorkPeriod{static_cast<std::uint16_t>(sh * 60 + sm),
                    static_cast<std::uint16_t>(eh * 60 + em)};
}

// Monday to Friday 09:00-12:30 and 13:30-17:00 in `zone`.
WorkingHours OfficeWeek(const std::string& zone) {
  WorkingHours h;
  h.time_zone = zone;
  for (int d = 0; d < 5; ++d) h.week[d] = {P(9, 0, 12, 30), P(13, 30, 17, 0)};
  return h;
}

DutyState Duty(const WorkingHours& h, std::int64_t utc_us) {
  FixedOffsetZoneDb zones;
  Result<DutyState> r = DutyAt(h, utc_us, zones);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : DutyState{};
}

TEST(LocalDates, ParseAcceptsRealDatesOnly) {
  Result<LocalDate> d = ParseLocalDate("2024-02-29");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, Date(2024, 2, 29));
  EXPECT_TRUE(ParseLocalDate("2000-02-29").ok());
  for (const char* bad :
       {"2023-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-05",
        "2026/01/05", "20260105", "", "2026-01-05 ", "0000-01-01", "2026-01-0x"}) {
    Result<LocalDate> r = ParseLocalDate(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos)
          << r.status();
    }
  }
}

TEST(LocalDates, FormatPadsAndRoundTrips) {
  EXPECT_EQ(FormatLocalDate(Date(2026, 3, 9)), "2026-03-09");
  EXPECT_EQ(FormatLocalDate(Date(987, 12, 31)), "0987-12-31");
  for (std::int64_t days = -1000; days < 100000; days += 37) {
    const LocalDate date = DateFromDaysSinceEpoch(days);
    EXPECT_EQ(DaysSinceEpoch(date), days);
    Result<LocalDate> back = ParseLocalDate(FormatLocalDate(date));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, date);
  }
  EXPECT_EQ(WeekdayOf(Date(1970, 1, 1)), 3u);    // Thursday
  EXPECT_EQ(WeekdayOf(Date(2026, 3, 29)), 6u);   // Sunday
  EXPECT_EQ(WeekdayOf(Date(2026, 11, 23)), 0u);  // Monday
}

TEST(WorkingHoursValidation, AcceptsAWellFormedSchedule) {
  WorkingHours h = OfficeWeek("UTC");
  h.week[5] = {P(22, 0, 24, 0)};
  h.week[6] = {P(0, 0, 6, 0)};
  h.holidays = {Date(2026, 12, 25)};
  h.days_off = {Date(2026, 8, 3)};
  h.shifts = {{Date(2026, 5, 2), {P(10, 0, 14, 0)}}, {Date(2026, 5, 3), {}}};
  EXPECT_TRUE(ValidateWorkingHours(h).ok()) << ValidateWorkingHours(h);
}

TEST(WorkingHoursValidation, RefusesBackwardsOverlongAndDuplicatedParts) {
  WorkingHours h = OfficeWeek("UTC");
  h.week[2] = {P(17, 0, 9, 0)};
  Status s = ValidateWorkingHours(h);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("Wednesday"), std::string::npos) << s;
  EXPECT_NE(s.message().find("17:00-09:00"), std::string::npos) << s;

  h = OfficeWeek("UTC");
  h.week[0] = {WorkPeriod{600, 1441}};
  EXPECT_FALSE(ValidateWorkingHours(h).ok());
  h.week[0] = {WorkPeriod{600, 600}};
  EXPECT_FALSE(ValidateWorkingHours(h).ok());

  h = OfficeWeek("UTC");
  h.shifts = {{Date(2026, 5, 2), {P(10, 0, 14, 0)}}, {Date(2026, 5, 2), {}}};
  s = ValidateWorkingHours(h);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("2026-05-02"), std::string::npos) << s;

  h = OfficeWeek("UTC");
  h.holidays = {Date(2026, 2, 30)};
  EXPECT_FALSE(ValidateWorkingHours(h).ok());

  // Limits: a schedule may come from the network.
  h = OfficeWeek("UTC");
  h.week[3].assign(kMaxPeriodsPerDay + 1, P(9, 0, 10, 0));
  EXPECT_NE(ValidateWorkingHours(h).message().find("Thursday: more than"), std::string::npos);
  h = OfficeWeek("UTC");
  h.days_off.assign(kMaxScheduleDates + 1, Date(2026, 1, 1));
  EXPECT_NE(ValidateWorkingHours(h).message().find("days off: more than"), std::string::npos);
  h = OfficeWeek("UTC");
  for (std::size_t i = 0; i <= kMaxScheduleDates; ++i) {
    h.shifts.push_back({DateFromDaysSinceEpoch(static_cast<std::int64_t>(i)), {}});
  }
  EXPECT_NE(ValidateWorkingHours(h).message().find("shift changes: more than"), std::string::npos);
}

TEST(DutyAt, NoScheduleIsAlwaysOnDuty) {
  const DutyState d = Duty(WorkingHours{}, At(Date(2026, 3, 1), 3));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, 0);
}

TEST(DutyAt, FollowsTheWeekInTheScheduleZone) {
  const WorkingHours h = OfficeWeek("Plus2");
  const LocalDate mon = Date(2026, 11, 23);
  // Monday 10:00 local: on duty until the lunch break.
  DutyState d = Duty(h, At(mon, 10, 0, 120));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, At(mon, 12, 30, 120));
  // At the break's first instant: off until 13:30.
  d = Duty(h, At(mon, 12, 30, 120));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, At(mon, 13, 30, 120));
  // Monday 08:59 local is 06:59 UTC: off until 09:00 local.
  d = Duty(h, At(mon, 8, 59, 120));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, At(mon, 9, 0, 120));
  // Friday evening: off until Monday 09:00.
  d = Duty(h, At(Date(2026, 11, 27), 17, 0, 120));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, At(Date(2026, 11, 30), 9, 0, 120));
}

TEST(DutyAt, MergesANightShiftAcrossMidnight) {
  WorkingHours h;
  h.time_zone = "Minus5";
  h.week[0] = {P(22, 0, 24, 0)};  // Monday night ...
  h.week[1] = {P(0, 0, 6, 0)};    // ... into Tuesday morning
  const LocalDate mon = Date(2026, 11, 23), tue = Date(2026, 11, 24);
  DutyState d = Duty(h, At(mon, 23, 0, -300));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, At(tue, 6, 0, -300));
  d = Duty(h, At(tue, 1, 0, -300));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, At(tue, 6, 0, -300));
  d = Duty(h, At(tue, 6, 0, -300));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, At(Date(2026, 11, 30), 22, 0, -300));
}

TEST(DutyAt, HolidaysDaysOffAndShiftChangesReplaceTheWeek) {
  WorkingHours h = OfficeWeek("UTC");
  const LocalDate fri = Date(2026, 11, 27);
  h.holidays = {Date(2026, 11, 30)};                   // Monday
  h.days_off = {Date(2026, 12, 1)};                    // Tuesday
  h.shifts = {{Date(2026, 12, 2), {P(14, 0, 20, 0)}},  // Wednesday late
              {Date(2026, 11, 28), {}},                // a Saturday without work anyway
              {Date(2026, 12, 1), {P(8, 0, 9, 0)}}};   // the day off wins
  DutyState d = Duty(h, At(fri, 18));
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, At(Date(2026, 12, 2), 14));
  d = Duty(h, At(Date(2026, 12, 2), 15));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, At(Date(2026, 12, 2), 20));
  // A shift change on a free Sunday makes it a working day.
  h.shifts = {{Date(2026, 11, 29), {P(10, 0, 11, 0)}}};
  d = Duty(h, At(fri, 18));
  EXPECT_EQ(d.until_us, At(Date(2026, 11, 29), 10));
}

TEST(DutyAt, RoundTheClockNeverChanges) {
  WorkingHours h;
  h.time_zone = "UTC";
  for (auto& day : h.week) day = {P(0, 0, 24, 0)};
  DutyState d = Duty(h, At(Date(2026, 6, 1), 12));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, 0);
  // A holiday in the horizon ends the stretch.
  h.holidays = {Date(2026, 12, 24)};
  d = Duty(h, At(Date(2026, 6, 1), 12));
  EXPECT_TRUE(d.on_duty);
  EXPECT_EQ(d.until_us, At(Date(2026, 12, 24), 0));
}

TEST(DutyAt, LooksFourHundredDaysAhead) {
  WorkingHours h;
  h.time_zone = "UTC";
  const LocalDate today = Date(2026, 1, 1);
  const std::int64_t now = At(today, 12);
  // No working day at all.
  DutyState d = Duty(h, now);
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, 0);
  // A single shift 400 days ahead is found, one 401 days ahead is not.
  const LocalDate in400 = DateFromDaysSinceEpoch(DaysSinceEpoch(today) + 400);
  h.shifts = {{in400, {P(9, 0, 10, 0)}}};
  d = Duty(h, now);
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, At(in400, 9));
  h.shifts = {{DateFromDaysSinceEpoch(DaysSinceEpoch(today) + 401), {P(9, 0, 10, 0)}}};
  d = Duty(h, now);
  EXPECT_FALSE(d.on_duty);
  EXPECT_EQ(d.until_us, 0);
}

TEST(DutyAt, UnknownZoneIsTheZoneDatabaseError) {
  FixedOffsetZoneDb zones;
  Result<DutyState> r = DutyAt(OfficeWeek("Mars/Olympus"), 0, zones);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(EffectiveHours, TakesOnlyWhatTheProfileLetsChange) {
  ScheduleProfile profile;
  profile.name = "office";
  profile.hours = OfficeWeek("Plus2");
  profile.hours.holidays = {Date(2026, 12, 25)};
  WorkingHours own;
  own.time_zone = "Minus5";
  own.week[5] = {P(10, 0, 12, 0)};
  own.days_off = {Date(2026, 8, 3)};
  own.shifts = {{Date(2026, 5, 2), {}}};
  own.holidays = {Date(2026, 1, 2)};

  WorkingHours e = EffectiveHours(profile, own);
  EXPECT_EQ(e.time_zone, "Plus2");
  EXPECT_EQ(e.week[0].size(), 2u);
  EXPECT_TRUE(e.week[5].empty());
  EXPECT_TRUE(e.days_off.empty());
  EXPECT_TRUE(e.shifts.empty());
  EXPECT_EQ(e.holidays, profile.hours.holidays);

  profile.may_change = ScheduleRights{true, true, true, true};
  e = EffectiveHours(profile, own);
  EXPECT_EQ(e.time_zone, "Minus5");
  EXPECT_TRUE(e.week[0].empty());
  EXPECT_EQ(e.week[5].size(), 1u);
  EXPECT_EQ(e.days_off, own.days_off);
  ASSERT_EQ(e.shifts.size(), 1u);
  EXPECT_EQ(e.holidays, profile.hours.holidays);

  // Parts the person leaves unset stay the profile's.
  e = EffectiveHours(profile, WorkingHours{});
  EXPECT_EQ(e.time_zone, "Plus2");
  EXPECT_EQ(e.week[0].size(), 2u);
}

}  // namespace
}  // namespace chatpro::core
