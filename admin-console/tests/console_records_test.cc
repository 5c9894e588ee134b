// SPDX-License-Identifier: Apache-2.0
//
// The console's records-management API over FakeCore: groups, plugins and
// retention runs, legal holds, working hours and the right-to-disconnect
// report; auditors read all of it and change nothing.
#include <gtest/gtest.h>
#include <sodium.h>

#include "admin-console/console_app.h"
#include "admin-console/tests/fake_core.h"

namespace chatpro::console {
namespace {

using testing::FakeCore;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ConsoleRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    core_.AddUser(1, "root", "Root Admin", wire::Role::Admin, "correct horse");
    core_.AddUser(2, "audrey", "Audrey", wire::Role::Auditor, "auditor pass");
    core_.AddUser(3, "sam", "Sam", wire::Role::User, "user pass");
    ConsoleDeps deps{&core_, &clock_, &stats_, "9.9.9", clock_.NowMicros()};
    deps.schedules = {
        {"office",
         {{"time_zone", "Europe/Berlin"},
          {"mon", "09:00-12:30, 13:30-17:00"},
          {"fri", "09:00-13:00"},
          {"holidays", "2026-12-25"},
          {"default", "true"},
          {"may_change", "days_off"}},
         "chatpro.conf:10"},
        {"night", {{"time_zone", "UTC"}, {"mon", "22:00-06:00"}, {"members", "sam"}},
         "chatpro.conf:20"}};
    deps.urgent_allowed = {"role:admin", "profile:night"};
    app_ = std::make_unique<ConsoleApp>(options_, std::move(deps));
  }

  void SignInAs(const std::string& login, const std::string& password) {
    HttpRequest r = Req("POST", "/api/v1/session",
                        "{\"login\":\"" + login + "\",\"password\":\"" + password + "\"}");
    HttpResponse reply = app_->Handle(r);
    ASSERT_EQ(reply.status, 200) << reply.body;
    std::string cookie = reply.Header("Set-Cookie");
    cookie_ = cookie.substr(0, cookie.find(';'));
    std::size_t at = reply.body.find("\"csrf_token\":\"");
    ASSERT_NE(at, std::string::npos);
    at += 14;
    csrf_ = reply.body.substr(at, reply.body.find('"', at) - at);
  }

  HttpRequest Req(std::string method, std::string target, std::string body = {}) {
    HttpRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.client_address = "192.0.2.10";
    r.headers["host"] = "console.example:8443";
    return r;
  }

  // A request of the signed-in user (with the CSRF header on changes).
  HttpResponse As(std::string method, std::string target, std::string body = {}) {
    HttpRequest r = Req(method, std::move(target), std::move(body));
    r.headers["cookie"] = cookie_;
    if (method != "GET") r.headers["x-csrf-token"] = csrf_;
    return app_->Handle(r);
  }

  FakeCore core_;
  FakeClock clock_;
  core::BrokerStats stats_;
  ConsoleOptions options_;
  std::unique_ptr<ConsoleApp> app_;
  std::string cookie_, csrf_;
};

TEST_F(ConsoleRecordsTest, AuditorsReadEveryRecordsListButTheirChangesNeverReachTheCore) {
  SignInAs("audrey", "auditor pass");
  for (const char* path : {"/api/v1/groups", "/api/v1/plugins", "/api/v1/holds?include_lifted=1",
                           "/api/v1/schedules", "/api/v1/reports/disconnect?from_us=1&to_us=2"}) {
    HttpResponse r = As("GET", path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
  }
  std::vector<std::string> reads = core_.user_requests();
  HttpResponse hold = As("POST", "/api/v1/holds",
                         "{\"target\":\"user\",\"login\":\"sam\",\"case_ref\":\"C-1\"}");
  EXPECT_EQ(hold.status, 403);
  EXPECT_TRUE(Has(hold.body, "auditors can read but not change anything")) << hold.body;
  EXPECT_EQ(As("POST", "/api/v1/holds/1/lift", "{\"reason\":\"done\"}").status, 403);
  EXPECT_EQ(As("POST", "/api/v1/retention/run").status, 403);
  EXPECT_EQ(core_.user_requests(), reads) << "refused before the core";
  EXPECT_TRUE(core_.retention_runs().empty());

  // A dry run changes nothing: the core decides, and it lets only
  // administrators run retention at all.
  HttpResponse dry = As("POST", "/api/v1/retention/dry-run");
  EXPECT_EQ(dry.status, 403);
  EXPECT_TRUE(Has(dry.body, "only administrators may run retention")) << dry.body;
  EXPECT_EQ(core_.user_requests().back(), "AdminRetentionRun");
  EXPECT_EQ(As("GET", "/api/v1/users/sam/schedule").status, 403)
      << "the core lets only administrators read other people's schedules";
  EXPECT_EQ(As("GET", "/api/v1/plugins").status, 200) << "the session survives the refusals";
}

TEST_F(ConsoleRecordsTest, GroupsShowMembersAndOwnersAndNamesAsJsonStrings) {
  SignInAs("root", "correct horse");
  HttpResponse r = As("GET", "/api/v1/groups");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            "{\"groups\":[{\"conversation_id\":4,\"name\":\"<b>Kitchen</b>\","
            "\"created_at_us\":1700000000000000,\"members\":[\"root\",\"sam\"],"
            "\"owners\":[\"root\"]}]}");
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
}

TEST_F(ConsoleRecordsTest, AnAdministratorSetsListsAndLiftsHolds) {
  SignInAs("root", "correct horse");
  HttpResponse r = As("POST", "/api/v1/holds",
                      "{\"target\":\"user\",\"login\":\"sam\",\"case_ref\":\"C-17\","
                      "\"reason\":\"tribunal\"}");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(Has(r.body, "\"id\":1,\"target\":\"user\",\"login\":\"sam\"")) << r.body;
  EXPECT_TRUE(Has(r.body, "\"created_by\":\"root\"")) << r.body;
  EXPECT_TRUE(Has(r.body, "\"in_force\":true")) << r.body;

  r = As("POST", "/api/v1/holds", "{\"target\":\"conversation\",\"conversation_id\":4,"
                                  "\"case_ref\":\"C-18\"}");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(Has(r.body, "\"target\":\"conversation\",\"login\":\"\",\"conversation_id\":4"))
      << r.body;
  r = As("POST", "/api/v1/holds", "{\"target\":\"conversation\",\"conversation_id\":\"4\","
                                  "\"case_ref\":\"C-19\"}");
  EXPECT_EQ(r.status, 201) << "an id may come as digits in a string: " << r.body;

  struct Bad {
    const char* body;
    int status;
    const char* says;
  };
  for (const Bad& bad : {
           Bad{"{\"target\":\"team\",\"case_ref\":\"C\"}", 400, "target must be user or conversation"},
           Bad{"{\"target\":\"user\",\"case_ref\":\"C\"}", 400, "login is required"},
           Bad{"{\"target\":\"user\",\"login\":7,\"case_ref\":\"C\"}", 400, "login must be a string"},
           Bad{"{\"target\":\"conversation\",\"conversation_id\":-4,\"case_ref\":\"C\"}", 400,
               "conversation_id must be a positive whole number"},
           Bad{"{\"target\":\"conversation\",\"case_ref\":\"C\"}", 400, "conversation_id is required"},
           Bad{"[1,2]", 400, "must be a JSON object"},
           Bad{"{\"target\":\"user\",\"login\":\"nobody\",\"case_ref\":\"C\"}", 404,
               "there is no user 'nobody'"},
           Bad{"{\"target\":\"conversation\",\"conversation_id\":99,\"case_ref\":\"C\"}", 404,
               "there is no conversation 99"},
           Bad{"{\"target\":\"user\",\"login\":\"sam\"}", 400, "case reference"},
       }) {
    r = As("POST", "/api/v1/holds", bad.body);
    EXPECT_EQ(r.status, bad.status) << bad.body << ": " << r.body;
    EXPECT_TRUE(Has(r.body, "{\"error\":{\"code\":\"")) << r.body;
    EXPECT_TRUE(Has(r.body, bad.says)) << bad.body << ": " << r.body;
  }

  r = As("POST", "/api/v1/holds/1/lift", "{\"reason\":\"case closed\"}");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"done\":true}");
  r = As("POST", "/api/v1/holds/1/lift", "{}");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(As("POST", "/api/v1/holds/42/lift").status, 404);
  r = As("POST", "/api/v1/holds/x1/lift");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(Has(r.body, "positive whole number")) << r.body;

  r = As("GET", "/api/v1/holds");
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(Has(r.body, "\"case_ref\":\"C-17\"")) << "lifted holds only on request: " << r.body;
  EXPECT_TRUE(Has(r.body, "\"case_ref\":\"C-18\"")) << r.body;
  r = As("GET", "/api/v1/holds?include_lifted=1");
  EXPECT_TRUE(Has(r.body, "\"case_ref\":\"C-17\"")) << r.body;
  EXPECT_TRUE(Has(r.body, "\"lifted_by\":\"root\"")) << r.body;
  EXPECT_TRUE(Has(r.body, "\"in_force\":false")) << r.body;
  EXPECT_EQ(As("GET", "/api/v1/holds?include_lifted=yes").status, 400);
}

TEST_F(ConsoleRecordsTest, DryRunAndRealRunReachTheCoreAsWhatTheyAre) {
  SignInAs("root", "correct horse");
  HttpResponse plugins = As("GET", "/api/v1/plugins");
  EXPECT_EQ(plugins.status, 200);
  EXPECT_TRUE(Has(plugins.body, "{\"plugins\":[{\"name\":\"trim\",\"plugin\":\"keep-newest\","))
      << plugins.body;
  EXPECT_TRUE(Has(plugins.body, "\"accept_hook\":false,\"retention_hook\":true")) << plugins.body;

  core_.retention_messages = 12;
  HttpResponse dry = As("POST", "/api/v1/retention/dry-run");
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_TRUE(Has(dry.body, "\"dry_run\":true")) << dry.body;
  EXPECT_TRUE(Has(dry.body, "\"messages_deleted\":12")) << dry.body;
  EXPECT_TRUE(Has(dry.body, "\"conversations\":1,\"held_protected\":2")) << dry.body;
  EXPECT_TRUE(Has(dry.body, "\"policies\":[{\"policy\":\"trim\",\"deleted\":12")) << dry.body;
  HttpResponse real = As("POST", "/api/v1/retention/run");
  ASSERT_EQ(real.status, 200) << real.body;
  EXPECT_TRUE(Has(real.body, "\"dry_run\":false")) << real.body;
  EXPECT_EQ(core_.retention_runs(), (std::vector<std::string>{"dry", "real"}));

  HttpRequest no_csrf = Req("POST", "/api/v1/retention/run");
  no_csrf.headers["cookie"] = cookie_;
  EXPECT_EQ(app_->Handle(no_csrf).status, 403);
  EXPECT_EQ(core_.retention_runs().size(), 2u) << "no run without the CSRF token";
}

TEST_F(ConsoleRecordsTest, SchedulesShowTheConfiguredProfilesAndTheUrgentPolicy) {
  SignInAs("audrey", "auditor pass");
  HttpResponse r = As("GET", "/api/v1/schedules");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            "{\"profiles\":[{\"name\":\"office\",\"default\":true,\"time_zone\":\"Europe/Berlin\","
            "\"week\":{\"mon\":\"09:00-12:30, 13:30-17:00\",\"tue\":\"off\",\"wed\":\"off\","
            "\"thu\":\"off\",\"fri\":\"09:00-13:00\",\"sat\":\"off\",\"sun\":\"off\"},"
            "\"holidays\":\"2026-12-25\",\"members\":\"\",\"may_change\":\"days_off\"},"
            "{\"name\":\"night\",\"default\":false,\"time_zone\":\"UTC\",\"week\":{\"mon\":"
            "\"22:00-06:00\",\"tue\":\"off\",\"wed\":\"off\",\"thu\":\"off\",\"fri\":\"off\","
            "\"sat\":\"off\",\"sun\":\"off\"},\"holidays\":\"\",\"members\":\"sam\","
            "\"may_change\":\"\"}],\"urgent_allowed\":[\"role:admin\",\"profile:night\"]}");
  EXPECT_TRUE(core_.user_requests().empty()) << "the defaults come from the configuration";
}

TEST_F(ConsoleRecordsTest, AnAdministratorReadsSomeonesScheduleAndTheDisconnectReport) {
  SignInAs("root", "correct horse");
  HttpResponse r = As("GET", "/api/v1/users/sam/schedule");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            "{\"login\":\"sam\",\"schedule\":{\"time_zone\":\"Europe/Berlin\",\"week\":[{"
            "\"weekday\":0,\"periods\":[{\"start_minute\":540,\"end_minute\":1020}]}],"
            "\"days_off\":[],\"holidays\":[\"2026-12-25\"],\"shifts\":[],\"profile\":\"office\","
            "\"may_change\":[\"days_off\"]},\"on_duty\":false,\"until_us\":1700000200000000}");
  EXPECT_EQ(As("GET", "/api/v1/users/nobody/schedule").status, 404);

  r = As("GET", "/api/v1/reports/disconnect?from_us=1700000000000000&to_us=1700600000000000");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            "{\"from_us\":1700000000000000,\"to_us\":1700600000000000,\"senders\":[{\"name\":"
            "\"sam\",\"conversation_id\":0,\"messages\":5,\"recipients\":7,\"urgent\":1}],"
            "\"groups\":[{\"name\":\"Kitchen\",\"conversation_id\":4,\"messages\":3,"
            "\"recipients\":4,\"urgent\":0}],\"messages\":5,\"recipients\":7,\"urgent\":1}");
  for (const char* bad : {"?from_us=yesterday", "?from_us=-5", "?to_us=", "?to_us=1e6"}) {
    r = As("GET", std::string("/api/v1/reports/disconnect") + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(Has(r.body, "microseconds since 1970")) << r.body;
  }
  r = As("GET", "/api/v1/reports/disconnect?from_us=20&to_us=10");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(Has(r.body, "range")) << r.body;
}

}  // namespace
}  // namespace chatpro::console
