// SPDX-License-Identifier: Apache-2.0
#include "client/wire_codec.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "schemas/vectors.h"

namespace chatpro::client::internal {
namespace {

namespace fb = flatbuffers;

std::string Str(const fb::String* s) { return s ? s->str() : std::string(); }

std::string Bytes(const fb::Vector<std::uint8_t>* v) {
  if (v == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(v->data()), v->size());
}

fb::Offset<fb::Vector<std::uint8_t>> ByteVector(fb::FlatBufferBuilder& fbb, std::string_view b) {
  return fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(b.data()), b.size());
}

bool Aligned(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 7u) == 0; }

// Assigning into an existing string keeps its capacity: no allocation when
// the new value fits.
void AssignStr(std::string& out, const fb::String* s) {
  if (s == nullptr) {
    out.clear();
  } else {
    out.assign(s->data(), s->size());
  }
}

// Fills `out` from `m`, reusing the strings `out` already holds.
void FillMessage(const wire::Message& m, Message& out) {
  out.conversation_id = m.conversation_id();
  out.seq = m.seq();
  AssignStr(out.sender, m.sender_login());
  out.sender_device_id = m.sender_device_id();
  out.client_msg_id = m.client_msg_id();
  out.sent_at_us = m.sent_at_us();
  out.attachments_removed_at_us = m.attachments_removed_at_us();
  out.urgent = m.urgent();
  AssignStr(out.urgent_reason, m.urgent_reason());
  if (const auto* text = m.content_as_Text()) {
    if (auto* reused = std::get_if<Text>(&out.content)) {
      AssignStr(reused->body, text->body());
    } else {
      out.content = Text{Str(text->body())};
    }
  } else if (const auto* voice = m.content_as_Voice()) {
    out.content = Voice{Str(voice->codec()), voice->duration_ms(), Bytes(voice->audio())};
  } else if (const auto* picture = m.content_as_Picture()) {
    out.content = Picture{Str(picture->mime_type()), picture->width(), picture->height(),
                          Bytes(picture->image()), Bytes(picture->thumbnail())};
  } else if (const auto* edit = m.content_as_Edit()) {
    out.content = Edit{edit->target_seq(), Str(edit->text())};
  } else if (const auto* deletion = m.content_as_Deletion()) {
    out.content = Deletion{deletion->target_seq()};
  } else {
    out.content = Text{};
  }
}

// The message nested in a delivery or report. The outer verifier has checked the nested
// buffer already; what is left is alignment: a byte vector is only 4-byte
// aligned, the message has 64-bit fields, so misaligned bytes are copied into
// `aligned` (which the result then points into). On failure returns
// InvalidArgument (the nested buffer is missing or has no content).
Result<const wire::Message*> NestedMessage(const fb::Vector<std::uint8_t>* nested,
                                           std::vector<std::uint64_t>& aligned,
                                           std::string_view where = "a delivery") {
  if (nested == nullptr || nested->size() < 8) {
    return Status::InvalidArgument(std::string(where) + " without a message");
  }
  const wire::Message* m = nullptr;
  if (Aligned(nested->data())) {
    m = fb::GetRoot<wire::Message>(nested->data());
  } else {
    aligned.resize((nested->size() + 7) / 8);
    std::memcpy(aligned.data(), nested->data(), nested->size());
    m = fb::GetRoot<wire::Message>(aligned.data());
  }
  if (m->content_type() == wire::Content::NONE) {
    return Status::InvalidArgument("message " + std::to_string(m->conversation_id()) + "/" +
                                   std::to_string(m->seq()) + " has no content");
  }
  return m;
}

// Builds the Content union member for `content`; returns its type and offset.
std::pair<wire::Content, fb::Offset<void>> BuildContent(fb::FlatBufferBuilder& fbb,
                                                        const Content& content) {
  if (const auto* text = std::get_if<Text>(&content)) {
    auto body = fbb.CreateString(text->body);
    return {wire::Content::Text, wire::CreateText(fbb, body).Union()};
  }
  if (const auto* voice = std::get_if<Voice>(&content)) {
    auto codec = fbb.CreateString(voice->codec);
    auto audio = ByteVector(fbb, voice->audio);
    return {wire::Content::Voice, wire::CreateVoice(fbb, codec, voice->duration_ms, audio).Union()};
  }
  if (const auto* edit = std::get_if<Edit>(&content)) {
    auto text = fbb.CreateString(edit->text);
    return {wire::Content::Edit, wire::CreateEdit(fbb, edit->target_seq, text).Union()};
  }
  if (const auto* deletion = std::get_if<Deletion>(&content)) {
    return {wire::Content::Deletion, wire::CreateDeletion(fbb, deletion->target_seq).Union()};
  }
  const auto& picture = std::get<Picture>(content);
  auto mime = fbb.CreateString(picture.mime_type);
  auto image = ByteVector(fbb, picture.image);
  fb::Offset<fb::Vector<std::uint8_t>> thumbnail;
  if (!picture.thumbnail.empty()) thumbnail = ByteVector(fbb, picture.thumbnail);
  return {wire::Content::Picture,
          wire::CreatePicture(fbb, mime, picture.width, picture.height, image, thumbnail).Union()};
}

}  // namespace

// ------------------------------------------------------------------ codes

StatusCode StatusCodeFromWire(wire::ErrorCode code) {
  auto v = static_cast<std::uint16_t>(code);
  if (v > static_cast<std::uint16_t>(StatusCode::kInternal)) return StatusCode::kInternal;
  return static_cast<StatusCode>(v);
}

wire::ErrorCode StatusCodeToWire(StatusCode code) {
  return static_cast<wire::ErrorCode>(static_cast<std::uint16_t>(code));
}

Status StatusFromError(const wire::Error& error) {
  StatusCode code = StatusCodeFromWire(error.code());
  std::string message = Str(error.message());
  if (code == StatusCode::kOk) {
    // An Error that claims success is a broker bug; never let it pass as OK.
    return Status::Internal("the broker sent an error without a code: " + message);
  }
  if (message.empty()) message = std::string(StatusCodeName(code));
  return Status(code, std::move(message));
}

Role RoleFromWire(wire::Role role) {
  switch (role) {
    case wire::Role::Admin: return Role::kAdmin;
    case wire::Role::Auditor: return Role::kAuditor;
    case wire::Role::User: break;
  }
  return Role::kUser;
}

wire::Role RoleToWire(Role role) {
  switch (role) {
    case Role::kAdmin: return wire::Role::Admin;
    case Role::kAuditor: return wire::Role::Auditor;
    case Role::kUser: break;
  }
  return wire::Role::User;
}

CaseKind CaseKindFromWire(wire::CaseKind kind) {
  return kind == wire::CaseKind::Search ? CaseKind::kSearch : CaseKind::kSubjectAccess;
}

wire::CaseKind CaseKindToWire(CaseKind kind) {
  return kind == CaseKind::kSearch ? wire::CaseKind::Search : wire::CaseKind::SubjectAccess;
}

// ------------------------------------------------------------------ outgoing

std::size_t EstimateSendBytes(const Content& content, std::string_view to_user) {
  std::size_t n = kEnvelopeOverheadBytes + to_user.size();
  if (const auto* text = std::get_if<Text>(&content)) return n + text->body.size();
  if (const auto* voice = std::get_if<Voice>(&content)) {
    return n + voice->codec.size() + voice->audio.size();
  }
  if (const auto* edit = std::get_if<Edit>(&content)) return n + edit->text.size();
  if (std::holds_alternative<Deletion>(content)) return n;
  const auto& picture = std::get<Picture>(content);
  return n + picture.mime_type.size() + picture.image.size() + picture.thumbnail.size();
}

Status CheckContentLimits(const Content& content, std::string_view to_user,
                          const ContentLimits& limits) {
  auto check_text = [&](const std::string& body, const char* what) {
    if (body.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
    if (limits.max_text_bytes > 0 && body.size() > limits.max_text_bytes) {
      return Status::InvalidArgument(std::string(what) + " has " + std::to_string(body.size()) +
                                     " bytes; the broker takes at most " +
                                     std::to_string(limits.max_text_bytes));
    }
    return Status::Ok();
  };
  if (const auto* text = std::get_if<Text>(&content)) {
    CHATPRO_RETURN_IF_ERROR(check_text(text->body, "the text"));
  } else if (const auto* edit = std::get_if<Edit>(&content)) {
    if (edit->target_seq == 0) {
      return Status::InvalidArgument("an edit names the message it changes (its seq, from 1)");
    }
    CHATPRO_RETURN_IF_ERROR(check_text(edit->text, "the new text"));
  } else if (const auto* deletion = std::get_if<Deletion>(&content)) {
    if (deletion->target_seq == 0) {
      return Status::InvalidArgument("a deletion names the message it withdraws (its seq, from 1)");
    }
  } else {
    std::size_t attachment = 0;
    if (const auto* voice = std::get_if<Voice>(&content)) {
      if (voice->audio.empty()) return Status::InvalidArgument("the voice message has no audio");
      attachment = voice->audio.size();
    } else {
      const auto& picture = std::get<Picture>(content);
      if (picture.image.empty()) return Status::InvalidArgument("the picture has no image");
      attachment = picture.image.size() + picture.thumbnail.size();
    }
    if (limits.max_attachment_bytes > 0 && attachment > limits.max_attachment_bytes) {
      return Status::InvalidArgument("the attachment has " + std::to_string(attachment) +
                                     " bytes; the broker takes at most " +
                                     std::to_string(limits.max_attachment_bytes));
    }
  }
  std::uint64_t max_frame =
      limits.max_frame_bytes > 0 ? limits.max_frame_bytes : kDefaultMaxFrameBytes;
  std::size_t estimate = EstimateSendBytes(content, to_user);
  if (estimate > max_frame) {
    return Status::InvalidArgument("the message needs about " + std::to_string(estimate) +
                                   " bytes on the wire; a frame may have at most " +
                                   std::to_string(max_frame));
  }
  return Status::Ok();
}

FrameWriter::FrameWriter(std::size_t initial_bytes)
    : fbb_(std::max<std::size_t>(initial_bytes, 64)) {}

void FrameWriter::Add(std::uint64_t request_id, wire::Body type, fb::Offset<void> body) {
  envelopes_.push_back(wire::CreateEnvelope(fbb_, request_id, type, body));
}

fb::Offset<fb::Vector<fb::Offset<fb::String>>> FrameWriter::Strings(
    const std::vector<std::string>& values) {
  std::vector<fb::Offset<fb::String>> offsets;
  offsets.reserve(values.size());
  for (const auto& v : values) offsets.push_back(fbb_.CreateString(v));
  return fbb_.CreateVector(offsets);
}

void FrameWriter::AddHello(std::uint64_t request_id, std::string_view client_version,
                           bool receive) {
  auto version = fbb_.CreateString(client_version);
  Add(request_id, wire::Body::Hello, wire::CreateHello(fbb_, version, receive).Union());
}

void FrameWriter::AddSend(std::uint64_t request_id, std::uint64_t client_msg_id, const Target& to,
                          const Content& content, const SendOptions& options) {
  auto [content_type, content_offset] = BuildContent(fbb_, content);
  fb::Offset<fb::String> to_user;
  if (to.conversation_id == 0) to_user = fbb_.CreateString(to.user);
  fb::Offset<fb::String> reason;
  if (options.urgent) reason = fbb_.CreateString(options.urgent_reason);
  Add(request_id, wire::Body::Send,
      wire::CreateSend(fbb_, to.conversation_id, to_user, client_msg_id, content_type,
                       content_offset, options.urgent, reason)
          .Union());
}

void FrameWriter::AddAck(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& cursors) {
  std::vector<wire::Cursor> structs;
  structs.reserve(cursors.size());
  for (const auto& [conversation, seq] : cursors) structs.emplace_back(conversation, seq);
  auto vec = fbb_.CreateVectorOfStructs(structs);
  Add(0, wire::Body::Ack, wire::CreateAck(fbb_, vec).Union());
}

void FrameWriter::AddPing(std::uint64_t request_id) {
  Add(request_id, wire::Body::Ping, wire::CreatePing(fbb_).Union());
}

void FrameWriter::AddGoodbye() { Add(0, wire::Body::Goodbye, wire::CreateGoodbye(fbb_).Union()); }

void FrameWriter::AddEnroll(std::uint64_t request_id, std::string_view device_public_key,
                            std::string_view device_name, std::string_view client_version) {
  auto key = ByteVector(fbb_, device_public_key);
  auto name = fbb_.CreateString(device_name);
  auto version = fbb_.CreateString(client_version);
  Add(request_id, wire::Body::Enroll, wire::CreateEnroll(fbb_, key, name, version).Union());
}

void FrameWriter::AddHistory(std::uint64_t request_id, const Target& conversation,
                             const HistoryQuery& query) {
  fb::Offset<fb::String> to_user;
  if (conversation.conversation_id == 0) to_user = fbb_.CreateString(conversation.user);
  Add(request_id, wire::Body::History,
      wire::CreateHistory(fbb_, conversation.conversation_id, to_user, query.from_seq, query.limit,
                          query.backward)
          .Union());
}

void FrameWriter::AddOpenDirect(std::uint64_t request_id, std::string_view user) {
  auto u = fbb_.CreateString(user);
  Add(request_id, wire::Body::OpenDirect, wire::CreateOpenDirect(fbb_, u).Union());
}

void FrameWriter::AddCreateGroup(std::uint64_t request_id, std::string_view name,
                                 const std::vector<std::string>& members) {
  auto n = fbb_.CreateString(name);
  auto m = Strings(members);
  Add(request_id, wire::Body::CreateGroup, wire::CreateCreateGroup(fbb_, n, m).Union());
}

void FrameWriter::AddAddMembers(std::uint64_t request_id, std::uint64_t conversation_id,
                                const std::vector<std::string>& members, bool as_owners) {
  auto m = Strings(members);
  Add(request_id, wire::Body::AddMembers,
      wire::CreateAddMembers(fbb_, conversation_id, m, as_owners).Union());
}

void FrameWriter::AddRemoveMember(std::uint64_t request_id, std::uint64_t conversation_id,
                                  std::string_view member) {
  auto m = fbb_.CreateString(member);
  Add(request_id, wire::Body::RemoveMember,
      wire::CreateRemoveMember(fbb_, conversation_id, m).Union());
}

void FrameWriter::AddLeaveGroup(std::uint64_t request_id, std::uint64_t conversation_id) {
  Add(request_id, wire::Body::LeaveGroup, wire::CreateLeaveGroup(fbb_, conversation_id).Union());
}

void FrameWriter::AddListConversations(std::uint64_t request_id) {
  Add(request_id, wire::Body::ListConversations, wire::CreateListConversations(fbb_).Union());
}

void FrameWriter::AddCreateInvite(std::uint64_t request_id, std::string_view login) {
  auto l = fbb_.CreateString(login);
  Add(request_id, wire::Body::CreateInvite, wire::CreateCreateInvite(fbb_, l).Union());
}

void FrameWriter::AddDirectory(std::uint64_t request_id) {
  Add(request_id, wire::Body::Directory, wire::CreateDirectory(fbb_).Union());
}

void FrameWriter::AddAdminAddUser(std::uint64_t request_id, std::string_view login,
                                  std::string_view display_name, Role role) {
  auto l = fbb_.CreateString(login);
  auto d = fbb_.CreateString(display_name);
  Add(request_id, wire::Body::AdminAddUser,
      wire::CreateAdminAddUser(fbb_, l, d, RoleToWire(role)).Union());
}

void FrameWriter::AddAdminListGroups(std::uint64_t request_id) {
  Add(request_id, wire::Body::AdminListGroups, wire::CreateAdminListGroups(fbb_).Union());
}

void FrameWriter::AddAdminListUsers(std::uint64_t request_id) {
  Add(request_id, wire::Body::AdminListUsers, wire::CreateAdminListUsers(fbb_).Union());
}

void FrameWriter::AddAdminDeactivateUser(std::uint64_t request_id, std::string_view login) {
  auto l = fbb_.CreateString(login);
  Add(request_id, wire::Body::AdminDeactivateUser, wire::CreateAdminDeactivateUser(fbb_, l).Union());
}

void FrameWriter::AddAdminReactivateUser(std::uint64_t request_id, std::string_view login) {
  auto l = fbb_.CreateString(login);
  Add(request_id, wire::Body::AdminReactivateUser, wire::CreateAdminReactivateUser(fbb_, l).Union());
}

void FrameWriter::AddListDevices(std::uint64_t request_id, std::string_view login) {
  auto l = fbb_.CreateString(login);
  Add(request_id, wire::Body::ListDevices, wire::CreateListDevices(fbb_, l).Union());
}

void FrameWriter::AddRevokeDevice(std::uint64_t request_id, std::string_view login,
                                  std::uint64_t device_id) {
  auto l = fbb_.CreateString(login);
  Add(request_id, wire::Body::RevokeDevice, wire::CreateRevokeDevice(fbb_, l, device_id).Union());
}

void FrameWriter::AddConfirmWipe(std::uint64_t request_id) {
  Add(request_id, wire::Body::ConfirmWipe, wire::CreateConfirmWipe(fbb_).Union());
}

void FrameWriter::AddBlock(std::uint64_t request_id, std::string_view login) {
  auto l = fbb_.CreateString(login);
  Add(request_id, wire::Body::Block, wire::CreateBlock(fbb_, l).Union());
}

void FrameWriter::AddUnblock(std::uint64_t request_id, std::string_view login) {
  auto l = fbb_.CreateString(login);
  Add(request_id, wire::Body::Unblock, wire::CreateUnblock(fbb_, l).Union());
}

void FrameWriter::AddListBlocked(std::uint64_t request_id) {
  Add(request_id, wire::Body::ListBlocked, wire::CreateListBlocked(fbb_).Union());
}

void FrameWriter::AddReport(std::uint64_t request_id, std::uint64_t conversation_id,
                            std::uint64_t seq, std::string_view reason) {
  auto r = fbb_.CreateString(reason);
  Add(request_id, wire::Body::Report, wire::CreateReport(fbb_, conversation_id, seq, r).Union());
}

void FrameWriter::AddAdminListReports(std::uint64_t request_id) {
  Add(request_id, wire::Body::AdminListReports, wire::CreateAdminListReports(fbb_).Union());
}

void FrameWriter::AddAdminListAudit(std::uint64_t request_id, std::uint64_t from_seq,
                                    std::uint32_t limit) {
  Add(request_id, wire::Body::AdminListAudit,
      wire::CreateAdminListAudit(fbb_, from_seq, limit).Union());
}

void FrameWriter::AddAdminVerifyAudit(std::uint64_t request_id) {
  Add(request_id, wire::Body::AdminVerifyAudit, wire::CreateAdminVerifyAudit(fbb_).Union());
}

void FrameWriter::AddAdminSetHold(std::uint64_t request_id, const HoldTarget& target,
                                  std::string_view case_ref, std::string_view reason) {
  fb::Offset<fb::String> login;
  if (target.is_user()) login = fbb_.CreateString(target.login);
  auto c = fbb_.CreateString(case_ref);
  auto r = fbb_.CreateString(reason);
  Add(request_id, wire::Body::AdminSetHold,
      wire::CreateAdminSetHold(fbb_,
                               target.is_user() ? wire::HoldTarget::User
                                                : wire::HoldTarget::Conversation,
                               login, target.conversation_id, c, r)
          .Union());
}

void FrameWriter::AddAdminLiftHold(std::uint64_t request_id, std::uint64_t hold_id,
                                   std::string_view reason) {
  auto r = fbb_.CreateString(reason);
  Add(request_id, wire::Body::AdminLiftHold, wire::CreateAdminLiftHold(fbb_, hold_id, r).Union());
}

void FrameWriter::AddAdminListHolds(std::uint64_t request_id, bool include_lifted) {
  Add(request_id, wire::Body::AdminListHolds,
      wire::CreateAdminListHolds(fbb_, include_lifted).Union());
}

void FrameWriter::AddAdminRetentionRun(std::uint64_t request_id, bool dry_run) {
  Add(request_id, wire::Body::AdminRetentionRun,
      wire::CreateAdminRetentionRun(fbb_, dry_run).Union());
}

void FrameWriter::AddAdminListPlugins(std::uint64_t request_id) {
  Add(request_id, wire::Body::AdminListPlugins, wire::CreateAdminListPlugins(fbb_).Union());
}

void FrameWriter::AddCaseOpen(std::uint64_t request_id, const CaseRequest& request) {
  auto basis = fbb_.CreateString(request.legal_basis);
  auto subjects = Strings(request.subjects);
  auto conversations = fbb_.CreateVector(request.conversations);
  auto keyword = fbb_.CreateString(request.keyword);
  Add(request_id, wire::Body::CaseOpen,
      wire::CreateCaseOpen(fbb_, CaseKindToWire(request.kind), basis, subjects, conversations,
                           request.from_us, request.to_us, keyword, request.redact_others)
          .Union());
}

void FrameWriter::AddCaseApprove(std::uint64_t request_id, std::uint64_t case_id) {
  Add(request_id, wire::Body::CaseApprove, wire::CreateCaseApprove(fbb_, case_id).Union());
}

void FrameWriter::AddCaseList(std::uint64_t request_id) {
  Add(request_id, wire::Body::CaseList, wire::CreateCaseList(fbb_).Union());
}

void FrameWriter::AddExportStart(std::uint64_t request_id, std::uint64_t case_id) {
  Add(request_id, wire::Body::ExportStart, wire::CreateExportStart(fbb_, case_id).Union());
}

void FrameWriter::AddExportStatus(std::uint64_t request_id, std::uint64_t export_id) {
  Add(request_id, wire::Body::ExportStatus, wire::CreateExportStatus(fbb_, export_id).Union());
}

void FrameWriter::AddAdminSetConsolePassword(std::uint64_t request_id, std::string_view login,
                                             std::string_view password_hash) {
  auto l = fbb_.CreateString(login.data(), login.size());
  auto h = fbb_.CreateString(password_hash.data(), password_hash.size());
  Add(request_id, wire::Body::AdminSetConsolePassword,
      wire::CreateAdminSetConsolePassword(fbb_, l, h).Union());
}

void FrameWriter::AddAdminBackup(std::uint64_t request_id, wire::BackupAction action,
                                 std::string_view name) {
  auto n = fbb_.CreateString(name.data(), name.size());
  Add(request_id, wire::Body::AdminBackup, wire::CreateAdminBackup(fbb_, action, n).Union());
}

void FrameWriter::AddExportDownload(std::uint64_t request_id, std::uint64_t export_id,
                                    std::uint64_t offset, std::uint32_t max_bytes) {
  Add(request_id, wire::Body::ExportDownload,
      wire::CreateExportDownload(fbb_, export_id, offset, max_bytes).Union());
}

void FrameWriter::AddMyDataAccess(std::uint64_t request_id) {
  Add(request_id, wire::Body::MyDataAccess, wire::CreateMyDataAccess(fbb_).Union());
}

void FrameWriter::AddScheduleGet(std::uint64_t request_id, std::string_view login) {
  auto name = fbb_.CreateString(login);
  Add(request_id, wire::Body::ScheduleGet, wire::CreateScheduleGet(fbb_, name).Union());
}

fb::Offset<fb::Vector<const wire::WorkPeriod*>> FrameWriter::Periods(
    const std::vector<WorkPeriod>& periods) {
  std::vector<wire::WorkPeriod> structs;
  structs.reserve(periods.size());
  for (const auto& p : periods) structs.emplace_back(p.start_minute, p.end_minute);
  return fbb_.CreateVectorOfStructs(structs);
}

void FrameWriter::AddScheduleSet(std::uint64_t request_id, std::string_view login,
                                 const Schedule& schedule) {
  auto name = fbb_.CreateString(login);
  // An empty part is left out altogether: the broker changes only what is there.
  fb::Offset<fb::String> zone;
  if (!schedule.time_zone.empty()) zone = fbb_.CreateString(schedule.time_zone);
  fb::Offset<fb::Vector<fb::Offset<wire::DayHours>>> week;
  if (!schedule.week.empty()) {
    std::vector<fb::Offset<wire::DayHours>> days;
    for (const auto& d : schedule.week) {
      auto periods = Periods(d.periods);
      days.push_back(wire::CreateDayHours(fbb_, d.weekday, periods));
    }
    week = fbb_.CreateVector(days);
  }
  fb::Offset<fb::Vector<fb::Offset<fb::String>>> days_off;
  if (!schedule.days_off.empty()) days_off = Strings(schedule.days_off);
  fb::Offset<fb::Vector<fb::Offset<wire::ShiftChange>>> shifts;
  if (!schedule.shifts.empty()) {
    std::vector<fb::Offset<wire::ShiftChange>> changes;
    for (const auto& c : schedule.shifts) {
      auto date = fbb_.CreateString(c.date);
      auto periods = Periods(c.periods);
      changes.push_back(wire::CreateShiftChange(fbb_, date, periods));
    }
    shifts = fbb_.CreateVector(changes);
  }
  auto body = wire::CreateSchedule(fbb_, zone, week, days_off, /*holidays=*/0, shifts);
  Add(request_id, wire::Body::ScheduleSet, wire::CreateScheduleSet(fbb_, name, body).Union());
}

void FrameWriter::AddPresenceQuery(std::uint64_t request_id, std::uint64_t conversation_id) {
  Add(request_id, wire::Body::PresenceQuery,
      wire::CreatePresenceQuery(fbb_, conversation_id).Union());
}

void FrameWriter::AddAdminDisconnectReport(std::uint64_t request_id, std::int64_t from_us,
                                           std::int64_t to_us) {
  Add(request_id, wire::Body::AdminDisconnectReport,
      wire::CreateAdminDisconnectReport(fbb_, from_us, to_us).Union());
}

fb::DetachedBuffer FrameWriter::Finish() {
  auto envs = fbb_.CreateVector(envelopes_);
  wire::FinishFrameBuffer(fbb_, wire::CreateFrame(fbb_, kProtocolVersion, envs));
  return fbb_.Release();
}

// ------------------------------------------------------------------ incoming

Result<ReceivedFrame> ReceivedFrame::Parse(const void* data, std::size_t size) {
  ReceivedFrame out;
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  if (!Aligned(bytes)) {
    out.copy_ = std::make_shared<std::vector<std::uint64_t>>((size + 7) / 8);
    std::memcpy(out.copy_->data(), bytes, size);
    bytes = reinterpret_cast<const std::uint8_t*>(out.copy_->data());
  }
  if (size < 8 || !wire::FrameBufferHasIdentifier(bytes)) {
    return Status::InvalidArgument("not a ChatPro frame (no CPW1 identifier)");
  }
  fb::Verifier verifier(bytes, size);
  if (!wire::VerifyFrameBuffer(verifier)) {
    return Status::InvalidArgument("the frame fails the FlatBuffers verifier");
  }
  out.frame_ = wire::GetFrame(bytes);
  if (out.frame_->protocol_version() != kProtocolVersion) {
    return Status::InvalidArgument("the frame has protocol version " +
                                   std::to_string(out.frame_->protocol_version()) +
                                   "; this client speaks " + std::to_string(kProtocolVersion));
  }
  return out;
}

Message MessageFromWire(const wire::Message& m) {
  Message out;
  FillMessage(m, out);
  return out;
}

Result<Message> MessageFromDelivery(const wire::Delivery& delivery) {
  std::vector<std::uint64_t> aligned;
  CHATPRO_ASSIGN_OR_RETURN(const wire::Message* m, NestedMessage(delivery.message(), aligned));
  return MessageFromWire(*m);
}

Status DeliveryReader::Read(const wire::Delivery& delivery) {
  CHATPRO_ASSIGN_OR_RETURN(const wire::Message* m, NestedMessage(delivery.message(), aligned_));
  FillMessage(*m, message_);
  return Status::Ok();
}

Conversation ConversationFromWire(const wire::ConversationInfo& info) {
  Conversation c;
  c.id = info.id();
  c.kind = info.kind() == wire::ConversationKind::Group ? ConversationKind::kGroup
                                                       : ConversationKind::kDirect;
  c.name = Str(info.name());
  if (info.members() != nullptr) {
    for (const auto* m : *info.members()) {
      c.members.push_back(Member{Str(m->login()), Str(m->display_name()), m->owner()});
    }
  }
  c.head_seq = info.head_seq();
  c.first_seq = info.first_seq();
  return c;
}

UserInfo UserInfoFromWire(const wire::UserInfo& info) {
  UserInfo u;
  u.id = info.id();
  u.login = Str(info.login());
  u.display_name = Str(info.display_name());
  u.role = RoleFromWire(info.role());
  u.active = info.active();
  u.devices = info.devices();
  u.created_at_us = info.created_at_us();
  return u;
}

SessionInfo SessionFromWire(const wire::HelloReply& reply) {
  SessionInfo s;
  s.user_id = reply.user_id();
  s.login = Str(reply.login());
  s.display_name = Str(reply.display_name());
  s.role = RoleFromWire(reply.role());
  s.device_id = reply.device_id();
  s.server_version = Str(reply.server_version());
  s.max_text_bytes = reply.max_text_bytes();
  s.max_attachment_bytes = reply.max_attachment_bytes();
  s.max_frame_bytes = reply.max_frame_bytes();
  return s;
}

InviteInfo InviteFromWire(const wire::InviteReply& reply) {
  return InviteInfo{Str(reply.login()), Str(reply.invite()), reply.expires_at_us(),
                    Str(reply.web_link())};
}

Result<HistoryPage> HistoryFromWire(const wire::HistoryReply& reply) {
  HistoryPage page;
  page.conversation_id = reply.conversation_id();
  page.has_more = reply.has_more();
  if (reply.messages() != nullptr) {
    for (const auto* d : *reply.messages()) {
      Result<Message> m = MessageFromDelivery(*d);
      if (!m.ok()) return m.status().WithContext("history");
      page.messages.push_back(std::move(*m));
    }
  }
  return page;
}

OffboardingInfo OffboardingFromWire(const wire::OffboardingReply& reply) {
  OffboardingInfo o;
  o.login = Str(reply.login());
  o.asked_at_us = reply.asked_at_us();
  o.devices_revoked = reply.devices_revoked();
  o.sessions_closed = reply.sessions_closed();
  o.last_session_closed_at_us = reply.last_session_closed_at_us();
  o.invites_cancelled = reply.invites_cancelled();
  return o;
}

DeviceInfo DeviceFromWire(const wire::DeviceInfo& info) {
  DeviceInfo d;
  d.id = info.id();
  d.name = Str(info.name());
  d.client_version = Str(info.client_version());
  d.created_at_us = info.created_at_us();
  d.last_seen_us = info.last_seen_us();
  d.last_address = Str(info.last_address());
  d.active = info.active();
  d.revoked_at_us = info.revoked_at_us();
  d.online = info.online();
  return d;
}

Result<ReportInfo> ReportFromWire(const wire::ReportInfo& info) {
  ReportInfo r;
  r.id = info.id();
  r.created_at_us = info.created_at_us();
  r.reporter = Str(info.reporter());
  r.reason = Str(info.reason());
  r.conversation_id = info.conversation_id();
  r.seq = info.seq();
  if (info.message() != nullptr && info.message()->size() > 0) {
    std::vector<std::uint64_t> aligned;
    Result<const wire::Message*> m =
        NestedMessage(info.message(), aligned, "report " + std::to_string(r.id));
    if (!m.ok()) return m.status();
    r.message = MessageFromWire(**m);
  }
  return r;
}

AuditEntryInfo AuditEntryFromWire(const wire::AuditEntry& entry) {
  AuditEntryInfo a;
  a.seq = entry.seq();
  a.at_us = entry.at_us();
  a.actor = Str(entry.actor());
  a.action = Str(entry.action());
  a.target = Str(entry.target());
  a.details = Str(entry.details());
  a.hash = Bytes(entry.hash());
  return a;
}

AuditVerification AuditVerificationFromWire(const wire::AuditVerifyReply& reply) {
  AuditVerification v;
  v.whole = reply.whole();
  v.records = reply.records();
  v.first_broken_seq = reply.first_broken_seq();
  v.message = Str(reply.message());
  return v;
}

HoldInfo HoldFromWire(const wire::HoldInfo& info) {
  HoldInfo h;
  h.id = info.id();
  h.target = info.target() == wire::HoldTarget::Conversation
                 ? HoldTarget::Conversation(info.conversation_id())
                 : HoldTarget::User(Str(info.login()));
  h.case_ref = Str(info.case_ref());
  h.reason = Str(info.reason());
  h.created_by = Str(info.created_by());
  h.created_at_us = info.created_at_us();
  h.lifted_by = Str(info.lifted_by());
  h.lifted_at_us = info.lifted_at_us();
  return h;
}

RetentionReport RetentionReportFromWire(const wire::RetentionReport& report) {
  RetentionReport r;
  r.dry_run = report.dry_run();
  r.started_at_us = report.started_at_us();
  r.finished_at_us = report.finished_at_us();
  r.messages_examined = report.messages_examined();
  r.messages_deleted = report.messages_deleted();
  r.attachments_stripped = report.attachments_stripped();
  r.attachment_bytes = report.attachment_bytes();
  r.conversations = report.conversations();
  r.held_protected = report.held_protected();
  if (report.policies() != nullptr) {
    for (const auto* p : *report.policies()) {
      r.policies.push_back(PolicyCount{Str(p->policy()), p->deleted(), p->stripped()});
    }
  }
  return r;
}

PluginInfo PluginFromWire(const wire::PluginInfo& info) {
  PluginInfo p;
  p.name = Str(info.name());
  p.plugin = Str(info.plugin());
  p.library = Str(info.library());
  p.accept_hook = info.accept_hook();
  p.retention_hook = info.retention_hook();
  p.failures = info.failures();
  return p;
}

GroupSummary GroupSummaryFromWire(const wire::GroupInfo& info) {
  GroupSummary g;
  g.id = info.conversation_id();
  g.name = Str(info.name());
  g.created_at_us = info.created_at_us();
  if (info.members() != nullptr) {
    for (const auto* m : *info.members()) g.members.push_back(m->str());
  }
  if (info.owners() != nullptr) {
    for (const auto* o : *info.owners()) g.owners.push_back(o->str());
  }
  return g;
}

CaseInfo CaseFromWire(const wire::CaseInfo& info) {
  CaseInfo c;
  c.id = info.id();
  c.kind = CaseKindFromWire(info.kind());
  c.state = Str(info.state());
  c.legal_basis = Str(info.legal_basis());
  if (info.subjects() != nullptr) {
    for (const auto* s : *info.subjects()) c.subjects.push_back(Str(s));
  }
  c.conversations = schemas::U64s(info.conversations());
  c.from_us = info.from_us();
  c.to_us = info.to_us();
  c.keyword = Str(info.keyword());
  c.redact_others = info.redact_others();
  c.requested_by = Str(info.requested_by());
  c.requested_at_us = info.requested_at_us();
  c.approved_by = Str(info.approved_by());
  c.approved_at_us = info.approved_at_us();
  c.approval_expires_at_us = info.approval_expires_at_us();
  c.visible_to_subjects_at_us = info.visible_to_subjects_at_us();
  return c;
}

ExportInfo ExportFromWire(const wire::ExportInfo& info) {
  ExportInfo e;
  e.id = info.id();
  e.case_id = info.case_id();
  e.state = Str(info.state());
  e.messages = info.messages();
  e.attachments = info.attachments();
  e.bytes = info.bytes();
  e.error = Str(info.error());
  return e;
}

BackupInfo BackupFromWire(const wire::BackupInfo& info) {
  BackupInfo b;
  b.name = Str(info.name());
  b.state = Str(info.state());
  b.started_at_us = info.started_at_us();
  b.finished_at_us = info.finished_at_us();
  b.store_format = info.store_format();
  b.store_id = Str(info.store_id());
  b.broker_version = Str(info.broker_version());
  b.records = info.records();
  b.messages = info.messages();
  b.blobs = info.blobs();
  b.bytes = info.bytes();
  b.path = Str(info.path());
  b.error = Str(info.error());
  return b;
}

ExportChunk ExportChunkFromWire(const wire::ExportChunk& chunk) {
  ExportChunk c;
  c.export_id = chunk.export_id();
  c.offset = chunk.offset();
  c.data = Bytes(chunk.data());
  c.total_bytes = chunk.total_bytes();
  c.done = chunk.done();
  return c;
}

namespace {

std::vector<WorkPeriod> PeriodsFromWire(const fb::Vector<const wire::WorkPeriod*>* periods) {
  std::vector<WorkPeriod> out;
  if (periods == nullptr) return out;
  for (const auto* p : *periods) out.push_back(WorkPeriod{p->start_minute(), p->end_minute()});
  return out;
}

std::vector<std::string> StringsFromWire(const fb::Vector<fb::Offset<fb::String>>* v) {
  std::vector<std::string> out;
  if (v == nullptr) return out;
  for (const auto* s : *v) out.push_back(Str(s));
  return out;
}

DisconnectCount DisconnectCountFromWire(const wire::DisconnectCount& c) {
  return DisconnectCount{Str(c.name()), c.conversation_id(), c.messages(), c.recipients(),
                         c.urgent()};
}

}  // namespace

Schedule ScheduleFromWire(const wire::Schedule& schedule) {
  Schedule s;
  s.time_zone = Str(schedule.time_zone());
  if (schedule.week() != nullptr) {
    for (const auto* d : *schedule.week()) {
      s.week.push_back(DayHours{d->weekday(), PeriodsFromWire(d->periods())});
    }
  }
  s.days_off = StringsFromWire(schedule.days_off());
  s.holidays = StringsFromWire(schedule.holidays());
  if (schedule.shifts() != nullptr) {
    for (const auto* c : *schedule.shifts()) {
      s.shifts.push_back(ShiftChange{Str(c->date()), PeriodsFromWire(c->periods())});
    }
  }
  s.profile = Str(schedule.profile());
  s.may_change = StringsFromWire(schedule.may_change());
  return s;
}

DutyState DutyStateFromWire(const wire::DutyState& state) {
  return DutyState{Str(state.login()), state.on_duty(), state.until_us()};
}

ScheduleInfo ScheduleInfoFromWire(const wire::ScheduleInfo& info) {
  ScheduleInfo out;
  out.login = Str(info.login());
  if (info.schedule() != nullptr) out.schedule = ScheduleFromWire(*info.schedule());
  if (info.state() != nullptr) out.state = DutyStateFromWire(*info.state());
  if (out.state.login.empty()) out.state.login = out.login;
  return out;
}

PresenceInfo PresenceFromWire(const wire::Presence& presence) {
  PresenceInfo p;
  p.login = Str(presence.login());
  switch (presence.state()) {
    case wire::PresenceState::Online:
      p.state = PresenceState::kOnline;
      break;
    case wire::PresenceState::OffDuty:
      p.state = PresenceState::kOffDuty;
      break;
    default:
      p.state = PresenceState::kOffline;
      break;
  }
  p.until_us = presence.until_us();
  return p;
}

DisconnectReport DisconnectReportFromWire(const wire::DisconnectReport& report) {
  DisconnectReport r;
  r.from_us = report.from_us();
  r.to_us = report.to_us();
  if (report.senders() != nullptr) {
    for (const auto* c : *report.senders()) r.senders.push_back(DisconnectCountFromWire(*c));
  }
  if (report.groups() != nullptr) {
    for (const auto* c : *report.groups()) r.groups.push_back(DisconnectCountFromWire(*c));
  }
  r.messages = report.messages();
  r.recipients = report.recipients();
  r.urgent = report.urgent();
  return r;
}

std::vector<DutyState> OffDutyFromWire(const wire::SendAck& ack) {
  std::vector<DutyState> out;
  if (ack.off_duty() == nullptr) return out;
  for (const auto* d : *ack.off_duty()) out.push_back(DutyStateFromWire(*d));
  return out;
}

std::string_view BodyName(wire::Body type) { return wire::EnumNameBody(type); }

}  // namespace chatpro::client::internal
