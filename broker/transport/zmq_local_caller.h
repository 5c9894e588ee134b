// SPDX-License-Identifier: Apache-2.0
//
// ZmqLocalCaller: core::LocalCaller over the server's in-process route
// (ZmqServer::kLocalEndpoint). A front end inside the broker process (the web
// admin console) calls the core with wire frames as a console principal and
// gets the reply frame back, through the same event loop and rules as any
// client.
//
// Each calling thread gets its own DEALER socket on the server's context
// (ZeroMQ sockets are not thread-safe), kept for its later calls; a socket
// whose call timed out or failed is closed, so that a late reply can never be
// taken for the answer to a later call.
//
// Lifecycle and shutdown order (the server's context terminates only once
// every socket on it is closed, so getting this wrong hangs the process):
//   1. ZmqServer::Create(), then construct the caller from the server;
//   2. calls from any threads while the server's Run() serves (a call made
//      before Run() starts or after RequestStop() returns Unavailable);
//   3. server.RequestStop() and join the loop's thread: calls in progress
//      return Unavailable within about 50 ms;
//   4. Shutdown() (or destroy) the caller: waits for calls still returning,
//      closes every socket; later calls return Unavailable;
//   5. destroy the server.
// Thread-safety: Call from any threads except the server's event loop (it
// would wait for itself); Shutdown from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <zmq.hpp>

#include "broker/base/result.h"
#include "broker/core/local_port.h"
#include "broker/transport/zmq_server.h"

namespace chatpro::transport {

class ZmqLocalCaller final : public core::LocalCaller {
 public:
  // REQUIRES: `server` outlives the caller, or Shutdown() is called first.
  explicit ZmqLocalCaller(ZmqServer& server);
  ~ZmqLocalCaller() override;
  ZmqLocalCaller(const ZmqLocalCaller&) = delete;
  ZmqLocalCaller& operator=(const ZmqLocalCaller&) = delete;

  // See core::LocalCaller. Also InvalidArgument, before anything is sent, for
  // a frame that is not a valid wire Frame or has an envelope without a
  // request id. Replies that come in several frames are joined into one.
  Result<std::string> Call(std::string_view principal, std::string_view frame,
                           std::chrono::milliseconds timeout) override;

  // Refuses new calls, waits for the calls in progress to return and closes
  // every socket. Idempotent.
  void Shutdown();

 private:
  // This thread's socket, made if needed; nullptr if shut down.
  zmq::socket_t* SocketForThisThread();
  // Closes this thread's socket (after a failed or timed-out call).
  void DiscardSocketOfThisThread();

  zmq::context_t& context_;
  const ZmqServer& server_;
  std::atomic<bool> shut_down_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  int in_flight_ = 0;  // GUARDED_BY(mutex_)
  // Each socket is used only by its own thread, without the mutex; the map
  // itself is guarded, and Shutdown closes sockets only once in_flight_ is 0.
  std::unordered_map<std::thread::id, std::unique_ptr<zmq::socket_t>> sockets_;  // GUARDED_BY(mutex_)
};

}  // namespace chatpro::transport
