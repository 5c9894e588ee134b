// SPDX-License-Identifier: Apache-2.0
// core::ParseScheduleProfiles over the real tz database.
#include <gtest/gtest.h>

#include "broker/config/config.h"
#include "broker/core/schedule.h"
#include "broker/tz/system_zone_db.h"
#include "broker/tz/tests/tz_test_util.h"

namespace chatpro::tz {
namespace {

using testing::Date;
using testing::P;
using KV = std::vector<std::pair<std::string, std::string>>;

ScheduleSectionOptions Section(const std::string& name, KV settings) {
  return ScheduleSectionOptions{name, std::move(settings), "c.conf:" + std::to_string(name.size())};
}

TEST(ScheduleProfiles, ParsesEveryKey) {
  auto zones = SystemZoneDb();
  Result<std::vector<core::ScheduleProfile>> r =
      core::ParseScheduleProfiles({Section("office", {{"time_zone", "Europe/Berlin"},
                                                      {"mon", "09:00-12:30, 13:30-17:00"},
                                                      {"tue", "09:00-17:00"},
                                                      {"sat", "off"},
                                                      {"holidays", "2026-12-25, 2026-12-26"},
                                                      {"default", "true"},
                                                      {"may_change", "days_off, shifts"}}),
                                   Section("nights", {{"time_zone", "Europe/Berlin"},
                                                      {"fri", "22:00-06:00"},
                                                      {"sun", "20:00-24:00, 23:00-04:00"},
                                                      {"members", "ana, bo.k"},
                                                      {"may_change", "time_zone,week"}})},
                                  *zones);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  const core::ScheduleProfile& office = (*r)[0];
  EXPECT_EQ(office.name, "office");
  EXPECT_EQ(office.hours.time_zone, "Europe/Berlin");
  EXPECT_EQ(office.hours.week[0],
            (std::vector<core::WorkPeriod>{P(9, 0, 12, 30), P(13, 30, 17, 0)}));
  EXPECT_EQ(office.hours.week[1], (std::vector<core::WorkPeriod>{P(9, 0, 17, 0)}));
  for (int d = 2; d < 7; ++d) EXPECT_TRUE(office.hours.week[d].empty()) << d;
  EXPECT_EQ(office.hours.holidays,
            (std::vector<core::LocalDate>{Date(2026, 12, 25), Date(2026, 12, 26)}));
  EXPECT_TRUE(office.is_default);
  EXPECT_TRUE(office.members.empty());
  EXPECT_FALSE(office.may_change.time_zone);
  EXPECT_FALSE(office.may_change.week);
  EXPECT_TRUE(office.may_change.days_off);
  EXPECT_TRUE(office.may_change.shifts);

  const core::ScheduleProfile& nights = (*r)[1];
  EXPECT_FALSE(nights.is_default);
  EXPECT_EQ(nights.members, (std::vector<std::string>{"ana", "bo.k"}));
  // A night period's part after midnight belongs to the next weekday.
  EXPECT_EQ(nights.hours.week[4], (std::vector<core::WorkPeriod>{P(22, 0, 24, 0)}));
  EXPECT_EQ(nights.hours.week[5], (std::vector<core::WorkPeriod>{P(0, 0, 6, 0)}));
  EXPECT_EQ(nights.hours.week[6],
            (std::vector<core::WorkPeriod>{P(20, 0, 24, 0), P(23, 0, 24, 0)}));
  EXPECT_EQ(nights.hours.week[0], (std::vector<core::WorkPeriod>{P(0, 0, 4, 0)}));
  EXPECT_TRUE(nights.may_change.time_zone);
  EXPECT_TRUE(nights.may_change.week);

  // No sections, no profiles.
  r = core::ParseScheduleProfiles({}, *zones);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(ScheduleProfiles, ANightShiftProfileIsOnDutyAcrossMidnight) {
  auto zones = SystemZoneDb();
  auto r = core::ParseScheduleProfiles(
      {Section("nights", {{"time_zone", "Europe/Berlin"}, {"fri", "22:00-06:00"}})}, *zones);
  ASSERT_TRUE(r.ok()) << r.status();
  // Saturday 2026-11-28 03:00 CET.
  Result<core::DutyState> d = core::DutyAt((*r)[0].hours, testing::Utc(2026, 11, 28, 2), *zones);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->on_duty);
  EXPECT_EQ(d->until_us, testing::Utc(2026, 11, 28, 5));
}

TEST(ScheduleProfiles, ErrorsNameTheSectionAndKey) {
  auto zones = SystemZoneDb();
  struct Case {
    std::vector<ScheduleSectionOptions> sections;
    std::string expected;  // a part of the message
    StatusCode code = StatusCode::kInvalidArgument;
  };
  const KV berlin = {{"time_zone", "Europe/Berlin"}};
  auto with = [&](KV extra) {
    KV kv = berlin;
    kv.insert(kv.end(), extra.begin(), extra.end());
    return kv;
  };
  const std::vector<Case> cases = {
      {{Section("a", {{"mon", "09:00-17:00"}})}, "c.conf:1: [schedule.a] time_zone: is missing"},
      {{Section("a", {{"time_zone", "Europe/Atlantis"}})},
       "[schedule.a] time_zone: unknown time zone 'Europe/Atlantis'",
       StatusCode::kNotFound},
      {{Section("a", with({{"mon", "9-17"}}))}, "[schedule.a] mon: '9-17' is not a period"},
      {{Section("a", with({{"tue", "09:00-25:00"}}))}, "[schedule.a] tue: '09:00-25:00'"},
      {{Section("a", with({{"wed", "24:00-06:00"}}))}, "[schedule.a] wed: '24:00-06:00'"},
      {{Section("a", with({{"thu", "09:00-09:00"}}))},
       "[schedule.a] thu: '09:00-09:00' lasts no time"},
      {{Section("a", with({{"fri", ""}}))}, "[schedule.a] fri: is empty"},
      {{Section("a", with({{"sat", "09:60-10:00"}}))}, "[schedule.a] sat: '09:60-10:00'"},
      {{Section("a", with({{"sun", "09:00-10:00,"}}))}, "[schedule.a] sun: '' is not a period"},
      {{Section("a", with({{"holidays", "2026-02-30"}}))},
       "[schedule.a] holidays: '2026-02-30' is not a date"},
      {{Section("a", with({{"members", "ana, Bob"}}))},
       "[schedule.a] members: 'Bob' is not a login"},
      {{Section("a", with({{"default", "yes"}}))}, "[schedule.a] default: is true or false"},
      {{Section("a", with({{"may_change", "week, holidays"}}))},
       "[schedule.a] may_change: 'holidays' is not one of"},
      {{Section("a", with({{"lunch", "12:00-13:00"}}))},
       "[schedule.a] lunch: is not a schedule setting"},
      {{Section("a", with({{"mon", "09:00-17:00"}, {"mon", "10:00-18:00"}}))},
       "[schedule.a] mon: is set twice"},
      {{Section("a", with({{"default", "true"}})), Section("bb", with({{"default", "true"}}))},
       "c.conf:2: [schedule.bb] default: [schedule.a] is the default profile already"},
      {{Section("a", with({{"default", "true"}, {"members", "ana"}}))},
       "[schedule.a] members: the default profile"},
      {{Section("a", with({{"members", "ana, bo"}})), Section("bb", with({{"members", "cy, bo"}}))},
       "[schedule.bb] members: 'bo' is a member of [schedule.a] already"},
      {{Section("a", berlin), Section("a", berlin)}, "[schedule.a]: the profile is defined twice"},
  };
  for (const Case& c : cases) {
    Result<std::vector<core::ScheduleProfile>> r = core::ParseScheduleProfiles(c.sections, *zones);
    ASSERT_FALSE(r.ok()) << c.expected;
    EXPECT_EQ(r.status().code(), c.code) << r.status();
    EXPECT_NE(r.status().message().find(c.expected), std::string::npos)
        << r.status() << "\n  expected: " << c.expected;
  }
}

// The example of the README's "Working hours" section.
TEST(ScheduleProfiles, TheReadmeExampleWorks) {
  auto file = ParseConfigText(R"(
[schedule.office]
time_zone = Europe/Berlin
mon = 09:00-12:30, 13:30-17:00
tue = 09:00-12:30, 13:30-17:00
wed = 09:00-12:30, 13:30-17:00
thu = 09:00-12:30, 13:30-17:00
fri = 09:00-13:00
# sat and sun are not listed: off
holidays = 2026-12-24, 2026-12-25, 2026-12-26, 2027-01-01
default = true
may_change = days_off, shifts

# The night shift, Sunday to Thursday nights.
[schedule.nights]
time_zone = Europe/Berlin
sun = 22:00-06:00          # runs into Monday morning
mon = 22:00-06:00
tue = 22:00-06:00
wed = 22:00-06:00
thu = 22:00-06:00
holidays = 2026-12-25, 2027-01-01
members = ana, bo.k, cem
may_change = week, days_off, shifts

[urgent]
allowed = role:admin, user:ana, profile:nights
)",
                              "README.md");
  ASSERT_TRUE(file.ok()) << file.status();
  Result<BrokerOptions> options = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(options.ok()) << options.status();
  auto zones = SystemZoneDb();
  Result<std::vector<core::ScheduleProfile>> r =
      core::ParseScheduleProfiles(options->schedules, *zones);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  // Thursday 2026-12-24 is a holiday at the office; the night shift works.
  const std::int64_t christmas_eve_23h = testing::Utc(2026, 12, 24, 22);
  Result<core::DutyState> office = core::DutyAt((*r)[0].hours, christmas_eve_23h, *zones);
  ASSERT_TRUE(office.ok());
  EXPECT_FALSE(office->on_duty);
  EXPECT_EQ(office->until_us, testing::Utc(2026, 12, 28, 8));  // Monday 09:00 CET
  Result<core::DutyState> nights = core::DutyAt((*r)[1].hours, christmas_eve_23h, *zones);
  ASSERT_TRUE(nights.ok());
  EXPECT_TRUE(nights->on_duty);
  EXPECT_EQ(nights->until_us, testing::Utc(2026, 12, 24, 23));  // the 25th is a holiday
}

}  // namespace
}  // namespace chatpro::tz
