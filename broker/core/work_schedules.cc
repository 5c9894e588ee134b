// SPDX-License-Identifier: Apache-2.0
#include "broker/core/work_schedules.h"

#include <algorithm>

#include "broker/base/encoding.h"
#include "broker/base/log.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

constexpr std::int64_t kDayUs = 24LL * 3600 * 1'000'000;
// A state that DutyAt says never changes is looked at again after this long
// (its horizon moves on; a failing zone may come back).
constexpr std::int64_t kRecheckNeverUs = kDayUs;
constexpr std::size_t kMaxPeriodsPerDay = 48;
constexpr std::size_t kMaxDates = 1000;  // days off, holidays, shifts

Result<std::vector<WorkPeriod>> PeriodsFromWire(
    const flatbuffers::Vector<const wire::WorkPeriod*>* periods, const std::string& where) {
  std::vector<WorkPeriod> out;
  if (periods == nullptr) return out;
  if (periods->size() > kMaxPeriodsPerDay) {
    return Status::InvalidArgument(where + " has more than " + std::to_string(kMaxPeriodsPerDay) +
                                   " working periods");
  }
  for (const wire::WorkPeriod* p : *periods) {
    out.push_back(WorkPeriod{p->start_minute(), p->end_minute()});
  }
  return out;
}

Result<std::vector<LocalDate>> DatesFromWire(
    const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* dates, const char* what) {
  std::vector<LocalDate> out;
  if (dates == nullptr) return out;
  if (dates->size() > kMaxDates) {
    return Status::InvalidArgument(std::string("more than ") + std::to_string(kMaxDates) + " " +
                                   what);
  }
  for (const flatbuffers::String* d : *dates) {
    CHATPRO_ASSIGN_OR_RETURN(LocalDate date, ParseLocalDate(View(d)));
    out.push_back(date);
  }
  return out;
}

std::vector<wire::WorkPeriod> PeriodsToWire(const std::vector<WorkPeriod>& periods) {
  std::vector<wire::WorkPeriod> out;
  out.reserve(periods.size());
  for (const WorkPeriod& p : periods) out.emplace_back(p.start_minute, p.end_minute);
  return out;
}

}  // namespace

Result<WorkingHours> WorkingHoursFromWire(const wire::Schedule& s) {
  WorkingHours h;
  h.time_zone = std::string(View(s.time_zone()));
  if (h.time_zone.size() > 64)
    return Status::InvalidArgument("a time zone name is at most 64 characters");
  if (s.week() != nullptr) {
    std::array<bool, 7> seen{};
    for (const wire::DayHours* d : *s.week()) {
      if (d->weekday() > 6) {
        return Status::InvalidArgument("weekday " + std::to_string(d->weekday()) +
                                       " does not exist (0 = Monday ... 6 = Sunday)");
      }
      if (seen[d->weekday()]) {
        return Status::InvalidArgument("weekday " + std::to_string(d->weekday()) +
                                       " is listed twice");
      }
      seen[d->weekday()] = true;
      CHATPRO_ASSIGN_OR_RETURN(
          h.week[d->weekday()],
          PeriodsFromWire(d->periods(), "weekday " + std::to_string(d->weekday())));
    }
  }
  CHATPRO_ASSIGN_OR_RETURN(h.days_off, DatesFromWire(s.days_off(), "days off"));
  CHATPRO_ASSIGN_OR_RETURN(h.holidays, DatesFromWire(s.holidays(), "holidays"));
  if (s.shifts() != nullptr) {
    if (s.shifts()->size() > kMaxDates) {
      return Status::InvalidArgument("more than " + std::to_string(kMaxDates) + " shift changes");
    }
    for (const wire::ShiftChange* c : *s.shifts()) {
      ShiftChange shift;
      CHATPRO_ASSIGN_OR_RETURN(shift.date, ParseLocalDate(View(c->date())));
      CHATPRO_ASSIGN_OR_RETURN(
          shift.periods,
          PeriodsFromWire(c->periods(), "the shift of " + FormatLocalDate(shift.date)));
      h.shifts.push_back(std::move(shift));
    }
  }
  CHATPRO_RETURN_IF_ERROR(ValidateWorkingHours(h));
  return h;
}

flatbuffers::Offset<wire::Schedule> WorkingHoursToWire(flatbuffers::FlatBufferBuilder& fbb,
                                                       const WorkingHours& h,
                                                       const ScheduleProfile* profile) {
  std::vector<flatbuffers::Offset<wire::DayHours>> week;
  for (std::size_t d = 0; d < 7; ++d) {
    if (h.week[d].empty()) continue;
    std::vector<wire::WorkPeriod> periods = PeriodsToWire(h.week[d]);
    week.push_back(wire::CreateDayHours(fbb, static_cast<std::uint8_t>(d),
                                        fbb.CreateVectorOfStructs(periods)));
  }
  auto dates = [&fbb](const std::vector<LocalDate>& list) {
    std::vector<std::string> text;
    text.reserve(list.size());
    for (const LocalDate& d : list) text.push_back(FormatLocalDate(d));
    return fbb.CreateVectorOfStrings(text);
  };
  std::vector<flatbuffers::Offset<wire::ShiftChange>> shifts;
  for (const ShiftChange& s : h.shifts) {
    std::vector<wire::WorkPeriod> periods = PeriodsToWire(s.periods);
    shifts.push_back(wire::CreateShiftChange(fbb, fbb.CreateString(FormatLocalDate(s.date)),
                                             fbb.CreateVectorOfStructs(periods)));
  }
  std::vector<std::string> may;
  if (profile != nullptr) {
    if (profile->may_change.time_zone) may.emplace_back("time_zone");
    if (profile->may_change.week) may.emplace_back("week");
    if (profile->may_change.days_off) may.emplace_back("days_off");
    if (profile->may_change.shifts) may.emplace_back("shifts");
  }
  auto tz = fbb.CreateString(h.time_zone);
  auto week_v = fbb.CreateVector(week);
  auto days_off = dates(h.days_off);
  auto holidays = dates(h.holidays);
  auto shifts_v = fbb.CreateVector(shifts);
  auto name = fbb.CreateString(profile == nullptr ? std::string() : profile->name);
  auto may_v = fbb.CreateVectorOfStrings(may);
  return wire::CreateSchedule(fbb, tz, week_v, days_off, holidays, shifts_v, name, may_v);
}

// ------------------------------------------------------------------ configuration

Status WorkSchedules::Configure(std::vector<ScheduleProfile> profiles,
                                std::vector<std::string> urgent_allowed, const ZoneDb* zones) {
  std::unordered_map<std::string, std::size_t> by_login;
  const ScheduleProfile* default_profile = nullptr;
  for (std::size_t i = 0; i < profiles.size(); ++i) {
    const ScheduleProfile& p = profiles[i];
    if (p.name.empty()) return Status::InvalidArgument("a schedule profile needs a name");
    for (std::size_t j = 0; j < i; ++j) {
      if (profiles[j].name == p.name) {
        return Status::InvalidArgument("two schedule profiles are named '" + p.name + "'");
      }
    }
    if (p.is_default) {
      if (default_profile != nullptr) {
        return Status::InvalidArgument("schedule profiles '" + default_profile->name + "' and '" +
                                       p.name + "' are both the default");
      }
      default_profile = &p;
    }
    Status valid = ValidateWorkingHours(p.hours);
    if (!valid.ok()) {
      return Status::InvalidArgument("schedule profile '" + p.name + "': " + valid.message());
    }
    if (!p.hours.empty()) {
      if (zones == nullptr) {
        return Status::InvalidArgument("schedule profile '" + p.name +
                                       "' needs a time-zone database");
      }
      Status zone = zones->CheckZone(p.hours.time_zone);
      if (!zone.ok()) {
        return Status::InvalidArgument("schedule profile '" + p.name + "': " + zone.message());
      }
    }
    for (const std::string& login : p.members) {
      auto [it, fresh] = by_login.emplace(login, i);
      if (!fresh) {
        return Status::InvalidArgument("'" + login + "' is a member of schedule profiles '" +
                                       profiles[it->second].name + "' and '" + p.name + "'");
      }
    }
  }
  for (const std::string& entry : urgent_allowed) {
    std::string_view e = entry;
    bool ok = false;
    if (e == "role:admin" || e == "role:auditor" || e == "role:user") {
      ok = true;
    } else if (e.substr(0, 5) == "user:" && e.size() > 5) {
      ok = true;
    } else if (e.substr(0, 8) == "profile:") {
      std::string_view name = e.substr(8);
      ok = std::any_of(profiles.begin(), profiles.end(),
                       [name](const ScheduleProfile& p) { return p.name == name; });
      if (!ok) {
        return Status::InvalidArgument("the urgent policy names profile '" + std::string(name) +
                                       "', which does not exist");
      }
    }
    if (!ok) {
      return Status::InvalidArgument(
          "urgent policy entry '" + entry +
          "' is not role:admin|auditor|user, user:LOGIN or profile:NAME");
    }
  }
  profiles_ = std::move(profiles);
  // `default_profile` pointed into the moved-from vector: find it again.
  default_profile_ = nullptr;
  for (const ScheduleProfile& p : profiles_) {
    if (p.is_default) default_profile_ = &p;
  }
  profile_by_login_ = std::move(by_login);
  urgent_allowed_ = std::move(urgent_allowed);
  zones_ = zones;
  active_ = zones_ != nullptr && !profiles_.empty();
  cache_.clear();
  rechecks_.clear();
  return Status::Ok();
}

Status WorkSchedules::Load(MessageStore& store) {
  own_.clear();
  Status bad = Status::Ok();
  CHATPRO_RETURN_IF_ERROR(store.ScanRecords(
      RecordKind::kSchedule, "", [&](std::string_view key, std::string_view value) {
        std::string scratch;
        const store::ScheduleRecord* r = VerifiedRecord<store::ScheduleRecord>(value, &scratch);
        if (r == nullptr || key.size() != 8) {
          bad = Status::DataLoss("the schedule record of user " +
                                 std::to_string(key.size() == 8 ? ReadBigEndian64(key) : 0) +
                                 " is damaged");
          return false;
        }
        if (r->schedule() == nullptr) return true;
        Result<WorkingHours> h = WorkingHoursFromWire(*r->schedule());
        if (!h.ok()) {
          bad = Status::DataLoss("the schedule record of user " + std::to_string(r->user_id()) +
                                 " is not valid: " + h.status().message());
          return false;
        }
        own_[UserId(r->user_id())] = std::move(*h);
        return true;
      }));
  cache_.clear();
  rechecks_.clear();
  return bad;
}

// ------------------------------------------------------------------ lookups

const ScheduleProfile* WorkSchedules::ProfileOf(UserId user) const {
  if (profiles_.empty()) return nullptr;
  const User* u = directory_->FindUser(user);
  if (u != nullptr) {
    auto it = profile_by_login_.find(u->login);
    if (it != profile_by_login_.end()) return &profiles_[it->second];
  }
  return default_profile_;
}

const WorkingHours& WorkSchedules::OwnHours(UserId user) const {
  static const WorkingHours kNone;
  auto it = own_.find(user);
  return it == own_.end() ? kNone : it->second;
}

WorkingHours WorkSchedules::EffectiveOf(UserId user) const {
  const ScheduleProfile* p = ProfileOf(user);
  if (p == nullptr) return WorkingHours();
  return EffectiveHours(*p, OwnHours(user));
}

bool WorkSchedules::MayUrgent(UserId user) const {
  if (urgent_allowed_.empty()) return false;
  const User* u = directory_->FindUser(user);
  if (u == nullptr) return false;
  const ScheduleProfile* profile = ProfileOf(user);
  for (const std::string& entry : urgent_allowed_) {
    std::string_view e = entry;
    if (e == "role:admin" && u->role == Role::Admin) return true;
    if (e == "role:auditor" && u->role == Role::Auditor) return true;
    if (e == "role:user" && u->role == Role::User) return true;
    if (e.substr(0, 5) == "user:" && e.substr(5) == u->login) return true;
    if (e.substr(0, 8) == "profile:" && profile != nullptr && e.substr(8) == profile->name) {
      return true;
    }
  }
  return false;
}

// ------------------------------------------------------------------ duty states

WorkSchedules::Cached WorkSchedules::Compute(UserId user, std::int64_t now_us) const {
  Cached c;
  if (!active_) return c;
  WorkingHours hours = EffectiveOf(user);
  if (hours.empty()) return c;  // always on duty, never rechecked
  Result<DutyState> state = DutyAt(hours, now_us, *zones_);
  if (!state.ok()) {
    LOG_WARNING() << "the working hours of user " << user << " cannot be evaluated ("
                  << state.status() << "); they count as on duty";
    c.recheck_us = now_us + kRecheckNeverUs;
    return c;
  }
  c.state = *state;
  c.recheck_us = state->until_us != 0 ? state->until_us : now_us + kRecheckNeverUs;
  return c;
}

void WorkSchedules::Put(UserId user, const Cached& c) {
  auto [it, fresh] = cache_.try_emplace(user, c);
  if (!fresh) {
    if (it->second.recheck_us != 0) rechecks_.erase({it->second.recheck_us, user});
    it->second = c;
  }
  if (c.recheck_us != 0) rechecks_.emplace(c.recheck_us, user);
}

DutyState WorkSchedules::StateOf(UserId user, std::int64_t now_us) {
  if (!active_) return DutyState{};
  auto it = cache_.find(user);
  if (it != cache_.end() && (it->second.recheck_us == 0 || now_us < it->second.recheck_us)) {
    return it->second.state;
  }
  Cached c = Compute(user, now_us);
  if (it != cache_.end() && it->second.state.on_duty != c.state.on_duty) {
    pending_.push_back({user, it->second.state, c.state});
  }
  Put(user, c);
  return c.state;
}

std::vector<WorkSchedules::Change> WorkSchedules::Due(std::int64_t now_us) {
  std::vector<Change> changes;
  changes.swap(pending_);
  while (!rechecks_.empty() && rechecks_.begin()->first <= now_us) {
    UserId user = rechecks_.begin()->second;
    DutyState before = cache_[user].state;
    Cached c = Compute(user, now_us);
    Put(user, c);  // removes the old recheck
    if (before.on_duty != c.state.on_duty) changes.push_back({user, before, c.state});
  }
  return changes;
}

WorkSchedules::Change WorkSchedules::SetOwn(UserId user, WorkingHours own, UserId by,
                                            std::int64_t now_us, WriteBatch* batch) {
  flatbuffers::FlatBufferBuilder fbb(512);
  auto schedule = WorkingHoursToWire(fbb, own, nullptr);
  fbb.Finish(store::CreateScheduleRecord(fbb, user.value(), schedule, now_us, by.value()));
  batch->records.push_back(
      {RecordKind::kSchedule, store_keys::U64Key(user.value()),
       std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize())});
  if (own.empty() && own.days_off.empty() && own.shifts.empty() &&
      std::all_of(own.week.begin(), own.week.end(), [](const auto& d) { return d.empty(); })) {
    own_.erase(user);
  } else {
    own_[user] = std::move(own);
  }
  DutyState before = StateOf(user, now_us);
  Cached c = Compute(user, now_us);
  Put(user, c);
  return Change{user, before, c.state};
}

}  // namespace chatpro::core
