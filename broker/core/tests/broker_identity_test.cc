// SPDX-License-Identifier: Apache-2.0
//
// Identity: device keys, one-time invites, roles, the directory.
#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

#include "broker/base/encoding.h"
#include "broker/base/invite.h"
#include "broker/core/tests/broker_harness.h"

namespace chatpro::core::testing {
namespace {

using IdentityTest = BrokerTest;

// The derived enrollment public key of an invite.
std::string EnrollmentKey(const std::string& invite) {
  Result<Invite> parsed = ParseInvite(invite);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? crypto::DeriveEnrollmentKeyPair(parsed->code).public_key : std::string();
}

// An invite for a new user, made by `admin`.
std::string InviteNewUser(BrokerHarness& h, const TestClient& admin, std::string_view login,
                          std::uint64_t rid) {
  admin.Send(Request().AdminAddUser(rid, login, "").Finish());
  EXPECT_TRUE(h.Settle());
  Envelope reply = admin.TakeReply(rid);
  EXPECT_EQ(reply.type, wire::Body::InviteReply) << reply.error_message;
  return reply.invite;
}

// A connection authenticated with an invite's enrollment key.
TestClient EnrollmentConnection(BrokerHarness& h, const std::string& invite) {
  TestClient c;
  c.harness = &h;
  c.connection = h.NewConnectionId();
  AuthDecision auth = h.broker().Authenticate(EnrollmentKey(invite), "test");
  EXPECT_TRUE(auth.allowed) << auth.reason;
  EXPECT_EQ(auth.user_id.rfind("e:", 0), 0u);
  c.zap_user_id = auth.user_id;
  return c;
}

TEST_F(IdentityTest, UnknownKeyIsRefused) {
  std::uint64_t refused = h_->broker().stats().auth_refused.load();
  AuthDecision d = h_->broker().Authenticate(crypto::GenerateKeyPair().public_key, "10.0.0.9");
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.user_id.empty());
  EXPECT_FALSE(d.reason.empty());
  EXPECT_EQ(h_->broker().stats().auth_refused.load(), refused + 1);
}

TEST_F(IdentityTest, EnrolledDeviceKeyAuthenticatesAsItsDevice) {
  TestClient alice = AddUser("alice");
  AuthDecision d = h_->broker().Authenticate(alice.keys.public_key, "test");
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.user_id, "d:" + std::to_string(alice.device_id));
}

TEST_F(IdentityTest, FrameFromAnUnknownUserIdGetsARefusalAndIsForgotten) {
  for (std::string user_id : {"d:999", "d:12x", "x:1", ""}) {
    TestClient stranger;
    stranger.harness = h_.get();
    stranger.connection = h_->NewConnectionId();
    stranger.zap_user_id = user_id;
    stranger.Send(Request().Hello(1).Finish());
    ASSERT_TRUE(Settle());
    std::vector<Envelope> got = stranger.Take();
    ASSERT_EQ(got.size(), 1u) << user_id;
    EXPECT_EQ(got[0].error_code, wire::ErrorCode::PermissionDenied);
    EXPECT_EQ(got[0].request_id, 0u);
    EXPECT_TRUE(h_->transport().forgotten(stranger.connection));
  }
}

TEST_F(IdentityTest, InviteWorksOnce) {
  std::string invite = InviteNewUser(*h_, admin_, "carol", 1);
  TestClient first = EnrollmentConnection(*h_, invite);  // accepted before the code is used

  TestClient carol = h_->Enroll(invite);
  EXPECT_EQ(carol.login, "carol");
  // The code is used up: its key is refused now ...
  AuthDecision again = h_->broker().Authenticate(EnrollmentKey(invite), "test");
  EXPECT_FALSE(again.allowed);
  // ... and so is an Enroll on connections that were accepted before.
  crypto::KeyPair other = crypto::GenerateKeyPair();
  first.Send(Request().Enroll(2, other.public_key).Finish());
  ASSERT_TRUE(Settle());
  Envelope refused = first.TakeReply(2);
  EXPECT_EQ(refused.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_FALSE(h_->broker().Authenticate(other.public_key, "test").allowed);
  EXPECT_TRUE(h_->broker().Authenticate(carol.keys.public_key, "test").allowed);
}

TEST_F(IdentityTest, EnrollmentConnectionMaySendNothingButEnroll) {
  std::string invite = InviteNewUser(*h_, admin_, "carol", 1);
  TestClient enrolling = EnrollmentConnection(*h_, invite);
  enrolling.Send(
      Request().Hello(1).SendText(2, ToUser("admin"), 1, "hi").Directory(3).Ping(4).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(enrolling.TakeReply(1).error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(enrolling.TakeReply(2).error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(enrolling.TakeReply(3).error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(enrolling.TakeReply(4).type, wire::Body::Pong);
  // The invite is still good.
  EXPECT_EQ(h_->Enroll(invite).login, "carol");
}

TEST_F(IdentityTest, EnrollNeedsAFreshThirtyTwoByteKey) {
  TestClient alice = AddUser("alice");
  std::string invite = InviteNewUser(*h_, admin_, "carol", 1);
  TestClient enrolling = EnrollmentConnection(*h_, invite);
  enrolling.Send(Request()
                     .Enroll(2, "short key")
                     .Enroll(3, alice.keys.public_key)  // registered already
                     .Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(enrolling.TakeReply(2).error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(enrolling.TakeReply(3).error_code, wire::ErrorCode::AlreadyExists);
  EXPECT_EQ(h_->Enroll(invite).login, "carol");
}

// An Ed25519 signing key pair, as a browser's WebCrypto key would be.
struct SigningKeys {
  std::string public_key;
  std::string secret_key;
};
SigningKeys NewSigningKeys() {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  return {std::string(reinterpret_cast<char*>(pk), sizeof pk),
          std::string(reinterpret_cast<char*>(sk), sizeof sk)};
}

TEST_F(IdentityTest, WebDeviceKeyAuthenticatesOnlyAsAnEd25519Key) {
  std::string invite = InviteNewUser(*h_, admin_, "carol", 1);
  TestClient enrolling = EnrollmentConnection(*h_, invite);
  SigningKeys browser = NewSigningKeys();
  enrolling.Send(Request().Enroll(2, browser.public_key, "browser", wire::KeyKind::Ed25519).Finish());
  ASSERT_TRUE(Settle());
  Envelope reply = enrolling.TakeReply(2);
  ASSERT_EQ(reply.type, wire::Body::EnrollReply) << reply.error_message;

  AuthDecision web = h_->broker().Authenticate(browser.public_key, "10.0.0.5", KeyKind::Ed25519);
  EXPECT_TRUE(web.allowed) << web.reason;
  EXPECT_EQ(web.user_id, "d:" + std::to_string(reply.device_id));
  // The same bytes presented as a CURVE key are nobody's.
  EXPECT_FALSE(h_->broker().Authenticate(browser.public_key, "10.0.0.5").allowed);
  // Nor is a CURVE device's key an Ed25519 key.
  EXPECT_FALSE(
      h_->broker().Authenticate(admin_.keys.public_key, "10.0.0.5", KeyKind::Ed25519).allowed);
}

TEST_F(IdentityTest, InviteKeyIsOnlyACurveKey) {
  std::string invite = InviteNewUser(*h_, admin_, "carol", 1);
  AuthDecision as_web = h_->broker().Authenticate(EnrollmentKey(invite), "test", KeyKind::Ed25519);
  EXPECT_FALSE(as_web.allowed);
  EXPECT_EQ(as_web.reason, "unknown key");
  EXPECT_TRUE(h_->broker().Authenticate(EnrollmentKey(invite), "test").allowed);
}

TEST_F(IdentityTest, EnrollRefusesABadEd25519KeyAndAnUnknownKeyKind) {
  std::string invite = InviteNewUser(*h_, admin_, "carol", 1);
  TestClient enrolling = EnrollmentConnection(*h_, invite);
  // All zeros: a point of small order, which would accept forged signatures.
  enrolling.Send(Request()
                     .Enroll(2, std::string(32, '\0'), "browser", wire::KeyKind::Ed25519)
                     .Enroll(3, NewSigningKeys().public_key, "future",
                             static_cast<wire::KeyKind>(9))
                     .Finish());
  ASSERT_TRUE(Settle());
  Envelope bad_point = enrolling.TakeReply(2);
  EXPECT_EQ(bad_point.error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_NE(bad_point.error_message.find("Ed25519"), std::string::npos) << bad_point.error_message;
  Envelope unknown_kind = enrolling.TakeReply(3);
  EXPECT_EQ(unknown_kind.error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_NE(unknown_kind.error_message.find("kind"), std::string::npos);
  // Nothing was used up.
  EXPECT_EQ(h_->Enroll(invite).login, "carol");
}

TEST_F(IdentityTest, ExpiredInviteIsRefused) {
  std::string invite = InviteNewUser(*h_, admin_, "carol", 1);
  std::string late = InviteNewUser(*h_, admin_, "dave", 2);
  TestClient accepted_in_time = EnrollmentConnection(*h_, late);

  h_->clock().Advance(h_->options().invite_ttl_us + 1);
  EXPECT_FALSE(h_->broker().Authenticate(EnrollmentKey(invite), "test").allowed);
  // A connection accepted before the invite expired cannot use it now.
  accepted_in_time.Send(Request().Enroll(3, crypto::GenerateKeyPair().public_key).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(accepted_in_time.TakeReply(3).error_code, wire::ErrorCode::PermissionDenied);
}

TEST_F(IdentityTest, InviteIsValidUntilItsExpiryTime) {
  admin_.Send(Request().AdminAddUser(1, "carol", "Carol C.").Finish());
  ASSERT_TRUE(Settle());
  Envelope reply = admin_.TakeReply(1);
  ASSERT_EQ(reply.type, wire::Body::InviteReply);
  EXPECT_EQ(reply.login, "carol");
  EXPECT_EQ(reply.expires_at_us, h_->clock().NowMicros() + h_->options().invite_ttl_us);
  Result<Invite> parsed = ParseInvite(reply.invite);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->host_port, "chat.example.org:7070");
  EXPECT_EQ(parsed->server_key, std::string(32, '\x42'));

  h_->clock().Advance(h_->options().invite_ttl_us - 1);
  TestClient carol = h_->Enroll(reply.invite);
  EXPECT_EQ(carol.login, "carol");
}

TEST_F(IdentityTest, PlainUserCannotAdministrate) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  alice.Send(Request()
                 .AdminAddUser(1, "eve", "Eve")
                 .AdminListUsers(2)
                 .CreateInvite(3, "bob")
                 .AdminAddUser(4, "eve2", "Eve", wire::Role::Admin)
                 .Finish());
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 1; rid <= 4; ++rid) {
    EXPECT_EQ(alice.TakeReply(rid).error_code, wire::ErrorCode::PermissionDenied) << rid;
  }
  // Her own device invite is fine.
  alice.Send(Request().CreateInvite(5, "alice").Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(5).type, wire::Body::InviteReply);
}

TEST_F(IdentityTest, AuditorCanListUsersButNotAddThem) {
  TestClient auditor = AddUser("audit", wire::Role::Auditor);
  AddUser("alice");
  auditor.Send(Request().AdminListUsers(1).AdminAddUser(2, "eve", "Eve").Finish());
  ASSERT_TRUE(Settle());
  Envelope list = auditor.TakeReply(1);
  ASSERT_EQ(list.type, wire::Body::UserList);
  ASSERT_EQ(list.users.size(), 3u);
  EXPECT_EQ(list.users[0].login, "admin");
  EXPECT_EQ(list.users[0].role, wire::Role::Admin);
  EXPECT_EQ(list.users[1].login, "alice");
  EXPECT_EQ(list.users[1].devices, 1u);
  EXPECT_NE(list.users[1].id, 0u);
  EXPECT_EQ(list.users[1].created_at_us, h_->clock().NowMicros());
  EXPECT_EQ(list.users[2].login, "audit");
  EXPECT_EQ(list.users[2].role, wire::Role::Auditor);
  EXPECT_EQ(auditor.TakeReply(2).error_code, wire::ErrorCode::PermissionDenied);
}

TEST_F(IdentityTest, AdminCanInviteADeviceForAnyone) {
  TestClient bob = AddUser("bob");
  admin_.Send(Request().CreateInvite(1, "bob").CreateInvite(2, "nobody").Finish());
  ASSERT_TRUE(Settle());
  Envelope invite = admin_.TakeReply(1);
  ASSERT_EQ(invite.type, wire::Body::InviteReply);
  EXPECT_EQ(invite.login, "bob");
  EXPECT_EQ(admin_.TakeReply(2).error_code, wire::ErrorCode::NotFound);
  TestClient bob_tablet = h_->Enroll(invite.invite);
  EXPECT_EQ(bob_tablet.user_id, bob.user_id);
  EXPECT_NE(bob_tablet.device_id, bob.device_id);
}

// When the broker serves the web chat, every invite also comes as a link that
// opens it in a browser, with the invite's code after '#' (which browsers do
// not send to the server).
TEST_F(IdentityTest, InvitesComeWithAWebChatLinkWhenTheWebChatIsServed) {
  admin_.Send(Request().AdminAddUser(1, "ana", "").Finish());
  ASSERT_TRUE(Settle());
  Envelope without = admin_.TakeReply(1);
  ASSERT_EQ(without.type, wire::Body::InviteReply) << without.error_message;
  EXPECT_EQ(without.web_link, "");

  h_->broker().SetWebChatUrl("https://chat.example.org:8444");
  admin_.Send(Request().AdminAddUser(2, "ben", "").CreateInvite(3, "ana").Finish());
  ASSERT_TRUE(Settle());
  admin_.Send(Request().AdminDeactivateUser(4, "ben").Finish());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(admin_.TakeReply(4).type, wire::Body::OffboardingReply);
  admin_.Send(Request().AdminReactivateUser(5, "ben").Finish());
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid : {2, 3, 5}) {
    Envelope reply = admin_.TakeReply(rid);
    ASSERT_EQ(reply.type, wire::Body::InviteReply) << rid << ": " << reply.error_message;
    Result<Invite> parsed = ParseInvite(reply.invite);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(reply.web_link, "https://chat.example.org:8444/#invite=" + parsed->code) << rid;
  }
  EXPECT_EQ(h_->broker().WebLinkFor("not an invite"), "");
}

TEST_F(IdentityTest, AddUserValidatesTheLoginAndDisplayName) {
  AddUser("alice");
  admin_.Send(Request()
                  .AdminAddUser(1, "Alice Smith", "")
                  .AdminAddUser(2, "alice", "Another Alice")
                  .AdminAddUser(3, "bob", "tab\there")
                  .AdminAddUser(4, "", "")
                  .AdminAddUser(5, "carol", "Carol", static_cast<wire::Role>(9))
                  .Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(admin_.TakeReply(1).error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(admin_.TakeReply(2).error_code, wire::ErrorCode::AlreadyExists);
  EXPECT_EQ(admin_.TakeReply(3).error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(admin_.TakeReply(4).error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(admin_.TakeReply(5).error_code, wire::ErrorCode::InvalidArgument);
}

TEST_F(IdentityTest, DirectoryShowsOnlyLoginAndDisplayName) {
  TestClient alice = AddUser("alice");
  h_->AddUser(admin_, "bob", wire::Role::Auditor, "Bob Builder");
  alice.Send(Request().Directory(1).Finish());
  ASSERT_TRUE(Settle());
  Envelope dir = alice.TakeReply(1);
  ASSERT_EQ(dir.type, wire::Body::UserList);
  ASSERT_EQ(dir.users.size(), 3u);
  EXPECT_EQ(dir.users[2].login, "bob");
  EXPECT_EQ(dir.users[2].display_name, "Bob Builder");
  for (const UserView& u : dir.users) {
    EXPECT_FALSE(u.login.empty());
    EXPECT_FALSE(u.display_name.empty());
    EXPECT_EQ(u.id, 0u) << u.login;
    EXPECT_EQ(u.role, wire::Role::User) << u.login;
    EXPECT_EQ(u.devices, 0u) << u.login;
    EXPECT_EQ(u.created_at_us, 0) << u.login;
  }
}

TEST_F(IdentityTest, BootstrapInviteIsOnlyForAdministrators) {
  AddUser("bob");
  std::shared_ptr<InMemoryMessageStore> store = h_->shared_store();
  h_.reset();
  BrokerHarness restarted(CoreOptions(), store);
  EXPECT_TRUE(restarted.broker().HasUsers());
  Result<std::string> for_user = restarted.broker().CreateBootstrapInvite("bob");
  ASSERT_FALSE(for_user.ok());
  EXPECT_EQ(for_user.status().code(), StatusCode::kFailedPrecondition);
  Result<std::string> bad = restarted.broker().CreateBootstrapInvite("Not A Login");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  // Another device for the existing admin.
  std::string invite = restarted.BootstrapInvite("admin");
  restarted.Start();
  TestClient admin = restarted.Enroll(invite);
  EXPECT_EQ(admin.login, "admin");
  EXPECT_NE(admin.device_id, admin_.device_id);
}

TEST_F(IdentityTest, StoreOfAnotherFormatVersionIsRefused) {
  auto store = std::make_shared<InMemoryMessageStore>();
  WriteBatch b;
  b.records.push_back({RecordKind::kMeta, "format", std::string("99")});
  ASSERT_TRUE(store->Write(b, true).ok());
  FakeClock clock;
  Broker broker(CoreOptions(), Durability::kFsync, ServerIdentity{}, store.get(), &clock);
  Status st = broker.Open();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace chatpro::core::testing
