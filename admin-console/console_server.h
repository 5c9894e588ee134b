// SPDX-License-Identifier: Apache-2.0
//
// ConsoleServer: serves a ConsoleApp over HTTPS (Poco NetSSL_OpenSSL; TLS 1.2
// or later, forward-secret AEAD ciphers only), or plain HTTP when configured
// so on a loopback address. Without a configured certificate it makes a
// self-signed one in <data_dir>/console at the first start (certificate.h).
//
// Requests run on a bounded pool of threads; a client that sends too slowly
// is cut after a timeout; a body over console.max_request_bytes is refused
// with 413 before it is read; an exception in a handler answers 500 and never
// reaches the broker.
//
// Lifecycle: Start() binds and serves at once; the destructor stops serving
// and waits for requests in progress. REQUIRES: the ConsoleDeps outlive it.
// Thread-safety: port(), url() and fingerprint() from any thread.
#pragma once

#include <memory>
#include <string>

#include "admin-console/console_app.h"
#include "broker/base/result.h"
#include "broker/config/options.h"

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}  // namespace Net
}  // namespace Poco

namespace chatpro::console {

class ConsoleServer {
 public:
  // Serves `options.listen`. `data_dir` holds the self-signed certificate
  // when none is configured. On failure returns InvalidArgument for plain
  // HTTP on an address that is not loopback (naming console.plain_http),
  // IoError/Internal if the certificate cannot be made or read, Unavailable
  // if the address cannot be bound.
  static Result<std::unique_ptr<ConsoleServer>> Start(const ConsoleOptions& options,
                                                      const std::string& data_dir,
                                                      ConsoleDeps deps);
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  // The port actually bound (useful with port 0).
  int port() const;
  // "https://HOST:PORT/" as an administrator would open it.
  std::string url() const;
  // SHA-256 fingerprint of the certificate served ("" over plain HTTP).
  const std::string& fingerprint() const { return fingerprint_; }
  // The certificate file served ("" over plain HTTP).
  const std::string& cert_file() const { return cert_file_; }

  ConsoleApp& app() { return *app_; }

 private:
  ConsoleServer(const ConsoleOptions& options, ConsoleDeps deps);

  const ConsoleOptions options_;
  std::unique_ptr<ConsoleApp> app_;
  std::string fingerprint_;
  std::string cert_file_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  // Declared last, destroyed first: its handlers use the members above.
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace chatpro::console
