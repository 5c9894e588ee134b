// SPDX-License-Identifier: Apache-2.0
#include "admin-console/console_server.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "admin-console/certificate.h"
#include "admin-console/tests/fake_core.h"

namespace chatpro::console {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "console-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The subject alternative names of a PEM certificate, as "DNS:x" / "IP:x".
std::vector<std::string> AltNames(const std::string& cert_file) {
  std::vector<std::string> out;
  FILE* f = std::fopen(cert_file.c_str(), "r");
  if (f == nullptr) return out;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) return out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(
                                             ASN1_STRING_get0_data(n->d.dNSName)),
                                         ASN1_STRING_length(n->d.dNSName)));
    } else if (n->type == GEN_IPADD) {
      out.push_back("IP:" + std::to_string(ASN1_STRING_length(n->d.iPAddress)) + "bytes");
    }
  }
  GENERAL_NAMES_free(names);
  X509_free(cert);
  return out;
}

TEST(Certificate, MadeOnceWithAPrivateKeyAndTheMachinesNamesThenReused) {
  TempDir dir;
  Result<CertificateFiles> made =
      EnsureSelfSignedCertificate(dir.path() + "/console", "broker.example");
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE(made->created);
  struct stat st {};
  ASSERT_EQ(::stat(made->key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir.path() + "/console").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(made->sha256.size(), 32u * 3 - 1) << made->sha256;
  std::vector<std::string> names = AltNames(made->cert_file);
  std::vector<std::string> want = {"DNS:broker.example", "DNS:localhost", "IP:4bytes",
                                   "IP:16bytes"};
  EXPECT_EQ(names, want);

  std::string cert = ReadAll(made->cert_file), key = ReadAll(made->key_file);
  Result<CertificateFiles> again =
      EnsureSelfSignedCertificate(dir.path() + "/console", "broker.example");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->sha256, made->sha256);
  EXPECT_EQ(ReadAll(again->cert_file), cert) << "reused, not made again";
  EXPECT_EQ(ReadAll(again->key_file), key);
}

class ConsoleServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    core_.AddUser(1, "root", "Root", wire::Role::Admin, "correct horse");
    options_.listen = "127.0.0.1:0";
  }
  ConsoleDeps Deps() { return {&core_, &clock_, nullptr, "1.0", clock_.NowMicros()}; }

  testing::FakeCore core_;
  SystemClock clock_;
  ConsoleOptions options_;
  TempDir dir_;
};

// A client that trusts only the console's own certificate and checks the
// host name against it.
Poco::Net::Context::Ptr TrustOnly(const std::string& cert_file) {
  return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", cert_file,
                                Poco::Net::Context::VERIFY_STRICT, 9, false);
}

TEST_F(ConsoleServerTest, ServesHttpsWithTheGeneratedCertificate) {
  Result<std::unique_ptr<ConsoleServer>> server =
      ConsoleServer::Start(options_, dir_.path(), Deps());
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  EXPECT_EQ((*server)->url().rfind("https://127.0.0.1:", 0), 0u) << (*server)->url();
  EXPECT_EQ((*server)->cert_file(), dir_.path() + "/console/cert.pem");
  EXPECT_FALSE((*server)->fingerprint().empty());

  // By name: the certificate's names are checked (Poco resolves localhost to
  // IPv4 first, where the server listens).
  Poco::Net::HTTPSClientSession session("localhost", static_cast<Poco::UInt16>((*server)->port()),
                                        TrustOnly((*server)->cert_file()));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/api/v1/session",
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.setHost("localhost");
  std::string body = "{\"login\":\"root\",\"password\":\"correct horse\"}";
  request.setContentLength(static_cast<std::streamsize>(body.size()));
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::string got;
  Poco::StreamCopier::copyToString(in, got);
  EXPECT_EQ(response.getStatus(), 200) << got;
  EXPECT_NE(got.find("\"login\":\"root\""), std::string::npos);
  EXPECT_NE(response.get("Set-Cookie", "").find("HttpOnly"), std::string::npos);
  EXPECT_EQ(response.get("Strict-Transport-Security", ""), "max-age=31536000");

  // A client that trusts another certificate refuses the connection: the
  // check above was real.
  Result<CertificateFiles> other = EnsureSelfSignedCertificate(dir_.path() + "/other", "x");
  ASSERT_TRUE(other.ok());
  Poco::Net::HTTPSClientSession stranger("localhost", static_cast<Poco::UInt16>((*server)->port()),
                                         TrustOnly(other->cert_file));
  Poco::Net::HTTPRequest get(Poco::Net::HTTPRequest::HTTP_GET, "/", Poco::Net::HTTPMessage::HTTP_1_1);
  EXPECT_ANY_THROW(stranger.sendRequest(get));
}

TEST_F(ConsoleServerTest, RefusesAnOversizedBodyWith413BeforeReadingIt) {
  options_.plain_http = true;
  options_.max_request_bytes = 4096;
  Result<std::unique_ptr<ConsoleServer>> server =
      ConsoleServer::Start(options_, dir_.path(), Deps());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE((*server)->fingerprint().empty());
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>((*server)->port()));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/api/v1/session",
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.setContentLength(10 << 20);
  // Only the headers: the server must answer without waiting for 10 MiB.
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::string got;
  Poco::StreamCopier::copyToString(in, got);
  EXPECT_EQ(response.getStatus(), 413);
  EXPECT_NE(got.find("\"code\":\"resource_exhausted\""), std::string::npos) << got;
  EXPECT_EQ(response.getContentType(), "application/json; charset=utf-8");
}

TEST_F(ConsoleServerTest, PlainHttpIsRefusedOffLoopback) {
  options_.plain_http = true;
  options_.listen = "0.0.0.0:0";
  Result<std::unique_ptr<ConsoleServer>> server =
      ConsoleServer::Start(options_, dir_.path(), Deps());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("console.plain_http"), std::string::npos);
}

TEST_F(ConsoleServerTest, ATakenPortIsAClearError) {
  Result<std::unique_ptr<ConsoleServer>> first =
      ConsoleServer::Start(options_, dir_.path(), Deps());
  ASSERT_TRUE(first.ok()) << first.status();
  options_.listen = "127.0.0.1:" + std::to_string((*first)->port());
  Result<std::unique_ptr<ConsoleServer>> second =
      ConsoleServer::Start(options_, dir_.path(), Deps());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(options_.listen), std::string::npos);
}

// Cases and exports (console_exports.cc)

struct Reply {
  int status = 0;
  std::string body;
  std::string cookie, content_type, disposition;
  std::int64_t content_length = -1;
};

// One plain HTTP call to the console on 127.0.0.1:port.
Reply Call(int port, const std::string& method, const std::string& path, const std::string& body,
           const std::string& cookie = {}, const std::string& csrf = {}) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!cookie.empty()) request.set("Cookie", cookie);
  if (!csrf.empty()) request.set("X-CSRF-Token", csrf);
  request.setContentLength(static_cast<std::streamsize>(body.size()));
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  Reply out;
  std::istream& in = session.receiveResponse(response);
  try {
    Poco::StreamCopier::copyToString(in, out.body);
  } catch (const Poco::Exception&) {
    // a cut connection: what came is in out.body
  }
  out.status = response.getStatus();
  std::string set_cookie = response.get("Set-Cookie", "");
  out.cookie = set_cookie.substr(0, set_cookie.find(';'));
  out.content_type = response.getContentType();
  out.disposition = response.get("Content-Disposition", "");
  if (response.hasContentLength()) out.content_length = response.getContentLength64();
  return out;
}

std::string Field(const std::string& json, const std::string& key) {
  std::size_t at = json.find("\"" + key + "\":\"");
  if (at == std::string::npos) return {};
  at += key.size() + 4;
  return json.substr(at, json.find('"', at) - at);
}

class ConsoleServerExportTest : public ConsoleServerTest {
 protected:
  void SetUp() override {
    ConsoleServerTest::SetUp();
    core_.AddUser(2, "audrey", "Audrey", wire::Role::Auditor, "auditor pass");
    options_.plain_http = true;
    Result<std::unique_ptr<ConsoleServer>> server =
        ConsoleServer::Start(options_, dir_.path(), Deps());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    port_ = server_->port();
    // Case 1, opened by root, approved by audrey, exported.
    Reply root = Call(port_, "POST", "/api/v1/session",
                      "{\"login\":\"root\",\"password\":\"correct horse\"}");
    ASSERT_EQ(root.status, 200) << root.body;
    cookie_ = root.cookie;
    csrf_ = Field(root.body, "csrf_token");
    Reply auditor = Call(port_, "POST", "/api/v1/session",
                         "{\"login\":\"audrey\",\"password\":\"auditor pass\"}");
    ASSERT_EQ(auditor.status, 200) << auditor.body;
    ASSERT_EQ(Call(port_, "POST", "/api/v1/cases",
                   "{\"kind\":\"subject_access\",\"legal_basis\":\"b\",\"subjects\":[\"root\"]}",
                   cookie_, csrf_)
                  .status,
              201);
    ASSERT_EQ(Call(port_, "POST", "/api/v1/cases/1/approve", "", auditor.cookie,
                   Field(auditor.body, "csrf_token"))
                  .status,
              200);
    ASSERT_EQ(Call(port_, "POST", "/api/v1/cases/1/export", "", cookie_, csrf_).status, 202);
    std::string zip;
    for (int i = 0; zip.size() < 300'000; ++i) zip += "entry " + std::to_string(i * 7919) + "\n";
    core_.export_file = zip;
    core_.chunk_limit = 64 * 1024;
    core_.FinishExports();
  }

  std::unique_ptr<ConsoleServer> server_;
  int port_ = 0;
  std::string cookie_, csrf_;
};

TEST_F(ConsoleServerExportTest, ADownloadIsStreamedPieceByPieceWithItsLengthAndName) {
  Reply r = Call(port_, "GET", "/api/v1/exports/1/download", "", cookie_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/zip");
  EXPECT_EQ(r.disposition, "attachment; filename=\"chatpro-export-1.zip\"");
  EXPECT_EQ(r.content_length, static_cast<std::int64_t>(core_.export_file.size()));
  EXPECT_TRUE(r.body == core_.export_file) << r.body.size() << " bytes";
  std::vector<std::string> asked = core_.user_requests();
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "ExportDownload"),
            static_cast<long>((core_.export_file.size() + 65535) / 65536));
}

TEST_F(ConsoleServerExportTest, ADownloadCutMidwayEndsShortOfItsLength) {
  core_.download_pieces_left = 2;
  Reply r = Call(port_, "GET", "/api/v1/exports/1/download", "", cookie_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_length, static_cast<std::int64_t>(core_.export_file.size()));
  EXPECT_EQ(r.body.size(), 2u * 64 * 1024) << "what came before the cut, and no more";
  // The server is still there for the next request.
  core_.download_pieces_left = -1;
  EXPECT_EQ(Call(port_, "GET", "/api/v1/exports/1/download", "", cookie_).body.size(),
            core_.export_file.size());
}

}  // namespace
}  // namespace chatpro::console
