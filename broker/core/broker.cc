// SPDX-License-Identifier: Apache-2.0
//
// The broker's lifecycle, sessions, frame decoding, sending and delivery.
// Requests other than Send and Ack are in broker_requests.cc.
#include "broker/core/broker.h"

#include <algorithm>
#include <cstring>

#include "broker/base/encoding.h"
#include "broker/base/invite.h"
#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/core/records.h"
#include "broker/core/store_format.h"
#include "broker/crypto/keys.h"
#include "schemas/vectors.h"

namespace chatpro::core {
namespace {

constexpr std::string_view kServerVersion = "chatpro-broker/0.1.0";
// A session's deliveries go out in frames of about this size.
constexpr std::size_t kDeliveryFrameBytes = 256 << 10;
// Replies a full pipe refused, kept for retry, before the session is dropped.
constexpr std::size_t kMaxUnsentReplyFrames = 256;
// After a full pipe, wait this long before pushing to the session again.
constexpr std::int64_t kSlowConsumerPauseUs = 200'000;
// In `os` durability, batches up to this size are written on the event-loop
// thread when the commit thread is idle.
constexpr std::size_t kInlineBatchMessages = 64;
constexpr std::uint64_t kInlineBatchBytes = 64 << 10;
// Cursor moves are written at least this often even without other writes.
constexpr std::int64_t kCursorFlushUs = 200'000;
// How often the offline backlog gauge is recomputed (it reads every cursor).
constexpr std::int64_t kBacklogIntervalUs = 15'000'000;

int ContentIndex(wire::Content type) {
  switch (type) {
    case wire::Content::Voice: return 1;
    case wire::Content::Picture: return 2;
    case wire::Content::Edit: return 3;
    case wire::Content::Deletion: return 4;
    default: return 0;
  }
}

// The content index of a stored wire::Message. Its bytes were written by the
// broker (BuildMessage) or read back from the store, so they are not verified
// again; a misaligned view is copied first.
int StoredContentIndex(std::string_view bytes) {
  const char* data = bytes.data();
  std::string copy;
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    copy.assign(bytes);
    data = copy.data();
  }
  return ContentIndex(flatbuffers::GetRoot<wire::Message>(data)->content_type());
}

std::size_t VectorSize(const flatbuffers::Vector<std::uint8_t>* v) {
  return v == nullptr ? 0 : v->size();
}

}  // namespace

Broker::Broker(const CoreOptions& options, Durability durability, ServerIdentity identity,
               MessageStore* store, const Clock* clock)
    : options_(options),
      durability_(durability),
      identity_(std::move(identity)),
      store_(store),
      clock_(clock),
      client_ids_(store),
      audit_(clock),
      message_fbb_(1024) {}

Broker::~Broker() { Stop(); }

Status Broker::Open() {
  // The format first: nothing else is read from a store this broker cannot
  // read. The audit log is loaded before the migrations, which record
  // themselves in it.
  CHATPRO_ASSIGN_OR_RETURN(int format, ReadStoreFormat(*store_));
  CHATPRO_RETURN_IF_ERROR(CheckStoreFormat(format));
  if (format == 0) {
    WriteBatch b;
    InitStoreFormat(&b);
    CHATPRO_RETURN_IF_ERROR(store_->Write(b, true));
  }
  CHATPRO_RETURN_IF_ERROR(audit_.Load(*store_));
  if (format != 0 && format < kStoreFormat) {
    LOG_INFO() << "the store has format " << format << "; migrating it to format " << kStoreFormat;
    Result<std::vector<const StoreMigration*>> steps =
        MigrateStore(*store_, format, [this](const StoreMigration& step, WriteBatch* batch) {
          LOG_INFO() << "migrating the store from format " << step.from << " to " << step.from + 1
                     << ": " << step.what;
          audit_.Append(AuditActor{}, "store.migrate", "store",
                        JsonObject()
                            .Add("from", step.from)
                            .Add("to", step.from + 1)
                            .Add("change", step.what)
                            .Add("broker", kServerVersion)
                            .str(),
                        batch);
        });
    // A failed step leaves the store at the format of the last step done.
    if (!steps.ok()) return steps.status().WithContext("migrating the store");
  }
  store_format_ = kStoreFormat;
  CHATPRO_ASSIGN_OR_RETURN(store_id_, ReadStoreId(*store_));
  CHATPRO_RETURN_IF_ERROR(directory_.Load(*store_));
  CHATPRO_RETURN_IF_ERROR(conversations_.Load(*store_));
  CHATPRO_RETURN_IF_ERROR(holds_.Load(*store_));
  CHATPRO_RETURN_IF_ERROR(cases_.Load(*store_));
  CHATPRO_RETURN_IF_ERROR(schedules_.Load(*store_));
  CHATPRO_RETURN_IF_ERROR(store_->ScanRecords(
      RecordKind::kReport, "", [this](std::string_view key, std::string_view) {
        if (key.size() == 8) next_report_id_ = std::max(next_report_id_, ReadBigEndian64(key) + 1);
        return true;
      }));
  LOG_INFO() << "store opened (format " << store_format_ << ", id " << store_id_
             << "): " << directory_.user_count() << " users, " << conversations_.size()
             << " conversations";
  return Status::Ok();
}

Result<std::string> Broker::CreateBootstrapInvite(std::string_view admin_login) {
  WriteBatch b;
  const User* user = directory_.FindUserByLogin(admin_login);
  std::int64_t now = clock_->NowMicros();
  if (user == nullptr) {
    CHATPRO_ASSIGN_OR_RETURN(user, directory_.AddUser(admin_login, admin_login, Role::Admin, now, &b));
  } else if (user->role != Role::Admin) {
    return Status::FailedPrecondition("user '" + std::string(admin_login) +
                                      "' exists and is not an administrator");
  } else if (!user->active) {
    return Status::FailedPrecondition("administrator '" + std::string(admin_login) +
                                      "' was deactivated; another administrator can reactivate them");
  }
  audit_.Append(AuditActor{}, "user.bootstrap_invite", "user:" + user->login,
                JsonObject().Add("role", "admin").str(), &b);
  std::string code = crypto::NewEnrollmentCode();
  crypto::KeyPair kp = crypto::DeriveEnrollmentKeyPair(code);
  directory_.AddEnrollment(user->id, kp.public_key, now, now + options_.invite_ttl_us, &b);
  CHATPRO_RETURN_IF_ERROR(store_->Write(b, true));
  return FormatInvite({identity_.public_address, identity_.public_key, code});
}

std::string Broker::WebLinkFor(std::string_view invite) const {
  if (web_chat_url_.empty()) return {};
  Result<Invite> parsed = ParseInvite(invite);
  if (!parsed.ok()) return {};
  // The code is upper-case letters and digits: nothing to escape.
  return web_chat_url_ + "/#invite=" + parsed->code;
}

Result<std::string> Broker::MakeInvite(UserId user) {
  std::string code = crypto::NewEnrollmentCode();
  crypto::KeyPair kp = crypto::DeriveEnrollmentKeyPair(code);
  std::int64_t now = clock_->NowMicros();
  directory_.AddEnrollment(user, kp.public_key, now, now + options_.invite_ttl_us,
                           &Batch().writes);
  return FormatInvite({identity_.public_address, identity_.public_key, code});
}

void Broker::Start(Transport* transport, Waker* waker) {
  transport_ = transport;
  waker_ = waker;
  pipeline_ = std::make_unique<CommitPipeline>(store_, durability_ == Durability::kFsync, waker,
                                               clock_);
  pipeline_->Start();
}

void Broker::Stop() {
  if (pipeline_ == nullptr) return;
  StopRetention();
  StopExports();
  StopBackup();
  FinishOffboardings(true);
  if (!dirty_cursors_.empty()) Batch();
  SubmitBatch();
  pipeline_->Stop();
  for (auto& b : pipeline_->TakeCompleted()) Complete(*b);
  Flush();
  pipeline_.reset();
  std::uint64_t accepted = 0;
  for (const auto& n : stats_.messages_accepted) accepted += n.load();
  std::uint64_t frames = stats_.frames_received.load();
  std::uint64_t batches = stats_.batches_committed.load();
  LOG_INFO() << "served " << frames << " frames carrying " << accepted << " messages ("
             << (frames ? accepted / frames : 0) << " per frame), stored in " << batches
             << " write batches (" << (batches ? stats_.batch_messages_committed.load() / batches : 0)
             << " messages per batch); delivered " << stats_.deliveries_live.load() << " live, "
             << stats_.deliveries_catch_up.load() << " from the store; in the broker, send to ack p50 "
             << stats_.send_latency.Quantile(0.5) << " us p99 " << stats_.send_latency.Quantile(0.99)
             << " us, send to live delivery p50 " << stats_.delivery_latency.Quantile(0.5)
             << " us p99 " << stats_.delivery_latency.Quantile(0.99) << " us (bucket bounds)";
}

// ------------------------------------------------------------------ auth, sessions

AuthDecision Broker::Authenticate(std::string_view public_key, std::string_view address,
                                  KeyKind kind) {
  AuthDecision d;
  std::string addr(address);
  if (options_.connections_per_address != 0) {
    auto open = sessions_per_address_.find(addr);
    if (open != sessions_per_address_.end() && open->second >= options_.connections_per_address) {
      ReapGoneSessions(addr);
      open = sessions_per_address_.find(addr);
    }
    if (open != sessions_per_address_.end() && open->second >= options_.connections_per_address) {
      stats_.connections_refused.fetch_add(1, std::memory_order_relaxed);
      d.reason = "too many connections from this address";
      NoteAuthFailure(address, d.reason, /*unknown_key=*/false);
      return d;
    }
  }
  if (const Device* device = directory_.FindDeviceByKey(public_key, kind)) {
    const User* user = directory_.FindUser(device->user);
    if (device->active && user != nullptr && user->active) {
      d.allowed = true;
      d.user_id = "d:" + std::to_string(device->id.value());
      return d;
    }
    d.reason = "device revoked";
    NoteAuthFailure(address, d.reason, /*unknown_key=*/false);
    return d;
  } else {
    // A key the broker does not know as a device: an invite, or a guess. An
    // address that keeps presenting unknown keys may not try more for a while.
    auto failures = auth_failures_.find(addr);
    std::int64_t now_mono = clock_->MonotonicMicros();
    bool locked = failures != auth_failures_.end() && failures->second.locked_until_mono_us > now_mono;
    if (locked) {
      d.reason = "too many refused handshakes from this address; try again later";
    } else if (kind == KeyKind::Curve25519 &&
               directory_.FindEnrollment(public_key, clock_->NowMicros()) != nullptr) {
      d.allowed = true;
      d.user_id = "e:" + HexEncode(public_key);
      return d;
    } else {
      d.reason = "unknown key";
    }
  }
  NoteAuthFailure(address, d.reason, /*unknown_key=*/true);
  return d;
}

void Broker::ReapGoneSessions(const std::string& address) {
  if (transport_ == nullptr) return;
  const std::int64_t now = clock_->MonotonicMicros();
  AuthFailures& f = auth_failures_[address];
  if (f.last_reap_mono_us != 0 && now - f.last_reap_mono_us < kMicrosPerSecond) return;
  f.last_reap_mono_us = now;
  std::vector<ConnectionId> gone;
  for (const auto& [id, s] : sessions_) {
    if (s->address != address) continue;
    // A frame without envelopes: a client reads nothing in it.
    flatbuffers::DetachedBuffer probe = FrameWriter().Finish();
    if (transport_->Send(id, &probe) == SendOutcome::kGone) gone.push_back(id);
  }
  for (ConnectionId id : gone) DropSession(id, true);
  if (!gone.empty()) {
    LOG_DEBUG() << "dropped " << gone.size() << " sessions from " << address
                << " whose peers had gone";
  }
}

void Broker::NoteAuthFailure(std::string_view address, std::string_view reason,
                             bool unknown_key) {
  stats_.auth_refused.fetch_add(1, std::memory_order_relaxed);
  std::int64_t now = clock_->MonotonicMicros();
  AuthFailures& f = auth_failures_[std::string(address)];
  if (now - f.window_start_mono_us > 60 * kMicrosPerSecond) {
    f.window_start_mono_us = now;
    f.in_window = 0;
  }
  // Only unknown keys (guesses at invites) count towards the lockout: a
  // revoked phone that keeps reconnecting from an office's address must not
  // lock that address out of enrolling.
  if (unknown_key) ++f.in_window;
  if (options_.auth_failures_per_minute != 0 && f.in_window > options_.auth_failures_per_minute &&
      f.locked_until_mono_us <= now) {
    f.locked_until_mono_us = now + 5 * 60 * kMicrosPerSecond;
    LOG_WARNING() << "address " << address << " refused " << f.in_window
                  << " times within a minute; it may not present new keys for 5 minutes";
  }
  // One audit entry per address and minute, counting the refusals in between,
  // so that a flood cannot fill the audit log.
  ++f.unaudited;
  if (now - f.last_audit_mono_us >= 60 * kMicrosPerSecond || f.last_audit_mono_us == 0) {
    audit_.Append(AuditActor{}, "auth.refused", "address:" + std::string(address),
                  JsonObject()
                      .Add("reason", reason)
                      .Add("refusals", f.unaudited)
                      .Add("locked", f.locked_until_mono_us > now)
                      .str(),
                  &Batch().writes);
    f.last_audit_mono_us = now;
    f.unaudited = 0;
    LOG_INFO() << "refused a connection from " << address << ": " << reason;
  }
}

Broker::Session* Broker::SessionFor(ConnectionId connection, std::string_view user_id,
                                    std::string_view peer_address) {
  auto it = sessions_.find(connection);
  if (it != sessions_.end()) return it->second.get();
  auto s = std::make_unique<Session>();
  s->connection = connection;
  s->address = std::string(peer_address.substr(0, 64));
  s->last_seen_mono_us = clock_->MonotonicMicros();
  s->last_seen_us = clock_->NowMicros();
  if (user_id.substr(0, 2) == "d:") {
    std::uint64_t id = 0;
    for (char c : user_id.substr(2)) {
      if (c < '0' || c > '9') return nullptr;
      id = id * 10 + static_cast<std::uint64_t>(c - '0');
    }
    const Device* d = directory_.FindDevice(DeviceId(id));
    if (d == nullptr) return nullptr;
    s->device = d->id;
    s->user = d->user;
    const User* u = directory_.FindUser(d->user);
    // Authenticated before a revocation that got here first: the device is
    // told at once, like its other sessions were.
    if (!d->active || u == nullptr || !u->active) s->revoked = true;
  } else if (user_id.substr(0, 2) == "e:") {
    auto key = HexDecode(user_id.substr(2));
    if (!key) return nullptr;
    s->enrollment_key = *key;
    s->receive = false;
  } else if (user_id.substr(0, 2) == "c:") {
    // Only the in-process route presents these (network user ids come from
    // ZAP). Whether the user exists and is active is checked per request, so
    // that a deactivation refuses the session's next request.
    std::string_view digits = user_id.substr(2);
    if (digits.empty() || digits.size() > 19) return nullptr;
    std::uint64_t id = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return nullptr;
      id = id * 10 + static_cast<std::uint64_t>(c - '0');
    }
    s->user = UserId(id);
    s->console = true;
    s->receive = false;
  } else if (user_id == "s:console") {
    s->console_service = true;
    s->receive = false;
  } else {
    return nullptr;
  }
  Session* raw = s.get();
  sessions_[connection] = std::move(s);
  stats_.sessions.fetch_add(1, std::memory_order_relaxed);
  ++sessions_per_address_[raw->address];
  if (raw->revoked) {
    raw->receive = false;
    raw->revoked_mono_us = raw->last_seen_mono_us;
    auto body = wire::CreateRevoked(raw->replies.builder(),
                                    raw->replies.builder().CreateString("this device was revoked"));
    raw->replies.AddEnvelope(0, wire::Body::Revoked, body.Union());
    MarkDirty(*raw);
  } else if (raw->device.valid()) {
    raw->counted_device = true;
    stats_.devices_connected.fetch_add(1, std::memory_order_relaxed);
    PresenceMayChange(raw->user);
    online_[raw->user].push_back(raw);
    LoadDeviceCursors(*raw);
    raw->needs_pump = true;
    pump_list_.push_back(connection);
    directory_.TouchDevice(raw->device, raw->last_seen_us, raw->address, &Batch().writes);
  }
  return raw;
}

void Broker::LoadDeviceCursors(Session& s) {
  DeviceCursors& dc = device_cursors_[s.device];
  if (dc.sessions++ > 0) return;
  offline_acked_.erase(s.device);
  std::string prefix = store_keys::U64Key(s.device.value());
  Status st = store_->ScanRecords(RecordKind::kCursor, prefix,
                                  [&](std::string_view key, std::string_view value) {
                                    if (key.size() != 16 || key.substr(0, 8) != prefix) return false;
                                    if (value.size() != 8) return true;
                                    ConversationId c(ReadBigEndian64(key.substr(8)));
                                    Seq& seq = dc.acked[c];
                                    seq = std::max(seq, ReadBigEndian64(value));
                                    return true;
                                  });
  if (!st.ok()) LOG_ERROR() << "cannot read the cursors of device " << s.device << ": " << st;
  // Cursor moves not yet written are newer than what the store has.
  for (auto it = dirty_cursors_.lower_bound({s.device, ConversationId()});
       it != dirty_cursors_.end() && it->first.first == s.device; ++it) {
    Seq& seq = dc.acked[it->first.second];
    seq = std::max(seq, it->second);
  }
}

void Broker::UpdateOfflineBacklog() {
  if (!offline_acked_loaded_) {
    // Once: every stored cursor of a device without a session, with the moves
    // not yet written over them. From then on DropSession and
    // LoadDeviceCursors keep the map, so no later run reads the store.
    Status st = store_->ScanRecords(
        RecordKind::kCursor, "", [&](std::string_view key, std::string_view value) {
          if (key.size() != 16 || value.size() != 8) return true;
          DeviceId device(ReadBigEndian64(key.substr(0, 8)));
          if (device_cursors_.count(device) != 0) return true;  // connected
          Seq& seq = offline_acked_[device][ConversationId(ReadBigEndian64(key.substr(8)))];
          seq = std::max(seq, ReadBigEndian64(value));
          return true;
        });
    if (!st.ok()) {
      LOG_WARNING() << "cannot read the cursors for the offline backlog: " << st;
      offline_acked_.clear();
      return;
    }
    for (const auto& [key, seq] : dirty_cursors_) {
      if (device_cursors_.count(key.first) != 0) continue;
      Seq& s = offline_acked_[key.first][key.second];
      s = std::max(s, seq);
    }
    offline_acked_loaded_ = true;
  }
  std::uint64_t backlog = 0;
  for (const User* user : directory_.Users()) {
    if (!user->active) continue;
    for (DeviceId id : user->devices) {
      const Device* device = directory_.FindDevice(id);
      if (device == nullptr || !device->active) continue;
      if (device_cursors_.count(id) != 0) continue;  // connected: not offline
      auto device_acked = offline_acked_.find(id);
      for (ConversationId cid : conversations_.ConversationsOf(user->id)) {
        const Conversation* c = conversations_.Find(cid);
        if (c == nullptr) continue;
        Seq from = 0;
        for (const Membership& m : c->members) {
          if (m.user == user->id) from = m.joined_seq;
        }
        if (device_acked != offline_acked_.end()) {
          auto a = device_acked->second.find(cid);
          if (a != device_acked->second.end()) from = std::max(from, a->second);
        }
        if (c->committed_seq > from) backlog += c->committed_seq - from;
      }
    }
  }
  stats_.offline_backlog.store(backlog, std::memory_order_relaxed);
}

void Broker::DropSession(ConnectionId connection, bool tell_transport) {
  auto it = sessions_.find(connection);
  if (it == sessions_.end()) return;
  Session* s = it->second.get();
  if (s->device.valid() && !s->revoked) {
    DetachOnline(*s);
    directory_.TouchDevice(s->device, s->last_seen_us, s->address, &Batch().writes);
  }
  if (s->revoked) {
    // The offboarding's record says when the last of its sessions really closed.
    for (Offboarding& o : offboardings_) {
      if (std::find(o.devices.begin(), o.devices.end(), s->device) != o.devices.end()) {
        o.last_session_closed_at_us = clock_->NowMicros();
      }
    }
  }
  auto per_address = sessions_per_address_.find(s->address);
  if (per_address != sessions_per_address_.end() && --per_address->second == 0) {
    sessions_per_address_.erase(per_address);
  }
  if (s->counted_device) stats_.devices_connected.fetch_sub(1, std::memory_order_relaxed);
  sessions_.erase(it);
  stats_.sessions.fetch_sub(1, std::memory_order_relaxed);
  if (tell_transport && transport_ != nullptr) transport_->Forget(connection);
}

void Broker::DetachOnline(Session& s) {
  PresenceMayChange(s.user);
  auto online = online_.find(s.user);
  if (online != online_.end()) {
    auto& list = online->second;
    list.erase(std::remove(list.begin(), list.end(), &s), list.end());
    if (list.empty()) online_.erase(online);
  }
  auto dc = device_cursors_.find(s.device);
  if (dc != device_cursors_.end() && --dc->second.sessions <= 0) {
    // Its cursors stay as they are until it connects again.
    if (offline_acked_loaded_) offline_acked_[s.device] = std::move(dc->second.acked);
    device_cursors_.erase(dc);
  }
}

void Broker::MarkDirty(Session& s) {
  if (!s.dirty) {
    s.dirty = true;
    dirty_sessions_.push_back(s.connection);
  }
}

void Broker::CountError(StatusCode code) {
  stats_.errors[static_cast<int>(code)].fetch_add(1, std::memory_order_relaxed);
}

void Broker::ReplyError(Session& s, std::uint64_t rid, const Status& status) {
  CountError(status.code());
  s.replies.AddError(rid, status);
  MarkDirty(s);
}

// ------------------------------------------------------------------ frames

void Broker::OnFrame(ConnectionId connection, std::string_view user_id,
                     std::string_view peer_address, const std::uint8_t* data, std::size_t size) {
  stats_.frames_received.fetch_add(1, std::memory_order_relaxed);
  Session* s = SessionFor(connection, user_id, peer_address);
  if (s == nullptr) {
    // The key was accepted at the handshake but is no longer valid (revoked,
    // or an invite used up meanwhile).
    CountError(StatusCode::kPermissionDenied);
    FrameWriter w;
    w.AddError(0, Status::PermissionDenied("this device is not enrolled or was revoked"));
    flatbuffers::DetachedBuffer frame = w.Finish();
    if (transport_ != nullptr) {
      transport_->Send(connection, &frame);
      transport_->Forget(connection);
    }
    return;
  }
  s->last_seen_mono_us = clock_->MonotonicMicros();
  s->last_seen_us = clock_->NowMicros();

  // FlatBuffers reads scalars in place: a frame must start 8-byte aligned.
  // ZeroMQ keeps small messages inside its message struct, which may not be.
  // An empty frame has nothing to copy (and memcpy from it into an empty
  // vector's null buffer is undefined behaviour).
  if (size > 0 && reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    aligned_frame_.resize((size + 7) / 8);
    std::memcpy(aligned_frame_.data(), data, size);
    data = reinterpret_cast<const std::uint8_t*>(aligned_frame_.data());
  }
  if (size > MaxFrameBytes()) {
    // Only reachable when the transport's own cut is looser than ours.
    ReplyError(*s, 0,
               Status::ResourceExhausted("a frame of " + std::to_string(size) +
                                         " bytes exceeds the limit of " +
                                         std::to_string(MaxFrameBytes()) + " bytes"));
    return;
  }
  flatbuffers::Verifier verifier(data, size, /*max_depth=*/32, /*max_tables=*/1'000'000);
  if (size < 8 || !wire::FrameBufferHasIdentifier(data)) {
    ReplyError(*s, 0, Status::InvalidArgument("the frame is not a ChatPro frame"));
    return;
  }
  if (!wire::VerifyFrameBuffer(verifier)) {
    ReplyError(*s, 0, Status::InvalidArgument("the frame failed FlatBuffers verification"));
    return;
  }
  const wire::Frame* frame = wire::GetFrame(data);
  if (frame->protocol_version() != kProtocolVersion) {
    ReplyError(*s, 0,
               Status::FailedPrecondition("protocol version " +
                                          std::to_string(frame->protocol_version()) +
                                          " is not supported; this broker speaks version " +
                                          std::to_string(kProtocolVersion)));
    return;
  }
  if (frame->envelopes() == nullptr) return;
  for (const wire::Envelope* e : *frame->envelopes()) {
    Dispatch(*s, *e);
    // A request may have dropped the session (it cannot today, but keep the
    // loop honest if one ever does).
    if (sessions_.find(connection) == sessions_.end()) return;
  }
}

void Broker::Dispatch(Session& s, const wire::Envelope& e) {
  std::uint64_t rid = e.request_id();
  wire::Body type = e.body_type();
  if (s.revoked) {
    if (type == wire::Body::ConfirmWipe) return HandleConfirmWipe(s, rid);
    return ReplyError(s, rid, Status::PermissionDenied("this device was revoked"));
  }
  // The verifier accepts a union whose type is set and whose value is absent;
  // every handler below reads its body, so such a request is refused here.
  if (type != wire::Body::NONE && static_cast<int>(type) <= static_cast<int>(wire::Body::MAX) &&
      e.body() == nullptr) {
    return ReplyError(s, rid,
                      Status::InvalidArgument("the envelope names a " +
                                              std::string(wire::EnumNameBody(type)) +
                                              " but holds none"));
  }
  if (s.console) return DispatchConsole(s, e);
  if (s.console_service) return DispatchConsoleService(s, e);
  if (!s.device.valid()) {
    if (type == wire::Body::Enroll) {
      HandleEnroll(s, rid, *e.body_as_Enroll());
    } else if (type == wire::Body::Ping) {
      auto body = wire::CreatePong(s.replies.builder(), clock_->NowMicros());
      s.replies.AddEnvelope(rid, wire::Body::Pong, body.Union());
      MarkDirty(s);
    } else {
      ReplyError(s, rid, Status::PermissionDenied("this connection may only enroll a device"));
    }
    return;
  }
  DispatchUser(s, e);
}

void Broker::DispatchUser(Session& s, const wire::Envelope& e) {
  std::uint64_t rid = e.request_id();
  wire::Body type = e.body_type();
  switch (type) {
    case wire::Body::Send: return HandleSend(s, rid, *e.body_as_Send());
    case wire::Body::Ack: return HandleAck(s, *e.body_as_Ack());
    case wire::Body::Hello: return HandleHello(s, rid, *e.body_as_Hello());
    case wire::Body::Ping: {
      auto body = wire::CreatePong(s.replies.builder(), clock_->NowMicros());
      s.replies.AddEnvelope(rid, wire::Body::Pong, body.Union());
      MarkDirty(s);
      return;
    }
    case wire::Body::History: return HandleHistory(s, rid, *e.body_as_History());
    case wire::Body::OpenDirect: return HandleOpenDirect(s, rid, *e.body_as_OpenDirect());
    case wire::Body::CreateGroup: return HandleCreateGroup(s, rid, *e.body_as_CreateGroup());
    case wire::Body::AddMembers: return HandleAddMembers(s, rid, *e.body_as_AddMembers());
    case wire::Body::RemoveMember: return HandleRemoveMember(s, rid, *e.body_as_RemoveMember());
    case wire::Body::LeaveGroup: return HandleLeaveGroup(s, rid, *e.body_as_LeaveGroup());
    case wire::Body::ListConversations: return HandleListConversations(s, rid);
    case wire::Body::CreateInvite: return HandleCreateInvite(s, rid, *e.body_as_CreateInvite());
    case wire::Body::Directory: return HandleDirectory(s, rid);
    case wire::Body::AdminAddUser: return HandleAdminAddUser(s, rid, *e.body_as_AdminAddUser());
    case wire::Body::AdminListUsers: return HandleAdminListUsers(s, rid);
    case wire::Body::AdminListGroups: return HandleAdminListGroups(s, rid);
    case wire::Body::AdminDeactivateUser:
      return HandleAdminDeactivateUser(s, rid, *e.body_as_AdminDeactivateUser());
    case wire::Body::AdminReactivateUser:
      return HandleAdminReactivateUser(s, rid, *e.body_as_AdminReactivateUser());
    case wire::Body::ListDevices: return HandleListDevices(s, rid, *e.body_as_ListDevices());
    case wire::Body::RevokeDevice: return HandleRevokeDevice(s, rid, *e.body_as_RevokeDevice());
    case wire::Body::ConfirmWipe:
      return ReplyError(s, rid, Status::FailedPrecondition("this device is not revoked"));
    case wire::Body::Block: return HandleBlock(s, rid, e.body_as_Block()->login(), true);
    case wire::Body::Unblock: return HandleBlock(s, rid, e.body_as_Unblock()->login(), false);
    case wire::Body::ListBlocked: return HandleListBlocked(s, rid);
    case wire::Body::Report: return HandleReport(s, rid, *e.body_as_Report());
    case wire::Body::AdminListReports: return HandleAdminListReports(s, rid);
    case wire::Body::AdminListAudit: return HandleAdminListAudit(s, rid, *e.body_as_AdminListAudit());
    case wire::Body::AdminVerifyAudit: return HandleAdminVerifyAudit(s, rid);
    case wire::Body::AdminSetHold: return HandleAdminSetHold(s, rid, *e.body_as_AdminSetHold());
    case wire::Body::AdminLiftHold: return HandleAdminLiftHold(s, rid, *e.body_as_AdminLiftHold());
    case wire::Body::AdminListHolds: return HandleAdminListHolds(s, rid, *e.body_as_AdminListHolds());
    case wire::Body::AdminRetentionRun:
      return HandleAdminRetentionRun(s, rid, *e.body_as_AdminRetentionRun());
    case wire::Body::AdminListPlugins: return HandleAdminListPlugins(s, rid);
    case wire::Body::CaseOpen: return HandleCaseOpen(s, rid, *e.body_as_CaseOpen());
    case wire::Body::CaseApprove: return HandleCaseApprove(s, rid, *e.body_as_CaseApprove());
    case wire::Body::CaseList: return HandleCaseList(s, rid);
    case wire::Body::ExportStart: return HandleExportStart(s, rid, *e.body_as_ExportStart());
    case wire::Body::ExportStatus: return HandleExportStatus(s, rid, *e.body_as_ExportStatus());
    case wire::Body::ExportDownload: return HandleExportDownload(s, rid, *e.body_as_ExportDownload());
    case wire::Body::MyDataAccess: return HandleMyDataAccess(s, rid);
    case wire::Body::ScheduleGet: return HandleScheduleGet(s, rid, *e.body_as_ScheduleGet());
    case wire::Body::ScheduleSet: return HandleScheduleSet(s, rid, *e.body_as_ScheduleSet());
    case wire::Body::PresenceQuery: return HandlePresenceQuery(s, rid, *e.body_as_PresenceQuery());
    case wire::Body::AdminDisconnectReport:
      return HandleAdminDisconnectReport(s, rid, *e.body_as_AdminDisconnectReport());
    case wire::Body::AdminBackup:
      return HandleAdminBackup(s, rid, *e.body_as_AdminBackup());
    case wire::Body::AdminSetConsolePassword:
      return HandleAdminSetConsolePassword(s, rid, *e.body_as_AdminSetConsolePassword());
    case wire::Body::ConsoleCredentials:
    case wire::Body::ConsoleAudit:
      return ReplyError(s, rid,
                        Status::PermissionDenied(std::string(wire::EnumNameBody(type)) +
                                                 " is only for the console service"));
    case wire::Body::Goodbye:
      s.drop_after_send = true;  // what is queued for it still goes out first
      MarkDirty(s);
      return;
    case wire::Body::Enroll:
      return ReplyError(s, rid, Status::FailedPrecondition("this device is enrolled already"));
    case wire::Body::NONE:
      return ReplyError(s, rid, Status::InvalidArgument("the envelope has no request"));
    default:
      break;
  }
  if (static_cast<int>(type) > static_cast<int>(wire::Body::MAX)) {
    return ReplyError(s, rid,
                      Status::InvalidArgument("unknown request kind " +
                                              std::to_string(static_cast<int>(type))));
  }
  ReplyError(s, rid,
             Status::InvalidArgument(std::string(wire::EnumNameBody(type)) +
                                     " is sent by the broker, not to it"));
}

void Broker::HandleHello(Session& s, std::uint64_t rid, const wire::Hello& r) {
  bool was_receiving = s.receive;
  if (was_receiving != r.receive()) PresenceMayChange(s.user);
  s.receive = r.receive();
  if (!s.receive) {
    s.cursors.clear();
    s.in_flight_messages = 0;
    s.in_flight_bytes = 0;
    s.needs_pump = false;
  } else if (!was_receiving && !s.needs_pump) {
    s.needs_pump = true;
    pump_list_.push_back(s.connection);
  }
  if (r.client_version() != nullptr) {
    if (!IsValidUtf8(r.client_version()->string_view())) {
      return ReplyError(s, rid, Status::InvalidArgument("the client version is not valid UTF-8"));
    }
    directory_.SetClientVersion(s.device, r.client_version()->string_view(), &Batch().writes);
  }
  const User* u = directory_.FindUser(s.user);
  auto& fbb = s.replies.builder();
  auto version = fbb.CreateString(kServerVersion);
  auto login = fbb.CreateString(u->login);
  auto display = fbb.CreateString(u->display_name);
  Result<ClientMsgId> highest = client_ids_.HighestId(s.device);
  if (!highest.ok()) return ReplyError(s, rid, highest.status());
  auto body = wire::CreateHelloReply(
      fbb, kProtocolVersion, version, s.user.value(), login, display, u->role, s.device.value(),
      static_cast<std::uint32_t>(options_.max_text_bytes),
      static_cast<std::uint32_t>(options_.max_attachment_bytes),
      static_cast<std::uint32_t>(MaxFrameBytes()), *highest);
  s.replies.AddEnvelope(rid, wire::Body::HelloReply, body.Union());
  MarkDirty(s);
  LOG_DEBUG() << "session " << s.connection << ": " << u->login << " (device " << s.device.value()
              << ") said hello, " << (s.receive ? "receiving" : "send-only");
}

// ------------------------------------------------------------------ sending

Status Broker::CheckContent(const wire::Send& r) const {
  switch (r.content_type()) {
    case wire::Content::Text: {
      const wire::Text* t = r.content_as_Text();
      if (t->body() == nullptr || t->body()->size() == 0) {
        return Status::InvalidArgument("a text message needs a body");
      }
      if (t->body()->size() > options_.max_text_bytes) {
        return Status::ResourceExhausted("a text of " + std::to_string(t->body()->size()) +
                                         " bytes exceeds the limit of " +
                                         std::to_string(options_.max_text_bytes) + " bytes");
      }
      if (!IsValidUtf8(t->body()->string_view())) {
        return Status::InvalidArgument("the text is not valid UTF-8");
      }
      return Status::Ok();
    }
    case wire::Content::Voice: {
      const wire::Voice* v = r.content_as_Voice();
      if (VectorSize(v->audio()) == 0) return Status::InvalidArgument("a voice message needs audio");
      if (v->codec() == nullptr || v->codec()->size() == 0 || v->codec()->size() > 32) {
        return Status::InvalidArgument("a voice message names its codec (1 to 32 characters)");
      }
      if (VectorSize(v->audio()) > options_.max_attachment_bytes) {
        return Status::ResourceExhausted("a voice message of " +
                                         std::to_string(VectorSize(v->audio())) +
                                         " bytes exceeds the limit of " +
                                         std::to_string(options_.max_attachment_bytes) + " bytes");
      }
      return Status::Ok();
    }
    case wire::Content::Picture: {
      const wire::Picture* p = r.content_as_Picture();
      if (VectorSize(p->image()) == 0) return Status::InvalidArgument("a picture message needs an image");
      if (p->mime_type() == nullptr || p->mime_type()->size() > 64 ||
          p->mime_type()->string_view().substr(0, 6) != "image/") {
        return Status::InvalidArgument("a picture's MIME type starts with image/");
      }
      std::size_t total = VectorSize(p->image()) + VectorSize(p->thumbnail());
      if (total > options_.max_attachment_bytes) {
        return Status::ResourceExhausted("a picture of " + std::to_string(total) +
                                         " bytes exceeds the limit of " +
                                         std::to_string(options_.max_attachment_bytes) + " bytes");
      }
      if (p->width() > 100000 || p->height() > 100000) {
        return Status::InvalidArgument("a picture's width and height are at most 100000");
      }
      return Status::Ok();
    }
    case wire::Content::Edit: {
      const wire::Edit* e = r.content_as_Edit();
      if (e->target_seq() == 0) return Status::InvalidArgument("an edit names the message it changes");
      if (e->text() == nullptr || e->text()->size() == 0) {
        return Status::InvalidArgument("an edit needs the new text");
      }
      if (e->text()->size() > options_.max_text_bytes) {
        return Status::ResourceExhausted("an edit of " + std::to_string(e->text()->size()) +
                                         " bytes exceeds the limit of " +
                                         std::to_string(options_.max_text_bytes) + " bytes");
      }
      if (!IsValidUtf8(e->text()->string_view())) {
        return Status::InvalidArgument("the text is not valid UTF-8");
      }
      return Status::Ok();
    }
    case wire::Content::Deletion:
      if (r.content_as_Deletion()->target_seq() == 0) {
        return Status::InvalidArgument("a deletion names the message it withdraws");
      }
      return Status::Ok();
    case wire::Content::NONE:
      return Status::InvalidArgument("the message has no content");
    default:
      break;
  }
  return Status::InvalidArgument("unknown content kind " +
                                 std::to_string(static_cast<int>(r.content_type())));
}

std::string Broker::BuildMessage(const Conversation& c, Seq seq, const Session& s, ClientMsgId id,
                                 std::int64_t now_us, const wire::Send& r) {
  auto& fbb = message_fbb_;
  fbb.Clear();
  flatbuffers::Offset<void> content;
  switch (r.content_type()) {
    case wire::Content::Text: {
      auto body = fbb.CreateString(r.content_as_Text()->body());
      content = wire::CreateText(fbb, body).Union();
      break;
    }
    case wire::Content::Voice: {
      const wire::Voice* v = r.content_as_Voice();
      auto codec = fbb.CreateString(v->codec());
      auto audio = fbb.CreateVector(v->audio()->data(), v->audio()->size());
      content = wire::CreateVoice(fbb, codec, v->duration_ms(), audio).Union();
      break;
    }
    case wire::Content::Picture: {
      const wire::Picture* p = r.content_as_Picture();
      auto mime = fbb.CreateString(p->mime_type());
      auto image = fbb.CreateVector(p->image()->data(), p->image()->size());
      flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> thumb;
      if (p->thumbnail() != nullptr && p->thumbnail()->size() > 0) {
        thumb = fbb.CreateVector(p->thumbnail()->data(), p->thumbnail()->size());
      }
      content = wire::CreatePicture(fbb, mime, p->width(), p->height(), image, thumb).Union();
      break;
    }
    case wire::Content::Edit: {
      const wire::Edit* e = r.content_as_Edit();
      content = wire::CreateEdit(fbb, e->target_seq(), fbb.CreateString(e->text())).Union();
      break;
    }
    case wire::Content::Deletion:
      content = wire::CreateDeletion(fbb, r.content_as_Deletion()->target_seq()).Union();
      break;
    default:
      break;
  }
  auto login = fbb.CreateString(directory_.FindUser(s.user)->login);
  flatbuffers::Offset<flatbuffers::String> urgent_reason;
  if (r.urgent()) urgent_reason = fbb.CreateString(r.urgent_reason());
  fbb.Finish(wire::CreateMessage(fbb, c.id.value(), seq, s.user.value(), login, s.device.value(),
                                 id, now_us, r.content_type(), content,
                                 /*attachments_removed_at_us=*/0, r.urgent(), urgent_reason));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

Status Broker::CheckAmendment(const Session& s, const Conversation& c, const wire::Send& r) {
  bool edit = r.content_type() == wire::Content::Edit;
  Seq target = edit ? r.content_as_Edit()->target_seq() : r.content_as_Deletion()->target_seq();
  std::string original;
  if (target > c.next_seq) {
    return Status::NotFound("conversation " + std::to_string(c.id.value()) + " has no message " +
                            std::to_string(target));
  }
  if (target > c.committed_seq) {
    // Sent a moment ago and not yet stored: it is in the batch being filled.
    bool found = false;
    if (batch_ != nullptr) {
      for (const WriteBatch::Message& m : batch_->writes.messages) {
        if (m.conversation == c.id && m.seq == target) {
          original = m.bytes;
          found = true;
        }
      }
    }
    if (!found) return Status::Unavailable("that message is still being stored; try again");
  } else {
    Result<std::vector<StoredMessage>> read =
        store_->ReadMessages(c.id, target, 1, ReadDirection::kForward, ~std::uint64_t{0});
    if (!read.ok()) return read.status();
    if (read->empty() || read->front().seq != target) {
      return Status::NotFound("message " + std::to_string(target) + " no longer exists");
    }
    original = std::move(read->front().bytes);
  }
  std::string scratch;
  const wire::Message* m = VerifiedRecord<wire::Message>(original, &scratch);
  if (m == nullptr) return Status::DataLoss("message " + std::to_string(target) + " is damaged");
  if (UserId(m->sender_user_id()) != s.user) {
    return Status::PermissionDenied("only its sender may edit or delete a message");
  }
  if (m->content_type() == wire::Content::Edit || m->content_type() == wire::Content::Deletion) {
    return Status::InvalidArgument("an edit or deletion cannot itself be edited or deleted");
  }
  if (edit && m->content_type() != wire::Content::Text) {
    return Status::InvalidArgument("only text messages can be edited");
  }
  return Status::Ok();
}

std::uint64_t Broker::ContentBytes(const wire::Send& r) {
  switch (r.content_type()) {
    case wire::Content::Text: return r.content_as_Text()->body()->size();
    case wire::Content::Voice: return VectorSize(r.content_as_Voice()->audio());
    case wire::Content::Picture:
      return VectorSize(r.content_as_Picture()->image()) +
             VectorSize(r.content_as_Picture()->thumbnail());
    case wire::Content::Edit: return r.content_as_Edit()->text()->size();
    default: return 0;
  }
}

Status Broker::CheckNotBlocked(UserId sender, UserId recipient) const {
  if (directory_.IsBlocked(recipient, sender)) {
    return Status::PermissionDenied(directory_.FindUser(recipient)->login +
                                    " does not accept messages from you");
  }
  if (directory_.IsBlocked(sender, recipient)) {
    return Status::PermissionDenied("you blocked " + directory_.FindUser(recipient)->login +
                                    "; unblock them to write to them");
  }
  return Status::Ok();
}

Status Broker::ChargeRate(const Session& s, std::uint64_t bytes) {
  if (options_.rate_messages_per_second == 0 && options_.rate_bytes_per_second == 0) {
    return Status::Ok();
  }
  std::int64_t now = clock_->MonotonicMicros();
  auto [it, fresh] = rates_.try_emplace(s.device);
  RateBucket& b = it->second;
  if (fresh) {
    b.messages = options_.rate_message_burst;
    b.bytes = static_cast<double>(options_.rate_byte_burst);
  } else {
    double seconds = static_cast<double>(now - b.refilled_mono_us) / 1e6;
    b.messages = std::min<double>(options_.rate_message_burst,
                                  b.messages + seconds * options_.rate_messages_per_second);
    b.bytes = std::min<double>(static_cast<double>(options_.rate_byte_burst),
                               b.bytes + seconds * static_cast<double>(options_.rate_bytes_per_second));
  }
  b.refilled_mono_us = now;
  if (options_.rate_messages_per_second != 0 && b.messages < 1) {
    stats_.rate_limited.fetch_add(1, std::memory_order_relaxed);
    return Status::ResourceExhausted("rate limit: at most " +
                                     std::to_string(options_.rate_messages_per_second) +
                                     " messages per second from one device; slow down");
  }
  if (options_.rate_bytes_per_second != 0 && b.bytes < static_cast<double>(bytes)) {
    stats_.rate_limited.fetch_add(1, std::memory_order_relaxed);
    return Status::ResourceExhausted("rate limit: at most " +
                                     std::to_string(options_.rate_bytes_per_second) +
                                     " bytes per second from one device; slow down");
  }
  if (options_.rate_messages_per_second != 0) b.messages -= 1;
  if (options_.rate_bytes_per_second != 0) b.bytes -= static_cast<double>(bytes);
  return Status::Ok();
}

Status Broker::StorageRefusal() const {
  if (pipeline_ != nullptr && pipeline_->degraded()) {
    const Status error = pipeline_->last_error();
    if (error.code() == StatusCode::kResourceExhausted) {
      return Status::ResourceExhausted(
          "data directory full: the broker cannot store new messages until space is freed (" +
          error.message() + "); messages already acknowledged are safe");
    }
    return Status::Unavailable("the broker cannot store messages right now (" + error.message() +
                               "); try again later");
  }
  if (low_space_) {
    return Status::ResourceExhausted(
        "data directory full: " + std::to_string(low_space_free_bytes_) +
        " bytes free, below store.min_free (" + std::to_string(min_free_bytes_) +
        "); new messages are refused until space is freed");
  }
  return Status::Ok();
}

void Broker::CheckStorage(std::int64_t now_mono_us) {
  if (space_probe_ && min_free_bytes_ > 0 && now_mono_us >= next_space_check_mono_us_) {
    next_space_check_mono_us_ = now_mono_us + kMicrosPerSecond;
    const std::uint64_t free = space_probe_();
    const bool low = free < min_free_bytes_;
    if (low && !low_space_) {
      LOG_WARNING() << "data directory full: " << free << " bytes free, below store.min_free ("
                    << min_free_bytes_
                    << "); refusing new messages until space is freed (reads go on)";
    } else if (!low && low_space_) {
      LOG_INFO() << "data directory has " << free
                 << " bytes free again; accepting new messages";
    }
    low_space_ = low;
    low_space_free_bytes_ = free;
  }
  const bool failing = pipeline_ != nullptr && pipeline_->degraded();
  const bool full = low_space_ || (failing && pipeline_->last_error().code() ==
                                                  StatusCode::kResourceExhausted);
  stats_.data_dir_full.store(full, std::memory_order_relaxed);
  stats_.refusing_messages.store(low_space_ || failing, std::memory_order_relaxed);
}

void Broker::HandleSend(Session& s, std::uint64_t rid, const wire::Send& r) {
  if (Status refusal = StorageRefusal(); !refusal.ok()) return ReplyError(s, rid, refusal);
  if (r.client_msg_id() == 0 || r.client_msg_id() == kMaxClientMsgId) {
    return ReplyError(s, rid, Status::InvalidArgument(
                                  "a message needs a client_msg_id between 1 and 2^64-2"));
  }
  Status content = CheckContent(r);
  if (!content.ok()) return ReplyError(s, rid, content);
  if (r.urgent()) {
    if (!schedules_.MayUrgent(s.user)) {
      std::string policy;
      for (const std::string& entry : schedules_.urgent_policy()) {
        policy += (policy.empty() ? "" : ", ") + entry;
      }
      return ReplyError(s, rid, Status::PermissionDenied(
                                    "the urgent policy does not let you send urgent messages (" +
                                    (policy.empty() ? std::string("it allows nobody") :
                                                      "it allows " + policy) + ")"));
    }
    std::string_view reason =
        r.urgent_reason() == nullptr ? std::string_view() : r.urgent_reason()->string_view();
    if (reason.empty()) {
      return ReplyError(s, rid, Status::InvalidArgument("an urgent message needs a reason"));
    }
    if (reason.size() > 500 || !IsValidUtf8(reason)) {
      return ReplyError(s, rid, Status::InvalidArgument(
                                    "an urgent message's reason is valid UTF-8 of at most 500 bytes"));
    }
  }

  Result<std::optional<ClientIdIndex::Ref>> seen = client_ids_.Find(s.device, r.client_msg_id());
  if (!seen.ok()) return ReplyError(s, rid, seen.status());
  if (seen->has_value()) {
    // A resend: answer with the original once it is stored (it may still be
    // in a batch on its way).
    stats_.messages_duplicate.fetch_add(1, std::memory_order_relaxed);
    const ClientIdIndex::Ref& ref = **seen;
    Batch().acks.push_back({s.connection, rid, r.client_msg_id(), ref.conversation, ref.seq,
                            ref.sent_at_us, /*duplicate=*/true, clock_->MonotonicMicros(), {}});
    return;
  }

  // Blocks first: a refused message must not even open a conversation.
  if (r.conversation_id() == 0 && r.to_user() != nullptr) {
    if (const User* other = directory_.FindUserByLogin(r.to_user()->string_view())) {
      Status blocked = CheckNotBlocked(s.user, other->id);
      if (!blocked.ok()) return ReplyError(s, rid, blocked);
    }
  }
  Result<Conversation*> target =
      ResolveTarget(s, r.conversation_id(), r.to_user(), /*create_direct=*/true);
  if (!target.ok()) return ReplyError(s, rid, target.status());
  Conversation* c = *target;
  if (c->kind == wire::ConversationKind::Direct) {
    for (const Membership& m : c->members) {
      if (m.user == s.user) continue;
      if (!IsActiveUser(m.user)) {
        return ReplyError(s, rid, Status::FailedPrecondition(
                                      "user '" + directory_.FindUser(m.user)->login +
                                      "' has left the organisation"));
      }
      Status blocked = CheckNotBlocked(s.user, m.user);
      if (!blocked.ok()) return ReplyError(s, rid, blocked);
    }
  }
  if (r.content_type() == wire::Content::Edit || r.content_type() == wire::Content::Deletion) {
    Status allowed = CheckAmendment(s, *c, r);
    if (!allowed.ok()) return ReplyError(s, rid, allowed);
    bool edit = r.content_type() == wire::Content::Edit;
    Seq original = edit ? r.content_as_Edit()->target_seq() : r.content_as_Deletion()->target_seq();
    Audit(s, edit ? "message.edit" : "message.delete",
          "conversation:" + std::to_string(c->id.value()),
          JsonObject().Add("seq", original).Add("by_seq", c->next_seq + 1).str());
  }

  AcceptDecision policy;
  if (plugins_ != nullptr && plugins_->has_accept_hooks()) {
    Status accepted = AcceptHook(s, *c, r, &policy);
    if (!accepted.ok()) return ReplyError(s, rid, accepted);
  }

  // Charged only once the message passed every check.
  Status rate = ChargeRate(s, ContentBytes(r));
  if (!rate.ok()) return ReplyError(s, rid, rate);

  std::int64_t now = clock_->NowMicros();
  std::int64_t received = clock_->MonotonicMicros();
  Seq seq = ++c->next_seq;
  CommitBatch& batch = Batch();
  batch.writes.messages.push_back(
      {c->id, seq, BuildMessage(*c, seq, s, r.client_msg_id(), now, r)});
  batch.received_mono_us.push_back(received);
  batch_bytes_ += batch.writes.messages.back().bytes.size();
  batch.acks.push_back({s.connection, rid, r.client_msg_id(), c->id, seq, now, false, received, {}});
  if (schedules_.active()) {
    NoteOffDutyRecipients(*c, s.user, r.urgent(), now, &batch.acks.back().off_duty);
    if (r.urgent()) {
      for (const PendingAck::OffDuty& o : batch.acks.back().off_duty) AllowUrgent(o.user, c->id, seq);
    }
  }
  if (r.urgent()) {
    stats_.urgent_messages.fetch_add(1, std::memory_order_relaxed);
    Audit(s, "message.urgent", "conversation:" + std::to_string(c->id.value()),
          JsonObject()
              .Add("seq", seq)
              .Add("reason", r.urgent_reason()->string_view())
              .Add("off_duty", static_cast<std::uint64_t>(batch.acks.back().off_duty.size()))
              .str());
  }
  Status st = client_ids_.Add(s.device, r.client_msg_id(), {c->id, seq, now});
  if (!st.ok()) LOG_ERROR() << "client message id index: " << st;
  stats_.messages_accepted[ContentIndex(r.content_type())].fetch_add(1, std::memory_order_relaxed);
  if (policy.verdict == CHATPRO_ACCEPT_FLAG) {
    FlagMessage(s, *c, seq, policy, batch.writes.messages.back().bytes);
  }
}

void Broker::HandleAck(Session& s, const wire::Ack& r) {
  if (r.cursors() == nullptr) return;
  DeviceCursors& dc = device_cursors_[s.device];
  for (flatbuffers::uoffset_t i = 0; i < r.cursors()->size(); ++i) {
    const wire::Cursor c = schemas::StructAt(*r.cursors(), i);
    auto it = s.cursors.find(ConversationId(c.conversation_id()));
    if (it == s.cursors.end()) continue;
    ConvCursor& cur = it->second;
    Seq seq = std::min<Seq>(c.seq(), cur.sent);
    if (seq <= cur.acked) continue;
    cur.acked = seq;
    // It reads again: a later stall is a new cut.
    s.cut = false;
    s.window_full_since_mono_us = 0;
    while (!cur.in_flight.empty() && cur.in_flight.front().first <= seq) {
      s.in_flight_messages -= 1;
      s.in_flight_bytes -= cur.in_flight.front().second;
      cur.in_flight.pop_front();
    }
    Seq& stored = dc.acked[it->first];
    if (seq > stored) {
      stored = seq;
      if (dirty_cursors_.empty()) cursors_dirty_since_mono_us_ = clock_->MonotonicMicros();
      dirty_cursors_[{s.device, it->first}] = seq;
    }
  }
  if (s.needs_pump) pump_list_.push_back(s.connection);
}

// ------------------------------------------------------------------ delivery

Broker::ConvCursor* Broker::CursorFor(Session& s, const Conversation& c) {
  auto it = s.cursors.find(c.id);
  if (it != s.cursors.end()) return &it->second;
  const Membership* m = c.FindMember(s.user);
  if (m == nullptr) return nullptr;
  Seq start = m->joined_seq;
  auto dc = device_cursors_.find(s.device);
  if (dc != device_cursors_.end()) {
    auto acked = dc->second.acked.find(c.id);
    if (acked != dc->second.acked.end()) start = std::max(start, acked->second);
  }
  ConvCursor& cur = s.cursors[c.id];
  cur.acked = cur.sent = start;
  return &cur;
}

bool Broker::WindowOpen(const Session& s) const {
  if (s.in_flight_messages == 0) return true;  // always allow one, however big
  return s.in_flight_messages < options_.delivery_window_messages &&
         s.in_flight_bytes < options_.delivery_window_bytes;
}

void Broker::Push(Session& s, ConversationId conversation, ConvCursor& cursor, Seq seq,
                  std::string_view bytes) {
  bool in_frame = false;
  for (const auto& start : s.frame_starts) in_frame = in_frame || start.first == conversation;
  if (!in_frame) s.frame_starts.emplace_back(conversation, cursor.sent);
  s.deliveries.AddDelivery(bytes);
  cursor.sent = seq;
  cursor.in_flight.emplace_back(seq, static_cast<std::uint32_t>(bytes.size()));
  s.in_flight_messages += 1;
  s.in_flight_bytes += bytes.size();
  MarkDirty(s);
  if (s.deliveries.bytes() >= kDeliveryFrameBytes) SendDeliveries(s);
}

void Broker::FanOut(const Conversation& c, Seq seq, std::string_view bytes) {
  for (const Membership& m : c.members) {
    auto online = online_.find(m.user);
    if (online == online_.end()) continue;
    if (schedules_.active()) {
      // Off duty: it waits for their working hours (or an urgent message).
      Seq limit = c.committed_seq;
      if (WithheldFrom(m.user, c, &limit) && seq > limit) continue;
    }
    // Push may drop a session whose peer is gone; iterate over a copy.
    std::vector<Session*> sessions = online->second;
    for (Session* s : sessions) {
      if (!s->receive) continue;
      ConvCursor* cur = CursorFor(*s, c);
      if (cur == nullptr || cur->sent >= seq) continue;
      if (cur->sent + 1 == seq && WindowOpen(*s) && s->pump_not_before_mono_us == 0) {
        Push(*s, c.id, *cur, seq, bytes);
        stats_.deliveries_live.fetch_add(1, std::memory_order_relaxed);
        stats_.delivered_live[StoredContentIndex(bytes)].fetch_add(1, std::memory_order_relaxed);
        if (fan_out_received_mono_us_ != 0) {
          stats_.delivery_latency.Record(clock_->MonotonicMicros() - fan_out_received_mono_us_);
        }
      } else if (!s->needs_pump) {
        s->needs_pump = true;
        pump_list_.push_back(s->connection);
      }
    }
  }
}

void Broker::Pump(Session& s) {
  s.needs_pump = false;
  if (!s.receive || !s.device.valid()) return;
  // Pushing may send a full frame, and sending may drop the session (peer
  // gone) or pause it (pipe full): after each push, check both through the
  // connection id, never through `s`.
  const ConnectionId connection = s.connection;
  bool behind = false;
  for (ConversationId id : conversations_.ConversationsOf(s.user)) {
    const Conversation* c = conversations_.Find(id);
    if (c == nullptr) continue;
    // Off duty: only what urgent messages let through.
    Seq limit = c->committed_seq;
    if (schedules_.active()) WithheldFrom(s.user, *c, &limit);
    if (limit == 0) continue;
    ConvCursor* cur = CursorFor(s, *c);
    if (cur == nullptr) continue;
    while (cur->sent < limit) {
      if (!WindowOpen(s)) {
        behind = true;
        break;
      }
      std::size_t room = options_.delivery_window_messages > s.in_flight_messages
                             ? options_.delivery_window_messages - s.in_flight_messages
                             : 1;
      std::uint64_t room_bytes = options_.delivery_window_bytes > s.in_flight_bytes
                                     ? options_.delivery_window_bytes - s.in_flight_bytes
                                     : 1;
      std::size_t count = std::min<std::size_t>({room, 256, limit - cur->sent});
      Result<std::vector<StoredMessage>> page = store_->ReadMessages(
          c->id, cur->sent + 1, count, ReadDirection::kForward, room_bytes);
      if (!page.ok()) {
        LOG_ERROR() << "catch-up read of conversation " << c->id << " failed: " << page.status();
        behind = true;
        break;
      }
      bool progressed = false;
      for (StoredMessage& m : *page) {
        if (m.seq > limit) break;
        if (!WindowOpen(s)) {
          behind = true;
          break;
        }
        Push(s, c->id, *cur, m.seq, m.bytes);
        stats_.deliveries_catch_up.fetch_add(1, std::memory_order_relaxed);
        stats_.delivered_catch_up[StoredContentIndex(m.bytes)].fetch_add(1,
                                                                         std::memory_order_relaxed);
        if (sessions_.find(connection) == sessions_.end()) return;  // peer gone
        // A full pipe rewound the session and queued a later catch-up; going
        // on now would deliver after a hole.
        if (s.pump_not_before_mono_us != 0) return;
        progressed = true;
      }
      if (behind) break;
      if (!progressed) {
        // Nothing stored up to the limit (removed by retention): skip.
        cur->sent = limit;
        if (cur->in_flight.empty()) cur->acked = cur->sent;
      }
    }
  }
  if (behind) s.needs_pump = true;  // re-pumped when the session acks
}

void Broker::Rewind(Session& s) {
  // The pipe to a slow consumer is full and refused the frame just built:
  // take back exactly its deliveries. The frames queued before it stay in
  // the pipe and will reach the device, so they stay in its window: forgetting
  // them would let the next pump queue another window's worth behind them
  // (memory growing with every pause) and deliver them twice.
  for (const auto& [id, before] : s.frame_starts) {
    auto it = s.cursors.find(id);
    if (it == s.cursors.end()) continue;
    ConvCursor& cur = it->second;
    while (!cur.in_flight.empty() && cur.in_flight.back().first > before) {
      s.in_flight_messages -= 1;
      s.in_flight_bytes -= cur.in_flight.back().second;
      cur.in_flight.pop_back();
    }
    cur.sent = std::max(before, cur.acked);
  }
  s.frame_starts.clear();
  s.deliveries = FrameWriter();
  s.needs_pump = true;
  s.pump_not_before_mono_us = clock_->MonotonicMicros() + kSlowConsumerPauseUs;
  pump_list_.push_back(s.connection);
  CutLiveStream(s, "its connection is full");
}

void Broker::CutLiveStream(Session& s, std::string_view why) {
  if (s.cut) return;
  s.cut = true;
  stats_.slow_consumers_cut.fetch_add(1, std::memory_order_relaxed);
  LOG_DEBUG() << "session " << s.connection << " is slow (" << why
              << "); it will catch up from the store";
}

bool Broker::SendDeliveries(Session& s) {
  if (s.deliveries.empty()) return true;
  flatbuffers::DetachedBuffer frame = s.deliveries.Finish();
  switch (transport_->Send(s.connection, &frame)) {
    case SendOutcome::kSent:
      s.frame_starts.clear();
      return true;
    case SendOutcome::kFull:
      Rewind(s);
      return true;
    case SendOutcome::kGone:
      DropSession(s.connection, true);
      return false;
  }
  return true;
}

void Broker::SendReplies(Session& s) {
  if (!s.replies.empty()) s.unsent_replies.push_back(s.replies.Finish());
  while (!s.unsent_replies.empty()) {
    SendOutcome out = transport_->Send(s.connection, &s.unsent_replies.front());
    if (out == SendOutcome::kGone) {
      DropSession(s.connection, true);
      return;
    }
    if (out == SendOutcome::kFull) {
      if (s.unsent_replies.size() > kMaxUnsentReplyFrames) {
        LOG_WARNING() << "dropping session " << s.connection << ": it reads nothing";
        DropSession(s.connection, true);
      }
      return;
    }
    s.unsent_replies.pop_front();
  }
}

// ------------------------------------------------------------------ commits

CommitBatch& Broker::Batch() {
  if (batch_ == nullptr) {
    batch_ = std::make_unique<CommitBatch>();
    batch_bytes_ = 0;
  }
  return *batch_;
}

std::unique_ptr<CommitBatch> Broker::TakeBatch() {
  if (!dirty_cursors_.empty() && batch_ != nullptr) {
    for (const auto& [key, seq] : dirty_cursors_) {
      std::string value;
      AppendBigEndian64(&value, seq);
      batch_->writes.records.push_back(
          {RecordKind::kCursor, store_keys::U64Key(key.first.value(), key.second.value()),
           std::move(value)});
    }
    dirty_cursors_.clear();
  }
  if (!disconnect_dirty_.empty() && batch_ != nullptr) WriteDisconnectCounts(&batch_->writes);
  if (batch_ == nullptr || batch_->empty()) return nullptr;
  batch_->number = next_batch_number_++;
  client_ids_.AppendRecords(batch_->number, &batch_->writes);
  return std::move(batch_);
}

void Broker::SubmitBatch() {
  std::unique_ptr<CommitBatch> batch = TakeBatch();
  if (batch != nullptr) pipeline_->Submit(std::move(batch));
}

void Broker::CommitInline() {
  // REQUIRES: the pipeline is idle. Then every earlier batch has completed:
  // answer those first, so that batches complete in order.
  OnWake();
  std::unique_ptr<CommitBatch> batch = TakeBatch();
  if (batch == nullptr) return;
  batch->status = batch->writes.empty() ? Status::Ok() : store_->Write(batch->writes, false);
  if (!batch->status.ok()) {
    // The pipeline retries it (and reports the store degraded meanwhile).
    pipeline_->Submit(std::move(batch));
    return;
  }
  Complete(*batch);
}

void Broker::OnWake() {
  if (pipeline_ == nullptr) return;
  for (auto& b : pipeline_->TakeCompleted()) Complete(*b);
  ServeRetention();
}

void Broker::Complete(CommitBatch& batch) {
  client_ids_.Committed(batch.number);
  stats_.batches_committed.fetch_add(1, std::memory_order_relaxed);
  stats_.batch_messages_committed.fetch_add(batch.writes.messages.size(),
                                            std::memory_order_relaxed);
  stats_.batch_size.Record(static_cast<std::int64_t>(batch.writes.messages.size()));
  if (batch.status.ok()) {
    for (std::size_t i = 0; i < batch.writes.messages.size(); ++i) {
      const WriteBatch::Message& m = batch.writes.messages[i];
      if (m.replaces) continue;  // retention rewrote a stored message: nothing new
      Conversation* c = conversations_.Find(m.conversation);
      if (c == nullptr) continue;
      c->committed_seq = std::max(c->committed_seq, m.seq);
      fan_out_received_mono_us_ = i < batch.received_mono_us.size() ? batch.received_mono_us[i] : 0;
      FanOut(*c, m.seq, m.bytes);
    }
  }
  std::int64_t now = clock_->MonotonicMicros();
  for (const PendingAck& a : batch.acks) {
    auto it = sessions_.find(a.connection);
    if (it == sessions_.end()) continue;  // the client will resend and get a duplicate ack
    Session& s = *it->second;
    if (!batch.status.ok()) {
      ReplyError(s, a.request_id, batch.status);
      continue;
    }
    if (a.received_mono_us != 0) stats_.send_latency.Record(now - a.received_mono_us);
    auto& fbb = s.replies.builder();
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::DutyState>>> off_duty;
    if (!a.off_duty.empty()) {
      std::vector<flatbuffers::Offset<wire::DutyState>> states;
      states.reserve(a.off_duty.size());
      for (const PendingAck::OffDuty& o : a.off_duty) {
        const User* u = directory_.FindUser(o.user);
        states.push_back(wire::CreateDutyState(fbb, fbb.CreateString(u == nullptr ? "" : u->login),
                                               false, o.until_us));
      }
      off_duty = fbb.CreateVector(states);
    }
    auto body = wire::CreateSendAck(fbb, a.client_msg_id, a.conversation.value(), a.seq,
                                    a.sent_at_us, a.duplicate, off_duty);
    s.replies.AddEnvelope(a.request_id, wire::Body::SendAck, body.Union());
    MarkDirty(s);
  }
  for (auto& fn : batch.on_commit) fn(batch.status);
}

void Broker::AfterCommit(ConnectionId connection, std::uint64_t rid,
                         std::function<void(Session&)> reply) {
  Batch().on_commit.push_back([this, connection, rid, reply = std::move(reply)](const Status& st) {
    auto it = sessions_.find(connection);
    if (it == sessions_.end()) return;
    if (st.ok()) {
      reply(*it->second);
    } else {
      ReplyError(*it->second, rid, st);
    }
    MarkDirty(*it->second);
  });
}

bool Broker::WantsInput() const {
  if (batch_ == nullptr || pipeline_ == nullptr) return true;
  bool full = batch_->writes.messages.size() >= options_.max_batch_messages ||
              batch_bytes_ >= options_.max_batch_bytes;
  return !(full && pipeline_->Busy());
}

void Broker::Flush() {
  if (transport_ == nullptr) return;
  if (!presence_dirty_.empty()) AnnouncePresence();
  if (!pump_list_.empty()) {
    std::int64_t now = clock_->MonotonicMicros();
    std::vector<ConnectionId> list;
    list.swap(pump_list_);
    for (ConnectionId id : list) {
      auto it = sessions_.find(id);
      if (it == sessions_.end()) continue;
      Session& s = *it->second;
      if (!s.needs_pump) continue;
      if (s.pump_not_before_mono_us > now) {
        pump_list_.push_back(id);  // still paused after a full pipe
        continue;
      }
      s.pump_not_before_mono_us = 0;
      Pump(s);
    }
  }
  if (pipeline_ != nullptr && batch_ != nullptr && !pipeline_->Busy()) {
    // In `os` durability a small write costs less than handing it to the
    // commit thread and back (two thread wake-ups): write it here.
    // Removals (retention) read and free what they remove: never on this thread.
    bool small = batch_->writes.messages.size() <= kInlineBatchMessages &&
                 batch_bytes_ <= kInlineBatchBytes && batch_->writes.message_deletes.empty() &&
                 batch_->writes.records.size() <= kInlineBatchMessages;
    if (durability_ == Durability::kOs && small) {
      CommitInline();
    } else {
      SubmitBatch();
    }
  }
  // Retention's removals only in the commit thread's idle time, after live batches.
  FeedRetention();

  std::vector<ConnectionId> dirty;
  dirty.swap(dirty_sessions_);
  for (ConnectionId id : dirty) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    Session& s = *it->second;
    s.dirty = false;
    SendReplies(s);
    if (sessions_.find(id) == sessions_.end()) continue;
    if (s.drop_after_send) {
      DropSession(id, true);
      continue;
    }
    if (!s.unsent_replies.empty()) MarkDirty(s);  // retry next time
    SendDeliveries(s);
  }
}

void Broker::OnTick() {
  stats_.loop_ticks.fetch_add(1, std::memory_order_relaxed);
  PollExports();
  PollBackup();
  std::int64_t now = clock_->MonotonicMicros();
  if (now >= next_backlog_mono_us_) {
    next_backlog_mono_us_ = now + kBacklogIntervalUs;
    UpdateOfflineBacklog();
  }
  if (!dirty_cursors_.empty() && now - cursors_dirty_since_mono_us_ >= kCursorFlushUs) {
    Batch();  // the next Flush writes them
  }
  CheckStorage(now);
  ServeRetention();
  MaybeScheduleRetention();
  if (schedules_.active()) ServeSchedules();
  if (now - last_sweep_mono_us_ < 1'000'000) return;
  last_sweep_mono_us_ = now;
  std::vector<ConnectionId> expired;
  for (const auto& [id, s] : sessions_) {
    // A device that acknowledges nothing while its window is full has stopped
    // reading: its live stream stays cut (it gets nothing more until it acks)
    // and that is counted, like a full pipe.
    if (s->in_flight_messages != 0 && !WindowOpen(*s)) {
      if (s->window_full_since_mono_us == 0) {
        s->window_full_since_mono_us = now;
      } else if (now - s->window_full_since_mono_us >= options_.slow_consumer_timeout_us) {
        CutLiveStream(*s, "no acknowledgement with a full delivery window");
      }
    } else {
      s->window_full_since_mono_us = 0;
    }
    bool silent = now - s->last_seen_mono_us > options_.session_timeout_us;
    bool wipe_wait_over =
        s->revoked && now - s->revoked_mono_us > options_.wipe_confirmation_wait_us;
    if (silent || wipe_wait_over) expired.push_back(id);
  }
  FinishOffboardings(false);
  // Forget addresses that have been quiet for ten minutes.
  for (auto it = auth_failures_.begin(); it != auth_failures_.end();) {
    const AuthFailures& f = it->second;
    bool quiet = now - f.window_start_mono_us > 10 * 60 * kMicrosPerSecond &&
                 f.locked_until_mono_us <= now;
    if (!quiet) {
      ++it;
      continue;
    }
    if (f.unaudited > 0) {
      // Refusals since the address's last entry are not lost with it.
      audit_.Append(AuditActor{}, "auth.refused", "address:" + it->first,
                    JsonObject().Add("refusals", f.unaudited).Add("locked", false).str(),
                    &Batch().writes);
    }
    it = auth_failures_.erase(it);
  }
  for (ConnectionId id : expired) {
    LOG_DEBUG() << "session " << id << " timed out";
    DropSession(id, true);
  }
}

}  // namespace chatpro::core
