// SPDX-License-Identifier: Apache-2.0
//
// The messaging core, end to end: real chatpro-broker processes on loopback,
// driven through libchatpro (and, where exact bytes matter, a raw CURVE
// DEALER). Each test asserts what a person using ChatPro would notice.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "tests/chat_fixture.h"
#include "tests/raw_connection.h"

namespace chatpro::testing {
namespace {

using client::Content;
using client::Message;
using client::Profile;
using client::SendResult;
using client::Target;

class DirectChat : public BrokerTest {};
class GroupChat : public BrokerTest {};
class Durability : public BrokerTest {};
class OfflineDevice : public BrokerTest {};
class ExactlyOnce : public BrokerTest {};
class History : public BrokerTest {};

std::string Numbered(const char* prefix, std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04zu", i);
  return std::string(prefix) + " " + buf;
}

// Sends `texts` without waiting for each acknowledgement; returns the results
// in send order once all are in (or fails the test).
std::vector<SendResult> SendAll(client::Client& from, const Target& to,
                                const std::vector<std::string>& texts) {
  std::vector<std::future<SendResult>> futures;
  futures.reserve(texts.size());
  for (const auto& t : texts) futures.push_back(from.Send(to, MakeText(t)));
  std::vector<SendResult> results;
  for (auto& f : futures) {
    Result<SendResult> r = Await(f);
    if (!r.ok()) {
      ADD_FAILURE() << "send " << results.size() << ": " << r.status();
      break;
    }
    results.push_back(*r);
  }
  return results;
}

// ------------------------------------------------------------------ 1:1

TEST_F(DirectChat, TextVoiceAndPictureArriveByteForByteWithSenderConversationAndSeq) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  auto ana_inbox = std::make_shared<Inbox>();
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, ana_inbox));
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));

  const std::vector<Content> sent = {
      MakeText("Lunch at one? \xc3\xa0 bient\xc3\xb4t \xe2\x9c\x93"),
      MakeVoice(48 * 1024, 11),
      MakePicture(100 * 1024, 6 * 1024, 12),
  };
  std::vector<SendResult> results;
  for (const Content& c : sent) {
    auto future = ana_client->Send(Target::User("ben"), c);
    ASSERT_OK_AND_ASSIGN(SendResult r, Await(future));
    ASSERT_TRUE(r.status.ok()) << r.status;
    results.push_back(r);
  }
  ASSERT_NE(results[0].conversation_id, 0u);
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].conversation_id, results[0].conversation_id);
    EXPECT_EQ(results[i].seq, i + 1) << "the first message of a conversation has seq 1";
    EXPECT_FALSE(results[i].duplicate);
  }

  ASSERT_TRUE(ben_inbox->WaitFor(sent.size())) << "ben got " << ben_inbox->size() << " of 3";
  std::vector<Message> got = ben_inbox->messages();
  ASSERT_EQ(got.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE("message " + std::to_string(i));
    EXPECT_EQ(got[i].sender, "ana");
    EXPECT_EQ(got[i].sender_device_id, ana.device_id);
    EXPECT_EQ(got[i].conversation_id, results[i].conversation_id);
    EXPECT_EQ(got[i].seq, results[i].seq);
    EXPECT_EQ(got[i].client_msg_id, results[i].client_msg_id);
    EXPECT_TRUE(SameContent(sent[i], got[i].content));
  }

  // The sender's own session sees its messages as well (schemas/README.md).
  ASSERT_TRUE(ana_inbox->WaitFor(sent.size())) << "ana's own session got " << ana_inbox->size();
  std::vector<Message> own = ana_inbox->messages();
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(own[i].seq, results[i].seq);
    EXPECT_TRUE(SameContent(sent[i], own[i].content));
  }
}

// ------------------------------------------------------------------ groups

TEST_F(GroupChat, EveryKindFromTwoMembersReachesAllFiveInTheSameSeqOrder) {
  const std::vector<std::string> logins = {"ana", "ben", "cai", "dan", "eve"};
  std::vector<std::shared_ptr<Inbox>> inboxes;
  std::vector<std::unique_ptr<client::Client>> clients;
  for (const auto& login : logins) {
    ASSERT_OK_AND_ASSIGN(Profile p, AddUser(login));
    inboxes.push_back(std::make_shared<Inbox>());
    ASSERT_OK_AND_ASSIGN(auto c, Connect(p, inboxes.back()));
    clients.push_back(std::move(c));
  }
  ASSERT_OK_AND_ASSIGN(client::Conversation group,
                       clients[0]->CreateGroup("Night shift", {"ben", "cai", "dan", "eve"}));
  ASSERT_EQ(group.kind, client::ConversationKind::kGroup);
  EXPECT_EQ(group.name, "Night shift");
  ASSERT_EQ(group.members.size(), 5u);
  for (const auto& m : group.members) EXPECT_EQ(m.owner, m.login == "ana") << m.login;

  // ana and cai write at the same time, one message of each kind each.
  const std::vector<Content> from_ana = {MakeText("keys are at the front desk"),
                                         MakeVoice(20 * 1024, 21), MakePicture(60 * 1024, 2048, 22)};
  const std::vector<Content> from_cai = {MakeText("thanks, on my way"), MakeVoice(9 * 1024, 31),
                                         MakePicture(30 * 1024, 1024, 32)};
  std::vector<std::future<SendResult>> ana_futures, cai_futures;
  for (std::size_t i = 0; i < 3; ++i) {
    ana_futures.push_back(clients[0]->Send(Target::Conversation(group.id), from_ana[i]));
    cai_futures.push_back(clients[2]->Send(Target::Conversation(group.id), from_cai[i]));
  }
  // seq -> (sender, content), from the senders' acknowledgements.
  std::map<std::uint64_t, std::pair<std::string, const Content*>> expected;
  std::uint64_t last_ana = 0, last_cai = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(SendResult a, Await(ana_futures[i]));
    ASSERT_OK_AND_ASSIGN(SendResult c, Await(cai_futures[i]));
    ASSERT_TRUE(a.status.ok()) << a.status;
    ASSERT_TRUE(c.status.ok()) << c.status;
    EXPECT_EQ(a.conversation_id, group.id);
    EXPECT_EQ(c.conversation_id, group.id);
    EXPECT_GT(a.seq, last_ana) << "one sender's messages keep their order";
    EXPECT_GT(c.seq, last_cai) << "one sender's messages keep their order";
    last_ana = a.seq;
    last_cai = c.seq;
    expected[a.seq] = {"ana", &from_ana[i]};
    expected[c.seq] = {"cai", &from_cai[i]};
  }
  ASSERT_EQ(expected.size(), 6u) << "six messages need six different seqs";
  EXPECT_EQ(expected.begin()->first, 1u);
  EXPECT_EQ(expected.rbegin()->first, 6u);

  for (std::size_t u = 0; u < logins.size(); ++u) {
    SCOPED_TRACE(logins[u]);
    ASSERT_TRUE(inboxes[u]->WaitFor(6)) << logins[u] << " got " << inboxes[u]->size() << " of 6";
    std::vector<Message> got = inboxes[u]->messages();
    ASSERT_EQ(got.size(), 6u);
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].conversation_id, group.id);
      EXPECT_EQ(got[i].seq, i + 1) << "deliveries come in seq order";
      auto it = expected.find(got[i].seq);
      ASSERT_NE(it, expected.end());
      EXPECT_EQ(got[i].sender, it->second.first);
      EXPECT_TRUE(SameContent(*it->second.second, got[i].content));
    }
  }
}

// ------------------------------------------------------------------ durability

TEST_F(Durability, MessagesAcknowledgedWhileTheRecipientIsOfflineSurviveABrokerRestart) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));

  // Ben reads the first message, then goes offline.
  {
    auto inbox = std::make_shared<Inbox>();
    ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, inbox));
    auto f = ana_client->Send(Target::User("ben"), MakeText("before the restart"));
    ASSERT_OK_AND_ASSIGN(SendResult r, Await(f));
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_TRUE(inbox->WaitFor(1));
  }

  const std::vector<Content> sent = {MakeText("while you were away"), MakeVoice(30 * 1024, 41),
                                     MakePicture(80 * 1024, 4096, 42)};
  std::vector<SendResult> results;
  for (const Content& c : sent) {
    auto f = ana_client->Send(Target::User("ben"), c);
    ASSERT_OK_AND_ASSIGN(SendResult r, Await(f));
    ASSERT_TRUE(r.status.ok()) << r.status;
    results.push_back(r);
  }
  ana_client.reset();

  ExitCode stopped = broker_->Stop();
  ASSERT_EQ(stopped, 0) << "SIGTERM must stop the broker cleanly: " << DescribeExit(stopped);
  ASSERT_OK(broker_->Start());

  auto inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, inbox));
  // At least once: a repeat of the message read before is allowed; what
  // counts is that everything after it arrives, in order, intact.
  const std::uint64_t first_seq = results.front().seq;
  const auto after_first = [&](const std::vector<Message>& all) {
    std::vector<Message> after;
    for (const Message& m : all) {
      if (m.seq >= first_seq) after.push_back(m);
    }
    return after;
  };
  EXPECT_TRUE(inbox->WaitUntil(
      [&](const std::vector<Message>& all) { return after_first(all).size() >= sent.size(); }));
  std::vector<Message> got = after_first(inbox->messages());
  ASSERT_EQ(got.size(), sent.size()) << "messages acknowledged before the restart are missing";
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].seq, results[i].seq);
    EXPECT_EQ(got[i].sender, "ana");
    EXPECT_TRUE(SameContent(sent[i], got[i].content));
  }
}

TEST_F(OfflineDevice, GetsAllOfAThousandMessagesInOrderWhenItConnects) {
  constexpr std::size_t kCount = 1000;
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));  // enrolled, not connected
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));

  std::vector<std::string> texts;
  for (std::size_t i = 0; i < kCount; ++i) texts.push_back(Numbered("offline message", i));
  std::vector<SendResult> results = SendAll(*ana_client, Target::User("ben"), texts);
  ASSERT_EQ(results.size(), kCount);
  for (const SendResult& r : results) ASSERT_TRUE(r.status.ok()) << r.status;

  auto inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, inbox));
  ASSERT_TRUE(inbox->WaitFor(kCount)) << "ben got " << inbox->size() << " of " << kCount;
  std::vector<Message> got = inbox->messages();
  ASSERT_EQ(got.size(), kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(got[i].seq, i + 1) << "at position " << i;
    ASSERT_EQ(TextOf(got[i]), texts[i]) << "at position " << i;
    ASSERT_EQ(got[i].sender, "ana");
  }
}

// ------------------------------------------------------------------ exactly once

TEST_F(ExactlyOnce, SendsInFlightWhenTheBrokerCrashesTakeEffectOnceAfterTheResend) {
  constexpr std::size_t kCount = 2000;
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  // The direct conversation exists before the burst, so the burst is only messages.
  ASSERT_OK_AND_ASSIGN(client::Conversation direct, ana_client->OpenDirect("ben"));

  // Shared with the callbacks, which may outlive this frame if the test fails.
  struct Burst {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::optional<SendResult>> results = std::vector<std::optional<SendResult>>(kCount);
    std::size_t completed = 0;
    std::size_t completed_at_kill = 0;
    bool killed = false;
  };
  auto burst = std::make_shared<Burst>();
  BrokerProcess* broker = broker_.get();
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < kCount; ++i) texts.push_back(Numbered("exactly once", i));
  for (std::size_t i = 0; i < kCount; ++i) {
    ana_client->SendAsync(Target::Conversation(direct.id), MakeText(texts[i]),
                          [burst, broker, i](const SendResult& r) {
                            std::lock_guard<std::mutex> lock(burst->mutex);
                            burst->results[i] = r;
                            ++burst->completed;
                            if (!burst->killed) {
                              // The broker dies with the rest of the burst in flight.
                              broker->KillNow();
                              burst->killed = true;
                              burst->completed_at_kill = burst->completed;
                            }
                            burst->cv.notify_all();
                          });
  }
  std::size_t completed_at_kill = 0;
  {
    std::unique_lock<std::mutex> lock(burst->mutex);
    ASSERT_TRUE(burst->cv.wait_for(lock, kWaitTimeout, [&] { return burst->killed; }))
        << "no send was acknowledged";
    completed_at_kill = burst->completed_at_kill;
  }
  broker_->Kill();  // reap it
  ASSERT_LT(completed_at_kill, kCount) << "nothing was in flight when the broker died";
  ASSERT_OK(broker_->Start());

  ASSERT_TRUE(ana_client->Flush(kWaitTimeout)) << "the resends were not acknowledged";
  std::vector<std::optional<SendResult>> results;
  {
    std::lock_guard<std::mutex> lock(burst->mutex);
    results = burst->results;
  }
  std::set<std::uint64_t> seqs;
  std::size_t duplicates = 0;
  for (std::size_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(results[i].has_value()) << "send " << i << " never completed";
    ASSERT_TRUE(results[i]->status.ok()) << "send " << i << ": " << results[i]->status;
    EXPECT_TRUE(seqs.insert(results[i]->seq).second) << "seq " << results[i]->seq << " twice";
    duplicates += results[i]->duplicate ? 1 : 0;
  }
  RecordProperty("acknowledged_before_crash", static_cast<int>(completed_at_kill));
  RecordProperty("duplicate_acks", static_cast<int>(duplicates));
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), kCount) << "the seqs have gaps or extra messages";

  // Ben's first device reads the whole conversation: each text once, in order.
  auto inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, inbox));
  ASSERT_TRUE(inbox->WaitFor(kCount)) << "ben got " << inbox->size() << " of " << kCount;
  ASSERT_OK_AND_ASSIGN(std::vector<client::Conversation> convs, ben_client->ListConversations());
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0].head_seq, kCount) << "the conversation holds more messages than were sent";
  std::vector<Message> got = inbox->messages();
  ASSERT_EQ(got.size(), kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(got[i].seq, i + 1);
    ASSERT_EQ(TextOf(got[i]), texts[i]) << "resends keep the original order, each text once";
    ASSERT_EQ(got[i].seq, results[i]->seq);
  }
}

TEST_F(ExactlyOnce, TheSameSendTwiceGetsTheOriginalSeqMarkedDuplicateAlsoAfterARestart) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  const std::string send = SendTextFrame(2, 424242, 0, "ben", "only once, please");
  std::uint64_t conversation = 0;
  {
    RawConnection raw(ana);
    ASSERT_TRUE(raw.WaitConnected());
    ASSERT_TRUE(raw.Send(HelloFrame(1)));
    ASSERT_TRUE(raw.Send(send));
    std::optional<RawReply> first = raw.WaitForReply(2);
    ASSERT_TRUE(first.has_value()) << "no reply to the first Send";
    ASSERT_EQ(first->type, wire::Body::SendAck) << DescribeReply(*first);
    EXPECT_EQ(first->seq, 1u);
    EXPECT_FALSE(first->duplicate);
    conversation = first->conversation_id;

    ASSERT_TRUE(raw.Send(send));
    std::optional<RawReply> second = raw.WaitForReply(2);
    ASSERT_TRUE(second.has_value()) << "no reply to the resend";
    ASSERT_EQ(second->type, wire::Body::SendAck) << DescribeReply(*second);
    EXPECT_TRUE(second->duplicate);
    EXPECT_EQ(second->seq, first->seq);
    EXPECT_EQ(second->conversation_id, conversation);
    EXPECT_EQ(second->client_msg_id, 424242u);
  }

  ExitCode stopped = broker_->Stop();
  ASSERT_EQ(stopped, 0) << DescribeExit(stopped);
  ASSERT_OK(broker_->Start());
  {
    RawConnection raw(ana);
    ASSERT_TRUE(raw.WaitConnected());
    ASSERT_TRUE(raw.Send(send));
    std::optional<RawReply> third = raw.WaitForReply(2);
    ASSERT_TRUE(third.has_value()) << "no reply to the resend after the restart";
    ASSERT_EQ(third->type, wire::Body::SendAck) << DescribeReply(*third);
    EXPECT_TRUE(third->duplicate) << "the restarted broker forgot the message id";
    EXPECT_EQ(third->seq, 1u);
    EXPECT_EQ(third->conversation_id, conversation);
  }

  auto inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, inbox));
  ASSERT_TRUE(inbox->WaitFor(1));
  ASSERT_OK_AND_ASSIGN(std::vector<client::Conversation> convs, ben_client->ListConversations());
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0].head_seq, 1u) << "three sends with one id made more than one message";
  EXPECT_EQ(TextOf(inbox->messages()[0]), "only once, please");
}

// ------------------------------------------------------------------ history

TEST_F(History, PagesBackwardAndForwardThroughAHundredAndTwentyMessagesInOrder) {
  constexpr std::size_t kCount = 120;
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, nullptr));
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < kCount; ++i) texts.push_back(Numbered("history", i + 1));
  std::vector<SendResult> results = SendAll(*ana_client, Target::User("ben"), texts);
  ASSERT_EQ(results.size(), kCount);
  const std::uint64_t conversation = results[0].conversation_id;

  // Checks that `page` holds exactly seqs [first, last] with their texts.
  auto expect_page = [&](const client::HistoryPage& page, std::uint64_t first, std::uint64_t last,
                         bool has_more) {
    EXPECT_EQ(page.conversation_id, conversation);
    EXPECT_EQ(page.has_more, has_more);
    ASSERT_EQ(page.messages.size(), last - first + 1);
    for (std::size_t i = 0; i < page.messages.size(); ++i) {
      const Message& m = page.messages[i];
      ASSERT_EQ(m.seq, first + i) << "pages are oldest first";
      EXPECT_EQ(TextOf(m), texts[m.seq - 1]);
      EXPECT_EQ(m.sender, "ana");
    }
  };

  // Backwards from the newest, as ana sees the chat with ben.
  client::HistoryQuery back{0, 50, true};
  ASSERT_OK_AND_ASSIGN(client::HistoryPage p1, ana_client->History(Target::User("ben"), back));
  {
    SCOPED_TRACE("backward page 1");
    expect_page(p1, 71, 120, true);
  }
  back.from_seq = 71;
  ASSERT_OK_AND_ASSIGN(client::HistoryPage p2, ana_client->History(Target::User("ben"), back));
  {
    SCOPED_TRACE("backward page 2");
    expect_page(p2, 21, 70, true);
  }
  back.from_seq = 21;
  ASSERT_OK_AND_ASSIGN(client::HistoryPage p3, ana_client->History(Target::User("ben"), back));
  {
    SCOPED_TRACE("backward page 3");
    expect_page(p3, 1, 20, false);
  }

  // Forwards from the start, as ben sees the same conversation.
  client::HistoryQuery fwd{1, 50, false};
  ASSERT_OK_AND_ASSIGN(client::HistoryPage f1,
                       ben_client->History(Target::Conversation(conversation), fwd));
  {
    SCOPED_TRACE("forward page 1");
    expect_page(f1, 1, 50, true);
  }
  fwd.from_seq = 51;
  ASSERT_OK_AND_ASSIGN(client::HistoryPage f2,
                       ben_client->History(Target::Conversation(conversation), fwd));
  {
    SCOPED_TRACE("forward page 2");
    expect_page(f2, 51, 100, true);
  }
  fwd.from_seq = 101;
  ASSERT_OK_AND_ASSIGN(client::HistoryPage f3,
                       ben_client->History(Target::Conversation(conversation), fwd));
  {
    SCOPED_TRACE("forward page 3");
    expect_page(f3, 101, 120, false);
  }
}

}  // namespace
}  // namespace chatpro::testing
