// SPDX-License-Identifier: Apache-2.0
//
// The core's view of the network edge. The transport adapter (broker/transport,
// ZeroMQ) implements Transport and Waker and drives the core's Broker from its
// event loop; the core never sees a socket.
//
// Thread-safety: Transport::Send/Forget are called on the event-loop thread
// only. Waker::Wake may be called from any thread.
#pragma once

#include <flatbuffers/detached_buffer.h>

#include <cstdint>
#include <string>

namespace chatpro::core {

// A connection as the transport numbers it; never reused within a process.
using ConnectionId = std::uint64_t;

enum class SendOutcome {
  kSent,  // queued for the peer
  kFull,  // the peer's queue is full (slow consumer); nothing was queued
  kGone,  // the peer is not connected any more
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Queues one frame for `connection` without blocking. On kSent the
  // transport has taken the frame (`*frame` is left empty); otherwise `*frame`
  // is untouched, so that the caller may retry it.
  virtual SendOutcome Send(ConnectionId connection, flatbuffers::DetachedBuffer* frame) = 0;
  // The core has dropped the session of `connection` (timeout, revocation); the
  // transport may forget it.
  virtual void Forget(ConnectionId connection) = 0;
};

// Wakes the event loop so that it calls Broker::OnWake().
class Waker {
 public:
  virtual ~Waker() = default;
  virtual void Wake() = 0;
};

// The answer to a ZAP request: whether the key may connect, and the user-id
// that ZeroMQ then attaches to every frame of that connection.
struct AuthDecision {
  bool allowed = false;
  std::string user_id;  // "d:<device id>" or "e:<hex enrollment key>"
  std::string reason;   // for a refusal; goes to the ZAP reply and the log
};

}  // namespace chatpro::core
