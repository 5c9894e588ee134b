// SPDX-License-Identifier: Apache-2.0
//
// Crashes under load: senders send as fast as the client library lets them
// (a 1:1 chat with texts and now and then a picture, so that the blob files
// are covered, a group chat, and another 1:1 chat) while the broker is killed
// with SIGKILL at random moments, 20 times (CHATPRO_CRASH_ROUNDS=N for a
// longer run), each time restarted on the same data directory and port.
//
// The load comes from libchatpro directly, as in chatpro-bench: its
// workloads are SendAsync calls with a window of sends in flight on
// libchatpro clients (bench/workloads.cc), which is what the senders here do;
// the bench's own harness starts and measures its broker and cannot kill it.
//
// The clients are never told about the crashes: libchatpro reconnects by
// itself and resends what was not acknowledged, with the same client message
// ids. After each restart the test checks that the store opened cleanly
// (LevelDB reported no corruption while recovering) and that every message
// acknowledged before the crash is in history at the seq it was acknowledged
// with, in order, with nothing missing before it, pictures readable; at the
// end, that every send was acknowledged, each message is there exactly once
// in send order at its acknowledged seq, and the receiver got every one (at
// least once; repeats are recognised by seq).
//
// Durability: with `fsync` an acknowledged message is on stable storage
// (it would survive a machine crash too); with `os` it has reached the
// operating system, which survives a crash of the broker process, the case
// tested here. A machine crash (power loss) is not simulated.
//
// The random delays come from a seed printed at the start (and recorded as
// the test property `seed`); CHATPRO_CRASH_SEED=N replays a run.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/chat_fixture.h"
#include "tests/load_senders.h"

namespace chatpro::testing {
namespace {

using client::Message;
using client::Profile;
using client::SendResult;
using client::Target;

constexpr int kSenders = 3;
// Sends each sender keeps in flight (below max_unacked_sends, so that a
// sender thread never blocks in the library and can always be joined).
constexpr std::size_t kInFlight = 400;
// Sends each sender may make per round, so that the store and the checks
// stay small on a fast machine (a round's kill comes well before that).
constexpr std::size_t kSendsPerRound = 1500;
// Sender 0 sends a picture every kPictureEvery-th message, up to kMaxPictures.
constexpr std::size_t kPictureEvery = 50;
constexpr std::size_t kMaxPictures = 150;

std::uint64_t EnvNumber(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

bool IsPicture(int sender, std::size_t i) {
  return sender == 0 && i % kPictureEvery == kPictureEvery - 1 && i / kPictureEvery < kMaxPictures;
}

// What sender `s` sends as its i-th message: the same bytes every time it is
// asked, so that history can be compared with it.
client::Content ContentFor(int sender, std::size_t i) {
  if (IsPicture(sender, i)) {
    return MakePicture(80 << 10, 256, static_cast<std::uint32_t>(i * 7 + 1));
  }
  return MakeText("sender " + std::to_string(sender) + " message " + std::to_string(i));
}

class Crash : public BrokerTest, public ::testing::WithParamInterface<const char*> {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    // A load test: the per-device rate limit would refuse most of the flood.
    o.extra_args = {"--durability", GetParam(),
                    "--set",        "rate.messages_per_second=0",
                    "--set",        "rate.bytes_per_second=0"};
    return o;
  }

  // LevelDB's own log of its last open (store/LOG): recovery reports a
  // damaged log or table there ("Corruption: ...") when it drops data.
  std::string StoreRecoveryLog() const { return ReadWholeFile(broker_->data_dir() + "/store/LOG"); }

  // Messages of `conversation` from seq `from` on, oldest first.
  Result<std::vector<Message>> ReadFrom(client::Client& reader, std::uint64_t conversation,
                                        std::uint64_t from) {
    return ReadHistory(reader, Target::Conversation(conversation), from);
  }
};

TEST_P(Crash, EveryAcknowledgedMessageIsThereOnceAndInOrderAfterEachSigkillUnderLoad) {
  const std::uint64_t rounds = EnvNumber("CHATPRO_CRASH_ROUNDS", 20);
  const std::uint64_t seed = EnvNumber(
      "CHATPRO_CRASH_SEED",
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  std::cout << "crash test (" << GetParam() << "): " << rounds << " rounds, seed " << seed
            << " (CHATPRO_CRASH_SEED=" << seed << " replays the delays)" << std::endl;
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 random(seed);

  // ana -> ben (1:1, texts and pictures), cid -> the group "crew" (cid, ben,
  // dan), dan -> ben (1:1). Ben receives everything.
  const char* kLogins[kSenders] = {"ana", "cid", "dan"};
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  std::vector<Profile> profiles(kSenders);
  for (int s = 0; s < kSenders; ++s) {
    ASSERT_OK_AND_ASSIGN(profiles[s], AddUser(kLogins[s]));
  }
  auto ben_inbox = std::make_shared<Inbox>();
  client::ClientOptions ben_options;
  ben_options.max_unacked_sends = 16;
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox, ben_options));

  struct Sender {
    std::unique_ptr<client::Client> client;
    std::uint64_t conversation = 0;
    std::shared_ptr<SenderLog> log = std::make_shared<SenderLog>();
    std::thread thread;
  };
  std::vector<Sender> senders(kSenders);
  for (int s = 0; s < kSenders; ++s) {
    client::ClientOptions options;
    options.receive = false;
    options.max_unacked_sends = 2 * kInFlight;
    ASSERT_OK_AND_ASSIGN(senders[s].client, Connect(profiles[s], nullptr, options));
  }
  {
    ASSERT_OK_AND_ASSIGN(client::Conversation a, senders[0].client->OpenDirect("ben"));
    ASSERT_OK_AND_ASSIGN(client::Conversation g,
                         senders[1].client->CreateGroup("crew", {"ben", "dan"}));
    ASSERT_OK_AND_ASSIGN(client::Conversation d, senders[2].client->OpenDirect("ben"));
    senders[0].conversation = a.id;
    senders[1].conversation = g.id;
    senders[2].conversation = d.id;
  }
  // Seqs already in each conversation before the load (none expected, but
  // the checks do not rely on it).
  std::vector<std::uint64_t> base_seq(kSenders);
  for (int s = 0; s < kSenders; ++s) {
    ASSERT_OK_AND_ASSIGN(std::vector<Message> before,
                         ReadFrom(*ben_client, senders[s].conversation, 1));
    base_seq[s] = before.empty() ? 0 : before.back().seq;
  }

  auto acks = std::make_shared<AckCounter>();
  std::atomic<bool> stop_sending{false};
  std::atomic<std::size_t> allowed_sends{kSendsPerRound};
  struct JoinAll {
    std::vector<Sender>* senders;
    std::atomic<bool>* stop;
    ~JoinAll() {
      *stop = true;
      for (Sender& s : *senders) {
        if (s.thread.joinable()) s.thread.join();
      }
    }
  } join_all{&senders, &stop_sending};
  for (int s = 0; s < kSenders; ++s) {
    Sender& sender = senders[s];
    sender.thread = std::thread([&sender, s, acks, &stop_sending, &allowed_sends] {
      for (std::size_t i = 0; !stop_sending;) {
        if (i >= allowed_sends) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        {
          std::unique_lock<std::mutex> lock(sender.log->mutex);
          auto& log = *sender.log;
          if (!log.cv.wait_for(lock, std::chrono::milliseconds(100),
                               [&] { return log.results.size() - log.completed < kInFlight; })) {
            continue;  // the broker is away; look at the stop flag again
          }
          log.results.emplace_back();
        }
        sender.client->SendAsync(Target::Conversation(sender.conversation), ContentFor(s, i),
                                 [log = sender.log, acks, i](const SendResult& r) {
                                   {
                                     std::lock_guard<std::mutex> lock(log->mutex);
                                     if (!log->results[i]) ++log->completed;
                                     log->results[i] = r;
                                   }
                                   log->cv.notify_all();
                                   if (r.status.ok()) acks->Add();
                                 });
        ++i;
      }
    });
  }

  // Checks, after a restart, the messages acknowledged up to the crash:
  // each at its seq with its content, none missing. `verified[s]` is the
  // highest seq checked so far; only newer ones are read again.
  std::vector<std::uint64_t> verified = base_seq;
  auto check_acknowledged = [&](const std::vector<std::map<std::uint64_t, std::size_t>>& acked) {
    for (int s = 0; s < kSenders; ++s) {
      SCOPED_TRACE(std::string("conversation of ") + kLogins[s]);
      if (acked[s].empty() || acked[s].rbegin()->first <= verified[s]) continue;
      const std::uint64_t upto = acked[s].rbegin()->first;
      ASSERT_OK_AND_ASSIGN(std::vector<Message> got,
                           ReadFrom(*ben_client, senders[s].conversation, verified[s] + 1));
      std::map<std::uint64_t, const Message*> by_seq;
      std::uint64_t expect_seq = verified[s] + 1;
      for (const Message& m : got) {
        if (m.seq > upto) break;
        ASSERT_EQ(m.seq, expect_seq) << "a gap in the conversation's order";
        ++expect_seq;
        by_seq[m.seq] = &m;
      }
      ASSERT_GT(expect_seq, upto) << "acknowledged messages up to seq " << upto
                                  << " are missing after the crash; history ends at "
                                  << expect_seq - 1;
      for (auto it = acked[s].upper_bound(verified[s]); it != acked[s].end(); ++it) {
        ASSERT_TRUE(SameContent(ContentFor(s, it->second), by_seq.at(it->first)->content))
            << "seq " << it->first << " should be send " << it->second;
      }
      verified[s] = upto;
    }
  };

  std::uniform_int_distribution<int> delay_ms(0, 250);
  std::size_t restarts = 0;
  std::size_t unacknowledged_at_kills = 0;  // sends in flight when the broker died
  for (std::uint64_t round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round + 1));
    allowed_sends += kSendsPerRound;
    // The clients made progress on their own since the last restart...
    ASSERT_TRUE(acks->WaitFor(acks->Get() + 1))
        << "the clients did not resume after restart " << restarts;
    // ... then the broker dies at a random moment.
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    broker_->Kill();
    std::vector<std::map<std::uint64_t, std::size_t>> acked(kSenders);  // seq -> send index
    for (int s = 0; s < kSenders; ++s) {
      std::lock_guard<std::mutex> lock(senders[s].log->mutex);
      const auto& results = senders[s].log->results;
      for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i] && results[i]->status.ok()) {
          acked[s][results[i]->seq] = i;
        } else {
          ++unacknowledged_at_kills;
        }
      }
    }
    ASSERT_OK(broker_->Start());
    ++restarts;
    std::string recovery = StoreRecoveryLog();
    ASSERT_EQ(recovery.find("Corruption"), std::string::npos)
        << "LevelDB found damage while recovering:\n"
        << recovery;
    check_acknowledged(acked);
    if (HasFatalFailure()) return;
  }
  // The load goes on after the last restart, then the senders finish.
  allowed_sends += kSendsPerRound;
  ASSERT_TRUE(acks->WaitFor(acks->Get() + 100)) << "no progress after the last restart";
  stop_sending = true;
  for (Sender& s : senders) s.thread.join();
  for (Sender& s : senders) {
    ASSERT_TRUE(s.client->Flush(kWaitTimeout)) << "sends were still not acknowledged";
  }

  std::size_t total = 0;
  std::vector<std::vector<Message>> histories(kSenders);
  for (int s = 0; s < kSenders; ++s) {
    SCOPED_TRACE(std::string("conversation of ") + kLogins[s]);
    std::vector<std::optional<SendResult>> results;
    {
      std::lock_guard<std::mutex> lock(senders[s].log->mutex);
      results = senders[s].log->results;
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
      ASSERT_TRUE(results[i].has_value()) << "send " << i << " never completed";
      ASSERT_TRUE(results[i]->status.ok()) << "send " << i << ": " << results[i]->status;
    }
    ASSERT_OK_AND_ASSIGN(std::vector<Message> history,
                         ReadFrom(*ben_client, senders[s].conversation, base_seq[s] + 1));
    ASSERT_EQ(history.size(), results.size()) << "the conversation holds " << history.size()
                                              << " messages for " << results.size() << " sends";
    for (std::size_t i = 0; i < history.size(); ++i) {
      ASSERT_EQ(history[i].seq, base_seq[s] + i + 1) << "gap at position " << i;
      ASSERT_EQ(results[i]->seq, history[i].seq) << "send " << i << " acknowledged at another seq";
      if (IsPicture(s, i) || i % 97 == 0) {
        ASSERT_TRUE(SameContent(ContentFor(s, i), history[i].content)) << "send " << i;
      } else {
        ASSERT_EQ(TextOf(history[i]), std::get<client::Text>(ContentFor(s, i)).body)
            << "each message once, in the order sent";
      }
    }
    total += history.size();
    histories[s] = std::move(history);
  }

  // Ben got every message, at least once; repeats have a seq seen before.
  auto received_all = [&](const std::vector<Message>& got) {
    std::map<std::uint64_t, std::set<std::uint64_t>> seqs;
    for (const Message& m : got) seqs[m.conversation_id].insert(m.seq);
    for (int s = 0; s < kSenders; ++s) {
      const auto& have = seqs[senders[s].conversation];
      const std::size_t want = histories[s].size();
      if (static_cast<std::size_t>(std::count_if(
              have.begin(), have.end(), [&](std::uint64_t q) { return q > base_seq[s]; })) < want) {
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(ben_inbox->WaitUntil(received_all)) << "the receiver missed messages";
  std::size_t repeats = 0;
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
  for (const Message& m : ben_inbox->messages()) {
    if (!seen.insert({m.conversation_id, m.seq}).second) {
      ++repeats;
      continue;
    }
    for (int s = 0; s < kSenders; ++s) {
      if (m.conversation_id != senders[s].conversation || m.seq <= base_seq[s]) continue;
      const Message& stored = histories[s][m.seq - base_seq[s] - 1];
      ASSERT_TRUE(SameContent(stored.content, m.content)) << "delivered seq " << m.seq;
    }
  }
  RecordProperty("messages", static_cast<int>(total));
  RecordProperty("restarts", static_cast<int>(restarts));
  RecordProperty("unacknowledged_at_kills", static_cast<int>(unacknowledged_at_kills));
  RecordProperty("repeated_deliveries", static_cast<int>(repeats));
  std::cout << "crash test (" << GetParam() << "): " << total << " messages, " << restarts
            << " SIGKILLs with " << unacknowledged_at_kills << " sends in flight in all, "
            << repeats << " repeated deliveries" << std::endl;
}

INSTANTIATE_TEST_SUITE_P(Durability, Crash, ::testing::Values("fsync", "os"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.param);
                         });

}  // namespace
}  // namespace chatpro::testing
