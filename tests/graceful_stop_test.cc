// SPDX-License-Identifier: Apache-2.0
//
// Graceful stop under load: several senders send as fast as the client
// library lets them while the broker gets SIGTERM, several times, at
// different moments (early, in full flow, right after a restart while the
// clients resend their backlog). Each stop must be clean (exit 0, within the
// fixtures' bound, "stopped cleanly" in the log), and in the end every
// message that was ever acknowledged is in its conversation exactly once, at
// the seq its acknowledgement named, in the order it was sent; every other
// send is acknowledged after the restart (the client resends it) and is
// there exactly once too. Run with both durability settings.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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

std::string TextFor(int sender, std::size_t i) {
  return "sender " + std::to_string(sender) + " message " + std::to_string(i);
}

// Sends a sender keeps in flight. Below the client's max_unacked_sends, so
// that the client never blocks the sender thread (which could then not be
// joined if a failed test leaves the broker down).
constexpr std::size_t kInFlight = 1000;

class GracefulStop : public BrokerTest, public ::testing::WithParamInterface<const char*> {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    // A load test: the per-device rate limit would refuse most of the flood.
    o.extra_args = {"--durability", GetParam(), "--set", "rate.messages_per_second=0"};
    return o;
  }
};

TEST_P(GracefulStop, EveryAcknowledgedMessageIsThereOnceAndInOrderAfterStopsUnderLoad) {
  struct Sender {
    Profile profile;
    std::unique_ptr<client::Client> client;
    std::uint64_t conversation = 0;
    std::shared_ptr<SenderLog> log = std::make_shared<SenderLog>();
    std::thread thread;
  };
  std::vector<Sender> senders(kSenders);
  auto acks = std::make_shared<AckCounter>();
  std::atomic<bool> stop_sending{false};
  for (int s = 0; s < kSenders; ++s) {
    ASSERT_OK_AND_ASSIGN(senders[s].profile, AddUser("sender" + std::to_string(s)));
    client::ClientOptions options;
    options.receive = false;
    options.max_unacked_sends = 2 * kInFlight;
    ASSERT_OK_AND_ASSIGN(senders[s].client, Connect(senders[s].profile, nullptr, options));
    ASSERT_OK_AND_ASSIGN(client::Conversation c, senders[s].client->OpenDirect("root"));
    senders[s].conversation = c.id;
  }
  // Joins the sender threads on every way out of the test body.
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
    sender.thread = std::thread([&sender, s, acks, &stop_sending] {
      for (std::size_t i = 0; !stop_sending;) {
        {
          std::unique_lock<std::mutex> lock(sender.log->mutex);
          auto& log = *sender.log;
          if (!log.cv.wait_for(lock, std::chrono::milliseconds(100),
                               [&] { return log.results.size() - log.completed < kInFlight; })) {
            continue;  // the broker is away; look at the stop flag again
          }
          log.results.emplace_back();
        }
        sender.client->SendAsync(Target::Conversation(sender.conversation), MakeText(TextFor(s, i)),
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

  // (sender, send index) -> seq, for every send acknowledged before a stop.
  std::map<std::pair<int, std::size_t>, std::uint64_t> acked_before_stops;
  // Early in the flow, in full flow, and right after a restart while the
  // senders resend what was not acknowledged.
  const std::size_t kMoreAcksBeforeStop[] = {200, 3000, 1};
  std::size_t clean_stops = 0;
  for (std::size_t more : kMoreAcksBeforeStop) {
    ASSERT_TRUE(acks->WaitFor(acks->Get() + more)) << "the senders made no progress";
    ExitCode code = broker_->Stop();
    ASSERT_EQ(code, 0) << "SIGTERM under load must stop the broker cleanly and promptly: "
                       << DescribeExit(code);
    ++clean_stops;
    for (int s = 0; s < kSenders; ++s) {
      std::lock_guard<std::mutex> lock(senders[s].log->mutex);
      const auto& results = senders[s].log->results;
      for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i] && results[i]->status.ok()) acked_before_stops[{s, i}] = results[i]->seq;
      }
    }
    ASSERT_OK(broker_->Start());
  }
  // The load goes on after the last restart, then the senders finish.
  ASSERT_TRUE(acks->WaitFor(acks->Get() + 500)) << "no progress after the last restart";
  stop_sending = true;
  for (Sender& s : senders) s.thread.join();
  for (Sender& s : senders) {
    ASSERT_TRUE(s.client->Flush(kWaitTimeout)) << "sends were still not acknowledged";
  }

  std::string log = broker_->Log();
  std::size_t stopped_lines = 0;
  for (std::size_t at = 0; (at = log.find("stopped cleanly: ", at)) != std::string::npos; ++at) {
    ++stopped_lines;
  }
  EXPECT_EQ(stopped_lines, clean_stops);

  std::size_t total = 0;
  std::vector<std::vector<Message>> histories(kSenders);
  for (int s = 0; s < kSenders; ++s) {
    SCOPED_TRACE("sender " + std::to_string(s));
    std::vector<std::optional<SendResult>> results;
    {
      std::lock_guard<std::mutex> lock(senders[s].log->mutex);
      results = senders[s].log->results;
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
      ASSERT_TRUE(results[i].has_value()) << "send " << i << " never completed";
      ASSERT_TRUE(results[i]->status.ok()) << "send " << i << ": " << results[i]->status;
    }
    // The whole conversation, oldest first.
    ASSERT_OK_AND_ASSIGN(std::vector<Message> history,
                         ReadHistory(*root_, Target::Conversation(senders[s].conversation)));
    ASSERT_EQ(history.size(), results.size()) << "the conversation holds " << history.size()
                                              << " messages for " << results.size() << " sends";
    for (std::size_t i = 0; i < history.size(); ++i) {
      ASSERT_EQ(history[i].seq, i + 1) << "gap in the conversation at position " << i;
      ASSERT_EQ(TextOf(history[i]), TextFor(s, i)) << "each message once, in the order sent";
      ASSERT_EQ(results[i]->seq, history[i].seq)
          << "send " << i << " was acknowledged at another seq";
    }
    total += history.size();
    histories[s] = std::move(history);
  }
  // Explicitly: what was acknowledged before a stop is where its
  // acknowledgement said (also if a resend after the restart was answered
  // as a duplicate).
  for (const auto& [send, seq] : acked_before_stops) {
    const std::vector<Message>& history = histories[send.first];
    ASSERT_GE(seq, 1u);
    ASSERT_LE(seq, history.size()) << "acknowledged seq " << seq << " is missing";
    ASSERT_EQ(TextOf(history[seq - 1]), TextFor(send.first, send.second))
        << "acknowledged before a stop, then lost or moved";
  }
  RecordProperty("messages", static_cast<int>(total));
  RecordProperty("acknowledged_before_stops", static_cast<int>(acked_before_stops.size()));
}

INSTANTIATE_TEST_SUITE_P(Durability, GracefulStop, ::testing::Values("fsync", "os"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.param);
                         });

}  // namespace
}  // namespace chatpro::testing
