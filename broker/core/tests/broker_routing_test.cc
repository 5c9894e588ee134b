// SPDX-License-Identifier: Apache-2.0
//
// Routing and delivery through the Broker's public API: who gets what, in
// which order, with which content.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "broker/core/tests/broker_harness.h"

namespace chatpro::core::testing {
namespace {

using RoutingTest = BrokerTest;

TEST_F(RoutingTest, HelloReplyTellsTheDeviceWhoItIs) {
  TestClient alice = AddUser("alice");
  TestClient session = h_->Reconnect(alice);
  session.Send(Request().Hello(7).Finish());
  ASSERT_TRUE(Settle());
  Envelope hello = session.TakeReply(7);
  ASSERT_EQ(hello.type, wire::Body::HelloReply);
  EXPECT_EQ(hello.protocol_version, 1);
  EXPECT_EQ(hello.login, "alice");
  EXPECT_EQ(hello.user_id, alice.user_id);
  EXPECT_EQ(hello.device_id, alice.device_id);
  EXPECT_EQ(hello.role, wire::Role::User);
  EXPECT_EQ(hello.max_text_bytes, h_->options().max_text_bytes);
}

TEST_F(RoutingTest, DirectTextIsAcknowledgedAndDeliveredToEverySessionOfBothUsers) {
  TestClient alice = AddUser("alice");
  TestClient alice_tab = h_->Reconnect(alice);    // a second session of the same device
  TestClient alice_phone = h_->AddDevice(alice);  // another device of alice
  TestClient bob = AddUser("bob");
  for (const TestClient* c : {&alice, &alice_tab, &alice_phone, &bob, &admin_}) c->Take();

  alice.Send(Request().SendText(1, ToUser("bob"), 100, "hello bob").Finish());
  ASSERT_TRUE(Settle());

  Envelope ack = alice.TakeReply(1);
  ASSERT_EQ(ack.type, wire::Body::SendAck) << ack.error_message;
  EXPECT_EQ(ack.seq, 1u);
  EXPECT_EQ(ack.client_msg_id, 100u);
  EXPECT_FALSE(ack.duplicate);
  EXPECT_NE(ack.conversation_id, 0u);
  EXPECT_EQ(ack.sent_at_us, h_->clock().NowMicros());

  // schemas/README.md: to every session of every device of every member, the
  // sender's own other devices and sessions included (and so the sending
  // session itself, which is a receiving session of a member).
  for (const TestClient* c : {&alice, &alice_tab, &alice_phone, &bob}) {
    std::vector<Envelope> got = c->Take();
    std::vector<MessageView> delivered = Deliveries(got);
    ASSERT_EQ(delivered.size(), 1u) << "connection " << c->connection;
    EXPECT_EQ(delivered[0].conversation_id, ack.conversation_id);
    EXPECT_EQ(delivered[0].seq, 1u);
    EXPECT_EQ(delivered[0].text, "hello bob");
    EXPECT_EQ(delivered[0].sender_login, "alice");
    EXPECT_EQ(delivered[0].sender_user_id, alice.user_id);
    EXPECT_EQ(delivered[0].sender_device_id, alice.device_id);
    EXPECT_EQ(delivered[0].client_msg_id, 100u);
    // Every session of both users is told about the new conversation; a
    // direct chat is named after the other person.
    std::vector<Envelope> infos = OfType(got, wire::Body::ConversationInfo);
    ASSERT_EQ(infos.size(), 1u);
    EXPECT_EQ(infos[0].conversation.id, ack.conversation_id);
    EXPECT_EQ(infos[0].conversation.kind, wire::ConversationKind::Direct);
    EXPECT_EQ(infos[0].conversation.name, c->login == "alice" ? "bob" : "alice");
    EXPECT_EQ(infos[0].request_id, 0u);
  }
  // Nobody else hears of it.
  EXPECT_TRUE(admin_.Take().empty());
  EXPECT_EQ(h_->broker().stats().messages_accepted[0].load(), 1u);
}

TEST_F(RoutingTest, SendOnlySessionGetsNoDeliveries) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  TestClient bob_cli = h_->Reconnect(bob, /*receive=*/false);
  bob.Take();

  ASSERT_EQ(SendText(alice, ToUser("bob"), 1, "hi").type, wire::Body::SendAck);
  EXPECT_EQ(Deliveries(bob.Take()).size(), 1u);
  EXPECT_TRUE(bob_cli.Take().empty());
}

TEST_F(RoutingTest, GroupOfFiveReceivesEveryMessageInOneOrder) {
  std::vector<TestClient> users;
  for (std::string login : {"ana", "ben", "cai", "dev", "eli"}) users.push_back(AddUser(login));
  std::uint64_t group = CreateGroup(users[0], "night shift", {"ben", "cai", "dev", "eli"});
  ASSERT_NE(group, 0u);

  // Every member sends three messages; all fifteen go out in one round.
  ClientMsgId id = 1;
  for (int round = 0; round < 3; ++round) {
    for (const TestClient& u : users) {
      u.Send(
          Request().SendText(id, Conv(group), id, u.login + " " + std::to_string(round)).Finish());
      ++id;
    }
  }
  ASSERT_TRUE(Settle());

  std::vector<std::string> order;
  for (std::size_t i = 0; i < users.size(); ++i) {
    std::vector<Envelope> got = users[i].Take();
    EXPECT_EQ(OfType(got, wire::Body::SendAck).size(), 3u);
    std::vector<MessageView> delivered = Deliveries(got);
    ASSERT_EQ(DeliveredSeqs(got, group), SeqRange(1, 15)) << users[i].login;
    std::vector<std::string> texts;
    for (const MessageView& m : delivered) texts.push_back(m.text);
    // Every member sees the same order.
    if (i == 0) order = texts;
    EXPECT_EQ(texts, order) << users[i].login;
  }
  // Each sender's own messages keep the order they were sent in.
  for (const TestClient& u : users) {
    std::vector<std::string> own;
    for (const std::string& t : order) {
      if (t.rfind(u.login, 0) == 0) own.push_back(t);
    }
    EXPECT_EQ(own, (std::vector<std::string>{u.login + " 0", u.login + " 1", u.login + " 2"}));
  }
}

TEST_F(RoutingTest, SeqsIncreasePerConversationWithoutGaps) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  TestClient carol = AddUser("carol");

  Request r;
  for (ClientMsgId id = 1; id <= 40; ++id) {
    r.SendText(id, ToUser(id % 2 == 0 ? "bob" : "carol"), id, "m" + std::to_string(id));
  }
  alice.Send(r);
  ASSERT_TRUE(Settle());

  std::vector<Envelope> acks = OfType(alice.Take(), wire::Body::SendAck);
  ASSERT_EQ(acks.size(), 40u);
  std::map<std::uint64_t, std::vector<Seq>> seqs;
  for (const Envelope& a : acks) seqs[a.conversation_id].push_back(a.seq);
  ASSERT_EQ(seqs.size(), 2u);
  for (const auto& [conversation, list] : seqs) EXPECT_EQ(list, SeqRange(1, 20));

  std::vector<Envelope> to_bob = bob.Take();
  std::vector<MessageView> bob_got = Deliveries(to_bob);
  ASSERT_EQ(bob_got.size(), 20u);
  EXPECT_EQ(DeliveredSeqs(to_bob, bob_got[0].conversation_id), SeqRange(1, 20));
  EXPECT_EQ(bob_got[0].text, "m2");
  EXPECT_EQ(bob_got[19].text, "m40");
  EXPECT_EQ(Deliveries(carol.Take()).size(), 20u);
}

TEST_F(RoutingTest, TextVoiceAndPictureContentRoundTripByteForByte) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  std::string text = "Grüße, 世界 \xF0\x9F\x91\x8B \"quoted\"\n";
  std::string audio;
  for (int i = 0; i < 3 * 256; ++i) audio.push_back(static_cast<char>(i % 256));
  std::string image(5000, '\0');
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<char>((i * 7919) % 251);
  std::string thumbnail = std::string("\xFF\xD8\xFF\x00 tiny", 9);

  alice.Send(Request()
                 .SendText(1, ToUser("bob"), 1, text)
                 .SendVoice(2, ToUser("bob"), 2, "opus", 4321, audio)
                 .SendPicture(3, ToUser("bob"), 3, "image/jpeg", 640, 480, image, thumbnail)
                 .Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(OfType(alice.Take(), wire::Body::SendAck).size(), 3u);

  std::vector<MessageView> got = Deliveries(bob.Take());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].content_type, wire::Content::Text);
  EXPECT_EQ(got[0].text, text);
  EXPECT_EQ(got[1].content_type, wire::Content::Voice);
  EXPECT_EQ(got[1].codec, "opus");
  EXPECT_EQ(got[1].duration_ms, 4321u);
  EXPECT_EQ(got[1].audio, audio);
  EXPECT_EQ(got[2].content_type, wire::Content::Picture);
  EXPECT_EQ(got[2].mime_type, "image/jpeg");
  EXPECT_EQ(got[2].width, 640u);
  EXPECT_EQ(got[2].height, 480u);
  EXPECT_EQ(got[2].image, image);
  EXPECT_EQ(got[2].thumbnail, thumbnail);

  // History hands out the very bytes that were delivered.
  bob.Send(Request().History(9, got[0].conversation_id, 0, 10, true).Finish());
  ASSERT_TRUE(Settle());
  Envelope history = bob.TakeReply(9);
  ASSERT_EQ(history.history.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(history.history[i].bytes, got[i].bytes);

  const BrokerStats& stats = h_->broker().stats();
  EXPECT_EQ(stats.messages_accepted[0].load(), 1u);
  EXPECT_EQ(stats.messages_accepted[1].load(), 1u);
  EXPECT_EQ(stats.messages_accepted[2].load(), 1u);
  // Each went live to bob and to alice's own session.
  EXPECT_EQ(stats.delivered_live[0].load(), 2u);
  EXPECT_EQ(stats.delivered_live[1].load(), 2u);
  EXPECT_EQ(stats.delivered_live[2].load(), 2u);
  EXPECT_EQ(stats.delivered_live[3].load(), 0u);
}

TEST_F(RoutingTest, OfflineBacklogCountsMessagesWaitingForDevicesThatAreNotConnected) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  auto tick_after_interval = [&] {
    h_->clock().Advance(16 * kMicrosPerSecond);
    h_->broker().OnTick();
    return h_->broker().stats().offline_backlog.load();
  };
  const BrokerStats& stats = h_->broker().stats();
  h_->TimeOutSessions();  // everyone offline
  alice = h_->Reconnect(alice);
  for (ClientMsgId id = 1; id <= 3; ++id) {
    alice.Send(Request().SendText(id, ToUser("bob"), id, "while you were out").Finish());
  }
  ASSERT_TRUE(Settle());
  EXPECT_EQ(tick_after_interval(), 3u) << "bob's device waits for three";
  // Alice's device has its own messages (they were delivered to it too).
  std::vector<MessageView> own = Deliveries(alice.Take());
  ASSERT_EQ(own.size(), 3u);
  alice.Send(Request().Ack({{own[0].conversation_id, own[2].seq}}).Finish());

  // Bob connects, catches up (deliveries from the store) and acknowledges.
  bob = h_->Reconnect(bob);
  ASSERT_TRUE(Settle());
  std::vector<MessageView> got = Deliveries(bob.Take());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(stats.delivered_catch_up[0].load(), 3u);
  EXPECT_EQ(tick_after_interval(), 0u) << "a connected device is not offline";
  bob.Send(Request().Ack({{got[0].conversation_id, got[2].seq}}).Finish());
  ASSERT_TRUE(h_->SettleCursors());
  h_->TimeOutSessions();
  EXPECT_EQ(tick_after_interval(), 0u) << "bob has read everything";
  h_->Restart();  // the cursors come back from the store
  EXPECT_EQ(tick_after_interval(), 0u) << "after a restart";

  // A second device of bob's has seen nothing yet.
  bob = h_->Reconnect(bob);
  TestClient bob_tablet = h_->AddDevice(bob);
  h_->TimeOutSessions();
  EXPECT_EQ(tick_after_interval(), 3u);
}

TEST_F(RoutingTest, OpenDirectFindsTheSameConversationFromBothSides) {
  TestClient alice = AddUser("alice");
  TestClient bob = AddUser("bob");
  alice.Send(Request().OpenDirect(1, "bob").Finish());
  ASSERT_TRUE(Settle());
  Envelope a = alice.TakeReply(1);
  ASSERT_EQ(a.type, wire::Body::ConversationInfo) << a.error_message;
  EXPECT_EQ(a.conversation.name, "bob");
  EXPECT_EQ(a.conversation.members.size(), 2u);

  bob.Send(Request().OpenDirect(2, "alice").Finish());
  ASSERT_TRUE(Settle());
  Envelope b = bob.TakeReply(2);
  ASSERT_EQ(b.type, wire::Body::ConversationInfo) << b.error_message;
  EXPECT_EQ(b.conversation.id, a.conversation.id);
  EXPECT_EQ(b.conversation.name, "alice");

  // A Send by login lands in that conversation.
  Envelope ack = SendText(bob, ToUser("alice"), 5, "hi");
  EXPECT_EQ(ack.conversation_id, a.conversation.id);
}

TEST_F(RoutingTest, ListConversationsShowsEachConversationWithItsHead) {
  TestClient alice = AddUser("alice");
  AddUser("bob");
  AddUser("carol");
  ASSERT_EQ(SendText(alice, ToUser("bob"), 1, "one").seq, 1u);
  ASSERT_EQ(SendText(alice, ToUser("bob"), 2, "two").seq, 2u);
  std::uint64_t group = CreateGroup(alice, "team", {"carol"});
  alice.Take();

  alice.Send(Request().ListConversations(3).Finish());
  ASSERT_TRUE(Settle());
  Envelope list = alice.TakeReply(3);
  ASSERT_EQ(list.type, wire::Body::ConversationList);
  ASSERT_EQ(list.conversations.size(), 2u);
  EXPECT_EQ(list.conversations[0].name, "bob");
  EXPECT_EQ(list.conversations[0].head_seq, 2u);
  EXPECT_EQ(list.conversations[0].first_seq, 1u);
  EXPECT_EQ(list.conversations[1].id, group);
  EXPECT_EQ(list.conversations[1].name, "team");
  EXPECT_EQ(list.conversations[1].kind, wire::ConversationKind::Group);
  EXPECT_TRUE(list.conversations[1].IsOwner("alice"));
  EXPECT_TRUE(list.conversations[1].HasMember("carol"));
  EXPECT_FALSE(list.conversations[1].IsOwner("carol"));
}

TEST_F(RoutingTest, PingIsAnsweredWithTheServerTime) {
  TestClient alice = AddUser("alice");
  alice.Send(Request().Ping(4).Finish());
  ASSERT_TRUE(Settle());
  Envelope pong = alice.TakeReply(4);
  ASSERT_EQ(pong.type, wire::Body::Pong);
  EXPECT_EQ(pong.server_time_us, h_->clock().NowMicros());
}

}  // namespace
}  // namespace chatpro::core::testing
