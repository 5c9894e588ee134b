// SPDX-License-Identifier: Apache-2.0
//
// RawConnection: a bare CURVE DEALER speaking the wire protocol
// (schemas/wire.fbs) with an enrolled device's keys, for the tests that must
// put exactly chosen bytes on the wire (bad frames, the same Send twice).
// Frames are built with the generated schema, not with libchatpro.
//
// Thread-safety: one thread at a time (ZeroMQ sockets are not thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "chatpro/schemas/wire_generated.h"
#include "client/client.h"
#include "tests/broker_process.h"

namespace chatpro::testing {

// A reply or event, decoded into plain fields.
struct RawReply {
  std::uint64_t request_id = 0;
  wire::Body type = wire::Body::NONE;
  // Error
  wire::ErrorCode error_code = wire::ErrorCode::Ok;
  std::string error_message;
  // SendAck
  std::uint64_t client_msg_id = 0;
  std::uint64_t conversation_id = 0;
  std::uint64_t seq = 0;
  bool duplicate = false;
  // HelloReply
  std::uint64_t max_frame_bytes = 0;
  std::uint64_t max_text_bytes = 0;
};

std::string DescribeReply(const RawReply& reply);

// ---- frames (each a finished "CPW1" Frame with one envelope)
std::string HelloFrame(std::uint64_t request_id, std::uint16_t protocol_version = 1);
std::string SendTextFrame(std::uint64_t request_id, std::uint64_t client_msg_id,
                          std::uint64_t conversation_id, std::string_view to_user,
                          std::string_view text);
std::string EnrollFrame(std::uint64_t request_id, std::string_view device_public_key);
// An envelope whose body type is a number the protocol does not define.
std::string UnknownKindFrame(std::uint64_t request_id, std::uint8_t kind);

class RawConnection {
 public:
  // Connects with the profile's endpoint and keys. Check WaitConnected().
  explicit RawConnection(const client::Profile& profile);
  // Connects with any key pair (e.g. an invite's one-time pair).
  RawConnection(const std::string& endpoint, const std::string& server_key,
                const std::string& public_key, const std::string& secret_key);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Waits for the CURVE handshake to succeed; false on refusal or timeout.
  bool WaitConnected(std::chrono::milliseconds timeout = kWaitTimeout);
  // Waits for the connection to be cut (ZMQ_EVENT_DISCONNECTED).
  bool WaitDisconnected(std::chrono::milliseconds timeout = kWaitTimeout);

  // Queues one single-part message. False if the socket would not take it.
  bool Send(std::string_view bytes);
  // Queues one message of several parts.
  bool SendParts(const std::vector<std::string>& parts);

  // Reads frames until one has an envelope answering `request_id` (for 0:
  // an Error envelope with request id 0; deliveries and other events are
  // skipped). nullopt on timeout.
  std::optional<RawReply> WaitForReply(std::uint64_t request_id,
                                       std::chrono::milliseconds timeout = kWaitTimeout);
  // Like WaitForReply(request_id), but an Error with request id 0 (a frame
  // the broker could not read a request id from) also answers.
  std::optional<RawReply> WaitForAnswer(std::uint64_t request_id,
                                        std::chrono::milliseconds timeout = kWaitTimeout);

 private:
  void DrainMonitor();
  std::optional<RawReply> Wait(std::uint64_t request_id, bool frame_errors_answer,
                               std::chrono::milliseconds timeout);

  zmq::context_t context_;
  zmq::socket_t dealer_;
  zmq::socket_t monitor_;
  int connected_events_ = 0;
  int disconnected_events_ = 0;
  int refused_events_ = 0;
  std::vector<RawReply> pending_;  // read while waiting for another request id
};

}  // namespace chatpro::testing
