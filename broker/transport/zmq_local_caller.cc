// SPDX-License-Identifier: Apache-2.0
#include "broker/transport/zmq_local_caller.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "chatpro/schemas/wire_generated.h"
#include "schemas/frames.h"

namespace chatpro::transport {
namespace {

using schemas::AlignedFrame;
using schemas::JoinFrames;

// How often a waiting call looks whether the server or the caller stopped.
constexpr std::chrono::milliseconds kSlice(50);

bool IsConsolePrincipal(std::string_view principal) {
  if (principal == "s:console") return true;
  if (principal.size() < 3 || principal.size() > 22 || principal.substr(0, 2) != "c:") return false;
  return std::all_of(principal.begin() + 2, principal.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

Status NotServing() {
  return Status::Unavailable("the broker is not serving (starting or stopping); try again");
}

}  // namespace

ZmqLocalCaller::ZmqLocalCaller(ZmqServer& server) : context_(server.context()), server_(server) {}

ZmqLocalCaller::~ZmqLocalCaller() { Shutdown(); }

void ZmqLocalCaller::Shutdown() {
  std::unique_lock<std::mutex> lock(mutex_);
  shut_down_ = true;
  // Calls in progress notice within a slice and return.
  idle_.wait(lock, [this] { return in_flight_ == 0; });
  sockets_.clear();
}

zmq::socket_t* ZmqLocalCaller::SocketForThisThread() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_) return nullptr;
  std::unique_ptr<zmq::socket_t>& socket = sockets_[std::this_thread::get_id()];
  if (socket == nullptr) {
    auto made = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    made->set(zmq::sockopt::linger, 0);
    made->connect(ZmqServer::kLocalEndpoint);
    socket = std::move(made);
  }
  ++in_flight_;
  return socket.get();
}

void ZmqLocalCaller::DiscardSocketOfThisThread() {
  std::lock_guard<std::mutex> lock(mutex_);
  sockets_.erase(std::this_thread::get_id());
}

Result<std::string> ZmqLocalCaller::Call(std::string_view principal, std::string_view frame,
                                         std::chrono::milliseconds timeout) {
  if (!IsConsolePrincipal(principal)) {
    return Status::InvalidArgument("a local caller's principal is c:<user id> or s:console");
  }
  std::set<std::uint64_t> pending;
  {
    AlignedFrame request(frame);
    const wire::Frame* parsed = request.Verified();
    if (parsed == nullptr) return Status::InvalidArgument("the request is not a wire Frame");
    if (parsed->envelopes() != nullptr) {
      for (const wire::Envelope* e : *parsed->envelopes()) {
        if (e->request_id() == 0) {
          return Status::InvalidArgument("every request of a local call needs a request id");
        }
        pending.insert(e->request_id());
      }
    }
    if (pending.empty()) return Status::InvalidArgument("the request frame has no envelopes");
  }
  if (!server_.serving()) return NotServing();
  zmq::socket_t* socket = SocketForThisThread();
  if (socket == nullptr) return NotServing();
  bool keep_socket = false;
  // Leaves the call: a socket that may still get a reply to this call is
  // closed, and Shutdown learns that one call fewer is running.
  struct Leave {
    ZmqLocalCaller* self;
    const bool* keep;
    ~Leave() {
      if (!*keep) self->DiscardSocketOfThisThread();
      std::lock_guard<std::mutex> lock(self->mutex_);
      if (--self->in_flight_ == 0) self->idle_.notify_all();
    }
  } leave{this, &keep_socket};

  try {
    if (!socket->send(zmq::buffer(principal.data(), principal.size()),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
        !socket->send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait)) {
      return Status::Unavailable("the broker's in-process route is full; try again");
    }
    std::vector<std::string> replies;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (shut_down_ || !server_.serving()) return NotServing();
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        return Status::Unavailable("the broker did not answer within " +
                                   std::to_string(timeout.count()) + " ms");
      }
      const auto wait = std::min<std::chrono::milliseconds>(
          kSlice, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                      std::chrono::milliseconds(1));
      zmq::pollitem_t item{socket->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, wait);
      if ((item.revents & ZMQ_POLLIN) == 0) continue;
      // [principal][frame]: the server answers as the principal it was asked as.
      std::vector<zmq::message_t> parts;
      zmq::message_t part;
      while (socket->recv(part, zmq::recv_flags::dontwait)) {
        const bool more = part.more();
        parts.push_back(std::move(part));
        if (!more) break;
      }
      if (parts.size() != 2) continue;
      AlignedFrame reply(parts[1].to_string_view());
      const wire::Frame* parsed = reply.Verified();
      if (parsed == nullptr || parsed->envelopes() == nullptr) continue;
      bool whole_frame_refused = false;
      for (const wire::Envelope* e : *parsed->envelopes()) {
        // An error with no request id answers the whole frame (it did not
        // verify, or the principal was refused).
        if (e->request_id() == 0 && e->body_type() == wire::Body::Error) whole_frame_refused = true;
        pending.erase(e->request_id());
      }
      replies.push_back(parts[1].to_string());
      if (pending.empty() || whole_frame_refused) {
        keep_socket = true;
        return JoinFrames(replies);
      }
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == ETERM) return NotServing();
    return Status::Internal(std::string("local call failed: ") + e.what());
  }
}

}  // namespace chatpro::transport
