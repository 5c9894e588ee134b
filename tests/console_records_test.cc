// SPDX-License-Identifier: Apache-2.0
//
// The admin console's records management against a real chatpro-broker over
// HTTPS: an auditor reads every list (groups, plugins, holds, working-hours
// defaults, the right-to-disconnect report) and every change is refused; an
// administrator sets and lifts a legal hold and sees it, runs retention dry
// (it counts the messages sent before, and what the hold keeps) and for
// real; the groups list shows members and owners and no message text, in
// the console and in `chatpro admin groups`.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "broker/crypto/password.h"
#include "tests/cli_fixture.h"
#include "tests/console_client.h"

namespace chatpro::testing {
namespace {

using client::Target;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ConsoleRecords : public CliBrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {
        "--set", "console.enabled=true",
        "--set", "console.listen=127.0.0.1:" + std::to_string(console_port_),
        // Keep the newest message of every direct chat; runs on request only.
        "--set", "plugin.trim.library=keep_newest", "--set", "plugin.trim.count=1",
        "--set", "plugin.trim.scope=direct", "--set", "retention.interval=24h",
        // Carol's profile names no working day: she is always off duty.
        "--set", "schedule.away.time_zone=Etc/UTC", "--set", "schedule.away.members=carol",
        "--set", "urgent.allowed=role:admin"};
    return o;
  }

  void SetUp() override {
    CliBrokerTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_OK_AND_ASSIGN(auditor_, AddUserWithRole("audrey", client::Role::kAuditor));
    for (const char* login : {"root", "audrey"}) {
      Result<std::string> hash = crypto::HashPassword(std::string(login) + " console secret");
      ASSERT_TRUE(hash.ok()) << hash.status();
      ASSERT_OK(root_->SetConsolePassword(login, *hash));
    }
  }

  // A signed-in console client of `login`.
  ConsoleClient SignedIn(const std::string& login) {
    ConsoleClient c(console_port_, broker_->data_dir() + "/console/cert.pem");
    HttpsReply r = c.SignIn(login, login + " console secret");
    EXPECT_EQ(r.status, 200) << login << ": " << r.body << r.error;
    return c;
  }

  const int console_port_ = PickFreePort();
  client::Profile auditor_;
};

TEST_F(ConsoleRecords, AnAuditorReadsEveryListButEveryChangeIsRefused) {
  ConsoleClient admin = SignedIn("root");
  ConsoleClient auditor = SignedIn("audrey");
  const std::string week_ago = std::to_string(NowMicros() - 7 * 86'400'000'000ll);
  for (const std::string& path : std::vector<std::string>{
           "/groups", "/plugins", "/holds", "/holds?include_lifted=1", "/schedules",
           "/reports/disconnect?from_us=" + week_ago}) {
    HttpsReply r = auditor.Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body << r.error;
  }
  EXPECT_TRUE(Has(auditor.Get("/plugins").body, "\"name\":\"trim\",\"plugin\":\"keep-newest\""));

  HttpsReply hold = auditor.Post("/holds", "{\"target\":\"user\",\"login\":\"audrey\","
                                           "\"case_ref\":\"C-1\",\"reason\":\"test\"}");
  EXPECT_EQ(hold.status, 403) << hold.body;
  EXPECT_TRUE(Has(hold.body, "\"code\":\"permission_denied\"")) << hold.body;
  EXPECT_EQ(auditor.Post("/retention/run").status, 403);
  HttpsReply dry = auditor.Post("/retention/dry-run");
  EXPECT_EQ(dry.status, 403) << "the broker lets only administrators run retention: " << dry.body;
  EXPECT_TRUE(Has(dry.body, "administrators")) << dry.body;
  EXPECT_EQ(auditor.Get("/users/root/schedule").status, 403)
      << "other people's schedules are for administrators";

  // The administrator's hold is in force; the auditor cannot lift it.
  HttpsReply placed = admin.Post("/holds", "{\"target\":\"user\",\"login\":\"audrey\","
                                           "\"case_ref\":\"C-2\",\"reason\":\"audit\"}");
  ASSERT_EQ(placed.status, 201) << placed.body;
  EXPECT_EQ(auditor.Post("/holds/1/lift", "{\"reason\":\"no\"}").status, 403);
  HttpsReply holds = auditor.Get("/holds");
  EXPECT_TRUE(Has(holds.body, "\"case_ref\":\"C-2\"")) << holds.body;
  EXPECT_TRUE(Has(holds.body, "\"in_force\":true")) << holds.body;
  EXPECT_FALSE(Has(admin.Get("/holds").body, "C-1")) << "the auditor's hold was never placed";
}

TEST_F(ConsoleRecords, AnAdministratorHoldsAPersonAndTheDryRunCountsWhatWasSentBefore) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana_profile, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Profile ben_profile, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(ana_profile, nullptr));
  std::uint64_t chat = 0;
  for (int i = 1; i <= 3; ++i) {
    client::SendResult sent =
        SendAndWait(*ana, Target::User("ben"), MakeText("note " + std::to_string(i)));
    ASSERT_TRUE(sent.status.ok()) << sent.status;
    chat = sent.conversation_id;
  }
  ConsoleClient admin = SignedIn("root");

  HttpsReply dry = admin.Post("/retention/dry-run");
  ASSERT_EQ(dry.status, 200) << dry.body << dry.error;
  EXPECT_TRUE(Has(dry.body, "\"dry_run\":true")) << dry.body;
  EXPECT_TRUE(Has(dry.body, "\"messages_deleted\":2")) << "all but the newest: " << dry.body;
  EXPECT_TRUE(Has(dry.body, "\"conversations\":1")) << dry.body;
  EXPECT_TRUE(Has(dry.body, "\"held_protected\":0")) << dry.body;
  EXPECT_TRUE(Has(dry.body, "{\"policy\":\"trim\",\"deleted\":2")) << dry.body;

  HttpsReply placed = admin.Post("/holds", "{\"target\":\"user\",\"login\":\"ana\","
                                           "\"case_ref\":\"HR-7\",\"reason\":\"grievance\"}");
  ASSERT_EQ(placed.status, 201) << placed.body;
  EXPECT_TRUE(Has(placed.body, "\"target\":\"user\",\"login\":\"ana\"")) << placed.body;
  EXPECT_TRUE(Has(placed.body, "\"created_by\":\"root\"")) << placed.body;
  HttpsReply on_chat = admin.Post(
      "/holds", "{\"target\":\"conversation\",\"conversation_id\":" + std::to_string(chat) +
                    ",\"case_ref\":\"HR-8\",\"reason\":\"the chat too\"}");
  ASSERT_EQ(on_chat.status, 201) << on_chat.body;
  HttpsReply unknown = admin.Post("/holds", "{\"target\":\"user\",\"login\":\"nobody\","
                                            "\"case_ref\":\"HR-9\"}");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_TRUE(Has(unknown.body, "nobody")) << unknown.body;

  HttpsReply holds = admin.Get("/holds");
  EXPECT_TRUE(Has(holds.body, "\"case_ref\":\"HR-7\",\"reason\":\"grievance\",\"created_by\":\"root\""))
      << holds.body;
  EXPECT_TRUE(Has(holds.body, "\"case_ref\":\"HR-8\"")) << holds.body;

  dry = admin.Post("/retention/dry-run");
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_TRUE(Has(dry.body, "\"messages_deleted\":0")) << dry.body;
  EXPECT_TRUE(Has(dry.body, "\"held_protected\":2")) << "the holds keep them: " << dry.body;

  // Lift both; the lifted holds are listed only on request.
  for (const char* id : {"1", "2"}) {
    HttpsReply lifted = admin.Post(std::string("/holds/") + id + "/lift", "{\"reason\":\"case closed\"}");
    EXPECT_EQ(lifted.status, 200) << lifted.body;
  }
  EXPECT_EQ(admin.Post("/holds/1/lift", "{\"reason\":\"again\"}").status, 409);
  EXPECT_FALSE(Has(admin.Get("/holds").body, "HR-7"));
  HttpsReply all = admin.Get("/holds?include_lifted=1");
  EXPECT_TRUE(Has(all.body, "\"case_ref\":\"HR-7\"")) << all.body;
  EXPECT_TRUE(Has(all.body, "\"lifted_by\":\"root\"")) << all.body;

  HttpsReply run = admin.Post("/retention/run");
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_TRUE(Has(run.body, "\"dry_run\":false")) << run.body;
  EXPECT_TRUE(Has(run.body, "\"messages_deleted\":2")) << run.body;
  ASSERT_OK_AND_ASSIGN(std::vector<client::Message> left,
                       ReadHistory(*ana, Target::Conversation(chat)));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(TextOf(left[0]), "note 3");

  HttpsReply audit = admin.Get("/audit?limit=1000");
  EXPECT_TRUE(Has(audit.body, "\"action\":\"hold.set\"")) << audit.body;
  EXPECT_TRUE(Has(audit.body, "\"action\":\"hold.lift\"")) << audit.body;
  EXPECT_TRUE(Has(audit.body, "retention.start")) << audit.body;
}

TEST_F(ConsoleRecords, TheGroupsListShowsMembersAndOwnersAndNoMessageText) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana_profile, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Profile ben_profile, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(ana_profile, nullptr));
  ASSERT_OK_AND_ASSIGN(client::Conversation group, ana->CreateGroup("Night <shift>", {"ben"}));
  client::SendResult sent =
      SendAndWait(*ana, Target::Conversation(group.id), MakeText("the secret recipe"));
  ASSERT_TRUE(sent.status.ok()) << sent.status;
  ASSERT_TRUE(SendAndWait(*ana, Target::User("ben"), MakeText("a direct word")).status.ok());

  for (const char* login : {"root", "audrey"}) {
    ConsoleClient console = SignedIn(login);
    HttpsReply r = console.Get("/groups");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.rfind("{\"groups\":[{\"conversation_id\":" + std::to_string(group.id) +
                               ",\"name\":\"Night <shift>\",\"created_at_us\":",
                           0),
              0u)
        << login << ": " << r.body;
    EXPECT_TRUE(Has(r.body, ",\"members\":[\"ana\",\"ben\"],\"owners\":[\"ana\"]}]}")) << r.body;
    EXPECT_FALSE(Has(r.body, "secret recipe"));
    EXPECT_FALSE(Has(r.body, "direct word")) << "direct chats are not groups";
  }
}

TEST_F(ConsoleRecords, WorkingHoursDefaultsAndTheRightToDisconnectReport) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana_profile, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Profile carol_profile, AddUser("carol"));
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(ana_profile, nullptr));
  const std::int64_t from = NowMicros() - 7 * 86'400'000'000ll;
  client::SendResult sent = SendAndWait(*ana, Target::User("carol"), MakeText("after hours"));
  ASSERT_TRUE(sent.status.ok()) << sent.status;

  ConsoleClient admin = SignedIn("root");
  HttpsReply defaults = admin.Get("/schedules");
  ASSERT_EQ(defaults.status, 200) << defaults.body;
  EXPECT_TRUE(Has(defaults.body, "{\"name\":\"away\",\"default\":false,\"time_zone\":\"Etc/UTC\","
                                 "\"week\":{\"mon\":\"off\""))
      << defaults.body;
  EXPECT_TRUE(Has(defaults.body, "\"members\":\"carol\"")) << defaults.body;
  EXPECT_TRUE(Has(defaults.body, "\"urgent_allowed\":[\"role:admin\"]")) << defaults.body;

  HttpsReply carol = admin.Get("/users/carol/schedule");
  ASSERT_EQ(carol.status, 200) << carol.body;
  EXPECT_TRUE(Has(carol.body, "\"profile\":\"away\"")) << carol.body;
  EXPECT_TRUE(Has(carol.body, "\"on_duty\":false")) << carol.body;
  EXPECT_EQ(admin.Get("/users/nobody/schedule").status, 404);

  HttpsReply report = admin.Get("/reports/disconnect?from_us=" + std::to_string(from) +
                                "&to_us=" + std::to_string(NowMicros() + 60'000'000));
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_TRUE(Has(report.body, "\"senders\":[{\"name\":\"ana\",\"conversation_id\":0,"
                               "\"messages\":1,\"recipients\":1,\"urgent\":0}]"))
      << report.body;
  EXPECT_TRUE(Has(report.body, "\"groups\":[]")) << report.body;
  HttpsReply backwards = admin.Get("/reports/disconnect?from_us=20&to_us=10");
  EXPECT_EQ(backwards.status, 400) << backwards.body;
  EXPECT_TRUE(Has(backwards.body, "\"code\":\"invalid_argument\"")) << backwards.body;
}

TEST_F(ConsoleRecords, TheCliListsEveryGroupForAdministratorsAndAuditorsOnly) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana_profile, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Profile ben_profile, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(ana_profile, nullptr));
  ASSERT_OK_AND_ASSIGN(client::Conversation group, ana->CreateGroup("kitchen", {"ben"}));
  ASSERT_TRUE(
      SendAndWait(*ana, Target::Conversation(group.id), MakeText("secret soup")).status.ok());

  ASSERT_OK_AND_ASSIGN(std::string root_cli, RootCliProfile());
  RunResult r = Cli(root_cli, {"admin", "groups"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "#" + std::to_string(group.id) + " kitchen: ana (owner), ben\n");
  r = Cli(auditor_.dir, {"admin", "groups", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "\"name\":\"kitchen\"")) << r.out;
  EXPECT_TRUE(Has(r.out, "\"members\":[\"ana\",\"ben\"],\"owners\":[\"ana\"]")) << r.out;
  EXPECT_FALSE(Has(r.out, "secret soup"));
  r = Cli(ben_profile.dir, {"admin", "groups"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(Has(r.err, "administrators and auditors")) << r.err;
}

}  // namespace
}  // namespace chatpro::testing
