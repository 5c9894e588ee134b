// SPDX-License-Identifier: Apache-2.0
//
// ConsoleClient: the admin console's JSON API over HTTPS as a browser uses
// it, for the integration tests: it trusts only the broker's certificate
// file, keeps the session cookie and sends the CSRF token on changes.
//
// Thread-safety: one test thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace chatpro::testing {

struct HttpsReply {
  int status = 0;  // 0: no answer (see `error`)
  std::string body;
  std::string error;
};

class ConsoleClient {
 public:
  // https://localhost:PORT, trusting only `cert_file` (host name checked).
  ConsoleClient(int port, std::string cert_file) : port_(port), cert_file_(std::move(cert_file)) {}

  // POST /api/v1/session; on 200 keeps the cookie and the CSRF token.
  HttpsReply SignIn(const std::string& login, const std::string& password);
  // `path` is relative to /api/v1 ("/holds?include_lifted=1").
  HttpsReply Get(const std::string& path);
  HttpsReply Post(const std::string& path, const std::string& body = "");

 private:
  HttpsReply Call(const std::string& method, const std::string& path, const std::string& body);

  const int port_;
  const std::string cert_file_;
  std::string cookie_;  // "chatpro_console=..."
  std::string csrf_;
};

}  // namespace chatpro::testing
