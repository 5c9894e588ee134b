// SPDX-License-Identifier: Apache-2.0
//
// Working hours: `chatpro schedule show|set`, `chatpro presence` and the
// right-to-disconnect report `chatpro admin disconnect-report`.
//
// The client has no time-zone database: a schedule's hours are shown as the
// local times they are (with the zone's name), and instants (on duty until
// when) in UTC.
#include <algorithm>
#include <array>
#include <cctype>

#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace chatpro::cli {
namespace {

constexpr std::array<const char*, 7> kWeekdayOptions = {"mon", "tue", "wed", "thu",
                                                        "fri", "sat", "sun"};

// "HH:MM" as minutes from midnight; "24:00" only with `end`.
std::optional<std::uint16_t> ParseMinute(const std::string& text, bool end) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  for (std::size_t i : {0u, 1u, 3u, 4u}) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  int h = (text[0] - '0') * 10 + (text[1] - '0');
  int m = (text[3] - '0') * 10 + (text[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end))) return std::nullopt;
  return static_cast<std::uint16_t>(h * 60 + m);
}

// "09:00-12:30,13:30-17:00" or "off" (no periods). On failure returns
// InvalidArgument naming `what` and the text.
Result<std::vector<client::WorkPeriod>> ParsePeriods(const std::string& text,
                                                     const std::string& what) {
  std::vector<client::WorkPeriod> out;
  if (text == "off") return out;
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(what + " needs working periods such as 09:00-12:30,13:30-17:00 "
                                   "or 'off', not '" + text + "'" + why);
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                     : comma - start);
    std::size_t dash = part.find('-');
    if (dash == std::string::npos) return bad("");
    auto from = ParseMinute(part.substr(0, dash), /*end=*/false);
    auto to = ParseMinute(part.substr(dash + 1), /*end=*/true);
    if (!from || !to) return bad("");
    if (*from >= *to) return bad(" (a period ends after it starts, within the day)");
    out.push_back(client::WorkPeriod{*from, *to});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// A real date written YYYY-MM-DD.
bool IsDate(const std::string& text) {
  return text.size() == 10 && text[4] == '-' && text[7] == '-' && ParseTimestamp(text).has_value();
}

std::string UserOf(const Invocation& inv) { return inv.args.Get("user").value_or(""); }

// ------------------------------------------------------------------ schedule

int ScheduleShow(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] + "'");
  }
  if (inv.args.Has("user") && UserOf(inv).empty()) {
    return UsageError(inv, "--user needs a login name");
  }
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto info = (*client)->GetSchedule(UserOf(inv));
  if (!info.ok()) return Fail(inv, info.status());
  if (inv.args.Has("json")) return PrintLine(ScheduleJson(*info)) ? kExitOk : kExitError;
  return PrintAll(FormatSchedule(*info)) ? kExitOk : kExitError;
}

// What `schedule set` was asked to change, checked before connecting.
struct ScheduleEdits {
  std::string time_zone;
  std::array<std::optional<std::vector<client::WorkPeriod>>, 7> days;
  std::vector<std::string> days_off;
  std::vector<client::ShiftChange> shifts;

  bool week() const {
    return std::any_of(days.begin(), days.end(), [](const auto& d) { return d.has_value(); });
  }
};

Result<ScheduleEdits> ParseEdits(const Args& args) {
  ScheduleEdits e;
  if (auto zone = args.Get("time-zone")) {
    if (zone->empty()) return Status::InvalidArgument("--time-zone needs a zone such as Europe/Berlin");
    e.time_zone = *zone;
  }
  for (std::size_t d = 0; d < kWeekdayOptions.size(); ++d) {
    if (auto text = args.Get(kWeekdayOptions[d])) {
      CHATPRO_ASSIGN_OR_RETURN(e.days[d],
                               ParsePeriods(*text, std::string("--") + kWeekdayOptions[d]));
    }
  }
  for (const auto& day : args.GetAll("day-off")) {
    if (!IsDate(day)) {
      return Status::InvalidArgument("--day-off needs a date YYYY-MM-DD, not '" + day + "'");
    }
    e.days_off.push_back(day);
  }
  for (const auto& shift : args.GetAll("shift")) {
    std::size_t eq = shift.find('=');
    std::string date = shift.substr(0, eq);
    if (eq == std::string::npos || !IsDate(date)) {
      return Status::InvalidArgument(
          "--shift needs DATE=PERIODS such as 2026-12-01=09:00-13:00 or 2026-12-01=off, not '" +
          shift + "'");
    }
    CHATPRO_ASSIGN_OR_RETURN(auto periods, ParsePeriods(shift.substr(eq + 1), "--shift " + date));
    for (const auto& s : e.shifts) {
      if (s.date == date) return Status::InvalidArgument("--shift names " + date + " twice");
    }
    e.shifts.push_back(client::ShiftChange{date, std::move(periods)});
  }
  if (e.time_zone.empty() && !e.week() && e.days_off.empty() && e.shifts.empty()) {
    return Status::InvalidArgument(
        "nothing to change: give --time-zone, a weekday (--mon ... --sun), --day-off or --shift");
  }
  return e;
}

// The change to send: the parts given, each completed from the schedule as
// it is (`current`), since a part replaces the whole of it.
client::Schedule BuildChange(const ScheduleEdits& e, const client::Schedule& current) {
  client::Schedule change;
  change.time_zone = e.time_zone;
  if (e.week()) {
    std::array<std::vector<client::WorkPeriod>, 7> week;
    for (const auto& d : current.week) {
      if (d.weekday < 7) week[d.weekday].insert(week[d.weekday].end(), d.periods.begin(),
                                                d.periods.end());
    }
    for (std::size_t d = 0; d < 7; ++d) {
      if (e.days[d]) week[d] = *e.days[d];
    }
    // Every weekday, those not worked with no periods: a week is sent whole.
    for (std::uint8_t d = 0; d < 7; ++d) change.week.push_back(client::DayHours{d, week[d]});
  }
  if (!e.days_off.empty()) {
    change.days_off = current.days_off;
    change.days_off.insert(change.days_off.end(), e.days_off.begin(), e.days_off.end());
    std::sort(change.days_off.begin(), change.days_off.end());
    change.days_off.erase(std::unique(change.days_off.begin(), change.days_off.end()),
                          change.days_off.end());
  }
  if (!e.shifts.empty()) {
    for (const auto& s : current.shifts) {
      bool replaced = std::any_of(e.shifts.begin(), e.shifts.end(),
                                  [&](const client::ShiftChange& n) { return n.date == s.date; });
      if (!replaced) change.shifts.push_back(s);
    }
    change.shifts.insert(change.shifts.end(), e.shifts.begin(), e.shifts.end());
    std::sort(change.shifts.begin(), change.shifts.end(),
              [](const client::ShiftChange& a, const client::ShiftChange& b) {
                return a.date < b.date;
              });
  }
  return change;
}

int ScheduleSet(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] + "'");
  }
  if (inv.args.Has("user") && UserOf(inv).empty()) {
    return UsageError(inv, "--user needs a login name");
  }
  Result<ScheduleEdits> edits = ParseEdits(inv.args);
  if (!edits.ok()) return UsageError(inv, edits.status().message());
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  client::Schedule current;
  if (edits->week() || !edits->days_off.empty() || !edits->shifts.empty()) {
    auto info = (*client)->GetSchedule(UserOf(inv));
    if (!info.ok()) return Fail(inv, info.status());
    current = std::move(info->schedule);
  }
  auto after = (*client)->SetSchedule(UserOf(inv), BuildChange(*edits, current));
  if (!after.ok()) return Fail(inv, after.status());
  if (inv.args.Has("json")) return PrintLine(ScheduleJson(*after)) ? kExitOk : kExitError;
  std::vector<std::string> lines{"schedule changed"};
  for (auto& line : FormatSchedule(*after)) lines.push_back(std::move(line));
  return PrintAll(lines) ? kExitOk : kExitError;
}

// ------------------------------------------------------------------ presence

int PresenceCommand(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] + "'");
  }
  std::uint64_t conversation = 0;
  if (auto text = inv.args.Get("conversation")) {
    std::optional<std::uint64_t> id = ParseUint(*text);
    if (!id || *id == 0) {
      return UsageError(inv, "--conversation needs a conversation id (a number above 0)");
    }
    conversation = *id;
  }
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto list = (*client)->Presence(conversation);
  if (!list.ok()) return Fail(inv, list.status());
  if (inv.args.Has("json")) {
    for (const auto& p : *list) {
      if (!PrintLine(PresenceJson(p))) return kExitError;
    }
    return kExitOk;
  }
  return PrintAll(FormatPresenceList(*list)) ? kExitOk : kExitError;
}

// ------------------------------------------------------------------ right to disconnect

int DisconnectReport(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] + "'");
  }
  std::optional<std::string> from = inv.args.Get("from");
  std::optional<std::string> to = inv.args.Get("to");
  if (!from || !to) return UsageError(inv, "give --from DATE and --to DATE");
  std::optional<std::int64_t> from_us = ParseTimestamp(*from);
  if (!from_us) {
    return UsageError(inv, "--from needs a date (YYYY-MM-DD) or an ISO-8601 time, not '" + *from +
                               "'");
  }
  // A date alone includes the whole day: the range ends at the next midnight.
  std::optional<std::int64_t> to_us = ParseTimestamp(*to, /*end_of_day=*/true);
  if (!to_us) {
    return UsageError(inv, "--to needs a date (YYYY-MM-DD) or an ISO-8601 time, not '" + *to +
                               "'");
  }
  if (IsDate(*to)) *to_us += 1;
  if (*from_us >= *to_us) return UsageError(inv, "--from is not before --to");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto report = (*client)->AdminDisconnectReport(*from_us, *to_us);
  if (!report.ok()) return Fail(inv, report.status());
  if (inv.args.Has("json")) return PrintLine(DisconnectReportJson(*report)) ? kExitOk : kExitError;
  return PrintAll(FormatDisconnectReport(*report)) ? kExitOk : kExitError;
}

}  // namespace

std::vector<CommandSpec> ScheduleCommands() {
  std::vector<OptionSpec> set_options = {
      {"user", "LOGIN", "someone else's schedule (administrators)"},
      {"time-zone", "ZONE", "the IANA time zone the hours are in, e.g. Europe/Berlin"}};
  const char* names[] = {"Mondays", "Tuesdays", "Wednesdays", "Thursdays",
                         "Fridays", "Saturdays", "Sundays"};
  for (std::size_t d = 0; d < kWeekdayOptions.size(); ++d) {
    set_options.push_back({kWeekdayOptions[d], "PERIODS",
                           std::string("the hours worked on ") + names[d] +
                               ", e.g. 09:00-12:30,13:30-17:00, or 'off'"});
  }
  set_options.push_back({"day-off", "YYYY-MM-DD", "add a day off (repeatable)", true});
  set_options.push_back({"shift", "YYYY-MM-DD=PERIODS",
                         "work that date differently, e.g. 2026-12-01=09:00-13:00, or "
                         "2026-12-01=off (repeatable)",
                         true});
  set_options.push_back({"json", "", "print the resulting schedule as one JSON object"});
  return {
      {"schedule show", "schedule show [--user LOGIN] [--json]",
       "show working hours and whether on duty now",
       "Prints your working hours (with --user, someone else's: administrators): the\n"
       "time zone, each weekday's hours (local times in that zone), days off, the\n"
       "organisation's holidays, shift changes, the profile the schedule derives from,\n"
       "what you may change of it, and whether you are on duty now, e.g.\n"
       "  now: on duty until 2026-11-25 16:00 UTC\n"
       "  now: off duty until Wed 2026-11-25 08:00 UTC\n"
       "Instants are shown in UTC: the client has no time-zone database of its own.\n"
       "Outside working hours ChatPro goes quiet for you: messages wait until your next\n"
       "working period (unless sent as urgent) and senders are told so.",
       {{"user", "LOGIN", "someone else's schedule (administrators)"},
        {"json", "", "one JSON object"}},
       ScheduleShow},
      {"schedule set",
       "schedule set [--user LOGIN] [--time-zone ZONE] [--mon PERIODS|off] ... [--sun "
       "PERIODS|off]\n"
       "                    [--day-off YYYY-MM-DD ...] [--shift YYYY-MM-DD=PERIODS|off ...]",
       "change working hours",
       "Changes the parts of your working hours that are given and nothing else: the\n"
       "time zone; a weekday's hours (the other weekdays stay as they are); days off\n"
       "(added to those there are); shift changes (one per date, replacing an earlier one\n"
       "for that date). PERIODS are local times in the schedule's zone, such as\n"
       "09:00-12:30,13:30-17:00 (24:00 ends a day); 'off' means not worked. The\n"
       "organisation decides which parts you may change (`chatpro schedule show` says):\n"
       "changing another part is refused (permission denied) and nothing is changed.\n"
       "Administrators change anyone's with --user. Prints the schedule as it is now.",
       set_options, ScheduleSet},
      {"presence", "presence [--conversation ID] [--json]",
       "who is online, offline or off duty",
       "Prints the presence of everyone in conversation ID, or without --conversation of\n"
       "everyone you share a conversation with: online, offline, or off duty until when\n"
       "(in UTC). Nobody else's presence is shown.",
       {{"conversation", "ID", "only the members of conversation ID"},
        {"json", "", "one JSON object per line (login, state: online, offline or off_duty, "
                     "until_us)"}},
       PresenceCommand},
      {"admin disconnect-report", "admin disconnect-report --from DATE --to DATE [--json]",
       "right to disconnect: messages outside working hours (administrators, auditors)",
       "Reports how many messages reached people outside their working hours between\n"
       "--from and --to, per sender and per group: the messages that had at least one\n"
       "off-duty recipient, the (message, off-duty recipient) pairs, and how many of the\n"
       "messages were sent as urgent (delivered at once). DATE is YYYY-MM-DD (UTC; --to\n"
       "includes that whole day) or an ISO-8601 time such as 2026-03-01T09:30:00Z.",
       {{"from", "DATE", "the start of the period (required)"},
        {"to", "DATE", "the end of the period (required)"},
        {"json", "", "the report as one JSON object"}},
       DisconnectReport},
  };
}

}  // namespace chatpro::cli
