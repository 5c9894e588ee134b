// SPDX-License-Identifier: Apache-2.0
//
// Working hours: when a person is on duty, in their own time zone.
//
// A WorkingHours value is a person's effective schedule: their profile's (the
// organisation's default for a group of staff, from the configuration) with
// the parts they may change replaced by their own. DutyAt() says whether they
// are on duty at an instant and until when, walking local days in the
// schedule's time zone through a ZoneDb, so daylight-saving changes and
// zone changes are the time-zone library's business, never arithmetic here.
//
// Rules:
//  - A local date is off if it is a holiday or a day off; else its periods are
//    those of a shift change for that date if there is one, else the week's
//    periods for its weekday. Periods are [start, end) minutes of local time;
//    adjacent or overlapping periods merge, also across midnight (a period
//    ending at 1440 followed by one starting at 0 the next day is one stretch).
//  - A local time that does not exist (the hour skipped when clocks go
//    forward) maps to the instant the clocks jumped to; an ambiguous one (the
//    hour repeated when clocks go back) to its first occurrence.
//  - No schedule at all (an empty time zone) means always on duty.
//
// Thread-safety: values; ZoneDb implementations must be thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/config/options.h"

namespace chatpro::core {

// A calendar date (proleptic Gregorian).
struct LocalDate {
  int year = 1970;
  unsigned month = 1;  // 1..12
  unsigned day = 1;    // 1..31
  bool operator==(const LocalDate& o) const {
    return year == o.year && month == o.month && day == o.day;
  }
  bool operator<(const LocalDate& o) const {
    if (year != o.year) return year < o.year;
    if (month != o.month) return month < o.month;
    return day < o.day;
  }
};

// "YYYY-MM-DD"; InvalidArgument naming the text if it is not a real date.
Result<LocalDate> ParseLocalDate(std::string_view text);
std::string FormatLocalDate(const LocalDate& date);

// Calendar arithmetic (no time zones): days since 1970-01-01 and back, and
// the weekday (0 = Monday ... 6 = Sunday). REQUIRES: a real date.
std::int64_t DaysSinceEpoch(const LocalDate& date);
LocalDate DateFromDaysSinceEpoch(std::int64_t days);
unsigned WeekdayOf(const LocalDate& date);

// Minutes from local midnight, [start_minute, end_minute); end <= 1440.
struct WorkPeriod {
  std::uint16_t start_minute = 0;
  std::uint16_t end_minute = 0;
  bool operator==(const WorkPeriod& o) const {
    return start_minute == o.start_minute && end_minute == o.end_minute;
  }
};

struct ShiftChange {
  LocalDate date;
  std::vector<WorkPeriod> periods;  // empty: the whole day off
};

struct WorkingHours {
  std::string time_zone;  // IANA name; empty: no schedule (always on duty)
  std::array<std::vector<WorkPeriod>, 7> week;  // [0] Monday ... [6] Sunday
  std::vector<LocalDate> days_off;
  std::vector<LocalDate> holidays;
  std::vector<ShiftChange> shifts;

  bool empty() const { return time_zone.empty(); }
};

// Limits on a schedule (it may come from the network): periods per day (a
// week day or a shift change), and entries in each of days_off, holidays and
// shifts.
inline constexpr std::size_t kMaxPeriodsPerDay = 48;
inline constexpr std::size_t kMaxScheduleDates = 1000;

// Checks periods (start < end <= 1440) and that shift dates are unique.
// InvalidArgument saying what is wrong.
// Also checks that every date is a real one and the limits above.
Status ValidateWorkingHours(const WorkingHours& hours);

// Local civil time: a date and the minutes (and microseconds within the
// minute) since its midnight.
struct LocalTime {
  LocalDate date;
  unsigned weekday = 0;  // 0 = Monday ... 6 = Sunday
  std::int64_t micros_of_day = 0;
};

// The time-zone database (an adapter implements it with a real library).
class ZoneDb {
 public:
  virtual ~ZoneDb() = default;
  // OK if `zone` is a known IANA name, else NotFound naming it.
  virtual Status CheckZone(std::string_view zone) const = 0;
  // The local time in `zone` at Unix microseconds `utc_us`.
  virtual Result<LocalTime> ToLocal(std::string_view zone, std::int64_t utc_us) const = 0;
  // The instant (Unix microseconds) of local midnight + `minute` on `date`
  // in `zone`, resolving skipped and repeated local times as described above.
  virtual Result<std::int64_t> ToUtc(std::string_view zone, const LocalDate& date,
                                     std::uint32_t minute) const = 0;
};

struct DutyState {
  bool on_duty = true;
  // When the state changes next (Unix microseconds); 0 if it never does
  // (no schedule, or no working period within the horizon looked at).
  std::int64_t until_us = 0;
};

// Whether `hours` has its person on duty at `utc_us`, and until when. Looks
// up to 400 local days ahead for the next change. On failure returns the
// zone database's error (unknown zone).
Result<DutyState> DutyAt(const WorkingHours& hours, std::int64_t utc_us, const ZoneDb& zones);

// What a person may change of their profile's schedule.
struct ScheduleRights {
  bool time_zone = false;
  bool week = false;
  bool days_off = false;
  bool shifts = false;
};

// The organisation's default schedule for a group of staff: a [schedule.NAME]
// section of the configuration.
struct ScheduleProfile {
  std::string name;
  WorkingHours hours;           // holidays apply to everyone of the profile
  ScheduleRights may_change;
  std::vector<std::string> members;  // logins; empty with `is_default`
  bool is_default = false;           // for everyone not named by another profile
};

// The working periods of one day as a profile writes them: "off", or a comma
// list of HH:MM-HH:MM ("09:00-12:30, 13:30-17:00"; 24:00 only as an end). A
// period that ends before it starts runs past midnight ("22:00-06:00"): its
// part after midnight is returned in `next_day`. On failure returns
// InvalidArgument saying what is wrong with the text.
struct DayPeriods {
  std::vector<WorkPeriod> same_day;
  std::vector<WorkPeriod> next_day;
};
Result<DayPeriods> ParseDayPeriods(std::string_view text);

// Builds the profiles from the configuration's [schedule.NAME] sections.
// Keys: `time_zone` (required, an IANA name `zones` knows), `mon` ... `sun`
// (ParseDayPeriods; an unlisted day is off; a night period's part after
// midnight belongs to the next weekday), `holidays` (comma list of
// YYYY-MM-DD), `members` (comma list of logins), `default` (true|false),
// `may_change` (comma list of time_zone, week, days_off, shifts). At most one
// profile is the default, and it lists no members; a login belongs to at
// most one profile. On failure returns InvalidArgument (NotFound for an
// unknown time zone) naming where the section is, the section and the key.
Result<std::vector<ScheduleProfile>> ParseScheduleProfiles(
    const std::vector<ScheduleSectionOptions>& sections, const ZoneDb& zones);

// The effective schedule: `profile`'s, with each part the profile lets the
// person change taken from `own` where `own` sets it (a non-empty time zone,
// week, day-off list or shift list). Holidays always come from the profile.
WorkingHours EffectiveHours(const ScheduleProfile& profile, const WorkingHours& own);

}  // namespace chatpro::core
