// SPDX-License-Identifier: Apache-2.0
//
// libchatpro against FakeBroker: sessions, sends, deliveries, requests,
// refusal and reconnection, through the public API only.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <optional>
#include <mutex>
#include <thread>

#include "broker/base/encoding.h"
#include "broker/base/invite.h"
#include "broker/crypto/keys.h"
#include "client/client.h"
#include "client/tests/fake_broker.h"

namespace chatpro::client {
namespace {

using testing::FakeBroker;
using testing::SeenEnvelope;
using namespace std::chrono_literals;

std::size_t Count(const std::vector<SeenEnvelope>& seen, wire::Body type) {
  std::size_t n = 0;
  for (const auto& s : seen) n += s.type == type ? 1 : 0;
  return n;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    crypto::KeyPair device = crypto::GenerateKeyPair();
    profile_.endpoint = broker_.endpoint();
    profile_.server_key = broker_.keys().public_key;
    profile_.public_key = device.public_key;
    profile_.secret_key = device.secret_key;
    profile_.login = "ana";
    broker_.Allow(device.public_key);
  }

  std::unique_ptr<Client> Connect(ClientOptions options = {}) {
    if (options.connect_timeout == 15000ms) options.connect_timeout = 5000ms;
    auto c = Client::Connect(profile_, std::move(options));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  FakeBroker broker_;
  Profile profile_;
};

TEST_F(ClientTest, ConnectSaysHelloAndKnowsWhoItIs) {
  ClientOptions options;
  options.receive = false;
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->state(), ConnectionState::kConnected);
  SessionInfo s = client->session();
  EXPECT_EQ(s.login, "ana");
  EXPECT_EQ(s.user_id, 7u);
  EXPECT_EQ(s.device_id, 3u);
  EXPECT_EQ(s.max_text_bytes, 65536u);
  auto seen = broker_.Seen();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0].type, wire::Body::Hello);
  EXPECT_FALSE(seen[0].receive);
}

TEST_F(ClientTest, ConnectWithAnUnknownKeyIsPermissionDenied) {
  profile_.public_key = crypto::GenerateKeyPair().public_key;  // not allowed; pair mismatch is fine
  crypto::KeyPair other = crypto::GenerateKeyPair();
  profile_.public_key = other.public_key;
  profile_.secret_key = other.secret_key;
  ClientOptions options;
  options.connect_timeout = 5000ms;
  auto c = Client::Connect(profile_, options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
}

TEST_F(ClientTest, ConnectToNobodyIsUnavailableAfterTheTimeout) {
  profile_.endpoint = "tcp://127.0.0.1:1";
  ClientOptions options;
  options.connect_timeout = 300ms;
  auto c = Client::Connect(profile_, options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("tcp://127.0.0.1:1"), std::string::npos);
}

TEST_F(ClientTest, SendIsAcknowledgedWithConversationAndSeq) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  SendResult r = client->Send(Target::User("bob"), Text{"hello"}).get();
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.conversation_id, 1u);
  EXPECT_EQ(r.seq, 1u);
  EXPECT_NE(r.client_msg_id, 0u);
  SendResult r2 = client->Send(Target::Conversation(1), Text{"again"}).get();
  EXPECT_EQ(r2.seq, 2u);
  EXPECT_GT(r2.client_msg_id, r.client_msg_id);
}

TEST_F(ClientTest, ManySendsArePackedIntoFramesOfAtMostMaxBatch) {
  ClientOptions options;
  options.max_batch = 16;
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  std::vector<std::future<SendResult>> futures;
  for (int i = 0; i < 200; ++i) {
    futures.push_back(client->Send(Target::Conversation(4), Text{"m" + std::to_string(i)}));
  }
  ASSERT_TRUE(client->Flush(5000ms));
  std::uint64_t last_seq = 0;
  for (auto& f : futures) {
    SendResult r = f.get();
    ASSERT_TRUE(r.status.ok());
    EXPECT_EQ(r.seq, last_seq + 1);  // original order
    last_seq = r.seq;
  }
  std::map<std::size_t, int> per_frame;
  for (const auto& s : broker_.Seen()) {
    if (s.type == wire::Body::Send) ++per_frame[s.frame];
  }
  EXPECT_LT(per_frame.size(), 200u) << "sends were batched";
  for (auto [frame, n] : per_frame) EXPECT_LE(n, 16);
}

TEST_F(ClientTest, SendsOverTheLimitsFailLocally) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  SendResult r = client->Send(Target::User("bob"), Text{std::string(65537, 'a')}).get();
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  r = client->Send(Target{}, Text{"nowhere"}).get();
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::Send), 0u);
}

TEST_F(ClientTest, UnacknowledgedSendsAreResentWithTheSameIdAfterReconnecting) {
  std::vector<ConnectionState> states;
  std::mutex m;
  ClientOptions options;
  options.on_state = [&](ConnectionState s, const Status&) {
    std::lock_guard<std::mutex> lock(m);
    states.push_back(s);
  };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  broker_.ack_sends = false;
  auto first = client->Send(Target::Conversation(1), Text{"one"});
  auto second = client->Send(Target::Conversation(1), Text{"two"});
  ASSERT_TRUE(broker_.WaitFor([](const auto& seen) { return Count(seen, wire::Body::Send) == 2; }));
  EXPECT_EQ(first.wait_for(100ms), std::future_status::timeout);

  broker_.ack_sends = true;
  broker_.Restart();
  ASSERT_EQ(first.wait_for(10s), std::future_status::ready);
  SendResult a = first.get();
  SendResult b = second.get();
  ASSERT_TRUE(a.status.ok()) << a.status;
  EXPECT_EQ(a.seq, 1u);
  EXPECT_EQ(b.seq, 2u);

  auto seen = broker_.Seen();
  std::vector<SeenEnvelope> after;
  for (const auto& s : seen) {
    if (s.connection == 1) after.push_back(s);
  }
  ASSERT_GE(after.size(), 3u);
  EXPECT_EQ(after[0].type, wire::Body::Hello) << "Hello comes first on the new connection";
  EXPECT_EQ(after[1].client_msg_id, a.client_msg_id);
  EXPECT_EQ(after[2].client_msg_id, b.client_msg_id);
  std::lock_guard<std::mutex> lock(m);
  EXPECT_NE(std::find(states.begin(), states.end(), ConnectionState::kConnecting), states.end());
  EXPECT_EQ(states.back(), ConnectionState::kConnected);
}

TEST_F(ClientTest, AnErrorForOneSendFailsOnlyThatSend) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto a = client->Send(Target::Conversation(1), Text{"a"});
  auto b = client->Send(Target::Conversation(FakeBroker::kMissingConversation), Text{"b"});
  auto c = client->Send(Target::Conversation(1), Text{"c"});
  SendResult ra = a.get();
  SendResult rb = b.get();
  SendResult rc = c.get();
  ASSERT_TRUE(ra.status.ok()) << ra.status;
  ASSERT_TRUE(rc.status.ok()) << rc.status;
  EXPECT_EQ(rb.status.code(), StatusCode::kNotFound);
  EXPECT_EQ(rb.status.message(), "no conversation 404");
  EXPECT_LT(ra.client_msg_id, rb.client_msg_id);
  EXPECT_LT(rb.client_msg_id, rc.client_msg_id);
  EXPECT_EQ(rc.seq, ra.seq + 1);
  EXPECT_TRUE(client->Flush(1000ms));
}

TEST_F(ClientTest, SendsAnsweredOutOfOrderAreNotResent) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  broker_.ack_sends = false;
  auto a = client->Send(Target::Conversation(1), Text{"a"});
  auto b = client->Send(Target::Conversation(FakeBroker::kMissingConversation), Text{"b"});
  auto c = client->Send(Target::Conversation(1), Text{"c"});
  ASSERT_EQ(b.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(b.get().status.code(), StatusCode::kNotFound);
  EXPECT_EQ(a.wait_for(100ms), std::future_status::timeout);

  broker_.ack_sends = true;
  broker_.Restart();
  ASSERT_EQ(c.wait_for(10s), std::future_status::ready);
  SendResult ra = a.get();
  SendResult rc = c.get();
  ASSERT_TRUE(ra.status.ok()) << ra.status;
  ASSERT_TRUE(rc.status.ok()) << rc.status;
  std::vector<std::uint64_t> resent;
  for (const auto& s : broker_.Seen()) {
    if (s.connection == 1 && s.type == wire::Body::Send) resent.push_back(s.client_msg_id);
  }
  EXPECT_EQ(resent, (std::vector<std::uint64_t>{ra.client_msg_id, rc.client_msg_id}));
}

TEST_F(ClientTest, SendsFromManyThreadsThroughASmallWindowAllComplete) {
  // Many wake-ups racing the I/O thread going idle: a lost one would hang.
  ClientOptions options;
  options.max_batch = 8;
  options.max_unacked_sends = 16;
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1500;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        client->SendAsync(Target::Conversation(2),
                          Text{std::to_string(t) + "/" + std::to_string(i)},
                          [&](const SendResult& r) { ++(r.status.ok() ? ok : failed); });
        if (i % 100 == 0) std::this_thread::sleep_for(1ms);  // let the I/O thread go idle
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(client->Flush(20s)) << ok.load() << " acknowledged";
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(failed.load(), 0);
  // Each send was written once, in the order of its id.
  std::uint64_t last = 0;
  std::size_t sends = 0;
  for (const auto& s : broker_.Seen()) {
    if (s.type != wire::Body::Send) continue;
    EXPECT_GT(s.client_msg_id, last);
    last = s.client_msg_id;
    ++sends;
  }
  EXPECT_EQ(sends, static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_F(ClientTest, ASendAfterAnIdlePauseIsWrittenAtOnce) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(i % 4 * 5));
    auto start = std::chrono::steady_clock::now();
    auto f = client->Send(Target::Conversation(1), Text{"ping " + std::to_string(i)});
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready) << "send " << i << " was not woken";
    EXPECT_TRUE(f.get().status.ok());
    // Far below the I/O thread's idle poll timeout (10 s): it was woken.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  }
}

TEST_F(ClientTest, DeliveriesAreHandedOverInOrderOnceAndAcknowledged) {
  std::mutex m;
  std::vector<std::uint64_t> got;
  ClientOptions options;
  options.on_message = [&](const Message& msg) {
    std::lock_guard<std::mutex> lock(m);
    got.push_back(msg.seq);
    EXPECT_EQ(msg.sender, "bob");
    EXPECT_EQ(std::get<Text>(msg.content).body, "message " + std::to_string(msg.seq));
  };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  broker_.PushDeliveries(6, {1, 2, 3});
  broker_.PushDeliveries(6, {2, 3, 4});  // at least once: 2 and 3 again
  ASSERT_TRUE(broker_.WaitFor([](const auto& seen) {
    for (const auto& s : seen) {
      for (auto [c, q] : s.cursors) {
        if (c == 6 && q == 4) return true;
      }
    }
    return false;
  }));
  std::lock_guard<std::mutex> lock(m);
  EXPECT_EQ(got, (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_F(ClientTest, DuplicateDeliveriesAreAcknowledgedAgain) {
  // Otherwise redelivered messages would stay in the broker's delivery window.
  std::atomic<int> count{0};
  ClientOptions options;
  options.on_message = [&](const Message&) { ++count; };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  auto acks_of_3 = [](const std::vector<SeenEnvelope>& seen) {
    int n = 0;
    for (const auto& s : seen) {
      for (auto [c, q] : s.cursors) n += (c == 6 && q == 3) ? 1 : 0;
    }
    return n;
  };
  broker_.PushDeliveries(6, {1, 2, 3});
  ASSERT_TRUE(broker_.WaitFor([&](const auto& seen) { return acks_of_3(seen) == 1; }));
  broker_.PushDeliveries(6, {2, 3});
  ASSERT_TRUE(broker_.WaitFor([&](const auto& seen) { return acks_of_3(seen) == 2; }));
  EXPECT_EQ(count.load(), 3);
}

TEST_F(ClientTest, StopReceivingLeavesLaterDeliveriesUnacknowledged) {
  std::atomic<int> count{0};
  Client* self = nullptr;
  ClientOptions options;
  options.on_message = [&](const Message&) {
    if (++count == 2) self->StopReceiving();
  };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  self = client.get();
  broker_.PushDeliveries(6, {1, 2, 3, 4});
  ASSERT_TRUE(broker_.WaitFor([](const auto& seen) { return Count(seen, wire::Body::Ack) > 0; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(count.load(), 2);
  for (const auto& s : broker_.Seen()) {
    for (auto [c, q] : s.cursors) EXPECT_LE(q, 2u);
  }
}

TEST_F(ClientTest, SendOnlySessionsIgnoreDeliveries) {
  std::atomic<int> count{0};
  ClientOptions options;
  options.receive = false;
  options.on_message = [&](const Message&) { ++count; };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  broker_.PushDeliveries(6, {1});
  ASSERT_TRUE(client->Send(Target::Conversation(1), Text{"x"}).get().status.ok());
  EXPECT_EQ(count.load(), 0);
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::Ack), 0u);
}

TEST_F(ClientTest, ConversationEventsReachTheCallback) {
  std::atomic<std::uint64_t> id{0};
  ClientOptions options;
  options.on_conversation = [&](const Conversation& c) {
    if (c.name == "news") id = c.id;
  };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  broker_.PushConversation(12, "news");
  for (int i = 0; i < 200 && id == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(id.load(), 12u);
}

TEST_F(ClientTest, RequestsGetTheirRepliesAndErrorsKeepTheirCode) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<Conversation> direct = client->OpenDirect("bob");
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_EQ(direct->id, 5u);
  EXPECT_EQ(direct->kind, ConversationKind::kDirect);
  EXPECT_EQ(direct->members.size(), 2u);

  Result<Conversation> nobody = client->OpenDirect("nobody");
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(nobody.status().message(), "no user named nobody");

  Result<HistoryPage> page = client->History(Target::Conversation(1), HistoryQuery{});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->messages.size(), 2u);
  EXPECT_EQ(page->messages[0].seq, 1u);
  EXPECT_TRUE(page->has_more);

  EXPECT_TRUE(client->LeaveGroup(1).ok());
  Result<Conversation> created = client->CreateGroup("ops", {"bob"});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->name, "ops");
  Result<InviteInfo> invite = client->AdminAddUser("carl", "Carl", Role::kUser);
  ASSERT_TRUE(invite.ok());
  EXPECT_EQ(invite->login, "carl");
  EXPECT_EQ(client->Directory().status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, FindGroupMatchesGroupsByName) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<Conversation> team = client->FindGroup("team");
  ASSERT_TRUE(team.ok()) << team.status();
  EXPECT_EQ(team->id, 1u);
  EXPECT_EQ(client->FindGroup("bob").status().code(), StatusCode::kNotFound);  // a direct chat
  EXPECT_EQ(client->FindGroup("dup").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, ARequestWithoutAnswerTimesOutAsUnavailable) {
  ClientOptions options;
  options.request_timeout = 300ms;
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  broker_.answer_requests = false;
  auto start = std::chrono::steady_clock::now();
  Result<std::vector<Conversation>> r = client->ListConversations();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(ClientTest, BlockingCallsFromACallbackFailWithFailedPrecondition) {
  std::promise<Status> from_callback;
  Client* self = nullptr;
  ClientOptions options;
  options.on_message = [&](const Message&) {
    from_callback.set_value(self->ListConversations().status());
  };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  self = client.get();
  broker_.PushDeliveries(6, {1});
  auto f = from_callback.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ClientTest, ClosingFailsSendsThatWereNeverAcknowledged) {
  std::future<SendResult> pending;
  {
    auto client = Connect();
    ASSERT_NE(client, nullptr);
    broker_.ack_sends = false;
    pending = client->Send(Target::Conversation(1), Text{"lost?"});
    EXPECT_FALSE(client->Flush(100ms));
  }
  ASSERT_EQ(pending.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(pending.get().status.code(), StatusCode::kUnavailable);
}

TEST_F(ClientTest, EditsAndDeletionsGoOutAndComeBackAsTheirOwnKinds) {
  std::mutex m;
  std::vector<Message> got;
  ClientOptions options;
  options.on_message = [&](const Message& msg) {
    std::lock_guard<std::mutex> lock(m);
    got.push_back(msg);
  };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  SendResult edit = client->Send(Target::Conversation(6), Edit{5, "new text"}).get();
  ASSERT_TRUE(edit.status.ok()) << edit.status;
  SendResult deletion = client->Send(Target::Conversation(6), Deletion{5}).get();
  ASSERT_TRUE(deletion.status.ok()) << deletion.status;
  EXPECT_EQ(deletion.seq, edit.seq + 1);
  std::vector<SeenEnvelope> sends;
  for (const auto& s : broker_.Seen()) {
    if (s.type == wire::Body::Send) sends.push_back(s);
  }
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].content, wire::Content::Edit);
  EXPECT_EQ(sends[0].target_seq, 5u);
  EXPECT_EQ(sends[0].text, "new text");
  EXPECT_EQ(sends[0].conversation_id, 6u);
  EXPECT_EQ(sends[1].content, wire::Content::Deletion);
  EXPECT_EQ(sends[1].target_seq, 5u);

  // Checked before they leave: a target and, for an edit, a text.
  EXPECT_EQ(client->Send(Target::Conversation(6), Edit{0, "x"}).get().status.code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Send(Target::Conversation(6), Edit{5, ""}).get().status.code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Send(Target::Conversation(6), Edit{5, std::string(65537, 'a')})
                .get()
                .status.code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Send(Target::Conversation(6), Deletion{0}).get().status.code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::Send), 2u);

  broker_.PushStored({testing::BuildStoredMessage(6, 5, "bob", "old text"),
                      testing::BuildStoredEdit(6, 6, "bob", 5, "better text"),
                      testing::BuildStoredDeletion(6, 7, "bob", 5)});
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(m);
      if (got.size() == 3) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::lock_guard<std::mutex> lock(m);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(std::get<Text>(got[0].content).body, "old text");
  const auto* e = std::get_if<Edit>(&got[1].content);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->target_seq, 5u);
  EXPECT_EQ(e->text, "better text");
  EXPECT_EQ(got[1].seq, 6u);
  const auto* d = std::get_if<Deletion>(&got[2].content);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->target_seq, 5u);
  EXPECT_EQ(got[2].sender, "bob");
}

// The last envelope of this type, or one of type NONE. A copy: Seen()
// returns a fresh vector each time.
SeenEnvelope Last(const std::vector<SeenEnvelope>& seen, wire::Body type) {
  for (auto it = seen.rbegin(); it != seen.rend(); ++it) {
    if (it->type == type) return *it;
  }
  return SeenEnvelope();
}

TEST_F(ClientTest, OffboardingRequestsCarryTheirFieldsAndRepliesAreDecoded) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<OffboardingInfo> off = client->AdminDeactivateUser("ben");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->login, "ben");
  EXPECT_EQ(off->asked_at_us, 1'700'000'000'000'000);
  EXPECT_EQ(off->devices_revoked, 2u);
  EXPECT_EQ(off->sessions_closed, 3u);
  EXPECT_EQ(off->last_session_closed_at_us, 1'700'000'000'250'000);
  EXPECT_EQ(off->invites_cancelled, 1u);
  auto seen = broker_.Seen();
  ASSERT_EQ(Last(seen, wire::Body::AdminDeactivateUser).type, wire::Body::AdminDeactivateUser);
  EXPECT_EQ(Last(seen, wire::Body::AdminDeactivateUser).login, "ben");
  Result<OffboardingInfo> nobody = client->AdminDeactivateUser("nobody");
  EXPECT_EQ(nobody.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(nobody.status().message(), "no user named nobody");
  EXPECT_EQ(client->AdminDeactivateUser("").status().code(), StatusCode::kInvalidArgument);

  Result<InviteInfo> back = client->AdminReactivateUser("ben");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->login, "ben");
  EXPECT_EQ(back->invite, "chatpro://127.0.0.1:1?key=00&code=AGAIN");
  EXPECT_EQ(back->expires_at_us, 43);
  EXPECT_EQ(back->web_link, "https://127.0.0.1:8444/#invite=AGAIN");
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::AdminReactivateUser).login, "ben");
}

TEST_F(ClientTest, DeviceRequestsCarryTheirFieldsAndRepliesAreDecoded) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<std::vector<DeviceInfo>> own = client->ListDevices("");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ListDevices).login, "");
  ASSERT_EQ(own->size(), 2u);
  const DeviceInfo& laptop = (*own)[0];
  EXPECT_EQ(laptop.id, 3u);
  EXPECT_EQ(laptop.name, "laptop");
  EXPECT_EQ(laptop.client_version, "chatpro-cli/0.1");
  EXPECT_EQ(laptop.created_at_us, 1'700'000'000'000'000);
  EXPECT_EQ(laptop.last_seen_us, 1'700'000'100'000'000);
  EXPECT_EQ(laptop.last_address, "127.0.0.1");
  EXPECT_TRUE(laptop.active);
  EXPECT_TRUE(laptop.online);
  const DeviceInfo& phone = (*own)[1];
  EXPECT_FALSE(phone.active);
  EXPECT_EQ(phone.revoked_at_us, 1'696'000'000'000'000);
  EXPECT_FALSE(phone.online);
  ASSERT_TRUE(client->ListDevices("ben").ok());
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ListDevices).login, "ben");

  ASSERT_TRUE(client->RevokeDevice("ben", 4).ok());
  SeenEnvelope revoke = Last(broker_.Seen(), wire::Body::RevokeDevice);
  ASSERT_EQ(revoke.type, wire::Body::RevokeDevice);
  EXPECT_EQ(revoke.login, "ben");
  EXPECT_EQ(revoke.device_id, 4u);
  EXPECT_EQ(client->RevokeDevice("", 0).code(), StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, BlockingAndReportingCarryTheirFieldsAndRepliesAreDecoded) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Block("carl").ok());
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::Block).login, "carl");
  ASSERT_TRUE(client->Unblock("carl").ok());
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::Unblock).login, "carl");
  Result<std::vector<std::string>> blocked = client->ListBlocked();
  ASSERT_TRUE(blocked.ok()) << blocked.status();
  EXPECT_EQ(*blocked, std::vector<std::string>{"carl"});
  EXPECT_EQ(client->Block("").code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(client->Report(2, 9, "insulting").ok());
  SeenEnvelope report = Last(broker_.Seen(), wire::Body::Report);
  ASSERT_EQ(report.type, wire::Body::Report);
  EXPECT_EQ(report.conversation_id, 2u);
  EXPECT_EQ(report.seq, 9u);
  EXPECT_EQ(report.reason, "insulting");
  EXPECT_EQ(client->Report(2, 0, "why").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Report(2, 9, "").code(), StatusCode::kInvalidArgument);

  Result<std::vector<ReportInfo>> reports = client->AdminListReports();
  ASSERT_TRUE(reports.ok()) << reports.status();
  ASSERT_EQ(reports->size(), 2u);
  const ReportInfo& first = (*reports)[0];
  EXPECT_EQ(first.id, 1u);
  EXPECT_EQ(first.created_at_us, 1'700'000'000'500'000);
  EXPECT_EQ(first.reporter, "ana");
  EXPECT_EQ(first.reason, "insulting");
  EXPECT_EQ(first.conversation_id, 2u);
  EXPECT_EQ(first.seq, 9u);
  ASSERT_TRUE(first.message.has_value());
  EXPECT_EQ(first.message->sender, "bob");
  EXPECT_EQ(first.message->seq, 9u);
  EXPECT_EQ(std::get<Text>(first.message->content).body, "rude words");
  EXPECT_FALSE((*reports)[1].message.has_value());
}

TEST_F(ClientTest, AuditRequestsCarryTheirFieldsAndRepliesAreDecoded) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<std::vector<AuditEntryInfo>> entries = client->AdminListAudit(40, 2);
  ASSERT_TRUE(entries.ok()) << entries.status();
  SeenEnvelope list = Last(broker_.Seen(), wire::Body::AdminListAudit);
  ASSERT_EQ(list.type, wire::Body::AdminListAudit);
  EXPECT_EQ(list.seq, 40u);
  EXPECT_EQ(list.limit, 2u);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].seq, 40u);
  EXPECT_EQ((*entries)[1].seq, 41u);
  EXPECT_EQ((*entries)[0].at_us, 1'700'000'000'000'040);
  EXPECT_EQ((*entries)[0].actor, "root");
  EXPECT_EQ((*entries)[0].action, "user.deactivate");
  EXPECT_EQ((*entries)[0].target, "user:ana");
  EXPECT_EQ((*entries)[0].details, "{\"devices\":2}");
  EXPECT_EQ((*entries)[0].hash, std::string(32, '\xAB'));

  Result<AuditVerification> check = client->AdminVerifyAudit();
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->whole);
  EXPECT_EQ(check->records, 12u);
  EXPECT_EQ(check->first_broken_seq, 7u);
  EXPECT_EQ(check->message, "its hash does not match");
}

// ------------------------------------------------------------------ records management

TEST_F(ClientTest, HoldRequestsCarryTheirFieldsAndRepliesAreDecoded) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<HoldInfo> hold = client->SetHold(HoldTarget::User("ben"), "LIT-2026-7", "lawsuit");
  ASSERT_TRUE(hold.ok()) << hold.status();
  SeenEnvelope set = Last(broker_.Seen(), wire::Body::AdminSetHold);
  ASSERT_EQ(set.type, wire::Body::AdminSetHold);
  EXPECT_EQ(set.hold_target, wire::HoldTarget::User);
  EXPECT_EQ(set.login, "ben");
  EXPECT_EQ(set.conversation_id, 0u);
  EXPECT_EQ(set.case_ref, "LIT-2026-7");
  EXPECT_EQ(set.reason, "lawsuit");
  EXPECT_EQ(hold->id, 21u);
  EXPECT_TRUE(hold->target.is_user());
  EXPECT_EQ(hold->target.login, "ben");
  EXPECT_EQ(hold->case_ref, "LIT-2026-7");
  EXPECT_EQ(hold->created_by, "ana");
  EXPECT_EQ(hold->created_at_us, 1'700'000'000'000'000);
  EXPECT_TRUE(hold->in_force());

  Result<HoldInfo> on_chat = client->SetHold(HoldTarget::Conversation(3), "HR-12", "complaint");
  ASSERT_TRUE(on_chat.ok()) << on_chat.status();
  set = Last(broker_.Seen(), wire::Body::AdminSetHold);
  EXPECT_EQ(set.hold_target, wire::HoldTarget::Conversation);
  EXPECT_EQ(set.conversation_id, 3u);
  EXPECT_EQ(set.login, "");
  EXPECT_FALSE(on_chat->target.is_user());
  EXPECT_EQ(on_chat->target.conversation_id, 3u);

  EXPECT_EQ(client->SetHold(HoldTarget::User("nobody"), "X", "y").status().code(),
            StatusCode::kNotFound);
  // Checked without asking the broker.
  const std::size_t before = Count(broker_.Seen(), wire::Body::AdminSetHold);
  EXPECT_EQ(client->SetHold(HoldTarget::User(""), "X", "y").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->SetHold(HoldTarget::Conversation(0), "X", "y").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->SetHold(HoldTarget{"ben", 3}, "X", "y").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->SetHold(HoldTarget::User("ben"), "", "y").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->SetHold(HoldTarget::User("ben"), "X", "").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::AdminSetHold), before);

  ASSERT_TRUE(client->LiftHold(21, "settled").ok());
  SeenEnvelope lift = Last(broker_.Seen(), wire::Body::AdminLiftHold);
  EXPECT_EQ(lift.id, 21u);
  EXPECT_EQ(lift.reason, "settled");
  Status missing = client->LiftHold(404, "settled");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "no hold 404");
  EXPECT_EQ(client->LiftHold(0, "settled").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->LiftHold(21, "").code(), StatusCode::kInvalidArgument);

  Result<std::vector<HoldInfo>> in_force = client->ListHolds(false);
  ASSERT_TRUE(in_force.ok()) << in_force.status();
  EXPECT_FALSE(Last(broker_.Seen(), wire::Body::AdminListHolds).flag);
  ASSERT_EQ(in_force->size(), 1u);
  EXPECT_EQ((*in_force)[0].reason, "pending lawsuit");
  Result<std::vector<HoldInfo>> all = client->ListHolds(true);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(Last(broker_.Seen(), wire::Body::AdminListHolds).flag);
  ASSERT_EQ(all->size(), 2u);
  const HoldInfo& lifted = (*all)[1];
  EXPECT_EQ(lifted.id, 20u);
  EXPECT_EQ(lifted.target.conversation_id, 3u);
  EXPECT_EQ(lifted.lifted_by, "ana");
  EXPECT_EQ(lifted.lifted_at_us, 1'695'000'000'000'000);
  EXPECT_FALSE(lifted.in_force());
}

TEST_F(ClientTest, RetentionAndPluginRepliesAreDecoded) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<RetentionReport> dry = client->RunRetention(true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_TRUE(Last(broker_.Seen(), wire::Body::AdminRetentionRun).flag);
  EXPECT_TRUE(dry->dry_run);
  EXPECT_EQ(dry->started_at_us, 1'700'000'000'000'000);
  EXPECT_EQ(dry->finished_at_us, 1'700'000'001'500'000);
  EXPECT_EQ(dry->messages_examined, 1000u);
  EXPECT_EQ(dry->messages_deleted, 40u);
  EXPECT_EQ(dry->attachments_stripped, 12u);
  EXPECT_EQ(dry->attachment_bytes, 5'242'880u);
  EXPECT_EQ(dry->conversations, 3u);
  EXPECT_EQ(dry->held_protected, 7u);
  ASSERT_EQ(dry->policies.size(), 2u);
  EXPECT_EQ(dry->policies[0].policy, "chats-2y");
  EXPECT_EQ(dry->policies[0].deleted, 40u);
  EXPECT_EQ(dry->policies[1].stripped, 12u);
  Result<RetentionReport> applied = client->RunRetention(false);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_FALSE(Last(broker_.Seen(), wire::Body::AdminRetentionRun).flag);
  EXPECT_FALSE(applied->dry_run);

  Result<std::vector<PluginInfo>> plugins = client->ListPlugins();
  ASSERT_TRUE(plugins.ok()) << plugins.status();
  ASSERT_EQ(plugins->size(), 2u);
  EXPECT_EQ((*plugins)[0].name, "chats-2y");
  EXPECT_EQ((*plugins)[0].plugin, "max-age");
  EXPECT_EQ((*plugins)[0].library, "/usr/lib/chatpro/plugins/libmax_age.so");
  EXPECT_FALSE((*plugins)[0].accept_hook);
  EXPECT_TRUE((*plugins)[0].retention_hook);
  EXPECT_TRUE((*plugins)[1].accept_hook);
  EXPECT_EQ((*plugins)[1].failures, 2u);
}

TEST_F(ClientTest, CaseRequestsCarryTheirScopeAndRepliesAreDecoded) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  CaseRequest request;
  request.kind = CaseKind::kSearch;
  request.legal_basis = "internal investigation";
  request.subjects = {"ben", "carl"};
  request.conversations = {3, 4};
  request.from_us = 1'698'796'800'000'000;
  request.to_us = 1'701'388'799'999'999;
  request.keyword = "invoice";
  request.redact_others = true;
  Result<CaseInfo> opened = client->OpenCase(request);
  ASSERT_TRUE(opened.ok()) << opened.status();
  SeenEnvelope open = Last(broker_.Seen(), wire::Body::CaseOpen);
  ASSERT_EQ(open.type, wire::Body::CaseOpen);
  EXPECT_EQ(open.case_kind, wire::CaseKind::Search);
  EXPECT_EQ(open.legal_basis, "internal investigation");
  EXPECT_EQ(open.subjects, (std::vector<std::string>{"ben", "carl"}));
  EXPECT_EQ(open.conversations, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(open.from_us, 1'698'796'800'000'000);
  EXPECT_EQ(open.to_us, 1'701'388'799'999'999);
  EXPECT_EQ(open.keyword, "invoice");
  EXPECT_TRUE(open.flag);
  EXPECT_EQ(opened->id, 31u);
  EXPECT_EQ(opened->kind, CaseKind::kSearch);
  EXPECT_EQ(opened->state, "awaiting approval");
  EXPECT_EQ(opened->subjects, request.subjects);
  EXPECT_EQ(opened->conversations, request.conversations);
  EXPECT_EQ(opened->keyword, "invoice");
  EXPECT_TRUE(opened->redact_others);
  EXPECT_EQ(opened->requested_by, "ana");
  EXPECT_EQ(opened->approved_by, "");

  // Checked without asking the broker.
  const std::size_t before = Count(broker_.Seen(), wire::Body::CaseOpen);
  CaseRequest bad = request;
  bad.legal_basis.clear();
  EXPECT_EQ(client->OpenCase(bad).status().code(), StatusCode::kInvalidArgument);
  bad = request;
  bad.subjects.clear();
  EXPECT_EQ(client->OpenCase(bad).status().code(), StatusCode::kInvalidArgument);
  bad = request;
  bad.from_us = bad.to_us + 1;
  EXPECT_EQ(client->OpenCase(bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::CaseOpen), before);

  Result<CaseInfo> approved = client->ApproveCase(32);
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::CaseApprove).id, 32u);
  EXPECT_EQ(approved->state, "approved");
  EXPECT_EQ(approved->approved_by, "ana");
  EXPECT_EQ(approved->approved_at_us, 1'700'000'100'000'000);
  EXPECT_EQ(approved->approval_expires_at_us, 1'700'604'900'000'000);
  EXPECT_EQ(approved->visible_to_subjects_at_us, 1'702'592'100'000'000);
  EXPECT_EQ(client->ApproveCase(31).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(client->ApproveCase(404).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(client->ApproveCase(0).status().code(), StatusCode::kInvalidArgument);

  Result<std::vector<CaseInfo>> cases = client->ListCases();
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_EQ((*cases)[0].state, "exported");
  EXPECT_EQ((*cases)[1].kind, CaseKind::kSearch);
  Result<std::vector<CaseInfo>> mine = client->MyDataAccess();
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::MyDataAccess), 1u);
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].legal_basis, "GDPR art. 15");
}

TEST_F(ClientTest, CaseKindsHaveNames) {
  EXPECT_EQ(CaseKindName(CaseKind::kSubjectAccess), "subject-access");
  EXPECT_EQ(CaseKindName(CaseKind::kSearch), "search");
  EXPECT_EQ(*ParseCaseKind("search"), CaseKind::kSearch);
  EXPECT_EQ(*ParseCaseKind("subject-access"), CaseKind::kSubjectAccess);
  EXPECT_EQ(ParseCaseKind("foi").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, ExportRequestsCarryTheirIdsAndErrorsKeepTheirCode) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<ExportInfo> started = client->StartExport(32);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ExportStart).id, 32u);
  EXPECT_EQ(started->id, FakeBroker::kRunningExport);
  EXPECT_EQ(started->case_id, 32u);
  EXPECT_TRUE(started->running());
  Result<ExportInfo> unapproved = client->StartExport(FakeBroker::kUnapprovedCase);
  EXPECT_EQ(unapproved.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(unapproved.status().message(), "case 31 is not approved");
  EXPECT_EQ(client->StartExport(0).status().code(), StatusCode::kInvalidArgument);

  broker_.SetExportData("0123456789");
  Result<ExportInfo> done = client->ExportStatus(FakeBroker::kDoneExport);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ExportStatus).id, FakeBroker::kDoneExport);
  EXPECT_TRUE(done->done());
  EXPECT_EQ(done->messages, 120u);
  EXPECT_EQ(done->attachments, 4u);
  EXPECT_EQ(done->bytes, 10u);
  Result<ExportInfo> failed = client->ExportStatus(79);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_TRUE(failed->failed());
  EXPECT_EQ(failed->error, "disk full");
  EXPECT_EQ(client->ExportStatus(404).status().code(), StatusCode::kNotFound);

  Result<ExportChunk> chunk = client->ReadExportChunk(FakeBroker::kDoneExport, 4, 3);
  ASSERT_TRUE(chunk.ok()) << chunk.status();
  SeenEnvelope read = Last(broker_.Seen(), wire::Body::ExportDownload);
  EXPECT_EQ(read.id, FakeBroker::kDoneExport);
  EXPECT_EQ(read.offset, 4u);
  EXPECT_EQ(read.limit, 3u);
  EXPECT_EQ(chunk->export_id, FakeBroker::kDoneExport);
  EXPECT_EQ(chunk->offset, 4u);
  EXPECT_EQ(chunk->data, "456");
  EXPECT_EQ(chunk->total_bytes, 10u);
  EXPECT_FALSE(chunk->done);
  Result<ExportChunk> last = client->ReadExportChunk(FakeBroker::kDoneExport, 7, 100);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->data, "789");
  EXPECT_TRUE(last->done);
  EXPECT_EQ(client->ReadExportChunk(FakeBroker::kRunningExport, 0, 100).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(client->ReadExportChunk(FakeBroker::kDoneExport, 0, 0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, StrippedAttachmentsComeBackWithWhenTheyWereRemoved) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<HistoryPage> page =
      client->History(Target::Conversation(FakeBroker::kStrippedConversation), HistoryQuery{});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->messages.size(), 2u);
  const Message& picture = page->messages[0];
  EXPECT_EQ(picture.attachments_removed_at_us, FakeBroker::kStrippedAtUs);
  EXPECT_EQ(std::get<Picture>(picture.content).mime_type, "image/png");
  EXPECT_EQ(std::get<Picture>(picture.content).width, 640u);
  EXPECT_TRUE(std::get<Picture>(picture.content).image.empty());
  const Message& voice = page->messages[1];
  EXPECT_EQ(voice.attachments_removed_at_us, FakeBroker::kStrippedAtUs);
  EXPECT_EQ(std::get<Voice>(voice.content).duration_ms, 4200u);
  EXPECT_TRUE(std::get<Voice>(voice.content).audio.empty());
  Result<HistoryPage> whole = client->History(Target::Conversation(2), HistoryQuery{});
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->messages[0].attachments_removed_at_us, 0);

  // Live deliveries too.
  std::mutex mutex;
  std::vector<Message> got;
  ClientOptions options;
  options.on_message = [&](const Message& m) {
    std::lock_guard<std::mutex> lock(mutex);
    got.push_back(m);
  };
  auto listener = Connect(options);
  ASSERT_NE(listener, nullptr);
  broker_.PushStored({testing::BuildStoredStripped(8, 3, "bob", false, 1234),
                      testing::BuildStoredMessage(8, 4, "bob", "still here")});
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (got.size() >= 2) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].attachments_removed_at_us, 1234);
  // The reused message of the delivery reader does not carry it over.
  EXPECT_EQ(got[1].attachments_removed_at_us, 0);
}

// ------------------------------------------------------------------ working hours

TEST_F(ClientTest, UrgentSendsCarryTheirReasonAndAcksSayWhoIsOffDuty) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  SendResult plain = client->Send(Target::User("bob"), Text{"hi"}).get();
  ASSERT_TRUE(plain.status.ok()) << plain.status;
  EXPECT_TRUE(plain.off_duty.empty());
  SeenEnvelope sent = Last(broker_.Seen(), wire::Body::Send);
  EXPECT_FALSE(sent.urgent);
  EXPECT_EQ(sent.reason, "");

  SendResult waits = client->Send(Target::User(FakeBroker::kOffDutyUser), Text{"tomorrow"}).get();
  ASSERT_TRUE(waits.status.ok()) << waits.status;
  ASSERT_EQ(waits.off_duty.size(), 1u);
  EXPECT_EQ(waits.off_duty[0].login, "ben");
  EXPECT_FALSE(waits.off_duty[0].on_duty);
  EXPECT_EQ(waits.off_duty[0].until_us, FakeBroker::kBackOnDutyUs);

  SendOptions urgent{true, "server room flooding"};
  SendResult now =
      client->Send(Target::Conversation(FakeBroker::kOffDutyConversation), Text{"come"}, urgent)
          .get();
  ASSERT_TRUE(now.status.ok()) << now.status;
  EXPECT_EQ(now.off_duty.size(), 1u);
  sent = Last(broker_.Seen(), wire::Body::Send);
  EXPECT_TRUE(sent.urgent);
  EXPECT_EQ(sent.reason, "server room flooding");
  EXPECT_EQ(sent.text, "come");

  // A reason without urgent is not sent.
  ASSERT_TRUE(client->Send(Target::User("bob"), Text{"x"}, SendOptions{false, "why"}).get().status.ok());
  sent = Last(broker_.Seen(), wire::Body::Send);
  EXPECT_FALSE(sent.urgent);
  EXPECT_EQ(sent.reason, "");
}

TEST_F(ClientTest, UrgentWithoutAReasonIsRefusedBeforeTheBrokerAndTheBrokersRefusalKeepsItsCode) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  const std::size_t before = Count(broker_.Seen(), wire::Body::Send);
  SendResult r = client->Send(Target::User("bob"), Text{"x"}, SendOptions{true, ""}).get();
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  std::promise<SendResult> async;
  client->SendAsync(
      Target::User("bob"), Text{"x"}, [&](const SendResult& a) { async.set_value(a); },
      SendOptions{true, ""});
  EXPECT_EQ(async.get_future().get().status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::Send), before);

  SendResult refused =
      client->Send(Target::User("bob"), Text{"x"},
                   SendOptions{true, FakeBroker::kRefusedUrgentReason})
          .get();
  EXPECT_EQ(refused.status.code(), StatusCode::kPermissionDenied);
}

TEST_F(ClientTest, UrgentDeliveriesAndHistoryComeWithTheirReason) {
  std::mutex mutex;
  std::vector<Message> got;
  ClientOptions options;
  options.on_message = [&](const Message& m) {
    std::lock_guard<std::mutex> lock(mutex);
    got.push_back(m);
  };
  auto listener = Connect(options);
  ASSERT_NE(listener, nullptr);
  broker_.PushStored({testing::BuildStoredUrgent(3, 1, "bob", "fire drill", "evacuation"),
                      testing::BuildStoredMessage(3, 2, "bob", "ordinary")});
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (got.size() >= 2) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].urgent);
  EXPECT_EQ(got[0].urgent_reason, "evacuation");
  // The reused message of the delivery reader does not carry it over.
  EXPECT_FALSE(got[1].urgent);
  EXPECT_EQ(got[1].urgent_reason, "");
}

TEST_F(ClientTest, SchedulesAreReadWithTheDutyStateNow) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<ScheduleInfo> mine = client->GetSchedule();
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ScheduleGet).login, "");
  EXPECT_EQ(mine->login, "ana");
  const Schedule& s = mine->schedule;
  EXPECT_EQ(s.time_zone, "Europe/Berlin");
  ASSERT_EQ(s.week.size(), 5u);
  EXPECT_EQ(s.week[4].weekday, 4);
  ASSERT_EQ(s.week[0].periods.size(), 2u);
  EXPECT_EQ(s.week[0].periods[1].start_minute, 810);
  EXPECT_EQ(s.week[0].periods[1].end_minute, 1020);
  EXPECT_EQ(s.days_off, std::vector<std::string>{"2026-12-24"});
  EXPECT_EQ(s.holidays, (std::vector<std::string>{"2026-12-25", "2026-12-26"}));
  ASSERT_EQ(s.shifts.size(), 1u);
  EXPECT_EQ(s.shifts[0].date, "2026-12-01");
  EXPECT_EQ(s.shifts[0].periods[0].end_minute, 780);
  EXPECT_EQ(s.profile, "office");
  EXPECT_EQ(s.may_change, (std::vector<std::string>{"week", "days_off", "shifts"}));
  EXPECT_TRUE(mine->state.on_duty);
  EXPECT_EQ(mine->state.login, "ana");
  EXPECT_EQ(mine->state.until_us, FakeBroker::kOnDutyUntilUs);

  Result<ScheduleInfo> ben = client->GetSchedule("ben");
  ASSERT_TRUE(ben.ok()) << ben.status();
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ScheduleGet).login, "ben");
  EXPECT_FALSE(ben->state.on_duty);
  EXPECT_EQ(ben->state.until_us, FakeBroker::kBackOnDutyUs);
  EXPECT_EQ(client->GetSchedule("nobody").status().code(), StatusCode::kNotFound);
}

TEST_F(ClientTest, ScheduleChangesSendOnlyTheGivenParts) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Schedule change;
  change.days_off = {"2026-12-24", "2026-12-31"};
  Result<ScheduleInfo> after = client->SetSchedule("", change);
  ASSERT_TRUE(after.ok()) << after.status();
  SeenEnvelope set = Last(broker_.Seen(), wire::Body::ScheduleSet);
  EXPECT_EQ(set.login, "");
  EXPECT_EQ(set.schedule, "days_off=2026-12-24,2026-12-31");
  EXPECT_EQ(after->schedule.days_off.size(), 2u);
  EXPECT_EQ(after->schedule.week.size(), 5u);  // untouched

  change = Schedule();
  change.week = {{0, {{480, 960}}}, {5, {}}};
  change.shifts = {{"2026-12-02", {}}};
  change.holidays = {"2027-01-01"};  // the organisation's: never sent
  change.profile = "mine";
  after = client->SetSchedule("ben", change);
  ASSERT_TRUE(after.ok()) << after.status();
  set = Last(broker_.Seen(), wire::Body::ScheduleSet);
  EXPECT_EQ(set.login, "ben");
  EXPECT_EQ(set.schedule, "week=0:480-960|5: shifts=2026-12-02:");
  ASSERT_EQ(after->schedule.shifts.size(), 1u);
  EXPECT_TRUE(after->schedule.shifts[0].periods.empty());

  // A part the person may not change: the broker's PermissionDenied.
  change = Schedule();
  change.time_zone = "Europe/Rome";
  EXPECT_EQ(client->SetSchedule("", change).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ScheduleSet).schedule, "zone=Europe/Rome");
  EXPECT_EQ(client->SetSchedule("nobody", change).status().code(), StatusCode::kNotFound);

  // Refused without asking the broker.
  const std::size_t before = Count(broker_.Seen(), wire::Body::ScheduleSet);
  EXPECT_EQ(client->SetSchedule("", Schedule()).status().code(), StatusCode::kInvalidArgument);
  Schedule bad;
  bad.week = {{7, {}}};
  EXPECT_EQ(client->SetSchedule("", bad).status().code(), StatusCode::kInvalidArgument);
  bad.week = {{1, {{600, 600}}}};
  EXPECT_EQ(client->SetSchedule("", bad).status().code(), StatusCode::kInvalidArgument);
  bad.week = {{1, {{600, 1441}}}};
  EXPECT_EQ(client->SetSchedule("", bad).status().code(), StatusCode::kInvalidArgument);
  bad = Schedule();
  bad.shifts = {{"2026-12-01", {{700, 600}}}};
  EXPECT_EQ(client->SetSchedule("", bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::ScheduleSet), before);
}

TEST_F(ClientTest, PresenceIsListedAndChangesReachOnPresence) {
  std::mutex mutex;
  std::vector<PresenceInfo> events;
  ClientOptions options;
  options.on_presence = [&](const PresenceInfo& p) {
    std::lock_guard<std::mutex> lock(mutex);
    events.push_back(p);
  };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  Result<std::vector<PresenceInfo>> all = client->Presence();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::PresenceQuery).conversation_id, 0u);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].login, "bob");
  EXPECT_EQ((*all)[0].state, PresenceState::kOnline);
  EXPECT_EQ((*all)[1].state, PresenceState::kOffDuty);
  EXPECT_EQ((*all)[1].until_us, FakeBroker::kBackOnDutyUs);
  EXPECT_EQ((*all)[2].state, PresenceState::kOffline);
  ASSERT_TRUE(client->Presence(3).ok());
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::PresenceQuery).conversation_id, 3u);
  EXPECT_EQ(client->Presence(FakeBroker::kMissingConversation).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(PresenceStateName(PresenceState::kOffDuty), "off duty");
  EXPECT_EQ(PresenceStateName(PresenceState::kOnline), "online");

  broker_.PushPresence("ben", wire::PresenceState::OffDuty, FakeBroker::kBackOnDutyUs);
  broker_.PushPresence("ben", wire::PresenceState::Online, 0);
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (events.size() >= 2) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].login, "ben");
  EXPECT_EQ(events[0].state, PresenceState::kOffDuty);
  EXPECT_EQ(events[0].until_us, FakeBroker::kBackOnDutyUs);
  EXPECT_EQ(events[1].state, PresenceState::kOnline);
}

TEST_F(ClientTest, DisconnectReportsAreDecodedAndBadRangesRefusedLocally) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<DisconnectReport> r = client->AdminDisconnectReport(1000, 2000);
  ASSERT_TRUE(r.ok()) << r.status();
  SeenEnvelope seen = Last(broker_.Seen(), wire::Body::AdminDisconnectReport);
  EXPECT_EQ(seen.from_us, 1000);
  EXPECT_EQ(seen.to_us, 2000);
  EXPECT_EQ(r->from_us, 1000);
  EXPECT_EQ(r->to_us, 2000);
  ASSERT_EQ(r->senders.size(), 2u);
  EXPECT_EQ(r->senders[0].name, "ana");
  EXPECT_EQ(r->senders[0].messages, 3u);
  EXPECT_EQ(r->senders[0].recipients, 5u);
  EXPECT_EQ(r->senders[0].urgent, 1u);
  ASSERT_EQ(r->groups.size(), 1u);
  EXPECT_EQ(r->groups[0].name, "team");
  EXPECT_EQ(r->groups[0].conversation_id, 1u);
  EXPECT_EQ(r->messages, 4u);
  EXPECT_EQ(r->recipients, 6u);
  EXPECT_EQ(r->urgent, 1u);

  const std::size_t before = Count(broker_.Seen(), wire::Body::AdminDisconnectReport);
  EXPECT_EQ(client->AdminDisconnectReport(2000, 2000).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->AdminDisconnectReport(3000, 2000).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->AdminDisconnectReport(-1, 2000).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::AdminDisconnectReport), before);
}

// Downloads into a fresh folder that the test removes.
class DownloadTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    char tmpl[] = "/tmp/chatpro-download-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    client_ = Connect();
    ASSERT_NE(client_, nullptr);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The names in the folder.
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string dir_;
  std::unique_ptr<Client> client_;
};

TEST_F(DownloadTest, AnExportOfSeveralChunksArrivesWholeAndPrivate) {
  // 2.5 MiB: two full chunks of 1 MiB and a half one.
  std::string data(kExportChunkBytes * 5 / 2, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  broker_.SetExportData(data);
  const std::string path = dir_ + "/case-32.zip";
  std::vector<std::pair<std::uint64_t, std::uint64_t>> progress;
  Status s = client_->DownloadExport(FakeBroker::kDoneExport, path,
                                     [&](std::uint64_t written, std::uint64_t total) {
                                       progress.emplace_back(written, total);
                                     });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(ReadAll(path), data);
  EXPECT_EQ(Files(), std::vector<std::string>{"case-32.zip"});
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::uint64_t total = data.size();
  EXPECT_EQ(progress, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{
                          {kExportChunkBytes, total}, {2 * kExportChunkBytes, total}, {total, total}}));
  std::vector<std::uint64_t> offsets;
  for (const auto& e : broker_.Seen()) {
    if (e.type != wire::Body::ExportDownload) continue;
    offsets.push_back(e.offset);
    EXPECT_EQ(e.limit, kExportChunkBytes);
    EXPECT_EQ(e.id, FakeBroker::kDoneExport);
  }
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{0, kExportChunkBytes, 2 * kExportChunkBytes}));
}

TEST_F(DownloadTest, ShortChunksFromTheBrokerAreFollowedToTheEnd) {
  broker_.SetExportData("abcdefghij");
  broker_.export_chunk_limit = 3;
  const std::string path = dir_ + "/small.zip";
  ASSERT_TRUE(client_->DownloadExport(FakeBroker::kDoneExport, path).ok());
  EXPECT_EQ(ReadAll(path), "abcdefghij");
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::ExportDownload), 4u);
}

TEST_F(DownloadTest, ChunksThatDoNotLineUpAreDataLossAndLeaveNothing) {
  std::string data(kExportChunkBytes + 100, 'z');
  broker_.SetExportData(data);
  using Fault = FakeBroker::ExportFault;
  for (Fault fault :
       {Fault::kWrongOffset, Fault::kSizeChanges, Fault::kOtherExport, Fault::kEndsEarly}) {
    broker_.export_fault = fault;
    Status s = client_->DownloadExport(FakeBroker::kDoneExport, dir_ + "/out.zip");
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << static_cast<int>(fault) << ": " << s;
    EXPECT_TRUE(Files().empty()) << static_cast<int>(fault);
  }
  broker_.export_fault = Fault::kError;
  Status s = client_->DownloadExport(FakeBroker::kDoneExport, dir_ + "/out.zip");
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s;
  EXPECT_EQ(s.message(), "cannot read the export file");
  EXPECT_TRUE(Files().empty());
}

TEST_F(DownloadTest, AnExistingFileIsRefusedUnlessReplacing) {
  broker_.SetExportData("new bytes");
  const std::string path = dir_ + "/taken.zip";
  { std::ofstream(path) << "old"; }
  Status s = client_->DownloadExport(FakeBroker::kDoneExport, path);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::ExportDownload), 0u) << "checked before asking";
  EXPECT_EQ(ReadAll(path), "old");
  EXPECT_EQ(Files(), std::vector<std::string>{"taken.zip"});
  ASSERT_TRUE(client_->DownloadExport(FakeBroker::kDoneExport, path, {}, ExistingFile::kReplace)
                  .ok());
  EXPECT_EQ(ReadAll(path), "new bytes");
  EXPECT_EQ(Files(), std::vector<std::string>{"taken.zip"});
}

TEST_F(DownloadTest, BrokerErrorsAndBadArgumentsLeaveNothing) {
  EXPECT_EQ(client_->DownloadExport(FakeBroker::kRunningExport, dir_ + "/a.zip").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(client_->DownloadExport(404, dir_ + "/a.zip").code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->DownloadExport(0, dir_ + "/a.zip").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->DownloadExport(FakeBroker::kDoneExport, "").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->DownloadExport(FakeBroker::kDoneExport, dir_ + "/missing/a.zip").code(),
            StatusCode::kIoError);
  EXPECT_TRUE(Files().empty());
}

// ------------------------------------------------------------------ revocation

class RevocationTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    char tmpl[] = "/tmp/chatpro-revoke-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    profile_.dir = root_ + "/profile";
    profile_.user_id = 7;
    profile_.device_id = 3;
    ASSERT_TRUE(profile_.Save().ok());
    ASSERT_TRUE(Profile::Load(profile_.dir).ok());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  bool Exists(const char* name) const {
    return std::filesystem::exists(std::filesystem::path(profile_.dir) / name);
  }

  std::string root_;
};

TEST_F(RevocationTest, ARevokedClientFailsWhatIsPendingWipesConfirmsAndEndsRevoked) {
  struct Observed {
    std::mutex mutex;
    std::vector<std::string> reasons;
    std::vector<ConnectionState> states;
    Status revoked_status;
    bool key_there_in_callback = false;
    bool send_failed_before_callback = false;
  };
  auto observed = std::make_shared<Observed>();
  std::shared_future<SendResult> pending_send;
  ClientOptions options;
  options.request_timeout = 10s;
  const std::string key_path = profile_.dir + "/device.key";
  options.on_revoked = [&, observed](const std::string& reason) {
    std::lock_guard<std::mutex> lock(observed->mutex);
    observed->reasons.push_back(reason);
    observed->key_there_in_callback = std::filesystem::exists(key_path);
    observed->send_failed_before_callback =
        pending_send.valid() && pending_send.wait_for(0s) == std::future_status::ready;
  };
  options.on_state = [observed](ConnectionState s, const Status& status) {
    std::lock_guard<std::mutex> lock(observed->mutex);
    observed->states.push_back(s);
    if (s == ConnectionState::kRevoked) observed->revoked_status = status;
  };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);

  // Something pending of each kind: a send without its ack, and a request
  // without its reply.
  broker_.ack_sends = false;
  broker_.answer_requests = false;
  pending_send = client->Send(Target::Conversation(1), Text{"not acknowledged"}).share();
  std::future<Status> pending_call =
      std::async(std::launch::async, [&] { return client->ListConversations().status(); });
  ASSERT_TRUE(broker_.WaitFor([](const auto& seen) {
    return Count(seen, wire::Body::Send) == 1 && Count(seen, wire::Body::ListConversations) == 1;
  }));
  // The key file stays open here: after the wipe it must read as zeros.
  int key_fd = ::open(key_path.c_str(), O_RDONLY);
  ASSERT_GE(key_fd, 0);

  auto revoked_at = std::chrono::steady_clock::now();
  broker_.PushRevoked("offboarded by HR", {1, 2});
  ASSERT_EQ(pending_send.wait_for(5s), std::future_status::ready);
  SendResult send = pending_send.get();
  EXPECT_EQ(send.status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(send.status.message(), "this device was revoked: offboarded by HR");
  ASSERT_EQ(pending_call.wait_for(5s), std::future_status::ready);
  Status call = pending_call.get();
  EXPECT_EQ(call.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(call.message(), "this device was revoked: offboarded by HR");

  for (int i = 0; i < 500 && client->state() != ConnectionState::kRevoked; ++i) {
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_EQ(client->state(), ConnectionState::kRevoked);
  EXPECT_LT(std::chrono::steady_clock::now() - revoked_at, 1s);
  {
    std::lock_guard<std::mutex> lock(observed->mutex);
    EXPECT_EQ(observed->reasons, std::vector<std::string>{"offboarded by HR"});
    EXPECT_TRUE(observed->key_there_in_callback) << "the application wipes first, then the library";
    EXPECT_TRUE(observed->send_failed_before_callback);
    ASSERT_FALSE(observed->states.empty());
    EXPECT_EQ(observed->states.back(), ConnectionState::kRevoked);
    EXPECT_EQ(observed->revoked_status.code(), StatusCode::kPermissionDenied);
  }

  // The profile is gone, and the key was overwritten before it was unlinked.
  EXPECT_FALSE(Exists("device.key"));
  EXPECT_FALSE(Exists("profile.conf"));
  std::string after(256, 'x');
  ssize_t n = ::pread(key_fd, after.data(), after.size(), 0);
  ::close(key_fd);
  ASSERT_GT(n, 0);
  after.resize(static_cast<std::size_t>(n));
  EXPECT_EQ(after, std::string(after.size(), '\0'));
  EXPECT_EQ(Profile::Load(profile_.dir).status().code(), StatusCode::kNotFound);

  // The broker heard ConfirmWipe, and nothing else after the Revoked event.
  ASSERT_TRUE(broker_.WaitFor(
      [](const auto& seen) { return Count(seen, wire::Body::ConfirmWipe) == 1; }));
  std::this_thread::sleep_for(100ms);
  for (const auto& s : broker_.Seen()) {
    if (s.after_revoked) {
      EXPECT_EQ(s.type, wire::Body::ConfirmWipe) << wire::EnumNameBody(s.type);
    }
  }

  // Later calls are refused with the same reason; nothing more goes out.
  Status later = client->Block("carl");
  EXPECT_EQ(later.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(later.message(), "this device was revoked: offboarded by HR");
  EXPECT_EQ(client->Send(Target::Conversation(1), Text{"x"}).get().status.code(),
            StatusCode::kPermissionDenied);
  EXPECT_FALSE(broker_.WaitFor([](const auto& seen) { return Count(seen, wire::Body::Block) > 0; },
                               100));
}

TEST_F(RevocationTest, DeliveriesAfterTheRevokedEventAreNotHandedOver) {
  std::atomic<int> delivered{0};
  std::atomic<int> revoked{0};
  ClientOptions options;
  options.on_message = [&](const Message&) { ++delivered; };
  options.on_revoked = [&](const std::string&) { ++revoked; };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  broker_.PushRevoked("device lost", {1, 2, 3});
  for (int i = 0; i < 500 && client->state() != ConnectionState::kRevoked; ++i) {
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_EQ(client->state(), ConnectionState::kRevoked);
  EXPECT_EQ(revoked.load(), 1);
  EXPECT_EQ(delivered.load(), 0);
  EXPECT_EQ(Count(broker_.Seen(), wire::Body::Ack), 0u);
}

TEST_F(RevocationTest, ARefusedHandshakeAfterConnectingWipesNothing) {
  std::atomic<bool> refused{false};
  std::atomic<bool> revoked{false};
  ClientOptions options;
  options.on_state = [&](ConnectionState s, const Status&) {
    if (s == ConnectionState::kRefused) refused = true;
  };
  options.on_revoked = [&](const std::string&) { revoked = true; };
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  // The broker forgets the key (a misconfiguration, say) and drops the
  // connection: the next handshake is refused.
  broker_.Disallow(profile_.public_key);
  broker_.Restart();
  for (int i = 0; i < 1000 && !refused; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(refused.load());
  EXPECT_EQ(client->state(), ConnectionState::kRefused);
  EXPECT_FALSE(revoked.load());
  EXPECT_TRUE(Exists("device.key"));
  EXPECT_TRUE(Exists("profile.conf"));
  EXPECT_TRUE(Profile::Load(profile_.dir).ok());
  EXPECT_EQ(client->ListDevices("").status().code(), StatusCode::kPermissionDenied);
}

TEST_F(RevocationTest, WipeRemovesTheProfileAndToleratesMissingFiles) {
  ASSERT_TRUE(Profile::Wipe(profile_.dir).ok());
  EXPECT_FALSE(Exists("device.key"));
  EXPECT_FALSE(Exists("profile.conf"));
  EXPECT_TRUE(std::filesystem::exists(profile_.dir)) << "the folder stays";
  EXPECT_TRUE(Profile::Wipe(profile_.dir).ok()) << "nothing left to wipe is no error";
  EXPECT_EQ(Profile::Load(profile_.dir).status().code(), StatusCode::kNotFound);
}

// ------------------------------------------------------------------ enroll

class EnrollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    char tmpl[] = "/tmp/chatpro-enroll-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    Invite invite;
    invite.host_port = broker_.endpoint().substr(6);
    invite.server_key = broker_.keys().public_key;
    invite.code = crypto::NewEnrollmentCode();
    invite_ = FormatInvite(invite);
    code_ = invite.code;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  FakeBroker broker_;
  std::string root_;
  std::string invite_;
  std::string code_;
};

TEST_F(EnrollTest, EnrollWritesAProfileThatConnects) {
  broker_.Allow(crypto::DeriveEnrollmentKeyPair(code_).public_key);
  Result<Profile> p = Enroll(root_ + "/p", invite_, EnrollOptions{"laptop", 5000ms, false});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->login, "newbie");
  EXPECT_EQ(p->device_id, 4u);
  Result<Profile> loaded = Profile::Load(root_ + "/p");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->public_key, p->public_key);
  auto seen = broker_.Seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].type, wire::Body::Enroll) << "an enrollment connection sends only Enroll";

  // A second enrollment into the same folder is refused unless forced.
  Result<Profile> again = Enroll(root_ + "/p", invite_, EnrollOptions{"laptop", 5000ms, false});
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  Result<Profile> forced = Enroll(root_ + "/p", invite_, EnrollOptions{"laptop", 5000ms, true});
  EXPECT_TRUE(forced.ok()) << forced.status();
}

TEST_F(EnrollTest, AnUnknownCodeIsPermissionDenied) {
  Result<Profile> p = Enroll(root_ + "/p", invite_, EnrollOptions{"laptop", 5000ms, false});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(p.status().message(), "the invite is unknown, used or expired");
  EXPECT_FALSE(std::filesystem::exists(root_ + "/p/profile.conf"));
}

TEST_F(EnrollTest, NotAnInviteIsInvalidArgument) {
  EXPECT_EQ(Enroll(root_ + "/p", "https://example.org").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(EnrollTest, NoBrokerIsUnavailable) {
  Invite invite = *ParseInvite(invite_);
  invite.host_port = "127.0.0.1:1";
  Result<Profile> p = Enroll(root_ + "/p", FormatInvite(invite), EnrollOptions{"x", 300ms, false});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(p.status().message().find("no answer from the broker at tcp://127.0.0.1:1"),
            std::string::npos);
}

}  // namespace
}  // namespace chatpro::client
