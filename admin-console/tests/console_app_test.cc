// SPDX-License-Identifier: Apache-2.0
#include "admin-console/console_app.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "admin-console/static_assets.h"
#include "admin-console/tests/fake_core.h"

namespace chatpro::console {
namespace {

using testing::FakeCore;

constexpr std::int64_t kMinute = 60 * 1'000'000ll;

class ConsoleAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    core_.AddUser(1, "root", "Root Admin", wire::Role::Admin, "correct horse");
    core_.AddUser(2, "audrey", "Audrey", wire::Role::Auditor, "auditor pass");
    core_.AddUser(3, "sam", "Sam", wire::Role::User, "user pass");
    options_.login_attempts = 3;
    app_ = std::make_unique<ConsoleApp>(options_, ConsoleDeps{&core_, &clock_, &stats_, "9.9.9",
                                                              clock_.NowMicros() - 90'000'000});
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

  HttpResponse SignIn(const std::string& login, const std::string& password,
                      const std::string& address = "192.0.2.10") {
    HttpRequest r = Req("POST", "/api/v1/session",
                        "{\"login\":\"" + login + "\",\"password\":\"" + password + "\"}");
    r.client_address = address;
    return app_->Handle(r);
  }

  // Signs in and remembers the cookie and the CSRF token.
  void SignInAs(const std::string& login, const std::string& password) {
    HttpResponse r = SignIn(login, password);
    ASSERT_EQ(r.status, 200) << r.body;
    std::string cookie = r.Header("Set-Cookie");
    cookie_ = cookie.substr(0, cookie.find(';'));
    std::size_t at = r.body.find("\"csrf_token\":\"");
    ASSERT_NE(at, std::string::npos);
    at += 14;
    csrf_ = r.body.substr(at, r.body.find('"', at) - at);
  }

  // A request of the signed-in user (with the CSRF header on changes).
  HttpResponse As(std::string method, std::string target, std::string body = {}) {
    HttpRequest r = Req(method, std::move(target), std::move(body));
    r.headers["cookie"] = "theme=dark; " + cookie_;
    if (method != "GET") r.headers["x-csrf-token"] = csrf_;
    return app_->Handle(r);
  }

  std::uint64_t Errors(StatusCode code) const {
    return stats_.front_end_errors[static_cast<int>(code)].load();
  }

  FakeCore core_;
  FakeClock clock_;
  core::BrokerStats stats_;
  ConsoleOptions options_;
  std::unique_ptr<ConsoleApp> app_;
  std::string cookie_, csrf_;
};

TEST_F(ConsoleAppTest, SignInSetsAStrictHttpOnlySecureCookieAndReturnsTheSession) {
  HttpResponse r = SignIn("root", "correct horse");
  ASSERT_EQ(r.status, 200) << r.body;
  std::string cookie = r.Header("Set-Cookie");
  EXPECT_EQ(cookie.rfind("chatpro_console=", 0), 0u) << cookie;
  std::string token = cookie.substr(16, cookie.find(';') - 16);
  EXPECT_EQ(token.size(), 43u);
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("; Secure"), std::string::npos);
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos);
  EXPECT_NE(r.body.find("\"login\":\"root\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"role\":\"admin\""), std::string::npos);
  EXPECT_NE(r.body.find("\"csrf_token\":\""), std::string::npos);
  EXPECT_NE(r.body.find("\"expires_at\":\""), std::string::npos);
  EXPECT_EQ(r.body.find(token), std::string::npos) << "the cookie is not readable by scripts";
  EXPECT_EQ(stats_.console_logins[0].load(), 1u);
  ASSERT_EQ(core_.audit().size(), 1u);
  EXPECT_EQ(core_.audit()[0].event, "signin");
  EXPECT_EQ(core_.audit()[0].address, "192.0.2.10");
}

TEST_F(ConsoleAppTest, CurrentSessionAndSignOut) {
  EXPECT_EQ(app_->Handle(Req("GET", "/api/v1/session")).status, 401);
  SignInAs("audrey", "auditor pass");
  HttpResponse r = As("GET", "/api/v1/session");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"role\":\"auditor\""), std::string::npos);
  EXPECT_NE(r.body.find(csrf_), std::string::npos);
  r = As("DELETE", "/api/v1/session");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.Header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(As("GET", "/api/v1/session").status, 401);
  EXPECT_EQ(core_.audit().back().event, "signout");
}

TEST_F(ConsoleAppTest, UnknownLoginAndWrongPasswordAnswerTheSame) {
  HttpResponse wrong = SignIn("root", "wrong");
  HttpResponse unknown = SignIn("nobody", "wrong", "192.0.2.11");
  HttpResponse plain_user = SignIn("sam", "user pass", "192.0.2.12");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body, unknown.body);
  EXPECT_EQ(wrong.body, plain_user.body) << "users without a console role cannot sign in";
  EXPECT_EQ(wrong.body,
            "{\"error\":{\"code\":\"permission_denied\",\"message\":\"wrong login or password\"}}");
  EXPECT_TRUE(wrong.Header("Set-Cookie").empty());
  EXPECT_EQ(stats_.console_logins[1].load(), 3u);
  EXPECT_EQ(core_.audit().size(), 3u);
  EXPECT_EQ(core_.audit()[1].event, "signin_refused");
  EXPECT_FALSE(core_.audit()[1].ok);
}

TEST_F(ConsoleAppTest, DeactivatedUserCannotSignIn) {
  core_.SetActive("root", false);
  EXPECT_EQ(SignIn("root", "correct horse").status, 401);
}

TEST_F(ConsoleAppTest, TooManyFailuresLockOutWithRetryAfterAndAreAudited) {
  EXPECT_EQ(SignIn("root", "a").status, 401);
  EXPECT_EQ(SignIn("root", "b").status, 401);
  EXPECT_EQ(SignIn("root", "c").status, 401);
  HttpResponse r = SignIn("root", "correct horse");
  EXPECT_EQ(r.status, 429) << "locked even with the right password";
  EXPECT_EQ(r.Header("Retry-After"), "300");
  EXPECT_NE(r.body.find("\"code\":\"resource_exhausted\""), std::string::npos);
  EXPECT_EQ(stats_.console_logins[2].load(), 1u);
  bool lockout_audited = false;
  for (const auto& a : core_.audit()) lockout_audited |= a.event == "lockout";
  EXPECT_TRUE(lockout_audited);
  clock_.Advance(5 * kMinute);
  EXPECT_EQ(SignIn("root", "correct horse").status, 200);
}

TEST_F(ConsoleAppTest, ChangesNeedTheSessionsCsrfToken) {
  SignInAs("root", "correct horse");
  const std::string body = "{\"login\":\"eve\",\"display_name\":\"Eve\"}";
  HttpRequest r = Req("POST", "/api/v1/users", body);
  r.headers["cookie"] = cookie_;
  HttpResponse missing = app_->Handle(r);
  EXPECT_EQ(missing.status, 403);
  EXPECT_NE(missing.body.find("X-CSRF-Token"), std::string::npos);
  r.headers["x-csrf-token"] = csrf_.substr(1) + "x";
  EXPECT_EQ(app_->Handle(r).status, 403);
  r.headers["x-csrf-token"] = csrf_;
  r.headers["origin"] = "https://evil.example";
  HttpResponse foreign = app_->Handle(r);
  EXPECT_EQ(foreign.status, 403);
  EXPECT_NE(foreign.body.find("another site"), std::string::npos);
  r.headers.erase("origin");
  r.headers["referer"] = "https://evil.example/console.example:8443/";
  EXPECT_EQ(app_->Handle(r).status, 403);
  EXPECT_TRUE(core_.user_requests().empty()) << "nothing reached the core";
  EXPECT_EQ(Errors(StatusCode::kPermissionDenied), 4u);

  r.headers["referer"] = "https://console.example:8443/index.html";
  r.headers["origin"] = "https://CONSOLE.example:8443";
  HttpResponse ok = app_->Handle(r);
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_NE(ok.body.find("\"invite\":\"chatpro://"), std::string::npos) << ok.body;
}

TEST_F(ConsoleAppTest, AuditorsReadButTheirChangesStopBeforeTheCore) {
  SignInAs("audrey", "auditor pass");
  EXPECT_EQ(As("GET", "/api/v1/users").status, 200);
  HttpResponse r = As("POST", "/api/v1/users/sam/deactivate");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("auditors"), std::string::npos);
  EXPECT_EQ(As("POST", "/api/v1/users", "{\"login\":\"x\"}").status, 403);
  EXPECT_EQ(core_.user_requests(), std::vector<std::string>{"AdminListUsers"});
  EXPECT_EQ(As("POST", "/api/v1/audit/verify").status, 200) << "verifying changes nothing";
}

TEST_F(ConsoleAppTest, AdminManagesUsersThroughTheCore) {
  SignInAs("root", "correct horse");
  HttpResponse r = As("POST", "/api/v1/users", "{\"login\":\"eve\",\"display_name\":\"Eve\","
                                               "\"role\":\"auditor\"}");
  ASSERT_EQ(r.status, 201) << r.body;
  r = As("POST", "/api/v1/users", "{\"login\":\"eve\",\"display_name\":\"Eve\"}");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "{\"error\":{\"code\":\"already_exists\",\"message\":\"user 'eve' exists\"}}");
  r = As("POST", "/api/v1/users", "{\"login\":\"x\",\"role\":\"boss\"}");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("\"code\":\"invalid_argument\""), std::string::npos);
  r = As("POST", "/api/v1/users", "not json");
  EXPECT_EQ(r.status, 400);
  r = As("GET", "/api/v1/users");
  EXPECT_NE(r.body.find("\"login\":\"eve\",\"display_name\":\"Eve\",\"role\":\"auditor\""),
            std::string::npos)
      << r.body;
  r = As("GET", "/api/v1/users/sam/devices");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"name\":\"laptop\""), std::string::npos) << r.body;
  EXPECT_EQ(As("GET", "/api/v1/users/nobody/devices").status, 404);
  r = As("POST", "/api/v1/users/sam/deactivate");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"devices_revoked\":2"), std::string::npos) << r.body;
  r = As("GET", "/api/v1/audit?limit=2&from_seq=0");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"entries\":[{\"seq\":1"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"hash\":\"abcd\""), std::string::npos);
  EXPECT_EQ(As("GET", "/api/v1/audit?limit=5000").status, 400);
  EXPECT_EQ(As("GET", "/api/v1/audit?limit=-1").status, 400);
  r = As("POST", "/api/v1/audit/verify");
  EXPECT_NE(r.body.find("\"whole\":true"), std::string::npos);
}

TEST_F(ConsoleAppTest, ScriptInNamesComesBackAsEscapedData) {
  core_.AddUser(9, "x", "<script>alert(\"1\")</script>", wire::Role::User, "");
  SignInAs("root", "correct horse");
  HttpResponse r = As("GET", "/api/v1/users");
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(r.body.find("\"display_name\":\"<script>alert(\\\"1\\\")</script>\""),
            std::string::npos)
      << r.body;
}

TEST_F(ConsoleAppTest, SessionsOfADeactivatedUserEndAtTheirNextCall) {
  SignInAs("root", "correct horse");
  HttpRequest second = Req("POST", "/api/v1/session",
                           "{\"login\":\"root\",\"password\":\"correct horse\"}");
  ASSERT_EQ(app_->Handle(second).status, 200);
  EXPECT_EQ(app_->sessions().size(), 2u);
  core_.SetActive("root", false);
  HttpResponse r = As("GET", "/api/v1/users");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(app_->sessions().size(), 0u) << "every session of the user ended";
}

TEST_F(ConsoleAppTest, SessionExpiresWhenIdle) {
  SignInAs("root", "correct horse");
  clock_.Advance(14 * kMinute);
  EXPECT_EQ(As("GET", "/api/v1/status").status, 200);
  clock_.Advance(15 * kMinute);
  EXPECT_EQ(As("GET", "/api/v1/status").status, 401);
}

TEST_F(ConsoleAppTest, StatusNamesVersionAndUptime) {
  SignInAs("root", "correct horse");
  HttpResponse r = As("GET", "/api/v1/status");
  EXPECT_NE(r.body.find("\"version\":\"9.9.9\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"uptime_s\":90"), std::string::npos) << r.body;
}

TEST_F(ConsoleAppTest, StatusShowsStorageSettingsAndSessionsWithoutTheirTokens) {
  ConsoleDeps deps{&core_, &clock_, &stats_, "9.9.9", clock_.NowMicros()};
  deps.storage = [] { return StorageSnapshot{1234, 5678, 9999}; };
  deps.settings = {{"store.data_dir", "/var/lib/chatpro"}, {"console.listen", "0.0.0.0:8443"}};
  app_ = std::make_unique<ConsoleApp>(options_, std::move(deps));
  SignInAs("root", "correct horse");
  HttpResponse r = As("GET", "/api/v1/status");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"store_bytes\":1234"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"data_dir_free_bytes\":5678"), std::string::npos);
  EXPECT_NE(r.body.find("\"data_dir_capacity_bytes\":9999"), std::string::npos);
  EXPECT_NE(r.body.find("{\"key\":\"store.data_dir\",\"value\":\"/var/lib/chatpro\"}"),
            std::string::npos);
  EXPECT_NE(r.body.find("\"sessions\":[{\"login\":\"root\""), std::string::npos);
  EXPECT_EQ(r.body.find(csrf_), std::string::npos) << "no session's CSRF token in the list";
}

TEST_F(ConsoleAppTest, DashboardAnswersTheBrokersCounters) {
  stats_.sessions = 5;  // with enrollments and console users: not shown as devices
  stats_.devices_connected = 3;
  stats_.messages_accepted[0] = 10;
  stats_.messages_accepted[2] = 5;
  stats_.deliveries_live = 20;
  stats_.deliveries_catch_up = 7;
  stats_.errors[static_cast<int>(StatusCode::kNotFound)] = 2;
  stats_.front_end_errors[static_cast<int>(StatusCode::kPermissionDenied)] = 1;
  stats_.send_latency.Record(3);    // bucket < 4 us
  stats_.send_latency.Record(100);  // bucket < 128 us
  SignInAs("audrey", "auditor pass");
  HttpResponse r = As("GET", "/api/v1/dashboard");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"connected_devices\":3"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"messages_accepted\":15"), std::string::npos);
  EXPECT_NE(r.body.find("\"messages_delivered\":27"), std::string::npos);
  EXPECT_NE(r.body.find("\"not_found\":2"), std::string::npos);
  EXPECT_NE(r.body.find("\"permission_denied\":1"), std::string::npos);
  EXPECT_NE(r.body.find("\"errors\":3"), std::string::npos);
  EXPECT_NE(r.body.find("\"count\":2"), std::string::npos);
  EXPECT_NE(r.body.find("\"bucket_le_us\":[1,2,4,8,"), std::string::npos);
  EXPECT_NE(r.body.find("\"bucket_counts\":[0,0,1,0,0,0,0,1,0,"), std::string::npos);
  EXPECT_NE(r.body.find("\"at_us\":"), std::string::npos);
}

TEST_F(ConsoleAppTest, DashboardWithoutCountersIsUnavailable) {
  app_ = std::make_unique<ConsoleApp>(options_,
                                      ConsoleDeps{&core_, &clock_, nullptr, "9.9.9", 0});
  SignInAs("root", "correct horse");
  HttpResponse r = As("GET", "/api/v1/dashboard");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"code\":\"unavailable\""), std::string::npos) << r.body;
  EXPECT_EQ(app_->Handle(Req("GET", "/api/v1/dashboard")).status, 401) << "needs a session";
}

TEST_F(ConsoleAppTest, CoreUnavailableAnswers503) {
  SignInAs("root", "correct horse");
  core_.unavailable = true;
  HttpResponse r = As("GET", "/api/v1/users");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"code\":\"unavailable\""), std::string::npos);
  EXPECT_EQ(SignIn("root", "correct horse").status, 503);
}

TEST_F(ConsoleAppTest, OversizedBodyAnswers413WithAJsonError) {
  HttpRequest r = Req("POST", "/api/v1/session", std::string(options_.max_request_bytes + 1, 'x'));
  HttpResponse resp = app_->Handle(r);
  EXPECT_EQ(resp.status, 413);
  EXPECT_NE(resp.body.find("\"code\":\"resource_exhausted\""), std::string::npos);
  r.body.clear();
  r.declared_length = 50 << 20;
  EXPECT_EQ(app_->Handle(r).status, 413) << "refused by its declared length";
  EXPECT_EQ(Errors(StatusCode::kResourceExhausted), 2u);
}

TEST_F(ConsoleAppTest, ErrorsAreJsonWithCanonicalCodes) {
  HttpResponse r = app_->Handle(Req("GET", "/api/v1/nothing"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no API endpoint "
                    "/api/v1/nothing\"}}");
  r = app_->Handle(Req("PUT", "/api/v1/users"));
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(r.body.find("\"code\":\"invalid_argument\""), std::string::npos);
  r = app_->Handle(Req("POST", "/api/v1/session", "[1,2]"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("JSON object"), std::string::npos);
  r = app_->Handle(Req("POST", "/api/v1/session", "{\"login\":1,\"password\":\"x\"}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
}

TEST_F(ConsoleAppTest, EveryResponseCarriesTheSecurityHeaders) {
  for (const char* target : {"/", "/app.js", "/api/v1/session", "/nothing"}) {
    HttpRequest req = Req("GET", target);
    HttpResponse r = app_->Handle(req);
    EXPECT_EQ(r.Header("Content-Security-Policy"),
              "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        << target;
    EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.Header("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(r.Header("Strict-Transport-Security"), "max-age=31536000");
    req.secure = false;
    EXPECT_EQ(app_->Handle(req).Header("Strict-Transport-Security"), "") << "not over HTTP";
  }
}

TEST_F(ConsoleAppTest, ServesTheEmbeddedPagesWithETags) {
  HttpResponse r = app_->Handle(Req("GET", "/"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<form id=\"sign-in\""), std::string::npos);
  std::string etag = r.Header("ETag");
  EXPECT_EQ(etag.size(), 34u);
  HttpRequest again = Req("GET", "/index.html");
  again.headers["if-none-match"] = etag;
  HttpResponse cached = app_->Handle(again);
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
  r = app_->Handle(Req("GET", "/app.js"));
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(r.body.find("X-CSRF-Token"), std::string::npos);
  EXPECT_EQ(r.body.find("innerHTML"), std::string::npos) << "text only through textContent";
  EXPECT_EQ(app_->Handle(Req("GET", "/style.css")).content_type, "text/css; charset=utf-8");
  EXPECT_EQ(app_->Handle(Req("POST", "/index.html")).status, 405);
}

TEST(ConsoleAssets, EveryPageScriptIsServedAndPutsNoMarkupStringsIntoThePage) {
  // The Content-Security-Policy allows no inline script or style, and text
  // from the server must never be parsed as HTML.
  const Asset* index = FindAsset("/index.html");
  ASSERT_NE(index, nullptr);
  int scripts = 0;
  for (const Asset& a : Assets()) {
    if (a.path.size() < 3 || a.path.substr(a.path.size() - 3) != ".js") continue;
    ++scripts;
    SCOPED_TRACE(std::string(a.path));
    EXPECT_EQ(a.data.find("innerHTML"), std::string_view::npos);
    EXPECT_EQ(a.data.find("outerHTML"), std::string_view::npos);
    EXPECT_EQ(a.data.find("insertAdjacentHTML"), std::string_view::npos);
    EXPECT_EQ(a.data.find("document.write"), std::string_view::npos);
    EXPECT_EQ(a.data.find("eval("), std::string_view::npos);
    EXPECT_NE(index->data.find("<script src=\"" + std::string(a.path) + "\" defer></script>"),
              std::string_view::npos)
        << "every script is loaded by the shell";
  }
  EXPECT_GE(scripts, 5) << "app.js and the pages";
  EXPECT_EQ(index->data.find("<script>"), std::string_view::npos) << "no inline script";
  EXPECT_EQ(index->data.find("<style"), std::string_view::npos) << "no inline style";
  EXPECT_EQ(index->data.find(" style=\""), std::string_view::npos) << "no style attributes";
}

TEST_F(ConsoleAppTest, PathTricksNeverLeaveTheEmbeddedPages) {
  for (const std::string& target : std::vector<std::string>{
           "/../index.html", "/..%2findex.html", "/%2e%2e/%2e%2e/etc/passwd", "/..\\index.html",
        "/web/index.html", "/index.html%00.js", "/%2e%2e%5cindex.html", "/./index.html",
        "//index.html", "/index.html/", "/etc/passwd", "/CMakeLists.txt",
        std::string("/index.html\0.js", 15)}) {
    HttpResponse r = app_->Handle(Req("GET", target));
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_NE(r.body.find("\"code\":\"not_found\""), std::string::npos) << target;
  }
}

// Every route the server registers is in the OpenAPI file, and every path
// the file describes is served.
TEST_F(ConsoleAppTest, OpenApiDescribesExactlyTheRoutes) {
  std::ifstream in(CHATPRO_OPENAPI_FILE);
  ASSERT_TRUE(in) << CHATPRO_OPENAPI_FILE;
  std::set<std::pair<std::string, std::string>> described;
  std::string line, path;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (line == "paths:") {
      in_paths = true;
      continue;
    }
    if (!in_paths) continue;
    if (!line.empty() && line[0] != ' ' && line[0] != '#') break;  // the next top-level key
    if (line.rfind("  /", 0) == 0) {
      path = line.substr(2, line.find(':') - 2);
    } else if (line.size() > 4 && line.rfind("    ", 0) == 0 && line[4] != ' ' &&
               line.back() == ':') {
      std::string method = line.substr(4, line.size() - 5);
      if (method == "parameters") continue;
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      described.insert({method, "/api/v1" + path});
    }
  }
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& r : app_->ApiRoutes()) served.insert(r);
  EXPECT_EQ(described, served);
  EXPECT_EQ(served.size(), 28u);
}

// Cases and exports (console_exports.cc)

constexpr char kSubjectAccessForSam[] =
    "{\"kind\":\"subject_access\",\"legal_basis\":\"GDPR art. 15 request\","
    "\"subjects\":[\"sam\"],\"redact_others\":true}";

// The whole body a download answers: its first piece and every further one.
std::string WholeBody(HttpResponse& r) {
  std::string body = r.body;
  if (!r.next_piece) return body;
  for (;;) {
    Result<std::string> piece = r.next_piece();
    EXPECT_TRUE(piece.ok()) << piece.status();
    if (!piece.ok() || piece->empty()) return body;
    body += *piece;
  }
}

TEST_F(ConsoleAppTest, AnAdministratorsCaseIsApprovedByAnAuditorExportedAndDownloadedInPieces) {
  SignInAs("root", "correct horse");
  HttpResponse r = As("POST", "/api/v1/cases", kSubjectAccessForSam);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(r.body.find("\"id\":1,\"kind\":\"subject_access\",\"state\":\"awaiting approval\","
                        "\"legal_basis\":\"GDPR art. 15 request\",\"subjects\":[\"sam\"]"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"requested_by\":\"root\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"redact_others\":true"), std::string::npos) << r.body;
  EXPECT_EQ(As("POST", "/api/v1/cases/1/export").status, 409) << "not approved yet";

  SignInAs("audrey", "auditor pass");
  r = As("POST", "/api/v1/cases/1/approve");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"state\":\"approved\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"approved_by\":\"audrey\""), std::string::npos) << r.body;

  SignInAs("root", "correct horse");
  r = As("POST", "/api/v1/cases/1/export");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find("\"id\":1,\"case_id\":1,\"state\":\"running\""), std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("\"download\""), std::string::npos) << "nothing to fetch yet";
  r = As("GET", "/api/v1/exports/1/download");
  EXPECT_EQ(r.status, 409) << "a running export is not a file yet";
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  EXPECT_NE(r.body.find("\"code\":\"failed_precondition\""), std::string::npos) << r.body;

  std::string zip = "PK\x03\x04";
  for (int i = 0; i < 500; ++i) zip += "piece " + std::to_string(i) + ";";
  core_.export_file = zip;
  core_.chunk_limit = 1000;  // several pieces
  core_.FinishExports();
  r = As("GET", "/api/v1/exports/1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"state\":\"done\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"bytes\":" + std::to_string(zip.size())), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"download\":\"/api/v1/exports/1/download\""), std::string::npos)
      << r.body;
  r = As("GET", "/api/v1/cases");
  EXPECT_NE(r.body.find("\"cases\":[{\"id\":1,\"kind\":\"subject_access\",\"state\":\"exported\""),
            std::string::npos)
      << r.body;

  r = As("GET", "/api/v1/exports/1/download");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/zip");
  EXPECT_EQ(r.Header("Content-Disposition"), "attachment; filename=\"chatpro-export-1.zip\"");
  EXPECT_EQ(r.Header("Cache-Control"), "no-store");
  EXPECT_EQ(r.content_length, static_cast<std::int64_t>(zip.size()));
  EXPECT_EQ(r.body.size(), 1000u) << "one piece at a time, not the whole file";
  EXPECT_EQ(WholeBody(r), zip);
  std::vector<std::string> asked = core_.user_requests();
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "ExportDownload"),
            static_cast<long>((zip.size() + 999) / 1000) + 1)  // + the refused one
      << "one ExportDownload per piece";
}

TEST_F(ConsoleAppTest, NobodyApprovesTheirOwnCaseNorOneOfTheirOwnRole) {
  core_.AddUser(4, "adam", "Adam", wire::Role::Admin, "admin two");
  SignInAs("root", "correct horse");
  ASSERT_EQ(As("POST", "/api/v1/cases", kSubjectAccessForSam).status, 201);
  HttpResponse r = As("POST", "/api/v1/cases/1/approve");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("\"code\":\"permission_denied\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("yourself"), std::string::npos) << r.body;
  SignInAs("adam", "admin two");
  r = As("POST", "/api/v1/cases/1/approve");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("other role"), std::string::npos) << r.body;
  EXPECT_EQ(core_.cases().at(0).approved_by, 0u);
  // The refusal was the core's: the console sent the request each time.
  std::vector<std::string> asked = core_.user_requests();
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "CaseApprove"), 2);
}

TEST_F(ConsoleAppTest, AuditorsOpenAndApproveCasesThroughTheCore) {
  SignInAs("audrey", "auditor pass");
  HttpResponse r = As("POST", "/api/v1/cases",
                      "{\"kind\":\"search\",\"legal_basis\":\"investigation INV-9\","
                      "\"subjects\":[\"sam\"],\"conversations\":[7],\"from_at_us\":1000,"
                      "\"to_at_us\":2000,\"keyword\":\"lunch\"}");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(r.body.find("\"kind\":\"search\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"conversations\":[7],\"from_at_us\":1000,\"to_at_us\":2000,"
                        "\"keyword\":\"lunch\",\"redact_others\":false,\"requested_by\":\"audrey\""),
            std::string::npos)
      << r.body;
  SignInAs("root", "correct horse");
  EXPECT_EQ(As("POST", "/api/v1/cases/1/approve").status, 200);
}

TEST_F(ConsoleAppTest, ABadCaseIsRefusedWithAClearErrorBeforeTheCore) {
  SignInAs("root", "correct horse");
  for (const auto& [body, says] : std::vector<std::pair<std::string, std::string>>{
           {"not json", "JSON object"},
           {"[1]", "JSON object"},
           {"{\"legal_basis\":\"x\",\"subjects\":[\"sam\"]}", "kind is required"},
           {"{\"kind\":\"fishing\",\"subjects\":[\"sam\"]}", "subject_access or search"},
           {"{\"kind\":\"search\",\"subjects\":\"sam\"}", "subjects must be an array"},
           {"{\"kind\":\"search\",\"subjects\":[1]}", "logins"},
           {"{\"kind\":\"search\",\"conversations\":[\"7\"]}", "whole number"},
           {"{\"kind\":\"search\",\"conversations\":[0]}", "1 or more"},
           {"{\"kind\":\"search\",\"from_at_us\":-5}", "from_at_us must be 0 or more"},
           {"{\"kind\":\"search\",\"to_at_us\":1.5}", "to_at_us must be a whole number"},
           {"{\"kind\":\"search\",\"redact_others\":\"yes\"}", "true or false"},
           {"{\"kind\":\"search\",\"from_us\":5}", "unknown field 'from_us'"},
       }) {
    HttpResponse r = As("POST", "/api/v1/cases", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find("\"code\":\"invalid_argument\""), std::string::npos) << body;
    EXPECT_NE(r.body.find(says), std::string::npos) << body << " -> " << r.body;
  }
  EXPECT_TRUE(core_.user_requests().empty());
  // What only the core knows, it answers: no basis, an unknown person.
  HttpResponse r = As("POST", "/api/v1/cases", "{\"kind\":\"search\",\"subjects\":[\"sam\"]}");
  EXPECT_EQ(r.status, 400) << r.body;
  r = As("POST", "/api/v1/cases",
         "{\"kind\":\"search\",\"legal_basis\":\"x\",\"subjects\":[\"nobody\"]}");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("nobody"), std::string::npos) << r.body;
}

TEST_F(ConsoleAppTest, CaseAndExportIdsInPathsAreWholeNumbers) {
  SignInAs("root", "correct horse");
  for (const char* target : {"/api/v1/cases/abc/approve", "/api/v1/cases/0/export",
                             "/api/v1/cases/-1/approve", "/api/v1/cases/1e3/export"}) {
    HttpResponse r = As("POST", target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_NE(r.body.find("\"code\":\"invalid_argument\""), std::string::npos) << target;
  }
  EXPECT_EQ(As("GET", "/api/v1/exports/99999999999999999999").status, 400);
  EXPECT_EQ(As("GET", "/api/v1/exports/1.5/download").status, 400);
  // A parameter is one path segment: a decoded slash matches no route.
  EXPECT_EQ(As("GET", "/api/v1/exports/..%2f..%2fetc%2fpasswd/download").status, 404);
  EXPECT_TRUE(core_.user_requests().empty());
  EXPECT_EQ(As("GET", "/api/v1/exports/5").status, 404);
  EXPECT_EQ(As("GET", "/api/v1/exports/5/download").status, 404);
  EXPECT_EQ(core_.user_requests(), (std::vector<std::string>{"ExportStatus", "ExportDownload"}));
}

TEST_F(ConsoleAppTest, TheDownloadsNameIsTheConsolesOwnWhateverTheCaseSays) {
  SignInAs("root", "correct horse");
  ASSERT_EQ(As("POST", "/api/v1/cases",
               "{\"kind\":\"search\",\"legal_basis\":\"x\\\"; filename=../../evil.sh\","
               "\"subjects\":[\"sam\"],\"keyword\":\"..\\/..\\/x\"}")
                .status,
            201);
  SignInAs("audrey", "auditor pass");
  ASSERT_EQ(As("POST", "/api/v1/cases/1/approve").status, 200);
  ASSERT_EQ(As("POST", "/api/v1/cases/1/export").status, 202);
  core_.FinishExports();
  HttpResponse r = As("GET", "/api/v1/exports/1/download");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("Content-Disposition"), "attachment; filename=\"chatpro-export-1.zip\"");
  EXPECT_EQ(WholeBody(r), core_.export_file);
}

TEST_F(ConsoleAppTest, ADownloadThatFailsMidwayEndsWithAnErrorNotAShortFile) {
  SignInAs("root", "correct horse");
  ASSERT_EQ(As("POST", "/api/v1/cases", kSubjectAccessForSam).status, 201);
  SignInAs("audrey", "auditor pass");
  ASSERT_EQ(As("POST", "/api/v1/cases/1/approve").status, 200);
  ASSERT_EQ(As("POST", "/api/v1/cases/1/export").status, 202);
  core_.export_file = std::string(5000, 'z');
  core_.chunk_limit = 1000;
  core_.FinishExports();
  HttpResponse r = As("GET", "/api/v1/exports/1/download");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.next_piece);
  ASSERT_TRUE(r.next_piece().ok());
  core_.unavailable = true;
  Result<std::string> piece = r.next_piece();
  EXPECT_EQ(piece.status().code(), StatusCode::kUnavailable);
}

TEST_F(ConsoleAppTest, CaseChangesNeedTheCsrfToken) {
  SignInAs("root", "correct horse");
  HttpRequest req = Req("POST", "/api/v1/cases", kSubjectAccessForSam);
  req.headers["cookie"] = cookie_;
  EXPECT_EQ(app_->Handle(req).status, 403);
  req = Req("POST", "/api/v1/cases/1/approve");
  req.headers["cookie"] = cookie_;
  req.headers["x-csrf-token"] = csrf_;
  req.headers["origin"] = "https://evil.example";
  EXPECT_EQ(app_->Handle(req).status, 403);
  EXPECT_TRUE(core_.user_requests().empty());
}

}  // namespace
}  // namespace chatpro::console
