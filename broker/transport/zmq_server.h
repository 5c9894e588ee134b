// SPDX-License-Identifier: Apache-2.0
//
// ZmqServer: the broker's network edge on ZeroMQ.
//
// It owns one ZeroMQ context with a ROUTER socket for clients (CURVE server,
// every key checked by the ZAP handler), the ZAP handler itself (a REP socket
// on inproc://zeromq.zap.01, bound before the ROUTER so that no connection is
// ever accepted without it), and an inproc pair that other threads use to wake
// the event loop. Run() is the event loop: it answers ZAP requests by asking
// the core Broker, passes each client frame to Broker::OnFrame, and sends what
// the broker queued. It implements core::Transport and core::Waker.
//
// Routing ids that ZeroMQ gives connections are mapped to ConnectionIds; the
// device behind a connection is the ZAP user-id, never the routing id.
//
// The in-process route: a second ROUTER, on inproc://chatpro-local in the same
// context, polled by the same loop, takes [routing id][principal][frame] from
// front ends inside the process (ZmqLocalCaller). Only the principals of
// core::LocalCaller ("c:<user id>", "s:console") are accepted there; each
// (routing id, principal) pair is a connection of its own, numbered from the
// same counter as network connections, and replies go back as
// [routing id][principal][frame]. Network peers cannot present these
// principals: their user ids come from ZAP ("d:", "e:").
//
// The web chat's gateway (web-chat/) uses the same route for each browser's
// WebSocket, with the principal "w:<key kind digit>:<64 hex key>@<address>"
// after it checked the browser's signature. The first message of such a route
// is empty: the loop asks Broker::Authenticate (the ZAP question) about that
// key and answers with an empty Frame (accepted: the route is opened, and its
// frames reach the core under the ZAP user id, "d:" or "e:", with deliveries
// like any device session) or a Frame with one Error (refused: nothing is
// opened). When the core forgets such a route, the gateway gets an empty
// message, on which it closes the WebSocket.
//
// Lifecycle: Create() (binds; fails if the ZAP handler or the endpoint cannot
// be bound), Run() on one thread until RequestStop(), then destroy. Every
// socket made on context() elsewhere (ZmqLocalCaller's) must be closed before
// the server is destroyed: terminating the context waits for them.
// Thread-safety: Run, Send and Forget on the loop thread; Wake and
// RequestStop from any thread (not from a signal handler).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <zmq.hpp>

#include "broker/base/result.h"
#include "broker/config/options.h"
#include "broker/core/broker.h"
#include "broker/core/transport.h"
#include "broker/crypto/keys.h"

namespace chatpro::transport {

class ZmqServer final : public core::Transport, public core::Waker {
 public:
  // Binds the ZAP handler and then `options.listen`. On failure returns
  // FailedPrecondition (ZAP handler), Unavailable (address in use) or
  // InvalidArgument (bad endpoint), naming the endpoint.
  static Result<std::unique_ptr<ZmqServer>> Create(const TransportOptions& options,
                                                   const crypto::KeyPair& server_keys,
                                                   core::Broker* broker);
  ~ZmqServer() override;
  ZmqServer(const ZmqServer&) = delete;
  ZmqServer& operator=(const ZmqServer&) = delete;

  // The endpoint actually bound, e.g. tcp://127.0.0.1:40123 for port 0.
  const std::string& bound_endpoint() const { return bound_endpoint_; }

  // Runs the event loop until RequestStop().
  void Run();
  // `hook` is called from Run() on every tick (about every 100 ms) while the
  // loop is alive, e.g. to ping a service manager's watchdog: a hung loop
  // stops calling it. REQUIRES: set before Run().
  void SetTickHook(std::function<void()> hook) { tick_hook_ = std::move(hook); }
  void RequestStop();

  core::SendOutcome Send(core::ConnectionId connection, flatbuffers::DetachedBuffer* frame) override;
  void Forget(core::ConnectionId connection) override;
  void Wake() override;

  std::size_t connections() const { return routes_.size() + local_routes_.size(); }

  // The context the in-process route lives in, for ZmqLocalCaller's sockets.
  zmq::context_t& context() { return context_; }
  // True while Run() serves (from its start until RequestStop()); any thread.
  bool serving() const { return serving_.load(); }
  // Messages on the in-process route that were dropped (malformed, or a
  // principal that is not a console's); any thread.
  std::uint64_t local_dropped() const { return local_dropped_.load(); }

  static constexpr char kLocalEndpoint[] = "inproc://chatpro-local";

 private:
  ZmqServer(const TransportOptions& options, core::Broker* broker);
  Status Bind(const crypto::KeyPair& server_keys);
  void HandleZap();
  void ReadFrames();
  void ReadLocalFrames();
  // A web chat principal: "w:<key kind digit>:<hex key>@<address>".
  struct WebPrincipal {
    core::KeyKind kind = core::KeyKind::Ed25519;
    std::string key;
    std::string address;
  };
  static std::optional<WebPrincipal> ParseWebPrincipal(std::string_view principal);
  void ReadWebFrame(const std::string& routing_id, std::string_view principal,
                    const zmq::message_t& frame);
  void DrainWake();
  core::SendOutcome SendLocal(core::ConnectionId connection, flatbuffers::DetachedBuffer* frame);

  const TransportOptions options_;
  core::Broker* const broker_;
  zmq::context_t context_;
  zmq::socket_t zap_;
  zmq::socket_t router_;
  zmq::socket_t local_;  // the in-process route's ROUTER
  zmq::socket_t wake_rx_;
  std::mutex wake_mutex_;
  zmq::socket_t wake_tx_;  // GUARDED_BY(wake_mutex_)
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> serving_{false};
  std::atomic<std::uint64_t> local_dropped_{0};
  std::function<void()> tick_hook_;
  std::string bound_endpoint_;

  std::unordered_map<std::string, core::ConnectionId> ids_;     // routing id -> connection
  std::unordered_map<core::ConnectionId, std::string> routes_;  // connection -> routing id
  // The in-process route: (routing id, principal) <-> connection.
  struct LocalRoute {
    std::string routing_id;
    std::string principal;
    std::string user_id;  // the console principal, or the web key's ZAP user id
    std::string address = "console";
    bool web = false;     // a browser's device or enrollment session
  };
  std::unordered_map<std::string, core::ConnectionId> local_ids_;  // routing id + '\0' + principal
  std::unordered_map<core::ConnectionId, LocalRoute> local_routes_;
  core::ConnectionId next_connection_ = 1;
};

}  // namespace chatpro::transport
