// SPDX-License-Identifier: Apache-2.0
#include "tests/fuzz/fuzz_broker.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <utility>

#include "broker/base/invite.h"
#include "broker/base/log.h"
#include "broker/crypto/keys.h"

namespace chatpro::fuzz {
namespace {

// Far more than any settle needs: only a hang reaches it.
constexpr auto kSettleTimeout = std::chrono::seconds(20);

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

}  // namespace

void Fail(std::string_view why) {
  std::fprintf(stderr, "fuzz invariant broken: %.*s\n", static_cast<int>(why.size()), why.data());
  std::fflush(stderr);
  std::abort();
}

// ------------------------------------------------------------------ frames

std::string FinishFrame(flatbuffers::FlatBufferBuilder& fbb,
                        const std::vector<flatbuffers::Offset<wire::Envelope>>& envelopes) {
  auto frame = wire::CreateFrame(fbb, 1, fbb.CreateVector(envelopes));
  wire::FinishFrameBuffer(fbb, frame);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

namespace {
std::string OneEnvelope(flatbuffers::FlatBufferBuilder& fbb, std::uint64_t request_id,
                        wire::Body type, flatbuffers::Offset<void> body) {
  return FinishFrame(fbb, {wire::CreateEnvelope(fbb, request_id, type, body)});
}
}  // namespace

std::string HelloFrame(std::uint64_t request_id) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateHelloDirect(fbb, "fuzz/1", true);
  return OneEnvelope(fbb, request_id, wire::Body::Hello, body.Union());
}

std::string SendTextFrame(std::uint64_t request_id, std::string_view to_user,
                          std::uint64_t client_msg_id, std::string_view text) {
  flatbuffers::FlatBufferBuilder fbb;
  auto content = wire::CreateText(fbb, fbb.CreateString(text.data(), text.size()));
  auto body = wire::CreateSend(fbb, 0, fbb.CreateString(to_user.data(), to_user.size()),
                               client_msg_id, wire::Content::Text, content.Union());
  return OneEnvelope(fbb, request_id, wire::Body::Send, body.Union());
}

std::string HistoryFrame(std::uint64_t request_id, std::uint64_t conversation_id) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateHistory(fbb, conversation_id, 0, 0, 50, true);
  return OneEnvelope(fbb, request_id, wire::Body::History, body.Union());
}

// ------------------------------------------------------------------ transport

core::SendOutcome CollectingTransport::Send(core::ConnectionId connection,
                                            flatbuffers::DetachedBuffer* frame) {
  frames_[connection].emplace_back(reinterpret_cast<const char*>(frame->data()), frame->size());
  *frame = flatbuffers::DetachedBuffer();
  return core::SendOutcome::kSent;
}

std::vector<std::string> CollectingTransport::Take(core::ConnectionId connection) {
  std::vector<std::string> out;
  auto it = frames_.find(connection);
  if (it != frames_.end()) out.swap(it->second);
  return out;
}

// ------------------------------------------------------------------ broker

FuzzBroker::FuzzBroker() {
  // Refusals of bad input are logged as warnings; thousands per second of
  // them would drown the fuzzer's own output.
  SetLogLevel(LogLevel::kError);
  FUZZ_CHECK(crypto::InitCrypto().ok(), "libsodium did not initialise");
  core::ServerIdentity identity{std::string(32, '\x42'), "chat.example.org:7070"};
  // `os` durability commits small batches inline: the same rules, fewer
  // thread hand-overs per input.
  broker_ = std::make_unique<core::Broker>(CoreOptions(), Durability::kOs, identity, &store_,
                                           &clock_);
  Status opened = broker_->Open();
  FUZZ_CHECK(opened.ok(), opened.ToString());
  Result<std::string> invite = broker_->CreateBootstrapInvite("boss");
  FUZZ_CHECK(invite.ok(), invite.status().ToString());
  broker_->Start(&transport_, &transport_);
  boss_ = Enroll(*invite);
  ana_ = AddUser("ana");
  carol_ = AddUser("carol");
  dave_ = AddUser("dave");

  std::uint64_t rid = next_request_id_++;
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateCreateInviteDirect(fbb, "");
  Received reply = Ask(ana_, OneEnvelope(fbb, rid, wire::Body::CreateInvite, body.Union()), rid);
  FUZZ_CHECK(reply.type == wire::Body::InviteReply, "ana's CreateInvite: " + reply.text);
  enrolling_ = EnrollmentSession(reply.text);
}

FuzzBroker::~FuzzBroker() { broker_->Stop(); }

void FuzzBroker::Send(const Session& session, const std::uint8_t* data, std::size_t size) {
  broker_->OnFrame(session.connection, session.zap_user_id, "127.0.0.1", data, size);
}

void FuzzBroker::Settle() {
  auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
  while (true) {
    broker_->Flush();
    broker_->OnWake();
    broker_->Flush();
    if (broker_->Idle()) {
      // Idle: every completion is queued. Answer those and look again.
      broker_->OnWake();
      broker_->Flush();
      if (broker_->Idle()) return;
    }
    FUZZ_CHECK(std::chrono::steady_clock::now() < deadline, "the broker did not become idle");
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

std::vector<Received> FuzzBroker::Take(const Session& session) {
  std::vector<Received> out;
  for (const std::string& frame : transport_.Take(session.connection)) {
    flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(frame.data()),
                                   frame.size());
    FUZZ_CHECK(wire::VerifyFrameBuffer(verifier), "the broker sent a frame that does not verify");
    const wire::Frame* f = wire::GetFrame(frame.data());
    FUZZ_CHECK(f->envelopes() != nullptr, "the broker sent a frame without envelopes");
    for (const wire::Envelope* e : *f->envelopes()) {
      Received r;
      r.request_id = e->request_id();
      r.type = e->body_type();
      switch (e->body_type()) {
        case wire::Body::Error:
          r.error = e->body_as_Error()->code();
          r.text = Str(e->body_as_Error()->message());
          FUZZ_CHECK(r.error != wire::ErrorCode::Ok, "an Error with code Ok");
          FUZZ_CHECK(!r.text.empty(), "an Error without a message");
          break;
        case wire::Body::InviteReply:
          r.text = Str(e->body_as_InviteReply()->invite());
          break;
        case wire::Body::EnrollReply:
          r.id = e->body_as_EnrollReply()->device_id();
          break;
        case wire::Body::SendAck:
          r.id = e->body_as_SendAck()->seq();
          r.conversation_id = e->body_as_SendAck()->conversation_id();
          break;
        case wire::Body::Delivery: {
          const wire::Message* m = e->body_as_Delivery()->message_nested_root();
          FUZZ_CHECK(m != nullptr, "a Delivery without a message");
          r.id = m->seq();
          r.conversation_id = m->conversation_id();
          if (m->content_type() == wire::Content::Text) r.text = Str(m->content_as_Text()->body());
          break;
        }
        case wire::Body::HistoryReply: {
          // One Received per message, under the request's id.
          const auto* messages = e->body_as_HistoryReply()->messages();
          if (messages == nullptr) break;
          for (const wire::Delivery* d : *messages) {
            const wire::Message* m = d->message_nested_root();
            FUZZ_CHECK(m != nullptr, "a history entry without a message");
            Received h = r;
            h.id = m->seq();
            h.conversation_id = m->conversation_id();
            if (m->content_type() == wire::Content::Text) {
              h.text = Str(m->content_as_Text()->body());
            }
            out.push_back(std::move(h));
          }
          continue;
        }
        default:
          break;
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

Received FuzzBroker::Ask(const Session& session, const std::string& frame,
                         std::uint64_t request_id) {
  Send(session, frame);
  Settle();
  std::vector<Received> replies;
  for (Received& r : Take(session)) {
    if (r.request_id == request_id) replies.push_back(std::move(r));
  }
  FUZZ_CHECK(replies.size() == 1, "expected one reply to request " + std::to_string(request_id) +
                                      ", got " + std::to_string(replies.size()));
  return replies.front();
}

Session FuzzBroker::EnrollmentSession(const std::string& invite_text) {
  Result<Invite> invite = ParseInvite(invite_text);
  FUZZ_CHECK(invite.ok(), "not an invite: " + invite_text);
  crypto::KeyPair key = crypto::DeriveEnrollmentKeyPair(invite->code);
  core::AuthDecision auth = broker_->Authenticate(key.public_key, "127.0.0.1");
  FUZZ_CHECK(auth.allowed, "the enrollment key was refused: " + auth.reason);
  Session s;
  s.connection = next_connection_++;
  s.zap_user_id = auth.user_id;
  return s;
}

Session FuzzBroker::Enroll(const std::string& invite) {
  Session enrolling = EnrollmentSession(invite);
  crypto::KeyPair device = crypto::GenerateKeyPair();
  std::uint64_t rid = next_request_id_++;
  flatbuffers::FlatBufferBuilder fbb;
  auto key = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(device.public_key.data()),
                              device.public_key.size());
  auto body = wire::CreateEnroll(fbb, key, fbb.CreateString("fuzz device"),
                                 fbb.CreateString("fuzz/1"));
  Received reply = Ask(enrolling, OneEnvelope(fbb, rid, wire::Body::Enroll, body.Union()), rid);
  FUZZ_CHECK(reply.type == wire::Body::EnrollReply, "enrollment failed: " + reply.text);
  core::AuthDecision auth = broker_->Authenticate(device.public_key, "127.0.0.1");
  FUZZ_CHECK(auth.allowed, "the enrolled device key was refused: " + auth.reason);
  Session s;
  s.connection = next_connection_++;
  s.zap_user_id = auth.user_id;
  return Hello(s);
}

Session FuzzBroker::Hello(Session session) {
  std::uint64_t rid = next_request_id_++;
  Received reply = Ask(session, HelloFrame(rid), rid);
  FUZZ_CHECK(reply.type == wire::Body::HelloReply, "Hello failed: " + reply.text);
  return session;
}

Session FuzzBroker::AddUser(const std::string& login) {
  std::uint64_t rid = next_request_id_++;
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateAdminAddUserDirect(fbb, login.c_str(), login.c_str(), wire::Role::User);
  Received reply = Ask(boss_, OneEnvelope(fbb, rid, wire::Body::AdminAddUser, body.Union()), rid);
  FUZZ_CHECK(reply.type == wire::Body::InviteReply, "AdminAddUser " + login + ": " + reply.text);
  Session s = Enroll(reply.text);
  s.login = login;
  return s;
}

Session FuzzBroker::NewAnaSession() {
  Session s = ana_;
  s.connection = next_connection_++;
  return s;
}

Session FuzzBroker::NewSession(std::string zap_user_id) {
  Session s;
  s.connection = next_connection_++;
  s.zap_user_id = std::move(zap_user_id);
  return s;
}

void FuzzBroker::CheckCanary(bool strict) {
  // What the fuzzed input made the broker send to the canary's sessions.
  std::vector<Received> before = Take(carol_);
  Take(dave_);
  bool carol_cut = transport_.forgotten(carol_.connection);
  for (const Received& r : before) carol_cut = carol_cut || r.type == wire::Body::Revoked;
  FUZZ_CHECK(!strict || !carol_cut, "carol's session was cut by someone else's input");

  std::uint64_t n = next_canary_++;
  std::string text = "canary " + std::to_string(n);
  std::uint64_t rid = next_request_id_++;
  // Client message ids far from anything a seed or an input is likely to use.
  Send(carol_, SendTextFrame(rid, "dave", 0x7000'0000'0000'0000ull + n, text));
  Settle();
  std::vector<Received> answers;
  for (Received& r : Take(carol_)) {
    if (r.request_id == rid) answers.push_back(std::move(r));
  }
  if (carol_cut && answers.empty()) return;
  FUZZ_CHECK(answers.size() == 1, "carol's send got " + std::to_string(answers.size()) +
                                      " answers, not one");
  const Received& answer = answers.front();
  if (strict) {
    FUZZ_CHECK(answer.type == wire::Body::SendAck, "carol's send was refused: " + answer.text);
    bool delivered = false;
    for (const Received& r : Take(dave_)) {
      delivered = delivered || (r.type == wire::Body::Delivery && r.text == text &&
                                r.id == answer.id && r.conversation_id == answer.conversation_id);
    }
    FUZZ_CHECK(delivered, "dave did not get carol's acknowledged message");
    return;
  }
  Take(dave_);
  if (answer.type != wire::Body::SendAck) {
    FUZZ_CHECK(answer.type == wire::Body::Error, "carol's send got neither SendAck nor Error");
    return;
  }
  std::uint64_t hid = next_request_id_++;
  Send(carol_, HistoryFrame(hid, answer.conversation_id));
  Settle();
  bool stored = false;
  for (const Received& r : Take(carol_)) {
    stored = stored || (r.request_id == hid && r.id == answer.id && r.text == text);
  }
  FUZZ_CHECK(stored, "carol's acknowledged message is not in her history");
}

}  // namespace chatpro::fuzz
