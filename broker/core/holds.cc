// SPDX-License-Identifier: Apache-2.0
#include "broker/core/holds.h"

#include <algorithm>

#include "broker/core/directory.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {

bool HoldSnapshot::Covers(ConversationId conversation, UserId sender,
                          const std::vector<UserId>& members) const {
  if (conversations.count(conversation) > 0 || users.count(sender) > 0) return true;
  if (users.empty()) return false;
  return std::any_of(members.begin(), members.end(), [&](UserId m) { return users.count(m) > 0; });
}

Status Holds::Load(MessageStore& store) {
  Status bad;
  std::string scratch;
  CHATPRO_RETURN_IF_ERROR(store.ScanRecords(RecordKind::kHold, "", [&](std::string_view,
                                                                        std::string_view value) {
    const auto* r = VerifiedRecord<store::HoldRecord>(value, &scratch);
    if (r == nullptr) {
      bad = Status::DataLoss("a legal hold record in the store is damaged");
      return false;
    }
    Hold h;
    h.id = r->id();
    h.target = r->target();
    h.user = UserId(r->user_id());
    h.conversation = ConversationId(r->conversation_id());
    h.case_ref = r->case_ref() == nullptr ? "" : r->case_ref()->str();
    h.reason = r->reason() == nullptr ? "" : r->reason()->str();
    h.created_by = UserId(r->created_by());
    h.created_at_us = r->created_at_us();
    h.lifted_by = UserId(r->lifted_by());
    h.lifted_at_us = r->lifted_at_us();
    h.lift_reason = r->lift_reason() == nullptr ? "" : r->lift_reason()->str();
    next_id_ = std::max(next_id_, h.id + 1);
    holds_[h.id] = std::move(h);
    return true;
  }));
  return bad;
}

void Holds::Put(const Hold& h, WriteBatch* batch) const {
  flatbuffers::FlatBufferBuilder fbb;
  auto case_ref = fbb.CreateString(h.case_ref);
  auto reason = fbb.CreateString(h.reason);
  auto lift_reason = fbb.CreateString(h.lift_reason);
  fbb.Finish(store::CreateHoldRecord(fbb, h.id, h.target, h.user.value(), h.conversation.value(),
                                     case_ref, reason, h.created_by.value(), h.created_at_us,
                                     h.lifted_by.value(), h.lifted_at_us, lift_reason));
  batch->records.push_back({RecordKind::kHold, store_keys::U64Key(h.id),
                            std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()),
                                        fbb.GetSize())});
}

Result<Hold> Holds::Set(wire::HoldTarget target, UserId user, ConversationId conversation,
                        std::string_view case_ref, std::string_view reason, UserId by,
                        std::int64_t now_us, WriteBatch* batch) {
  if (case_ref.empty() || case_ref.size() > 200 || !IsValidUtf8(case_ref)) {
    return Status::InvalidArgument("a hold needs a case reference (up to 200 characters)");
  }
  if (reason.empty() || reason.size() > 2000 || !IsValidUtf8(reason)) {
    return Status::InvalidArgument("a hold needs a reason (up to 2000 characters)");
  }
  Hold h;
  h.id = next_id_++;
  h.target = target;
  h.user = user;
  h.conversation = conversation;
  h.case_ref = std::string(case_ref);
  h.reason = std::string(reason);
  h.created_by = by;
  h.created_at_us = now_us;
  Put(h, batch);
  holds_[h.id] = h;
  return h;
}

Result<Hold> Holds::Lift(std::uint64_t id, UserId by, std::string_view reason, std::int64_t now_us,
                         WriteBatch* batch) {
  auto it = holds_.find(id);
  if (it == holds_.end()) return Status::NotFound("there is no hold " + std::to_string(id));
  if (!it->second.in_force()) {
    return Status::FailedPrecondition("hold " + std::to_string(id) + " was lifted already");
  }
  if (reason.empty() || reason.size() > 2000 || !IsValidUtf8(reason)) {
    return Status::InvalidArgument("lifting a hold needs a reason (up to 2000 characters)");
  }
  it->second.lifted_by = by;
  it->second.lifted_at_us = now_us;
  it->second.lift_reason = std::string(reason);
  Put(it->second, batch);
  return it->second;
}

std::vector<Hold> Holds::List(bool include_lifted) const {
  std::vector<Hold> out;
  for (const auto& [id, h] : holds_) {
    if (include_lifted || h.in_force()) out.push_back(h);
  }
  return out;
}

HoldSnapshot Holds::Snapshot() const {
  HoldSnapshot s;
  for (const auto& [id, h] : holds_) {
    if (!h.in_force()) continue;
    if (h.target == wire::HoldTarget::User) {
      s.users.insert(h.user);
    } else {
      s.conversations.insert(h.conversation);
    }
  }
  return s;
}

}  // namespace chatpro::core
