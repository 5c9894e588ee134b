// SPDX-License-Identifier: Apache-2.0
//
// libchatpro against FakeBroker: sessions, sends, deliveries, requests,
// refusal and reconnection, through the public API only.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
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
