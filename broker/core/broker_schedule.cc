// SPDX-License-Identifier: Apache-2.0
//
// Working hours on the broker: schedules (get, set), delivery held while a
// person is off duty (and let through by urgent messages), presence, and the
// right-to-disconnect counts.
//
// While someone is off duty, none of their sessions gets live deliveries or
// catch-up: FanOut skips them and Pump stops at what urgent messages let
// through (an urgent message delivers its conversation's backlog up to and
// including it). History requests always work: that is fetching on purpose.
// When their working hours start, OnTick finds the change (WorkSchedules::Due)
// and pumps their sessions, so delivery resumes by itself.
//
// Presence (Online, Offline, OffDuty) goes to the receiving sessions of the
// people who share a conversation with the person, when it changes; it is
// announced by difference against what they were last told, so repeated
// triggers cost nothing and tell nothing new.
//
// Right-to-disconnect counts are kept per UTC day, per sender and per group,
// in memory and written (absolute values) with the next batch.
#include <algorithm>

#include "broker/base/encoding.h"
#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/core/broker.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

constexpr std::int64_t kDayUs = 24LL * 3600 * kMicrosPerSecond;
// Disconnect counts of days before yesterday are forgotten from memory (they
// stay in the store) once this many are held.
constexpr std::size_t kMaxCountsInMemory = 4096;
// New users get a duty state (and so a timer) within this long.
constexpr std::int64_t kPrimeIntervalUs = kMicrosPerSecond;

std::string Quote(std::string_view s) { return "'" + std::string(s.substr(0, 64)) + "'"; }

std::uint32_t DayOf(std::int64_t us) {
  return us <= 0 ? 0 : static_cast<std::uint32_t>(us / kDayUs);
}

std::string CountsKey(std::uint32_t day, char what, std::uint64_t id) {
  std::string key;
  key.push_back(static_cast<char>(day >> 24));
  key.push_back(static_cast<char>(day >> 16));
  key.push_back(static_cast<char>(day >> 8));
  key.push_back(static_cast<char>(day));
  key.push_back(what);
  AppendBigEndian64(&key, id);
  return key;
}

std::uint32_t DayOfKey(std::string_view key) {
  auto b = [&key](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(key[i]));
  };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

bool SamePeriods(const std::vector<WorkPeriod>& a, const std::vector<WorkPeriod>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const WorkPeriod& x, const WorkPeriod& y) {
                      return x.start_minute == y.start_minute && x.end_minute == y.end_minute;
                    });
}
bool SameWeek(const std::array<std::vector<WorkPeriod>, 7>& a,
              const std::array<std::vector<WorkPeriod>, 7>& b) {
  for (std::size_t d = 0; d < 7; ++d) {
    if (!SamePeriods(a[d], b[d])) return false;
  }
  return true;
}
bool SameShifts(const std::vector<ShiftChange>& a, const std::vector<ShiftChange>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const ShiftChange& x, const ShiftChange& y) {
                      return x.date == y.date && SamePeriods(x.periods, y.periods);
                    });
}

}  // namespace

Status Broker::SetSchedules(std::vector<ScheduleProfile> profiles,
                            std::vector<std::string> urgent_allowed, const ZoneDb* zones) {
  CHATPRO_RETURN_IF_ERROR(
      schedules_.Configure(std::move(profiles), std::move(urgent_allowed), zones));
  urgent_allowed_.clear();
  presence_told_.clear();
  presence_dirty_.clear();
  next_schedule_prime_mono_us_ = 0;
  return Status::Ok();
}

// ------------------------------------------------------------------ requests

void Broker::HandleScheduleGet(Session& s, std::uint64_t rid, const wire::ScheduleGet& r) {
  const User* caller = directory_.FindUser(s.user);
  const User* target = caller;
  if (!View(r.login()).empty() && View(r.login()) != caller->login) {
    Status allowed = RequireAdmin(s, "read other people's schedules");
    if (!allowed.ok()) return ReplyError(s, rid, allowed);
    target = directory_.FindUserByLogin(View(r.login()));
    if (target == nullptr) {
      return ReplyError(s, rid, Status::NotFound("there is no user " + Quote(View(r.login()))));
    }
    Audit(s, "schedule.get", "user:" + target->login, "{}");
  }
  auto& fbb = s.replies.builder();
  DutyState state = schedules_.StateOf(target->id, clock_->NowMicros());
  auto login = fbb.CreateString(target->login);
  auto schedule =
      WorkingHoursToWire(fbb, schedules_.EffectiveOf(target->id), schedules_.ProfileOf(target->id));
  auto duty =
      wire::CreateDutyState(fbb, fbb.CreateString(target->login), state.on_duty, state.until_us);
  auto body = wire::CreateScheduleInfo(fbb, login, schedule, duty);
  s.replies.AddEnvelope(rid, wire::Body::ScheduleInfo, body.Union());
  MarkDirty(s);
}

void Broker::HandleScheduleSet(Session& s, std::uint64_t rid, const wire::ScheduleSet& r) {
  const User* caller = directory_.FindUser(s.user);
  const User* target = caller;
  if (!View(r.login()).empty() && View(r.login()) != caller->login) {
    Status allowed = RequireAdmin(s, "change other people's schedules");
    if (!allowed.ok()) return ReplyError(s, rid, allowed);
    target = directory_.FindUserByLogin(View(r.login()));
    if (target == nullptr) {
      return ReplyError(s, rid, Status::NotFound("there is no user " + Quote(View(r.login()))));
    }
  }
  const ScheduleProfile* profile = schedules_.active() ? schedules_.ProfileOf(target->id) : nullptr;
  if (profile == nullptr) {
    return ReplyError(
        s, rid,
        Status::FailedPrecondition(target->login + " has no schedule profile: the organisation's "
                                                   "configuration gives them no working hours"));
  }
  if (r.schedule() == nullptr) {
    return ReplyError(s, rid, Status::InvalidArgument("a ScheduleSet needs a schedule"));
  }
  Result<WorkingHours> asked = WorkingHoursFromWire(*r.schedule());
  if (!asked.ok()) return ReplyError(s, rid, asked.status());
  const wire::Schedule& w = *r.schedule();
  const WorkingHours current = schedules_.EffectiveOf(target->id);
  const WorkingHours& base = profile->hours;
  WorkingHours own = schedules_.OwnHours(target->id);
  const ScheduleRights& may = profile->may_change;
  std::vector<std::string> changed;
  auto refuse = [&](std::string_view part) {
    ReplyError(
        s, rid,
        Status::PermissionDenied("schedule profile " + Quote(profile->name) +
                                 " does not let its people change their " + std::string(part)));
  };
  // A part sent back unchanged (a client editing what ScheduleGet gave it)
  // is no change; a part equal to the profile's follows the profile again.
  if (w.time_zone() != nullptr && asked->time_zone != current.time_zone) {
    if (!may.time_zone) return refuse("time zone");
    if (!asked->time_zone.empty()) {
      Status zone = schedules_.zones()->CheckZone(asked->time_zone);
      if (!zone.ok()) return ReplyError(s, rid, Status::InvalidArgument(zone.message()));
    }
    own.time_zone = asked->time_zone == base.time_zone ? std::string() : asked->time_zone;
    changed.emplace_back("time_zone");
  }
  if (w.week() != nullptr && !SameWeek(asked->week, current.week)) {
    if (!may.week) return refuse("week");
    own.week = SameWeek(asked->week, base.week) ? decltype(own.week)() : asked->week;
    changed.emplace_back("week");
  }
  if (w.days_off() != nullptr && asked->days_off != current.days_off) {
    if (!may.days_off) return refuse("days off");
    own.days_off = asked->days_off == base.days_off ? std::vector<LocalDate>() : asked->days_off;
    changed.emplace_back("days_off");
  }
  if (w.holidays() != nullptr && asked->holidays != base.holidays) {
    return refuse("holidays (they are the organisation's)");
  }
  if (w.shifts() != nullptr && !SameShifts(asked->shifts, current.shifts)) {
    if (!may.shifts) return refuse("shifts");
    own.shifts =
        SameShifts(asked->shifts, base.shifts) ? std::vector<ShiftChange>() : asked->shifts;
    changed.emplace_back("shifts");
  }
  Status valid = ValidateWorkingHours(EffectiveHours(*profile, own));
  if (!valid.ok()) return ReplyError(s, rid, valid);

  std::int64_t now = clock_->NowMicros();
  const UserId user = target->id;
  const std::string login = target->login;
  if (!changed.empty()) {
    // Others learn the presence that follows from the new schedule.
    PresenceMayChange(user);
    WorkSchedules::Change change =
        schedules_.SetOwn(user, std::move(own), s.user, now, &Batch().writes);
    if (change.before.on_duty != change.after.on_duty) OnDutyChanges({change});
  }
  Audit(s, "schedule.set", "user:" + login,
        JsonObject().Add("profile", profile->name).Add("changed", changed).str());
  AfterCommit(s.connection, rid, [this, rid, user, login](Session& session) {
    auto& fbb = session.replies.builder();
    DutyState state = schedules_.StateOf(user, clock_->NowMicros());
    auto name = fbb.CreateString(login);
    auto schedule =
        WorkingHoursToWire(fbb, schedules_.EffectiveOf(user), schedules_.ProfileOf(user));
    auto duty = wire::CreateDutyState(fbb, fbb.CreateString(login), state.on_duty, state.until_us);
    auto body = wire::CreateScheduleInfo(fbb, name, schedule, duty);
    session.replies.AddEnvelope(rid, wire::Body::ScheduleInfo, body.Union());
  });
}

void Broker::HandlePresenceQuery(Session& s, std::uint64_t rid, const wire::PresenceQuery& r) {
  std::vector<UserId> people;
  if (r.conversation_id() != 0) {
    const Conversation* c = conversations_.Find(ConversationId(r.conversation_id()));
    if (c == nullptr || !c->IsMember(s.user)) {
      // The same answer either way: nobody learns which conversations exist.
      return ReplyError(s, rid,
                        Status::PermissionDenied("you are not a member of conversation " +
                                                 std::to_string(r.conversation_id())));
    }
    for (const Membership& m : c->members) people.push_back(m.user);
  } else {
    std::set<UserId> seen;
    for (ConversationId id : conversations_.ConversationsOf(s.user)) {
      const Conversation* c = conversations_.Find(id);
      if (c == nullptr) continue;
      for (const Membership& m : c->members) {
        if (m.user != s.user && seen.insert(m.user).second) people.push_back(m.user);
      }
    }
  }
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::Presence>> entries;
  entries.reserve(people.size());
  for (UserId p : people) {
    const User* u = directory_.FindUser(p);
    if (u == nullptr) continue;
    PresenceNow now = PresenceOf(p);
    entries.push_back(
        wire::CreatePresence(fbb, fbb.CreateString(u->login), now.state, now.until_us));
  }
  auto body = wire::CreatePresenceList(fbb, fbb.CreateVector(entries));
  s.replies.AddEnvelope(rid, wire::Body::PresenceList, body.Union());
  MarkDirty(s);
}

void Broker::HandleAdminDisconnectReport(Session& s, std::uint64_t rid,
                                         const wire::AdminDisconnectReport& r) {
  Status allowed = RequireAdminOrAuditor(s, "read the right-to-disconnect report");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  std::int64_t from = std::max<std::int64_t>(r.from_us(), 0);
  std::int64_t to = r.to_us() > 0 ? r.to_us() : clock_->NowMicros();
  if (from >= to) {
    return ReplyError(s, rid, Status::InvalidArgument("the report's range [from, to) is empty"));
  }
  // The days that overlap [from, to).
  const std::uint32_t first_day = DayOf(from);
  const std::uint32_t end_day = static_cast<std::uint32_t>((to - 1) / kDayUs) + 1;
  std::map<std::string, DisconnectCounts> days;
  Status bad = Status::Ok();
  Status scan =
      store_->ScanRecords(RecordKind::kDisconnectStat, CountsKey(first_day, '\0', 0),
                          [&](std::string_view key, std::string_view value) {
                            if (key.size() != 13) return true;
                            if (DayOfKey(key) >= end_day) return false;
                            std::string scratch;
                            const store::DisconnectStatRecord* rec =
                                VerifiedRecord<store::DisconnectStatRecord>(value, &scratch);
                            if (rec == nullptr) {
                              bad = Status::DataLoss("a right-to-disconnect record is damaged");
                              return false;
                            }
                            days[std::string(key)] =
                                DisconnectCounts{rec->messages(), rec->recipients(), rec->urgent()};
                            return true;
                          });
  if (!scan.ok()) return ReplyError(s, rid, scan);
  if (!bad.ok()) return ReplyError(s, rid, bad);
  // Counts not written yet are newer than the store's.
  for (const auto& [key, counts] : disconnect_counts_) {
    std::uint32_t day = DayOfKey(key);
    if (day >= first_day && day < end_day) days[key] = counts;
  }
  std::map<std::uint64_t, DisconnectCounts> senders;
  std::map<std::uint64_t, DisconnectCounts> groups;
  DisconnectCounts total;
  for (const auto& [key, counts] : days) {
    std::uint64_t id = ReadBigEndian64(std::string_view(key).substr(5));
    DisconnectCounts& into = key[4] == 's' ? senders[id] : groups[id];
    into.messages += counts.messages;
    into.recipients += counts.recipients;
    into.urgent += counts.urgent;
    if (key[4] == 's') {
      total.messages += counts.messages;
      total.recipients += counts.recipients;
      total.urgent += counts.urgent;
    }
  }
  auto& fbb = s.replies.builder();
  auto build = [&](const std::map<std::uint64_t, DisconnectCounts>& list, bool group) {
    std::vector<std::pair<std::uint64_t, DisconnectCounts>> sorted(list.begin(), list.end());
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a.second.messages > b.second.messages;
    });
    std::vector<flatbuffers::Offset<wire::DisconnectCount>> out;
    for (const auto& [id, c] : sorted) {
      std::string name;
      if (group) {
        const Conversation* conv = conversations_.Find(ConversationId(id));
        name = conv == nullptr ? std::string() : conv->name;
      } else {
        const User* u = directory_.FindUser(UserId(id));
        name = u == nullptr ? std::string() : u->login;
      }
      out.push_back(wire::CreateDisconnectCount(fbb, fbb.CreateString(name), group ? id : 0,
                                                c.messages, c.recipients, c.urgent));
    }
    return fbb.CreateVector(out);
  };
  auto senders_v = build(senders, false);
  auto groups_v = build(groups, true);
  Audit(s, "disconnect.report", "disconnect",
        JsonObject().Add("from_us", from).Add("to_us", to).str());
  auto body = wire::CreateDisconnectReport(fbb, from, to, senders_v, groups_v, total.messages,
                                           total.recipients, total.urgent);
  s.replies.AddEnvelope(rid, wire::Body::DisconnectReport, body.Union());
  MarkDirty(s);
}

// ------------------------------------------------------------------ delivery

void Broker::NoteOffDutyRecipients(const Conversation& c, UserId sender, bool urgent,
                                   std::int64_t now_us,
                                   std::vector<PendingAck::OffDuty>* off_duty) {
  for (const Membership& m : c.members) {
    if (m.user == sender) continue;
    DutyState state = schedules_.StateOf(m.user, now_us);
    if (state.on_duty || !IsActiveUser(m.user)) continue;
    off_duty->push_back({m.user, state.until_us});
  }
  if (off_duty->empty()) return;
  if (!urgent) stats_.off_duty_held.fetch_add(off_duty->size(), std::memory_order_relaxed);
  const std::uint32_t day = DayOf(now_us);
  auto count = [&](DisconnectCounts* counts) {
    counts->messages += 1;
    counts->recipients += off_duty->size();
    if (urgent) counts->urgent += 1;
  };
  count(CountsFor(day, 's', sender.value()));
  if (c.kind == wire::ConversationKind::Group) count(CountsFor(day, 'g', c.id.value()));
}

bool Broker::WithheldFrom(UserId user, const Conversation& c, Seq* limit) {
  *limit = c.committed_seq;
  if (!schedules_.OffDuty(user, clock_->NowMicros())) return false;
  Seq allowed = 0;
  auto it = urgent_allowed_.find(user);
  if (it != urgent_allowed_.end()) {
    auto conv = it->second.find(c.id);
    if (conv != it->second.end()) allowed = conv->second;
  }
  *limit = std::min(*limit, allowed);
  return true;
}

void Broker::AllowUrgent(UserId user, ConversationId c, Seq seq) {
  Seq& allowed = urgent_allowed_[user][c];
  allowed = std::max(allowed, seq);
}

void Broker::OnDutyChanges(const std::vector<WorkSchedules::Change>& changes) {
  for (const WorkSchedules::Change& ch : changes) {
    // What others were told follows the state before the change.
    if (presence_told_.find(ch.user) == presence_told_.end()) {
      PresenceNow before;
      if (!ch.before.on_duty) {
        before.state = wire::PresenceState::OffDuty;
        before.until_us = ch.before.until_us;
      } else {
        before.state = HasReceivingSession(ch.user) ? wire::PresenceState::Online
                                                    : wire::PresenceState::Offline;
      }
      presence_told_[ch.user] = before;
    }
    presence_dirty_.push_back(ch.user);
    if (!ch.after.on_duty) continue;
    // Back at work: what waited goes out now.
    urgent_allowed_.erase(ch.user);
    auto online = online_.find(ch.user);
    if (online == online_.end()) continue;
    for (Session* s : online->second) {
      if (!s->receive || s->needs_pump) continue;
      s->needs_pump = true;
      pump_list_.push_back(s->connection);
    }
  }
}

void Broker::ServeSchedules() {
  std::int64_t now = clock_->NowMicros();
  std::int64_t mono = clock_->MonotonicMicros();
  // Everyone gets a state (and a timer), so that their presence changes are
  // told also when nothing asked about them.
  if (schedules_.cached() < directory_.user_count() && mono >= next_schedule_prime_mono_us_) {
    next_schedule_prime_mono_us_ = mono + kPrimeIntervalUs;
    for (const User* u : directory_.Users()) schedules_.StateOf(u->id, now);
  }
  std::vector<WorkSchedules::Change> changes = schedules_.Due(now);
  if (!changes.empty()) OnDutyChanges(changes);
}

// ------------------------------------------------------------------ presence

bool Broker::HasReceivingSession(UserId user) const {
  auto online = online_.find(user);
  if (online == online_.end()) return false;
  return std::any_of(online->second.begin(), online->second.end(),
                     [](const Session* s) { return s->receive && !s->revoked; });
}

Broker::PresenceNow Broker::PresenceOf(UserId user) {
  PresenceNow p;
  DutyState duty = schedules_.StateOf(user, clock_->NowMicros());
  if (!duty.on_duty) {
    p.state = wire::PresenceState::OffDuty;
    p.until_us = duty.until_us;
  } else if (HasReceivingSession(user)) {
    p.state = wire::PresenceState::Online;
  }
  return p;
}

void Broker::PresenceMayChange(UserId user) {
  // Presence events belong to working hours: a broker without schedules
  // sends none (its clients see exactly what they saw before).
  if (!schedules_.active()) return;
  if (presence_told_.find(user) == presence_told_.end()) presence_told_[user] = PresenceOf(user);
  presence_dirty_.push_back(user);
}

void Broker::AnnouncePresence() {
  std::vector<UserId> dirty;
  dirty.swap(presence_dirty_);
  std::sort(dirty.begin(), dirty.end());
  dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
  for (UserId user : dirty) {
    const User* u = directory_.FindUser(user);
    if (u == nullptr) continue;
    PresenceNow now = PresenceOf(user);
    PresenceNow& told = presence_told_[user];
    if (told == now) continue;
    told = now;
    std::set<UserId> others;
    for (ConversationId id : conversations_.ConversationsOf(user)) {
      const Conversation* c = conversations_.Find(id);
      if (c == nullptr) continue;
      for (const Membership& m : c->members) {
        if (m.user != user) others.insert(m.user);
      }
    }
    for (UserId other : others) {
      auto online = online_.find(other);
      if (online == online_.end()) continue;
      for (Session* s : online->second) {
        if (!s->receive || s->revoked) continue;
        auto& fbb = s->replies.builder();
        auto body = wire::CreatePresence(fbb, fbb.CreateString(u->login), now.state, now.until_us);
        s->replies.AddEnvelope(0, wire::Body::Presence, body.Union());
        MarkDirty(*s);
      }
    }
  }
}

// ------------------------------------------------------------------ disconnect counts

Broker::DisconnectCounts* Broker::CountsFor(std::uint32_t day, char what, std::uint64_t id) {
  std::string key = CountsKey(day, what, id);
  auto it = disconnect_counts_.find(key);
  if (it == disconnect_counts_.end()) {
    // Counting goes on from what an earlier run of the broker stored.
    DisconnectCounts counts;
    Result<std::optional<std::string>> stored = store_->GetRecord(RecordKind::kDisconnectStat, key);
    if (!stored.ok()) {
      LOG_ERROR() << "cannot read a right-to-disconnect record: " << stored.status();
    } else if (stored->has_value()) {
      std::string scratch;
      const auto* rec = VerifiedRecord<store::DisconnectStatRecord>(**stored, &scratch);
      if (rec != nullptr) counts = {rec->messages(), rec->recipients(), rec->urgent()};
    }
    it = disconnect_counts_.emplace(key, counts).first;
  }
  disconnect_dirty_.insert(key);
  return &it->second;
}

void Broker::WriteDisconnectCounts(WriteBatch* batch) {
  flatbuffers::FlatBufferBuilder fbb(64);
  for (const std::string& key : disconnect_dirty_) {
    const DisconnectCounts& c = disconnect_counts_[key];
    fbb.Clear();
    fbb.Finish(store::CreateDisconnectStatRecord(fbb, c.messages, c.recipients, c.urgent));
    batch->records.push_back(
        {RecordKind::kDisconnectStat, key,
         std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize())});
  }
  disconnect_dirty_.clear();
  if (disconnect_counts_.size() > kMaxCountsInMemory) {
    const std::uint32_t yesterday = DayOf(clock_->NowMicros()) - 1;
    for (auto it = disconnect_counts_.begin(); it != disconnect_counts_.end();) {
      it = DayOfKey(it->first) < yesterday ? disconnect_counts_.erase(it) : std::next(it);
    }
  }
}

}  // namespace chatpro::core
