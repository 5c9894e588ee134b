// SPDX-License-Identifier: Apache-2.0
#include "tests/raw_connection.h"

#include <atomic>
#include <cstring>
#include <sstream>
#include <vector>

namespace chatpro::testing {
namespace {

constexpr int kEvents =
    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED;

std::string Finish(flatbuffers::FlatBufferBuilder& fbb,
                   flatbuffers::Offset<wire::Envelope> envelope, std::uint16_t version = 1) {
  std::vector<flatbuffers::Offset<wire::Envelope>> envelopes{envelope};
  auto frame = wire::CreateFrame(fbb, version, fbb.CreateVector(envelopes));
  wire::FinishFrameBuffer(fbb, frame);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

RawReply Decode(const wire::Envelope& env) {
  RawReply r;
  r.request_id = env.request_id();
  r.type = env.body_type();
  if (const auto* e = env.body_as_Error()) {
    r.error_code = e->code();
    r.error_message = e->message() == nullptr ? "" : e->message()->str();
  } else if (const auto* a = env.body_as_SendAck()) {
    r.client_msg_id = a->client_msg_id();
    r.conversation_id = a->conversation_id();
    r.seq = a->seq();
    r.duplicate = a->duplicate();
  } else if (const auto* h = env.body_as_HelloReply()) {
    r.max_frame_bytes = h->max_frame_bytes();
    r.max_text_bytes = h->max_text_bytes();
  }
  return r;
}

}  // namespace

std::string DescribeReply(const RawReply& r) {
  std::ostringstream out;
  out << wire::EnumNameBody(r.type) << " (request " << r.request_id << ")";
  if (r.type == wire::Body::Error) {
    out << " code " << wire::EnumNameErrorCode(r.error_code) << ": " << r.error_message;
  } else if (r.type == wire::Body::SendAck) {
    out << " conversation " << r.conversation_id << " seq " << r.seq
        << (r.duplicate ? " duplicate" : "");
  }
  return out.str();
}

std::string HelloFrame(std::uint64_t request_id, std::uint16_t protocol_version) {
  flatbuffers::FlatBufferBuilder fbb;
  auto hello = wire::CreateHello(fbb, fbb.CreateString("chatpro-integration-test"), true);
  return Finish(fbb, wire::CreateEnvelope(fbb, request_id, wire::Body::Hello, hello.Union()),
                protocol_version);
}

std::string EnrollFrame(std::uint64_t request_id, std::string_view device_public_key) {
  flatbuffers::FlatBufferBuilder fbb;
  auto key = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(device_public_key.data()),
                              device_public_key.size());
  auto enroll = wire::CreateEnroll(fbb, key, fbb.CreateString("raw-test-device"),
                                   fbb.CreateString("chatpro-integration-test"));
  return Finish(fbb, wire::CreateEnvelope(fbb, request_id, wire::Body::Enroll, enroll.Union()));
}

std::string SendTextFrame(std::uint64_t request_id, std::uint64_t client_msg_id,
                          std::uint64_t conversation_id, std::string_view to_user,
                          std::string_view text) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateText(fbb, fbb.CreateString(text.data(), text.size()));
  flatbuffers::Offset<flatbuffers::String> to;
  if (!to_user.empty()) to = fbb.CreateString(to_user.data(), to_user.size());
  auto send = wire::CreateSend(fbb, conversation_id, to, client_msg_id, wire::Content::Text,
                               body.Union());
  return Finish(fbb, wire::CreateEnvelope(fbb, request_id, wire::Body::Send, send.Union()));
}

std::string UnknownKindFrame(std::uint64_t request_id, std::uint8_t kind) {
  flatbuffers::FlatBufferBuilder fbb;
  auto ping = wire::CreatePing(fbb);  // any table will do as the body
  return Finish(fbb, wire::CreateEnvelope(fbb, request_id, static_cast<wire::Body>(kind),
                                          ping.Union()));
}

RawConnection::RawConnection(const client::Profile& profile)
    : RawConnection(profile.endpoint, profile.server_key, profile.public_key, profile.secret_key) {}

RawConnection::RawConnection(const std::string& endpoint, const std::string& server_key,
                             const std::string& public_key, const std::string& secret_key)
    : context_(1),
      dealer_(context_, zmq::socket_type::dealer),
      monitor_(context_, zmq::socket_type::pair) {
  static std::atomic<unsigned> counter{0};
  std::string monitor_address = "inproc://raw-monitor-" + std::to_string(counter++);
  dealer_.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_key.data(), server_key.size()));
  dealer_.set(zmq::sockopt::curve_publickey, zmq::const_buffer(public_key.data(), public_key.size()));
  dealer_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(secret_key.data(), secret_key.size()));
  dealer_.set(zmq::sockopt::linger, 0);
  dealer_.set(zmq::sockopt::immediate, true);
  if (zmq_socket_monitor(dealer_.handle(), monitor_address.c_str(), kEvents) != 0) {
    throw zmq::error_t();
  }
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(monitor_address);
  dealer_.connect(endpoint);
}

RawConnection::~RawConnection() { zmq_socket_monitor(dealer_.handle(), nullptr, 0); }

void RawConnection::DrainMonitor() {
  while (true) {
    zmq::message_t head;
    if (!monitor_.recv(head, zmq::recv_flags::dontwait)) return;
    std::uint16_t event = 0;
    if (head.size() >= 2) std::memcpy(&event, head.data(), 2);
    while (head.more()) {
      zmq::message_t rest;
      if (!monitor_.recv(rest) || !rest.more()) break;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) ++connected_events_;
    if (event == ZMQ_EVENT_DISCONNECTED) ++disconnected_events_;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) ++refused_events_;
  }
}

bool RawConnection::WaitConnected(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    DrainMonitor();
    if (connected_events_ > 0) return true;
    if (refused_events_ > 0) return false;
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return false;
    zmq::pollitem_t items[] = {{monitor_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(50));
  }
}

bool RawConnection::WaitDisconnected(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    DrainMonitor();
    if (disconnected_events_ > 0) return true;
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return false;
    zmq::pollitem_t items[] = {{monitor_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(50));
  }
}

bool RawConnection::Send(std::string_view bytes) {
  zmq::message_t msg(bytes.data(), bytes.size());
  return dealer_.send(msg, zmq::send_flags::dontwait).has_value();
}

bool RawConnection::SendParts(const std::vector<std::string>& parts) {
  for (std::size_t i = 0; i < parts.size(); ++i) {
    zmq::message_t msg(parts[i].data(), parts[i].size());
    auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                      : zmq::send_flags::dontwait;
    if (!dealer_.send(msg, flags)) return false;
  }
  return true;
}

std::optional<RawReply> RawConnection::WaitForReply(std::uint64_t request_id,
                                                    std::chrono::milliseconds timeout) {
  return Wait(request_id, request_id == 0, timeout);
}

std::optional<RawReply> RawConnection::WaitForAnswer(std::uint64_t request_id,
                                                     std::chrono::milliseconds timeout) {
  return Wait(request_id, true, timeout);
}

std::optional<RawReply> RawConnection::Wait(std::uint64_t request_id, bool frame_errors_answer,
                                            std::chrono::milliseconds timeout) {
  // Events (request id 0, not an Error) never get here: they are skipped on reading.
  auto matches = [&](const RawReply& r) {
    return (request_id != 0 && r.request_id == request_id) ||
           (frame_errors_answer && r.request_id == 0 && r.type == wire::Body::Error);
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (matches(*it)) {
        RawReply r = *it;
        pending_.erase(it);
        return r;
      }
    }
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return std::nullopt;
    zmq::pollitem_t items[] = {{dealer_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(50));
    zmq::message_t msg;
    while (dealer_.recv(msg, zmq::recv_flags::dontwait)) {
      // Aligned storage: the tables hold 64-bit fields.
      std::vector<std::uint64_t> storage(msg.size() / 8 + 1);
      std::memcpy(storage.data(), msg.data(), msg.size());
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(storage.data());
      flatbuffers::Verifier verifier(bytes, msg.size());
      if (!wire::VerifyFrameBuffer(verifier)) {
        RawReply bad;
        bad.request_id = ~0ull;
        bad.error_message = "the broker sent a frame that fails the verifier";
        pending_.push_back(bad);
        continue;
      }
      const wire::Frame* frame = wire::GetFrame(bytes);
      if (frame->envelopes() == nullptr) continue;
      for (const wire::Envelope* env : *frame->envelopes()) {
        RawReply r = Decode(*env);
        if (r.request_id == 0 && r.type != wire::Body::Error) continue;  // events
        pending_.push_back(std::move(r));
      }
    }
  }
}

}  // namespace chatpro::testing
