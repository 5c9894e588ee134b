// SPDX-License-Identifier: Apache-2.0
#include "admin-console/console_server.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/Net.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <istream>
#include <utility>

#include "admin-console/certificate.h"
#include "broker/base/log.h"
#include "broker/config/config.h"

namespace chatpro::console {
namespace {

constexpr int kMaxThreads = 8;  // argon2id checks take memory: a few at a time
// Forward-secret AEAD suites for TLS 1.2 (TLS 1.3's are all of that kind).
constexpr char kCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(ConsoleApp* app, std::uint64_t max_body, bool secure)
      : app_(app), max_body_(max_body), secure_(secure) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    HttpResponse out;
    try {
      HttpRequest in;
      in.method = request.getMethod();
      in.target = request.getURI();
      in.secure = secure_;
      in.client_address = request.clientAddress().host().toString();
      for (const auto& [name, value] : request) {
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        in.headers[lower] = value;
      }
      if (request.hasContentLength()) in.declared_length = request.getContentLength64();
      bool too_big = in.declared_length >= 0 &&
                     static_cast<std::uint64_t>(in.declared_length) > max_body_;
      if (!too_big) {
        // Read one byte past the limit: a chunked body that goes over is
        // refused without being kept whole.
        std::istream& body = request.stream();
        char buf[8192];
        while (body && in.body.size() <= max_body_) {
          body.read(buf, sizeof buf);
          in.body.append(buf, static_cast<std::size_t>(body.gcount()));
        }
        if (in.body.size() > max_body_) in.body.resize(max_body_ + 1);
      }
      out = app_->Handle(in);
      if (too_big || in.body.size() > max_body_) {
        // The rest of the body is not read: the connection cannot be reused.
        response.setKeepAlive(false);
      }
    } catch (const std::exception& e) {
      LOG_WARNING() << "console: request failed: " << e.what();
      out = HttpResponse{};
      out.status = 500;
      out.content_type = "application/json; charset=utf-8";
      out.body = ConsoleApp::ErrorJson(Status::Internal("the console failed to answer"));
    }
    try {
      response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(out.status));
      for (const auto& [name, value] : out.headers) response.add(name, value);
      if (!out.content_type.empty()) response.setContentType(out.content_type);
      if (out.next_piece) {
        Stream(out, response);
      } else {
        response.setContentLength(static_cast<std::streamsize>(out.body.size()));
        if (request.getMethod() == "HEAD" || out.status == 304) {
          response.send();
        } else {
          response.send() << out.body;
        }
      }
    } catch (const std::exception& e) {
      // The client went away; nothing more to do for it.
      LOG_DEBUG() << "console: cannot answer: " << e.what();
    }
  }

 private:
  // Sends a body piece by piece. The connection is not kept: a piece that
  // fails leaves the body short of its Content-Length, and closing is how
  // the client learns that the transfer failed.
  static void Stream(HttpResponse& out, Poco::Net::HTTPServerResponse& response) {
    response.setKeepAlive(false);
    response.setContentLength64(out.content_length);
    std::ostream& os = response.send();
    os << out.body;
    std::int64_t sent = static_cast<std::int64_t>(out.body.size());
    while (os && sent < out.content_length) {
      Result<std::string> piece = out.next_piece();
      if (!piece.ok()) {
        LOG_WARNING() << "console: download cut after " << sent << " of " << out.content_length
                      << " bytes: " << piece.status();
        return;
      }
      if (piece->empty()) break;
      os.write(piece->data(), static_cast<std::streamsize>(piece->size()));
      sent += static_cast<std::int64_t>(piece->size());
    }
    os.flush();
  }

  ConsoleApp* const app_;
  const std::uint64_t max_body_;
  const bool secure_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(ConsoleApp* app, std::uint64_t max_body, bool secure)
      : app_(app), max_body_(max_body), secure_(secure) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(app_, max_body_, secure_);  // Poco takes ownership
  }

 private:
  ConsoleApp* const app_;
  const std::uint64_t max_body_;
  const bool secure_;
};

}  // namespace

ConsoleServer::ConsoleServer(const ConsoleOptions& options, ConsoleDeps deps)
    : options_(options),
      app_(std::make_unique<ConsoleApp>(options, std::move(deps))),
      pool_(std::make_unique<Poco::ThreadPool>(2, kMaxThreads)) {}

Result<std::unique_ptr<ConsoleServer>> ConsoleServer::Start(const ConsoleOptions& options,
                                                            const std::string& data_dir,
                                                            ConsoleDeps deps) {
  if (options.plain_http && !IsLoopbackListen(options.listen)) {
    return Status::InvalidArgument("console.plain_http = true needs a loopback console.listen, "
                                   "not '" + options.listen + "'");
  }
  std::unique_ptr<ConsoleServer> server(new ConsoleServer(options, std::move(deps)));
  std::string cert_file = options.cert_file, key_file = options.key_file;
  if (!options.plain_http) {
    if (cert_file.empty()) {
      Result<CertificateFiles> made =
          EnsureSelfSignedCertificate(data_dir + "/console", MachineHostName());
      if (!made.ok()) return made.status().WithContext("console certificate");
      if (made->created) LOG_INFO() << "console: made a self-signed certificate " << made->cert_file;
      cert_file = made->cert_file;
      key_file = made->key_file;
      server->fingerprint_ = made->sha256;
    } else {
      Result<std::string> fp = CertificateFingerprint(cert_file);
      if (!fp.ok()) return fp.status().WithContext("console.cert_file");
      server->fingerprint_ = *fp;
    }
    server->cert_file_ = cert_file;
  }
  try {
    Poco::Net::initializeNetwork();
    Poco::Net::SocketAddress address(options.listen);
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    if (options.plain_http) {
      socket = std::make_unique<Poco::Net::ServerSocket>();
    } else {
      Poco::Net::initializeSSL();
      Poco::Net::Context::Ptr context = new Poco::Net::Context(
          Poco::Net::Context::TLS_SERVER_USE, key_file, cert_file, "",
          Poco::Net::Context::VERIFY_NONE, 9, false, kCiphers);
      context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      context->preferServerCiphers();
      socket = std::make_unique<Poco::Net::SecureServerSocket>(context);
    }
    // As the metrics endpoint: restarts need not wait out TIME_WAIT; no
    // SO_REUSEPORT, so a second broker cannot share the port.
    socket->bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket->listen(64);
    auto* params = new Poco::Net::HTTPServerParams();  // reference counted by the server
    params->setMaxThreads(kMaxThreads);
    params->setMaxQueued(64);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(100);
    params->setKeepAliveTimeout(Poco::Timespan(10, 0));
    // A client that sends or reads too slowly is cut.
    params->setTimeout(Poco::Timespan(15, 0));
    server->server_ = std::make_unique<Poco::Net::HTTPServer>(
        new Factory(server->app_.get(), options.max_request_bytes, !options.plain_http),
        *server->pool_, *socket, params);
    server->server_->start();
  } catch (const Poco::Exception& e) {
    return Status::Unavailable("cannot serve the console on " + options.listen + ": " +
                               e.displayText());
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot serve the console on " + options.listen + ": " + e.what());
  }
  return server;
}

ConsoleServer::~ConsoleServer() {
  if (server_ != nullptr) {
    server_->stopAll(true);
    pool_->joinAll();
    server_.reset();
  }
}

int ConsoleServer::port() const { return server_ == nullptr ? 0 : server_->port(); }

std::string ConsoleServer::url() const {
  std::string host = options_.listen.substr(0, options_.listen.rfind(':'));
  if (host == "0.0.0.0" || host == "[::]" || host.empty()) host = MachineHostName();
  return std::string(options_.plain_http ? "http" : "https") + "://" + host + ":" +
         std::to_string(port()) + "/";
}

}  // namespace chatpro::console
