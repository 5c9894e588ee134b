// SPDX-License-Identifier: Apache-2.0
//
// Delivery beyond the live path: offline catch-up paced by the delivery
// window, stored cursors, slow consumers, gone peers and session timeouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "broker/core/tests/broker_harness.h"

namespace chatpro::core::testing {
namespace {

constexpr std::uint32_t kWindow = 64;

// The client's rule (schemas/README.md): a delivery is processed if its seq is
// above the last one processed. Returns the seqs processed, in order; a gap
// in the result is a message this device never processes.
std::vector<Seq> Processed(const std::vector<Seq>& delivered) {
  std::vector<Seq> out;
  Seq last = 0;
  for (Seq s : delivered) {
    if (s > last) {
      out.push_back(s);
      last = s;
    }
  }
  return out;
}

class DeliveryTest : public BrokerTest {
 protected:
  void SetUp() override {
    CoreOptions options;
    options.delivery_window_messages = kWindow;
    Boot(options);
  }

  // `from` sends `count` texts to `to`, 100 per frame, and all are stored.
  // Returns the conversation id.
  std::uint64_t SendMany(const TestClient& from, const std::string& to, int count,
                         ClientMsgId first_id = 1) {
    std::uint64_t conversation = 0;
    for (int done = 0; done < count;) {
      Request r;
      for (int i = 0; i < 100 && done < count; ++i, ++done) {
        ClientMsgId id = first_id + static_cast<ClientMsgId>(done);
        r.SendText(id, ToUser(to), id, "m" + std::to_string(done + 1));
      }
      from.Send(r);
      EXPECT_TRUE(Settle());
      std::vector<Envelope> acks = OfType(from.Take(), wire::Body::SendAck);
      if (!acks.empty()) conversation = acks.back().conversation_id;
    }
    return conversation;
  }

  // Acks `seq` of `conversation` from `client` and lets the cursor be written.
  void AckAndSettle(const TestClient& client, std::uint64_t conversation, Seq seq) {
    client.Send(Request().Ack({{conversation, seq}}).Finish());
    EXPECT_TRUE(h_->SettleCursors());
  }
};

TEST_F(DeliveryTest, OfflineDeviceCatchesUpOnEverythingInOrderPacedByTheWindow) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  h_->TimeOutSessions();  // everybody offline
  alice = h_->Reconnect(alice, /*receive=*/false);
  std::uint64_t direct = SendMany(alice, "bob", 1000);
  ASSERT_NE(direct, 0u);

  bob = h_->Reconnect(bob);
  std::vector<Seq> received;
  int rounds = 0;
  while (received.size() < 1000 && rounds++ < 100) {
    std::vector<Seq> got = DeliveredSeqs(bob.Take(), direct);
    ASSERT_FALSE(got.empty()) << "catch-up stalled after " << received.size();
    // Never more than the window before the device acks.
    ASSERT_LE(got.size(), kWindow);
    received.insert(received.end(), got.begin(), got.end());
    // Nothing more arrives without an ack.
    ASSERT_TRUE(h_->SettleCursors());
    ASSERT_TRUE(bob.Take().empty());
    AckAndSettle(bob, direct, received.back());
  }
  EXPECT_EQ(received, SeqRange(1, 1000));
  EXPECT_GE(h_->broker().stats().deliveries_catch_up.load(), 1000u);
}

TEST_F(DeliveryTest, LiveDeliveriesStopAtTheWindowUntilTheSessionAcks) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  alice = h_->Reconnect(alice, /*receive=*/false);
  std::uint64_t direct = SendMany(alice, "bob", 150);

  std::vector<Seq> first = DeliveredSeqs(bob.Take(), direct);
  EXPECT_EQ(first, SeqRange(1, kWindow));
  AckAndSettle(bob, direct, 10);
  // Ten acknowledged, ten more may be in flight.
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(kWindow + 1, kWindow + 10));
  AckAndSettle(bob, direct, kWindow + 10);
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(kWindow + 11, 2 * kWindow + 10));
  AckAndSettle(bob, direct, 2 * kWindow + 10);
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(2 * kWindow + 11, 150));
}

TEST_F(DeliveryTest, StoredCursorResumesDeliveryAfterReconnectAndRestart) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  h_->TimeOutSessions();
  alice = h_->Reconnect(alice, /*receive=*/false);
  std::uint64_t direct = SendMany(alice, "bob", 1000);

  // Bob processes up to 500 and acks exactly that.
  bob = h_->Reconnect(bob);
  Seq last = 0;
  while (last < 500) {
    std::vector<Seq> got = DeliveredSeqs(bob.Take(), direct);
    ASSERT_FALSE(got.empty());
    last = got.back();
    AckAndSettle(bob, direct, std::min<Seq>(last, 500));
  }
  bob.Take();

  // A new connection of the same device, once the old one is gone.
  h_->TimeOutSessions();
  TestClient again = h_->Reconnect(bob);
  EXPECT_EQ(DeliveredSeqs(again.Take(), direct), SeqRange(501, 500 + kWindow));

  // And after a broker restart: still from 501 (nothing later was acked).
  h_->Restart();
  TestClient after_restart = h_->Reconnect(bob);
  EXPECT_EQ(DeliveredSeqs(after_restart.Take(), direct), SeqRange(501, 500 + kWindow));
}

TEST_F(DeliveryTest, NewDeviceReceivesTheHistoryItsUserMayRead) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::uint64_t direct = SendMany(alice, "bob", 10);
  TestClient bob_phone = h_->AddDevice(bob);
  EXPECT_EQ(DeliveredSeqs(bob_phone.Take(), direct), SeqRange(1, 10));
}

TEST_F(DeliveryTest, SlowConsumerIsCutAndCatchesUpInOrderOnceItReadsAgain) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  alice = h_->Reconnect(alice, /*receive=*/false);
  h_->transport().SetOutcome(bob.connection, SendOutcome::kFull);

  std::uint64_t direct = SendMany(alice, "bob", 10);
  SendMany(alice, "bob", 10, 11);  // more while the pipe is full
  EXPECT_GE(h_->broker().stats().slow_consumers_cut.load(), 1u);
  EXPECT_GT(h_->transport().refusals(bob.connection), 0);
  EXPECT_TRUE(bob.Take().empty());
  EXPECT_FALSE(h_->transport().forgotten(bob.connection));

  // The peer reads again; once the pause has passed the session catches up.
  h_->transport().SetOutcome(bob.connection, SendOutcome::kSent);
  h_->clock().Advance(300'000);
  h_->broker().OnTick();
  ASSERT_TRUE(Settle());
  std::vector<Envelope> got = bob.Take();
  EXPECT_EQ(DeliveredSeqs(got, direct), SeqRange(1, 20));
  // The reply-channel event refused meanwhile arrives too.
  EXPECT_EQ(OfType(got, wire::Body::ConversationInfo).size(), 1u);

  // And live delivery works again.
  SendMany(alice, "bob", 1, 21);
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), std::vector<Seq>{21});
}

TEST_F(DeliveryTest, SlowConsumerResumesAfterItsLastAck) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  alice = h_->Reconnect(alice, /*receive=*/false);
  std::uint64_t direct = SendMany(alice, "bob", 5);
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(1, 5));
  AckAndSettle(bob, direct, 3);

  h_->transport().SetOutcome(bob.connection, SendOutcome::kFull);
  SendMany(alice, "bob", 5, 6);
  EXPECT_GE(h_->broker().stats().slow_consumers_cut.load(), 1u);
  h_->transport().SetOutcome(bob.connection, SendOutcome::kSent);
  h_->clock().Advance(300'000);
  ASSERT_TRUE(Settle());
  // 4 and 5 went out before the pipe filled and are not pushed again; the
  // refused ones follow once the pipe has room.
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(6, 10));
}

TEST_F(DeliveryTest, GonePeerIsForgottenAndOthersAreUnaffected) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  TestClient bob_phone = h_->AddDevice(bob);
  bob.Take();
  bob_phone.Take();
  h_->transport().SetOutcome(bob.connection, SendOutcome::kGone);
  std::size_t sessions = h_->broker().session_count();

  std::uint64_t direct = SendMany(alice, "bob", 3);
  EXPECT_TRUE(h_->transport().forgotten(bob.connection));
  EXPECT_EQ(h_->broker().session_count(), sessions - 1);
  EXPECT_EQ(DeliveredSeqs(bob_phone.Take(), direct), SeqRange(1, 3));

  TestClient back = h_->Reconnect(bob);
  EXPECT_EQ(DeliveredSeqs(back.Take(), direct), SeqRange(1, 3));
}

TEST_F(DeliveryTest, SilentSessionIsDroppedAfterTheTimeoutAndForgotten) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::size_t sessions = h_->broker().session_count();
  EXPECT_EQ(h_->broker().stats().sessions.load(), static_cast<std::int64_t>(sessions));
  // admin, alice and bob, each on one device.
  EXPECT_EQ(h_->broker().stats().devices_connected.load(), 3);

  // Bob pings half-way; alice says nothing.
  h_->clock().Advance(h_->options().session_timeout_us / 2);
  bob.Send(Request().Ping(1).Finish());
  h_->broker().OnTick();
  EXPECT_EQ(h_->broker().session_count(), sessions);
  h_->clock().Advance(h_->options().session_timeout_us / 2 + kMicrosPerSecond);
  h_->broker().OnTick();

  EXPECT_TRUE(h_->transport().forgotten(alice.connection));
  EXPECT_FALSE(h_->transport().forgotten(bob.connection));
  EXPECT_TRUE(h_->transport().forgotten(admin_.connection));
  EXPECT_EQ(h_->broker().session_count(), 1u);
  EXPECT_EQ(h_->broker().stats().sessions.load(), 1);
  EXPECT_EQ(h_->broker().stats().devices_connected.load(), 1);

  // Alice's next frame starts a new session, which works as before.
  alice.Send(Request().Hello(2).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice.TakeReply(2).type, wire::Body::HelloReply);
  EXPECT_EQ(SendText(alice, ToUser("bob"), 3, "back").seq, 1u);
  EXPECT_EQ(Deliveries(bob.Take()).size(), 1u);
}

TEST_F(DeliveryTest, AckBeyondWhatWasDeliveredSkipsNothing) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  alice = h_->Reconnect(alice, /*receive=*/false);
  std::uint64_t direct = SendMany(alice, "bob", 100);
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(1, kWindow));
  AckAndSettle(bob, direct, 100);  // claims more than it got
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(kWindow + 1, 100));
  h_->TimeOutSessions();
  EXPECT_EQ(DeliveredSeqs(h_->Reconnect(bob).Take(), direct), SeqRange(kWindow + 1, 100));
}

TEST_F(DeliveryTest, AckForAConversationOfSomebodyElseIsIgnored) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  TestClient carol = AddUser("carol");
  std::uint64_t direct = SendMany(alice, "bob", 3);
  AckAndSettle(carol, direct, 3);
  EXPECT_TRUE(carol.Take().empty());
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(1, 3));
}

TEST_F(DeliveryTest, LiveDeliveriesRespectTheByteWindow) {
  CoreOptions options;
  options.delivery_window_bytes = 1000;
  Boot(options);
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  alice = h_->Reconnect(alice, /*receive=*/false);
  std::uint64_t direct = 0;
  for (ClientMsgId id = 1; id <= 3; ++id) {
    direct = SendText(alice, ToUser("bob"), id, std::string(2000, 'x')).conversation_id;
  }
  // One message is always let through, however big; then the window is full.
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), std::vector<Seq>{1});
}

TEST_F(DeliveryTest, DeviceWhoseWindowStaysFullWithoutAnAckIsCountedCutOncePerStall) {
  CoreOptions options;
  options.delivery_window_bytes = 1000;
  Boot(options);
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  alice = h_->Reconnect(alice, /*receive=*/false);
  std::uint64_t direct = 0;
  for (ClientMsgId id = 1; id <= 3; ++id) {
    direct = SendText(alice, ToUser("bob"), id, std::string(2000, 'x')).conversation_id;
  }
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), std::vector<Seq>{1});
  auto tick = [&](std::int64_t us) {
    h_->clock().Advance(us);
    h_->broker().OnTick();
  };
  tick(1'100'000);  // the sweep sees the full window
  EXPECT_EQ(h_->broker().stats().slow_consumers_cut.load(), 0u);
  tick(options.slow_consumer_timeout_us + 1'100'000);
  const std::uint64_t cut = h_->broker().stats().slow_consumers_cut.load();
  EXPECT_GE(cut, 1u);
  tick(1'100'000);
  EXPECT_EQ(h_->broker().stats().slow_consumers_cut.load(), cut);  // the same stall

  // It reads again, then stalls again: one more cut.
  AckAndSettle(bob, direct, 1);
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), std::vector<Seq>{2});
  tick(1'100'000);
  tick(options.slow_consumer_timeout_us + 1'100'000);
  EXPECT_EQ(h_->broker().stats().slow_consumers_cut.load(), cut + 1);
}

TEST_F(DeliveryTest, CatchUpRespectsTheByteWindow) {
  CoreOptions options;
  options.delivery_window_bytes = 1000;
  Boot(options);
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  h_->TimeOutSessions();
  alice = h_->Reconnect(alice, /*receive=*/false);
  std::uint64_t direct = 0;
  for (ClientMsgId id = 1; id <= 3; ++id) {
    direct = SendText(alice, ToUser("bob"), id, std::string(2000, 'x')).conversation_id;
  }
  bob = h_->Reconnect(bob);
  for (Seq seq = 1; seq <= 3; ++seq) {
    EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), std::vector<Seq>{seq});
    AckAndSettle(bob, direct, seq);
  }
  EXPECT_TRUE(bob.Take().empty());
}

TEST_F(DeliveryTest, CatchUpCutByAFullPipeLeavesNoGap) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  h_->TimeOutSessions();
  alice = h_->Reconnect(alice, /*receive=*/false);
  // 40 texts of 60 kB: a catch-up of more than two 1 MiB delivery frames.
  std::uint64_t direct = 0;
  for (ClientMsgId id = 1; id <= 40; ++id) {
    direct = SendText(alice, ToUser("bob"), id, std::string(60'000, 'a' + id % 26)).conversation_id;
  }

  // Bob comes back; his pipe is full for a moment when the first frame goes.
  TestClient back = bob;
  back.connection = h_->NewConnectionId();
  h_->transport().RefuseNext(back.connection, 1);
  back.Send(Request().Hello(1).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_GE(h_->broker().stats().slow_consumers_cut.load(), 1u);
  h_->clock().Advance(300'000);
  ASSERT_TRUE(Settle());
  std::vector<Seq> delivered = DeliveredSeqs(back.Take(), direct);
  // At least once and in order: every seq gets processed, none skipped.
  EXPECT_EQ(Processed(delivered), SeqRange(1, 40));
}

TEST_F(DeliveryTest, CatchUpToAPeerThatIsGoneDropsTheSessionSafely) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  h_->TimeOutSessions();
  alice = h_->Reconnect(alice, /*receive=*/false);
  std::uint64_t direct = 0;
  for (ClientMsgId id = 1; id <= 40; ++id) {
    direct = SendText(alice, ToUser("bob"), id, std::string(60'000, 'g')).conversation_id;
  }
  // Bob's new connection is gone by the time the first 1 MiB frame is sent.
  TestClient back = bob;
  back.connection = h_->NewConnectionId();
  h_->transport().SetOutcome(back.connection, SendOutcome::kGone);
  back.Send(Request().Hello(1).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_TRUE(h_->transport().forgotten(back.connection));
  EXPECT_EQ(h_->broker().session_count(), 1u);  // alice's
  // Bob catches up on the next connection.
  TestClient again = h_->Reconnect(bob);
  EXPECT_EQ(Processed(DeliveredSeqs(again.Take(), direct)), SeqRange(1, 40));
}

TEST_F(DeliveryTest, PeerThatReadsNothingIsDroppedAfterManyRefusedReplies) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  h_->transport().SetOutcome(bob.connection, SendOutcome::kFull);
  for (int i = 0; i < 300 && !h_->transport().forgotten(bob.connection); ++i) {
    bob.Send(Request().Ping(1).Finish());
    h_->broker().Flush();
  }
  EXPECT_TRUE(h_->transport().forgotten(bob.connection));
  // Everybody else carries on.
  EXPECT_EQ(SendText(alice, ToUser("bob"), 1, "hi").seq, 1u);
}

TEST_F(DeliveryTest, SessionThatTurnsReceivingOnCatchesUp) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  h_->TimeOutSessions();
  alice = h_->Reconnect(alice, /*receive=*/false);
  bob = h_->Reconnect(bob, /*receive=*/false);
  std::uint64_t direct = SendMany(alice, "bob", 3);
  EXPECT_TRUE(Deliveries(bob.Take()).empty());
  bob.Send(Request().Hello(1, /*receive=*/true).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(DeliveredSeqs(bob.Take(), direct), SeqRange(1, 3));
}

}  // namespace
}  // namespace chatpro::core::testing
