// SPDX-License-Identifier: Apache-2.0
//
// The I/O thread's side of ClientImpl: one poll loop over the DEALER, its
// monitor and the wake-up socket. It owns the protocol state; see
// client_impl.h for the threading contract.
#include <algorithm>
#include <exception>

#ifndef _WIN32
#include <csignal>
#include <pthread.h>
#endif

#include "broker/base/log.h"
#include "client/client_impl.h"

namespace chatpro::client::internal {
namespace {

constexpr char kMonitorAddress[] = "inproc://chatpro-client-monitor";
constexpr char kWakeAddress[] = "inproc://chatpro-client-wake";
constexpr std::int64_t kPingAfterUs = 10'000'000;  // schemas/README.md: Ping after 10 s of silence
constexpr std::chrono::milliseconds kTick{100};
constexpr int kMaxFramesPerTurn = 256;
constexpr int kFinalAckLingerMs = 1000;

// Runs a user callback; an exception from it must not kill the I/O thread.
template <typename F, typename... Args>
void RunCallback(const char* what, F& f, Args&&... args) {
  if (!f) return;
  try {
    f(std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    LOG_ERROR() << "libchatpro: the " << what << " callback threw: " << e.what();
  } catch (...) {
    LOG_ERROR() << "libchatpro: the " << what << " callback threw";
  }
}

void FreeDetached(void* /*data*/, void* hint) {
  delete static_cast<flatbuffers::DetachedBuffer*>(hint);
}

// Moves the finished frame into a ZeroMQ message without copying it.
zmq::message_t ToMessage(flatbuffers::DetachedBuffer bytes) {
  auto* owned = new flatbuffers::DetachedBuffer(std::move(bytes));
  return zmq::message_t(owned->data(), owned->size(), FreeDetached, owned);
}

}  // namespace

void ClientImpl::IoThreadMain() {
  io_thread_id_ = std::this_thread::get_id();
#ifdef __linux__
  pthread_setname_np(pthread_self(), "chatpro-client");
#endif
#ifndef _WIN32
  // Signals belong to the application's threads, never to this one.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
#endif
  Status status = ZmqGuard("open the connection to " + profile_.endpoint, [&] { OpenSockets(); });
  if (status.ok()) {
    status = ZmqGuard("talk to " + profile_.endpoint, [&] { RunLoop(); });
  }
  if (!status.ok()) LOG_ERROR() << "libchatpro: " << status.message();
  bool flush = status.ok();
  Status closed = ZmqGuard("close the connection", [&] { CloseSockets(flush); });
  (void)closed;
  FinishStart(status.ok() ? Status::Unavailable("the client was closed") : status);
  FailAll(status.ok() ? Status::Unavailable("the client was closed") : status);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    io_exited_ = true;
  }
  cv_.notify_all();
}

void ClientImpl::OpenSockets() {
  wake_in_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::pull);
  wake_in_->set(zmq::sockopt::linger, 0);
  wake_in_->bind(kWakeAddress);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_out_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::push);
    wake_out_->set(zmq::sockopt::linger, 0);
    wake_out_->connect(kWakeAddress);
  }
  dealer_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::dealer);
  ConfigureDealer(*dealer_,
                  CurveKeys{profile_.server_key, profile_.public_key, profile_.secret_key});
  monitor_ = std::make_unique<zmq::socket_t>(StartMonitor(*context_, *dealer_, kMonitorAddress));
  dealer_->connect(profile_.endpoint);
}

void ClientImpl::CloseSockets(bool flush_acks) {
  if (dealer_ != nullptr) {
    // Deliveries handed to on_message are acknowledged on the way out, so the
    // next session does not get them again; the linger bounds the wait.
    if (flush_acks && handshake_ok_ && !ack_cursors_.empty()) {
      FrameWriter w;
      w.AddAck({ack_cursors_.begin(), ack_cursors_.end()});
      zmq::message_t m = ToMessage(w.Finish());
      if (dealer_->send(m, zmq::send_flags::dontwait)) {
        ack_cursors_.clear();
        dealer_->set(zmq::sockopt::linger, kFinalAckLingerMs);
      }
    }
    zmq_socket_monitor(dealer_->handle(), nullptr, 0);
  }
  monitor_.reset();
  dealer_.reset();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_out_.reset();
  }
  wake_in_.reset();
}

void ClientImpl::RunLoop() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
    zmq_pollitem_t items[] = {
        {dealer_->handle(), 0, static_cast<short>(ZMQ_POLLIN | (stalled_ ? ZMQ_POLLOUT : 0)), 0},
        {monitor_->handle(), 0, ZMQ_POLLIN, 0},
        {wake_in_->handle(), 0, ZMQ_POLLIN, 0},
    };
    Poll(items, 3, PollTimeout());

    if (items[2].revents & ZMQ_POLLIN) {
      zmq::message_t m;
      while (wake_in_->recv(m, zmq::recv_flags::dontwait)) {
      }
      std::lock_guard<std::mutex> lock(mutex_);
      wake_pending_ = false;
    }
    // Frames first: replies already queued belong to the connection that a
    // DISCONNECTED event would end.
    if (items[0].revents & ZMQ_POLLIN) {
      for (int i = 0; i < kMaxFramesPerTurn; ++i) {
        zmq::message_t m;
        if (!dealer_->recv(m, zmq::recv_flags::dontwait)) break;
        HandleFrame(m);
      }
    }
    while (auto event = ReadMonitorEvent(*monitor_)) HandleMonitorEvent(*event);
    ExpireDeadlines();
    WriteFrames();
  }
}

std::chrono::milliseconds ClientImpl::PollTimeout() const {
  if (!requests_.empty() || !handshake_ok_ || stalled_) return kTick;
  std::int64_t until_ping = last_write_us_ + kPingAfterUs - MonotonicMicros();
  if (until_ping <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(std::min<std::int64_t>(until_ping / 1000 + 1, 10'000));
}

std::uint64_t ClientImpl::max_frame_bytes() const { return max_frame_bytes_; }

// ------------------------------------------------------------------ state

void ClientImpl::FinishStart(const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (start_status_) return;
    start_status_ = status;
  }
  cv_.notify_all();
}

void ClientImpl::SetState(ConnectionState state, const Status& status) {
  if (io_state_ == state) return;
  io_state_ = state;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = state;
  }
  cv_.notify_all();
  RunCallback("on_state", options_.on_state, state, status);
}

void ClientImpl::HandleMonitorEvent(const MonitorEvent& event) {
  switch (event.event) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: {
      // A new connection: a new session. Hello first, then every send not yet
      // acknowledged, in the original order, with its original id.
      handshake_ok_ = true;
      hello_pending_ = true;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        handshake_problem_.clear();
      }
      stalled_.reset();
      resend_.clear();
      for (const auto& [id, send] : unacked_) resend_.push_back(id);
      // Acks written just before the connection broke may be lost; repeating
      // the cursors is cheap and idempotent.
      for (const auto& [conversation, seq] : last_seq_) {
        std::uint64_t& cursor = ack_cursors_[conversation];
        cursor = std::max(cursor, seq);
      }
      if (io_state_ == ConnectionState::kRefused) {
        SetState(ConnectionState::kConnecting, Status::Ok());
      }
      break;
    }
    case ZMQ_EVENT_DISCONNECTED: {
      if (!handshake_ok_) break;
      handshake_ok_ = false;
      hello_pending_ = false;
      hello_request_id_ = 0;
      stalled_.reset();
      // Replies to requests already written are lost with the connection.
      auto lost = std::move(requests_);
      requests_.clear();
      for (auto& [id, r] : lost) {
        RunCallback("request", r.on_fail,
                    Status::Unavailable("the connection to the broker was lost"));
      }
      if (io_state_ == ConnectionState::kConnected) {
        SetState(ConnectionState::kConnecting,
                 Status::Unavailable("the connection to the broker was lost; reconnecting"));
      }
      break;
    }
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: {
      handshake_ok_ = false;
      Status refused = Status::PermissionDenied(
          "the broker refused this device's key (unknown or revoked device)");
      FinishStart(refused);
      if (io_state_ != ConnectionState::kRefused) {
        SetState(ConnectionState::kRefused, refused);
        FailAll(refused);
      }
      break;
    }
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: {
      std::lock_guard<std::mutex> lock(mutex_);
      handshake_problem_ = "the CURVE handshake failed: is the broker key in the profile right?";
      break;
    }
    default:
      break;
  }
}

void ClientImpl::FailAll(const Status& status) {
  std::deque<Command> queued;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queued.swap(commands_);
  }
  auto sends = std::move(unacked_);
  unacked_.clear();
  send_by_request_.clear();
  resend_.clear();
  auto requests = std::move(requests_);
  requests_.clear();
  std::size_t failed_sends = sends.size();
  for (const auto& c : queued) failed_sends += c.send ? 1 : 0;
  auto fail_send = [&](OutgoingSend& s) {
    SendResult r;
    r.status = status;
    r.client_msg_id = s.client_msg_id;
    RunCallback("send", s.done, r);
  };
  for (auto& [id, s] : sends) fail_send(*s);
  for (auto& [id, r] : requests) RunCallback("request", r.on_fail, status);
  for (auto& c : queued) {
    if (c.send) {
      fail_send(*c.send);
    } else {
      RunCallback("request", c.on_fail, status);
    }
  }
  if (failed_sends > 0) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_flight_sends_ -= std::min(in_flight_sends_, failed_sends);
    }
    cv_.notify_all();
  }
}

void ClientImpl::ExpireDeadlines() {
  std::int64_t now = MonotonicMicros();
  Status late = Status::Unavailable("no answer from the broker at " + profile_.endpoint +
                                    " within the request timeout");
  std::vector<FailHandler> expired;
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (it->second.deadline_us != 0 && it->second.deadline_us <= now) {
      expired.push_back(std::move(it->second.on_fail));
      it = requests_.erase(it);
    } else {
      ++it;
    }
  }
  if (!handshake_ok_) {
    // Requests that never left the queue (no connection) expire as well.
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = commands_.begin(); it != commands_.end();) {
      if (!it->send && it->deadline_us != 0 && it->deadline_us <= now) {
        expired.push_back(std::move(it->on_fail));
        it = commands_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& f : expired) RunCallback("request", f, late);
}

// ------------------------------------------------------------------ receiving

void ClientImpl::HandleFrame(const zmq::message_t& message) {
  Result<ReceivedFrame> parsed = ReceivedFrame::Parse(message.data(), message.size());
  if (!parsed.ok()) {
    LOG_WARNING() << "libchatpro: dropped a frame from the broker: " << parsed.status().message();
    return;
  }
  const auto* envelopes = parsed->frame().envelopes();
  if (envelopes == nullptr) return;
  for (const auto* env : *envelopes) HandleEnvelope(*env);
  // Acks go out with the next frame WriteFrames() builds, coalesced per
  // conversation.
}

void ClientImpl::HandleEnvelope(const wire::Envelope& env) {
  const std::uint64_t id = env.request_id();
  if (const auto* ack = env.body_as_SendAck()) {
    std::uint64_t msg_id = ack->client_msg_id();
    if (unacked_.count(msg_id) == 0) {
      auto it = send_by_request_.find(id);
      if (it == send_by_request_.end()) return;  // a late duplicate ack
      msg_id = it->second;
    }
    SendResult r;
    r.conversation_id = ack->conversation_id();
    r.seq = ack->seq();
    r.sent_at_us = ack->sent_at_us();
    r.duplicate = ack->duplicate();
    CompleteSend(msg_id, std::move(r));
    return;
  }
  if (id == 0) {
    if (const auto* d = env.body_as_Delivery()) {
      HandleDelivery(*d);
    } else if (const auto* info = env.body_as_ConversationInfo()) {
      Conversation c = ConversationFromWire(*info);
      RunCallback("on_conversation", options_.on_conversation, c);
    } else if (const auto* error = env.body_as_Error()) {
      LOG_WARNING() << "libchatpro: the broker reported: " << StatusFromError(*error);
    }
    return;
  }
  if (id == hello_request_id_) {
    HandleHelloReply(env);
    return;
  }
  if (auto it = send_by_request_.find(id); it != send_by_request_.end()) {
    SendResult r;
    if (const auto* error = env.body_as_Error()) {
      r.status = StatusFromError(*error);
    } else {
      r.status = Status::Internal("the broker answered a Send with " +
                                  std::string(BodyName(env.body_type())));
    }
    CompleteSend(it->second, std::move(r));
    return;
  }
  auto it = requests_.find(id);
  if (it == requests_.end()) return;  // a Pong, or a reply that came too late
  PendingRequest request = std::move(it->second);
  requests_.erase(it);
  if (const auto* error = env.body_as_Error()) {
    RunCallback("request", request.on_fail, StatusFromError(*error));
  } else {
    RunCallback("request", request.on_reply, env);
  }
}

void ClientImpl::HandleHelloReply(const wire::Envelope& env) {
  hello_request_id_ = 0;
  if (const auto* error = env.body_as_Error()) {
    Status s = StatusFromError(*error).WithContext("the broker refused Hello");
    LOG_ERROR() << "libchatpro: " << s.message();
    FinishStart(s);
    return;
  }
  const auto* reply = env.body_as_HelloReply();
  if (reply == nullptr) {
    FinishStart(Status::Internal("the broker answered Hello with " +
                                 std::string(BodyName(env.body_type()))));
    return;
  }
  SessionInfo s = SessionFromWire(*reply);
  if (s.max_frame_bytes > 0) max_frame_bytes_ = s.max_frame_bytes;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    session_ = std::move(s);
    // Never reuse an id the broker has seen from this device (a resend is
    // recognised by its id), even if this machine's clock went back.
    last_client_msg_id_ = std::max(last_client_msg_id_, reply->last_client_msg_id());
  }
  SetState(ConnectionState::kConnected, Status::Ok());
  FinishStart(Status::Ok());
}

void ClientImpl::HandleDelivery(const wire::Delivery& delivery) {
  // A send-only session must not move this device's cursor: another session
  // of the same device may be the one that shows the messages.
  if (!options_.receive || receiving_stopped_) return;
  Result<Message> m = MessageFromDelivery(delivery);
  if (!m.ok()) {
    LOG_WARNING() << "libchatpro: dropped a delivery: " << m.status().message();
    return;
  }
  std::uint64_t& last = last_seq_[m->conversation_id];
  if (m->seq <= last) {
    // At least once: processed already. Acknowledge it again all the same, or
    // the broker would count it against the delivery window for ever.
    std::uint64_t& cursor = ack_cursors_[m->conversation_id];
    cursor = std::max(cursor, last);
    return;
  }
  RunCallback("on_message", options_.on_message, *m);
  last = m->seq;
  ack_cursors_[m->conversation_id] = m->seq;
}

void ClientImpl::CompleteSend(std::uint64_t client_msg_id, SendResult result) {
  auto it = unacked_.find(client_msg_id);
  if (it == unacked_.end()) return;
  std::unique_ptr<OutgoingSend> send = std::move(it->second);
  unacked_.erase(it);
  send_by_request_.erase(send->request_id);
  result.client_msg_id = client_msg_id;
  // The callback first: Flush() promises that every callback has run.
  RunCallback("send", send->done, result);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --in_flight_sends_;
  }
  cv_.notify_all();
}

// ------------------------------------------------------------------ sending

bool ClientImpl::TrySend(zmq::message_t& message) {
  if (!dealer_->send(message, zmq::send_flags::dontwait)) return false;
  last_write_us_ = MonotonicMicros();
  return true;
}

void ClientImpl::WriteFrames() {
  if (!handshake_ok_) return;
  while (true) {
    if (stalled_) {
      if (!TrySend(*stalled_)) return;
      stalled_.reset();
    }
    zmq::message_t frame;
    if (!BuildFrame(&frame)) return;
    if (!TrySend(frame)) {
      stalled_ = std::move(frame);
      return;
    }
  }
}

bool ClientImpl::BuildFrame(zmq::message_t* out) {
  FrameWriter w;
  const std::size_t budget =
      static_cast<std::size_t>(max_frame_bytes()) - std::min<std::size_t>(max_frame_bytes() / 2, 4096);
  std::size_t used = 0;
  std::size_t batch = 0;

  if (hello_pending_) {
    hello_pending_ = false;
    hello_request_id_ = next_request_id_++;
    w.AddHello(hello_request_id_, options_.client_version, options_.receive);
  }
  if (!ack_cursors_.empty()) {
    w.AddAck({ack_cursors_.begin(), ack_cursors_.end()});
    used += kEnvelopeOverheadBytes + 16 * ack_cursors_.size();
    ack_cursors_.clear();
  }
  // Resends come before anything new, so the broker sees the original order.
  while (!resend_.empty() && batch < options_.max_batch) {
    auto it = unacked_.find(resend_.front());
    if (it == unacked_.end()) {
      resend_.pop_front();
      continue;
    }
    const OutgoingSend& s = *it->second;
    if (batch > 0 && used + s.wire_bytes > budget) break;
    w.AddSend(s.request_id, s.client_msg_id, s.to, s.content);
    used += s.wire_bytes;
    ++batch;
    resend_.pop_front();
  }
  if (resend_.empty()) {
    std::vector<Command> taken;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::size_t planned = used;
      while (!commands_.empty() && batch + taken.size() < options_.max_batch) {
        const Command& c = commands_.front();
        if (batch + taken.size() > 0 && planned + c.wire_bytes > budget) break;
        planned += c.wire_bytes;
        taken.push_back(std::move(commands_.front()));
        commands_.pop_front();
      }
    }
    std::int64_t now = MonotonicMicros();
    for (Command& c : taken) {
      if (c.send) {
        OutgoingSend& s = *c.send;
        w.AddSend(s.request_id, s.client_msg_id, s.to, s.content);
        send_by_request_[s.request_id] = s.client_msg_id;
        unacked_[s.client_msg_id] = std::move(c.send);
      } else {
        if (c.deadline_us != 0 && c.deadline_us <= now) {
          RunCallback("request", c.on_fail,
                      Status::Unavailable("no answer from the broker at " + profile_.endpoint +
                                          " within the request timeout"));
          continue;
        }
        c.write(w, c.request_id);
        requests_[c.request_id] = PendingRequest{std::move(c.on_reply), std::move(c.on_fail),
                                                 c.deadline_us};
      }
      ++batch;
    }
  }
  if (w.envelope_count() == 0 && MonotonicMicros() - last_write_us_ >= kPingAfterUs) {
    w.AddPing(next_request_id_++);
  }
  if (w.envelope_count() == 0) return false;
  *out = ToMessage(w.Finish());
  return true;
}

}  // namespace chatpro::client::internal
