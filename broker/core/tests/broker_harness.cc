// SPDX-License-Identifier: Apache-2.0
#include "broker/core/tests/broker_harness.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "broker/base/encoding.h"
#include "broker/base/invite.h"
#include "broker/base/log.h"

namespace chatpro::core::testing {
namespace {

// How long Settle() waits for the pipeline before it reports a failure; far
// more than any test needs, so that only a bug hits it.
constexpr auto kSettleTimeout = std::chrono::seconds(20);
// More than the broker's cursor flush interval (200 ms).
constexpr std::int64_t kCursorFlushAdvanceUs = 250'000;

std::string Bytes(const flatbuffers::Vector<std::uint8_t>* v) {
  return v == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(v->data()), v->size());
}

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> Strings(
    flatbuffers::FlatBufferBuilder& fbb, const std::vector<std::string>& values) {
  std::vector<flatbuffers::Offset<flatbuffers::String>> offsets;
  offsets.reserve(values.size());
  for (const std::string& v : values) offsets.push_back(fbb.CreateString(v));
  return fbb.CreateVector(offsets);
}

MessageView DecodeMessage(const flatbuffers::Vector<std::uint8_t>* nested) {
  MessageView m;
  m.bytes = Bytes(nested);
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(m.bytes.data()),
                                 m.bytes.size());
  if (nested == nullptr || !verifier.VerifyBuffer<wire::Message>(nullptr)) {
    ADD_FAILURE() << "a delivery holds no valid Message";
    return m;
  }
  const wire::Message* msg = flatbuffers::GetRoot<wire::Message>(m.bytes.data());
  m.conversation_id = msg->conversation_id();
  m.seq = msg->seq();
  m.sender_user_id = msg->sender_user_id();
  m.sender_login = Str(msg->sender_login());
  m.sender_device_id = msg->sender_device_id();
  m.client_msg_id = msg->client_msg_id();
  m.sent_at_us = msg->sent_at_us();
  m.content_type = msg->content_type();
  switch (msg->content_type()) {
    case wire::Content::Text:
      m.text = Str(msg->content_as_Text()->body());
      break;
    case wire::Content::Voice:
      m.codec = Str(msg->content_as_Voice()->codec());
      m.duration_ms = msg->content_as_Voice()->duration_ms();
      m.audio = Bytes(msg->content_as_Voice()->audio());
      break;
    case wire::Content::Picture: {
      const wire::Picture* p = msg->content_as_Picture();
      m.mime_type = Str(p->mime_type());
      m.width = p->width();
      m.height = p->height();
      m.image = Bytes(p->image());
      m.thumbnail = Bytes(p->thumbnail());
      break;
    }
    case wire::Content::Edit: {
      m.text = Str(msg->content_as_Edit()->text());
      m.target_seq = msg->content_as_Edit()->target_seq();
      break;
    }
    case wire::Content::Deletion:
      m.target_seq = msg->content_as_Deletion()->target_seq();
      break;
    case wire::Content::NONE:
      break;
  }
  return m;
}

ConversationView DecodeInfo(const wire::ConversationInfo* info) {
  ConversationView c;
  c.id = info->id();
  c.kind = info->kind();
  c.name = Str(info->name());
  if (info->members() != nullptr) {
    for (const wire::Member* m : *info->members()) {
      c.members.push_back({Str(m->login()), Str(m->display_name()), m->owner()});
    }
  }
  c.head_seq = info->head_seq();
  c.first_seq = info->first_seq();
  return c;
}

void DecodeEnvelope(const wire::Envelope& e, Envelope* out) {
  out->request_id = e.request_id();
  out->type = e.body_type();
  switch (e.body_type()) {
    case wire::Body::Error:
      out->error_code = e.body_as_Error()->code();
      out->error_message = Str(e.body_as_Error()->message());
      break;
    case wire::Body::SendAck: {
      const wire::SendAck* a = e.body_as_SendAck();
      out->client_msg_id = a->client_msg_id();
      out->conversation_id = a->conversation_id();
      out->seq = a->seq();
      out->sent_at_us = a->sent_at_us();
      out->duplicate = a->duplicate();
      break;
    }
    case wire::Body::Delivery:
      out->message = DecodeMessage(e.body_as_Delivery()->message());
      break;
    case wire::Body::ConversationInfo:
      out->conversation = DecodeInfo(e.body_as_ConversationInfo());
      break;
    case wire::Body::ConversationList:
      if (e.body_as_ConversationList()->conversations() != nullptr) {
        for (const wire::ConversationInfo* c : *e.body_as_ConversationList()->conversations()) {
          out->conversations.push_back(DecodeInfo(c));
        }
      }
      break;
    case wire::Body::HistoryReply: {
      const wire::HistoryReply* r = e.body_as_HistoryReply();
      out->conversation_id = r->conversation_id();
      out->has_more = r->has_more();
      if (r->messages() != nullptr) {
        for (const wire::Delivery* d : *r->messages()) {
          out->history.push_back(DecodeMessage(d->message()));
        }
      }
      break;
    }
    case wire::Body::HelloReply: {
      const wire::HelloReply* r = e.body_as_HelloReply();
      out->protocol_version = r->protocol_version();
      out->user_id = r->user_id();
      out->login = Str(r->login());
      out->display_name = Str(r->display_name());
      out->role = r->role();
      out->device_id = r->device_id();
      out->max_text_bytes = r->max_text_bytes();
      out->max_frame_bytes = r->max_frame_bytes();
      out->last_client_msg_id = r->last_client_msg_id();
      break;
    }
    case wire::Body::EnrollReply: {
      const wire::EnrollReply* r = e.body_as_EnrollReply();
      out->user_id = r->user_id();
      out->login = Str(r->login());
      out->display_name = Str(r->display_name());
      out->role = r->role();
      out->device_id = r->device_id();
      break;
    }
    case wire::Body::InviteReply: {
      const wire::InviteReply* r = e.body_as_InviteReply();
      out->login = Str(r->login());
      out->invite = Str(r->invite());
      out->expires_at_us = r->expires_at_us();
      out->web_link = Str(r->web_link());
      break;
    }
    case wire::Body::UserList:
      if (e.body_as_UserList()->users() != nullptr) {
        for (const wire::UserInfo* u : *e.body_as_UserList()->users()) {
          out->users.push_back({u->id(), Str(u->login()), Str(u->display_name()), u->role(),
                                u->active(), u->devices(), u->created_at_us()});
        }
      }
      break;
    case wire::Body::GroupList:
      if (e.body_as_GroupList()->groups() != nullptr) {
        for (const wire::GroupInfo* g : *e.body_as_GroupList()->groups()) {
          GroupView v{g->conversation_id(), Str(g->name()), g->created_at_us(), {}, {}};
          if (g->members() != nullptr) {
            for (const flatbuffers::String* m : *g->members()) v.members.push_back(m->str());
          }
          if (g->owners() != nullptr) {
            for (const flatbuffers::String* o : *g->owners()) v.owners.push_back(o->str());
          }
          out->groups.push_back(std::move(v));
        }
      }
      break;
    case wire::Body::Pong:
      out->server_time_us = e.body_as_Pong()->server_time_us();
      break;
    case wire::Body::OffboardingReply: {
      const wire::OffboardingReply* r = e.body_as_OffboardingReply();
      out->login = Str(r->login());
      out->asked_at_us = r->asked_at_us();
      out->devices_revoked = r->devices_revoked();
      out->sessions_closed = r->sessions_closed();
      out->last_session_closed_at_us = r->last_session_closed_at_us();
      out->invites_cancelled = r->invites_cancelled();
      break;
    }
    case wire::Body::DeviceList: {
      const wire::DeviceList* r = e.body_as_DeviceList();
      out->login = Str(r->login());
      if (r->devices() != nullptr) {
        for (const wire::DeviceInfo* d : *r->devices()) {
          out->devices.push_back({d->id(), Str(d->name()), Str(d->client_version()),
                                  d->created_at_us(), d->last_seen_us(), Str(d->last_address()),
                                  d->active(), d->revoked_at_us(), d->online()});
        }
      }
      break;
    }
    case wire::Body::ReportList:
      if (e.body_as_ReportList()->reports() != nullptr) {
        for (const wire::ReportInfo* r : *e.body_as_ReportList()->reports()) {
          out->reports.push_back({r->id(), r->created_at_us(), Str(r->reporter()), Str(r->reason()),
                                  r->conversation_id(), r->seq(), DecodeMessage(r->message())});
        }
      }
      break;
    case wire::Body::AuditList:
      if (e.body_as_AuditList()->entries() != nullptr) {
        for (const wire::AuditEntry* a : *e.body_as_AuditList()->entries()) {
          out->audit.push_back({a->seq(), a->at_us(), Str(a->actor()), Str(a->action()),
                                Str(a->target()), Str(a->details()), Bytes(a->hash())});
        }
      }
      break;
    case wire::Body::AuditVerifyReply: {
      const wire::AuditVerifyReply* r = e.body_as_AuditVerifyReply();
      out->audit_whole = r->whole();
      out->audit_records = r->records();
      out->audit_first_broken_seq = r->first_broken_seq();
      out->audit_message = Str(r->message());
      break;
    }
    case wire::Body::Revoked:
      out->revoked_reason = Str(e.body_as_Revoked()->reason());
      out->wipe = e.body_as_Revoked()->wipe();
      break;
    case wire::Body::ConsoleCredentialsReply: {
      const wire::ConsoleCredentialsReply* r = e.body_as_ConsoleCredentialsReply();
      out->user_id = r->user_id();
      out->login = Str(r->login());
      out->display_name = Str(r->display_name());
      out->role = r->role();
      out->active = r->active();
      out->password_hash = Str(r->password_hash());
      break;
    }
    default:
      break;
  }
}

}  // namespace

bool RunKnownBugs() {
  const char* v = std::getenv("CHATPRO_RUN_KNOWN_BUGS");
  return v != nullptr && std::string_view(v) == "1";
}

// ------------------------------------------------------------------ transport

SendOutcome FakeTransport::Send(ConnectionId connection, flatbuffers::DetachedBuffer* frame) {
  auto it = outcomes_.find(connection);
  SendOutcome outcome = it == outcomes_.end() ? SendOutcome::kSent : it->second;
  auto refuse = refuse_next_.find(connection);
  if (refuse != refuse_next_.end() && refuse->second > 0) {
    --refuse->second;
    outcome = SendOutcome::kFull;
  }
  if (outcome == SendOutcome::kFull) ++refusals_[connection];
  if (outcome != SendOutcome::kSent) return outcome;
  frames_[connection].emplace_back(reinterpret_cast<const char*>(frame->data()), frame->size());
  *frame = flatbuffers::DetachedBuffer();
  return SendOutcome::kSent;
}

void FakeTransport::Forget(ConnectionId connection) { forgotten_.insert(connection); }

void FakeTransport::SetOutcome(ConnectionId connection, SendOutcome outcome) {
  outcomes_[connection] = outcome;
}

std::vector<std::string> FakeTransport::TakeFrames(ConnectionId connection) {
  std::vector<std::string> out;
  auto it = frames_.find(connection);
  if (it != frames_.end()) out.swap(it->second);
  return out;
}

int FakeTransport::refusals(ConnectionId connection) const {
  auto it = refusals_.find(connection);
  return it == refusals_.end() ? 0 : it->second;
}

// ------------------------------------------------------------------ requests

Request& Request::Raw(std::uint64_t rid, wire::Body type, flatbuffers::Offset<void> body) {
  envelopes_.push_back(wire::CreateEnvelope(fbb_, rid, type, body));
  return *this;
}

Request& Request::Hello(std::uint64_t rid, bool receive, std::string_view version) {
  auto v = fbb_.CreateString(version);
  return Raw(rid, wire::Body::Hello, wire::CreateHello(fbb_, v, receive).Union());
}

namespace {
flatbuffers::Offset<wire::Send> MakeSend(flatbuffers::FlatBufferBuilder& fbb, const Target& to,
                                         ClientMsgId id, wire::Content type,
                                         flatbuffers::Offset<void> content) {
  flatbuffers::Offset<flatbuffers::String> user;
  if (!to.user.empty()) user = fbb.CreateString(to.user);
  wire::SendBuilder b(fbb);
  b.add_conversation_id(to.conversation_id);
  if (!to.user.empty()) b.add_to_user(user);
  b.add_client_msg_id(id);
  if (type != wire::Content::NONE) {
    b.add_content_type(type);
    b.add_content(content);
  }
  return b.Finish();
}

flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> ByteVector(
    flatbuffers::FlatBufferBuilder& fbb, std::string_view bytes) {
  return fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}
}  // namespace

Request& Request::SendText(std::uint64_t rid, const Target& to, ClientMsgId id,
                           std::string_view text) {
  auto body = fbb_.CreateString(text.data(), text.size());
  auto content = wire::CreateText(fbb_, body).Union();
  return Raw(rid, wire::Body::Send, MakeSend(fbb_, to, id, wire::Content::Text, content).Union());
}

Request& Request::SendVoice(std::uint64_t rid, const Target& to, ClientMsgId id,
                            std::string_view codec, std::uint32_t duration_ms,
                            std::string_view audio) {
  auto c = fbb_.CreateString(codec);
  auto a = ByteVector(fbb_, audio);
  auto content = wire::CreateVoice(fbb_, c, duration_ms, a).Union();
  return Raw(rid, wire::Body::Send, MakeSend(fbb_, to, id, wire::Content::Voice, content).Union());
}

Request& Request::SendPicture(std::uint64_t rid, const Target& to, ClientMsgId id,
                              std::string_view mime_type, std::uint32_t width, std::uint32_t height,
                              std::string_view image, std::string_view thumbnail) {
  auto mime = fbb_.CreateString(mime_type);
  auto img = ByteVector(fbb_, image);
  flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> thumb;
  if (!thumbnail.empty()) thumb = ByteVector(fbb_, thumbnail);
  auto content = wire::CreatePicture(fbb_, mime, width, height, img, thumb).Union();
  return Raw(rid, wire::Body::Send,
             MakeSend(fbb_, to, id, wire::Content::Picture, content).Union());
}

Request& Request::SendNothing(std::uint64_t rid, const Target& to, ClientMsgId id) {
  return Raw(rid, wire::Body::Send,
             MakeSend(fbb_, to, id, wire::Content::NONE, flatbuffers::Offset<void>()).Union());
}

Request& Request::SendEdit(std::uint64_t rid, const Target& to, ClientMsgId id, Seq target_seq,
                           std::string_view text) {
  auto t = fbb_.CreateString(text.data(), text.size());
  auto content = wire::CreateEdit(fbb_, target_seq, t).Union();
  return Raw(rid, wire::Body::Send, MakeSend(fbb_, to, id, wire::Content::Edit, content).Union());
}

Request& Request::SendDeletion(std::uint64_t rid, const Target& to, ClientMsgId id,
                               Seq target_seq) {
  auto content = wire::CreateDeletion(fbb_, target_seq).Union();
  return Raw(rid, wire::Body::Send,
             MakeSend(fbb_, to, id, wire::Content::Deletion, content).Union());
}

Request& Request::Ack(const std::vector<std::pair<std::uint64_t, Seq>>& cursors) {
  std::vector<wire::Cursor> structs;
  structs.reserve(cursors.size());
  for (const auto& [conversation, seq] : cursors) structs.emplace_back(conversation, seq);
  auto v = fbb_.CreateVectorOfStructs(structs);
  return Raw(0, wire::Body::Ack, wire::CreateAck(fbb_, v).Union());
}

Request& Request::History(std::uint64_t rid, std::uint64_t conversation_id, Seq from_seq,
                          std::uint32_t limit, bool backward) {
  wire::HistoryBuilder b(fbb_);
  b.add_conversation_id(conversation_id);
  b.add_from_seq(from_seq);
  b.add_limit(limit);
  b.add_backward(backward);
  return Raw(rid, wire::Body::History, b.Finish().Union());
}

Request& Request::Ping(std::uint64_t rid) {
  return Raw(rid, wire::Body::Ping, wire::CreatePing(fbb_).Union());
}

Request& Request::OpenDirect(std::uint64_t rid, std::string_view user) {
  auto u = fbb_.CreateString(user);
  return Raw(rid, wire::Body::OpenDirect, wire::CreateOpenDirect(fbb_, u).Union());
}

Request& Request::CreateGroup(std::uint64_t rid, std::string_view name,
                              const std::vector<std::string>& members) {
  auto n = fbb_.CreateString(name.data(), name.size());
  auto m = Strings(fbb_, members);
  return Raw(rid, wire::Body::CreateGroup, wire::CreateCreateGroup(fbb_, n, m).Union());
}

Request& Request::AddMembers(std::uint64_t rid, std::uint64_t conversation_id,
                             const std::vector<std::string>& members, bool as_owners) {
  auto m = Strings(fbb_, members);
  return Raw(rid, wire::Body::AddMembers,
             wire::CreateAddMembers(fbb_, conversation_id, m, as_owners).Union());
}

Request& Request::RemoveMember(std::uint64_t rid, std::uint64_t conversation_id,
                               std::string_view member) {
  auto m = fbb_.CreateString(member);
  return Raw(rid, wire::Body::RemoveMember,
             wire::CreateRemoveMember(fbb_, conversation_id, m).Union());
}

Request& Request::LeaveGroup(std::uint64_t rid, std::uint64_t conversation_id) {
  return Raw(rid, wire::Body::LeaveGroup, wire::CreateLeaveGroup(fbb_, conversation_id).Union());
}

Request& Request::ListConversations(std::uint64_t rid) {
  return Raw(rid, wire::Body::ListConversations, wire::CreateListConversations(fbb_).Union());
}

Request& Request::Enroll(std::uint64_t rid, std::string_view device_public_key,
                         std::string_view device_name, wire::KeyKind kind) {
  auto key = ByteVector(fbb_, device_public_key);
  auto name = fbb_.CreateString(device_name);
  auto version = fbb_.CreateString("test/1");
  return Raw(rid, wire::Body::Enroll,
             wire::CreateEnroll(fbb_, key, name, version, kind).Union());
}

Request& Request::CreateInvite(std::uint64_t rid, std::string_view login) {
  auto l = fbb_.CreateString(login);
  return Raw(rid, wire::Body::CreateInvite, wire::CreateCreateInvite(fbb_, l).Union());
}

Request& Request::Directory(std::uint64_t rid) {
  return Raw(rid, wire::Body::Directory, wire::CreateDirectory(fbb_).Union());
}

Request& Request::AdminAddUser(std::uint64_t rid, std::string_view login,
                               std::string_view display_name, wire::Role role) {
  auto l = fbb_.CreateString(login);
  auto d = fbb_.CreateString(display_name);
  return Raw(rid, wire::Body::AdminAddUser, wire::CreateAdminAddUser(fbb_, l, d, role).Union());
}

Request& Request::AdminListUsers(std::uint64_t rid) {
  return Raw(rid, wire::Body::AdminListUsers, wire::CreateAdminListUsers(fbb_).Union());
}

Request& Request::AdminListGroups(std::uint64_t rid) {
  return Raw(rid, wire::Body::AdminListGroups, wire::CreateAdminListGroups(fbb_).Union());
}

Request& Request::AdminDeactivateUser(std::uint64_t rid, std::string_view login) {
  auto l = fbb_.CreateString(login);
  return Raw(rid, wire::Body::AdminDeactivateUser,
             wire::CreateAdminDeactivateUser(fbb_, l).Union());
}

Request& Request::AdminReactivateUser(std::uint64_t rid, std::string_view login) {
  auto l = fbb_.CreateString(login);
  return Raw(rid, wire::Body::AdminReactivateUser,
             wire::CreateAdminReactivateUser(fbb_, l).Union());
}

Request& Request::ListDevices(std::uint64_t rid, std::string_view login) {
  auto l = fbb_.CreateString(login);
  return Raw(rid, wire::Body::ListDevices, wire::CreateListDevices(fbb_, l).Union());
}

Request& Request::RevokeDevice(std::uint64_t rid, std::string_view login, std::uint64_t device_id) {
  auto l = fbb_.CreateString(login);
  return Raw(rid, wire::Body::RevokeDevice, wire::CreateRevokeDevice(fbb_, l, device_id).Union());
}

Request& Request::ConfirmWipe(std::uint64_t rid) {
  return Raw(rid, wire::Body::ConfirmWipe, wire::CreateConfirmWipe(fbb_).Union());
}

Request& Request::Block(std::uint64_t rid, std::string_view login) {
  auto l = fbb_.CreateString(login);
  return Raw(rid, wire::Body::Block, wire::CreateBlock(fbb_, l).Union());
}

Request& Request::Unblock(std::uint64_t rid, std::string_view login) {
  auto l = fbb_.CreateString(login);
  return Raw(rid, wire::Body::Unblock, wire::CreateUnblock(fbb_, l).Union());
}

Request& Request::ListBlocked(std::uint64_t rid) {
  return Raw(rid, wire::Body::ListBlocked, wire::CreateListBlocked(fbb_).Union());
}

Request& Request::Report(std::uint64_t rid, std::uint64_t conversation_id, Seq seq,
                         std::string_view reason) {
  auto r = fbb_.CreateString(reason.data(), reason.size());
  return Raw(rid, wire::Body::Report, wire::CreateReport(fbb_, conversation_id, seq, r).Union());
}

Request& Request::AdminListReports(std::uint64_t rid) {
  return Raw(rid, wire::Body::AdminListReports, wire::CreateAdminListReports(fbb_).Union());
}

Request& Request::AdminListAudit(std::uint64_t rid, std::uint64_t from_seq, std::uint32_t limit) {
  return Raw(rid, wire::Body::AdminListAudit,
             wire::CreateAdminListAudit(fbb_, from_seq, limit).Union());
}

Request& Request::AdminVerifyAudit(std::uint64_t rid) {
  return Raw(rid, wire::Body::AdminVerifyAudit, wire::CreateAdminVerifyAudit(fbb_).Union());
}

std::string Request::Finish(std::uint16_t protocol_version) {
  auto v = fbb_.CreateVector(envelopes_);
  wire::FrameBuilder b(fbb_);
  b.add_protocol_version(protocol_version);
  b.add_envelopes(v);
  wire::FinishFrameBuffer(fbb_, b.Finish());
  return std::string(reinterpret_cast<const char*>(fbb_.GetBufferPointer()), fbb_.GetSize());
}

// ------------------------------------------------------------------ decoding

bool ConversationView::HasMember(std::string_view login) const {
  for (const MemberView& m : members) {
    if (m.login == login) return true;
  }
  return false;
}

bool ConversationView::IsOwner(std::string_view login) const {
  for (const MemberView& m : members) {
    if (m.login == login) return m.owner;
  }
  return false;
}

std::vector<Envelope> DecodeFrames(const std::vector<std::string>& frames) {
  std::vector<Envelope> out;
  for (const std::string& f : frames) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(f.data());
    flatbuffers::Verifier verifier(data, f.size());
    if (f.size() < 8 || !wire::FrameBufferHasIdentifier(data) ||
        !wire::VerifyFrameBuffer(verifier)) {
      ADD_FAILURE() << "the broker sent a frame that fails verification (" << f.size() << " bytes)";
      continue;
    }
    const wire::Frame* frame = wire::GetFrame(data);
    EXPECT_EQ(frame->protocol_version(), 1);
    if (frame->envelopes() == nullptr) continue;
    for (const wire::Envelope* e : *frame->envelopes()) {
      out.emplace_back();
      DecodeEnvelope(*e, &out.back());
    }
  }
  return out;
}

std::vector<Envelope> OfType(const std::vector<Envelope>& all, wire::Body type) {
  std::vector<Envelope> out;
  for (const Envelope& e : all) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

std::vector<MessageView> Deliveries(const std::vector<Envelope>& all) {
  std::vector<MessageView> out;
  for (const Envelope& e : all) {
    if (e.type == wire::Body::Delivery) out.push_back(e.message);
  }
  return out;
}

std::vector<Seq> DeliveredSeqs(const std::vector<Envelope>& all, std::uint64_t conversation_id) {
  std::vector<Seq> out;
  for (const Envelope& e : all) {
    if (e.type == wire::Body::Delivery && e.message.conversation_id == conversation_id) {
      out.push_back(e.message.seq);
    }
  }
  return out;
}

std::vector<Envelope> RepliesTo(const std::vector<Envelope>& all, std::uint64_t request_id) {
  std::vector<Envelope> out;
  for (const Envelope& e : all) {
    if (e.request_id == request_id) out.push_back(e);
  }
  return out;
}

Envelope ReplyTo(const std::vector<Envelope>& all, std::uint64_t request_id) {
  std::vector<Envelope> replies = RepliesTo(all, request_id);
  if (replies.size() != 1) {
    ADD_FAILURE() << "expected one reply to request " << request_id << ", got " << replies.size();
    return Envelope();
  }
  return replies.front();
}

std::vector<Seq> SeqRange(Seq first, Seq last) {
  std::vector<Seq> out;
  for (Seq s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// ------------------------------------------------------------------ clients

TestClient BrokerHarness::Console(const TestClient& client) {
  TestClient c;
  c.harness = this;
  c.connection = NewConnectionId();
  c.zap_user_id = "c:" + std::to_string(client.user_id);
  c.address = "console";
  c.login = client.login;
  c.user_id = client.user_id;
  return c;
}

TestClient BrokerHarness::ConsoleService() {
  TestClient c;
  c.harness = this;
  c.connection = NewConnectionId();
  c.zap_user_id = "s:console";
  c.address = "console";
  return c;
}

void TestClient::Send(const std::string& frame) const {
  harness->broker().OnFrame(connection, zap_user_id, address,
                            reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
}

std::vector<Envelope> TestClient::Take() const {
  std::vector<Envelope> out;
  out.swap(harness->Inbox(connection));
  return out;
}

Envelope TestClient::TakeReply(std::uint64_t request_id) const {
  std::vector<Envelope>& inbox = harness->Inbox(connection);
  std::vector<Envelope> replies;
  std::vector<Envelope> rest;
  for (Envelope& e : inbox) (e.request_id == request_id ? replies : rest).push_back(std::move(e));
  inbox.swap(rest);
  if (replies.size() != 1) {
    ADD_FAILURE() << "expected one reply to request " << request_id << ", got " << replies.size();
    return Envelope();
  }
  return replies.front();
}

// ------------------------------------------------------------------ harness

BrokerHarness::BrokerHarness(CoreOptions options, std::shared_ptr<InMemoryMessageStore> store)
    : options_(options), store_(std::move(store)) {
  SetLogLevel(LogLevel::kError);
  EXPECT_TRUE(crypto::InitCrypto().ok());
  if (store_ == nullptr) store_ = std::make_shared<InMemoryMessageStore>();
  MakeBroker();
}

BrokerHarness::~BrokerHarness() { broker_.reset(); }

std::vector<Envelope>& BrokerHarness::Inbox(ConnectionId connection) {
  std::vector<Envelope>& inbox = inbox_[connection];
  for (Envelope& e : DecodeFrames(transport_.TakeFrames(connection))) inbox.push_back(std::move(e));
  return inbox;
}

// The suite runs once per durability (ctest sets CHATPRO_TEST_DURABILITY=os
// for the second run): `os` takes the inline commit path for small batches.
Durability TestDurability() {
  const char* d = std::getenv("CHATPRO_TEST_DURABILITY");
  return d != nullptr && std::string_view(d) == "os" ? Durability::kOs : Durability::kFsync;
}

void BrokerHarness::MakeBroker() {
  ServerIdentity identity{std::string(32, '\x42'), "chat.example.org:7070"};
  observed_ = std::make_unique<ObservedStore>(store_.get());
  broker_ =
      std::make_unique<Broker>(options_, TestDurability(), identity, observed_.get(), &clock_);
  Status st = broker_->Open();
  EXPECT_TRUE(st.ok()) << st;
}

std::string BrokerHarness::BootstrapInvite(std::string_view login) {
  Result<std::string> invite = broker_->CreateBootstrapInvite(login);
  EXPECT_TRUE(invite.ok()) << invite.status();
  return invite.ok() ? *invite : std::string();
}

void BrokerHarness::Start() { broker_->Start(&transport_, &transport_); }

::testing::AssertionResult BrokerHarness::WaitForWriteAttempts(std::uint64_t n) {
  auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
  while (observed_->write_attempts() < n) {
    if (std::chrono::steady_clock::now() > deadline) {
      return ::testing::AssertionFailure()
             << "the broker made " << observed_->write_attempts() << " writes, not " << n;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return ::testing::AssertionSuccess();
}

void BrokerHarness::Restart() {
  broker_.reset();
  MakeBroker();
  Start();
}

::testing::AssertionResult BrokerHarness::Settle() {
  auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
  while (true) {
    broker_->Flush();
    broker_->OnWake();
    broker_->Flush();
    if (broker_->Idle()) {
      // Idle means the pipeline holds nothing: every completion is queued.
      // Take those, answer them, and look again.
      broker_->OnWake();
      broker_->Flush();
      if (broker_->Idle()) return ::testing::AssertionSuccess();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return ::testing::AssertionFailure() << "the broker did not become idle";
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

::testing::AssertionResult BrokerHarness::SettleCursors() {
  clock_.Advance(kCursorFlushAdvanceUs);
  broker_->OnTick();
  return Settle();
}

void BrokerHarness::TimeOutSessions() {
  clock_.Advance(options_.session_timeout_us + kMicrosPerSecond);
  broker_->OnTick();
  EXPECT_EQ(broker_->session_count(), 0u);
}

TestClient BrokerHarness::Enroll(std::string_view invite_text, std::string_view device_name) {
  TestClient out;
  out.harness = this;
  Result<Invite> invite = ParseInvite(invite_text);
  if (!invite.ok()) {
    ADD_FAILURE() << "not an invite: " << invite_text << ": " << invite.status();
    return out;
  }
  crypto::KeyPair enrollment = crypto::DeriveEnrollmentKeyPair(invite->code);
  AuthDecision auth = broker_->Authenticate(enrollment.public_key, "test");
  if (!auth.allowed) {
    ADD_FAILURE() << "the enrollment key was refused: " << auth.reason;
    return out;
  }
  TestClient enrolling;
  enrolling.harness = this;
  enrolling.connection = NewConnectionId();
  enrolling.zap_user_id = auth.user_id;

  out.keys = crypto::GenerateKeyPair();
  std::uint64_t rid = next_rid_++;
  enrolling.Send(Request().Enroll(rid, out.keys.public_key, device_name).Finish());
  EXPECT_TRUE(Settle());
  Envelope reply = enrolling.TakeReply(rid);
  if (reply.type != wire::Body::EnrollReply) {
    ADD_FAILURE() << "enrollment failed: " << reply.error_message;
    return out;
  }
  AuthDecision device = broker_->Authenticate(out.keys.public_key, "test");
  if (!device.allowed) {
    ADD_FAILURE() << "the enrolled device key was refused: " << device.reason;
    return out;
  }
  EXPECT_EQ(device.user_id, "d:" + std::to_string(reply.device_id));
  out.zap_user_id = device.user_id;
  out.login = reply.login;
  out.user_id = reply.user_id;
  out.device_id = reply.device_id;
  return Reconnect(out);
}

TestClient BrokerHarness::Reconnect(const TestClient& client, bool receive) {
  TestClient out = client;
  out.connection = NewConnectionId();
  std::uint64_t rid = next_rid_++;
  out.Send(Request().Hello(rid, receive).Finish());
  EXPECT_TRUE(Settle());
  Envelope hello = out.TakeReply(rid);
  EXPECT_EQ(hello.type, wire::Body::HelloReply) << hello.error_message;
  return out;
}

TestClient BrokerHarness::AddUser(const TestClient& admin, std::string_view login, wire::Role role,
                                  std::string_view display_name) {
  std::uint64_t rid = next_rid_++;
  admin.Send(Request().AdminAddUser(rid, login, display_name, role).Finish());
  EXPECT_TRUE(Settle());
  Envelope reply = admin.TakeReply(rid);
  if (reply.type != wire::Body::InviteReply) {
    ADD_FAILURE() << "AdminAddUser " << login << " failed: " << reply.error_message;
    TestClient none;
    none.harness = this;
    return none;
  }
  return Enroll(reply.invite);
}

TestClient BrokerHarness::AddDevice(const TestClient& client) {
  std::uint64_t rid = next_rid_++;
  client.Send(Request().CreateInvite(rid).Finish());
  EXPECT_TRUE(Settle());
  Envelope reply = client.TakeReply(rid);
  if (reply.type != wire::Body::InviteReply) {
    ADD_FAILURE() << "CreateInvite failed: " << reply.error_message;
    TestClient none;
    none.harness = this;
    return none;
  }
  return Enroll(reply.invite, "second device");
}

// ------------------------------------------------------------------ fixture

void BrokerTest::Boot(const CoreOptions& options) {
  h_.reset();
  h_ = std::make_unique<BrokerHarness>(options);
  std::string invite = h_->BootstrapInvite("admin");
  h_->Start();
  admin_ = h_->Enroll(invite, "admin laptop");
}

std::uint64_t BrokerTest::CreateGroup(const TestClient& owner, std::string_view name,
                                      const std::vector<std::string>& members) {
  std::uint64_t rid = next_rid_++;
  owner.Send(Request().CreateGroup(rid, name, members).Finish());
  EXPECT_TRUE(Settle());
  Envelope reply = owner.TakeReply(rid);
  if (reply.type != wire::Body::ConversationInfo) {
    ADD_FAILURE() << "CreateGroup failed: " << reply.error_message;
    return 0;
  }
  return reply.conversation.id;
}

Envelope BrokerTest::SendText(const TestClient& from, const Target& to, ClientMsgId id,
                              std::string_view text) {
  std::uint64_t rid = next_rid_++;
  from.Send(Request().SendText(rid, to, id, text).Finish());
  EXPECT_TRUE(Settle());
  return from.TakeReply(rid);
}

}  // namespace chatpro::core::testing
