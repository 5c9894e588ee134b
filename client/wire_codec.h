// SPDX-License-Identifier: Apache-2.0
//
// The translation between libchatpro's value types and the FlatBuffers wire
// protocol (schemas/wire.fbs), in one place: building outgoing frames,
// verifying incoming ones and turning their tables into client types.
//
// Internal to libchatpro: nothing outside client/ includes this header (the
// generated schema header is a private dependency of the library).
//
// Thread-safety: FrameWriter and ReceivedFrame are values used by one thread
// at a time; the free functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "chatpro/schemas/wire_generated.h"
#include "client/client.h"

namespace chatpro::client::internal {

constexpr std::uint16_t kProtocolVersion = 1;
// Used until the broker's HelloReply names its own limit.
constexpr std::uint64_t kDefaultMaxFrameBytes = 17u * 1024 * 1024;
// Room for the frame, envelope and table headers around a body.
constexpr std::size_t kEnvelopeOverheadBytes = 256;

// ------------------------------------------------------------------ codes

StatusCode StatusCodeFromWire(wire::ErrorCode code);
wire::ErrorCode StatusCodeToWire(StatusCode code);
// The Status an Error envelope stands for; Internal if the code is unknown.
Status StatusFromError(const wire::Error& error);

Role RoleFromWire(wire::Role role);
wire::Role RoleToWire(Role role);
CaseKind CaseKindFromWire(wire::CaseKind kind);
wire::CaseKind CaseKindToWire(CaseKind kind);

// ------------------------------------------------------------------ outgoing

// The bytes a Send of `content` (plus `to_user`) takes in a frame, rounded
// up generously; used to split batches below max_frame_bytes.
std::size_t EstimateSendBytes(const Content& content, std::string_view to_user);

// The broker's limits (from HelloReply) a message is checked against before it
// goes out. 0 is unknown: not checked (the frame limit falls back to
// kDefaultMaxFrameBytes).
struct ContentLimits {
  std::uint64_t max_text_bytes = 0;
  std::uint64_t max_attachment_bytes = 0;
  std::uint64_t max_frame_bytes = 0;
};

// Checks a message against `limits`. On failure returns InvalidArgument
// naming the limit (or saying that the message is empty).
Status CheckContentLimits(const Content& content, std::string_view to_user,
                          const ContentLimits& limits);

// Builds one Frame from a batch of envelopes. Typical use:
//
//   FrameWriter w;
//   w.AddHello(1, "chatpro-cli/0.1", true);
//   w.AddSend(2, client_msg_id, target, content);
//   flatbuffers::DetachedBuffer bytes = w.Finish();
class FrameWriter {
 public:
  // `initial_bytes`: the buffer to start with; a writer that is given about
  // the size of the frame it will build never grows (and copies) its buffer.
  explicit FrameWriter(std::size_t initial_bytes = 1024);
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  void AddHello(std::uint64_t request_id, std::string_view client_version, bool receive);
  // Urgent (with its reason) only if `options` says so.
  void AddSend(std::uint64_t request_id, std::uint64_t client_msg_id, const Target& to,
               const Content& content, const SendOptions& options = {});
  // One cursor per conversation: (conversation_id, highest processed seq).
  void AddAck(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& cursors);
  void AddPing(std::uint64_t request_id);
  void AddGoodbye();
  void AddEnroll(std::uint64_t request_id, std::string_view device_public_key,
                 std::string_view device_name, std::string_view client_version);
  void AddHistory(std::uint64_t request_id, const Target& conversation, const HistoryQuery& query);
  void AddOpenDirect(std::uint64_t request_id, std::string_view user);
  void AddCreateGroup(std::uint64_t request_id, std::string_view name,
                      const std::vector<std::string>& members);
  void AddAddMembers(std::uint64_t request_id, std::uint64_t conversation_id,
                     const std::vector<std::string>& members, bool as_owners);
  void AddRemoveMember(std::uint64_t request_id, std::uint64_t conversation_id,
                       std::string_view member);
  void AddLeaveGroup(std::uint64_t request_id, std::uint64_t conversation_id);
  void AddListConversations(std::uint64_t request_id);
  void AddCreateInvite(std::uint64_t request_id, std::string_view login);
  void AddDirectory(std::uint64_t request_id);
  void AddAdminAddUser(std::uint64_t request_id, std::string_view login,
                       std::string_view display_name, Role role);
  void AddAdminListUsers(std::uint64_t request_id);
  void AddAdminListGroups(std::uint64_t request_id);
  void AddAdminDeactivateUser(std::uint64_t request_id, std::string_view login);
  void AddAdminReactivateUser(std::uint64_t request_id, std::string_view login);
  void AddListDevices(std::uint64_t request_id, std::string_view login);
  void AddRevokeDevice(std::uint64_t request_id, std::string_view login, std::uint64_t device_id);
  void AddConfirmWipe(std::uint64_t request_id);
  void AddBlock(std::uint64_t request_id, std::string_view login);
  void AddUnblock(std::uint64_t request_id, std::string_view login);
  void AddListBlocked(std::uint64_t request_id);
  void AddReport(std::uint64_t request_id, std::uint64_t conversation_id, std::uint64_t seq,
                 std::string_view reason);
  void AddAdminListReports(std::uint64_t request_id);
  void AddAdminListAudit(std::uint64_t request_id, std::uint64_t from_seq, std::uint32_t limit);
  void AddAdminVerifyAudit(std::uint64_t request_id);
  void AddAdminSetHold(std::uint64_t request_id, const HoldTarget& target,
                       std::string_view case_ref, std::string_view reason);
  void AddAdminLiftHold(std::uint64_t request_id, std::uint64_t hold_id, std::string_view reason);
  void AddAdminListHolds(std::uint64_t request_id, bool include_lifted);
  void AddAdminRetentionRun(std::uint64_t request_id, bool dry_run);
  void AddAdminListPlugins(std::uint64_t request_id);
  void AddCaseOpen(std::uint64_t request_id, const CaseRequest& request);
  void AddCaseApprove(std::uint64_t request_id, std::uint64_t case_id);
  void AddCaseList(std::uint64_t request_id);
  void AddExportStart(std::uint64_t request_id, std::uint64_t case_id);
  void AddExportStatus(std::uint64_t request_id, std::uint64_t export_id);
  void AddAdminBackup(std::uint64_t request_id, wire::BackupAction action, std::string_view name);
  void AddAdminSetConsolePassword(std::uint64_t request_id, std::string_view login,
                                  std::string_view password_hash);
  void AddExportDownload(std::uint64_t request_id, std::uint64_t export_id, std::uint64_t offset,
                         std::uint32_t max_bytes);
  void AddMyDataAccess(std::uint64_t request_id);
  void AddScheduleGet(std::uint64_t request_id, std::string_view login);
  // Only the parts of `schedule` that are not empty go out (see Schedule);
  // holidays, profile and may_change never do.
  void AddScheduleSet(std::uint64_t request_id, std::string_view login, const Schedule& schedule);
  void AddPresenceQuery(std::uint64_t request_id, std::uint64_t conversation_id);
  void AddAdminDisconnectReport(std::uint64_t request_id, std::int64_t from_us,
                                std::int64_t to_us);

  std::size_t envelope_count() const { return envelopes_.size(); }
  // Bytes built so far (a lower bound of the finished frame's size).
  std::size_t size() const { return fbb_.GetSize(); }

  // Finishes the frame (with the "CPW1" identifier) and returns its bytes.
  // The writer must not be used afterwards.
  flatbuffers::DetachedBuffer Finish();

 private:
  void Add(std::uint64_t request_id, wire::Body type, flatbuffers::Offset<void> body);
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> Strings(
      const std::vector<std::string>& values);
  flatbuffers::Offset<flatbuffers::Vector<const wire::WorkPeriod*>> Periods(
      const std::vector<WorkPeriod>& periods);

  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<flatbuffers::Offset<wire::Envelope>> envelopes_;
};

// ------------------------------------------------------------------ incoming

// A received frame that passed the FlatBuffers verifier. The bytes are copied
// only when they are not 8-byte aligned (the tables hold 64-bit fields).
class ReceivedFrame {
 public:
  // On failure returns InvalidArgument: not a ChatPro frame, failed the
  // verifier, or a protocol version this client does not speak.
  static Result<ReceivedFrame> Parse(const void* data, std::size_t size);

  const wire::Frame& frame() const { return *frame_; }

 private:
  ReceivedFrame() = default;
  std::shared_ptr<std::vector<std::uint64_t>> copy_;  // aligned storage, if copied
  const wire::Frame* frame_ = nullptr;
};

// The message inside a Delivery. On failure returns InvalidArgument (the
// nested buffer is missing or has no content).
Result<Message> MessageFromDelivery(const wire::Delivery& delivery);

// Reads the messages of a stream of Deliveries into one Message that it
// reuses, so that a steady stream of text deliveries does not allocate per
// message (the strings keep their capacity; a voice or picture is built
// afresh). Used by the I/O thread for on_message.
//
// Thread-safety: a value used by one thread at a time.
class DeliveryReader {
 public:
  DeliveryReader() = default;
  DeliveryReader(const DeliveryReader&) = delete;
  DeliveryReader& operator=(const DeliveryReader&) = delete;

  // Reads the message inside `delivery`; message() then holds it until the
  // next Read(). On failure returns InvalidArgument as MessageFromDelivery()
  // does, and message() is unspecified.
  Status Read(const wire::Delivery& delivery);
  const Message& message() const { return message_; }
  // Drops what message() holds (a large attachment need not wait for the
  // next delivery to be freed).
  void Clear() { message_ = Message(); }

 private:
  Message message_;
  std::vector<std::uint64_t> aligned_;  // the nested bytes, when not 8-byte aligned
};
Message MessageFromWire(const wire::Message& message);

Conversation ConversationFromWire(const wire::ConversationInfo& info);
UserInfo UserInfoFromWire(const wire::UserInfo& info);
SessionInfo SessionFromWire(const wire::HelloReply& reply);
InviteInfo InviteFromWire(const wire::InviteReply& reply);
// Fails with InvalidArgument if a message in the page cannot be read.
Result<HistoryPage> HistoryFromWire(const wire::HistoryReply& reply);
OffboardingInfo OffboardingFromWire(const wire::OffboardingReply& reply);
DeviceInfo DeviceFromWire(const wire::DeviceInfo& info);
// Decodes the evidence too (nullopt if the report carries none). Fails with
// InvalidArgument if the nested message cannot be read.
Result<ReportInfo> ReportFromWire(const wire::ReportInfo& info);
AuditEntryInfo AuditEntryFromWire(const wire::AuditEntry& entry);
AuditVerification AuditVerificationFromWire(const wire::AuditVerifyReply& reply);
HoldInfo HoldFromWire(const wire::HoldInfo& info);
RetentionReport RetentionReportFromWire(const wire::RetentionReport& report);
PluginInfo PluginFromWire(const wire::PluginInfo& info);
GroupSummary GroupSummaryFromWire(const wire::GroupInfo& info);
CaseInfo CaseFromWire(const wire::CaseInfo& info);
ExportInfo ExportFromWire(const wire::ExportInfo& info);
BackupInfo BackupFromWire(const wire::BackupInfo& info);
ExportChunk ExportChunkFromWire(const wire::ExportChunk& chunk);
Schedule ScheduleFromWire(const wire::Schedule& schedule);
DutyState DutyStateFromWire(const wire::DutyState& state);
ScheduleInfo ScheduleInfoFromWire(const wire::ScheduleInfo& info);
PresenceInfo PresenceFromWire(const wire::Presence& presence);
DisconnectReport DisconnectReportFromWire(const wire::DisconnectReport& report);
// The duty states of a SendAck (empty if it has none).
std::vector<DutyState> OffDutyFromWire(const wire::SendAck& ack);

// "ConversationInfo", "Error", ... for messages about unexpected replies.
std::string_view BodyName(wire::Body type);

}  // namespace chatpro::client::internal
