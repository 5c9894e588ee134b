// SPDX-License-Identifier: Apache-2.0
//
// The web admin console of a real chatpro-broker, from the outside: served
// over HTTPS with the certificate the broker made at its first start (and
// reused at the next), refused at start when plain HTTP is asked for on an
// address that is not loopback; an administrator whose console password was
// set through the client signs in and manages users through the core.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "broker/crypto/password.h"
#include "tests/chat_fixture.h"

namespace chatpro::testing {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct HttpsReply {
  int status = 0;
  std::string body;
  std::string hsts;
  std::string cookie;  // Set-Cookie
};

// A request to https://localhost:PORT trusting only `cert_file`.
HttpsReply HttpsCall(int port, const std::string& cert_file, const std::string& method,
                     const std::string& path, const std::string& body,
                     const std::vector<std::pair<std::string, std::string>>& headers) {
  Poco::Net::Context::Ptr trust = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", "", cert_file, Poco::Net::Context::VERIFY_STRICT,
      9, false);
  Poco::Net::HTTPSClientSession session("localhost", static_cast<Poco::UInt16>(port), trust);
  session.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : headers) request.set(name, value);
  if (!body.empty()) {
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
  out.hsts = response.get("Strict-Transport-Security", "");
  out.cookie = response.get("Set-Cookie", "");
  return out;
}

// The string value of "key" in a flat JSON text ("" if absent).
std::string JsonString(const std::string& json, const std::string& key) {
  std::size_t at = json.find("\"" + key + "\":\"");
  if (at == std::string::npos) return {};
  at += key.size() + 4;
  return json.substr(at, json.find('"', at) - at);
}

// GET https://localhost:PORT/PATH trusting only `cert_file` (host name checked).
HttpsReply HttpsGet(int port, const std::string& path, const std::string& cert_file) {
  Poco::Net::Context::Ptr trust = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", "", cert_file, Poco::Net::Context::VERIFY_STRICT,
      9, false);
  Poco::Net::HTTPSClientSession session("localhost", static_cast<Poco::UInt16>(port), trust);
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path,
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  HttpsReply out;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), out.body);
  out.status = response.getStatus();
  out.hsts = response.get("Strict-Transport-Security", "");
  return out;
}

class Console : public BrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "console.enabled=true", "--set",
                    "console.listen=127.0.0.1:" + std::to_string(console_port_)};
    return o;
  }

  std::string CertFile() const { return broker_->data_dir() + "/console/cert.pem"; }

  const int console_port_ = PickFreePort();
};

TEST_F(Console, ServesTheSignInPageOverHttpsWithTheCertificateItMadeAndReusesIt) {
  const std::string cert = broker_->data_dir() + "/console/cert.pem";
  const std::string first_cert = ReadWholeFile(cert);
  ASSERT_TRUE(Has(first_cert, "BEGIN CERTIFICATE"));
  std::string log = broker_->Log();
  EXPECT_TRUE(Has(log, "admin console on https://127.0.0.1:" + std::to_string(console_port_)))
      << log;
  EXPECT_TRUE(Has(log, "SHA-256 fingerprint ")) << log;

  HttpsReply page;
  ASSERT_NO_THROW(page = HttpsGet(console_port_, "/", cert));
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(Has(page.body, "<form id=\"sign-in\"")) << page.body;
  EXPECT_EQ(page.hsts, "max-age=31536000");
  HttpsReply api = HttpsGet(console_port_, "/api/v1/users", cert);
  EXPECT_EQ(api.status, 401);
  EXPECT_TRUE(Has(api.body, "\"code\":\"permission_denied\"")) << api.body;

  ASSERT_OK(broker_->Restart());
  EXPECT_EQ(ReadWholeFile(cert), first_cert) << "the certificate is reused, not made again";
  EXPECT_EQ(HttpsGet(console_port_, "/app.js", cert).status, 200);
}

TEST_F(Console, AnAdministratorSignsInAndManagesUsersThroughTheCore) {
  Result<std::string> hash = crypto::HashPassword("correct horse battery");
  ASSERT_TRUE(hash.ok()) << hash.status();
  ASSERT_OK(root_->SetConsolePassword("root", *hash));

  HttpsReply refused = HttpsCall(console_port_, CertFile(), "POST", "/api/v1/session",
                                 "{\"login\":\"root\",\"password\":\"wrong horse\"}", {});
  EXPECT_EQ(refused.status, 401) << refused.body;

  HttpsReply signin = HttpsCall(console_port_, CertFile(), "POST", "/api/v1/session",
                                "{\"login\":\"root\",\"password\":\"correct horse battery\"}",
                                {});
  ASSERT_EQ(signin.status, 200) << signin.body;
  EXPECT_EQ(JsonString(signin.body, "role"), "admin") << signin.body;
  const std::string cookie = signin.cookie.substr(0, signin.cookie.find(';'));
  const std::string csrf = JsonString(signin.body, "csrf_token");
  ASSERT_FALSE(csrf.empty()) << signin.body;

  HttpsReply users = HttpsCall(console_port_, CertFile(), "GET", "/api/v1/users", "",
                               {{"Cookie", cookie}});
  EXPECT_EQ(users.status, 200) << users.body;
  EXPECT_TRUE(Has(users.body, "\"login\":\"root\"")) << users.body;

  HttpsReply no_token = HttpsCall(console_port_, CertFile(), "POST", "/api/v1/users",
                                  "{\"login\":\"eve\",\"display_name\":\"Eve\"}",
                                  {{"Cookie", cookie}});
  EXPECT_EQ(no_token.status, 403) << no_token.body;
  HttpsReply added = HttpsCall(console_port_, CertFile(), "POST", "/api/v1/users",
                               "{\"login\":\"eve\",\"display_name\":\"<b>Eve</b>\"}",
                               {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(JsonString(added.body, "invite").rfind("chatpro://", 0), 0u) << added.body;
  HttpsReply again = HttpsCall(console_port_, CertFile(), "POST", "/api/v1/users",
                               "{\"login\":\"eve\",\"display_name\":\"Eve\"}",
                               {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_TRUE(Has(again.body, "\"code\":\"already_exists\"")) << again.body;

  HttpsReply audit = HttpsCall(console_port_, CertFile(), "GET", "/api/v1/audit?limit=1000", "",
                               {{"Cookie", cookie}});
  EXPECT_EQ(audit.status, 200) << audit.body;
  EXPECT_TRUE(Has(audit.body, "console.signin_refused")) << audit.body;
  EXPECT_TRUE(Has(audit.body, "console.signin")) << audit.body;

  HttpsReply out = HttpsCall(console_port_, CertFile(), "DELETE", "/api/v1/session", "",
                             {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(HttpsCall(console_port_, CertFile(), "GET", "/api/v1/users", "", {{"Cookie", cookie}})
                .status,
            401);
}

TEST_F(Console, TheDashboardAndStatusShowTheRunningBrokersCountersStorageAndSettings) {
  Result<std::string> hash = crypto::HashPassword("correct horse battery");
  ASSERT_TRUE(hash.ok()) << hash.status();
  ASSERT_OK(root_->SetConsolePassword("root", *hash));
  HttpsReply signin = HttpsCall(console_port_, CertFile(), "POST", "/api/v1/session",
                                "{\"login\":\"root\",\"password\":\"correct horse battery\"}",
                                {});
  ASSERT_EQ(signin.status, 200) << signin.body;
  const std::string cookie = signin.cookie.substr(0, signin.cookie.find(';'));

  EXPECT_EQ(HttpsCall(console_port_, CertFile(), "GET", "/api/v1/dashboard", "", {}).status, 401);
  HttpsReply dashboard = HttpsCall(console_port_, CertFile(), "GET", "/api/v1/dashboard", "",
                                   {{"Cookie", cookie}});
  ASSERT_EQ(dashboard.status, 200) << dashboard.body;
  // root's device is connected (the fixture's client), and only it: the
  // console's own in-process sessions are not devices.
  EXPECT_TRUE(Has(dashboard.body, "\"connected_devices\":1,")) << dashboard.body;
  EXPECT_TRUE(Has(dashboard.body, "\"bucket_le_us\":[1,2,4,")) << dashboard.body;
  EXPECT_FALSE(Has(dashboard.body, "\"store_bytes\":0,")) << "the store has files";

  HttpsReply status = HttpsCall(console_port_, CertFile(), "GET", "/api/v1/status", "",
                                {{"Cookie", cookie}});
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_TRUE(Has(status.body, "{\"key\":\"broker.listen\",\"value\":\"" + broker_->endpoint() +
                                   "\"}"))
      << status.body;
  EXPECT_TRUE(Has(status.body, "{\"key\":\"console.listen\",\"value\":\"127.0.0.1:" +
                                   std::to_string(console_port_) + "\"}"))
      << status.body;
  EXPECT_TRUE(Has(status.body, "\"sessions\":[{\"login\":\"root\"")) << status.body;
  EXPECT_FALSE(Has(status.body, "key_file")) << "no key files among the settings shown";
  EXPECT_FALSE(Has(status.body, JsonString(signin.body, "csrf_token"))) << "no session tokens";
  EXPECT_FALSE(Has(status.body, "\"data_dir_capacity_bytes\":0,")) << status.body;
}

TEST(ConsoleConfig, PlainHttpOffLoopbackIsRefusedNamingTheSetting) {
  TempDir dir;
  RunResult r = RunProgram({BrokerPath(), "--data-dir", dir.Sub("data"), "--listen",
                            "tcp://127.0.0.1:" + std::to_string(PickFreePort()), "--set",
                            "metrics.listen=", "--set", "console.listen=0.0.0.0:0", "--set",
                            "console.plain_http=true"},
                           dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "console.plain_http")) << r.err;
  EXPECT_FALSE(Has(r.out, "listening on")) << r.out;
}

}  // namespace
}  // namespace chatpro::testing
