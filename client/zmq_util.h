// SPDX-License-Identifier: Apache-2.0
//
// The ZeroMQ edge of libchatpro: CURVE DEALER set-up, socket monitors, and the
// one place where cppzmq's exceptions (zmq::error_t) become a Status.
//
// Internal to libchatpro.
//
// Thread-safety: free functions; each socket they take belongs to the calling
// thread (ZeroMQ sockets are not thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "broker/base/result.h"

namespace chatpro::client::internal {

// The Status for a ZeroMQ failure: Unavailable for a terminated context or an
// interrupted call, InvalidArgument for a bad endpoint or option, Internal
// otherwise. `what` says what was being done ("connect to tcp://...").
Status ZmqErrorStatus(const zmq::error_t& error, std::string_view what);

// Runs `f`, turning a zmq::error_t it throws into a Status. Every call into
// cppzmq that may throw goes through here.
template <typename F>
Status ZmqGuard(std::string_view what, F&& f) {
  try {
    f();
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return ZmqErrorStatus(e, what);
  }
}

struct CurveKeys {
  std::string server_public;  // 32 raw bytes
  std::string client_public;  // 32 raw bytes
  std::string client_secret;  // 32 raw bytes
};

// Sets the CURVE keys, LINGER 0, generous high-water marks, reconnect
// intervals (100 ms to 5 s), heartbeats (10 s, timeout 30 s) and IMMEDIATE
// (messages are queued only to a connection that finished its handshake).
// Throws zmq::error_t (call inside ZmqGuard).
void ConfigureDealer(zmq::socket_t& dealer, const CurveKeys& keys);

// Watches `socket` through a PAIR socket connected to `address` (an inproc
// name unique in the context). Call before connecting `socket`. Throws
// zmq::error_t.
zmq::socket_t StartMonitor(zmq::context_t& context, zmq::socket_t& socket,
                           const std::string& address);

struct MonitorEvent {
  std::uint16_t event = 0;  // ZMQ_EVENT_...
  std::uint32_t value = 0;  // for HANDSHAKE_FAILED_AUTH: the ZAP status code
};

// Reads one event without waiting; nullopt if none is queued. Throws
// zmq::error_t.
std::optional<MonitorEvent> ReadMonitorEvent(zmq::socket_t& monitor);

// zmq_poll that treats EINTR as "nothing ready". Throws zmq::error_t on other
// errors.
int Poll(zmq_pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout);

std::int64_t NowMicros();
std::int64_t MonotonicMicros();

}  // namespace chatpro::client::internal
