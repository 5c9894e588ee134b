// SPDX-License-Identifier: Apache-2.0
//
// FakeCore: a core::LocalCaller for the console's unit tests that answers
// wire frames the way the core does for the requests the console sends
// (principals, roles, inactive users, errors), over an in-memory user list.
// The end-to-end tests through a real broker live in tests/.
//
// Thread-safety: Call may run on several threads; the test thread changes
// users only while no request is in flight.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "broker/core/local_port.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::console::testing {

struct FakeUser {
  std::uint64_t id = 0;
  std::string login;
  std::string display_name;
  wire::Role role = wire::Role::User;
  bool active = true;
  std::string password_hash;  // "" : no console password
};

struct AuditRecord {
  std::string event, login, address;
  bool ok = false;
};

class FakeCore : public core::LocalCaller {
 public:
  Result<std::string> Call(std::string_view principal, std::string_view frame,
                           std::chrono::milliseconds timeout) override;

  // Adds a user whose console password is `password` (hashed cheaply).
  void AddUser(std::uint64_t id, const std::string& login, const std::string& display_name,
               wire::Role role, const std::string& password);
  void SetActive(const std::string& login, bool active);

  std::vector<AuditRecord> audit() const;
  // Requests that came as a signed-in user ("c:..."), by body type name.
  std::vector<std::string> user_requests() const;
  std::atomic<bool> unavailable{false};

  // Cases and exports (console_exports.cc), kept by the core's four-eyes
  // rules: an admin or auditor opens, another person of the other role
  // approves, an export of an approved case runs until FinishExports().
  struct FakeCase {
    std::uint64_t id = 0;
    wire::CaseKind kind = wire::CaseKind::SubjectAccess;
    std::string legal_basis, keyword;
    std::vector<std::string> subjects;
    std::vector<std::uint64_t> conversations;
    std::int64_t from_us = 0, to_us = 0;
    bool redact_others = false;
    std::uint64_t requested_by = 0, approved_by = 0;  // user ids
    std::string export_state;                         // "", "running", "done"
  };
  // Running exports end, each holding export_file.
  void FinishExports();
  std::vector<FakeCase> cases() const;
  std::string export_file = "PK fake zip bytes";  // set before exports finish
  std::uint32_t chunk_limit = 1u << 20;           // the largest piece a download answers
  // When >= 0: the number of download pieces answered before the broker
  // "goes away" (Unavailable), to cut a download midway.
  std::atomic<int> download_pieces_left{-1};

  // Records management (fake_core_records.cc): a group, a retention
  // plugin whose dry run counts `retention_messages` messages, the holds set
  // through the fake, a schedule for every user and a disconnect report.
  std::uint64_t retention_messages = 3;
  std::vector<std::string> retention_runs() const;  // "dry" or "real", in order

 private:
  // REQUIRES: mutex_ held.
  Result<std::string> AnswerCases(const FakeUser& caller, std::uint64_t rid,
                                  const wire::Envelope& e);
  std::vector<FakeCase> cases_;
  struct FakeHold {
    std::uint64_t id = 0;
    wire::HoldTarget target = wire::HoldTarget::User;
    std::string login;
    std::uint64_t conversation_id = 0;
    std::string case_ref, reason, created_by, lifted_by;
    std::int64_t lifted_at_us = 0;
  };
  // The reply to a records-management request of `caller`, or nullopt for
  // another request. REQUIRES: mutex_ held.
  std::optional<std::string> RecordsReply(const wire::Envelope& e, const FakeUser& caller);
  std::vector<FakeHold> holds_;
  std::vector<std::string> retention_runs_;

  mutable std::mutex mutex_;
  std::vector<FakeUser> users_;
  std::vector<AuditRecord> audit_;
  std::vector<std::string> user_requests_;
};

}  // namespace chatpro::console::testing
