// SPDX-License-Identifier: Apache-2.0
//
// Group membership rules and history paging.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/core/tests/broker_harness.h"

namespace chatpro::core::testing {
namespace {

using GroupTest = BrokerTest;

std::vector<Seq> SeqsOf(const std::vector<MessageView>& messages) {
  std::vector<Seq> out;
  for (const MessageView& m : messages) out.push_back(m.seq);
  return out;
}

TEST_F(GroupTest, CreatorIsOwnerAndEveryMemberIsTold) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  TestClient carol = AddUser("carol");
  std::uint64_t group = CreateGroup(alice, "Night shift ☾", {"bob", "carol"});
  ASSERT_NE(group, 0u);
  for (const TestClient* c : {&alice, &bob, &carol}) {
    std::vector<Envelope> infos = OfType(c->Take(), wire::Body::ConversationInfo);
    ASSERT_EQ(infos.size(), 1u) << c->login;
    const ConversationView& info = infos[0].conversation;
    EXPECT_EQ(info.id, group);
    EXPECT_EQ(info.kind, wire::ConversationKind::Group);
    EXPECT_EQ(info.name, "Night shift ☾");
    EXPECT_EQ(info.members.size(), 3u);
    EXPECT_TRUE(info.IsOwner("alice"));
    EXPECT_FALSE(info.IsOwner("bob"));
    EXPECT_EQ(info.first_seq, 1u);
  }
}

TEST_F(GroupTest, GroupNeedsAValidNameAndKnownMembers) {
  TestClient alice = AddUser("alice");
  alice.Send(Request()
                 .CreateGroup(1, "", {})
                 .CreateGroup(2, "bad\x01name", {})
                 .CreateGroup(3, "ok", {"nobody"})
                 .Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(1).error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(alice.TakeReply(2).error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(alice.TakeReply(3).error_code, wire::ErrorCode::NotFound);
}

TEST_F(GroupTest, NonMemberCannotPostOrReadOrChangeTheGroup) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  TestClient mallory = AddUser("mallory");
  std::uint64_t group = CreateGroup(alice, "private", {"bob"});
  ASSERT_EQ(SendText(alice, Conv(group), 1, "secret").seq, 1u);

  mallory.Send(Request()
                   .SendText(1, Conv(group), 1, "let me in")
                   .History(2, group, 0, 10, true)
                   .AddMembers(3, group, {"mallory"})
                   .RemoveMember(4, group, "bob")
                   .Finish());
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 1; rid <= 4; ++rid) {
    Envelope e = mallory.TakeReply(rid);
    EXPECT_EQ(e.type, wire::Body::Error) << rid;
    EXPECT_EQ(e.error_code, wire::ErrorCode::PermissionDenied) << rid;
  }
  EXPECT_TRUE(Deliveries(mallory.Take()).empty());
}

TEST_F(GroupTest, RemovedMemberReceivesNothingSentAfterTheRemoval) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  TestClient carol = AddUser("carol");
  std::uint64_t group = CreateGroup(alice, "team", {"bob", "carol"});
  ASSERT_EQ(SendText(alice, Conv(group), 1, "before").seq, 1u);
  EXPECT_EQ(DeliveredSeqs(carol.Take(), group), std::vector<Seq>{1});

  alice.Send(Request().RemoveMember(2, group, "carol").Finish());
  ASSERT_TRUE(Settle());
  Envelope removed = alice.TakeReply(2);
  ASSERT_EQ(removed.type, wire::Body::ConversationInfo) << removed.error_message;
  EXPECT_FALSE(removed.conversation.HasMember("carol"));
  // Carol is told that the group changed.
  std::vector<Envelope> told = OfType(carol.Take(), wire::Body::ConversationInfo);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_FALSE(told[0].conversation.HasMember("carol"));

  ASSERT_EQ(SendText(alice, Conv(group), 3, "after").seq, 2u);
  EXPECT_EQ(DeliveredSeqs(bob.Take(), group), (std::vector<Seq>{1, 2}));
  EXPECT_TRUE(Deliveries(carol.Take()).empty());
  // Not on a new session either, and she can neither post nor read.
  TestClient carol_again = h_->Reconnect(carol);
  EXPECT_TRUE(Deliveries(carol_again.Take()).empty());
  EXPECT_EQ(SendText(carol_again, Conv(group), 4, "hello?").error_code,
            wire::ErrorCode::PermissionDenied);
}

TEST_F(GroupTest, MemberAddedLaterCannotReadWhatCameBefore) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  TestClient dave = AddUser("dave");
  std::uint64_t group = CreateGroup(alice, "team", {"bob"});
  for (ClientMsgId id = 1; id <= 5; ++id) {
    ASSERT_EQ(SendText(alice, Conv(group), id, "old").seq, id);
  }

  alice.Send(Request().AddMembers(6, group, {"dave"}).Finish());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(alice.TakeReply(6).type, wire::Body::ConversationInfo);
  std::vector<Envelope> got = dave.Take();
  std::vector<Envelope> infos = OfType(got, wire::Body::ConversationInfo);
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].conversation.first_seq, 6u);
  EXPECT_EQ(infos[0].conversation.head_seq, 5u);
  EXPECT_TRUE(Deliveries(got).empty());

  dave.Send(Request().History(7, group, 0, 50, true).History(8, group, 1, 50, false).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_TRUE(dave.TakeReply(7).history.empty());
  EXPECT_TRUE(dave.TakeReply(8).history.empty());

  ASSERT_EQ(SendText(alice, Conv(group), 9, "new").seq, 6u);
  EXPECT_EQ(DeliveredSeqs(dave.Take(), group), std::vector<Seq>{6});
  dave.Send(Request().History(10, group, 0, 50, true).Finish());
  ASSERT_TRUE(Settle());
  Envelope page = dave.TakeReply(10);
  EXPECT_EQ(SeqsOf(page.history), std::vector<Seq>{6});
  EXPECT_FALSE(page.has_more);
  // A new device of dave starts at first_seq too.
  TestClient dave_phone = h_->AddDevice(dave);
  EXPECT_EQ(DeliveredSeqs(dave_phone.Take(), group), std::vector<Seq>{6});
}

TEST_F(GroupTest, LastOwnerLeavingMakesTheLongestStandingMemberOwner) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  TestClient carol = AddUser("carol");
  AddUser("dave");
  std::uint64_t group = CreateGroup(alice, "team", {"bob", "carol"});
  alice.Send(Request().AddMembers(1, group, {"dave"}).Finish());
  ASSERT_TRUE(Settle());
  bob.Take();

  alice.Send(Request().LeaveGroup(2, group).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(2).type, wire::Body::Done);
  std::vector<Envelope> infos = OfType(bob.Take(), wire::Body::ConversationInfo);
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_FALSE(infos[0].conversation.HasMember("alice"));
  EXPECT_TRUE(infos[0].conversation.IsOwner("bob"));
  EXPECT_FALSE(infos[0].conversation.IsOwner("carol"));
  EXPECT_FALSE(infos[0].conversation.IsOwner("dave"));

  // The new owner can manage the group; alice is out.
  bob.Send(Request().RemoveMember(3, group, "dave").Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(bob.TakeReply(3).type, wire::Body::ConversationInfo);
  EXPECT_EQ(SendText(alice, Conv(group), 4, "still here?").error_code,
            wire::ErrorCode::PermissionDenied);
}

TEST_F(GroupTest, OnlyOwnersAddAndRemoveOthers) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  AddUser("carol");
  AddUser("dave");
  std::uint64_t group = CreateGroup(alice, "team", {"bob", "carol"});

  bob.Send(Request().AddMembers(1, group, {"dave"}).RemoveMember(2, group, "carol").Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(bob.TakeReply(1).error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(bob.TakeReply(2).error_code, wire::ErrorCode::PermissionDenied);

  // An owner may make another owner, who may then remove members.
  alice.Send(Request().AddMembers(3, group, {"bob"}, /*as_owners=*/true).Finish());
  ASSERT_TRUE(Settle());
  Envelope promoted = alice.TakeReply(3);
  ASSERT_EQ(promoted.type, wire::Body::ConversationInfo);
  EXPECT_TRUE(promoted.conversation.IsOwner("bob"));
  bob.Send(Request().RemoveMember(4, group, "carol").Finish());
  ASSERT_TRUE(Settle());
  Envelope removed = bob.TakeReply(4);
  ASSERT_EQ(removed.type, wire::Body::ConversationInfo) << removed.error_message;
  EXPECT_FALSE(removed.conversation.HasMember("carol"));
}

TEST_F(GroupTest, AnyMemberMayRemoveThemselves) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t group = CreateGroup(alice, "team", {"bob"});
  bob.Send(Request().RemoveMember(1, group, "bob").Finish());
  ASSERT_TRUE(Settle());
  Envelope e = bob.TakeReply(1);
  EXPECT_EQ(e.type, wire::Body::ConversationInfo) << e.error_message;
  EXPECT_FALSE(e.conversation.HasMember("bob"));
}

TEST_F(GroupTest, DirectConversationHasExactlyTwoPeople) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  AddUser("carol");
  std::uint64_t direct = SendText(alice, ToUser("bob"), 1, "hi").conversation_id;
  alice.Send(Request()
                 .AddMembers(2, direct, {"carol"})
                 .RemoveMember(3, direct, "bob")
                 .LeaveGroup(4, direct)
                 .Finish());
  ASSERT_TRUE(Settle());
  for (std::uint64_t rid = 2; rid <= 4; ++rid) {
    EXPECT_EQ(alice.TakeReply(rid).error_code, wire::ErrorCode::FailedPrecondition) << rid;
  }
}

TEST_F(GroupTest, GroupSizeIsLimited) {
  CoreOptions options;
  options.max_group_members = 3;
  Boot(options);
  TestClient alice = AddUser("alice");
  for (std::string login : {"bob", "carol", "dave"}) AddUser(login);
  alice.Send(Request().CreateGroup(1, "too big", {"bob", "carol", "dave"}).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(1).error_code, wire::ErrorCode::ResourceExhausted);

  std::uint64_t group = CreateGroup(alice, "full", {"bob", "carol"});
  ASSERT_NE(group, 0u);
  alice.Send(Request().AddMembers(2, group, {"dave"}).AddMembers(3, group, {"bob"}).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(2).error_code, wire::ErrorCode::ResourceExhausted);
  // Adding somebody who is a member already does not count.
  EXPECT_EQ(alice.TakeReply(3).type, wire::Body::ConversationInfo);
}

TEST_F(GroupTest, CreatorNamedAmongTheMembersCountsOnce) {
  CoreOptions options;
  options.max_group_members = 3;
  Boot(options);
  TestClient alice = AddUser("alice");
  AddUser("bob");
  AddUser("carol");
  alice.Send(Request().CreateGroup(1, "three", {"alice", "bob", "carol"}).Finish());
  ASSERT_TRUE(Settle());
  Envelope e = alice.TakeReply(1);
  ASSERT_EQ(e.type, wire::Body::ConversationInfo) << e.error_message;
  EXPECT_EQ(e.conversation.members.size(), 3u);
}

TEST_F(GroupTest, NoteToSelfIsAConversationOfOne) {
  TestClient alice = AddUser("alice");
  TestClient alice_phone = h_->AddDevice(alice);
  Envelope ack = SendText(alice, ToUser("alice"), 1, "buy milk");
  ASSERT_EQ(ack.type, wire::Body::SendAck) << ack.error_message;
  EXPECT_EQ(ack.seq, 1u);
  std::vector<Envelope> got = alice_phone.Take();
  EXPECT_EQ(DeliveredSeqs(got, ack.conversation_id), std::vector<Seq>{1});
  std::vector<Envelope> infos = OfType(got, wire::Body::ConversationInfo);
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].conversation.name, "alice");
  EXPECT_EQ(infos[0].conversation.members.size(), 1u);
}

// ------------------------------------------------------------------ history

class HistoryTest : public BrokerTest {
 protected:
  void SetUp() override {
    CoreOptions options;
    options.history_page_max = 6;
    Boot(options);
    alice_ = AddUser("alice");
    bob_ = AddUser("bob");
    Request r;
    for (ClientMsgId id = 1; id <= 10; ++id) {
      r.SendText(id, ToUser("bob"), id, "m" + std::to_string(id));
    }
    alice_.Send(r);
    ASSERT_TRUE(Settle());
    direct_ = OfType(alice_.Take(), wire::Body::SendAck).at(0).conversation_id;
  }

  Envelope Page(Seq from, std::uint32_t limit, bool backward) {
    std::uint64_t rid = next_rid_++;
    bob_.Send(Request().History(rid, direct_, from, limit, backward).Finish());
    EXPECT_TRUE(Settle());
    Envelope reply = bob_.TakeReply(rid);
    EXPECT_EQ(reply.type, wire::Body::HistoryReply) << reply.error_message;
    EXPECT_EQ(reply.conversation_id, direct_);
    return reply;
  }

  TestClient alice_;
  TestClient bob_;
  std::uint64_t direct_ = 0;
};

TEST_F(HistoryTest, BackwardPagesGoFromTheNewestToTheFirst) {
  Envelope p1 = Page(0, 4, true);
  EXPECT_EQ(SeqsOf(p1.history), SeqRange(7, 10));
  EXPECT_TRUE(p1.has_more);
  EXPECT_EQ(p1.history.back().text, "m10");
  Envelope p2 = Page(7, 4, true);
  EXPECT_EQ(SeqsOf(p2.history), SeqRange(3, 6));
  EXPECT_TRUE(p2.has_more);
  Envelope p3 = Page(3, 4, true);
  EXPECT_EQ(SeqsOf(p3.history), SeqRange(1, 2));
  EXPECT_FALSE(p3.has_more);
  // A page that ends exactly at the first message has no more.
  Envelope exact = Page(5, 4, true);
  EXPECT_EQ(SeqsOf(exact.history), SeqRange(1, 4));
  EXPECT_FALSE(exact.has_more);
  // from_seq beyond the head reads from the newest.
  EXPECT_EQ(SeqsOf(Page(1000, 2, true).history), SeqRange(9, 10));
  EXPECT_TRUE(Page(1, 4, true).history.empty());
}

TEST_F(HistoryTest, ForwardPagesGoFromFromSeqToTheNewest) {
  Envelope p1 = Page(1, 4, false);
  EXPECT_EQ(SeqsOf(p1.history), SeqRange(1, 4));
  EXPECT_TRUE(p1.has_more);
  Envelope p2 = Page(5, 4, false);
  EXPECT_EQ(SeqsOf(p2.history), SeqRange(5, 8));
  EXPECT_TRUE(p2.has_more);
  Envelope p3 = Page(9, 4, false);
  EXPECT_EQ(SeqsOf(p3.history), SeqRange(9, 10));
  EXPECT_FALSE(p3.has_more);
  Envelope exact = Page(7, 4, false);
  EXPECT_EQ(SeqsOf(exact.history), SeqRange(7, 10));
  EXPECT_FALSE(exact.has_more);
  Envelope past = Page(11, 4, false);
  EXPECT_TRUE(past.history.empty());
  EXPECT_FALSE(past.has_more);
  EXPECT_EQ(SeqsOf(Page(0, 2, false).history), SeqRange(1, 2));
}

TEST_F(HistoryTest, LimitIsClampedBetweenOneAndThePageMaximum) {
  Envelope big = Page(0, 100, true);
  EXPECT_EQ(SeqsOf(big.history), SeqRange(5, 10));
  EXPECT_TRUE(big.has_more);
  Envelope zero = Page(0, 0, true);
  EXPECT_EQ(SeqsOf(zero.history), std::vector<Seq>{10});
  EXPECT_TRUE(zero.has_more);
}

TEST_F(HistoryTest, UnknownConversationIsNotFound) {
  bob_.Send(Request().History(1, 999, 0, 10, true).Finish());
  ASSERT_TRUE(Settle());
  Envelope e = bob_.TakeReply(1);
  EXPECT_EQ(e.type, wire::Body::Error);
  EXPECT_EQ(e.error_code, wire::ErrorCode::NotFound);
}

using LargeHistoryTest = BrokerTest;

TEST_F(LargeHistoryTest, PageIsTrimmedToTheReplySizeAndSaysThereIsMore) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  h_->TimeOutSessions();
  alice = h_->Reconnect(alice, /*receive=*/false);
  // 200 texts of 60 kB: 12 MB, more than one 8 MiB history reply.
  std::uint64_t direct = 0;
  for (ClientMsgId id = 1; id <= 200; id += 20) {
    Request r;
    for (ClientMsgId k = id; k < id + 20; ++k) {
      r.SendText(k, ToUser("bob"), k, std::string(60'000, static_cast<char>('a' + k % 26)));
    }
    alice.Send(r);
    ASSERT_TRUE(Settle());
    direct = OfType(alice.Take(), wire::Body::SendAck).at(0).conversation_id;
  }

  alice.Send(Request().History(1, direct, 0, 500, true).History(2, direct, 1, 500, false).Finish());
  ASSERT_TRUE(Settle());
  Envelope backward = alice.TakeReply(1);
  ASSERT_FALSE(backward.history.empty());
  EXPECT_LT(backward.history.size(), 200u);
  EXPECT_TRUE(backward.has_more);
  // The newest messages, oldest first, without a gap.
  EXPECT_EQ(SeqsOf(backward.history), SeqRange(201 - backward.history.size(), 200));
  Envelope forward = alice.TakeReply(2);
  ASSERT_FALSE(forward.history.empty());
  EXPECT_LT(forward.history.size(), 200u);
  EXPECT_TRUE(forward.has_more);
  EXPECT_EQ(SeqsOf(forward.history), SeqRange(1, forward.history.size()));
  EXPECT_EQ(forward.history[0].text, std::string(60'000, 'b'));
}

TEST_F(GroupTest, AdministratorsAndAuditorsListEveryGroupWithMembersAndOwnersButNoMessages) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  AddUser("carol");
  TestClient auditor = AddUser("audrey", wire::Role::Auditor);
  std::uint64_t night = CreateGroup(alice, "Night shift", {"bob", "carol"});
  std::uint64_t kitchen = CreateGroup(bob, "Kitchen", {"alice"});
  ASSERT_NE(night, 0u);
  ASSERT_NE(kitchen, 0u);
  ASSERT_EQ(SendText(alice, Conv(night), 1, "the secret plan").seq, 1u);
  ASSERT_NE(SendText(alice, ToUser("bob"), 2, "just us").seq, 0u);  // a direct chat
  alice.Send(Request().AddMembers(1, night, {"bob"}, /*as_owners=*/true).Finish());
  ASSERT_TRUE(Settle());
  alice.Take();

  for (const TestClient* reader : {&admin_, &auditor}) {
    reader->Send(Request().AdminListGroups(7).Finish());
    ASSERT_TRUE(Settle());
    Envelope list = reader->TakeReply(7);
    ASSERT_EQ(list.type, wire::Body::GroupList) << reader->login << ": " << list.error_message;
    ASSERT_EQ(list.groups.size(), 2u) << "direct chats are not groups";
    const GroupView& first = list.groups[0];
    EXPECT_EQ(first.conversation_id, night);
    EXPECT_EQ(first.name, "Night shift");
    EXPECT_EQ(first.created_at_us, h_->clock().NowMicros());
    EXPECT_EQ(first.members, (std::vector<std::string>{"alice", "bob", "carol"}));
    EXPECT_EQ(first.owners, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(list.groups[1].conversation_id, kitchen);
    EXPECT_EQ(list.groups[1].members, (std::vector<std::string>{"bob", "alice"}));
    EXPECT_EQ(list.groups[1].owners, std::vector<std::string>{"bob"});
  }

  alice.Send(Request().AdminListGroups(8).Finish());
  ASSERT_TRUE(Settle());
  Envelope refused = alice.TakeReply(8);
  EXPECT_EQ(refused.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_NE(refused.error_message.find("administrators and auditors"), std::string::npos)
      << refused.error_message;

  admin_.Send(Request().AdminListAudit(9, 1, 1000).Finish());
  ASSERT_TRUE(Settle());
  int listed = 0;
  for (const AuditView& a : admin_.TakeReply(9).audit) {
    if (a.action == "group.list") {
      ++listed;
      EXPECT_EQ(a.target, "groups");
      EXPECT_NE(a.details.find("\"count\":2"), std::string::npos) << a.details;
    }
  }
  EXPECT_EQ(listed, 2) << "each list by an administrator or auditor is audited, refusals are not";
}

TEST_F(GroupTest, AGroupListWithoutGroupsIsEmpty) {
  admin_.Send(Request().AdminListGroups(1).Finish());
  ASSERT_TRUE(Settle());
  Envelope list = admin_.TakeReply(1);
  EXPECT_EQ(list.type, wire::Body::GroupList);
  EXPECT_TRUE(list.groups.empty());
}

}  // namespace
}  // namespace chatpro::core::testing
