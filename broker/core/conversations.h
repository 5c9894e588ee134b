// SPDX-License-Identifier: Apache-2.0
//
// Conversations: direct chats (one per pair of users) and groups (name,
// members, owners), with each conversation's sequence counters.
//
// Every conversation has one total order. `next_seq` is the last seq handed
// out (the message may still be on its way to disk); `committed_seq` is the
// newest seq the store has. Readers see only committed messages.
//
// Like the Directory, memory changes at once and the records to persist go
// into the caller's WriteBatch.
//
// Thread-safety: none; owned and used by the broker's event-loop thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/core/message_store.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::core {

struct Membership {
  UserId user;
  bool owner = false;
  Seq joined_seq = 0;  // the member reads messages with seq > joined_seq
};

struct Conversation {
  ConversationId id;
  wire::ConversationKind kind = wire::ConversationKind::Direct;
  std::string name;  // groups only
  std::vector<Membership> members;  // in joining order
  std::int64_t created_at_us = 0;
  UserId created_by;
  Seq next_seq = 0;
  Seq committed_seq = 0;

  const Membership* FindMember(UserId user) const;
  bool IsMember(UserId user) const { return FindMember(user) != nullptr; }
  bool IsOwner(UserId user) const;
};

class ConversationTable {
 public:
  ConversationTable() = default;
  ConversationTable(const ConversationTable&) = delete;
  ConversationTable& operator=(const ConversationTable&) = delete;

  // Loads every conversation and its newest stored seq.
  Status Load(MessageStore& store);

  Conversation* Find(ConversationId id);
  const Conversation* Find(ConversationId id) const;
  // The direct conversation of two users, or nullptr.
  Conversation* FindDirect(UserId a, UserId b);
  // The conversations `user` is a member of.
  const std::unordered_set<ConversationId>& ConversationsOf(UserId user) const;
  std::size_t size() const { return conversations_.size(); }
  // Calls `fn` for every conversation, in no particular order.
  void ForEach(const std::function<void(const Conversation&)>& fn) const {
    for (const auto& [id, c] : conversations_) fn(*c);
  }

  Conversation* CreateDirect(UserId a, UserId b, std::int64_t now_us, WriteBatch* batch);
  // REQUIRES: members are distinct and exist; `creator` is among them.
  Result<Conversation*> CreateGroup(std::string_view name, UserId creator,
                                    const std::vector<UserId>& members, std::int64_t now_us,
                                    WriteBatch* batch);
  // Adds `user` (no-op result if a member already, except for owner promotion).
  void AddMember(Conversation* c, UserId user, bool owner, WriteBatch* batch);
  // Removes `user`. The caller then calls EnsureActiveOwner, so that a group
  // keeps an owner who can act.
  void RemoveMember(Conversation* c, UserId user, WriteBatch* batch);

  // If no owner of group `c` is active (per `active`), makes the
  // longest-standing active member an owner. Returns that member, or an
  // invalid id if nobody was promoted.
  UserId EnsureActiveOwner(Conversation* c, const std::function<bool(UserId)>& active,
                           WriteBatch* batch);

  // Group names: 1 to 100 characters of valid UTF-8, no control characters.
  static Status ValidateGroupName(std::string_view name);

 private:
  void Put(const Conversation& c, WriteBatch* batch) const;
  void Index(Conversation* c);

  std::unordered_map<ConversationId, std::unique_ptr<Conversation>> conversations_;
  std::map<std::pair<UserId, UserId>, ConversationId> directs_;  // key: (lower, higher) id
  std::unordered_map<UserId, std::unordered_set<ConversationId>> by_user_;
  std::uint64_t next_id_ = 1;
};

}  // namespace chatpro::core
