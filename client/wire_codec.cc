// SPDX-License-Identifier: Apache-2.0
#include "client/wire_codec.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

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
                          const Content& content) {
  auto [content_type, content_offset] = BuildContent(fbb_, content);
  fb::Offset<fb::String> to_user;
  if (to.conversation_id == 0) to_user = fbb_.CreateString(to.user);
  Add(request_id, wire::Body::Send,
      wire::CreateSend(fbb_, to.conversation_id, to_user, client_msg_id, content_type,
                       content_offset)
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
  return InviteInfo{Str(reply.login()), Str(reply.invite()), reply.expires_at_us()};
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

std::string_view BodyName(wire::Body type) { return wire::EnumNameBody(type); }

}  // namespace chatpro::client::internal
