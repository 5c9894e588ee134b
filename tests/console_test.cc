// SPDX-License-Identifier: Apache-2.0
//
// The web admin console of a real chatpro-broker, from the outside: served
// over HTTPS with the certificate the broker made at its first start (and
// reused at the next), refused at start when plain HTTP is asked for on an
// address that is not loopback. Sign-in and the API through the core are
// covered once the broker's in-process caller is there; here the console's
// own layer is checked end to end.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

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
};

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
  bool EnrollRoot() const override { return false; }

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
