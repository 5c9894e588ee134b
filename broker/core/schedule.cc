// SPDX-License-Identifier: Apache-2.0
#include "broker/core/schedule.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

namespace chatpro::core {
namespace {

constexpr std::uint16_t kMinutesPerDay = 1440;
// Local days looked at after today for the next change.
constexpr std::int64_t kHorizonDays = 400;

bool IsLeap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned DaysInMonth(int year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeap(year)) return 29;
  return kDays[month - 1];
}

bool IsRealDate(const LocalDate& d) {
  return d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= DaysInMonth(d.year, d.month);
}

// Days since 1970-01-01 (H. Hinnant's days_from_civil): day arithmetic on
// calendar dates only; instants are the zone database's business.
std::int64_t DaysFromCivil(const LocalDate& d) {
  const std::int64_t y = static_cast<std::int64_t>(d.year) - (d.month <= 2 ? 1 : 0);
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t m = d.month;
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d.day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

LocalDate CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return LocalDate{static_cast<int>(y), static_cast<unsigned>(m), static_cast<unsigned>(d)};
}

// 0 = Monday; 1970-01-01 was a Thursday.
unsigned WeekdayFromDays(std::int64_t days) {
  const std::int64_t w = (days + 3) % 7;
  return static_cast<unsigned>(w < 0 ? w + 7 : w);
}

std::string FormatMinute(std::uint32_t minute) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02u:%02u", minute / 60, minute % 60);
  return buf;
}

const char* const kWeekdayNames[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                      "Friday", "Saturday", "Sunday"};

Status CheckPeriods(const std::vector<WorkPeriod>& periods, const std::string& where) {
  if (periods.size() > kMaxPeriodsPerDay) {
    return Status::InvalidArgument(where + ": more than " + std::to_string(kMaxPeriodsPerDay) +
                                   " periods");
  }
  for (std::size_t i = 0; i < periods.size(); ++i) {
    const WorkPeriod& p = periods[i];
    if (p.end_minute > kMinutesPerDay) {
      return Status::InvalidArgument(where + ": period " + std::to_string(i + 1) +
                                     " ends after 24:00");
    }
    if (p.start_minute >= p.end_minute) {
      return Status::InvalidArgument(
          where + ": period " + std::to_string(i + 1) + " (" + FormatMinute(p.start_minute) + "-" +
          FormatMinute(p.end_minute) + ") does not start before it ends");
    }
  }
  return Status::Ok();
}

Status CheckDates(const std::vector<LocalDate>& dates, const char* what) {
  if (dates.size() > kMaxScheduleDates) {
    return Status::InvalidArgument(std::string(what) + ": more than " +
                                   std::to_string(kMaxScheduleDates) + " dates");
  }
  for (const LocalDate& d : dates) {
    if (!IsRealDate(d)) {
      return Status::InvalidArgument(std::string(what) + ": " + FormatLocalDate(d) +
                                     " is not a real date");
    }
  }
  return Status::Ok();
}

bool Contains(const std::vector<LocalDate>& dates, const LocalDate& d) {
  return std::find(dates.begin(), dates.end(), d) != dates.end();
}

// The sorted, merged working periods of one local date; invalid periods are
// ignored (ValidateWorkingHours refuses them before they are stored).
std::vector<WorkPeriod> PeriodsOn(const WorkingHours& hours, const LocalDate& date,
                                  unsigned weekday) {
  if (Contains(hours.holidays, date) || Contains(hours.days_off, date)) return {};
  const std::vector<WorkPeriod>* source = &hours.week[weekday];
  for (const ShiftChange& s : hours.shifts) {
    if (s.date == date) {
      source = &s.periods;
      break;
    }
  }
  std::vector<WorkPeriod> periods;
  for (const WorkPeriod& p : *source) {
    if (p.start_minute < p.end_minute && p.end_minute <= kMinutesPerDay) periods.push_back(p);
  }
  std::sort(periods.begin(), periods.end(), [](const WorkPeriod& a, const WorkPeriod& b) {
    return a.start_minute < b.start_minute;
  });
  std::vector<WorkPeriod> merged;
  for (const WorkPeriod& p : periods) {
    if (!merged.empty() && p.start_minute <= merged.back().end_minute) {
      merged.back().end_minute = std::max(merged.back().end_minute, p.end_minute);
    } else {
      merged.push_back(p);
    }
  }
  return merged;
}

bool HasAnyPeriod(const WorkingHours& hours) {
  for (const auto& day : hours.week) {
    if (!day.empty()) return true;
  }
  for (const ShiftChange& s : hours.shifts) {
    if (!s.periods.empty()) return true;
  }
  return false;
}

// Splits a comma list, trimming each item; an empty text is an empty list.
std::vector<std::string_view> SplitList(std::string_view text) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  };
  std::vector<std::string_view> out;
  text = trim(text);
  if (text.empty()) return out;
  while (true) {
    const std::size_t comma = text.find(',');
    out.push_back(trim(text.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  return out;
}

// "HH:MM" -> minutes; 24:00 only if `allow_end_of_day`.
std::optional<std::uint16_t> ParseClock(std::string_view t, bool allow_end_of_day) {
  if (t.size() != 5 || t[2] != ':') return std::nullopt;
  for (std::size_t i : {0, 1, 3, 4}) {
    if (t[i] < '0' || t[i] > '9') return std::nullopt;
  }
  const int h = (t[0] - '0') * 10 + (t[1] - '0');
  const int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && allow_end_of_day) return kMinutesPerDay;
  if (h > 23) return std::nullopt;
  return static_cast<std::uint16_t>(h * 60 + m);
}

bool IsLogin(std::string_view login) {
  if (login.empty() || login.size() > 32) return false;
  const char first = login.front();
  if (!((first >= 'a' && first <= 'z') || (first >= '0' && first <= '9'))) return false;
  return std::all_of(login.begin(), login.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

constexpr const char* kDayKeys[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

}  // namespace

Result<DayPeriods> ParseDayPeriods(std::string_view text) {
  DayPeriods out;
  const std::vector<std::string_view> items = SplitList(text);
  if (items.size() == 1 && items[0] == "off") return out;
  if (items.empty()) {
    return Status::InvalidArgument("is empty (write 'off' for a day without work)");
  }
  for (std::string_view item : items) {
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("'" + std::string(item) + "' " + why);
    };
    const std::size_t dash = item.find('-');
    if (dash == std::string_view::npos) return bad("is not a period like 09:00-17:00");
    std::string_view from = item.substr(0, dash), to = item.substr(dash + 1);
    while (!from.empty() && from.back() == ' ') from.remove_suffix(1);
    while (!to.empty() && to.front() == ' ') to.remove_prefix(1);
    const std::optional<std::uint16_t> start = ParseClock(from, false);
    const std::optional<std::uint16_t> end = ParseClock(to, true);
    if (!start || !end) {
      return bad("is not a period like 09:00-17:00 (times HH:MM, 24:00 only as an end)");
    }
    if (*start == *end) return bad("lasts no time");
    if (*start < *end) {
      out.same_day.push_back(WorkPeriod{*start, *end});
    } else {
      // Runs past midnight.
      out.same_day.push_back(WorkPeriod{*start, kMinutesPerDay});
      if (*end > 0) out.next_day.push_back(WorkPeriod{0, *end});
    }
  }
  return out;
}

Result<std::vector<ScheduleProfile>> ParseScheduleProfiles(
    const std::vector<ScheduleSectionOptions>& sections, const ZoneDb& zones) {
  std::vector<ScheduleProfile> profiles;
  std::string default_name;
  std::vector<std::pair<std::string, std::string>> member_of;  // login -> profile
  for (const ScheduleSectionOptions& section : sections) {
    const std::string where = (section.where.empty() ? std::string() : section.where + ": ") +
                              "[schedule." + section.name + "]";
    auto error = [&](const std::string& key, const Status& why) {
      return Status(why.code(), where + (key.empty() ? "" : " " + key) + ": " + why.message());
    };
    auto invalid = [&](const std::string& key, const std::string& why) {
      return error(key, Status::InvalidArgument(why));
    };
    for (const ScheduleProfile& p : profiles) {
      if (p.name == section.name) return invalid("", "the profile is defined twice");
    }
    ScheduleProfile profile;
    profile.name = section.name;
    std::vector<std::string> seen;
    for (const auto& [key, value] : section.settings) {
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        return invalid(key, "is set twice");
      }
      seen.push_back(key);
      const auto day = std::find(std::begin(kDayKeys), std::end(kDayKeys), key);
      if (key == "time_zone") {
        if (value.empty()) return invalid(key, "is empty (e.g. time_zone = Europe/Berlin)");
        if (Status s = zones.CheckZone(value); !s.ok()) return error(key, s);
        profile.hours.time_zone = value;
      } else if (day != std::end(kDayKeys)) {
        Result<DayPeriods> periods = ParseDayPeriods(value);
        if (!periods.ok()) return error(key, periods.status());
        const std::size_t w = static_cast<std::size_t>(day - std::begin(kDayKeys));
        auto& today = profile.hours.week[w];
        today.insert(today.end(), periods->same_day.begin(), periods->same_day.end());
        auto& tomorrow = profile.hours.week[(w + 1) % 7];
        tomorrow.insert(tomorrow.end(), periods->next_day.begin(), periods->next_day.end());
      } else if (key == "holidays") {
        for (std::string_view item : SplitList(value)) {
          Result<LocalDate> date = ParseLocalDate(item);
          if (!date.ok()) return error(key, date.status());
          if (!Contains(profile.hours.holidays, *date)) profile.hours.holidays.push_back(*date);
        }
      } else if (key == "members") {
        for (std::string_view item : SplitList(value)) {
          if (!IsLogin(item)) {
            return invalid(key, "'" + std::string(item) +
                                    "' is not a login (1 to 32 of a-z, 0-9, '.', '_', '-')");
          }
          const std::string login(item);
          for (const auto& [other_login, other_profile] : member_of) {
            if (other_login == login) {
              return invalid(
                  key, "'" + login + "' is a member of [schedule." + other_profile + "] already");
            }
          }
          member_of.emplace_back(login, profile.name);
          profile.members.push_back(login);
        }
      } else if (key == "default") {
        if (value != "true" && value != "false") return invalid(key, "is true or false");
        profile.is_default = value == "true";
      } else if (key == "may_change") {
        for (std::string_view item : SplitList(value)) {
          if (item == "time_zone") {
            profile.may_change.time_zone = true;
          } else if (item == "week") {
            profile.may_change.week = true;
          } else if (item == "days_off") {
            profile.may_change.days_off = true;
          } else if (item == "shifts") {
            profile.may_change.shifts = true;
          } else {
            return invalid(
                key, "'" + std::string(item) + "' is not one of time_zone, week, days_off, shifts");
          }
        }
      } else {
        return invalid(key,
                       "is not a schedule setting (time_zone, mon ... sun, holidays, "
                       "members, default, may_change)");
      }
    }
    if (profile.hours.time_zone.empty()) {
      return invalid("time_zone", "is missing (e.g. time_zone = Europe/Berlin)");
    }
    if (profile.is_default) {
      if (!default_name.empty()) {
        return invalid("default", "[schedule." + default_name + "] is the default profile already");
      }
      if (!profile.members.empty()) {
        return invalid("members",
                       "the default profile applies to everyone no other profile "
                       "names; it lists no members");
      }
    }
    if (Status s = ValidateWorkingHours(profile.hours); !s.ok()) return invalid("", s.message());
    if (profile.is_default) default_name = profile.name;
    profiles.push_back(std::move(profile));
  }
  return profiles;
}

Result<LocalDate> ParseLocalDate(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a date (YYYY-MM-DD)");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  auto number = [&](std::size_t pos, std::size_t len, int& out) {
    out = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y = 0, m = 0, d = 0;
  if (!number(0, 4, y) || !number(5, 2, m) || !number(8, 2, d)) return bad();
  LocalDate date{y, static_cast<unsigned>(m), static_cast<unsigned>(d)};
  if (y < 1 || !IsRealDate(date)) return bad();
  return date;
}

std::int64_t DaysSinceEpoch(const LocalDate& date) { return DaysFromCivil(date); }
LocalDate DateFromDaysSinceEpoch(std::int64_t days) { return CivilFromDays(days); }
unsigned WeekdayOf(const LocalDate& date) { return WeekdayFromDays(DaysFromCivil(date)); }

std::string FormatLocalDate(const LocalDate& date) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", date.year, date.month, date.day);
  return buf;
}

Status ValidateWorkingHours(const WorkingHours& hours) {
  for (unsigned w = 0; w < 7; ++w) {
    Status s = CheckPeriods(hours.week[w], std::string("week: ") + kWeekdayNames[w]);
    if (!s.ok()) return s;
  }
  if (Status s = CheckDates(hours.days_off, "days off"); !s.ok()) return s;
  if (Status s = CheckDates(hours.holidays, "holidays"); !s.ok()) return s;
  if (hours.shifts.size() > kMaxScheduleDates) {
    return Status::InvalidArgument("shift changes: more than " + std::to_string(kMaxScheduleDates) +
                                   " dates");
  }
  for (std::size_t i = 0; i < hours.shifts.size(); ++i) {
    const ShiftChange& shift = hours.shifts[i];
    const std::string where = "shift change on " + FormatLocalDate(shift.date);
    if (!IsRealDate(shift.date)) return Status::InvalidArgument(where + ": not a real date");
    if (Status s = CheckPeriods(shift.periods, where); !s.ok()) return s;
    for (std::size_t j = 0; j < i; ++j) {
      if (hours.shifts[j].date == shift.date) {
        return Status::InvalidArgument(where + ": the date has two shift changes");
      }
    }
  }
  return Status::Ok();
}

Result<DutyState> DutyAt(const WorkingHours& hours, std::int64_t utc_us, const ZoneDb& zones) {
  if (hours.empty()) return DutyState{true, 0};
  CHATPRO_ASSIGN_OR_RETURN(const LocalTime now, zones.ToLocal(hours.time_zone, utc_us));
  if (!HasAnyPeriod(hours)) return DutyState{false, 0};

  // Walks the working periods as UTC stretches from yesterday (a period of
  // yesterday may still run: it ends at the latest at today's midnight) and
  // merges those that touch, also across midnight and DST changes. The first
  // stretch that contains `utc_us` or starts after it decides.
  const std::int64_t today = DaysFromCivil(now.date);
  std::optional<std::pair<std::int64_t, std::int64_t>> stretch;  // [start, end) in UTC
  for (std::int64_t day = today - 1; day <= today + kHorizonDays; ++day) {
    const LocalDate date = CivilFromDays(day);
    for (const WorkPeriod& p : PeriodsOn(hours, date, WeekdayFromDays(day))) {
      CHATPRO_ASSIGN_OR_RETURN(const std::int64_t start,
                               zones.ToUtc(hours.time_zone, date, p.start_minute));
      std::int64_t end = 0;
      if (p.end_minute == kMinutesPerDay) {
        CHATPRO_ASSIGN_OR_RETURN(end, zones.ToUtc(hours.time_zone, CivilFromDays(day + 1), 0));
      } else {
        CHATPRO_ASSIGN_OR_RETURN(end, zones.ToUtc(hours.time_zone, date, p.end_minute));
      }
      // A period inside the hour skipped when clocks go forward lasts no time.
      if (end <= start) continue;
      if (stretch && start <= stretch->second) {
        stretch->second = std::max(stretch->second, end);
        continue;
      }
      if (stretch && stretch->first <= utc_us && utc_us < stretch->second) {
        return DutyState{true, stretch->second};
      }
      if (start > utc_us) return DutyState{false, start};
      stretch = std::make_pair(start, end);
    }
  }
  if (stretch && stretch->first <= utc_us && utc_us < stretch->second) {
    // A stretch that lasts to the end of the horizon never ends as far as we know.
    Result<std::int64_t> horizon_end =
        zones.ToUtc(hours.time_zone, CivilFromDays(today + kHorizonDays + 1), 0);
    if (!horizon_end.ok()) return horizon_end.status();
    return DutyState{true, stretch->second >= *horizon_end ? 0 : stretch->second};
  }
  return DutyState{false, 0};
}

WorkingHours EffectiveHours(const ScheduleProfile& profile, const WorkingHours& own) {
  WorkingHours out = profile.hours;
  const ScheduleRights& may = profile.may_change;
  if (may.time_zone && !own.time_zone.empty()) out.time_zone = own.time_zone;
  const bool own_week = std::any_of(own.week.begin(), own.week.end(),
                                    [](const std::vector<WorkPeriod>& d) { return !d.empty(); });
  if (may.week && own_week) out.week = own.week;
  if (may.days_off && !own.days_off.empty()) out.days_off = own.days_off;
  if (may.shifts && !own.shifts.empty()) out.shifts = own.shifts;
  out.holidays = profile.hours.holidays;
  return out;
}

}  // namespace chatpro::core
