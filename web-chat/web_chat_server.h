// SPDX-License-Identifier: Apache-2.0
//
// WebChatServer: the web chat's HTTPS server and WebSocket gateway
// (web-chat/README.md). `GET /ws` upgrades to a WebSocket that carries
// wire.fbs Frames as binary messages after the challenge-and-signature
// authentication (web_auth.h); `GET /` answers a placeholder page.
//
// Each WebSocket is served on a thread of a bounded pool. It gets a ZeroMQ
// DEALER on the broker's in-process route (ZmqServer::kLocalEndpoint, in the
// broker's context) under the principal "w:<key kind>:<hex key>@<address>",
// through which the event loop asks the core about the key and then carries
// the device's session: the gateway holds no rule of its own, only the
// WebSocket's limits (message size, timeouts).
//
// Lifecycle: Start() binds and serves at once; the destructor closes every
// WebSocket (1001) and waits for their threads. REQUIRES: the ZeroMQ context
// outlives the server, and the server is destroyed before the broker's
// ZmqServer.
// Thread-safety: port() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "broker/base/result.h"

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}  // namespace Net
}  // namespace Poco

namespace chatpro::webchat {

struct WebChatOptions {
  // HOST:PORT to serve. Default: 127.0.0.1:8443.
  std::string listen = "127.0.0.1:8443";
  // PEM certificate and private key. REQUIRES: both set.
  std::string cert_file;
  std::string key_file;
  // Largest WebSocket message taken from a browser; a larger one closes the
  // WebSocket with 1009. Default: 16 MiB.
  std::uint32_t max_message_bytes = 16u << 20;
  // WebSockets served at once; more are refused with 503. Default: 256.
  int max_connections = 256;
  // Time for the browser to answer the challenge, and for one message to
  // arrive once it started. Default: 10000.
  int handshake_timeout_ms = 10000;
  // A browser that takes longer than this to take one message is cut.
  // Default: 10000.
  int send_timeout_ms = 10000;
  // After Revoked, how long the page may take to confirm its wipe before
  // its WebSocket is closed. Default: 3000.
  int revoked_grace_ms = 3000;
};

class WebChatServer {
 public:
  // Serves `options.listen`, reaching the core through `context`. On failure
  // returns InvalidArgument (no certificate), Unavailable (cannot bind or
  // read the certificate).
  static Result<std::unique_ptr<WebChatServer>> Start(const WebChatOptions& options,
                                                      zmq::context_t* context);
  ~WebChatServer();
  WebChatServer(const WebChatServer&) = delete;
  WebChatServer& operator=(const WebChatServer&) = delete;

  // The port actually bound (useful with port 0).
  int port() const;

  // Shared with the connections' threads.
  struct Shared {
    WebChatOptions options;
    zmq::context_t* context = nullptr;
    std::atomic<bool> stopping{false};
    std::atomic<int> connections{0};
  };

 private:
  WebChatServer() = default;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  // Declared last, destroyed first: its handlers use the members above.
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace chatpro::webchat
