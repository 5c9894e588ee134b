// SPDX-License-Identifier: Apache-2.0
#include "broker/core/cases.h"

#include <algorithm>

#include "broker/base/encoding.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"
#include "schemas/vectors.h"

namespace chatpro::core {

bool Case::HasSubject(UserId user) const {
  return std::find(subjects.begin(), subjects.end(), user) != subjects.end();
}

std::string Case::State(std::int64_t now_us) const {
  if (exported) return "exported";
  if (!approved()) return "awaiting approval";
  if (now_us >= approval_expires_at_us) return "expired";
  return "approved";
}

Status CaseRegistry::Load(MessageStore& store) {
  Status bad;
  Status scan = store.ScanRecords(RecordKind::kCase, "", [&](std::string_view key, std::string_view v) {
    Result<Case> c = Decode(v);
    if (!c.ok() || key.size() != 8 || c->id != ReadBigEndian64(key)) {
      bad = Status::DataLoss("case record " + std::to_string(key.size() == 8 ? ReadBigEndian64(key) : 0) +
                             " is damaged");
      return false;
    }
    next_id_ = std::max(next_id_, c->id + 1);
    std::uint64_t id = c->id;
    cases_[id] = std::move(*c);
    return true;
  });
  if (!scan.ok()) return scan;
  return bad;
}

const Case& CaseRegistry::Add(Case c, WriteBatch* batch) {
  c.id = next_id_++;
  std::uint64_t id = c.id;
  cases_[id] = std::move(c);
  Put(id, batch);
  return cases_[id];
}

void CaseRegistry::Put(std::uint64_t id, WriteBatch* batch) const {
  const Case& c = cases_.at(id);
  batch->records.push_back({RecordKind::kCase, store_keys::U64Key(id), Encode(c)});
}

Case* CaseRegistry::Find(std::uint64_t id) {
  auto it = cases_.find(id);
  return it == cases_.end() ? nullptr : &it->second;
}

const Case* CaseRegistry::Find(std::uint64_t id) const {
  auto it = cases_.find(id);
  return it == cases_.end() ? nullptr : &it->second;
}

std::string CaseRegistry::Encode(const Case& c) {
  flatbuffers::FlatBufferBuilder fbb(256);
  std::vector<std::uint64_t> subjects, conversations;
  for (UserId u : c.subjects) subjects.push_back(u.value());
  for (ConversationId id : c.conversations) conversations.push_back(id.value());
  auto basis = fbb.CreateString(c.legal_basis);
  auto subj = fbb.CreateVector(subjects);
  auto convs = fbb.CreateVector(conversations);
  auto keyword = fbb.CreateString(c.keyword);
  fbb.Finish(store::CreateCaseRecord(fbb, c.id, c.kind, basis, subj, convs, c.from_us, c.to_us,
                                     keyword, c.redact_others, c.requested_by.value(),
                                     c.requested_at_us, c.approved_by.value(), c.approved_at_us,
                                     c.approval_expires_at_us, c.visible_to_subjects_at_us,
                                     c.exported));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

Result<Case> CaseRegistry::Decode(std::string_view bytes) {
  std::string scratch;
  const auto* r = VerifiedRecord<store::CaseRecord>(bytes, &scratch);
  if (r == nullptr) return Status::DataLoss("a case record is damaged");
  Case c;
  c.id = r->id();
  c.kind = r->kind();
  if (r->legal_basis() != nullptr) c.legal_basis = r->legal_basis()->str();
  for (std::uint64_t u : schemas::U64s(r->subject_user_ids())) c.subjects.push_back(UserId(u));
  for (std::uint64_t id : schemas::U64s(r->conversations())) {
    c.conversations.push_back(ConversationId(id));
  }
  c.from_us = r->from_us();
  c.to_us = r->to_us();
  if (r->keyword() != nullptr) c.keyword = r->keyword()->str();
  c.redact_others = r->redact_others();
  c.requested_by = UserId(r->requested_by());
  c.requested_at_us = r->requested_at_us();
  c.approved_by = UserId(r->approved_by());
  c.approved_at_us = r->approved_at_us();
  c.approval_expires_at_us = r->approval_expires_at_us();
  c.visible_to_subjects_at_us = r->visible_to_subjects_at_us();
  c.exported = r->exported();
  return c;
}

}  // namespace chatpro::core
