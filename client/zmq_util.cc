// SPDX-License-Identifier: Apache-2.0
#include "client/zmq_util.h"

#include <cerrno>
#include <cstring>

namespace chatpro::client::internal {
namespace {

constexpr int kHighWaterMark = 100000;
constexpr int kReconnectIvlMs = 100;
constexpr int kReconnectIvlMaxMs = 5000;
constexpr int kHeartbeatIvlMs = 10000;
constexpr int kHeartbeatTimeoutMs = 30000;

constexpr int kMonitoredEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_DISCONNECTED;

}  // namespace

Status ZmqErrorStatus(const zmq::error_t& error, std::string_view what) {
  std::string message = std::string(what) + ": " + error.what();
  switch (error.num()) {
    case ETERM:
    case EINTR:
      return Status::Unavailable(std::move(message));
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
      return Status::InvalidArgument(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

void ConfigureDealer(zmq::socket_t& dealer, const CurveKeys& keys) {
  dealer.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(keys.server_public.data(),
                                                             keys.server_public.size()));
  dealer.set(zmq::sockopt::curve_publickey, zmq::const_buffer(keys.client_public.data(),
                                                             keys.client_public.size()));
  dealer.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys.client_secret.data(),
                                                             keys.client_secret.size()));
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::sndhwm, kHighWaterMark);
  dealer.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  dealer.set(zmq::sockopt::reconnect_ivl, kReconnectIvlMs);
  dealer.set(zmq::sockopt::reconnect_ivl_max, kReconnectIvlMaxMs);
  dealer.set(zmq::sockopt::heartbeat_ivl, kHeartbeatIvlMs);
  dealer.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
  dealer.set(zmq::sockopt::immediate, true);
}

zmq::socket_t StartMonitor(zmq::context_t& context, zmq::socket_t& socket,
                           const std::string& address) {
  if (zmq_socket_monitor(socket.handle(), address.c_str(), kMonitoredEvents) != 0) {
    throw zmq::error_t();
  }
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(address);
  return monitor;
}

std::optional<MonitorEvent> ReadMonitorEvent(zmq::socket_t& monitor) {
  zmq::message_t head;
  if (!monitor.recv(head, zmq::recv_flags::dontwait)) return std::nullopt;
  MonitorEvent event;
  if (head.size() >= 6) {
    std::memcpy(&event.event, head.data(), 2);
    std::memcpy(&event.value, static_cast<const char*>(head.data()) + 2, 4);
  }
  // The second part names the endpoint; one peer, so it tells us nothing.
  while (head.more()) {
    zmq::message_t rest;
    if (!monitor.recv(rest, zmq::recv_flags::none)) break;
    if (!rest.more()) break;
  }
  return event;
}

int Poll(zmq_pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout) {
  int rc = zmq_poll(items, static_cast<int>(count), static_cast<long>(timeout.count()));
  if (rc < 0) {
    if (zmq_errno() == EINTR) {
      for (std::size_t i = 0; i < count; ++i) items[i].revents = 0;
      return 0;
    }
    throw zmq::error_t();
  }
  return rc;
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t MonotonicMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace chatpro::client::internal
