// SPDX-License-Identifier: Apache-2.0
//
// Working hours end to end, on a broker whose configuration gives Ben a
// profile with no working day at all (he is off duty until he changes his
// own shifts): what is sent to him waits, the sender is told, he can fetch it
// on purpose, an allowed urgent message breaks through, his work starting
// resumes delivery by itself, presence is shown only to people who share a
// conversation, and the right-to-disconnect report counts it all. Driven
// through libchatpro and the chatpro CLI; time-zone rules across DST changes
// are covered by the core's tests with a clock they control.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli_fixture.h"

namespace chatpro::testing {
namespace {

using client::Target;

class WorkingHours : public CliBrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "schedule.night.time_zone=Etc/UTC",
                    "--set", "schedule.night.members=ben",
                    "--set", "schedule.night.may_change=time_zone, shifts",
                    "--set", "urgent.allowed=role:admin"};
    return o;
  }

  void SetUp() override {
    CliBrokerTest::SetUp();
    Result<client::Profile> ana = AddUser("ana");
    Result<client::Profile> ben = AddUser("ben");
    Result<client::Profile> carl = AddUser("carl");
    ASSERT_TRUE(ana.ok() && ben.ok() && carl.ok());
    ana_ = *ana;
    ben_ = *ben;
    carl_ = *carl;
  }

  // How long a test waits to be sure that nothing arrives.
  static constexpr std::chrono::milliseconds kQuiet{1500};

  client::Profile ana_, ben_, carl_;
};

TEST_F(WorkingHours, WhatIsSentToSomeoneOffDutyWaitsTheSenderIsToldAndTheyMayFetchIt) {
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben, Connect(ben_, ben_inbox));
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(ana_, nullptr));
  client::SendResult sent = SendAndWait(*ana, Target::User("ben"), MakeText("are you there?"));
  ASSERT_TRUE(sent.status.ok()) << sent.status;
  ASSERT_EQ(sent.off_duty.size(), 1u);
  EXPECT_EQ(sent.off_duty[0].login, "ben");
  EXPECT_FALSE(sent.off_duty[0].on_duty);
  EXPECT_EQ(sent.off_duty[0].until_us, 0);  // no working day in sight

  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(ben_inbox->size(), 0u) << "delivered live to someone off duty";
  // Fetching on purpose works.
  ASSERT_OK_AND_ASSIGN(client::HistoryPage page,
                       ben->History(Target::Conversation(sent.conversation_id),
                                    client::HistoryQuery{1, 10, false}));
  ASSERT_EQ(page.messages.size(), 1u);
  EXPECT_EQ(TextOf(page.messages[0]), "are you there?");

  // The CLI says the same to the sender.
  RunResult cli = Cli(ProfileDir("ana"), {"send", "--to", "ben", "--text", "second try"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_TRUE(Contains(cli.out + cli.err, "ben is off duty")) << cli.out << cli.err;
}

TEST_F(WorkingHours, AnAllowedUrgentMessageBreaksThroughWithItsReasonAndIsAudited) {
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben, Connect(ben_, ben_inbox));
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(ana_, nullptr));
  ASSERT_TRUE(SendAndWait(*ana, Target::User("ben"), MakeText("for tomorrow")).status.ok());

  // Ana may not: the policy names administrators only.
  auto refused = ana->Send(Target::User("ben"), MakeText("now!"),
                           client::SendOptions{true, "server room flooded"});
  ASSERT_OK_AND_ASSIGN(client::SendResult r, Await(refused));
  EXPECT_EQ(r.status.code(), StatusCode::kPermissionDenied) << r.status;

  auto urgent = root_->Send(Target::User("ben"), MakeText("the server room is flooded"),
                            client::SendOptions{true, "incident INC-4"});
  ASSERT_OK_AND_ASSIGN(client::SendResult u, Await(urgent));
  ASSERT_TRUE(u.status.ok()) << u.status;
  ASSERT_TRUE(ben_inbox->WaitUntil([](const std::vector<client::Message>& ms) {
    for (const auto& m : ms) {
      if (m.urgent && m.urgent_reason == "incident INC-4") return true;
    }
    return false;
  }));
  ASSERT_OK_AND_ASSIGN(std::vector<client::AuditEntryInfo> audit, root_->AdminListAudit(1, 1000));
  bool audited = false;
  for (const auto& e : audit) audited = audited || e.action == "message.urgent";
  EXPECT_TRUE(audited);
}

TEST_F(WorkingHours, DeliveryResumesByItselfWhenWorkStarts) {
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben, Connect(ben_, ben_inbox));
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(ana_, nullptr));
  ASSERT_TRUE(SendAndWait(*ana, Target::User("ben"), MakeText("see you at work")).status.ok());
  std::this_thread::sleep_for(kQuiet);
  ASSERT_EQ(ben_inbox->size(), 0u);

  // Ben's shift today starts at the next full minute (in a zone where that is
  // not past midnight) and runs to the end of the day.
  std::time_t now = std::time(nullptr);
  const char* zone = "Etc/UTC";
  int offset_minutes = 0;
  std::tm utc {};
  gmtime_r(&now, &utc);
  if (utc.tm_hour * 60 + utc.tm_min >= 23 * 60 + 50) {
    zone = "Etc/GMT+6";  // six hours behind UTC
    offset_minutes = -6 * 60;
  }
  std::time_t local_now = now + offset_minutes * 60;
  std::tm local {};
  gmtime_r(&local_now, &local);
  int start = local.tm_hour * 60 + local.tm_min + 1;
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &local);
  char shift[64];
  std::snprintf(shift, sizeof shift, "%s=%02d:%02d-24:00", date, start / 60, start % 60);
  RunResult set = Cli(ProfileDir("ben"), {"schedule", "set", "--time-zone", zone, "--shift", shift});
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;

  // Nothing before the minute; everything waiting right after it.
  EXPECT_TRUE(ben_inbox->WaitFor(1, std::chrono::seconds(75)));
  ASSERT_GE(ben_inbox->size(), 1u);
  EXPECT_EQ(TextOf(ben_inbox->messages()[0]), "see you at work");
  EXPECT_GE(std::time(nullptr), now + (60 - utc.tm_sec) - 1);
}

TEST_F(WorkingHours, PresenceIsShownOnlyToPeopleWhoShareAConversation) {
  ASSERT_OK_AND_ASSIGN(auto ben, Connect(ben_, nullptr));
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(ana_, nullptr));
  ASSERT_OK_AND_ASSIGN(auto carl, Connect(carl_, nullptr));
  client::SendResult sent = SendAndWait(*ana, Target::User("ben"), MakeText("hi"));
  ASSERT_TRUE(sent.status.ok()) << sent.status;

  ASSERT_OK_AND_ASSIGN(std::vector<client::PresenceInfo> seen, ana->Presence(sent.conversation_id));
  bool ben_off = false;
  for (const auto& p : seen) ben_off = ben_off || (p.login == "ben" && p.state == client::PresenceState::kOffDuty);
  EXPECT_TRUE(ben_off);
  // Carl shares nothing with Ben: he learns nothing about him.
  EXPECT_EQ(carl->Presence(sent.conversation_id).status().code(), StatusCode::kPermissionDenied);
  ASSERT_OK_AND_ASSIGN(std::vector<client::PresenceInfo> carls, carl->Presence(0));
  for (const auto& p : carls) EXPECT_NE(p.login, "ben");
}

TEST_F(WorkingHours, PeopleChangeOnlyWhatTheirProfileAllowsAndTheReportCountsOffDutyMessages) {
  RunResult week = Cli(ProfileDir("ben"), {"schedule", "set", "--mon", "09:00-17:00"});
  EXPECT_EQ(week.exit_code, 1) << week.out << week.err;  // the week is the organisation's
  RunResult show = Cli(ProfileDir("ben"), {"schedule", "show", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(JsonStringField(show.out, "profile"), std::optional<std::string>("night")) << show.out;

  ASSERT_OK_AND_ASSIGN(auto ana, Connect(ana_, nullptr));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(SendAndWait(*ana, Target::User("ben"), MakeText("late " + std::to_string(i))).status.ok());
  }
  ASSERT_OK_AND_ASSIGN(std::string cli, RootCliProfile());
  std::time_t now = std::time(nullptr);
  ASSERT_OK_AND_ASSIGN(client::DisconnectReport report,
                       root_->AdminDisconnectReport((now - 3600) * 1'000'000ll, (now + 3600) * 1'000'000ll));
  EXPECT_EQ(report.messages, 3u);
  ASSERT_EQ(report.senders.size(), 1u);
  EXPECT_EQ(report.senders[0].name, "ana");
  RunResult r = Cli(cli, {"admin", "disconnect-report", "--from", "2020-01-01", "--to", "2100-01-01"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "ana")) << r.out;
}

}  // namespace
}  // namespace chatpro::testing
