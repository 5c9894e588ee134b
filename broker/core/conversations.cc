// SPDX-License-Identifier: Apache-2.0
#include "broker/core/conversations.h"

#include <algorithm>

#include "broker/core/directory.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

std::pair<UserId, UserId> PairKey(UserId a, UserId b) {
  return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
}

}  // namespace

const Membership* Conversation::FindMember(UserId user) const {
  for (const Membership& m : members) {
    if (m.user == user) return &m;
  }
  return nullptr;
}

bool Conversation::IsOwner(UserId user) const {
  const Membership* m = FindMember(user);
  return m != nullptr && m->owner;
}

Status ConversationTable::ValidateGroupName(std::string_view name) {
  if (name.empty() || name.size() > 400) return Status::InvalidArgument("a group name has 1 to 100 characters");
  if (!IsValidUtf8(name)) return Status::InvalidArgument("the group name is not valid UTF-8");
  size_t chars = 0;
  for (unsigned char c : name) {
    if ((c & 0xC0) != 0x80) ++chars;
    if (c < 0x20 || c == 0x7F) return Status::InvalidArgument("the group name has control characters");
  }
  if (chars > 100) return Status::InvalidArgument("a group name has 1 to 100 characters");
  return Status::Ok();
}

Status ConversationTable::Load(MessageStore& store) {
  Status bad;
  std::string scratch;
  std::vector<Conversation*> loaded;
  CHATPRO_RETURN_IF_ERROR(store.ScanRecords(
      RecordKind::kConversation, "", [&](std::string_view, std::string_view value) {
        const auto* r = VerifiedRecord<store::ConversationRecord>(value, &scratch);
        if (r == nullptr) {
          bad = Status::DataLoss("a conversation record in the store is damaged");
          return false;
        }
        auto c = std::make_unique<Conversation>();
        c->id = ConversationId(r->id());
        c->kind = r->kind();
        if (r->name() != nullptr) c->name = r->name()->str();
        if (r->members() != nullptr) {
          for (const auto* m : *r->members()) {
            c->members.push_back({UserId(m->user_id()), m->owner(), m->joined_seq()});
          }
        }
        c->created_at_us = r->created_at_us();
        c->created_by = UserId(r->created_by());
        next_id_ = std::max(next_id_, c->id.value() + 1);
        Conversation* raw = c.get();
        conversations_[c->id] = std::move(c);
        Index(raw);
        loaded.push_back(raw);
        return true;
      }));
  CHATPRO_RETURN_IF_ERROR(bad);
  for (Conversation* c : loaded) {
    Result<Seq> last = store.LastSeq(c->id);
    if (!last.ok()) return last.status();
    c->next_seq = c->committed_seq = *last;
  }
  return Status::Ok();
}

void ConversationTable::Index(Conversation* c) {
  if (c->kind == wire::ConversationKind::Direct && !c->members.empty()) {
    UserId a = c->members.front().user;
    UserId b = c->members.size() > 1 ? c->members[1].user : a;
    directs_[PairKey(a, b)] = c->id;
  }
  for (const Membership& m : c->members) by_user_[m.user].insert(c->id);
}

Conversation* ConversationTable::Find(ConversationId id) {
  auto it = conversations_.find(id);
  return it == conversations_.end() ? nullptr : it->second.get();
}

const Conversation* ConversationTable::Find(ConversationId id) const {
  auto it = conversations_.find(id);
  return it == conversations_.end() ? nullptr : it->second.get();
}

Conversation* ConversationTable::FindDirect(UserId a, UserId b) {
  auto it = directs_.find(PairKey(a, b));
  if (it == directs_.end()) return nullptr;
  return Find(it->second);
}

const std::unordered_set<ConversationId>& ConversationTable::ConversationsOf(UserId user) const {
  static const std::unordered_set<ConversationId> kNone;
  auto it = by_user_.find(user);
  return it == by_user_.end() ? kNone : it->second;
}

void ConversationTable::Put(const Conversation& c, WriteBatch* batch) const {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<store::MemberRecord>> members;
  members.reserve(c.members.size());
  for (const Membership& m : c.members) {
    members.push_back(store::CreateMemberRecord(fbb, m.user.value(), m.owner, m.joined_seq));
  }
  auto mv = fbb.CreateVector(members);
  auto name = fbb.CreateString(c.name);
  fbb.Finish(store::CreateConversationRecord(fbb, c.id.value(), c.kind, name, mv, c.created_at_us,
                                             c.created_by.value()));
  batch->records.push_back({RecordKind::kConversation, store_keys::U64Key(c.id.value()),
                            std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()),
                                        fbb.GetSize())});
}

Conversation* ConversationTable::CreateDirect(UserId a, UserId b, std::int64_t now_us,
                                              WriteBatch* batch) {
  auto c = std::make_unique<Conversation>();
  c->id = ConversationId(next_id_++);
  c->kind = wire::ConversationKind::Direct;
  c->members.push_back({a, false, 0});
  if (b != a) c->members.push_back({b, false, 0});
  c->created_at_us = now_us;
  c->created_by = a;
  Conversation* raw = c.get();
  conversations_[c->id] = std::move(c);
  Index(raw);
  Put(*raw, batch);
  return raw;
}

Result<Conversation*> ConversationTable::CreateGroup(std::string_view name, UserId creator,
                                                     const std::vector<UserId>& members,
                                                     std::int64_t now_us, WriteBatch* batch) {
  CHATPRO_RETURN_IF_ERROR(ValidateGroupName(name));
  auto c = std::make_unique<Conversation>();
  c->id = ConversationId(next_id_++);
  c->kind = wire::ConversationKind::Group;
  c->name = std::string(name);
  c->created_at_us = now_us;
  c->created_by = creator;
  c->members.push_back({creator, true, 0});
  for (UserId u : members) {
    if (u != creator) c->members.push_back({u, false, 0});
  }
  Conversation* raw = c.get();
  conversations_[c->id] = std::move(c);
  Index(raw);
  Put(*raw, batch);
  return raw;
}

void ConversationTable::AddMember(Conversation* c, UserId user, bool owner, WriteBatch* batch) {
  for (Membership& m : c->members) {
    if (m.user == user) {
      if (owner && !m.owner) {
        m.owner = true;
        Put(*c, batch);
      }
      return;
    }
  }
  c->members.push_back({user, owner, c->next_seq});
  by_user_[user].insert(c->id);
  Put(*c, batch);
}

UserId ConversationTable::EnsureActiveOwner(Conversation* c,
                                            const std::function<bool(UserId)>& active,
                                            WriteBatch* batch) {
  if (c->kind != wire::ConversationKind::Group) return UserId();
  for (const Membership& m : c->members) {
    if (m.owner && active(m.user)) return UserId();
  }
  for (Membership& m : c->members) {
    if (active(m.user)) {
      m.owner = true;
      Put(*c, batch);
      return m.user;
    }
  }
  return UserId();
}

void ConversationTable::RemoveMember(Conversation* c, UserId user, WriteBatch* batch) {
  auto it = std::find_if(c->members.begin(), c->members.end(),
                         [&](const Membership& m) { return m.user == user; });
  if (it == c->members.end()) return;
  c->members.erase(it);
  by_user_[user].erase(c->id);
  Put(*c, batch);
}

}  // namespace chatpro::core
