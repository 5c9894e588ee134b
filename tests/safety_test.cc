// SPDX-License-Identifier: Apache-2.0
//
// Keeping people safe and the broker usable, end to end: blocking stops
// direct messages only, a report keeps its evidence after the sender deleted
// the message, edits and deletions reach readers while the store keeps the
// originals, and one device sending too fast is slowed down alone.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "tests/cli_fixture.h"

namespace chatpro::testing {
namespace {

using namespace std::chrono_literals;
using client::Profile;
using client::SendResult;
using client::Target;

class Blocking : public CliBrokerTest {};
class EditAndDelete : public CliBrokerTest {};

// A broker that lets a device send 5 messages a second, 10 at once.
class RateLimit : public CliBrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "rate.messages_per_second=5", "--set", "rate.message_burst=10"};
    return o;
  }
};

std::size_t CountFrom(const std::vector<client::Message>& messages, const std::string& sender) {
  std::size_t n = 0;
  for (const auto& m : messages) n += m.sender == sender;
  return n;
}

// ------------------------------------------------------------------ blocking and reports

TEST_F(Blocking, ABlockStopsDirectMessagesOnlyAndAReportKeepsAMessageItsSenderDeleted) {
  if (CliPath().empty()) GTEST_SKIP() << "the chatpro CLI is not part of this build";
  ASSERT_OK_AND_ASSIGN(std::string root_cli, RootCliProfile());
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  RunResult r = Cli(ana.dir, {"send", "--to", "ben", "--text", "Morning ben"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Cli(ana.dir, {"group", "create", "Ward 7", "--member", "ben"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = Cli(ben.dir, {"block", "ana"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Cli(ben.dir, {"blocked"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out), std::vector<std::string>{"ana"}) << r.out;

  // No direct message passes, in either direction.
  const std::string refused = "Why are you ignoring me?";
  r = Cli(ana.dir, {"send", "--to", "ben", "--text", refused});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "ben does not accept messages from you")) << r.err;
  r = Cli(ben.dir, {"send", "--to", "ana", "--text", "Leave me alone"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "you blocked ana")) << r.err;
  // The group is not affected.
  const std::string group_text = "Handover at 7 in the ward office";
  r = Cli(ana.dir, {"send", "--group", "Ward 7", "--text", group_text});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Cli(ben.dir, {"history", "--group", "Ward 7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, group_text)) << r.out;
  r = Cli(ben.dir, {"history", "--to", "ana"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(Contains(r.out, refused)) << "a blocked message was stored:\n" << r.out;

  // Unblocked, it passes again.
  r = Cli(ben.dir, {"unblock", "ana"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Cli(ben.dir, {"blocked"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Lines(r.out).empty()) << r.out;
  const std::string abusive = "You are useless and everyone knows it";
  r = Cli(ana.dir, {"send", "--to", "ben", "--text", abusive});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::optional<std::uint64_t> seq = SeqInOutput(r.out);
  ASSERT_TRUE(seq.has_value()) << r.out;
  const std::string seq_arg = std::to_string(*seq);

  // Ben reports it; ana deletes it; the evidence stays.
  r = Cli(ben.dir, {"report", "--to", "ana", "--seq", seq_arg, "--reason", "insulting"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Cli(ana.dir, {"delete", "--to", "ben", "--seq", seq_arg});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Cli(ben.dir, {"history", "--to", "ana"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "[deleted #" + seq_arg + "]")) << r.out;

  r = Cli(root_cli, {"admin", "reports", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> reports = Lines(r.out);
  ASSERT_EQ(reports.size(), 1u) << r.out;
  EXPECT_EQ(JsonStringField(reports[0], "reporter"), std::optional<std::string>("ben"));
  EXPECT_EQ(JsonStringField(reports[0], "reason"), std::optional<std::string>("insulting"));
  EXPECT_EQ(JsonUintField(reports[0], "seq"), seq);
  EXPECT_EQ(JsonStringField(reports[0], "sender"), std::optional<std::string>("ana"));
  EXPECT_EQ(JsonStringField(reports[0], "text"), std::optional<std::string>(abusive))
      << "the report lost the original text: " << reports[0];
}

// ------------------------------------------------------------------ edit and delete

TEST_F(EditAndDelete, ListenShowsEditsAndDeletionsHistoryKeepsTheOriginalsAndOnlyTheSenderMayEdit) {
  if (CliPath().empty()) GTEST_SKIP() << "the chatpro CLI is not part of this build";
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  const std::string listen_out = dir_->Sub("listen.out");
  const std::string listen_err = dir_->Sub("listen.err");
  ChildProcess listener;
  ASSERT_OK(SpawnCli(listener, ben.dir, {"listen", "--count", "4"}, listen_out, listen_err));

  const std::string first = "Meeting at 10 in room 2";
  const std::string second = "Bring the visitor badges";
  const std::string corrected = "Meeting at 11 in room 2";
  RunResult r = Cli(ana.dir, {"send", "--to", "ben", "--text", first});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::optional<std::uint64_t> a = SeqInOutput(r.out);
  r = Cli(ana.dir, {"send", "--to", "ben", "--text", second});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::optional<std::uint64_t> b = SeqInOutput(r.out);
  ASSERT_TRUE(a && b) << r.out;
  const std::string a_arg = std::to_string(*a);
  const std::string b_arg = std::to_string(*b);
  r = Cli(ana.dir, {"edit", "--to", "ben", "--seq", a_arg, "--text", corrected});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Cli(ana.dir, {"delete", "--to", "ben", "--seq", b_arg});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::optional<ExitCode> listened = listener.Wait(kWaitTimeout);
  ASSERT_TRUE(listened.has_value()) << "listen --count 4 did not end:\n"
                                    << ReadWholeFile(listen_out) << ReadWholeFile(listen_err);
  EXPECT_EQ(*listened, 0) << ReadWholeFile(listen_err);
  const std::string shown = ReadWholeFile(listen_out);
  Note(shown);
  EXPECT_TRUE(Contains(shown, "[edited #" + a_arg + "] " + corrected)) << shown;
  EXPECT_TRUE(Contains(shown, "[deleted #" + b_arg + "]")) << shown;

  // Ben may neither edit nor delete ana's message.
  r = Cli(ben.dir, {"edit", "--to", "ana", "--seq", a_arg, "--text", "Meeting cancelled"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "only its sender may edit or delete")) << r.err;
  r = Cli(ben.dir, {"delete", "--to", "ana", "--seq", a_arg});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "only its sender may edit or delete")) << r.err;

  // The store keeps the originals, followed by the edit and the deletion.
  r = Cli(ben.dir, {"history", "--to", "ana", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(JsonStringField(lines[0], "text"), std::optional<std::string>(first)) << lines[0];
  EXPECT_EQ(JsonStringField(lines[1], "text"), std::optional<std::string>(second)) << lines[1];
  EXPECT_EQ(JsonStringField(lines[2], "kind"), std::optional<std::string>("edit")) << lines[2];
  EXPECT_EQ(JsonUintField(lines[2], "target_seq"), a) << lines[2];
  EXPECT_EQ(JsonStringField(lines[3], "kind"), std::optional<std::string>("deletion")) << lines[3];
  EXPECT_EQ(JsonUintField(lines[3], "target_seq"), b) << lines[3];
  r = Cli(ben.dir, {"history", "--to", "ana"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, first) && Contains(r.out, second)) << r.out;
  EXPECT_FALSE(Contains(r.out, "Meeting cancelled")) << r.out;
}

// ------------------------------------------------------------------ rate limit

TEST_F(RateLimit, ADeviceSendingTwentyAtOnceIsSlowedDownAloneAndMaySendAgainASecondLater) {
  ASSERT_OK_AND_ASSIGN(Profile phone, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto phone_client, Connect(phone, nullptr));
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));
  ASSERT_OK_AND_ASSIGN(Profile laptop,
                       EnrollAnotherDevice(*phone_client, ProfileDir("ana-laptop"), "ana-laptop"));
  ASSERT_OK_AND_ASSIGN(auto laptop_client, Connect(laptop, nullptr));

  std::vector<std::future<SendResult>> burst;
  for (int i = 0; i < 20; ++i) {
    burst.push_back(phone_client->Send(Target::User("ben"), MakeText("burst " + std::to_string(i))));
  }
  std::size_t passed = 0, limited = 0;
  for (auto& f : burst) {
    Result<SendResult> r = Await(f);
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->status.ok()) {
      ++passed;
    } else {
      EXPECT_EQ(r->status.code(), StatusCode::kResourceExhausted) << r->status;
      EXPECT_TRUE(Contains(r->status.message(), "rate limit")) << r->status;
      ++limited;
    }
  }
  std::printf("[ rate     ] 20 sends at once: %zu stored, %zu refused\n", passed, limited);
  EXPECT_GE(passed, 10u) << "the burst of 10 was not allowed";
  EXPECT_GT(limited, 0u) << "nothing was refused";

  // Other devices, also ana's own laptop, are not slowed down.
  for (int i = 0; i < 5; ++i) {
    SendResult s = SendAndWait(*laptop_client, Target::User("ben"), MakeText("laptop " + std::to_string(i)));
    EXPECT_TRUE(s.status.ok()) << "ana's laptop: " << s.status;
    s = SendAndWait(*ben_client, Target::User("ana"), MakeText("ben " + std::to_string(i)));
    EXPECT_TRUE(s.status.ok()) << "ben: " << s.status;
  }
  EXPECT_TRUE(ben_inbox->WaitUntil(
      [&](const auto& m) { return CountFrom(m, "ana") >= passed + 5; }))
      << "ben got " << CountFrom(ben_inbox->messages(), "ana") << " of ana's messages";

  // A second later the phone may send again (5 a second).
  std::this_thread::sleep_for(1100ms);
  for (int i = 0; i < 3; ++i) {
    SendResult s = SendAndWait(*phone_client, Target::User("ben"), MakeText("later " + std::to_string(i)));
    EXPECT_TRUE(s.status.ok()) << s.status;
  }
}

}  // namespace
}  // namespace chatpro::testing
