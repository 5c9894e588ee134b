// SPDX-License-Identifier: Apache-2.0
//
// Acknowledgement after store, exactly-one-effect resends, restarts.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "broker/core/tests/broker_harness.h"

namespace chatpro::core::testing {
namespace {

using DurabilityTest = BrokerTest;

// The messages of a conversation as `reader` sees them through History.
std::vector<MessageView> ReadAll(BrokerHarness& h, const TestClient& reader,
                                 std::uint64_t conversation) {
  reader.Send(Request().History(424242, conversation, 0, 500, true).Finish());
  EXPECT_TRUE(h.Settle());
  return reader.TakeReply(424242).history;
}

TEST_F(DurabilityTest, SendIsAcknowledgedOnlyOnceTheStoreHasIt) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendText(alice, ToUser("bob"), 1, "before").conversation_id;
  alice.Take();
  bob.Take();

  h_->store().FailWrites(Status::ResourceExhausted("disk full"));
  std::uint64_t attempts = h_->write_attempts();
  alice.Send(Request().SendText(2, Conv(direct), 2, "while the disk is full").Finish());
  h_->broker().Flush();
  // Two attempts: the pipeline has failed once and is retrying (degraded).
  ASSERT_TRUE(h_->WaitForWriteAttempts(attempts + 2));
  for (int i = 0; i < 5; ++i) {
    h_->broker().OnWake();
    h_->broker().Flush();
  }
  EXPECT_FALSE(h_->broker().Idle());
  EXPECT_TRUE(alice.Take().empty()) << "acknowledged before it was stored";
  EXPECT_TRUE(bob.Take().empty()) << "delivered before it was stored";

  // New messages are refused while writes fail, saying the disk is full.
  alice.Send(Request().SendText(3, Conv(direct), 3, "refused").Finish());
  bob.Send(Request().SendText(4, Conv(direct), 40, "refused too").Finish());
  h_->broker().Flush();
  Envelope refused = alice.TakeReply(3);
  ASSERT_EQ(refused.type, wire::Body::Error);
  EXPECT_EQ(refused.error_code, wire::ErrorCode::ResourceExhausted);
  EXPECT_EQ(refused.error_message.rfind("data directory full: ", 0), 0u) << refused.error_message;
  EXPECT_NE(refused.error_message.find("disk full"), std::string::npos)
      << "the store's own reason is kept: " << refused.error_message;
  EXPECT_EQ(bob.TakeReply(4).error_code, wire::ErrorCode::ResourceExhausted);
  EXPECT_EQ(
      h_->broker().stats().errors[static_cast<int>(StatusCode::kResourceExhausted)].load(), 2u);
  h_->broker().OnTick();
  EXPECT_TRUE(h_->broker().stats().refusing_messages.load());
  EXPECT_TRUE(h_->broker().stats().data_dir_full.load());

  h_->store().FailWrites(Status::Ok());
  ASSERT_TRUE(Settle());
  Envelope ack = alice.TakeReply(2);
  ASSERT_EQ(ack.type, wire::Body::SendAck);
  EXPECT_EQ(ack.seq, 2u);
  std::vector<MessageView> got = Deliveries(bob.Take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "while the disk is full");

  // The refused message was not stored; resent, it is stored once.
  EXPECT_EQ(SendText(alice, Conv(direct), 3, "refused").seq, 3u);
  std::vector<MessageView> all = ReadAll(*h_, bob, direct);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].text, "before");
  EXPECT_EQ(all[1].text, "while the disk is full");
  EXPECT_EQ(all[2].text, "refused");
  h_->broker().OnTick();
  EXPECT_FALSE(h_->broker().stats().refusing_messages.load());
}

TEST_F(DurabilityTest, WritesFailingForAnotherReasonRefuseSendsAsUnavailable) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendText(alice, ToUser("bob"), 1, "before").conversation_id;
  alice.Take();
  bob.Take();
  h_->store().FailWrites(Status::IoError("input/output error"));
  std::uint64_t attempts = h_->write_attempts();
  alice.Send(Request().SendText(2, Conv(direct), 2, "stuck").Finish());
  h_->broker().Flush();
  ASSERT_TRUE(h_->WaitForWriteAttempts(attempts + 2));
  alice.Send(Request().SendText(3, Conv(direct), 3, "refused").Finish());
  h_->broker().Flush();
  Envelope refused = alice.TakeReply(3);
  ASSERT_EQ(refused.type, wire::Body::Error);
  EXPECT_EQ(refused.error_code, wire::ErrorCode::Unavailable) << refused.error_message;
  h_->broker().OnTick();
  EXPECT_TRUE(h_->broker().stats().refusing_messages.load());
  EXPECT_FALSE(h_->broker().stats().data_dir_full.load()) << "not a full disk";
  h_->store().FailWrites(Status::Ok());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(2).seq, 2u);
}

TEST_F(DurabilityTest, BelowTheFreeSpaceMarkSendsAreRefusedAndReadsGoOnUntilSpaceIsFreed) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendText(alice, ToUser("bob"), 1, "before").conversation_id;
  alice.Take();
  bob.Take();
  std::uint64_t free_bytes = 10 << 20;
  h_->broker().SetMinFreeBytes(64 << 20, [&free_bytes] { return free_bytes; });
  h_->broker().OnTick();

  alice.Send(Request().SendText(2, Conv(direct), 2, "refused").Finish());
  h_->broker().Flush();
  Envelope refused = alice.TakeReply(2);
  ASSERT_EQ(refused.type, wire::Body::Error);
  EXPECT_EQ(refused.error_code, wire::ErrorCode::ResourceExhausted);
  EXPECT_NE(refused.error_message.find("data directory full: 10485760 bytes free, below "
                                       "store.min_free (67108864)"),
            std::string::npos)
      << refused.error_message;
  EXPECT_EQ(
      h_->broker().stats().errors[static_cast<int>(StatusCode::kResourceExhausted)].load(), 1u);
  EXPECT_TRUE(h_->broker().stats().refusing_messages.load());
  EXPECT_TRUE(h_->broker().stats().data_dir_full.load());
  // Reads are served.
  std::vector<MessageView> read = ReadAll(*h_, bob, direct);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].text, "before");

  // Space freed: the next probe (about a second later) lets sends in again.
  free_bytes = 1ull << 30;
  h_->clock().Advance(1'100'000);
  h_->broker().OnTick();
  EXPECT_FALSE(h_->broker().stats().refusing_messages.load());
  EXPECT_EQ(SendText(alice, Conv(direct), 2, "accepted").seq, 2u);
  read = ReadAll(*h_, bob, direct);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[1].text, "accepted");
}

TEST_F(DurabilityTest, ZeroClientMessageIdIsRefused) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  Envelope e = SendText(alice, ToUser("bob"), 0, "no id");
  ASSERT_EQ(e.type, wire::Body::Error);
  EXPECT_EQ(e.error_code, wire::ErrorCode::InvalidArgument);
}

TEST_F(DurabilityTest, ResendInTheSameBatchHasOneEffect) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  alice.Send(Request()
                 .SendText(1, ToUser("bob"), 77, "once")
                 .SendText(2, ToUser("bob"), 77, "once")
                 .Finish());
  ASSERT_TRUE(Settle());
  Envelope first = alice.TakeReply(1);
  Envelope second = alice.TakeReply(2);
  ASSERT_EQ(first.type, wire::Body::SendAck);
  ASSERT_EQ(second.type, wire::Body::SendAck);
  EXPECT_FALSE(first.duplicate);
  EXPECT_TRUE(second.duplicate);
  EXPECT_EQ(second.seq, first.seq);
  EXPECT_EQ(second.conversation_id, first.conversation_id);
  EXPECT_EQ(Deliveries(bob.Take()).size(), 1u);
  EXPECT_EQ(ReadAll(*h_, bob, first.conversation_id).size(), 1u);
  EXPECT_EQ(h_->broker().stats().messages_duplicate.load(), 1u);
}

TEST_F(DurabilityTest, ResendAfterCommitHasOneEffect) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  Envelope first = SendText(alice, ToUser("bob"), 77, "once");
  ASSERT_EQ(first.seq, 1u);
  bob.Take();

  // A resend answers with the original, even if it names another target.
  Envelope again = SendText(alice, ToUser("bob"), 77, "once");
  Envelope elsewhere = SendText(alice, ToUser("admin"), 77, "once");
  for (const Envelope& e : {again, elsewhere}) {
    ASSERT_EQ(e.type, wire::Body::SendAck);
    EXPECT_TRUE(e.duplicate);
    EXPECT_EQ(e.seq, 1u);
    EXPECT_EQ(e.conversation_id, first.conversation_id);
    EXPECT_EQ(e.client_msg_id, 77u);
  }
  EXPECT_TRUE(Deliveries(bob.Take()).empty());
  EXPECT_EQ(ReadAll(*h_, bob, first.conversation_id).size(), 1u);
  EXPECT_EQ(SendText(alice, ToUser("bob"), 78, "next").seq, 2u);
}

TEST_F(DurabilityTest, ResendAfterRestartHasOneEffect) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  Envelope first = SendText(alice, ToUser("bob"), 1'700'000'000'000'001, "once");
  ASSERT_EQ(first.seq, 1u);

  h_->Restart();
  alice = h_->Reconnect(alice);
  bob = h_->Reconnect(bob);
  Envelope again = SendText(alice, ToUser("bob"), 1'700'000'000'000'001, "once");
  ASSERT_EQ(again.type, wire::Body::SendAck);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, 1u);
  EXPECT_EQ(again.conversation_id, first.conversation_id);
  EXPECT_EQ(ReadAll(*h_, bob, first.conversation_id).size(), 1u);
  EXPECT_EQ(SendText(alice, ToUser("bob"), 1'700'000'000'000'002, "next").seq, 2u);
}

TEST_F(DurabilityTest, NewIdBelowTheHighestIsStoredAndResendsOfItHaveOneEffect) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  ASSERT_EQ(SendText(alice, ToUser("bob"), 1000, "high").seq, 1u);
  // A client whose ids do not increase: 500 is new although below 1000.
  Envelope low = SendText(alice, ToUser("bob"), 500, "low");
  ASSERT_EQ(low.type, wire::Body::SendAck);
  EXPECT_FALSE(low.duplicate);
  EXPECT_EQ(low.seq, 2u);
  // 600 lies between two known ids and is new too.
  EXPECT_EQ(SendText(alice, ToUser("bob"), 600, "between").seq, 3u);

  auto expect_duplicate = [&](ClientMsgId id, Seq seq) {
    Envelope e = SendText(alice, ToUser("bob"), id, "resend");
    EXPECT_EQ(e.type, wire::Body::SendAck) << id;
    EXPECT_TRUE(e.duplicate) << id;
    EXPECT_EQ(e.seq, seq) << id;
  };
  expect_duplicate(500, 2);
  expect_duplicate(1000, 1);
  expect_duplicate(600, 3);

  h_->Restart();
  alice = h_->Reconnect(alice);
  expect_duplicate(500, 2);
  expect_duplicate(600, 3);
  expect_duplicate(1000, 1);
  Envelope fresh = SendText(alice, ToUser("bob"), 750, "new after restart");
  EXPECT_FALSE(fresh.duplicate);
  EXPECT_EQ(fresh.seq, 4u);
  expect_duplicate(750, 4);
}

TEST_F(DurabilityTest, ClientMessageIdsAreTrackedPerDevice) {
  TestClient alice = AddUser("alice");
  TestClient alice_phone = h_->AddDevice(alice);
  AddUser("bob");
  EXPECT_EQ(SendText(alice, ToUser("bob"), 5, "laptop").seq, 1u);
  Envelope phone = SendText(alice_phone, ToUser("bob"), 5, "phone");
  EXPECT_FALSE(phone.duplicate);
  EXPECT_EQ(phone.seq, 2u);
}

TEST_F(DurabilityTest, SenderWhoLostItsSessionGetsTheAckOnResend) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  alice.Send(Request().SendText(1, ToUser("bob"), 9, "lost ack").Finish());
  // The connection goes away before the acknowledgement reaches it.
  h_->transport().SetOutcome(alice.connection, SendOutcome::kGone);
  ASSERT_TRUE(Settle());
  EXPECT_TRUE(h_->transport().forgotten(alice.connection));

  TestClient again = h_->Reconnect(alice);
  Envelope ack = SendText(again, ToUser("bob"), 9, "lost ack");
  ASSERT_EQ(ack.type, wire::Body::SendAck);
  EXPECT_TRUE(ack.duplicate);
  EXPECT_EQ(ack.seq, 1u);
}

TEST_F(DurabilityTest, StopWritesWhatIsPendingAndAnswersIt) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendText(alice, ToUser("bob"), 1, "one").conversation_id;
  alice.Send(Request().SendText(2, Conv(direct), 2, "two").Finish());
  // No Flush: the message is only in the batch being filled.
  h_->Restart();
  Envelope ack = alice.TakeReply(2);
  EXPECT_EQ(ack.type, wire::Body::SendAck);
  EXPECT_EQ(ack.seq, 2u);
  bob = h_->Reconnect(bob);
  EXPECT_EQ(ReadAll(*h_, bob, direct).size(), 2u);
}

TEST_F(DurabilityTest, RestartKeepsUsersDevicesConversationsAndSeqs) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t group = CreateGroup(alice, "ops", {"bob"});
  ASSERT_EQ(SendText(alice, Conv(group), 1, "a").seq, 1u);
  ASSERT_EQ(SendText(bob, Conv(group), 1, "b").seq, 2u);

  h_->Restart();
  // Known device keys still authenticate.
  EXPECT_TRUE(h_->broker().Authenticate(alice.keys.public_key, "test").allowed);
  alice = h_->Reconnect(alice);
  bob = h_->Reconnect(bob);
  EXPECT_EQ(SendText(bob, Conv(group), 2, "c").seq, 3u);
  std::vector<MessageView> all = ReadAll(*h_, alice, group);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].text, "c");
  alice.Send(Request().ListConversations(5).Finish());
  ASSERT_TRUE(Settle());
  Envelope list = alice.TakeReply(5);
  ASSERT_EQ(list.conversations.size(), 1u);
  EXPECT_EQ(list.conversations[0].name, "ops");
  EXPECT_TRUE(list.conversations[0].IsOwner("alice"));
}

TEST_F(DurabilityTest, HelloTellsTheDeviceTheHighestClientMessageIdItUsed) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  auto highest = [&](const TestClient& c) {
    c.Send(Request().Hello(99).Finish());
    EXPECT_TRUE(Settle());
    return c.TakeReply(99).last_client_msg_id;
  };
  EXPECT_EQ(highest(alice), 0u);
  SendText(alice, ToUser("bob"), 1000, "a");
  SendText(alice, ToUser("bob"), 500, "b");
  EXPECT_EQ(highest(alice), 1000u);
  // Also for a message whose batch is not stored yet.
  alice.Send(Request().SendText(1, ToUser("bob"), 2000, "c").Hello(2).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(2).last_client_msg_id, 2000u);

  h_->Restart();
  alice = h_->Reconnect(alice);
  EXPECT_EQ(highest(alice), 2000u);
  // Another device of the same user has ids of its own.
  EXPECT_EQ(highest(h_->AddDevice(alice)), 0u);
}

// schemas/README.md: "the broker answers with the original's SendAck and
// duplicate = true".
TEST_F(DurabilityTest, DuplicateAckCarriesTheOriginalSendTime) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  Envelope first = SendText(alice, ToUser("bob"), 77, "once");
  h_->clock().Advance(5 * kMicrosPerSecond);
  Envelope again = SendText(alice, ToUser("bob"), 77, "once");
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.sent_at_us, first.sent_at_us);
}

TEST_F(DurabilityTest, ResendOfTheLargestClientMessageIdHasOneEffect) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  constexpr ClientMsgId kLargest = std::numeric_limits<ClientMsgId>::max();
  alice.Send(Request()
                 .SendText(1, ToUser("bob"), 1001, "neighbour")
                 .SendText(2, ToUser("bob"), kLargest, "edge")
                 .Finish());
  ASSERT_TRUE(Settle());
  Envelope neighbour = alice.TakeReply(1);
  Envelope edge = alice.TakeReply(2);
  ASSERT_EQ(neighbour.type, wire::Body::SendAck);
  std::size_t stored = ReadAll(*h_, bob, neighbour.conversation_id).size();

  // Resends have no effect: either the edge id was refused as invalid, or it
  // was stored once and is recognised now; its neighbour is recognised too.
  Envelope neighbour_again = SendText(alice, ToUser("bob"), 1001, "neighbour");
  EXPECT_TRUE(neighbour_again.duplicate);
  EXPECT_EQ(neighbour_again.seq, neighbour.seq);
  if (edge.type == wire::Body::Error) {
    EXPECT_EQ(edge.error_code, wire::ErrorCode::InvalidArgument);
  } else {
    Envelope edge_again = SendText(alice, ToUser("bob"), kLargest, "edge");
    EXPECT_TRUE(edge_again.duplicate);
    EXPECT_EQ(edge_again.seq, edge.seq);
  }
  EXPECT_EQ(ReadAll(*h_, bob, neighbour.conversation_id).size(), stored);
}

}  // namespace
}  // namespace chatpro::core::testing
