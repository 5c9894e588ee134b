// SPDX-License-Identifier: Apache-2.0
//
// The console's translation between its JSON API and the wire protocol
// (schemas/wire.fbs), in one place: building the one-request Frames the core
// answers (the same requests the CLI sends), verifying reply Frames, and
// turning reply tables into JSON. Adding an endpoint means adding a builder
// here and, if its reply is new, a case in ReplyJson.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::console {

// The request id every console frame uses (one request per frame).
constexpr std::uint64_t kRequestId = 1;

// ------------------------------------------------------------- requests

std::string ConsoleCredentialsFrame(std::string_view login);
std::string ConsoleAuditFrame(std::string_view event, std::string_view login,
                              std::string_view address, bool ok);
std::string AdminListUsersFrame();
std::string AdminAddUserFrame(std::string_view login, std::string_view display_name,
                              wire::Role role);
std::string AdminDeactivateUserFrame(std::string_view login);
std::string AdminReactivateUserFrame(std::string_view login);
std::string ListDevicesFrame(std::string_view login);
std::string AdminListAuditFrame(std::uint64_t from_seq, std::uint32_t limit);
std::string AdminVerifyAuditFrame();

// Cases and exports (console_exports.cc)

// What POST /cases asks for; the core checks every field (CaseOpen).
struct CaseOpenFields {
  wire::CaseKind kind = wire::CaseKind::SubjectAccess;
  std::string legal_basis;
  std::vector<std::string> subjects;         // logins
  std::vector<std::uint64_t> conversations;  // empty: all of the subjects'
  std::int64_t from_us = 0;                  // 0: from the start
  std::int64_t to_us = 0;                    // 0: until now
  std::string keyword;
  bool redact_others = false;
};
std::string CaseOpenFrame(const CaseOpenFields& fields);
std::string CaseApproveFrame(std::uint64_t case_id);
std::string CaseListFrame();
std::string ExportStartFrame(std::uint64_t case_id);
std::string ExportStatusFrame(std::uint64_t export_id);
std::string ExportDownloadFrame(std::uint64_t export_id, std::uint64_t offset,
                                std::uint32_t max_bytes);

// Case kinds in JSON: "subject_access", "search".
std::string_view CaseKindName(wire::CaseKind kind);
// On failure returns InvalidArgument naming the accepted names.
Result<wire::CaseKind> CaseKindFromName(std::string_view name);
// Records management (console_records.cc)
std::string AdminListGroupsFrame();
std::string AdminListPluginsFrame();
std::string AdminRetentionRunFrame(bool dry_run);
std::string AdminListHoldsFrame(bool include_lifted);
// A hold on `login` (target User) or on `conversation_id` (target Conversation).
std::string AdminSetHoldFrame(wire::HoldTarget target, std::string_view login,
                              std::uint64_t conversation_id, std::string_view case_ref,
                              std::string_view reason);
std::string AdminLiftHoldFrame(std::uint64_t hold_id, std::string_view reason);
std::string ScheduleGetFrame(std::string_view login);
std::string AdminDisconnectReportFrame(std::int64_t from_us, std::int64_t to_us);

// ------------------------------------------------------------- replies

// A verified reply frame, kept with its bytes.
class Reply {
 public:
  // Verifies `frame` and finds the envelope answering kRequestId. On failure
  // returns Internal (a frame the core should never send), or the Status of
  // the Error envelope the core answered with.
  static Result<Reply> Parse(std::string frame);

  const wire::Envelope& envelope() const { return *envelope_; }
  wire::Body type() const { return envelope_->body_type(); }

 private:
  Reply(std::string bytes, const wire::Envelope* envelope)
      : bytes_(std::move(bytes)), envelope_(envelope) {}
  std::string bytes_;  // heap storage: moving the string keeps envelope_ valid
  const wire::Envelope* envelope_;
};

// The reply as a JSON object (users, devices, audit entries, ...). On failure
// returns Internal for a reply type the console does not map.
Result<std::string> ReplyJson(const Reply& reply);

// Records management (console_records.cc): the JSON of GroupList,
// PluginList, RetentionReport, HoldList, HoldInfo, ScheduleInfo and
// DisconnectReport replies (ReplyJson passes them here). On failure returns
// Internal for another reply type.
Result<std::string> RecordsReplyJson(const wire::Envelope& e);

// Role names in JSON: "user", "admin", "auditor".
std::string_view RoleName(wire::Role role);
// On failure returns InvalidArgument naming the accepted names.
Result<wire::Role> RoleFromName(std::string_view name);

// StatusCode from the wire's ErrorCode (Internal for an unknown code).
StatusCode StatusCodeFromWire(wire::ErrorCode code);

}  // namespace chatpro::console
