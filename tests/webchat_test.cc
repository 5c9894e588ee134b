// SPDX-License-Identifier: Apache-2.0
//
// The web chat against a real chatpro-broker: a browser, played by a Poco
// WebSocket client over HTTPS with a libsodium Ed25519 key standing for its
// WebCrypto key, enrolls from an invite, chats with a colleague on
// libchatpro (ZeroMQ), catches up after a reconnect, and is refused or cut
// off where a user would expect it (web-chat/README.md has the protocol).
#include <Poco/Buffer.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/WebSocket.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/crypto/keys.h"
#include "chatpro/schemas/wire_generated.h"
#include "tests/chat_fixture.h"

namespace chatpro::testing {
namespace {

using Poco::Net::WebSocket;

// ---- the browser's side of the protocol, written from web-chat/README.md

constexpr char kMagic[] = "CPW1";
constexpr std::uint8_t kPurposeDevice = 1;
constexpr std::uint8_t kPurposeEnrollment = 2;

std::string Answer(const std::string& challenge, std::uint8_t purpose,
                   const crypto::SigningKeyPair& key) {
  std::string nonce = challenge.substr(4);
  std::string signed_bytes = "chatpro web auth v1";
  signed_bytes.push_back(static_cast<char>(purpose));
  signed_bytes += nonce + key.public_key;
  std::string answer = kMagic;
  answer.push_back(static_cast<char>(purpose));
  answer.push_back(1);  // Ed25519
  answer += key.public_key + crypto::SignEd25519(key.secret_key, signed_bytes);
  return answer;
}

std::string FrameOf(flatbuffers::FlatBufferBuilder& fbb, std::uint64_t rid, wire::Body type,
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
  return FrameOf(fbb, rid, wire::Body::Enroll,
                 wire::CreateEnroll(fbb, k, fbb.CreateString("Chromium"),
                                    fbb.CreateString("web/1"), wire::KeyKind::Ed25519)
                     .Union());
}

std::string HelloFrame(std::uint64_t rid) {
  flatbuffers::FlatBufferBuilder fbb;
  return FrameOf(fbb, rid, wire::Body::Hello,
                 wire::CreateHello(fbb, fbb.CreateString("web/1"), true).Union());
}

std::string SendTextFrame(std::uint64_t rid, const std::string& to, std::uint64_t client_id,
                          const std::string& text) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateText(fbb, fbb.CreateString(text));
  auto send = wire::CreateSend(fbb, 0, fbb.CreateString(to), client_id, wire::Content::Text,
                               body.Union());
  return FrameOf(fbb, rid, wire::Body::Send, send.Union());
}

std::string AckFrame(std::uint64_t conversation, std::uint64_t seq) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<wire::Cursor> cursors{wire::Cursor(conversation, seq)};
  auto ack = wire::CreateAck(fbb, fbb.CreateVectorOfStructs(cursors));
  return FrameOf(fbb, 0, wire::Body::Ack, ack.Union());
}

std::string ConfirmWipeFrame(std::uint64_t rid) {
  flatbuffers::FlatBufferBuilder fbb;
  return FrameOf(fbb, rid, wire::Body::ConfirmWipe, wire::CreateConfirmWipe(fbb).Union());
}

// What the browser got from the gateway.
struct Event {
  bool closed = false;
  int close_code = 0;
  std::string close_reason;
  std::string frame;  // a wire Frame
};

class Browser {
 public:
  explicit Browser(int port) {
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_NONE);
    session_ = std::make_unique<Poco::Net::HTTPSClientSession>(
        "127.0.0.1", static_cast<Poco::UInt16>(port), context);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/ws",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    Poco::Net::HTTPResponse response;
    ws_ = std::make_unique<WebSocket>(*session_, request, response);
    ws_->setReceiveTimeout(Poco::Timespan(kWaitTimeout.count() * 1000));
  }

  void Send(const std::string& data, int flags = WebSocket::FRAME_BINARY) {
    ws_->sendFrame(data.data(), static_cast<int>(data.size()), flags);
  }

  Event Next() {
    Poco::Buffer<char> buffer(0);
    int flags = 0;
    Event e;
    int n = ws_->receiveFrame(buffer, flags);
    std::string data(buffer.begin(), buffer.size());
    if ((flags & WebSocket::FRAME_OP_BITMASK) == WebSocket::FRAME_OP_CLOSE ||
        (n == 0 && flags == 0)) {
      e.closed = true;
      if (data.size() >= 2) {
        e.close_code = (static_cast<unsigned char>(data[0]) << 8) |
                       static_cast<unsigned char>(data[1]);
        e.close_reason = data.substr(2);
      }
      return e;
    }
    e.frame = std::move(data);
    return e;
  }

  // Answers the challenge with `key`; the gateway's next event.
  Event SignIn(std::uint8_t purpose, const crypto::SigningKeyPair& key) {
    Event challenge = Next();
    EXPECT_FALSE(challenge.closed);
    EXPECT_EQ(challenge.frame.substr(0, 4), kMagic);
    Send(Answer(challenge.frame, purpose, key));
    return Next();
  }

  // The next envelope of `type` (for `rid` unless 0), reading frames as
  // needed (a frame may carry several); nullptr if the WebSocket closed
  // first. The envelope lives until the next call.
  const wire::Envelope* WaitFor(wire::Body type, std::uint64_t rid = 0) {
    while (true) {
      if (!keep_.empty()) {
        const wire::Frame* f = wire::GetFrame(keep_.data());
        const auto* envelopes = f->envelopes();
        while (envelopes != nullptr && next_ < envelopes->size()) {
          const wire::Envelope* env = envelopes->Get(next_++);
          if (env->body_type() == type && (rid == 0 || env->request_id() == rid)) return env;
        }
      }
      Event e = Next();
      if (e.closed) {
        last_close_ = e;
        keep_.clear();
        return nullptr;
      }
      flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(e.frame.data()),
                                     e.frame.size());
      if (!wire::VerifyFrameBuffer(verifier)) {
        ADD_FAILURE() << "the gateway passed on something that is no wire Frame";
        return nullptr;
      }
      keep_ = std::move(e.frame);
      next_ = 0;
    }
  }

  const Event& last_close() const { return last_close_; }

 private:
  std::unique_ptr<Poco::Net::HTTPSClientSession> session_;
  std::unique_ptr<WebSocket> ws_;
  std::string keep_;  // the frame being read, from envelope next_ on
  flatbuffers::uoffset_t next_ = 0;
  Event last_close_;
};

bool IsEmptyFrame(const Event& e) {
  if (e.closed) return false;
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(e.frame.data()),
                                 e.frame.size());
  if (!wire::VerifyFrameBuffer(verifier)) return false;
  const wire::Frame* f = wire::GetFrame(e.frame.data());
  return f->envelopes() == nullptr || f->envelopes()->size() == 0;
}

std::string CodeOf(const std::string& invite) {
  std::string::size_type at = invite.find("code=");
  if (at == std::string::npos) return std::string();
  std::string code = invite.substr(at + 5);
  return code.substr(0, code.find('&'));
}

// The text of a Delivery envelope.
std::string DeliveredText(const wire::Envelope* e, std::uint64_t* conversation,
                          std::uint64_t* seq) {
  const wire::Message* m = e->body_as_Delivery()->message_nested_root();
  *conversation = m->conversation_id();
  *seq = m->seq();
  if (m->content_type() != wire::Content::Text) return std::string();
  return m->content_as_Text()->body()->str();
}

// Waits for the delivery of a text (skipping others, such as the echo of
// what this user sent); false if the WebSocket closed first.
bool WaitForText(Browser& browser, const std::string& text, std::uint64_t* conversation,
                 std::uint64_t* seq) {
  while (const wire::Envelope* e = browser.WaitFor(wire::Body::Delivery)) {
    if (DeliveredText(e, conversation, seq) == text) return true;
  }
  return false;
}

class WebChat : public BrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "webchat.enabled=true",
                    "--set", "webchat.listen=127.0.0.1:" + std::to_string(web_port_),
                    "--set", "webchat.max_message_bytes=64KiB"};
    return o;
  }

  // Root adds `login`; the browser enrolls a new Ed25519 key with the
  // invite, as the page does when its invite link is opened.
  crypto::SigningKeyPair EnrollBrowser(const std::string& login) {
    Result<client::InviteInfo> invite = root_->AdminAddUser(login, "Wendy Web", client::Role::kUser);
    EXPECT_TRUE(invite.ok()) << invite.status();
    crypto::SigningKeyPair device = crypto::DeriveEnrollmentSigningKeyPair(crypto::NewEnrollmentCode());
    if (!invite.ok()) return device;
    // The same invite as a link that opens the web chat.
    EXPECT_EQ(invite->web_link, "https://127.0.0.1:" + std::to_string(web_port_) +
                                    "/#invite=" + CodeOf(invite->invite));
    Browser enrolling(web_port_);
    EXPECT_TRUE(IsEmptyFrame(enrolling.SignIn(
        kPurposeEnrollment, crypto::DeriveEnrollmentSigningKeyPair(CodeOf(invite->invite)))));
    enrolling.Send(EnrollFrame(1, device.public_key));
    const wire::Envelope* reply = enrolling.WaitFor(wire::Body::EnrollReply, 1);
    EXPECT_NE(reply, nullptr) << "not enrolled: " << enrolling.last_close().close_reason;
    if (reply != nullptr) {
      EXPECT_EQ(reply->body_as_EnrollReply()->login()->str(), login);
    }
    return device;
  }

  // Signs in as the device and says Hello, as a page (and libchatpro) does
  // first; its deliveries start from there.
  std::unique_ptr<Browser> SignedIn(const crypto::SigningKeyPair& key) {
    auto browser = std::make_unique<Browser>(web_port_);
    Event in = browser->SignIn(kPurposeDevice, key);
    EXPECT_TRUE(IsEmptyFrame(in)) << in.close_code << " " << in.close_reason;
    if (!in.closed) browser->Send(HelloFrame(100));
    return browser;
  }

  const int web_port_ = PickFreePort();
};

TEST_F(WebChat, BrowserEnrolledFromAnInviteChatsLiveWithAZeroMqUserAndCatchesUpAfterReconnecting) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  auto ana_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, ana_inbox));
  crypto::SigningKeyPair wendy = EnrollBrowser("wendy");
  std::uint64_t conversation = 0;
  std::uint64_t seq = 0;
  {
    std::unique_ptr<Browser> browser = SignedIn(wendy);
    browser->Send(SendTextFrame(2, "ana", 1, "Hello from the browser"));
    const wire::Envelope* ack = browser->WaitFor(wire::Body::SendAck, 2);
    ASSERT_NE(ack, nullptr) << browser->last_close().close_reason;
    ASSERT_TRUE(ana_inbox->WaitFor(1));
    EXPECT_EQ(TextOf(ana_inbox->messages()[0]), "Hello from the browser");
    EXPECT_EQ(ana_inbox->messages()[0].sender, "wendy");

    // Ana's reply reaches the open page live.
    std::future<client::SendResult> reply =
        ana_client->Send(client::Target::User("wendy"), MakeText("Hi Wendy, got it"));
    ASSERT_OK_AND_ASSIGN(client::SendResult replied, Await(reply));
    ASSERT_OK(replied.status);
    ASSERT_TRUE(WaitForText(*browser, "Hi Wendy, got it", &conversation, &seq))
        << browser->last_close().close_reason;
    // The page has shown it: acknowledged, it is not delivered again.
    browser->Send(AckFrame(conversation, seq));
    browser->Send(SendTextFrame(3, "ana", 2, "Thanks"));
    ASSERT_NE(browser->WaitFor(wire::Body::SendAck, 3), nullptr);
  }
  // The page is closed; what Ana sends meanwhile waits for it.
  std::future<client::SendResult> later =
      ana_client->Send(client::Target::User("wendy"), MakeText("Sent while you were away"));
  ASSERT_OK_AND_ASSIGN(client::SendResult stored, Await(later));
  ASSERT_OK(stored.status);
  std::unique_ptr<Browser> browser = SignedIn(wendy);
  std::uint64_t c = 0;
  std::uint64_t s = 0;
  ASSERT_TRUE(WaitForText(*browser, "Sent while you were away", &c, &s))
      << browser->last_close().close_reason;
  EXPECT_EQ(c, conversation);
  EXPECT_GT(s, seq);
}

TEST_F(WebChat, WrongSignatureAndUnknownKeyAreRefused) {
  crypto::SigningKeyPair wendy = EnrollBrowser("wendy");
  crypto::SigningKeyPair other = crypto::DeriveEnrollmentSigningKeyPair(crypto::NewEnrollmentCode());

  // Wendy's public key with a signature made by another key.
  crypto::SigningKeyPair forged{wendy.public_key, other.secret_key};
  Browser forger(web_port_);
  Event refused = forger.SignIn(kPurposeDevice, forged);
  EXPECT_TRUE(refused.closed);
  EXPECT_EQ(refused.close_code, 4001);
  EXPECT_NE(refused.close_reason.find("signature"), std::string::npos) << refused.close_reason;

  Browser stranger(web_port_);
  Event unknown = stranger.SignIn(kPurposeDevice, other);
  EXPECT_TRUE(unknown.closed);
  EXPECT_EQ(unknown.close_code, 4003);
  EXPECT_EQ(unknown.close_reason, "unknown key");

  // Wendy herself is still served.
  std::unique_ptr<Browser> browser = SignedIn(wendy);
  browser->Send(SendTextFrame(2, "root", 1, "still here"));
  EXPECT_NE(browser->WaitFor(wire::Body::SendAck, 2), nullptr);
}

TEST_F(WebChat, OffboardedUsersOpenPageIsCutOffAtOnce) {
  crypto::SigningKeyPair wendy = EnrollBrowser("wendy");
  std::unique_ptr<Browser> browser = SignedIn(wendy);
  ASSERT_NE(browser->WaitFor(wire::Body::HelloReply, 100), nullptr);
  ASSERT_OK(root_->AdminDeactivateUser("wendy").status());
  const wire::Envelope* revoked = browser->WaitFor(wire::Body::Revoked);
  ASSERT_NE(revoked, nullptr) << browser->last_close().close_reason;
  EXPECT_TRUE(revoked->body_as_Revoked()->wipe());
  // The page wipes itself and says so; the gateway closes it with the reason.
  browser->Send(ConfirmWipeFrame(9));
  EXPECT_EQ(browser->WaitFor(wire::Body::Revoked), nullptr);
  EXPECT_TRUE(browser->last_close().closed);
  EXPECT_EQ(browser->last_close().close_code, 4002);
  EXPECT_NE(browser->last_close().close_reason.find("revoked"), std::string::npos)
      << browser->last_close().close_reason;
  // From then on the key is refused.
  Browser again(web_port_);
  Event refused = again.SignIn(kPurposeDevice, wendy);
  EXPECT_TRUE(refused.closed);
  EXPECT_EQ(refused.close_code, 4003);
  EXPECT_EQ(refused.close_reason, "device revoked");
}

TEST_F(WebChat, MalformedAndOversizedMessagesGetAnErrorAndTheBrokerKeepsServing) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  auto ana_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, ana_inbox));
  crypto::SigningKeyPair wendy = EnrollBrowser("wendy");
  {
    std::unique_ptr<Browser> browser = SignedIn(wendy);
    browser->Send("this is not a wire frame");
    const wire::Envelope* error = browser->WaitFor(wire::Body::Error);
    ASSERT_NE(error, nullptr) << browser->last_close().close_reason;
    EXPECT_EQ(error->body_as_Error()->code(), wire::ErrorCode::InvalidArgument);
    // The same connection goes on.
    browser->Send(SendTextFrame(2, "ana", 1, "after the bad one"));
    EXPECT_NE(browser->WaitFor(wire::Body::SendAck, 2), nullptr);
  }
  {
    std::unique_ptr<Browser> browser = SignedIn(wendy);
    browser->Send(std::string(100 * 1024, 'x'));
    EXPECT_EQ(browser->WaitFor(wire::Body::SendAck), nullptr);
    EXPECT_EQ(browser->last_close().close_code, WebSocket::WS_PAYLOAD_TOO_BIG);
    EXPECT_NE(browser->last_close().close_reason.find("too big"), std::string::npos)
        << browser->last_close().close_reason;
  }
  {
    std::unique_ptr<Browser> browser = SignedIn(wendy);
    browser->Send("{\"text\": \"json\"}", WebSocket::FRAME_TEXT);
    EXPECT_EQ(browser->WaitFor(wire::Body::SendAck), nullptr);
    EXPECT_EQ(browser->last_close().close_code, WebSocket::WS_PAYLOAD_NOT_ACCEPTABLE);
  }
  // Everyone is still served: the browser, and Ana on ZeroMQ.
  std::unique_ptr<Browser> browser = SignedIn(wendy);
  browser->Send(SendTextFrame(3, "ana", 2, "still served"));
  ASSERT_NE(browser->WaitFor(wire::Body::SendAck, 3), nullptr);
  ASSERT_TRUE(ana_inbox->WaitFor(2));
  EXPECT_EQ(TextOf(ana_inbox->messages()[1]), "still served");
  std::future<client::SendResult> sent =
      ana_client->Send(client::Target::User("root"), MakeText("and me"));
  ASSERT_OK_AND_ASSIGN(client::SendResult also, Await(sent));
  EXPECT_TRUE(also.status.ok()) << also.status;
}

}  // namespace
}  // namespace chatpro::testing
