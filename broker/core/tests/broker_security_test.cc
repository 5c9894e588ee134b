// SPDX-License-Identifier: Apache-2.0
//
// Offboarding and security: deactivation and reactivation, device lists and
// revocation, wipe confirmations, roles, blocks, reports, edits and
// deletions, rate and connection limits, refused handshakes, the audit log.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/invite.h"
#include "broker/core/tests/broker_harness.h"

namespace chatpro::core::testing {
namespace {

// The derived enrollment public key of an invite.
std::string EnrollmentKey(const std::string& invite) {
  Result<Invite> parsed = ParseInvite(invite);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? crypto::DeriveEnrollmentKeyPair(parsed->code).public_key : std::string();
}

::testing::AssertionResult HasText(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

std::string Ids(const std::vector<std::uint64_t>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

class SecurityTest : public BrokerTest {
 protected:
  // Sends `request` (whose envelope `rid` is the one to answer) from `c`,
  // settles and takes the one reply to `rid`.
  Envelope Ask(const TestClient& c, std::uint64_t rid, Request& request) {
    c.Send(request);
    EXPECT_TRUE(Settle());
    return c.TakeReply(rid);
  }

  // The audit log as the admin reads it, oldest first; only `action` if given.
  std::vector<AuditView> AuditEntries(std::string_view action = "") {
    std::uint64_t rid = audit_rid_++;
    Envelope list = Ask(admin_, rid, Request().AdminListAudit(rid, 1, 1000));
    EXPECT_EQ(list.type, wire::Body::AuditList) << list.error_message;
    std::vector<AuditView> out;
    for (AuditView& e : list.audit) {
      if (action.empty() || e.action == action) out.push_back(std::move(e));
    }
    return out;
  }

  // The one audit entry with `action` and `target`; a test failure if there
  // is not exactly one.
  AuditView OneAuditEntry(std::string_view action, std::string_view target) {
    std::vector<AuditView> found;
    for (AuditView& e : AuditEntries(action)) {
      if (e.target == target) found.push_back(std::move(e));
    }
    if (found.size() != 1) {
      ADD_FAILURE() << "expected one audit entry " << action << " " << target << ", got "
                    << found.size();
      return AuditView();
    }
    return found.front();
  }

  // The peer of `c` goes away: the broker finds out on its next send and
  // drops the session.
  void Disconnect(const TestClient& c) {
    h_->transport().SetOutcome(c.connection, SendOutcome::kGone);
    std::uint64_t rid = audit_rid_++;
    c.Send(Request().Ping(rid).Finish());
    EXPECT_TRUE(Settle());
    EXPECT_TRUE(h_->transport().forgotten(c.connection));
  }

  // Enrolls a device with `invite` through a handshake and frames from
  // `address`, and returns a session of it that has said Hello.
  TestClient EnrollFrom(const std::string& invite, const std::string& address) {
    TestClient out;
    out.harness = h_.get();
    AuthDecision auth = h_->broker().Authenticate(EnrollmentKey(invite), address);
    if (!auth.allowed) {
      ADD_FAILURE() << "the invite was refused from " << address << ": " << auth.reason;
      return out;
    }
    TestClient enrolling;
    enrolling.harness = h_.get();
    enrolling.connection = h_->NewConnectionId();
    enrolling.zap_user_id = auth.user_id;
    enrolling.address = address;
    out.keys = crypto::GenerateKeyPair();
    std::uint64_t rid = audit_rid_++;
    Envelope reply = Ask(enrolling, rid, Request().Enroll(rid, out.keys.public_key));
    if (reply.type != wire::Body::EnrollReply) {
      ADD_FAILURE() << "enrollment failed: " << reply.error_message;
      return out;
    }
    AuthDecision device = h_->broker().Authenticate(out.keys.public_key, address);
    EXPECT_TRUE(device.allowed) << device.reason;
    out.zap_user_id = device.user_id;
    out.address = address;
    out.login = reply.login;
    out.user_id = reply.user_id;
    out.device_id = reply.device_id;
    return h_->Reconnect(out);
  }

  // A user about to leave: two online devices, an invite for a third, a
  // group only they own (with `colleague` in it), a group message and a
  // direct message to `colleague`.
  struct Leaver {
    TestClient laptop;
    TestClient phone;
    std::string pending_invite;
    std::uint64_t group = 0;
    std::uint64_t direct = 0;
  };
  Leaver MakeLeaver(std::string_view login, const TestClient& colleague) {
    Leaver l;
    l.laptop = AddUser(login);
    l.phone = h_->AddDevice(l.laptop);
    Envelope invite = Ask(l.laptop, 900, Request().CreateInvite(900));
    EXPECT_EQ(invite.type, wire::Body::InviteReply) << invite.error_message;
    l.pending_invite = invite.invite;
    l.group = CreateGroup(l.laptop, "night shift", {colleague.login});
    EXPECT_EQ(SendText(l.laptop, Conv(l.group), 1, "handover notes").seq, 1u);
    l.direct =
        SendText(l.phone, ToUser(colleague.login), 2, "the keys are in the drawer").conversation_id;
    EXPECT_NE(l.direct, 0u);
    for (const TestClient* c :
         std::vector<const TestClient*>{&l.laptop, &l.phone, &colleague, &admin_}) {
      c->Take();
    }
    return l;
  }

  std::uint64_t audit_rid_ = 500'000;
};

using SecurityOffboarding = SecurityTest;
using SecurityRoles = SecurityTest;
using SecurityDevices = SecurityTest;
using SecurityBlocks = SecurityTest;
using SecurityReports = SecurityTest;
using SecurityEdits = SecurityTest;
using SecurityRateLimits = SecurityTest;
using SecurityConnections = SecurityTest;
using SecurityAudit = SecurityTest;

// ------------------------------------------------------------------ deactivation

TEST_F(SecurityOffboarding, DeactivationTellsEverySessionAtOnceAndReportsWhatItCut) {
  TestClient alice = AddUser("alice");
  Leaver bob = MakeLeaver("bob", alice);

  Envelope reply = Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob"));
  ASSERT_EQ(reply.type, wire::Body::OffboardingReply) << reply.error_message;
  EXPECT_EQ(reply.login, "bob");
  EXPECT_EQ(reply.asked_at_us, h_->clock().NowMicros());
  EXPECT_EQ(reply.devices_revoked, 2u);
  EXPECT_EQ(reply.sessions_closed, 2u);
  EXPECT_EQ(reply.invites_cancelled, 1u);
  EXPECT_EQ(reply.last_session_closed_at_us, h_->clock().NowMicros());

  // Both sessions were told in the same settle, and told nothing else.
  for (const TestClient* s : {&bob.laptop, &bob.phone}) {
    std::vector<Envelope> got = s->Take();
    ASSERT_EQ(got.size(), 1u) << s->device_id;
    EXPECT_EQ(got[0].type, wire::Body::Revoked);
    EXPECT_EQ(got[0].request_id, 0u);
    EXPECT_TRUE(got[0].wipe);
    EXPECT_FALSE(got[0].revoked_reason.empty());
  }

  // The handshake refuses both device keys and the cancelled invite.
  for (const TestClient* s : {&bob.laptop, &bob.phone}) {
    AuthDecision d = h_->broker().Authenticate(s->keys.public_key, "10.20.0.1");
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.reason, "device revoked");
  }
  EXPECT_FALSE(h_->broker().Authenticate(EnrollmentKey(bob.pending_invite), "10.20.0.1").allowed);
  EXPECT_TRUE(h_->broker().Authenticate(alice.keys.public_key, "10.20.0.1").allowed);

  // The user list shows bob inactive, with no active device.
  Envelope users = Ask(admin_, 2, Request().AdminListUsers(2));
  ASSERT_EQ(users.type, wire::Body::UserList);
  auto it = std::find_if(users.users.begin(), users.users.end(),
                         [](const UserView& u) { return u.login == "bob"; });
  ASSERT_NE(it, users.users.end());
  EXPECT_FALSE(it->active);
  EXPECT_EQ(it->devices, 0u);
}

TEST_F(SecurityOffboarding, LeaverGetsNothingSentAfterTheDeactivation) {
  TestClient alice = AddUser("alice");
  AddUser("carol");
  Leaver bob = MakeLeaver("bob", alice);
  ASSERT_EQ(Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob")).type,
            wire::Body::OffboardingReply);
  bob.laptop.Take();
  bob.phone.Take();

  EXPECT_EQ(SendText(alice, Conv(bob.group), 10, "who has the keys?").type, wire::Body::SendAck);
  // A direct message to someone who left is refused outright.
  Envelope to_leaver = SendText(alice, Conv(bob.direct), 11, "are you there?");
  EXPECT_EQ(to_leaver.error_code, wire::ErrorCode::FailedPrecondition);
  EXPECT_TRUE(HasText(to_leaver.error_message, "left the organisation"));
  // Alice owns the group now; a membership change is not told to bob either.
  EXPECT_EQ(Ask(alice, 2, Request().AddMembers(2, bob.group, {"carol"})).type,
            wire::Body::ConversationInfo);
  ASSERT_TRUE(h_->SettleCursors());
  EXPECT_TRUE(bob.laptop.Take().empty());
  EXPECT_TRUE(bob.phone.Take().empty());
  EXPECT_EQ(Deliveries(alice.Take()).size(), 1u);
}

TEST_F(SecurityOffboarding, RevokedSessionIsRefusedEverythingButConfirmWipeWhichEndsIt) {
  TestClient alice = AddUser("alice");
  Leaver bob = MakeLeaver("bob", alice);
  ASSERT_EQ(Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob")).type,
            wire::Body::OffboardingReply);
  bob.laptop.Take();
  std::int64_t sessions = h_->broker().stats().sessions.load();

  bob.laptop.Send(Request()
                      .Hello(1)
                      .SendText(2, Conv(bob.group), 3, "one last thing")
                      .History(3, bob.group, 0, 10, true)
                      .Ping(4)
                      .ListConversations(5)
                      .CreateInvite(6)
                      .ListDevices(7)
                      .Block(8, "alice")
                      .Ack({{bob.group, 1}})
                      .Finish());
  ASSERT_TRUE(Settle());
  std::vector<Envelope> got = bob.laptop.Take();
  ASSERT_EQ(got.size(), 9u);
  for (const Envelope& e : got) {
    EXPECT_EQ(e.type, wire::Body::Error) << e.request_id;
    EXPECT_EQ(e.error_code, wire::ErrorCode::PermissionDenied) << e.request_id;
  }
  EXPECT_FALSE(h_->transport().forgotten(bob.laptop.connection));
  EXPECT_TRUE(Deliveries(alice.Take()).empty()) << "a revoked device posted";

  Envelope done = Ask(bob.laptop, 9, Request().ConfirmWipe(9));
  EXPECT_EQ(done.type, wire::Body::Done) << done.error_message;
  EXPECT_TRUE(h_->transport().forgotten(bob.laptop.connection));
  EXPECT_EQ(h_->broker().stats().sessions.load(), sessions - 1);
  EXPECT_FALSE(h_->transport().forgotten(bob.phone.connection));
}

TEST_F(SecurityOffboarding, RevokedSessionAcceptsOnlyOneConfirmWipe) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  ASSERT_EQ(Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob")).type,
            wire::Body::OffboardingReply);
  bob.Take();
  bob.Send(Request().ConfirmWipe(1).ConfirmWipe(2).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(bob.TakeReply(1).type, wire::Body::Done);
  EXPECT_EQ(bob.TakeReply(2).type, wire::Body::Error);
  EXPECT_EQ(AuditEntries("device.wipe_confirmed").size(), 1u);
}

TEST_F(SecurityOffboarding, ConfirmWipeFromADeviceThatIsNotRevokedIsRefused) {
  TestClient alice = AddUser("alice");
  EXPECT_EQ(Ask(alice, 1, Request().ConfirmWipe(1)).error_code,
            wire::ErrorCode::FailedPrecondition);
  EXPECT_FALSE(h_->transport().forgotten(alice.connection));
  EXPECT_EQ(Ask(alice, 2, Request().Ping(2)).type, wire::Body::Pong);
}

TEST_F(SecurityOffboarding, ConnectionAcceptedBeforeTheDeactivationIsToldOnItsFirstFrame) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendText(alice, ToUser("bob"), 1, "hi").conversation_id;
  // The handshake of a new connection passed just before the deactivation.
  AuthDecision early = h_->broker().Authenticate(bob.keys.public_key, "127.0.0.1");
  ASSERT_TRUE(early.allowed);
  TestClient late = bob;
  late.connection = h_->NewConnectionId();
  late.zap_user_id = early.user_id;
  ASSERT_EQ(Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob")).type,
            wire::Body::OffboardingReply);

  late.Send(Request().Hello(1).Finish());
  ASSERT_TRUE(Settle());
  std::vector<Envelope> got = late.Take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, wire::Body::Revoked);
  EXPECT_EQ(got[0].request_id, 0u);
  EXPECT_EQ(got[1].request_id, 1u);
  EXPECT_EQ(got[1].error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(SendText(alice, Conv(direct), 2, "gone?").error_code,
            wire::ErrorCode::FailedPrecondition);
  EXPECT_TRUE(late.Take().empty());
  EXPECT_EQ(Ask(late, 2, Request().ConfirmWipe(2)).type, wire::Body::Done);
  EXPECT_TRUE(h_->transport().forgotten(late.connection));
}

TEST_F(SecurityOffboarding, LeavingOwnerHandsTheGroupToAnActiveMember) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  TestClient carol = AddUser("carol");
  std::uint64_t group = CreateGroup(alice, "team", {"bob", "carol"});
  ASSERT_EQ(Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob")).type,
            wire::Body::OffboardingReply);
  carol.Take();

  EXPECT_EQ(Ask(alice, 2, Request().LeaveGroup(2, group)).type, wire::Body::Done);
  std::vector<Envelope> infos = OfType(carol.Take(), wire::Body::ConversationInfo);
  ASSERT_FALSE(infos.empty());
  EXPECT_TRUE(infos.back().conversation.IsOwner("carol"));
  EXPECT_FALSE(infos.back().conversation.IsOwner("bob"));
}

TEST_F(SecurityOffboarding, WhatALeaverSentStaysAndTheirGroupsKeepAnOwner) {
  TestClient alice = AddUser("alice");
  Leaver bob = MakeLeaver("bob", alice);
  ASSERT_EQ(Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob")).type,
            wire::Body::OffboardingReply);

  // Alice, the longest-standing active member, owns bob's group now and is told.
  std::vector<Envelope> infos = OfType(alice.Take(), wire::Body::ConversationInfo);
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].request_id, 0u);
  EXPECT_EQ(infos[0].conversation.id, bob.group);
  EXPECT_TRUE(infos[0].conversation.IsOwner("alice"));
  EXPECT_TRUE(infos[0].conversation.HasMember("bob"));

  Envelope group = Ask(alice, 2, Request().History(2, bob.group, 0, 50, true));
  ASSERT_EQ(group.history.size(), 1u);
  EXPECT_EQ(group.history[0].sender_login, "bob");
  EXPECT_EQ(group.history[0].text, "handover notes");
  Envelope direct = Ask(alice, 3, Request().History(3, bob.direct, 0, 50, true));
  ASSERT_EQ(direct.history.size(), 1u);
  EXPECT_EQ(direct.history[0].text, "the keys are in the drawer");
  // And she can act as owner.
  AddUser("carol");
  EXPECT_EQ(Ask(alice, 4, Request().AddMembers(4, bob.group, {"carol"})).type,
            wire::Body::ConversationInfo);
}

TEST_F(SecurityOffboarding, DeactivationIsAuditedAndClosedOnceEveryDeviceConfirmedItsWipe) {
  TestClient alice = AddUser("alice");
  Leaver bob = MakeLeaver("bob", alice);
  std::int64_t asked_at = h_->clock().NowMicros();
  ASSERT_EQ(Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob")).type,
            wire::Body::OffboardingReply);

  AuditView deactivate = OneAuditEntry("user.deactivate", "user:bob");
  EXPECT_EQ(deactivate.actor, "admin");
  EXPECT_TRUE(HasText(deactivate.details, "\"asked_at_us\":" + std::to_string(asked_at)));
  EXPECT_TRUE(HasText(deactivate.details,
                      "\"devices_revoked\":" + Ids({bob.laptop.device_id, bob.phone.device_id})));
  EXPECT_TRUE(HasText(deactivate.details, "\"sessions_closed\":2"));
  EXPECT_TRUE(HasText(deactivate.details, "\"invites_cancelled\":1"));
  EXPECT_TRUE(HasText(deactivate.details, "\"groups_with_new_owner\":" + Ids({bob.group})));
  EXPECT_TRUE(AuditEntries("offboarding.closed").empty());

  h_->clock().Advance(2 * kMicrosPerSecond);
  EXPECT_EQ(Ask(bob.laptop, 2, Request().ConfirmWipe(2)).type, wire::Body::Done);
  EXPECT_TRUE(AuditEntries("offboarding.closed").empty()) << "closed before the phone confirmed";
  h_->clock().Advance(3 * kMicrosPerSecond);
  EXPECT_EQ(Ask(bob.phone, 3, Request().ConfirmWipe(3)).type, wire::Body::Done);

  AuditView closed = OneAuditEntry("offboarding.closed", "user:bob");
  EXPECT_EQ(closed.actor, "admin");
  EXPECT_TRUE(HasText(closed.details, "\"devices_confirmed_wipe\":" +
                                          Ids({bob.laptop.device_id, bob.phone.device_id})));
  EXPECT_TRUE(HasText(closed.details, "\"devices_not_confirmed\":[]"));
  EXPECT_TRUE(HasText(closed.details, "\"" + std::to_string(bob.phone.device_id) +
                                          "\":" + std::to_string(h_->clock().NowMicros())));
  EXPECT_EQ(AuditEntries("device.wipe_confirmed").size(), 2u);
}

TEST_F(SecurityOffboarding, UnconfirmedDeviceIsDroppedAndRecordedAfterTheWipeWait) {
  TestClient alice = AddUser("alice");
  Leaver bob = MakeLeaver("bob", alice);
  ASSERT_EQ(Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob")).type,
            wire::Body::OffboardingReply);
  EXPECT_EQ(Ask(bob.laptop, 2, Request().ConfirmWipe(2)).type, wire::Body::Done);

  const std::int64_t wait = h_->options().wipe_confirmation_wait_us;
  h_->clock().Advance(wait - kMicrosPerSecond);
  h_->broker().OnTick();
  ASSERT_TRUE(Settle());
  EXPECT_FALSE(h_->transport().forgotten(bob.phone.connection)) << "dropped before the wait";
  EXPECT_TRUE(AuditEntries("offboarding.closed").empty());

  h_->clock().Advance(2 * kMicrosPerSecond);
  h_->broker().OnTick();
  ASSERT_TRUE(Settle());
  EXPECT_TRUE(h_->transport().forgotten(bob.phone.connection));
  AuditView closed = OneAuditEntry("offboarding.closed", "user:bob");
  EXPECT_TRUE(HasText(closed.details, "\"devices_confirmed_wipe\":" + Ids({bob.laptop.device_id})));
  EXPECT_TRUE(HasText(closed.details, "\"devices_not_confirmed\":" + Ids({bob.phone.device_id})));
  // The others' sessions were not silent long enough to be dropped.
  EXPECT_FALSE(h_->transport().forgotten(alice.connection));
}

TEST_F(SecurityOffboarding, ClosingRecordListsAnOfflineDeviceAsNotConfirmed) {
  TestClient alice = AddUser("alice");
  Leaver bob = MakeLeaver("bob", alice);
  Disconnect(bob.phone);
  Envelope reply = Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob"));
  ASSERT_EQ(reply.type, wire::Body::OffboardingReply);
  EXPECT_EQ(reply.devices_revoked, 2u);
  EXPECT_EQ(reply.sessions_closed, 1u);
  EXPECT_EQ(Ask(bob.laptop, 2, Request().ConfirmWipe(2)).type, wire::Body::Done);
  h_->clock().Advance(h_->options().wipe_confirmation_wait_us + kMicrosPerSecond);
  h_->broker().OnTick();
  ASSERT_TRUE(Settle());

  AuditView closed = OneAuditEntry("offboarding.closed", "user:bob");
  EXPECT_TRUE(HasText(closed.details, "\"devices_confirmed_wipe\":" + Ids({bob.laptop.device_id})));
  EXPECT_TRUE(HasText(closed.details, "\"devices_not_confirmed\":" + Ids({bob.phone.device_id})));
}

TEST_F(SecurityOffboarding, ReactivatedUserEnrollsAFreshDeviceAndOldKeysStayRefused) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendText(alice, ToUser("bob"), 1, "welcome").conversation_id;
  alice.Take();
  ASSERT_EQ(Ask(admin_, 1, Request().AdminDeactivateUser(1, "bob")).type,
            wire::Body::OffboardingReply);
  EXPECT_EQ(Ask(admin_, 2, Request().AdminDeactivateUser(2, "bob")).error_code,
            wire::ErrorCode::FailedPrecondition);
  EXPECT_EQ(Ask(bob, 3, Request().ConfirmWipe(3)).type, wire::Body::Done);

  Envelope invite = Ask(admin_, 4, Request().AdminReactivateUser(4, "bob"));
  ASSERT_EQ(invite.type, wire::Body::InviteReply) << invite.error_message;
  EXPECT_EQ(invite.login, "bob");
  EXPECT_EQ(invite.expires_at_us, h_->clock().NowMicros() + h_->options().invite_ttl_us);
  EXPECT_EQ(Ask(admin_, 5, Request().AdminReactivateUser(5, "bob")).error_code,
            wire::ErrorCode::FailedPrecondition);
  EXPECT_EQ(Ask(admin_, 6, Request().AdminReactivateUser(6, "nobody")).error_code,
            wire::ErrorCode::NotFound);
  EXPECT_EQ(Ask(admin_, 8, Request().AdminDeactivateUser(8, "nobody")).error_code,
            wire::ErrorCode::NotFound);

  AuthDecision old_key = h_->broker().Authenticate(bob.keys.public_key, "10.20.0.1");
  EXPECT_FALSE(old_key.allowed);
  EXPECT_EQ(old_key.reason, "device revoked");

  TestClient fresh = h_->Enroll(invite.invite, "new phone");
  EXPECT_EQ(fresh.user_id, bob.user_id);
  EXPECT_NE(fresh.device_id, bob.device_id);
  EXPECT_FALSE(h_->broker().Authenticate(bob.keys.public_key, "10.20.0.1").allowed);
  // The new device reads the history and chats again, both ways.
  EXPECT_EQ(DeliveredSeqs(fresh.Take(), direct), SeqRange(1, 1));
  EXPECT_EQ(SendText(fresh, Conv(direct), 1, "back again").seq, 2u);
  EXPECT_EQ(DeliveredSeqs(alice.Take(), direct), SeqRange(2, 2));
  EXPECT_EQ(SendText(alice, ToUser("bob"), 2, "good to see you").seq, 3u);
  EXPECT_EQ(DeliveredSeqs(fresh.Take(), direct), SeqRange(2, 3));

  Envelope users = Ask(admin_, 7, Request().AdminListUsers(7));
  for (const UserView& u : users.users) {
    if (u.login != "bob") continue;
    EXPECT_TRUE(u.active);
    EXPECT_EQ(u.devices, 1u);
  }
  AuditView reactivate = OneAuditEntry("user.reactivate", "user:bob");
  EXPECT_EQ(reactivate.actor, "admin");
}

// ------------------------------------------------------------------ roles

TEST_F(SecurityRoles, PlainUserCannotOffboardRevokeOrAdministrate) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  alice.Send(Request()
                 .AdminDeactivateUser(1, "bob")
                 .AdminReactivateUser(2, "bob")
                 .RevokeDevice(3, "bob", bob.device_id)
                 .RevokeDevice(4, "", bob.device_id)
                 .AdminAddUser(5, "eve", "Eve")
                 .AdminListUsers(6)
                 .ListDevices(7, "bob")
                 .AdminListReports(8)
                 .AdminListAudit(9)
                 .AdminVerifyAudit(10)
                 .AdminDeactivateUser(11, "admin")
                 .Finish());
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 1; rid <= 11; ++rid) {
    EXPECT_EQ(alice.TakeReply(rid).error_code, wire::ErrorCode::PermissionDenied) << rid;
  }
  // Bob was not touched.
  EXPECT_TRUE(OfType(bob.Take(), wire::Body::Revoked).empty());
  EXPECT_TRUE(h_->broker().Authenticate(bob.keys.public_key, "10.20.0.1").allowed);
  EXPECT_TRUE(AuditEntries("user.deactivate").empty());
  EXPECT_TRUE(AuditEntries("device.revoke").empty());
}

TEST_F(SecurityRoles, AuditorMayReadButNotChangeAnything) {
  TestClient auditor = AddUser("audit", wire::Role::Auditor);
  TestClient bob = AddUser("bob");
  auditor.Send(Request()
                   .AdminListUsers(1)
                   .AdminListAudit(2)
                   .AdminListReports(3)
                   .AdminVerifyAudit(4)
                   .AdminDeactivateUser(5, "bob")
                   .AdminReactivateUser(6, "bob")
                   .RevokeDevice(7, "bob", bob.device_id)
                   .AdminAddUser(8, "eve", "Eve")
                   .CreateInvite(9, "bob")
                   .ListDevices(10, "bob")
                   .Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(auditor.TakeReply(1).type, wire::Body::UserList);
  EXPECT_EQ(auditor.TakeReply(2).type, wire::Body::AuditList);
  EXPECT_EQ(auditor.TakeReply(3).type, wire::Body::ReportList);
  Envelope verify = auditor.TakeReply(4);
  EXPECT_EQ(verify.type, wire::Body::AuditVerifyReply);
  EXPECT_TRUE(verify.audit_whole);
  for (std::uint64_t rid = 5; rid <= 10; ++rid) {
    EXPECT_EQ(auditor.TakeReply(rid).error_code, wire::ErrorCode::PermissionDenied) << rid;
  }
  EXPECT_TRUE(OfType(bob.Take(), wire::Body::Revoked).empty());
  EXPECT_TRUE(h_->broker().Authenticate(bob.keys.public_key, "10.20.0.1").allowed);
  // What the auditor read is itself recorded.
  std::vector<AuditView> reads = AuditEntries("audit.list");
  ASSERT_FALSE(reads.empty());
  EXPECT_EQ(reads.front().actor, "audit");
}

TEST_F(SecurityRoles, LastActiveAdministratorCannotBeDeactivated) {
  Envelope self = Ask(admin_, 1, Request().AdminDeactivateUser(1, "admin"));
  EXPECT_EQ(self.error_code, wire::ErrorCode::FailedPrecondition);
  EXPECT_TRUE(HasText(self.error_message, "last active administrator"));
  EXPECT_TRUE(h_->broker().Authenticate(admin_.keys.public_key, "10.20.0.1").allowed);

  // With a second administrator the first may go, but then not the second.
  TestClient second = AddUser("admin2", wire::Role::Admin);
  EXPECT_EQ(Ask(second, 2, Request().AdminDeactivateUser(2, "admin")).type,
            wire::Body::OffboardingReply);
  Envelope last = Ask(second, 3, Request().AdminDeactivateUser(3, "admin2"));
  EXPECT_EQ(last.error_code, wire::ErrorCode::FailedPrecondition);
  EXPECT_TRUE(h_->broker().Authenticate(second.keys.public_key, "10.20.0.1").allowed);
}

// ------------------------------------------------------------------ devices

TEST_F(SecurityDevices, OwnDeviceListShowsCreationLastSeenVersionAddressAndOnline) {
  const std::int64_t enrolled_at = h_->clock().NowMicros();
  TestClient laptop = AddUser("alice");
  TestClient phone = h_->AddDevice(laptop);
  h_->clock().Advance(10 * kMicrosPerSecond);
  EXPECT_EQ(Ask(laptop, 1, Request().Hello(1, true, "chatpro-desktop/3.1")).type,
            wire::Body::HelloReply);

  Envelope list = Ask(laptop, 2, Request().ListDevices(2));
  ASSERT_EQ(list.type, wire::Body::DeviceList) << list.error_message;
  EXPECT_EQ(list.login, "alice");
  ASSERT_EQ(list.devices.size(), 2u);
  const DeviceView& l = list.devices[0];
  EXPECT_EQ(l.id, laptop.device_id);
  EXPECT_EQ(l.name, "test device");
  EXPECT_EQ(l.client_version, "chatpro-desktop/3.1");
  EXPECT_EQ(l.created_at_us, enrolled_at);
  EXPECT_EQ(l.last_seen_us, enrolled_at + 10 * kMicrosPerSecond);
  EXPECT_EQ(l.last_address, "127.0.0.1");
  EXPECT_TRUE(l.active);
  EXPECT_EQ(l.revoked_at_us, 0);
  EXPECT_TRUE(l.online);
  const DeviceView& p = list.devices[1];
  EXPECT_EQ(p.id, phone.device_id);
  EXPECT_EQ(p.name, "second device");
  EXPECT_EQ(p.client_version, "test/1");
  EXPECT_EQ(p.last_seen_us, enrolled_at);
  EXPECT_TRUE(p.online);

  // Offline, the device keeps when and where it was last seen (its last
  // frame, sent just before it went away).
  h_->clock().Advance(5 * kMicrosPerSecond);
  Disconnect(phone);
  h_->clock().Advance(5 * kMicrosPerSecond);
  list = Ask(laptop, 3, Request().ListDevices(3, "alice"));
  ASSERT_EQ(list.devices.size(), 2u);
  EXPECT_FALSE(list.devices[1].online);
  EXPECT_TRUE(list.devices[1].active);
  EXPECT_EQ(list.devices[1].last_seen_us, enrolled_at + 15 * kMicrosPerSecond);
  EXPECT_EQ(list.devices[1].last_address, "127.0.0.1");
}

TEST_F(SecurityDevices, LongDeviceNameIsCutAtACharacterBoundary) {
  Envelope invite = Ask(admin_, 1, Request().AdminAddUser(1, "alice", ""));
  ASSERT_EQ(invite.type, wire::Body::InviteReply);
  std::string name;
  for (int i = 0; i < 30; ++i) name += "€";  // 90 bytes; byte 64 is mid-character
  TestClient alice = h_->Enroll(invite.invite, name);

  Envelope list = Ask(alice, 2, Request().ListDevices(2));
  ASSERT_EQ(list.devices.size(), 1u);
  EXPECT_TRUE(IsValidUtf8(list.devices[0].name));
  EXPECT_EQ(name.rfind(list.devices[0].name, 0), 0u);
}

TEST_F(SecurityDevices, ClientVersionFromHelloIsKeptOnlyAsValidUtf8) {
  TestClient alice = AddUser("alice");
  alice.Send(Request().Hello(1, true, "client\xff").Finish());
  ASSERT_TRUE(Settle());
  alice.TakeReply(1);  // refused or accepted; either way the list stays valid
  Envelope list = Ask(alice, 2, Request().ListDevices(2));
  ASSERT_EQ(list.devices.size(), 1u);
  EXPECT_TRUE(IsValidUtf8(list.devices[0].client_version));
}

TEST_F(SecurityDevices, OnlyAdministratorsListOtherPeoplesDevicesAndThatIsAudited) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  EXPECT_EQ(Ask(bob, 1, Request().ListDevices(1, "alice")).error_code,
            wire::ErrorCode::PermissionDenied);
  EXPECT_TRUE(AuditEntries("device.list").empty());

  Envelope list = Ask(admin_, 2, Request().ListDevices(2, "alice"));
  ASSERT_EQ(list.type, wire::Body::DeviceList) << list.error_message;
  EXPECT_EQ(list.login, "alice");
  ASSERT_EQ(list.devices.size(), 1u);
  EXPECT_EQ(list.devices[0].id, alice.device_id);
  EXPECT_EQ(Ask(admin_, 3, Request().ListDevices(3, "nobody")).error_code,
            wire::ErrorCode::NotFound);
  AuditView listed = OneAuditEntry("device.list", "user:alice");
  EXPECT_EQ(listed.actor, "admin");
}

TEST_F(SecurityDevices, RevokingALostDeviceCutsOnlyThatDevice) {
  TestClient laptop = AddUser("alice");
  TestClient phone = h_->AddDevice(laptop);
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendText(bob, ToUser("alice"), 1, "hi").conversation_id;
  for (const TestClient* c : {&laptop, &phone, &bob}) c->Take();

  Envelope done = Ask(laptop, 1, Request().RevokeDevice(1, "alice", phone.device_id));
  ASSERT_EQ(done.type, wire::Body::Done) << done.error_message;
  std::vector<Envelope> told = phone.Take();
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].type, wire::Body::Revoked);
  EXPECT_TRUE(told[0].wipe);
  EXPECT_TRUE(OfType(laptop.Take(), wire::Body::Revoked).empty());
  EXPECT_EQ(h_->broker().Authenticate(phone.keys.public_key, "10.20.0.1").reason, "device revoked");
  EXPECT_TRUE(h_->broker().Authenticate(laptop.keys.public_key, "10.20.0.1").allowed);

  // The laptop goes on; the phone gets nothing more.
  EXPECT_EQ(SendText(bob, Conv(direct), 2, "still there?").seq, 2u);
  EXPECT_EQ(DeliveredSeqs(laptop.Take(), direct), SeqRange(2, 2));
  EXPECT_TRUE(phone.Take().empty());
  EXPECT_EQ(SendText(laptop, Conv(direct), 3, "yes, lost my phone").seq, 3u);
  EXPECT_EQ(Ask(phone, 2, Request().Ping(2)).error_code, wire::ErrorCode::PermissionDenied);

  Envelope list = Ask(laptop, 3, Request().ListDevices(3));
  ASSERT_EQ(list.devices.size(), 2u);
  EXPECT_TRUE(list.devices[0].active);
  EXPECT_FALSE(list.devices[1].active);
  EXPECT_FALSE(list.devices[1].online);
  EXPECT_EQ(list.devices[1].revoked_at_us, h_->clock().NowMicros());

  AuditView revoke = OneAuditEntry("device.revoke", "device:" + std::to_string(phone.device_id));
  EXPECT_EQ(revoke.actor, "alice");
  EXPECT_TRUE(HasText(revoke.details, "\"by_owner\":true"));
  EXPECT_TRUE(HasText(revoke.details, "\"sessions_closed\":1"));
  EXPECT_EQ(Ask(phone, 4, Request().ConfirmWipe(4)).type, wire::Body::Done);
  EXPECT_TRUE(h_->transport().forgotten(phone.connection));
  AuditView closed =
      OneAuditEntry("offboarding.closed", "device:" + std::to_string(phone.device_id));
  EXPECT_TRUE(HasText(closed.details, "\"devices_confirmed_wipe\":" + Ids({phone.device_id})));
  EXPECT_EQ(Ask(laptop, 5, Request().RevokeDevice(5, "alice", phone.device_id)).error_code,
            wire::ErrorCode::FailedPrecondition);
}

TEST_F(SecurityDevices, PlainUserCannotRevokeSomeoneElsesDevice) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  bob.Send(Request()
               .RevokeDevice(1, "alice", alice.device_id)
               .RevokeDevice(2, "", alice.device_id)
               .RevokeDevice(3, "bob", alice.device_id)
               .Finish());
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 1; rid <= 3; ++rid) {
    EXPECT_EQ(bob.TakeReply(rid).error_code, wire::ErrorCode::PermissionDenied) << rid;
  }
  EXPECT_TRUE(OfType(alice.Take(), wire::Body::Revoked).empty());
  EXPECT_TRUE(h_->broker().Authenticate(alice.keys.public_key, "10.20.0.1").allowed);
  EXPECT_EQ(SendText(alice, ToUser("bob"), 1, "still here").type, wire::Body::SendAck);

  // An administrator may; the device is told who did it.
  EXPECT_EQ(Ask(admin_, 4, Request().RevokeDevice(4, "bob", alice.device_id)).error_code,
            wire::ErrorCode::NotFound);
  EXPECT_EQ(Ask(admin_, 5, Request().RevokeDevice(5, "alice", alice.device_id)).type,
            wire::Body::Done);
  std::vector<Envelope> revoked = OfType(alice.Take(), wire::Body::Revoked);
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_TRUE(HasText(revoked[0].revoked_reason, "administrator"));
  AuditView revoke = OneAuditEntry("device.revoke", "device:" + std::to_string(alice.device_id));
  EXPECT_EQ(revoke.actor, "admin");
  EXPECT_TRUE(HasText(revoke.details, "\"by_owner\":false"));
}

// ------------------------------------------------------------------ blocks

TEST_F(SecurityBlocks, BlockStopsDirectMessagesBothWaysButNotGroupMessages) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t group = CreateGroup(alice, "team", {"bob"});
  std::uint64_t direct = SendText(bob, ToUser("alice"), 1, "hello").conversation_id;
  alice.Take();
  bob.Take();

  EXPECT_EQ(Ask(alice, 1, Request().Block(1, "bob")).type, wire::Body::Done);
  Envelope from_bob = SendText(bob, ToUser("alice"), 2, "why not?");
  EXPECT_EQ(from_bob.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_TRUE(HasText(from_bob.error_message, "alice does not accept messages"));
  EXPECT_EQ(SendText(bob, Conv(direct), 3, "by id").error_code, wire::ErrorCode::PermissionDenied);
  Envelope from_alice = SendText(alice, ToUser("bob"), 1, "one more thing");
  EXPECT_EQ(from_alice.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_TRUE(HasText(from_alice.error_message, "you blocked bob"));
  EXPECT_TRUE(Deliveries(alice.Take()).empty());
  EXPECT_TRUE(Deliveries(bob.Take()).empty());

  // The group is not a direct conversation: both still post there.
  EXPECT_EQ(SendText(bob, Conv(group), 4, "in the team").seq, 1u);
  EXPECT_EQ(SendText(alice, Conv(group), 2, "noted").seq, 2u);
  EXPECT_EQ(DeliveredSeqs(alice.Take(), group), SeqRange(1, 2));
  EXPECT_EQ(DeliveredSeqs(bob.Take(), group), SeqRange(1, 2));

  Envelope blocked = Ask(alice, 2, Request().ListBlocked(2));
  ASSERT_EQ(blocked.type, wire::Body::UserList);
  ASSERT_EQ(blocked.users.size(), 1u);
  EXPECT_EQ(blocked.users[0].login, "bob");
  EXPECT_TRUE(Ask(bob, 3, Request().ListBlocked(3)).users.empty());
  EXPECT_EQ(Ask(alice, 4, Request().Block(4, "alice")).error_code,
            wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(Ask(alice, 5, Request().Block(5, "nobody")).error_code, wire::ErrorCode::NotFound);
}

TEST_F(SecurityBlocks, UnblockRestoresDirectMessages) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendText(bob, ToUser("alice"), 1, "hello").conversation_id;
  EXPECT_EQ(Ask(alice, 1, Request().Block(1, "bob")).type, wire::Body::Done);
  EXPECT_EQ(SendText(bob, ToUser("alice"), 2, "blocked").error_code,
            wire::ErrorCode::PermissionDenied);
  alice.Take();
  bob.Take();

  EXPECT_EQ(Ask(alice, 2, Request().Unblock(2, "bob")).type, wire::Body::Done);
  EXPECT_TRUE(Ask(alice, 3, Request().ListBlocked(3)).users.empty());
  EXPECT_EQ(SendText(bob, ToUser("alice"), 3, "friends again?").seq, 2u);
  EXPECT_EQ(SendText(alice, Conv(direct), 1, "yes").seq, 3u);
  EXPECT_EQ(DeliveredSeqs(alice.Take(), direct), SeqRange(2, 3));
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(2, 3));
}

TEST_F(SecurityBlocks, RefusedMessageToABlockerOpensNoConversation) {
  TestClient alice = AddUser("alice");
  TestClient mallory = AddUser("mallory");
  EXPECT_EQ(Ask(alice, 1, Request().Block(1, "mallory")).type, wire::Body::Done);
  alice.Take();

  EXPECT_EQ(SendText(mallory, ToUser("alice"), 1, "you cannot hide").error_code,
            wire::ErrorCode::PermissionDenied);
  EXPECT_TRUE(OfType(alice.Take(), wire::Body::ConversationInfo).empty())
      << "the blocker was told about a conversation the blocked person tried to open";
  EXPECT_TRUE(Ask(alice, 2, Request().ListConversations(2)).conversations.empty());
}

// ------------------------------------------------------------------ reports

TEST_F(SecurityReports, ReportKeepsTheMessageAsEvidenceAfterItsDeletion) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t group = CreateGroup(alice, "team", {"bob"});
  Envelope sent = SendText(bob, Conv(group), 1, "something nasty");
  ASSERT_EQ(sent.seq, 1u);

  h_->clock().Advance(kMicrosPerSecond);
  EXPECT_EQ(Ask(alice, 1, Request().Report(1, group, 1, "harassment")).type, wire::Body::Done);
  Envelope deletion = [&] {
    bob.Send(Request().SendDeletion(2, Conv(group), 2, 1).Finish());
    EXPECT_TRUE(Settle());
    return bob.TakeReply(2);
  }();
  EXPECT_EQ(deletion.type, wire::Body::SendAck) << deletion.error_message;

  Envelope reports = Ask(admin_, 3, Request().AdminListReports(3));
  ASSERT_EQ(reports.type, wire::Body::ReportList) << reports.error_message;
  ASSERT_EQ(reports.reports.size(), 1u);
  const ReportView& r = reports.reports[0];
  EXPECT_NE(r.id, 0u);
  EXPECT_EQ(r.created_at_us, h_->clock().NowMicros());
  EXPECT_EQ(r.reporter, "alice");
  EXPECT_EQ(r.reason, "harassment");
  EXPECT_EQ(r.conversation_id, group);
  EXPECT_EQ(r.seq, 1u);
  EXPECT_EQ(r.message.content_type, wire::Content::Text);
  EXPECT_EQ(r.message.text, "something nasty");
  EXPECT_EQ(r.message.sender_login, "bob");
  EXPECT_EQ(r.message.seq, 1u);
  EXPECT_EQ(r.message.sent_at_us, sent.sent_at_us);

  AuditView audit = OneAuditEntry("message.report", "conversation:" + std::to_string(group));
  EXPECT_EQ(audit.actor, "alice");
  EXPECT_TRUE(HasText(audit.details, "\"reason\":\"harassment\""));
}

TEST_F(SecurityReports, LongReasonIsKeptUpToACharacterBoundary) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendText(bob, ToUser("alice"), 1, "something nasty").conversation_id;
  std::string reason;
  for (int i = 0; i < 700; ++i) reason += "€";  // 2100 bytes; byte 2000 is mid-character
  Envelope done = Ask(alice, 2, Request().Report(2, direct, 1, reason));
  EXPECT_EQ(done.type, wire::Body::Done) << done.error_message;
  Envelope reports = Ask(admin_, 3, Request().AdminListReports(3));
  ASSERT_EQ(reports.reports.size(), 1u);
  EXPECT_TRUE(IsValidUtf8(reports.reports[0].reason));
  EXPECT_EQ(reason.rfind(reports.reports[0].reason, 0), 0u);
}

TEST_F(SecurityReports, OnlyMembersReportAndOnlyAdminsAndAuditorsReadReports) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  TestClient carol = AddUser("carol");
  TestClient auditor = AddUser("audit", wire::Role::Auditor);
  std::uint64_t group = CreateGroup(alice, "team", {"bob"});
  ASSERT_EQ(SendText(bob, Conv(group), 1, "members only").seq, 1u);

  EXPECT_EQ(Ask(carol, 1, Request().Report(1, group, 1, "curious")).error_code,
            wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(Ask(alice, 2, Request().Report(2, group, 2, "not there")).error_code,
            wire::ErrorCode::NotFound);
  EXPECT_EQ(Ask(alice, 3, Request().Report(3, group, 1, "spam")).type, wire::Body::Done);
  EXPECT_EQ(Ask(alice, 4, Request().AdminListReports(4)).error_code,
            wire::ErrorCode::PermissionDenied);
  Envelope read = Ask(auditor, 5, Request().AdminListReports(5));
  ASSERT_EQ(read.type, wire::Body::ReportList);
  ASSERT_EQ(read.reports.size(), 1u);
  EXPECT_EQ(read.reports[0].reporter, "alice");
}

// ------------------------------------------------------------------ edits and deletions

TEST_F(SecurityEdits, OnlyTheSenderMayEditOrDeleteAMessage) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t group = CreateGroup(alice, "team", {"bob"});
  ASSERT_EQ(SendText(alice, Conv(group), 1, "meeting at 9").seq, 1u);

  bob.Send(Request()
               .SendEdit(1, Conv(group), 1, 1, "meeting cancelled")
               .SendDeletion(2, Conv(group), 2, 1)
               .Finish());
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 1; rid <= 2; ++rid) {
    Envelope e = bob.TakeReply(rid);
    EXPECT_EQ(e.error_code, wire::ErrorCode::PermissionDenied) << rid;
    EXPECT_TRUE(HasText(e.error_message, "only its sender")) << rid;
  }
  ASSERT_TRUE(h_->SettleCursors());
  Envelope history = Ask(alice, 3, Request().History(3, group, 0, 50, true));
  ASSERT_EQ(history.history.size(), 1u) << "a refused amendment was stored";
  EXPECT_TRUE(AuditEntries("message.edit").empty());
  EXPECT_TRUE(AuditEntries("message.delete").empty());
}

TEST_F(SecurityEdits, OnlyTextsAreEditedAndAmendmentsAreFinal) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  std::uint64_t group = CreateGroup(alice, "team", {"bob"});
  ASSERT_EQ(SendText(alice, Conv(group), 1, "first").seq, 1u);
  Envelope voice = [&] {
    alice.Send(Request().SendVoice(2, Conv(group), 2, "opus", 1200, "audio").Finish());
    EXPECT_TRUE(Settle());
    return alice.TakeReply(2);
  }();
  ASSERT_EQ(voice.seq, 2u);

  alice.Send(Request().SendEdit(3, Conv(group), 3, 1, "first, edited").Finish());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(alice.TakeReply(3).seq, 3u);
  alice.Send(Request().SendDeletion(4, Conv(group), 4, 2).Finish());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(alice.TakeReply(4).seq, 4u);

  alice.Send(Request()
                 .SendEdit(5, Conv(group), 5, 2, "a voice has no text")
                 .SendEdit(6, Conv(group), 6, 3, "edit of an edit")
                 .SendDeletion(7, Conv(group), 7, 3)
                 .SendEdit(8, Conv(group), 8, 4, "edit of a deletion")
                 .SendDeletion(9, Conv(group), 9, 4)
                 .SendEdit(10, Conv(group), 10, 99, "no such message")
                 .Finish());
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 5; rid <= 9; ++rid) {
    EXPECT_EQ(alice.TakeReply(rid).error_code, wire::ErrorCode::InvalidArgument) << rid;
  }
  EXPECT_EQ(alice.TakeReply(10).error_code, wire::ErrorCode::NotFound);
  Envelope history = Ask(alice, 11, Request().History(11, group, 0, 50, true));
  EXPECT_EQ(history.history.size(), 4u);
}

TEST_F(SecurityEdits, EditsAndDeletionsAreDeliveredAuditedAndKeepTheOriginal) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t group = CreateGroup(alice, "team", {"bob"});
  ASSERT_EQ(SendText(alice, Conv(group), 1, "meeting at 9").seq, 1u);
  ASSERT_EQ(SendText(alice, Conv(group), 2, "bring cake").seq, 2u);
  alice.Take();
  bob.Take();

  alice.Send(Request()
                 .SendEdit(1, Conv(group), 3, 1, "meeting at 10")
                 .SendDeletion(2, Conv(group), 4, 2)
                 .Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(1).seq, 3u);
  EXPECT_EQ(alice.TakeReply(2).seq, 4u);
  std::vector<MessageView> got = Deliveries(bob.Take());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].content_type, wire::Content::Edit);
  EXPECT_EQ(got[0].seq, 3u);
  EXPECT_EQ(got[0].target_seq, 1u);
  EXPECT_EQ(got[0].text, "meeting at 10");
  EXPECT_EQ(got[0].sender_login, "alice");
  EXPECT_EQ(got[1].content_type, wire::Content::Deletion);
  EXPECT_EQ(got[1].seq, 4u);
  EXPECT_EQ(got[1].target_seq, 2u);
  // So does the sender's own session.
  EXPECT_EQ(DeliveredSeqs(alice.Take(), group), SeqRange(3, 4));

  Envelope history = Ask(bob, 3, Request().History(3, group, 0, 50, true));
  ASSERT_EQ(history.history.size(), 4u);
  EXPECT_EQ(history.history[0].text, "meeting at 9");
  EXPECT_EQ(history.history[1].text, "bring cake");

  const std::string target = "conversation:" + std::to_string(group);
  AuditView edit = OneAuditEntry("message.edit", target);
  EXPECT_EQ(edit.actor, "alice");
  EXPECT_TRUE(HasText(edit.details, "\"seq\":1"));
  EXPECT_TRUE(HasText(edit.details, "\"by_seq\":3"));
  AuditView deletion = OneAuditEntry("message.delete", target);
  EXPECT_EQ(deletion.actor, "alice");
  EXPECT_TRUE(HasText(deletion.details, "\"seq\":2"));
  EXPECT_TRUE(HasText(deletion.details, "\"by_seq\":4"));
  EXPECT_EQ(h_->broker().stats().messages_accepted[3].load(), 1u);
  EXPECT_EQ(h_->broker().stats().messages_accepted[4].load(), 1u);
}

// ------------------------------------------------------------------ rate limits

TEST_F(SecurityRateLimits, MessageBurstIsRefusedBeyondItsLimitAndRefillsWithTime) {
  CoreOptions options;
  options.rate_messages_per_second = 10;
  options.rate_message_burst = 20;
  Boot(options);
  TestClient alice = AddUser("alice");
  AddUser("bob");

  Request burst;
  for (std::uint64_t i = 1; i <= 21; ++i) burst.SendText(i, ToUser("bob"), i, "quick");
  alice.Send(burst);
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 1; rid <= 20; ++rid) {
    EXPECT_EQ(alice.TakeReply(rid).type, wire::Body::SendAck) << rid;
  }
  Envelope refused = alice.TakeReply(21);
  EXPECT_EQ(refused.error_code, wire::ErrorCode::ResourceExhausted);
  EXPECT_TRUE(HasText(refused.error_message, "10 messages per second"));
  EXPECT_EQ(h_->broker().stats().rate_limited.load(), 1u);

  h_->clock().Advance(kMicrosPerSecond);
  Request more;
  for (std::uint64_t i = 22; i <= 32; ++i) more.SendText(i, ToUser("bob"), i, "again");
  alice.Send(more);
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 22; rid <= 31; ++rid) {
    EXPECT_EQ(alice.TakeReply(rid).type, wire::Body::SendAck) << rid;
  }
  EXPECT_EQ(alice.TakeReply(32).error_code, wire::ErrorCode::ResourceExhausted);
  EXPECT_EQ(h_->broker().stats().rate_limited.load(), 2u);
}

TEST_F(SecurityRateLimits, ByteRateIsRefusedBeyondItsLimitAndRefillsWithTime) {
  CoreOptions options;
  options.rate_messages_per_second = 0;
  options.rate_bytes_per_second = 1000;
  options.rate_byte_burst = 2000;
  Boot(options);
  TestClient alice = AddUser("alice");
  AddUser("bob");
  const std::string kilobyte(1000, 'x');

  Request burst;
  for (std::uint64_t i = 1; i <= 3; ++i) burst.SendText(i, ToUser("bob"), i, kilobyte);
  alice.Send(burst);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(1).type, wire::Body::SendAck);
  EXPECT_EQ(alice.TakeReply(2).type, wire::Body::SendAck);
  Envelope refused = alice.TakeReply(3);
  EXPECT_EQ(refused.error_code, wire::ErrorCode::ResourceExhausted);
  EXPECT_TRUE(HasText(refused.error_message, "1000 bytes per second"));
  EXPECT_EQ(h_->broker().stats().rate_limited.load(), 1u);

  h_->clock().Advance(kMicrosPerSecond);
  Request more;
  for (std::uint64_t i = 4; i <= 5; ++i) more.SendText(i, ToUser("bob"), i, kilobyte);
  alice.Send(more);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(4).type, wire::Body::SendAck);
  EXPECT_EQ(alice.TakeReply(5).error_code, wire::ErrorCode::ResourceExhausted);
  EXPECT_EQ(h_->broker().stats().rate_limited.load(), 2u);
}

TEST_F(SecurityRateLimits, ResendOfAStoredMessageIsNotCharged) {
  CoreOptions options;
  options.rate_messages_per_second = 10;
  options.rate_message_burst = 20;
  Boot(options);
  TestClient alice = AddUser("alice");
  AddUser("bob");
  Request burst;
  for (std::uint64_t i = 1; i <= 20; ++i) burst.SendText(i, ToUser("bob"), i, "once");
  alice.Send(burst);
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 1; rid <= 20; ++rid) alice.TakeReply(rid);

  // The bucket is empty; resends of what is stored are still answered.
  Request resend;
  for (std::uint64_t i = 1; i <= 20; ++i) resend.SendText(100 + i, ToUser("bob"), i, "once");
  alice.Send(resend);
  ASSERT_TRUE(Settle());
  for (std::uint64_t i = 1; i <= 20; ++i) {
    Envelope ack = alice.TakeReply(100 + i);
    EXPECT_EQ(ack.type, wire::Body::SendAck) << i;
    EXPECT_TRUE(ack.duplicate) << i;
  }
  EXPECT_EQ(h_->broker().stats().rate_limited.load(), 0u);
  EXPECT_EQ(SendText(alice, ToUser("bob"), 21, "new").error_code,
            wire::ErrorCode::ResourceExhausted);
}

// ------------------------------------------------------------------ connections

TEST_F(SecurityConnections, AddressWithTooManySessionsIsRefusedUntilOneDrops) {
  CoreOptions options;
  options.connections_per_address = 2;
  Boot(options);
  TestClient alice = AddUser("alice");
  // Start from no sessions at all (enrollment connections included).
  h_->TimeOutSessions();
  TestClient first = h_->Reconnect(alice);
  TestClient second = h_->Reconnect(alice);
  ASSERT_EQ(h_->broker().session_count(), 2u);

  std::uint64_t refused_before = h_->broker().stats().connections_refused.load();
  AuthDecision third = h_->broker().Authenticate(admin_.keys.public_key, "127.0.0.1");
  EXPECT_FALSE(third.allowed);
  EXPECT_EQ(third.reason, "too many connections from this address");
  EXPECT_EQ(h_->broker().stats().connections_refused.load(), refused_before + 1);
  AuthDecision elsewhere = h_->broker().Authenticate(admin_.keys.public_key, "10.0.0.2");
  EXPECT_TRUE(elsewhere.allowed) << elsewhere.reason;
  TestClient remote = admin_;
  remote.address = "10.0.0.2";
  remote = h_->Reconnect(remote);
  EXPECT_EQ(h_->broker().session_count(), 3u);

  Disconnect(second);
  AuthDecision again = h_->broker().Authenticate(admin_.keys.public_key, "127.0.0.1");
  EXPECT_TRUE(again.allowed) << again.reason;
}

TEST_F(SecurityConnections, RefusedHandshakesLockAnAddressOutOfInvitesForFiveMinutes) {
  CoreOptions options;
  options.auth_failures_per_minute = 5;
  Boot(options);
  TestClient alice = AddUser("alice");
  Envelope carol = Ask(admin_, 1, Request().AdminAddUser(1, "carol", ""));
  Envelope dave = Ask(admin_, 2, Request().AdminAddUser(2, "dave", ""));
  ASSERT_EQ(carol.type, wire::Body::InviteReply);
  ASSERT_EQ(dave.type, wire::Body::InviteReply);
  const std::string attacker = "203.0.113.9";

  for (int i = 0; i < 6; ++i) {
    AuthDecision guess = h_->broker().Authenticate(crypto::GenerateKeyPair().public_key, attacker);
    EXPECT_FALSE(guess.allowed);
    EXPECT_EQ(guess.reason, "unknown key") << i;
  }
  AuthDecision invite = h_->broker().Authenticate(EnrollmentKey(carol.invite), attacker);
  EXPECT_FALSE(invite.allowed);
  EXPECT_TRUE(HasText(invite.reason, "too many refused handshakes"));
  // Enrolled devices behind that address still connect, other addresses still enroll.
  AuthDecision device = h_->broker().Authenticate(alice.keys.public_key, attacker);
  EXPECT_TRUE(device.allowed) << device.reason;
  EXPECT_EQ(EnrollFrom(dave.invite, "198.51.100.7").login, "dave");

  h_->clock().Advance(5 * 60 * kMicrosPerSecond - kMicrosPerSecond);
  EXPECT_FALSE(h_->broker().Authenticate(EnrollmentKey(carol.invite), attacker).allowed);
  h_->clock().Advance(2 * kMicrosPerSecond);
  TestClient enrolled = EnrollFrom(carol.invite, attacker);
  EXPECT_EQ(enrolled.login, "carol");
}

TEST_F(SecurityConnections, RefusalsAreAuditedOncePerAddressAndMinute) {
  CoreOptions options;
  options.auth_failures_per_minute = 5;
  Boot(options);
  const std::string attacker = "203.0.113.9";
  for (int i = 0; i < 6; ++i) {
    EXPECT_FALSE(h_->broker().Authenticate(crypto::GenerateKeyPair().public_key, attacker).allowed);
  }
  ASSERT_TRUE(Settle());
  std::vector<AuditView> refused = AuditEntries("auth.refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].target, "address:" + attacker);
  EXPECT_EQ(refused[0].actor, "");
  EXPECT_TRUE(HasText(refused[0].details, "\"refusals\":1"));

  // A minute later the next refusal carries the count of those in between.
  h_->clock().Advance(61 * kMicrosPerSecond);
  EXPECT_FALSE(h_->broker().Authenticate(crypto::GenerateKeyPair().public_key, attacker).allowed);
  ASSERT_TRUE(Settle());
  refused = AuditEntries("auth.refused");
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_TRUE(HasText(refused[1].details, "\"refusals\":6"));
  EXPECT_TRUE(HasText(refused[1].details, "\"locked\":true"));
  EXPECT_EQ(h_->broker().stats().auth_refused.load(), 7u);
}

// ------------------------------------------------------------------ audit

TEST_F(SecurityAudit, EveryAdministrativeActionIsAuditedAndTheChainIsWhole) {
  TestClient carol = AddUser("carol");  // user.add, device.enroll
  Envelope invite = Ask(admin_, 1, Request().CreateInvite(1, "carol"));
  ASSERT_EQ(invite.type, wire::Body::InviteReply);
  TestClient tablet = h_->Enroll(invite.invite, "tablet");
  EXPECT_EQ(Ask(admin_, 2, Request().AdminListUsers(2)).type, wire::Body::UserList);
  EXPECT_EQ(Ask(admin_, 3, Request().RevokeDevice(3, "carol", tablet.device_id)).type,
            wire::Body::Done);
  EXPECT_EQ(Ask(admin_, 4, Request().AdminDeactivateUser(4, "carol")).type,
            wire::Body::OffboardingReply);
  EXPECT_EQ(Ask(admin_, 5, Request().AdminReactivateUser(5, "carol")).type,
            wire::Body::InviteReply);

  EXPECT_EQ(OneAuditEntry("user.add", "user:carol").actor, "admin");
  EXPECT_EQ(OneAuditEntry("device.invite", "user:carol").actor, "admin");
  AuditView enroll = OneAuditEntry("device.enroll", "device:" + std::to_string(tablet.device_id));
  EXPECT_EQ(enroll.actor, "carol");
  EXPECT_TRUE(HasText(enroll.details, "\"name\":\"tablet\""));
  EXPECT_EQ(AuditEntries("device.enroll").size(), 3u);  // admin, carol, tablet
  EXPECT_EQ(OneAuditEntry("user.list", "users").actor, "admin");
  EXPECT_EQ(OneAuditEntry("device.revoke", "device:" + std::to_string(tablet.device_id)).actor,
            "admin");
  AuditView deactivate = OneAuditEntry("user.deactivate", "user:carol");
  EXPECT_EQ(deactivate.actor, "admin");
  EXPECT_TRUE(HasText(deactivate.details, "\"devices_revoked\":" + Ids({carol.device_id})));
  EXPECT_EQ(OneAuditEntry("user.reactivate", "user:carol").actor, "admin");

  Envelope verify = Ask(admin_, 6, Request().AdminVerifyAudit(6));
  ASSERT_EQ(verify.type, wire::Body::AuditVerifyReply) << verify.error_message;
  EXPECT_TRUE(verify.audit_whole) << verify.audit_message;
  EXPECT_EQ(verify.audit_first_broken_seq, 0u);
  std::vector<AuditView> all = AuditEntries();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().action, "user.bootstrap_invite");
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, i + 1);
    EXPECT_EQ(all[i].hash.size(), 32u);
  }
  // Everything up to the verification was checked; the verification itself
  // was recorded after it.
  EXPECT_EQ(all.back().action, "audit.verify");
  EXPECT_EQ(verify.audit_records, all.size() - 1);
}

}  // namespace
}  // namespace chatpro::core::testing

namespace chatpro::core::testing {
namespace {

using SecurityAdminService = BrokerTest;

AuditActor Actor(const TestClient& c) {
  return AuditActor{UserId(c.user_id), c.login, DeviceId(c.device_id)};
}

TEST_F(SecurityAdminService, TheConsoleOffboardsThroughTheSameCallAsTheWire) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::optional<Result<Broker::OffboardingResult>> result;
  h_->broker().DeactivateUser(Actor(admin_), "bob",
                              [&](Result<Broker::OffboardingResult> r) { result = std::move(r); });
  EXPECT_FALSE(result.has_value()) << "answered before the change was stored";
  ASSERT_TRUE(Settle());
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ((*result)->login, "bob");
  EXPECT_EQ((*result)->devices_revoked, 1u);
  EXPECT_EQ((*result)->sessions_closed, 1u);
  std::vector<Envelope> got = bob.Take();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().type, wire::Body::Revoked);

  // The same rules: a plain user's call is refused at once, and recorded nowhere.
  std::optional<Result<Broker::InviteResult>> refused;
  h_->broker().ReactivateUser(Actor(alice), "bob",
                              [&](Result<Broker::InviteResult> r) { refused = std::move(r); });
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status().code(), StatusCode::kPermissionDenied);

  std::optional<Result<Broker::InviteResult>> back;
  h_->broker().ReactivateUser(Actor(admin_), "bob",
                              [&](Result<Broker::InviteResult> r) { back = std::move(r); });
  ASSERT_TRUE(Settle());
  ASSERT_TRUE(back.has_value() && back->ok());
  EXPECT_EQ((*back)->invite.rfind("chatpro://", 0), 0u);
}

}  // namespace
}  // namespace chatpro::core::testing
