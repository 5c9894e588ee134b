// SPDX-License-Identifier: Apache-2.0
//
// The I/O thread's side of ClientImpl: one poll loop over the DEALER, its
// monitor and the wake-up socket. It owns the protocol state; see
// client_impl.h for the threading contract.
#include <algorithm>
#include <exception>
#include <variant>

#ifndef _WIN32
#include <csignal>
#include <pthread.h>
#endif

#include "broker/base/check.h"
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
// How long a revoked client's closed socket may take to hand ConfirmWipe over.
constexpr int kConfirmWipeLingerMs = 500;
// Queues keep up to this many slots of capacity when idle.
constexpr std::size_t kIdleQueueSlots = 1024;
// FrameWriter starts with the last frame's size, up to this.
constexpr std::size_t kMaxFrameHint = 256 * 1024;

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
  // A revoked device writes nothing after ConfirmWipe, not even Acks.
  bool flush = status.ok() && !revoked_;
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
    // next session does not get them again, and a Goodbye ends the session on
    // the broker at once; the linger bounds the wait.
    if (flush_acks && handshake_ok_) {
      FrameWriter w;
      if (!to_ack_.empty()) w.AddAck(TakeAckCursors());
      w.AddGoodbye();
      zmq::message_t m = ToMessage(w.Finish());
      if (dealer_->send(m, zmq::send_flags::dontwait)) {
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
    bool queued = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      queued = !commands_.empty();
      // See "Wake-ups" in client_impl.h: cleared only here, under the lock,
      // with the queue seen empty; a command queued from now on wakes the
      // poll below. With commands queued the flag stays set: this thread
      // looks at the queue again without being woken.
      if (!queued) {
        wake_pending_ = false;
        ShrinkIdleQueuesLocked();
      }
    }
    // Queued commands are written at once unless the socket is full or there
    // is no connection (then POLLOUT or a monitor event ends the wait).
    const bool can_write = handshake_ok_ && !stalled_;
    std::chrono::milliseconds timeout =
        queued && can_write ? std::chrono::milliseconds(0) : PollTimeout();
    zmq_pollitem_t items[] = {
        {dealer_->handle(), 0, static_cast<short>(ZMQ_POLLIN | (stalled_ ? ZMQ_POLLOUT : 0)), 0},
        {monitor_->handle(), 0, ZMQ_POLLIN, 0},
        {wake_in_->handle(), 0, ZMQ_POLLIN, 0},
    };
    Poll(items, 3, timeout);

    if (items[2].revents & ZMQ_POLLIN) {
      zmq::message_t m;
      while (wake_in_->recv(m, zmq::recv_flags::dontwait)) {
      }
    }
    // Frames first: replies already queued belong to the connection that a
    // DISCONNECTED event would end.
    if (items[0].revents & ZMQ_POLLIN) {
      for (int i = 0; i < kMaxFramesPerTurn && !revoked_; ++i) {
        zmq::message_t m;
        if (!dealer_->recv(m, zmq::recv_flags::dontwait)) break;
        HandleFrame(m);
      }
    }
    // kRevoked is final: no later monitor event may change the state.
    if (revoked_) return;
    while (auto event = ReadMonitorEvent(*monitor_)) HandleMonitorEvent(*event);
    ExpireDeadlines();
    WriteFrames();
  }
}

void ClientImpl::ShrinkIdleQueuesLocked() {
  // Only with nothing queued or in flight, so that a busy client does not
  // give memory back and take it again.
  if (in_flight_sends_ != 0 || !commands_.empty() || staged_pos_ != staged_.size()) return;
  if (commands_.capacity() > kIdleQueueSlots) std::vector<Command>().swap(commands_);
  if (staged_.capacity() > kIdleQueueSlots) {
    std::vector<Command>().swap(staged_);
    staged_pos_ = 0;
  }
  unacked_.ShrinkIfEmpty(kIdleQueueSlots);
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
      resending_ = !unacked_.empty();
      resend_from_id_ = 0;
      // Acks written just before the connection broke may be lost; repeating
      // the cursors is cheap and idempotent.
      for (auto& [conversation, cursor] : cursors_) MarkToAck(conversation, cursor);
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
  std::vector<Command> queued;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queued.swap(commands_);
  }
  // Staged commands were taken from the queue before the ones still in it.
  std::vector<Command> staged;
  staged.swap(staged_);
  const std::size_t staged_from = staged_pos_;
  staged_pos_ = 0;
  RingQueue<OutgoingSend> sends = std::move(unacked_);
  unacked_ = RingQueue<OutgoingSend>();
  resending_ = false;
  auto requests = std::move(requests_);
  requests_.clear();
  // Sends answered since the last PublishCompletedSends() are still in
  // in_flight_sends_: taken off with the failed ones.
  std::size_t failed_sends = completed_sends_;
  completed_sends_ = 0;
  auto fail_send = [&](OutgoingSend& s) {
    SendResult r;
    r.status = status;
    r.client_msg_id = s.client_msg_id;
    ++failed_sends;
    RunCallback("send", s.done, r);
  };
  auto fail_command = [&](Command& c) {
    if (c.request) {
      RunCallback("request", c.request->on_fail, status);
    } else {
      fail_send(c.send);
    }
  };
  for (std::size_t i = 0; i < sends.size(); ++i) {
    if (!sends[i].answered) fail_send(sends[i]);
  }
  for (auto& [id, r] : requests) RunCallback("request", r.on_fail, status);
  for (std::size_t i = staged_from; i < staged.size(); ++i) fail_command(staged[i]);
  for (auto& c : queued) fail_command(c);
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
    auto expire = [&](std::vector<Command>& commands, std::size_t from) {
      auto is_late = [&](const Command& c) {
        return c.request && c.request->deadline_us != 0 && c.request->deadline_us <= now;
      };
      for (std::size_t i = from; i < commands.size(); ++i) {
        if (is_late(commands[i])) expired.push_back(std::move(commands[i].request->on_fail));
      }
      commands.erase(std::remove_if(commands.begin() + static_cast<std::ptrdiff_t>(from),
                                    commands.end(), is_late),
                     commands.end());
    };
    expire(staged_, staged_pos_);
    std::lock_guard<std::mutex> lock(mutex_);
    expire(commands_, 0);
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
  for (const auto* env : *envelopes) {
    HandleEnvelope(*env);
    // Whatever came after a Revoked event is not for this device any more.
    if (revoked_) return;
  }
  PublishCompletedSends();
  // Acks go out with the next frame WriteFrames() builds, coalesced per
  // conversation.
}

void ClientImpl::HandleEnvelope(const wire::Envelope& env) {
  const std::uint64_t id = env.request_id();
  if (const auto* ack = env.body_as_SendAck()) {
    OutgoingSend* send = FindUnacked(ack->client_msg_id());
    if (send == nullptr) send = FindSendByRequest(id);
    if (send == nullptr) return;  // a late duplicate ack
    SendResult r;
    r.conversation_id = ack->conversation_id();
    r.seq = ack->seq();
    r.sent_at_us = ack->sent_at_us();
    r.duplicate = ack->duplicate();
    r.off_duty = OffDutyFromWire(*ack);
    CompleteSend(*send, std::move(r));
    return;
  }
  if (id == 0) {
    if (const auto* d = env.body_as_Delivery()) {
      HandleDelivery(*d);
    } else if (const auto* info = env.body_as_ConversationInfo()) {
      Conversation c = ConversationFromWire(*info);
      RunCallback("on_conversation", options_.on_conversation, c);
    } else if (const auto* revoked = env.body_as_Revoked()) {
      HandleRevoked(*revoked);
    } else if (const auto* presence = env.body_as_Presence()) {
      PresenceInfo p = PresenceFromWire(*presence);
      RunCallback("on_presence", options_.on_presence, p);
    } else if (const auto* error = env.body_as_Error()) {
      LOG_WARNING() << "libchatpro: the broker reported: " << StatusFromError(*error);
    }
    return;
  }
  if (id == hello_request_id_) {
    HandleHelloReply(env);
    return;
  }
  if (OutgoingSend* send = FindSendByRequest(id)) {
    SendResult r;
    if (const auto* error = env.body_as_Error()) {
      r.status = StatusFromError(*error);
    } else {
      r.status = Status::Internal("the broker answered a Send with " +
                                  std::string(BodyName(env.body_type())));
    }
    CompleteSend(*send, std::move(r));
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
  max_text_bytes_.store(s.max_text_bytes, std::memory_order_relaxed);
  max_attachment_bytes_.store(s.max_attachment_bytes, std::memory_order_relaxed);
  max_frame_limit_.store(s.max_frame_bytes, std::memory_order_relaxed);
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
  Status read = delivery_reader_.Read(delivery);
  if (!read.ok()) {
    LOG_WARNING() << "libchatpro: dropped a delivery: " << read.message();
    return;
  }
  const Message& m = delivery_reader_.message();
  const std::uint64_t conversation = m.conversation_id;
  DeliveryCursor& cursor = CursorFor(conversation);
  if (m.seq <= cursor.last_seq) {
    // At least once: processed already. Acknowledge it again all the same, or
    // the broker would count it against the delivery window for ever.
    MarkToAck(conversation, cursor);
    return;
  }
  RunCallback("on_message", options_.on_message, m);
  cursor.last_seq = m.seq;
  MarkToAck(conversation, cursor);
  if (std::holds_alternative<Voice>(m.content) || std::holds_alternative<Picture>(m.content)) {
    delivery_reader_.Clear();
  }
}

void ClientImpl::HandleRevoked(const wire::Revoked& revoked) {
  std::string reason = revoked.reason() != nullptr ? revoked.reason()->str() : std::string();
  if (reason.empty()) reason = "no reason given";
  Status status = Status::PermissionDenied("this device was revoked: " + reason);
  // (1) Stop everything else. From here on app threads get `status`, so
  // nothing is queued behind FailAll()'s back.
  revoked_ = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    revoked_status_ = status;
  }
  cv_.notify_all();
  FinishStart(status);
  FailAll(status);
  hello_pending_ = false;
  stalled_.reset();
  for (auto& [conversation, cursor] : to_ack_) cursor->to_ack = false;
  to_ack_.clear();
  // (2) The application wipes its own copy (messages, media).
  RunCallback("on_revoked", options_.on_revoked, reason);
  // (3) The key is worthless now and must not linger on the device. The
  // broker's `wipe` flag is not needed for that: a revoked key never connects
  // again, so the profile goes in any case.
  if (!profile_.dir.empty()) {
    Status wiped = Profile::Wipe(profile_.dir);
    if (!wiped.ok()) {
      LOG_ERROR() << "libchatpro: the revoked device's profile was not wiped: "
                  << wiped.message();
      status = Status::PermissionDenied(status.message() + " (" + wiped.message() + ")");
    }
  }
  // (4) Tell the broker, on this connection: the only thing it still takes
  // from us. The socket closes (after a short linger) when the loop ends.
  if (handshake_ok_) {
    FrameWriter w(256);
    w.AddConfirmWipe(next_request_id_++);
    zmq::message_t m = ToMessage(w.Finish());
    if (dealer_->send(m, zmq::send_flags::dontwait)) {
      dealer_->set(zmq::sockopt::linger, kConfirmWipeLingerMs);
    } else {
      LOG_WARNING() << "libchatpro: could not confirm the wipe to the broker (the connection "
                       "is full)";
    }
  }
  // (5) Final state.
  SetState(ConnectionState::kRevoked, status);
}

ClientImpl::DeliveryCursor& ClientImpl::CursorFor(std::uint64_t conversation_id) {
  if (cached_cursor_ == nullptr || cached_conversation_ != conversation_id) {
    cached_cursor_ = &cursors_[conversation_id];
    cached_conversation_ = conversation_id;
  }
  return *cached_cursor_;
}

void ClientImpl::MarkToAck(std::uint64_t conversation_id, DeliveryCursor& cursor) {
  if (cursor.to_ack) return;
  cursor.to_ack = true;
  to_ack_.emplace_back(conversation_id, &cursor);
}

const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ClientImpl::TakeAckCursors() {
  ack_cursors_.clear();
  for (auto& [conversation, cursor] : to_ack_) {
    ack_cursors_.emplace_back(conversation, cursor->last_seq);
    cursor->to_ack = false;
  }
  to_ack_.clear();
  std::sort(ack_cursors_.begin(), ack_cursors_.end());
  return ack_cursors_;
}

std::size_t ClientImpl::LowerBound(std::uint64_t client_msg_id) const {
  std::size_t lo = 0;
  std::size_t hi = unacked_.size();
  while (lo < hi) {
    std::size_t mid = lo + (hi - lo) / 2;
    if (unacked_[mid].client_msg_id < client_msg_id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

ClientImpl::OutgoingSend* ClientImpl::FindUnacked(std::uint64_t client_msg_id) {
  if (unacked_.empty()) return nullptr;
  // Acks come in the order of the sends, mostly: the front first.
  OutgoingSend* s = &unacked_.front();
  if (s->client_msg_id != client_msg_id) {
    std::size_t i = LowerBound(client_msg_id);
    if (i == unacked_.size()) return nullptr;
    s = &unacked_[i];
    if (s->client_msg_id != client_msg_id) return nullptr;
  }
  return s->answered ? nullptr : s;
}

ClientImpl::OutgoingSend* ClientImpl::FindSendByRequest(std::uint64_t request_id) {
  if ((request_id & kRequestIdBit) == 0) return FindUnacked(request_id);
  if (!high_send_ids_) return nullptr;
  // Only for sends whose ids reach kRequestIdBit: never in practice.
  for (std::size_t i = 0; i < unacked_.size(); ++i) {
    OutgoingSend& s = unacked_[i];
    if (s.request_id == request_id && !s.answered) return &s;
  }
  return nullptr;
}

void ClientImpl::CompleteSend(OutgoingSend& send, SendResult result) {
  send.answered = true;
  result.client_msg_id = send.client_msg_id;
  std::function<void(const SendResult&)> done = std::move(send.done);
  send.content = Content();  // an answered send in the middle holds no payload
  // The callback first: Flush() promises that every callback has run.
  RunCallback("send", done, result);
  ++completed_sends_;
  // Callbacks cannot reach unacked_ (it belongs to this thread), so `send`
  // was not moved; only from here on may it go.
  while (!unacked_.empty() && unacked_.front().answered) unacked_.pop_front();
}

void ClientImpl::PublishCompletedSends() {
  if (completed_sends_ == 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_sends_ -= std::min(in_flight_sends_, completed_sends_);
  }
  completed_sends_ = 0;
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
  FrameWriter w(frame_bytes_hint_);
  const std::size_t budget = static_cast<std::size_t>(max_frame_bytes()) -
                             std::min<std::size_t>(max_frame_bytes() / 2, 4096);
  std::size_t used = 0;
  std::size_t batch = 0;

  if (hello_pending_) {
    hello_pending_ = false;
    hello_request_id_ = next_request_id_++;
    w.AddHello(hello_request_id_, options_.client_version, options_.receive);
  }
  if (!to_ack_.empty()) {
    const auto& cursors = TakeAckCursors();
    w.AddAck(cursors);
    used += kEnvelopeOverheadBytes + 16 * cursors.size();
  }
  // Resends come before anything new, so the broker sees the original order.
  // Nothing joins unacked_ while resending_, so its end is where they stop.
  if (resending_) {
    for (std::size_t i = LowerBound(resend_from_id_); batch < options_.max_batch; ++i) {
      if (i == unacked_.size()) {
        resending_ = false;
        break;
      }
      const OutgoingSend& s = unacked_[i];
      if (s.answered) continue;
      if (batch > 0 && used + s.wire_bytes > budget) break;
      w.AddSend(s.request_id, s.client_msg_id, s.to, s.content, s.options);
      used += s.wire_bytes;
      ++batch;
      resend_from_id_ = s.client_msg_id + 1;
    }
  }
  if (!resending_) {
    if (staged_pos_ == staged_.size()) {
      // Take the whole queue in one swap; the app threads get the empty
      // vector (with its capacity) back.
      staged_.clear();
      staged_pos_ = 0;
      std::lock_guard<std::mutex> lock(mutex_);
      staged_.swap(commands_);
    }
    std::int64_t now = 0;
    while (staged_pos_ < staged_.size() && batch < options_.max_batch) {
      Command& c = staged_[staged_pos_];
      if (batch > 0 && used + c.wire_bytes() > budget) break;
      ++staged_pos_;
      if (!c.request) {
        OutgoingSend& s = c.send;
        w.AddSend(s.request_id, s.client_msg_id, s.to, s.content, s.options);
        used += s.wire_bytes;
        ++batch;
        CHATPRO_CHECK(unacked_.empty() || unacked_.back().client_msg_id < s.client_msg_id,
                      "sends are queued in the order of their ids");
        if (s.request_id != s.client_msg_id) high_send_ids_ = true;
        unacked_.push_back(std::move(s));
        continue;
      }
      Request& r = *c.request;
      if (now == 0) now = MonotonicMicros();
      if (r.deadline_us != 0 && r.deadline_us <= now) {
        RunCallback("request", r.on_fail,
                    Status::Unavailable("no answer from the broker at " + profile_.endpoint +
                                        " within the request timeout"));
        continue;
      }
      r.write(w, r.request_id);
      used += r.wire_bytes;
      ++batch;
      requests_[r.request_id] =
          PendingRequest{std::move(r.on_reply), std::move(r.on_fail), r.deadline_us};
    }
  }
  if (w.envelope_count() == 0 && MonotonicMicros() - last_write_us_ >= kPingAfterUs) {
    w.AddPing(next_request_id_++);
  }
  if (w.envelope_count() == 0) return false;
  *out = ToMessage(w.Finish());
  frame_bytes_hint_ = std::min(out->size() + out->size() / 8, kMaxFrameHint);
  return true;
}

}  // namespace chatpro::client::internal
