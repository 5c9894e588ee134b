// SPDX-License-Identifier: Apache-2.0
//
// The in-process route: ZmqLocalCaller through a real ZmqServer and Broker
// (on an in-memory store), and what a network client can and cannot reach.
#include "broker/transport/zmq_local_caller.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/encoding.h"
#include "broker/base/invite.h"
#include "broker/core/broker.h"
#include "broker/core/in_memory_message_store.h"
#include "broker/crypto/keys.h"
#include "broker/crypto/password.h"
#include "broker/transport/zmq_server.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::transport {
namespace {

using namespace std::chrono_literals;

constexpr auto kTimeout = 10s;

std::string Finish(flatbuffers::FlatBufferBuilder& fbb,
                   const std::vector<flatbuffers::Offset<wire::Envelope>>& envelopes) {
  auto v = fbb.CreateVector(envelopes);
  wire::FrameBuilder b(fbb);
  b.add_protocol_version(1);
  b.add_envelopes(v);
  wire::FinishFrameBuffer(fbb, b.Finish());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string CredentialsFrame(std::uint64_t rid, std::string_view login) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateConsoleCredentials(fbb, fbb.CreateString(login));
  return Finish(fbb, {wire::CreateEnvelope(fbb, rid, wire::Body::ConsoleCredentials, body.Union())});
}

std::string ListUsersFrame(std::uint64_t rid) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateAdminListUsers(fbb);
  return Finish(fbb, {wire::CreateEnvelope(fbb, rid, wire::Body::AdminListUsers, body.Union())});
}

// A set-password request followed by a user list: answered in two reply
// frames (the first only once stored), joined into one by the caller.
std::string SetPasswordAndListFrame(std::uint64_t rid, std::string_view login,
                                    std::string_view hash) {
  flatbuffers::FlatBufferBuilder fbb;
  auto set = wire::CreateAdminSetConsolePassword(fbb, fbb.CreateString(login),
                                                 fbb.CreateString(hash));
  auto list = wire::CreateAdminListUsers(fbb);
  return Finish(fbb,
                {wire::CreateEnvelope(fbb, rid, wire::Body::AdminSetConsolePassword, set.Union()),
                 wire::CreateEnvelope(fbb, rid + 1, wire::Body::AdminListUsers, list.Union())});
}

std::string EnrollFrame(std::uint64_t rid, const std::string& device_key,
                        wire::KeyKind kind = wire::KeyKind::Curve25519) {
  flatbuffers::FlatBufferBuilder fbb;
  auto key = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(device_key.data()),
                              device_key.size());
  auto body = wire::CreateEnroll(fbb, key, fbb.CreateString("test"), fbb.CreateString("test/1"),
                                 kind);
  return Finish(fbb, {wire::CreateEnvelope(fbb, rid, wire::Body::Enroll, body.Union())});
}

// The envelopes of a reply frame (verified; a failure if it does not verify).
std::vector<const wire::Envelope*> Envelopes(const std::string& frame) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
  EXPECT_TRUE(wire::VerifyFrameBuffer(verifier));
  std::vector<const wire::Envelope*> out;
  const wire::Frame* f = wire::GetFrame(frame.data());
  if (f->envelopes() != nullptr) {
    for (const wire::Envelope* e : *f->envelopes()) out.push_back(e);
  }
  return out;
}

// The envelopes point into the string: never a temporary one.
std::vector<const wire::Envelope*> Envelopes(std::string&& frame) = delete;

// A CURVE DEALER on the broker's network endpoint.
class NetworkPeer {
 public:
  NetworkPeer(zmq::context_t& context, const std::string& endpoint, const std::string& server_key,
              const crypto::KeyPair& keys)
      : socket_(context, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_key.data(), server_key.size()));
    socket_.set(zmq::sockopt::curve_publickey,
                zmq::const_buffer(keys.public_key.data(), keys.public_key.size()));
    socket_.set(zmq::sockopt::curve_secretkey,
                zmq::const_buffer(keys.secret_key.data(), keys.secret_key.size()));
    socket_.connect(endpoint);
  }
  void Send(const std::vector<std::string>& parts) {
    for (std::size_t i = 0; i < parts.size(); ++i) {
      socket_.send(zmq::buffer(parts[i]),
                   i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  // The next envelope answering `rid` (or an error with request id 0).
  std::optional<std::pair<wire::Body, std::string>> WaitFor(std::uint64_t rid) {
    socket_.set(zmq::sockopt::rcvtimeo, 10000);
    while (true) {
      zmq::message_t msg;
      if (!socket_.recv(msg)) return std::nullopt;
      std::string bytes = msg.to_string();
      for (const wire::Envelope* e : Envelopes(bytes)) {
        if (e->request_id() != rid && e->request_id() != 0) continue;
        std::string text;
        if (e->body_type() == wire::Body::Error) text = e->body_as_Error()->message()->str();
        if (e->body_type() == wire::Body::EnrollReply || e->request_id() == rid ||
            e->body_type() == wire::Body::Error) {
          return std::make_pair(e->body_type(), text);
        }
      }
    }
  }

 private:
  zmq::socket_t socket_;
};

class LocalCallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    server_keys_ = crypto::GenerateKeyPair();
    broker_ = std::make_unique<core::Broker>(CoreOptions(), Durability::kOs,
                                             core::ServerIdentity{server_keys_.public_key, "127.0.0.1:1"},
                                             &store_, &clock_);
    ASSERT_TRUE(broker_->Open().ok());
    TransportOptions options;
    options.listen = "tcp://127.0.0.1:0";
    options.max_frame_bytes = 1 << 20;
    Result<std::unique_ptr<ZmqServer>> server =
        ZmqServer::Create(options, server_keys_, broker_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    const std::string& endpoint = server_->bound_endpoint();
    broker_->SetPublicAddress(endpoint.substr(std::string("tcp://").size()));
    Result<std::string> invite = broker_->CreateBootstrapInvite("boss");
    ASSERT_TRUE(invite.ok()) << invite.status();
    invite_ = *invite;
    broker_->Start(server_.get(), server_.get());
    caller_ = std::make_unique<ZmqLocalCaller>(*server_);
    loop_ = std::thread([this] { server_->Run(); });
    for (int i = 0; i < 1000 && !server_->serving(); ++i) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(server_->serving());
  }

  void TearDown() override { StopServer(); }

  // In the documented order: loop, callers, broker, server.
  void StopServer() {
    if (server_ == nullptr) return;
    server_->RequestStop();
    if (loop_.joinable()) loop_.join();
    caller_.reset();
    broker_->Stop();
    server_.reset();
  }

  Result<std::string> Call(std::string_view principal, const std::string& frame) {
    return caller_->Call(principal, frame, std::chrono::duration_cast<std::chrono::milliseconds>(kTimeout));
  }

  crypto::KeyPair server_keys_;
  core::InMemoryMessageStore store_;
  SystemClock clock_;
  std::unique_ptr<core::Broker> broker_;
  std::unique_ptr<ZmqServer> server_;
  std::unique_ptr<ZmqLocalCaller> caller_;
  std::thread loop_;
  std::string invite_;
};

TEST_F(LocalCallerTest, ConsoleServiceLooksUpCredentialsThroughTheServer) {
  Result<std::string> reply = Call("s:console", CredentialsFrame(7, "boss"));
  ASSERT_TRUE(reply.ok()) << reply.status();
  std::vector<const wire::Envelope*> envelopes = Envelopes(*reply);
  ASSERT_EQ(envelopes.size(), 1u);
  EXPECT_EQ(envelopes[0]->request_id(), 7u);
  ASSERT_EQ(envelopes[0]->body_type(), wire::Body::ConsoleCredentialsReply);
  const auto* creds = envelopes[0]->body_as_ConsoleCredentialsReply();
  EXPECT_EQ(creds->login()->str(), "boss");
  EXPECT_EQ(creds->role(), wire::Role::Admin);
  EXPECT_TRUE(creds->active());

  Result<std::string> unknown = Call("s:console", CredentialsFrame(8, "nobody"));
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  envelopes = Envelopes(*unknown);
  ASSERT_EQ(envelopes.size(), 1u);
  ASSERT_EQ(envelopes[0]->body_type(), wire::Body::Error);
  EXPECT_EQ(envelopes[0]->body_as_Error()->code(), wire::ErrorCode::NotFound);
}

TEST_F(LocalCallerTest, ConsoleUserGetsEveryAnswerOfAFrameInOneReply) {
  Result<std::string> creds = Call("s:console", CredentialsFrame(1, "boss"));
  ASSERT_TRUE(creds.ok()) << creds.status();
  const std::uint64_t boss = Envelopes(*creds)[0]->body_as_ConsoleCredentialsReply()->user_id();
  Result<std::string> hash = crypto::HashPassword("correct horse battery");
  ASSERT_TRUE(hash.ok());

  Result<std::string> reply =
      Call("c:" + std::to_string(boss), SetPasswordAndListFrame(10, "boss", *hash));
  ASSERT_TRUE(reply.ok()) << reply.status();
  std::vector<const wire::Envelope*> envelopes = Envelopes(*reply);
  ASSERT_EQ(envelopes.size(), 2u);
  std::set<wire::Body> types;
  for (const wire::Envelope* e : envelopes) types.insert(e->body_type());
  EXPECT_EQ(types, (std::set<wire::Body>{wire::Body::Done, wire::Body::UserList}));
  for (const wire::Envelope* e : envelopes) {
    if (e->body_type() != wire::Body::UserList) continue;
    ASSERT_NE(e->body_as_UserList()->users(), nullptr);
    EXPECT_EQ(e->body_as_UserList()->users()->size(), 1u);
  }

  creds = Call("s:console", CredentialsFrame(2, "boss"));
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(Envelopes(*creds)[0]->body_as_ConsoleCredentialsReply()->password_hash()->str(), *hash);
}

TEST_F(LocalCallerTest, ManyThreadsCallAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        Result<std::string> reply = Call("s:console", CredentialsFrame(100 * t + i + 1, "boss"));
        if (reply.ok() && Envelopes(*reply).size() == 1 &&
            Envelopes(*reply)[0]->request_id() == static_cast<std::uint64_t>(100 * t + i + 1)) {
          ++answered;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(answered.load(), 80);
}

TEST_F(LocalCallerTest, RefusesWhatIsNotAConsolePrincipalOrFrame) {
  EXPECT_EQ(Call("d:1", ListUsersFrame(1)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Call("c:", ListUsersFrame(1)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Call("s:console", "not a frame").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Call("s:console", ListUsersFrame(0)).status().code(), StatusCode::kInvalidArgument);

  // A message on the route with another principal is dropped and counted.
  const std::uint64_t denied = broker_->stats().errors[static_cast<int>(StatusCode::kPermissionDenied)].load();
  zmq::socket_t raw(server_->context(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(ZmqServer::kLocalEndpoint);
  const std::string frame = ListUsersFrame(3);
  raw.send(zmq::buffer(std::string("d:1")), zmq::send_flags::sndmore);
  raw.send(zmq::buffer(frame), zmq::send_flags::none);
  for (int i = 0; i < 1000 && server_->local_dropped() == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(server_->local_dropped(), 1u);
  EXPECT_EQ(broker_->stats().errors[static_cast<int>(StatusCode::kPermissionDenied)].load(),
            denied + 1);
  zmq::pollitem_t item{raw.handle(), 0, ZMQ_POLLIN, 0};
  EXPECT_EQ(zmq::poll(&item, 1, 200ms), 0) << "a dropped message was answered";
}

TEST_F(LocalCallerTest, NetworkClientsCannotReachConsoleRequests) {
  Result<Invite> invite = ParseInvite(invite_);
  ASSERT_TRUE(invite.ok()) << invite.status();
  zmq::context_t context(1);
  crypto::KeyPair device = crypto::GenerateKeyPair();
  {
    NetworkPeer enrolling(context, invite->Endpoint(), invite->server_key,
                          crypto::DeriveEnrollmentKeyPair(invite->code));
    enrolling.Send({EnrollFrame(1, device.public_key)});
    auto enrolled = enrolling.WaitFor(1);
    ASSERT_TRUE(enrolled.has_value());
    ASSERT_EQ(enrolled->first, wire::Body::EnrollReply) << enrolled->second;
  }
  NetworkPeer peer(context, invite->Endpoint(), invite->server_key, device);
  // As the administrator's device: the console service's request is refused.
  peer.Send({CredentialsFrame(2, "boss")});
  auto refused = peer.WaitFor(2);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->first, wire::Body::Error);
  EXPECT_NE(refused->second.find("console service"), std::string::npos) << refused->second;
  // Naming a principal in an extra part changes nothing: the frame is refused.
  peer.Send({"s:console", CredentialsFrame(3, "boss")});
  auto extra = peer.WaitFor(3);
  ASSERT_TRUE(extra.has_value());
  EXPECT_EQ(extra->first, wire::Body::Error);
  EXPECT_NE(extra->second.find("not a ChatPro frame"), std::string::npos) << extra->second;
}

std::string RevokeOwnDeviceFrame(std::uint64_t rid, std::uint64_t device_id) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateRevokeDevice(fbb, 0, device_id);
  return Finish(fbb, {wire::CreateEnvelope(fbb, rid, wire::Body::RevokeDevice, body.Union())});
}

std::string ConfirmWipeFrame(std::uint64_t rid) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateConfirmWipe(fbb);
  return Finish(fbb, {wire::CreateEnvelope(fbb, rid, wire::Body::ConfirmWipe, body.Union())});
}

// A web chat gateway's socket for one browser on the in-process route.
class WebPeer {
 public:
  WebPeer(zmq::context_t& context, core::KeyKind kind, const std::string& key)
      : socket_(context, zmq::socket_type::dealer),
        principal_("w:" + std::to_string(static_cast<int>(kind)) + ":" + HexEncode(key) +
                   "@10.9.8.7") {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvtimeo, 10000);
    socket_.connect(ZmqServer::kLocalEndpoint);
  }
  void Send(const std::string& frame) {
    socket_.send(zmq::buffer(principal_), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(frame), zmq::send_flags::none);
  }
  // The next message for this browser: the frame, or nullopt on a timeout.
  std::optional<std::string> Receive() {
    zmq::message_t principal;
    zmq::message_t frame;
    if (!socket_.recv(principal) || !socket_.recv(frame)) return std::nullopt;
    EXPECT_EQ(principal.to_string(), principal_);
    return frame.to_string();
  }
  // Authenticates; returns "" if accepted, else the refusal's message.
  std::string Authenticate() {
    Send("");
    std::optional<std::string> answer = Receive();
    if (!answer) return "no answer";
    std::vector<const wire::Envelope*> envelopes = Envelopes(*answer);
    if (envelopes.empty()) return "";
    EXPECT_EQ(envelopes[0]->body_type(), wire::Body::Error);
    return envelopes[0]->body_type() == wire::Body::Error
               ? envelopes[0]->body_as_Error()->message()->str()
               : "unexpected answer";
  }
  // The envelope answering `rid`, skipping events.
  const wire::Envelope* WaitFor(std::uint64_t rid, std::string* keep) {
    while (std::optional<std::string> frame = Receive()) {
      *keep = *frame;
      for (const wire::Envelope* e : Envelopes(*keep)) {
        if (e->request_id() == rid) return e;
      }
    }
    return nullptr;
  }

 private:
  zmq::socket_t socket_;
  std::string principal_;
};

TEST_F(LocalCallerTest, WebRouteEnrollsABrowserAndServesItAsADevice) {
  Result<Invite> invite = ParseInvite(invite_);
  ASSERT_TRUE(invite.ok()) << invite.status();
  crypto::SigningKeyPair browser = crypto::DeriveEnrollmentSigningKeyPair(crypto::NewEnrollmentCode());
  std::uint64_t device_id = 0;
  {
    // The invite's key, as the gateway names it after checking the signature.
    WebPeer enrolling(server_->context(), core::KeyKind::Curve25519,
                      crypto::DeriveEnrollmentKeyPair(invite->code).public_key);
    ASSERT_EQ(enrolling.Authenticate(), "");
    enrolling.Send(EnrollFrame(1, browser.public_key, wire::KeyKind::Ed25519));
    std::string keep;
    const wire::Envelope* enrolled = enrolling.WaitFor(1, &keep);
    ASSERT_NE(enrolled, nullptr);
    ASSERT_EQ(enrolled->body_type(), wire::Body::EnrollReply);
    device_id = enrolled->body_as_EnrollReply()->device_id();
  }
  // The browser's own key is a device of boss's now, over the web route only.
  WebPeer web(server_->context(), core::KeyKind::Ed25519, browser.public_key);
  ASSERT_EQ(web.Authenticate(), "");
  web.Send(ListUsersFrame(2));  // boss is an administrator
  std::string keep;
  const wire::Envelope* users = web.WaitFor(2, &keep);
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->body_type(), wire::Body::UserList);
  WebPeer as_curve(server_->context(), core::KeyKind::Curve25519, browser.public_key);
  EXPECT_EQ(as_curve.Authenticate(), "unknown key");

  // Revoked: the core sends Revoked; once the browser confirms its wipe the
  // session ends, and the gateway is told so by an empty message.
  web.Send(RevokeOwnDeviceFrame(3, device_id));
  bool revoked = false;
  while (!revoked) {
    std::optional<std::string> frame = web.Receive();
    ASSERT_TRUE(frame.has_value());
    ASSERT_FALSE(frame->empty());
    for (const wire::Envelope* e : Envelopes(*frame)) {
      if (e->body_type() == wire::Body::Revoked) revoked = true;
    }
  }
  web.Send(ConfirmWipeFrame(4));
  bool ended = false;
  while (std::optional<std::string> frame = web.Receive()) {
    if (frame->empty()) {
      ended = true;
      break;
    }
  }
  EXPECT_TRUE(ended);
  WebPeer again(server_->context(), core::KeyKind::Ed25519, browser.public_key);
  EXPECT_EQ(again.Authenticate(), "device revoked");
}

TEST_F(LocalCallerTest, WebRouteRefusesUnknownKeysAndMalformedPrincipals) {
  WebPeer stranger(server_->context(), core::KeyKind::Ed25519,
                   crypto::DeriveEnrollmentSigningKeyPair(crypto::NewEnrollmentCode()).public_key);
  EXPECT_EQ(stranger.Authenticate(), "unknown key");
  // Refused means not opened: a frame after it is not served either.
  EXPECT_EQ(stranger.Authenticate(), "unknown key");

  zmq::socket_t raw(server_->context(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::rcvtimeo, 10000);
  raw.connect(ZmqServer::kLocalEndpoint);
  for (std::string principal : {std::string("w:1:abc@1.2.3.4"), "w:7:" + std::string(64, 'a') + "@x",
                                "w:1:" + std::string(64, 'g') + "@x", "w:1:" + std::string(64, 'a') + "@"}) {
    raw.send(zmq::buffer(principal), zmq::send_flags::sndmore);
    raw.send(zmq::str_buffer(""), zmq::send_flags::none);
    zmq::message_t p;
    zmq::message_t frame;
    ASSERT_TRUE(raw.recv(p)) << principal;
    ASSERT_TRUE(raw.recv(frame)) << principal;
    const std::string bytes = frame.to_string();  // the envelopes point into it
    std::vector<const wire::Envelope*> envelopes = Envelopes(bytes);
    ASSERT_EQ(envelopes.size(), 1u) << principal;
    EXPECT_EQ(envelopes[0]->body_type(), wire::Body::Error);
  }
}

TEST_F(LocalCallerTest, ReturnsUnavailableOnceTheServerStops) {
  server_->RequestStop();
  loop_.join();
  const auto started = std::chrono::steady_clock::now();
  Result<std::string> reply = Call("s:console", CredentialsFrame(1, "boss"));
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, kTimeout);
  caller_->Shutdown();
  EXPECT_EQ(Call("s:console", CredentialsFrame(2, "boss")).status().code(),
            StatusCode::kUnavailable);
}

TEST_F(LocalCallerTest, CallWaitingWhenTheServerStopsReturnsUnavailable) {
  // The loop stops reading while a call waits: it must return, not hang.
  std::atomic<bool> returned{false};
  Status status;
  std::thread waiting([&] {
    // The call may be answered before the stop or be cut by it: either way
    // it must return.
    status = Call("s:console", CredentialsFrame(1, "boss")).status();
    returned = true;
  });
  server_->RequestStop();
  loop_.join();
  waiting.join();
  EXPECT_TRUE(returned.load());
  EXPECT_TRUE(status.ok() || status.code() == StatusCode::kUnavailable) << status;
  caller_.reset();  // closes the sockets before the server's context ends
}

}  // namespace
}  // namespace chatpro::transport
