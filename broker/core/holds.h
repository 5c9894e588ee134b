// SPDX-License-Identifier: Apache-2.0
//
// Holds: legal holds on a person or a conversation. While a hold is in force,
// nothing it covers is removed by any retention policy (edits and deletions by
// senders never remove originals anyway). A hold on a person covers every
// message they sent and every message of every conversation they are a member
// of; a hold on a conversation covers all of it. Lifting a hold keeps its
// record (who, when, why) for the organisation.
//
// Like the directory, memory changes at once and the records to persist go
// into the caller's WriteBatch.
// Thread-safety: none; the event loop owns it. The retention thread works on
// a Snapshot() and the loop checks again before removing anything.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/core/message_store.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::core {

struct Hold {
  std::uint64_t id = 0;
  wire::HoldTarget target = wire::HoldTarget::User;
  UserId user;                  // for a hold on a person
  ConversationId conversation;  // for a hold on a conversation
  std::string case_ref;
  std::string reason;
  UserId created_by;
  std::int64_t created_at_us = 0;
  UserId lifted_by;
  std::int64_t lifted_at_us = 0;  // 0 while in force
  std::string lift_reason;

  bool in_force() const { return lifted_at_us == 0; }
};

// What the holds in force cover, copied for another thread.
struct HoldSnapshot {
  std::set<UserId> users;
  std::set<ConversationId> conversations;

  // True if a message of `conversation` sent by `sender`, among `members`, is held.
  bool Covers(ConversationId conversation, UserId sender, const std::vector<UserId>& members) const;
};

class Holds {
 public:
  Holds() = default;
  Holds(const Holds&) = delete;
  Holds& operator=(const Holds&) = delete;

  // Loads every hold. On failure returns the store's error or DataLoss.
  Status Load(MessageStore& store);

  // Places a hold. REQUIRES: the target exists (the caller checks).
  // InvalidArgument if the case reference or the reason is empty or too long.
  Result<Hold> Set(wire::HoldTarget target, UserId user, ConversationId conversation,
                   std::string_view case_ref, std::string_view reason, UserId by,
                   std::int64_t now_us, WriteBatch* batch);
  // Lifts a hold. NotFound, or FailedPrecondition if it was lifted already.
  Result<Hold> Lift(std::uint64_t id, UserId by, std::string_view reason, std::int64_t now_us,
                    WriteBatch* batch);

  std::vector<Hold> List(bool include_lifted) const;
  HoldSnapshot Snapshot() const;

 private:
  void Put(const Hold& hold, WriteBatch* batch) const;

  std::map<std::uint64_t, Hold> holds_;
  std::uint64_t next_id_ = 1;
};

}  // namespace chatpro::core
