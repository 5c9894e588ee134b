// SPDX-License-Identifier: Apache-2.0
//
// WorkSchedules: who is on duty, for the broker.
//
// It holds the organisation's schedule profiles (from the configuration), the
// urgent policy (who may break through off-duty hours), each person's own
// working hours (kSchedule records, the parts their profile lets them
// change), and a cache of each person's DutyState. A person's profile is the
// one that names their login, else the default profile, else none: without a
// profile (or without a time-zone database) a person is always on duty.
//
// The cache holds a state until its `until_us` passes (or, for a state that
// never changes within DutyAt's horizon, for a day); Due() hands the event
// loop the people whose state is up for recomputation, in time order, so the
// loop can resume their deliveries and tell others their presence.
//
// Like the Directory, memory changes at once and the records to persist go
// into the caller's WriteBatch.
// Thread-safety: none; owned and used by the broker's event-loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/core/directory.h"
#include "broker/core/message_store.h"
#include "broker/core/schedule.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::core {

// Converts a wire Schedule to working hours: checks weekdays (0..6, each at
// most once), dates (YYYY-MM-DD) and the limits on counts, then
// ValidateWorkingHours. Does not check the time zone. InvalidArgument saying
// what is wrong.
Result<WorkingHours> WorkingHoursFromWire(const wire::Schedule& schedule);
// `hours` as a wire Schedule, naming `profile` and what the person may change.
flatbuffers::Offset<wire::Schedule> WorkingHoursToWire(flatbuffers::FlatBufferBuilder& fbb,
                                                       const WorkingHours& hours,
                                                       const ScheduleProfile* profile);

class WorkSchedules {
 public:
  explicit WorkSchedules(const Directory* directory) : directory_(directory) {}
  WorkSchedules(const WorkSchedules&) = delete;
  WorkSchedules& operator=(const WorkSchedules&) = delete;

  // Sets the profiles, the urgent policy and the time-zone database (not
  // owned; outlives this). Entries of `urgent_allowed`: "role:admin",
  // "role:auditor", "role:user", "user:LOGIN", "profile:NAME". Forgets every
  // cached state. On failure (InvalidArgument: an unknown policy entry or
  // profile, an unknown time zone, two default profiles, a login in two
  // profiles, a profile without a name) nothing changes.
  Status Configure(std::vector<ScheduleProfile> profiles, std::vector<std::string> urgent_allowed,
                   const ZoneDb* zones);

  // Loads everyone's own working hours. On failure returns the store's error
  // or DataLoss naming a damaged record.
  Status Load(MessageStore& store);

  // True when anyone can be off duty (profiles and a zone database are set).
  // While false, everyone is always on duty and the broker skips all of this.
  bool active() const { return active_; }
  const std::vector<std::string>& urgent_policy() const { return urgent_allowed_; }
  const ZoneDb* zones() const { return zones_; }

  // The profile of `user`, or nullptr.
  const ScheduleProfile* ProfileOf(UserId user) const;
  // `user`'s own working hours (empty if none stored).
  const WorkingHours& OwnHours(UserId user) const;
  // The effective schedule of `user` (empty without a profile).
  WorkingHours EffectiveOf(UserId user) const;
  // Whether the urgent policy lets `user` send urgent messages.
  bool MayUrgent(UserId user) const;

  // `user`'s duty state at `now_us` (cached). A schedule DutyAt cannot
  // evaluate (unknown zone) counts as on duty, and is logged.
  DutyState StateOf(UserId user, std::int64_t now_us);
  // True only if schedules are active and `user` is off duty at `now_us`.
  bool OffDuty(UserId user, std::int64_t now_us) {
    return active_ && !StateOf(user, now_us).on_duty;
  }
  // The number of people with a cached state.
  std::size_t cached() const { return cache_.size(); }

  // A change of duty found by Due().
  struct Change {
    UserId user;
    DutyState before;
    DutyState after;
  };
  // Recomputes the states whose time has come (recheck at or before
  // `now_us`) and returns those whose on-duty flag changed, with the changes
  // StateOf() met since the last call (it recomputes a state whose time has
  // come when asked first).
  std::vector<Change> Due(std::int64_t now_us);

  // Replaces `user`'s own working hours, stamped `by` at `now_us`, and
  // recomputes their state. Returns the state before and after. REQUIRES: the
  // caller checked rights and validity.
  Change SetOwn(UserId user, WorkingHours own, UserId by, std::int64_t now_us, WriteBatch* batch);

 private:
  struct Cached {
    DutyState state;
    std::int64_t recheck_us = 0;  // 0: never
  };
  Cached Compute(UserId user, std::int64_t now_us) const;
  void Put(UserId user, const Cached& c);

  const Directory* const directory_;
  std::vector<ScheduleProfile> profiles_;
  std::vector<std::string> urgent_allowed_;
  const ZoneDb* zones_ = nullptr;
  bool active_ = false;
  std::unordered_map<std::string, std::size_t> profile_by_login_;
  const ScheduleProfile* default_profile_ = nullptr;
  std::unordered_map<UserId, WorkingHours> own_;
  std::unordered_map<UserId, Cached> cache_;
  std::set<std::pair<std::int64_t, UserId>> rechecks_;  // (recheck_us, user)
  std::vector<Change> pending_;                         // found by StateOf, for the next Due()
};

}  // namespace chatpro::core
