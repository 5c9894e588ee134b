// SPDX-License-Identifier: Apache-2.0
//
// CaseRegistry: the cases that give access to people's messages (subject
// access requests and searches, e.g. for a freedom-of-information request),
// under four eyes.
//
// A case is opened by an administrator or an auditor with a legal basis and a
// scope (subjects, optional conversations, a date range, a keyword). Someone
// of the other role (auditor for an administrator's case and the reverse)
// must approve it before anything is exported, and the approval lets an
// export start only for CasesOptions::approval_valid_us. Once the embargo
// (CasesOptions::embargo_us after the request, or after the approval) has
// passed, the people concerned can see that the case existed.
//
// Like the Directory, memory changes at once and the records to persist go
// into the caller's WriteBatch (kCase records, chatpro.store.CaseRecord).
//
// Thread-safety: none; owned and used by the broker's event-loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/core/message_store.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::core {

struct Case {
  std::uint64_t id = 0;
  wire::CaseKind kind = wire::CaseKind::SubjectAccess;
  std::string legal_basis;
  std::vector<UserId> subjects;
  std::vector<ConversationId> conversations;  // empty: every conversation of the subjects
  std::int64_t from_us = 0;                   // 0: from the start
  std::int64_t to_us = 0;                     // 0: until the export
  std::string keyword;                        // empty: no keyword filter
  bool redact_others = false;
  UserId requested_by;
  std::int64_t requested_at_us = 0;
  UserId approved_by;                 // invalid while awaiting approval
  std::int64_t approved_at_us = 0;
  std::int64_t approval_expires_at_us = 0;
  std::int64_t visible_to_subjects_at_us = 0;  // end of the embargo
  bool exported = false;

  bool approved() const { return approved_by.valid(); }
  bool HasSubject(UserId user) const;
  // "awaiting approval", "approved", "expired" or "exported", at `now_us`.
  std::string State(std::int64_t now_us) const;
};

class CaseRegistry {
 public:
  CaseRegistry() = default;
  CaseRegistry(const CaseRegistry&) = delete;
  CaseRegistry& operator=(const CaseRegistry&) = delete;

  // Loads every stored case. On failure returns the store's error or
  // DataLoss naming a damaged record.
  Status Load(MessageStore& store);

  // Gives `c` the next id, keeps it and adds its record to `batch`.
  const Case& Add(Case c, WriteBatch* batch);
  // Stores the current state of case `id` into `batch`. REQUIRES: it exists.
  void Put(std::uint64_t id, WriteBatch* batch) const;

  Case* Find(std::uint64_t id);
  const Case* Find(std::uint64_t id) const;
  // Every case, by id.
  const std::map<std::uint64_t, Case>& all() const { return cases_; }

  // The record bytes of `c`, and back. Decode returns DataLoss if `bytes` is
  // not a valid CaseRecord.
  static std::string Encode(const Case& c);
  static Result<Case> Decode(std::string_view bytes);

 private:
  std::map<std::uint64_t, Case> cases_;
  std::uint64_t next_id_ = 1;
};

}  // namespace chatpro::core
