// SPDX-License-Identifier: Apache-2.0
//
// The web admin console's sessions: "c:<user id>" is a session of that user
// without a device, checked exactly as the user's device; "s:console" may only
// look up credentials and record sign-ins. Console passwords are stored only
// as argon2id hashes of the interactive strength.
#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <string_view>
#include <vector>

#include "broker/core/tests/broker_harness.h"
#include "broker/crypto/password.h"

namespace chatpro::core::testing {
namespace {

::testing::AssertionResult HasText(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

class ConsoleTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    ASSERT_TRUE(crypto::InitCrypto().ok());
  }

  Envelope Ask(const TestClient& c, std::uint64_t rid, Request& request) {
    c.Send(request);
    EXPECT_TRUE(Settle());
    return c.TakeReply(rid);
  }

  Envelope SetPassword(const TestClient& c, std::string_view login, std::string_view hash) {
    std::uint64_t rid = next_rid_++;
    Request r;
    auto& fbb = r.builder();
    auto body = wire::CreateAdminSetConsolePassword(fbb, fbb.CreateString(login),
                                                    fbb.CreateString(hash));
    r.Raw(rid, wire::Body::AdminSetConsolePassword, body.Union());
    return Ask(c, rid, r);
  }

  Envelope Credentials(const TestClient& service, std::string_view login) {
    std::uint64_t rid = next_rid_++;
    Request r;
    auto& fbb = r.builder();
    auto body = wire::CreateConsoleCredentials(fbb, fbb.CreateString(login));
    r.Raw(rid, wire::Body::ConsoleCredentials, body.Union());
    return Ask(service, rid, r);
  }

  Envelope ConsoleAudit(const TestClient& service, std::string_view event, std::string_view login,
                        bool ok) {
    std::uint64_t rid = next_rid_++;
    Request r;
    auto& fbb = r.builder();
    auto body = wire::CreateConsoleAudit(fbb, fbb.CreateString(event), fbb.CreateString(login),
                                         fbb.CreateString("192.0.2.7"), ok);
    r.Raw(rid, wire::Body::ConsoleAudit, body.Union());
    return Ask(service, rid, r);
  }

  Envelope ListUsers(const TestClient& c) {
    std::uint64_t rid = next_rid_++;
    return Ask(c, rid, Request().AdminListUsers(rid));
  }

  // The audit entries with `action`, as the admin's device reads them.
  std::vector<AuditView> AuditEntries(std::string_view action) {
    std::uint64_t rid = next_rid_++;
    Envelope list = Ask(admin_, rid, Request().AdminListAudit(rid, 1, 1000));
    EXPECT_EQ(list.type, wire::Body::AuditList) << list.error_message;
    std::vector<AuditView> out;
    for (AuditView& e : list.audit) {
      if (e.action == action) out.push_back(std::move(e));
    }
    return out;
  }

  std::uint64_t Errors(StatusCode code) {
    return h_->broker().stats().errors[static_cast<int>(code)].load();
  }
};

TEST_F(ConsoleTest, AdminConsoleSessionAddsUsersAndTheAuditSaysViaConsole) {
  TestClient console = h_->Console(admin_);
  std::uint64_t rid = next_rid_++;
  Envelope added = Ask(console, rid, Request().AdminAddUser(rid, "ana", "Ana Lima"));
  ASSERT_EQ(added.type, wire::Body::InviteReply) << added.error_message;

  Envelope users = ListUsers(console);
  ASSERT_EQ(users.type, wire::Body::UserList) << users.error_message;
  bool found = false;
  for (const UserView& u : users.users) found |= u.login == "ana";
  EXPECT_TRUE(found);

  std::vector<AuditView> adds = AuditEntries("user.add");
  ASSERT_EQ(adds.size(), 1u);
  EXPECT_EQ(adds[0].actor, admin_.login);
  EXPECT_TRUE(HasText(adds[0].details, "\"via\":\"console\""));
  // The same request from the admin's device says nothing of a console.
  rid = next_rid_++;
  ASSERT_EQ(Ask(admin_, rid, Request().AdminAddUser(rid, "ben", "Ben")).type,
            wire::Body::InviteReply);
  adds = AuditEntries("user.add");
  ASSERT_EQ(adds.size(), 2u);
  EXPECT_EQ(adds[1].details.find("via"), std::string::npos) << adds[1].details;
}

TEST_F(ConsoleTest, ConsoleSessionsGetTheSameRoleChecksAsTheUsersDevices) {
  TestClient ana = AddUser("ana");
  TestClient audrey = AddUser("audrey", wire::Role::Auditor);
  TestClient ana_console = h_->Console(ana);
  TestClient audrey_console = h_->Console(audrey);

  // A user: no admin requests, from the console or the device, same answer.
  Envelope from_console = ListUsers(ana_console);
  Envelope from_device = ListUsers(ana);
  EXPECT_EQ(from_console.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(from_console.error_message, from_device.error_message);

  // An auditor reads the audit log but adds nobody.
  std::uint64_t rid = next_rid_++;
  EXPECT_EQ(Ask(audrey_console, rid, Request().AdminListAudit(rid)).type, wire::Body::AuditList);
  rid = next_rid_++;
  Envelope add = Ask(audrey_console, rid, Request().AdminAddUser(rid, "carl", "Carl"));
  EXPECT_EQ(add.error_code, wire::ErrorCode::PermissionDenied);
  rid = next_rid_++;
  EXPECT_EQ(Ask(ana_console, rid, Request().AdminListAudit(rid)).error_code,
            wire::ErrorCode::PermissionDenied);

  // What anybody may do, a console session may do for its user.
  rid = next_rid_++;
  Envelope devices = Ask(ana_console, rid, Request().ListDevices(rid));
  ASSERT_EQ(devices.type, wire::Body::DeviceList) << devices.error_message;
  EXPECT_EQ(devices.login, "ana");
  EXPECT_EQ(devices.devices.size(), 1u);
}

TEST_F(ConsoleTest, ConsoleSessionRefusesWhatOnlyADeviceCanDo) {
  TestClient ana = AddUser("ana");
  TestClient console = h_->Console(admin_);
  const std::uint64_t denied_before = Errors(StatusCode::kPermissionDenied);
  std::uint64_t rid = next_rid_++;
  Envelope send = Ask(console, rid, Request().SendText(rid, ToUser("ana"), 1, "hi"));
  EXPECT_EQ(send.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_TRUE(HasText(send.error_message, "needs a device"));
  rid = next_rid_++;
  EXPECT_EQ(Ask(console, rid, Request().Hello(rid)).error_code, wire::ErrorCode::PermissionDenied);
  rid = next_rid_++;
  EXPECT_EQ(Ask(console, rid, Request().ConfirmWipe(rid)).error_code,
            wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(Errors(StatusCode::kPermissionDenied), denied_before + 3);
  // Nothing was sent to ana.
  EXPECT_TRUE(Deliveries(ana.Take()).empty());
}

TEST_F(ConsoleTest, ConsoleSessionReceivesNoDeliveriesAndNoEvents) {
  TestClient ana = AddUser("ana");
  TestClient ana_console = h_->Console(ana);
  std::uint64_t rid = next_rid_++;
  ASSERT_EQ(Ask(ana_console, rid, Request().ListConversations(rid)).type,
            wire::Body::ConversationList);
  ASSERT_EQ(SendText(admin_, ToUser("ana"), 1, "hello ana").type, wire::Body::SendAck);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(Deliveries(ana.Take()).size(), 1u);
  EXPECT_TRUE(ana_console.Take().empty());
}

TEST_F(ConsoleTest, DeactivatedOrUnknownUsersConsoleRequestsAreRefused) {
  TestClient ana = AddUser("ana", wire::Role::Admin);
  TestClient ana_console = h_->Console(ana);
  ASSERT_EQ(ListUsers(ana_console).type, wire::Body::UserList);
  std::uint64_t rid = next_rid_++;
  ASSERT_EQ(Ask(admin_, rid, Request().AdminDeactivateUser(rid, "ana")).type,
            wire::Body::OffboardingReply);
  Envelope after = ListUsers(ana_console);
  EXPECT_EQ(after.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_TRUE(HasText(after.error_message, "deactivated"));

  TestClient ghost = ana_console;
  ghost.connection = h_->NewConnectionId();
  ghost.zap_user_id = "c:999";
  EXPECT_EQ(ListUsers(ghost).error_code, wire::ErrorCode::PermissionDenied);
}

TEST_F(ConsoleTest, ConsoleServiceMaySendOnlyItsOwnRequests) {
  TestClient service = h_->ConsoleService();
  Envelope users = ListUsers(service);
  EXPECT_EQ(users.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_TRUE(HasText(users.error_message, "console service"));
  std::uint64_t rid = next_rid_++;
  EXPECT_EQ(Ask(service, rid, Request().SendText(rid, ToUser("admin"), 1, "x")).error_code,
            wire::ErrorCode::PermissionDenied);

  Envelope creds = Credentials(service, admin_.login);
  ASSERT_EQ(creds.type, wire::Body::ConsoleCredentialsReply) << creds.error_message;
  EXPECT_EQ(creds.user_id, admin_.user_id);
  EXPECT_EQ(creds.role, wire::Role::Admin);
  EXPECT_TRUE(creds.active);
  EXPECT_EQ(creds.password_hash, "");
  EXPECT_EQ(Credentials(service, "nobody").error_code, wire::ErrorCode::NotFound);

  // Neither a device nor a console user may ask for credentials.
  EXPECT_EQ(Credentials(admin_, admin_.login).error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(Credentials(h_->Console(admin_), admin_.login).error_code,
            wire::ErrorCode::PermissionDenied);
}

TEST_F(ConsoleTest, PasswordHashMustBeInteractiveArgon2id) {
  TestClient service = h_->ConsoleService();
  const std::uint64_t invalid_before = Errors(StatusCode::kInvalidArgument);
  Envelope plain = SetPassword(admin_, "admin", "hunter2");
  EXPECT_EQ(plain.error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_TRUE(HasText(plain.error_message, "argon2id"));

  char weak[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str_alg(weak, "correct horse battery", 21, crypto_pwhash_OPSLIMIT_MIN,
                                  crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13),
            0);
  EXPECT_EQ(SetPassword(admin_, "admin", weak).error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(Errors(StatusCode::kInvalidArgument), invalid_before + 2);
  EXPECT_EQ(Credentials(service, "admin").password_hash, "") << "a refused hash was stored";

  Result<std::string> hash = crypto::HashPassword("correct horse battery");
  ASSERT_TRUE(hash.ok());
  ASSERT_EQ(SetPassword(admin_, "admin", *hash).type, wire::Body::Done);
  Envelope creds = Credentials(service, "admin");
  EXPECT_EQ(creds.password_hash, *hash);
  EXPECT_TRUE(crypto::VerifyPassword(creds.password_hash, "correct horse battery"));
}

TEST_F(ConsoleTest, AdminsSetAnyonesPasswordUsersOnlyTheirOwn) {
  TestClient ana = AddUser("ana");
  TestClient ben = AddUser("ben");
  TestClient service = h_->ConsoleService();
  Result<std::string> hash = crypto::HashPassword("correct horse battery");
  ASSERT_TRUE(hash.ok());

  Envelope other = SetPassword(ana, "ben", *hash);
  EXPECT_EQ(other.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(Credentials(service, "ben").password_hash, "");
  EXPECT_EQ(SetPassword(ana, "ana", *hash).type, wire::Body::Done);
  EXPECT_EQ(SetPassword(ana, "", *hash).type, wire::Body::Done);  // empty login: oneself
  EXPECT_EQ(SetPassword(admin_, "ben", *hash).type, wire::Body::Done);
  EXPECT_EQ(SetPassword(admin_, "nobody", *hash).error_code, wire::ErrorCode::NotFound);
  EXPECT_EQ(Credentials(service, "ana").password_hash, *hash);
  EXPECT_EQ(Credentials(service, "ben").password_hash, *hash);

  // Cleared by an empty hash.
  EXPECT_EQ(SetPassword(admin_, "ben", "").type, wire::Body::Done);
  EXPECT_EQ(Credentials(service, "ben").password_hash, "");

  // Audited with who did it, never with the hash.
  std::vector<AuditView> set = AuditEntries("console.password_set");
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set[0].actor, "ana");
  EXPECT_EQ(set[0].target, "user:ana");
  EXPECT_EQ(set[2].actor, "admin");
  EXPECT_EQ(set[2].target, "user:ben");
  std::vector<AuditView> cleared = AuditEntries("console.password_cleared");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].target, "user:ben");
  for (const AuditView& e : set) {
    EXPECT_EQ(e.details.find("argon2"), std::string::npos) << e.details;
  }
}

TEST_F(ConsoleTest, PasswordSurvivesARestartAndDeactivationKeepsTheRecord) {
  TestClient ana = AddUser("ana", wire::Role::Auditor);
  Result<std::string> hash = crypto::HashPassword("correct horse battery");
  ASSERT_TRUE(hash.ok());
  ASSERT_EQ(SetPassword(admin_, "ana", *hash).type, wire::Body::Done);
  std::uint64_t rid = next_rid_++;
  ASSERT_EQ(Ask(admin_, rid, Request().AdminDeactivateUser(rid, "ana")).type,
            wire::Body::OffboardingReply);
  h_->Restart();
  TestClient service = h_->ConsoleService();
  Envelope creds = Credentials(service, "ana");
  ASSERT_EQ(creds.type, wire::Body::ConsoleCredentialsReply) << creds.error_message;
  EXPECT_EQ(creds.password_hash, *hash);
  EXPECT_FALSE(creds.active);
  EXPECT_EQ(creds.role, wire::Role::Auditor);
  EXPECT_EQ(creds.display_name, "ana");
}

TEST_F(ConsoleTest, ConsoleAuditRecordsSignInsInTheChainedLog) {
  TestClient service = h_->ConsoleService();
  ASSERT_EQ(ConsoleAudit(service, "signin", "admin", true).type, wire::Body::Done);
  ASSERT_EQ(ConsoleAudit(service, "signin_refused", "mallory", false).type, wire::Body::Done);
  Envelope bad = ConsoleAudit(service, "Sign In!", "admin", true);
  EXPECT_EQ(bad.error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(ConsoleAudit(service, "signin", std::string(200, 'x'), false).error_code,
            wire::ErrorCode::InvalidArgument);

  std::vector<AuditView> in = AuditEntries("console.signin");
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].actor, "admin");
  EXPECT_EQ(in[0].target, "user:admin");
  EXPECT_TRUE(HasText(in[0].details, "\"address\":\"192.0.2.7\""));
  EXPECT_TRUE(HasText(in[0].details, "\"via\":\"console\""));
  std::vector<AuditView> refused = AuditEntries("console.signin_refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].actor, "");
  EXPECT_EQ(refused[0].target, "user:mallory");
  EXPECT_TRUE(HasText(refused[0].details, "\"ok\":false"));

  std::uint64_t rid = next_rid_++;
  Envelope verify = Ask(admin_, rid, Request().AdminVerifyAudit(rid));
  ASSERT_EQ(verify.type, wire::Body::AuditVerifyReply);
  EXPECT_TRUE(verify.audit_whole) << verify.audit_message;
}

}  // namespace
}  // namespace chatpro::core::testing
