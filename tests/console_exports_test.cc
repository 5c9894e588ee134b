// SPDX-License-Identifier: Apache-2.0
//
// Four eyes through the web admin console of a real chatpro-broker: an
// administrator opens a subject access case, an auditor (signed in to the
// console too) approves it, the export runs in the broker, and the
// administrator downloads it over HTTPS as a zip file named by the console,
// holding the subject's messages. Nobody approves their own case.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "broker/crypto/password.h"
#include "tests/cli_fixture.h"  // SendAndWait
#include "tests/zip_reader.h"

namespace chatpro::testing {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct HttpsReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // the ones the test reads
  std::int64_t content_length = -1;
};

// A call as a signed-in console user: the session cookie, and the CSRF token
// on changes.
struct ConsoleUser {
  std::string cookie;
  std::string csrf;
};

// The string value of "key" in a flat JSON text ("" if absent).
std::string JsonString(const std::string& json, const std::string& key) {
  std::size_t at = json.find("\"" + key + "\":\"");
  if (at == std::string::npos) return {};
  at += key.size() + 4;
  return json.substr(at, json.find('"', at) - at);
}

// The number value of "key" in a flat JSON text (0 if absent).
std::uint64_t JsonNumber(const std::string& json, const std::string& key) {
  std::size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return 0;
  return std::stoull(json.substr(at + key.size() + 3));
}

class ConsoleExports : public BrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "console.enabled=true",
                    "--set", "console.listen=127.0.0.1:" + std::to_string(console_port_),
                    "--set", "cases.embargo=0s"};
    return o;
  }

  void SetUp() override {
    BrokerTest::SetUp();
    // Ana writes to Ben and Ben answers; Ana and Carl talk without him.
    Result<client::Profile> ana = AddUser("ana");
    Result<client::Profile> ben = AddUser("ben");
    Result<client::Profile> carl = AddUser("carl");
    ASSERT_TRUE(ana.ok() && ben.ok() && carl.ok());
    ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(*ana, nullptr));
    ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(*ben, nullptr));
    for (const auto& [from, to, text] :
         std::vector<std::tuple<client::Client*, std::string, std::string>>{
             {ana_client.get(), "ben", "The quarterly figures, Ben"},
             {ben_client.get(), "ana", "Thanks, got them"},
             {ana_client.get(), "carl", "Between the two of us: nothing for the case"}}) {
      client::SendResult r = SendAndWait(*from, client::Target::User(to), MakeText(text));
      ASSERT_TRUE(r.status.ok()) << r.status;
    }
    // The administrator and an auditor, both with a console password.
    ASSERT_OK(root_->AdminAddUser("audrey", "Audrey", client::Role::kAuditor).status());
    for (const char* login : {"root", "audrey"}) {
      Result<std::string> hash = crypto::HashPassword(std::string(login) + " console pass");
      ASSERT_TRUE(hash.ok()) << hash.status();
      ASSERT_OK(root_->SetConsolePassword(login, *hash));
    }
  }

  // A request to https://localhost:PORT trusting only the broker's certificate.
  HttpsReply Call(const std::string& method, const std::string& path, const std::string& body,
                  const ConsoleUser* as) {
    Poco::Net::Context::Ptr trust = new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", "", broker_->data_dir() + "/console/cert.pem",
        Poco::Net::Context::VERIFY_STRICT, 9, false);
    Poco::Net::HTTPSClientSession session("localhost", static_cast<Poco::UInt16>(console_port_),
                                          trust);
    session.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (as != nullptr) {
      request.set("Cookie", as->cookie);
      if (method != "GET") request.set("X-CSRF-Token", as->csrf);
    }
    if (!body.empty() || method == "POST") {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      session.sendRequest(request) << body;
    } else {
      session.sendRequest(request);
    }
    Poco::Net::HTTPResponse response;
    HttpsReply out;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), out.body);
    out.status = response.getStatus();
    for (const char* name : {"Content-Type", "Content-Disposition", "Set-Cookie"}) {
      out.headers[name] = response.get(name, "");
    }
    if (response.hasContentLength()) out.content_length = response.getContentLength64();
    return out;
  }

  Result<ConsoleUser> SignIn(const std::string& login) {
    HttpsReply r =
        Call("POST", "/api/v1/session",
             "{\"login\":\"" + login + "\",\"password\":\"" + login + " console pass\"}", nullptr);
    if (r.status != 200) return Status::PermissionDenied("sign-in refused: " + r.body);
    const std::string& cookie = r.headers["Set-Cookie"];
    return ConsoleUser{cookie.substr(0, cookie.find(';')), JsonString(r.body, "csrf_token")};
  }

  // GET /exports/ID until the export is no longer running (bounded).
  HttpsReply WaitForExport(const std::string& id, const ConsoleUser& as) {
    HttpsReply status;
    const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
    do {
      status = Call("GET", "/api/v1/exports/" + id, "", &as);
      if (status.status != 200 || JsonString(status.body, "state") != "running") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    return status;
  }

  const int console_port_ = PickFreePort();
};

TEST_F(ConsoleExports, AnAuditorApprovesAnAdministratorsCaseAndTheDownloadIsTheSubjectsZip) {
  ASSERT_OK_AND_ASSIGN(ConsoleUser admin, SignIn("root"));
  ASSERT_OK_AND_ASSIGN(ConsoleUser auditor, SignIn("audrey"));

  HttpsReply opened = Call("POST", "/api/v1/cases",
                           "{\"kind\":\"subject_access\",\"legal_basis\":\"GDPR art. 15 "
                           "request of 2026-11-20\",\"subjects\":[\"ben\"]}",
                           &admin);
  ASSERT_EQ(opened.status, 201) << opened.body;
  EXPECT_EQ(JsonString(opened.body, "state"), "awaiting approval") << opened.body;
  EXPECT_EQ(JsonString(opened.body, "requested_by"), "root") << opened.body;
  const std::string id = std::to_string(JsonNumber(opened.body, "id"));

  // Nobody approves their own case; nothing is exported before approval.
  HttpsReply own = Call("POST", "/api/v1/cases/" + id + "/approve", "", &admin);
  EXPECT_EQ(own.status, 403) << own.body;
  EXPECT_EQ(JsonString(own.body, "code"), "permission_denied") << own.body;
  EXPECT_TRUE(Has(own.body, "yourself")) << own.body;
  HttpsReply early = Call("POST", "/api/v1/cases/" + id + "/export", "", &admin);
  EXPECT_EQ(early.status, 409) << early.body;
  EXPECT_TRUE(Has(early.body, "awaiting approval")) << early.body;

  HttpsReply approved = Call("POST", "/api/v1/cases/" + id + "/approve", "", &auditor);
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(JsonString(approved.body, "state"), "approved") << approved.body;
  EXPECT_EQ(JsonString(approved.body, "approved_by"), "audrey") << approved.body;

  HttpsReply started = Call("POST", "/api/v1/cases/" + id + "/export", "", &admin);
  ASSERT_EQ(started.status, 202) << started.body;
  // The export runs in the broker; the page follows it the same way.
  HttpsReply status = WaitForExport(id, admin);
  ASSERT_EQ(status.status, 200) << status.body;
  ASSERT_EQ(JsonString(status.body, "state"), "done") << status.body;
  EXPECT_EQ(JsonNumber(status.body, "messages"), 2u) << status.body;
  EXPECT_EQ(JsonString(status.body, "download"), "/api/v1/exports/" + id + "/download");

  HttpsReply zip = Call("GET", "/api/v1/exports/" + id + "/download", "", &admin);
  ASSERT_EQ(zip.status, 200) << zip.body;
  EXPECT_EQ(zip.headers["Content-Type"], "application/zip");
  EXPECT_EQ(zip.headers["Content-Disposition"],
            "attachment; filename=\"chatpro-export-" + id + ".zip\"");
  EXPECT_EQ(zip.content_length, static_cast<std::int64_t>(zip.body.size()));
  EXPECT_EQ(zip.body.size(), JsonNumber(status.body, "bytes"));
  ASSERT_EQ(zip.body.rfind("PK\x03\x04", 0), 0u) << "a zip file starts with a local header";
  const std::string file = dir_->Sub("chatpro-export-" + id + ".zip");
  {
    std::ofstream out(file, std::ios::binary);
    out << zip.body;
  }
  std::map<std::string, std::string> members = ReadZip(file);
  ASSERT_EQ(members.count("messages.jsonl"), 1u);
  ASSERT_EQ(members.count("manifest.json"), 1u);
  const std::string& lines = members["messages.jsonl"];
  EXPECT_TRUE(Has(lines, "The quarterly figures, Ben")) << lines;
  EXPECT_TRUE(Has(lines, "Thanks, got them")) << lines;
  EXPECT_FALSE(Has(lines, "nothing for the case")) << lines;
  EXPECT_TRUE(Has(members["manifest.json"], "GDPR art. 15 request of 2026-11-20"));
  EXPECT_TRUE(Has(members["manifest.json"], "audrey"));

  // The case is marked exported once the broker has recorded the finish.
  HttpsReply cases;
  const auto marked_by = std::chrono::steady_clock::now() + kWaitTimeout;
  do {
    cases = Call("GET", "/api/v1/cases", "", &auditor);
    ASSERT_EQ(cases.status, 200) << cases.body;
    if (JsonString(cases.body, "state") == "exported") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < marked_by);
  EXPECT_EQ(JsonString(cases.body, "state"), "exported") << cases.body;
  // The download is on record, by the administrator who made it.
  HttpsReply audit = Call("GET", "/api/v1/audit?limit=1000", "", &auditor);
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_TRUE(Has(audit.body, "\"actor\":\"root\",\"action\":\"export.download\"")) << audit.body;
}

TEST_F(ConsoleExports, AnAuditorsSearchCaseApprovedByAnAdministratorExportsOnlyWhatMatches) {
  ASSERT_OK_AND_ASSIGN(ConsoleUser admin, SignIn("root"));
  ASSERT_OK_AND_ASSIGN(ConsoleUser auditor, SignIn("audrey"));
  // Today's messages, as the page sends a date range: from a day ago to a
  // day ahead, in microseconds.
  const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::int64_t day_us = 86'400'000'000;
  HttpsReply opened =
      Call("POST", "/api/v1/cases",
           "{\"kind\":\"search\",\"legal_basis\":\"investigation INV-9\",\"subjects\":[\"ben\"],"
           "\"keyword\":\"FIGURES\",\"from_at_us\":" +
               std::to_string(now_us - day_us) +
               ",\"to_at_us\":" + std::to_string(now_us + day_us) + "}",
           &auditor);
  ASSERT_EQ(opened.status, 201) << opened.body;
  EXPECT_EQ(JsonString(opened.body, "kind"), "search") << opened.body;
  EXPECT_EQ(JsonString(opened.body, "keyword"), "FIGURES") << opened.body;
  const std::string id = std::to_string(JsonNumber(opened.body, "id"));
  HttpsReply own = Call("POST", "/api/v1/cases/" + id + "/approve", "", &auditor);
  EXPECT_EQ(own.status, 403) << own.body;

  HttpsReply approved = Call("POST", "/api/v1/cases/" + id + "/approve", "", &admin);
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(JsonString(approved.body, "approved_by"), "root") << approved.body;
  ASSERT_EQ(Call("POST", "/api/v1/cases/" + id + "/export", "", &auditor).status, 202);
  HttpsReply status = WaitForExport(id, auditor);
  ASSERT_EQ(JsonString(status.body, "state"), "done") << status.body;
  EXPECT_EQ(JsonNumber(status.body, "messages"), 1u) << status.body;

  HttpsReply zip = Call("GET", "/api/v1/exports/" + id + "/download", "", &auditor);
  ASSERT_EQ(zip.status, 200) << zip.body;
  const std::string file = dir_->Sub("search.zip");
  {
    std::ofstream out(file, std::ios::binary);
    out << zip.body;
  }
  std::map<std::string, std::string> members = ReadZip(file);
  const std::string& lines = members["messages.jsonl"];
  EXPECT_TRUE(Has(lines, "The quarterly figures, Ben")) << lines;
  EXPECT_FALSE(Has(lines, "Thanks, got them")) << lines;
  EXPECT_TRUE(Has(members["manifest.json"], "investigation INV-9"));
}

}  // namespace
}  // namespace chatpro::testing
