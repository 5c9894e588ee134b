// SPDX-License-Identifier: Apache-2.0
//
// The web chat's gateway over real HTTPS WebSockets, in front of a real
// ZmqServer and Broker (in-memory store). An Ed25519 key made with libsodium
// stands for the browser's WebCrypto key.
#include "web-chat/web_chat_server.h"

#include <Poco/Buffer.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/WebSocket.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iterator>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admin-console/certificate.h"
#include "broker/base/clock.h"
#include "broker/base/invite.h"
#include "broker/core/broker.h"
#include "broker/core/in_memory_message_store.h"
#include "broker/crypto/keys.h"
#include "broker/transport/zmq_server.h"
#include "chatpro/schemas/wire_generated.h"
#include "web-chat/web_auth.h"

namespace chatpro::webchat {
namespace {

using namespace std::chrono_literals;
using Poco::Net::WebSocket;

std::string Finish(flatbuffers::FlatBufferBuilder& fbb, std::uint64_t rid, wire::Body type,
                   flatbuffers::Offset<void> body) {
  std::vector<flatbuffers::Offset<wire::Envelope>> envelopes{
      wire::CreateEnvelope(fbb, rid, type, body)};
  auto v = fbb.CreateVector(envelopes);
  wire::FrameBuilder b(fbb);
  b.add_protocol_version(1);
  b.add_envelopes(v);
  wire::FinishFrameBuffer(fbb, b.Finish());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string EnrollFrame(std::uint64_t rid, const std::string& key) {
  flatbuffers::FlatBufferBuilder fbb;
  auto k = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(key.data()), key.size());
  auto body = wire::CreateEnroll(fbb, k, fbb.CreateString("browser"), fbb.CreateString("web/1"),
                                 wire::KeyKind::Ed25519);
  return Finish(fbb, rid, wire::Body::Enroll, body.Union());
}

std::string ListUsersFrame(std::uint64_t rid) {
  flatbuffers::FlatBufferBuilder fbb;
  return Finish(fbb, rid, wire::Body::AdminListUsers, wire::CreateAdminListUsers(fbb).Union());
}

std::string GoodbyeFrame() {
  flatbuffers::FlatBufferBuilder fbb;
  return Finish(fbb, 0, wire::Body::Goodbye, wire::CreateGoodbye(fbb).Union());
}

std::string RevokeOwnDeviceFrame(std::uint64_t rid, std::uint64_t device_id) {
  flatbuffers::FlatBufferBuilder fbb;
  return Finish(fbb, rid, wire::Body::RevokeDevice,
                wire::CreateRevokeDevice(fbb, 0, device_id).Union());
}

// What a browser got: a message, or the close frame's code and reason.
struct Received {
  bool closed = false;
  int close_code = 0;
  std::string data;  // the message, or the close reason
};

// A plain HTTPS GET of `path`: {status, body, response}.
struct Fetched {
  int status = 0;
  std::string body;
  Poco::Net::HTTPResponse response;
};
Fetched Get(int port, const std::string& path, const std::string& if_none_match = "") {
  Poco::Net::Context::Ptr context = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_NONE);
  Poco::Net::HTTPSClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port), context);
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  if (!if_none_match.empty()) request.set("If-None-Match", if_none_match);
  session.sendRequest(request);
  Fetched f;
  std::istream& in = session.receiveResponse(f.response);
  f.status = static_cast<int>(f.response.getStatus());
  f.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return f;
}

class Browser {
 public:
  Browser(int port, std::string public_key, std::string secret_key)
      : public_key_(std::move(public_key)), secret_key_(std::move(secret_key)) {
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_NONE);
    session_ = std::make_unique<Poco::Net::HTTPSClientSession>("127.0.0.1",
                                                               static_cast<Poco::UInt16>(port),
                                                               context);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/ws",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    Poco::Net::HTTPResponse response;
    ws_ = std::make_unique<WebSocket>(*session_, request, response);
    ws_->setReceiveTimeout(Poco::Timespan(10, 0));
  }

  void SendBinary(const std::string& data) {
    ws_->sendFrame(data.data(), static_cast<int>(data.size()), WebSocket::FRAME_BINARY);
  }
  void SendText(const std::string& data) {
    ws_->sendFrame(data.data(), static_cast<int>(data.size()), WebSocket::FRAME_TEXT);
  }

  Received Receive() {
    Poco::Buffer<char> buffer(0);
    int flags = 0;
    Received r;
    int n = ws_->receiveFrame(buffer, flags);
    std::string data(buffer.begin(), buffer.size());
    if ((flags & WebSocket::FRAME_OP_BITMASK) == WebSocket::FRAME_OP_CLOSE || (n == 0 && flags == 0)) {
      r.closed = true;
      if (data.size() >= 2) {
        r.close_code = (static_cast<unsigned char>(data[0]) << 8) | static_cast<unsigned char>(data[1]);
        r.data = data.substr(2);
      }
      return r;
    }
    r.data = std::move(data);
    return r;
  }

  // Answers the challenge; returns what came next (the empty Frame when in).
  Received Authenticate(AuthPurpose purpose) {
    Received challenge = Receive();
    EXPECT_FALSE(challenge.closed);
    SendBinary(AnswerChallenge(challenge.data, purpose, public_key_, secret_key_));
    return Receive();
  }

  // The envelopes of the next frames until one answers `rid`.
  const wire::Envelope* WaitFor(std::uint64_t rid) {
    while (true) {
      Received r = Receive();
      if (r.closed) return nullptr;
      keep_ = std::move(r.data);
      flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(keep_.data()),
                                     keep_.size());
      EXPECT_TRUE(wire::VerifyFrameBuffer(verifier));
      const wire::Frame* f = wire::GetFrame(keep_.data());
      if (f->envelopes() == nullptr) continue;
      for (const wire::Envelope* e : *f->envelopes()) {
        if (e->request_id() == rid) return e;
      }
    }
  }

 private:
  std::string public_key_;
  std::string secret_key_;
  std::unique_ptr<Poco::Net::HTTPSClientSession> session_;
  std::unique_ptr<WebSocket> ws_;
  std::string keep_;
};

bool IsEmptyFrame(const Received& r) {
  if (r.closed) return false;
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(r.data.data()),
                                 r.data.size());
  if (!wire::VerifyFrameBuffer(verifier)) return false;
  const wire::Frame* f = wire::GetFrame(r.data.data());
  return f->envelopes() == nullptr || f->envelopes()->size() == 0;
}

class WebChatServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    char dir_template[] = "/tmp/chatpro-webchat-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    Result<console::CertificateFiles> cert =
        console::EnsureSelfSignedCertificate(dir_ + "/tls", "localhost");
    ASSERT_TRUE(cert.ok()) << cert.status();

    server_keys_ = crypto::GenerateKeyPair();
    broker_ = std::make_unique<core::Broker>(
        CoreOptions(), Durability::kOs,
        core::ServerIdentity{server_keys_.public_key, "127.0.0.1:1"}, &store_, &clock_);
    ASSERT_TRUE(broker_->Open().ok());
    TransportOptions transport;
    transport.listen = "tcp://127.0.0.1:0";
    transport.max_frame_bytes = 1 << 20;
    Result<std::unique_ptr<transport::ZmqServer>> zmq =
        transport::ZmqServer::Create(transport, server_keys_, broker_.get());
    ASSERT_TRUE(zmq.ok()) << zmq.status();
    zmq_ = std::move(*zmq);
    Result<std::string> invite = broker_->CreateBootstrapInvite("boss");
    ASSERT_TRUE(invite.ok()) << invite.status();
    Result<Invite> parsed = ParseInvite(*invite);
    ASSERT_TRUE(parsed.ok());
    invite_code_ = parsed->code;
    broker_->Start(zmq_.get(), zmq_.get());
    loop_ = std::thread([this] { zmq_->Run(); });
    for (int i = 0; i < 1000 && !zmq_->serving(); ++i) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(zmq_->serving());

    WebChatOptions options;
    options.listen = "127.0.0.1:0";
    options.cert_file = cert->cert_file;
    options.key_file = cert->key_file;
    options.max_message_bytes = 64 * 1024;
    options.revoked_grace_ms = 300;
    Result<std::unique_ptr<WebChatServer>> web = WebChatServer::Start(options, &zmq_->context(), &broker_->stats());
    ASSERT_TRUE(web.ok()) << web.status();
    web_ = std::move(*web);
    browser_key_ = crypto::DeriveEnrollmentSigningKeyPair(crypto::NewEnrollmentCode());
  }

  void TearDown() override {
    web_.reset();  // closes its sockets on the server's context first
    if (zmq_ != nullptr) {
      zmq_->RequestStop();
      if (loop_.joinable()) loop_.join();
      broker_->Stop();
      zmq_.reset();
    }
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  // Enrolls the browser key as a device of boss; returns its device id.
  std::uint64_t EnrollBrowser() {
    crypto::SigningKeyPair invite = crypto::DeriveEnrollmentSigningKeyPair(invite_code_);
    Browser enrolling(web_->port(), invite.public_key, invite.secret_key);
    EXPECT_TRUE(IsEmptyFrame(enrolling.Authenticate(AuthPurpose::kEnrollment)));
    enrolling.SendBinary(EnrollFrame(1, browser_key_.public_key));
    const wire::Envelope* reply = enrolling.WaitFor(1);
    if (reply == nullptr || reply->body_type() != wire::Body::EnrollReply) {
      ADD_FAILURE() << "not enrolled";
      return 0;
    }
    return reply->body_as_EnrollReply()->device_id();
  }

  // What chatpro_errors_total shows of the gateway's own refusals.
  std::uint64_t GatewayRefusals(StatusCode code) const {
    return broker_->stats().front_end_errors[static_cast<int>(code)].load();
  }

  std::unique_ptr<Browser> SignedIn() {
    auto b = std::make_unique<Browser>(web_->port(), browser_key_.public_key,
                                       browser_key_.secret_key);
    EXPECT_TRUE(IsEmptyFrame(b->Authenticate(AuthPurpose::kDevice)));
    return b;
  }

  std::string dir_;
  crypto::KeyPair server_keys_;
  core::InMemoryMessageStore store_;
  SystemClock clock_;
  std::unique_ptr<core::Broker> broker_;
  std::unique_ptr<transport::ZmqServer> zmq_;
  std::thread loop_;
  std::unique_ptr<WebChatServer> web_;
  std::string invite_code_;
  crypto::SigningKeyPair browser_key_;
};

TEST_F(WebChatServerTest, BrowserEnrollsFromAnInviteAndIsServedAsADevice) {
  ASSERT_NE(EnrollBrowser(), 0u);
  std::unique_ptr<Browser> browser = SignedIn();
  browser->SendBinary(ListUsersFrame(2));
  const wire::Envelope* users = browser->WaitFor(2);
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->body_type(), wire::Body::UserList);
}

TEST_F(WebChatServerTest, WrongSignatureIsRefused) {
  ASSERT_NE(EnrollBrowser(), 0u);
  crypto::SigningKeyPair other = crypto::DeriveEnrollmentSigningKeyPair(crypto::NewEnrollmentCode());
  // The enrolled public key, signed by another key.
  Browser forger(web_->port(), browser_key_.public_key, other.secret_key);
  Received r = forger.Authenticate(AuthPurpose::kDevice);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, 4001);
  EXPECT_NE(r.data.find("signature"), std::string::npos) << r.data;
  EXPECT_EQ(GatewayRefusals(StatusCode::kPermissionDenied), 1u);
}

TEST_F(WebChatServerTest, UnknownKeyIsRefusedByTheCore) {
  Browser stranger(web_->port(), browser_key_.public_key, browser_key_.secret_key);
  Received r = stranger.Authenticate(AuthPurpose::kDevice);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.close_code, 4003);
  EXPECT_EQ(r.data, "unknown key");
}

TEST_F(WebChatServerTest, OversizedAndTextMessagesAreRefusedAndTheServerKeepsServing) {
  ASSERT_NE(EnrollBrowser(), 0u);
  {
    std::unique_ptr<Browser> browser = SignedIn();
    browser->SendBinary(std::string(128 * 1024, 'x'));
    Received r = browser->Receive();
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.close_code, WebSocket::WS_PAYLOAD_TOO_BIG);
    EXPECT_NE(r.data.find("too big"), std::string::npos) << r.data;
    EXPECT_EQ(GatewayRefusals(StatusCode::kResourceExhausted), 1u);
  }
  {
    std::unique_ptr<Browser> browser = SignedIn();
    browser->SendText("{\"hello\": 1}");
    Received r = browser->Receive();
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.close_code, WebSocket::WS_PAYLOAD_NOT_ACCEPTABLE);
    EXPECT_EQ(GatewayRefusals(StatusCode::kInvalidArgument), 1u);
  }
  // A binary message that is no wire Frame gets the core's error; the
  // connection goes on.
  std::unique_ptr<Browser> browser = SignedIn();
  browser->SendBinary("not a frame at all");
  const wire::Envelope* error = browser->WaitFor(0);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->body_type(), wire::Body::Error);
  browser->SendBinary(ListUsersFrame(5));
  const wire::Envelope* users = browser->WaitFor(5);
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->body_type(), wire::Body::UserList);
}

// A browser that goes away without the page's Goodbye (closed, crashed, off
// the network) has its device session ended at once, as if the page had said
// it; after a page's own Goodbye the gateway does not say it again (the core
// would refuse that as a stranger's frame, and count it).
TEST_F(WebChatServerTest, ABrowserThatGoesAwayEndsItsDeviceSessionAtOnce) {
  ASSERT_NE(EnrollBrowser(), 0u);
  const core::BrokerStats& stats = broker_->stats();
  auto eventually_none_connected = [&] {
    for (int i = 0; i < 300 && stats.devices_connected.load() != 0; ++i) std::this_thread::sleep_for(10ms);
    return stats.devices_connected.load() == 0;
  };
  {
    std::unique_ptr<Browser> browser = SignedIn();
    browser->SendBinary(ListUsersFrame(2));
    ASSERT_NE(browser->WaitFor(2), nullptr);
    EXPECT_EQ(stats.devices_connected.load(), 1);
  }  // the connection is dropped, no close frame, no Goodbye
  EXPECT_TRUE(eventually_none_connected());

  const std::uint64_t refused = stats.errors[static_cast<int>(StatusCode::kPermissionDenied)].load();
  {
    std::unique_ptr<Browser> browser = SignedIn();
    browser->SendBinary(ListUsersFrame(3));
    ASSERT_NE(browser->WaitFor(3), nullptr);
    browser->SendBinary(GoodbyeFrame());
  }
  EXPECT_TRUE(eventually_none_connected());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(stats.errors[static_cast<int>(StatusCode::kPermissionDenied)].load(), refused);
}

TEST_F(WebChatServerTest, RevokedDeviceIsToldAndCutOff) {
  std::uint64_t device = EnrollBrowser();
  ASSERT_NE(device, 0u);
  std::unique_ptr<Browser> browser = SignedIn();
  browser->SendBinary(RevokeOwnDeviceFrame(3, device));
  bool revoked = false;
  Received r;
  while (true) {
    r = browser->Receive();
    if (r.closed) break;
    flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(r.data.data()),
                                   r.data.size());
    ASSERT_TRUE(wire::VerifyFrameBuffer(verifier));
    const wire::Frame* f = wire::GetFrame(r.data.data());
    if (f->envelopes() == nullptr) continue;
    for (const wire::Envelope* e : *f->envelopes()) {
      if (e->body_type() == wire::Body::Revoked) revoked = true;
    }
  }
  EXPECT_TRUE(revoked);
  EXPECT_EQ(r.close_code, 4002);
  EXPECT_NE(r.data.find("revoked"), std::string::npos) << r.data;
  // And the key is refused from then on.
  Browser again(web_->port(), browser_key_.public_key, browser_key_.secret_key);
  Received refused = again.Authenticate(AuthPurpose::kDevice);
  EXPECT_TRUE(refused.closed);
  EXPECT_EQ(refused.close_code, 4003);
  EXPECT_EQ(refused.data, "device revoked");
}

}  // namespace
}  // namespace chatpro::webchat

namespace chatpro::webchat {
namespace {

TEST_F(WebChatServerTest, ServesTheEmbeddedPagesWithETagsAndAStrictPolicy) {
  Fetched index = Get(web_->port(), "/");
  ASSERT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("<title>ChatPro</title>"), std::string::npos);
  EXPECT_EQ(index.response.getContentType(), "text/html; charset=utf-8");
  EXPECT_NE(index.response.get("Content-Security-Policy").find("default-src 'none'"),
            std::string::npos);
  const std::string etag = index.response.get("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(Get(web_->port(), "/", etag).status, 304);
  EXPECT_EQ(Get(web_->port(), "/", "\"other\"").status, 200);

  Fetched app = Get(web_->port(), "/app.js?v=1");
  EXPECT_EQ(app.status, 200);
  EXPECT_EQ(app.response.getContentType(), "text/javascript; charset=utf-8");
  for (const char* path : {"/nothing.js", "/../web_chat_server.cc", "/%2e%2e/app.js", "/a\\b"}) {
    EXPECT_EQ(Get(web_->port(), path).status, 404) << path;
  }
}

}  // namespace
}  // namespace chatpro::webchat
