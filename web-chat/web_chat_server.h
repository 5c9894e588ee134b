// SPDX-License-Identifier: Apache-2.0
//
// WebChatServer: the web chat's HTTPS server and WebSocket gateway
// (web-chat/README.md). `GET /ws` upgrades to a WebSocket that carries
// wire.fbs Frames as binary messages after the challenge-and-signature
// authentication (web_auth.h); other GETs answer the embedded chat pages
// (web_assets.h) with ETags and a strict Content-Security-Policy.
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
// Metrics: what the gateway refuses itself (a bad signature, an oversized,
// fragmented or text message, a connection over the limit) is counted in the
// broker's front_end_errors by status code, so chatpro_errors_total shows it
// beside the core's own refusals.
// Thread-safety: port() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "broker/base/result.h"
#include "broker/config/options.h"

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}  // namespace Net
}  // namespace Poco

namespace chatpro::core {
struct BrokerStats;
}  // namespace chatpro::core

namespace chatpro::webchat {

class WebChatServer {
 public:
  // Serves `options.listen` with `cert_file` and `key_file` (the service
  // passes a self-signed pair when none is configured), reaching the core
  // through `context`, counting its refusals in `stats` (may be null). On
  // failure returns InvalidArgument (no certificate), Unavailable (cannot bind
  // or read the certificate). REQUIRES: `stats` outlives the server.
  static Result<std::unique_ptr<WebChatServer>> Start(const WebChatOptions& options,
                                                      zmq::context_t* context,
                                                      const core::BrokerStats* stats = nullptr);
  ~WebChatServer();
  WebChatServer(const WebChatServer&) = delete;
  WebChatServer& operator=(const WebChatServer&) = delete;

  // The port actually bound (useful with port 0).
  int port() const;

  // Shared with the connections' threads.
  struct Shared {
    WebChatOptions options;
    zmq::context_t* context = nullptr;
    const core::BrokerStats* stats = nullptr;
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
