// SPDX-License-Identifier: Apache-2.0
//
// The broker's security and administration requests: offboarding and
// reactivation, devices and their revocation, blocking, reports, the list of
// every group and reading the audit log; and the helpers they share (roles,
// audit entries, revoking sessions, rate limits).
#include <algorithm>

#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/core/broker.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

std::string Quoted(std::string_view s) { return "'" + std::string(s.substr(0, 64)) + "'"; }

// Clients send something at least every 10 s; a session silent for longer is
// probably a finished command whose connection is gone.
constexpr std::int64_t kLiveSessionUs = 30 * kMicrosPerSecond;

}  // namespace

// ------------------------------------------------------------------ roles, audit

Status Broker::RequireAdmin(const Session& s, std::string_view what) const {
  const User* u = directory_.FindUser(s.user);
  if (u == nullptr || u->role != Role::Admin) {
    return Status::PermissionDenied("only administrators may " + std::string(what));
  }
  return Status::Ok();
}

Status Broker::RequireAdminOrAuditor(const Session& s, std::string_view what) const {
  const User* u = directory_.FindUser(s.user);
  if (u == nullptr || (u->role != Role::Admin && u->role != Role::Auditor)) {
    return Status::PermissionDenied("only administrators and auditors may " + std::string(what));
  }
  return Status::Ok();
}

AuditActor Broker::ActorOf(const Session& s) const {
  const User* u = directory_.FindUser(s.user);
  return AuditActor{s.user, u == nullptr ? std::string() : u->login, s.device,
                    s.console ? "console" : ""};
}

void Broker::Audit(const Session& s, std::string_view action, std::string_view target,
                   std::string details) {
  audit_.Append(ActorOf(s), action, target, std::move(details), &Batch().writes);
}

// ------------------------------------------------------------------ revocation

std::uint32_t Broker::RevokeSessions(const std::vector<DeviceId>& devices, std::string_view reason,
                                     Offboarding* offboarding) {
  std::uint32_t cut = 0;
  std::int64_t now_mono = clock_->MonotonicMicros();
  std::vector<Session*> affected;
  for (auto& [id, session] : sessions_) {
    if (session->revoked || !session->device.valid()) continue;
    if (std::find(devices.begin(), devices.end(), session->device) != devices.end()) {
      affected.push_back(session.get());
    }
  }
  for (Session* s : affected) {
    // Nothing more goes to this connection but the notice; nothing more is
    // taken from it but the wipe confirmation. A session silent for longer
    // than clients' keep-alive is likely gone already and is not counted.
    bool live = now_mono - s->last_seen_mono_us <= kLiveSessionUs;
    DetachOnline(*s);
    s->revoked = true;
    s->revoked_mono_us = now_mono;
    s->receive = false;
    s->cursors.clear();
    s->in_flight_messages = 0;
    s->in_flight_bytes = 0;
    s->needs_pump = false;
    s->deliveries = FrameWriter();
    s->frame_starts.clear();
    auto& fbb = s->replies.builder();
    auto body = wire::CreateRevoked(fbb, fbb.CreateString(reason), true);
    s->replies.AddEnvelope(0, wire::Body::Revoked, body.Union());
    MarkDirty(*s);
    if (live) ++cut;
    if (offboarding != nullptr &&
        std::find(offboarding->awaiting.begin(), offboarding->awaiting.end(), s->device) ==
            offboarding->awaiting.end()) {
      offboarding->awaiting.push_back(s->device);
    }
  }
  stats_.devices_revoked.fetch_add(devices.size(), std::memory_order_relaxed);
  return cut;
}

void Broker::HandleConfirmWipe(Session& s, std::uint64_t rid) {
  if (s.drop_after_send) {
    return ReplyError(s, rid, Status::FailedPrecondition("the wipe was confirmed already"));
  }
  std::int64_t now = clock_->NowMicros();
  Audit(s, "device.wipe_confirmed", "device:" + std::to_string(s.device.value()),
        JsonObject().Add("at_us", now).str());
  for (Offboarding& o : offboardings_) {
    auto it = std::find(o.awaiting.begin(), o.awaiting.end(), s.device);
    if (it == o.awaiting.end()) continue;
    o.awaiting.erase(it);
    o.confirmed.emplace_back(s.device, now);
  }
  auto body = wire::CreateDone(s.replies.builder());
  s.replies.AddEnvelope(rid, wire::Body::Done, body.Union());
  s.drop_after_send = true;  // the session ends with this answer
  MarkDirty(s);
  FinishOffboardings(false);
}

void Broker::FinishOffboardings(bool all) {
  std::int64_t now_mono = clock_->MonotonicMicros();
  for (auto it = offboardings_.begin(); it != offboardings_.end();) {
    if (!all && !it->awaiting.empty() && now_mono < it->deadline_mono_us) {
      ++it;
      continue;
    }
    // The closing record of an offboarding: when it was asked, when the last
    // session was cut, which devices confirmed their wipe and which did not.
    std::vector<std::uint64_t> confirmed, unconfirmed;
    std::string confirmed_at = "{";
    for (const auto& [device, at] : it->confirmed) {
      confirmed.push_back(device.value());
      if (confirmed_at.size() > 1) confirmed_at += ",";
      confirmed_at += JsonQuote(std::to_string(device.value())) + ":" + std::to_string(at);
    }
    confirmed_at += "}";
    // Every revoked device that did not confirm, online at the time or not.
    for (DeviceId d : it->devices) {
      bool done = std::any_of(it->confirmed.begin(), it->confirmed.end(),
                              [d](const auto& c) { return c.first == d; });
      if (!done) unconfirmed.push_back(d.value());
    }
    std::vector<std::uint64_t> devices;
    for (DeviceId d : it->devices) devices.push_back(d.value());
    audit_.Append(it->actor, "offboarding.closed", it->target,
                  JsonObject()
                      .Add("asked_at_us", it->asked_at_us)
                      .Add("last_session_closed_at_us", it->last_session_closed_at_us)
                      .Add("devices_revoked", devices)
                      .Add("devices_confirmed_wipe", confirmed)
                      .AddRaw("wipe_confirmed_at_us", confirmed_at)
                      .Add("devices_not_confirmed", unconfirmed)
                      .str(),
                  &Batch().writes);
    it = offboardings_.erase(it);
  }
}

Status Broker::RequireAdminActor(const AuditActor& actor, std::string_view what) const {
  const User* u = directory_.FindUser(actor.user);
  if (u == nullptr || !u->active || u->role != Role::Admin) {
    return Status::PermissionDenied("only administrators may " + std::string(what));
  }
  return Status::Ok();
}

void Broker::DeactivateUser(const AuditActor& actor, std::string_view login,
                            std::function<void(Result<OffboardingResult>)> done) {
  auto fail = [&](Status st) { done(std::move(st)); };
  Status allowed = RequireAdminActor(actor, "deactivate users");
  if (!allowed.ok()) return fail(allowed);
  const User* target = directory_.FindUserByLogin(login);
  if (target == nullptr) return fail(Status::NotFound("there is no user " + Quoted(login)));
  if (!target->active) {
    return fail(Status::FailedPrecondition("user " + Quoted(target->login) + " is deactivated already"));
  }
  if (target->role == Role::Admin && directory_.active_admins() <= 1) {
    return fail(Status::FailedPrecondition("cannot deactivate the last active administrator"));
  }
  OffboardingResult result;
  result.login = target->login;
  result.asked_at_us = clock_->NowMicros();
  UserId user = target->id;
  Directory::Deactivation d = directory_.DeactivateUser(user, result.asked_at_us, &Batch().writes);

  // Groups they owned keep an owner who can still act.
  std::vector<std::uint64_t> promoted_in;
  auto active = [this](UserId u) { return IsActiveUser(u); };
  for (ConversationId id : conversations_.ConversationsOf(user)) {
    Conversation* c = conversations_.Find(id);
    if (c == nullptr || !c->IsOwner(user)) continue;
    UserId promoted = conversations_.EnsureActiveOwner(c, active, &Batch().writes);
    if (promoted.valid()) {
      promoted_in.push_back(id.value());
      for (const Membership& m : c->members) NotifyMembership(id, m.user);
    }
  }

  Offboarding o;
  o.user = user;
  o.actor = actor;
  o.target = "user:" + result.login;
  o.asked_at_us = result.asked_at_us;
  o.devices = d.devices_revoked;
  result.sessions_closed = RevokeSessions(d.devices_revoked, "account deactivated", &o);
  o.last_session_closed_at_us = result.sessions_closed > 0 ? clock_->NowMicros() : 0;
  o.deadline_mono_us = clock_->MonotonicMicros() + options_.wipe_confirmation_wait_us;
  result.last_session_closed_at_us = o.last_session_closed_at_us;
  result.devices_revoked = static_cast<std::uint32_t>(d.devices_revoked.size());
  result.invites_cancelled = d.invites_cancelled;
  std::vector<std::uint64_t> devices;
  for (DeviceId dev : d.devices_revoked) devices.push_back(dev.value());
  audit_.Append(actor, "user.deactivate", o.target,
                JsonObject()
                    .Add("asked_at_us", result.asked_at_us)
                    .Add("devices_revoked", devices)
                    .Add("sessions_closed", static_cast<std::uint64_t>(result.sessions_closed))
                    .Add("last_session_closed_at_us", result.last_session_closed_at_us)
                    .Add("invites_cancelled", static_cast<std::uint64_t>(result.invites_cancelled))
                    .Add("groups_with_new_owner", promoted_in)
                    .str(),
                &Batch().writes);
  LOG_INFO() << actor.login << " deactivated " << result.login << ": " << devices.size()
             << " devices revoked, " << result.sessions_closed << " sessions cut";
  offboardings_.push_back(std::move(o));
  Batch().on_commit.push_back([result, done = std::move(done)](const Status& st) {
    if (st.ok()) {
      done(result);
    } else {
      done(st);
    }
  });
}

void Broker::ReactivateUser(const AuditActor& actor, std::string_view login,
                            std::function<void(Result<InviteResult>)> done) {
  auto fail = [&](Status st) { done(std::move(st)); };
  Status allowed = RequireAdminActor(actor, "reactivate users");
  if (!allowed.ok()) return fail(allowed);
  const User* target = directory_.FindUserByLogin(login);
  if (target == nullptr) return fail(Status::NotFound("there is no user " + Quoted(login)));
  if (target->active) return fail(Status::FailedPrecondition("user " + Quoted(target->login) + " is active"));
  directory_.ReactivateUser(target->id, &Batch().writes);
  Result<std::string> invite = MakeInvite(target->id);
  if (!invite.ok()) return fail(invite.status());
  InviteResult result{target->login, *invite, clock_->NowMicros() + options_.invite_ttl_us,
                      WebLinkFor(*invite)};
  audit_.Append(actor, "user.reactivate", "user:" + result.login,
                JsonObject().Add("fresh_invite", true).str(), &Batch().writes);
  Batch().on_commit.push_back([result, done = std::move(done)](const Status& st) {
    if (st.ok()) {
      done(result);
    } else {
      done(st);
    }
  });
}

void Broker::HandleAdminDeactivateUser(Session& s, std::uint64_t rid,
                                       const wire::AdminDeactivateUser& r) {
  ConnectionId connection = s.connection;
  DeactivateUser(ActorOf(s), View(r.login()), [this, connection, rid](Result<OffboardingResult> res) {
    auto it = sessions_.find(connection);
    if (it == sessions_.end()) return;
    Session& session = *it->second;
    if (!res.ok()) return ReplyError(session, rid, res.status());
    auto& fbb = session.replies.builder();
    auto body = wire::CreateOffboardingReply(
        fbb, fbb.CreateString(res->login), res->asked_at_us, res->devices_revoked,
        res->sessions_closed, res->last_session_closed_at_us, res->invites_cancelled);
    session.replies.AddEnvelope(rid, wire::Body::OffboardingReply, body.Union());
    MarkDirty(session);
  });
}

void Broker::HandleAdminReactivateUser(Session& s, std::uint64_t rid,
                                       const wire::AdminReactivateUser& r) {
  ConnectionId connection = s.connection;
  ReactivateUser(ActorOf(s), View(r.login()), [this, connection, rid](Result<InviteResult> res) {
    auto it = sessions_.find(connection);
    if (it == sessions_.end()) return;
    Session& session = *it->second;
    if (!res.ok()) return ReplyError(session, rid, res.status());
    auto& fbb = session.replies.builder();
    auto body = wire::CreateInviteReply(fbb, fbb.CreateString(res->login),
                                        fbb.CreateString(res->invite), res->expires_at_us,
                                        OptionalString(fbb, res->web_link));
    session.replies.AddEnvelope(rid, wire::Body::InviteReply, body.Union());
    MarkDirty(session);
  });
}

// ------------------------------------------------------------------ devices

void Broker::HandleListDevices(Session& s, std::uint64_t rid, const wire::ListDevices& r) {
  const User* caller = directory_.FindUser(s.user);
  const User* target = caller;
  if (!View(r.login()).empty() && View(r.login()) != caller->login) {
    Status allowed = RequireAdmin(s, "list other people's devices");
    if (!allowed.ok()) return ReplyError(s, rid, allowed);
    target = directory_.FindUserByLogin(View(r.login()));
    if (target == nullptr) {
      return ReplyError(s, rid, Status::NotFound("there is no user " + Quoted(View(r.login()))));
    }
    Audit(s, "device.list", "user:" + target->login, "{}");
  }
  // The newest activity of an online device is in its sessions; a session not
  // heard from within clients' keep-alive is a command that has ended.
  std::int64_t now_mono = clock_->MonotonicMicros();
  std::unordered_map<DeviceId, const Session*> online;
  for (const auto& [id, session] : sessions_) {
    if (!session->device.valid() || session->revoked) continue;
    if (now_mono - session->last_seen_mono_us > kLiveSessionUs) continue;
    const Session*& newest = online[session->device];
    if (newest == nullptr || session->last_seen_us > newest->last_seen_us) newest = session.get();
  }
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::DeviceInfo>> devices;
  for (DeviceId id : target->devices) {
    const Device* d = directory_.FindDevice(id);
    if (d == nullptr) continue;
    auto on = online.find(id);
    std::int64_t last_seen = d->last_seen_us;
    std::string address = d->last_address;
    if (on != online.end()) {
      last_seen = std::max(last_seen, on->second->last_seen_us);
      address = on->second->address;
    }
    devices.push_back(wire::CreateDeviceInfo(
        fbb, id.value(), fbb.CreateString(d->name), fbb.CreateString(d->client_version),
        d->created_at_us, last_seen, fbb.CreateString(address), d->active, d->revoked_at_us,
        on != online.end()));
  }
  auto body = wire::CreateDeviceList(fbb, fbb.CreateString(target->login), fbb.CreateVector(devices));
  s.replies.AddEnvelope(rid, wire::Body::DeviceList, body.Union());
  MarkDirty(s);
}

void Broker::HandleRevokeDevice(Session& s, std::uint64_t rid, const wire::RevokeDevice& r) {
  const User* caller = directory_.FindUser(s.user);
  const Device* d = directory_.FindDevice(DeviceId(r.device_id()));
  bool own = d != nullptr && d->user == s.user;
  if (!own) {
    Status allowed = RequireAdmin(s, "revoke other people's devices");
    if (!allowed.ok()) return ReplyError(s, rid, allowed);
  }
  if (d == nullptr) {
    return ReplyError(s, rid,
                      Status::NotFound("there is no device " + std::to_string(r.device_id())));
  }
  const User* owner = directory_.FindUser(d->user);
  if (!View(r.login()).empty() && View(r.login()) != owner->login) {
    return ReplyError(s, rid, Status::NotFound("device " + std::to_string(r.device_id()) +
                                               " does not belong to " + Quoted(View(r.login()))));
  }
  if (!d->active) {
    return ReplyError(s, rid, Status::FailedPrecondition(
                                  "device " + std::to_string(r.device_id()) + " is revoked already"));
  }
  std::int64_t now = clock_->NowMicros();
  DeviceId device = d->id;
  directory_.RevokeDevice(device, now, &Batch().writes);
  Offboarding o;
  o.user = d->user;
  o.actor = ActorOf(s);
  o.target = "device:" + std::to_string(device.value());
  o.asked_at_us = now;
  o.devices = {device};
  std::uint32_t cut =
      RevokeSessions(o.devices, own ? "revoked by its owner" : "revoked by an administrator", &o);
  o.last_session_closed_at_us = cut > 0 ? clock_->NowMicros() : 0;
  o.deadline_mono_us = clock_->MonotonicMicros() + options_.wipe_confirmation_wait_us;
  Audit(s, "device.revoke", o.target,
        JsonObject()
            .Add("owner", owner->login)
            .Add("by_owner", own)
            .Add("sessions_closed", static_cast<std::uint64_t>(cut))
            .str());
  LOG_INFO() << caller->login << " revoked device " << device << " of " << owner->login;
  offboardings_.push_back(std::move(o));
  AfterCommit(s.connection, rid, [rid](Session& session) {
    auto body = wire::CreateDone(session.replies.builder());
    session.replies.AddEnvelope(rid, wire::Body::Done, body.Union());
  });
}

// ------------------------------------------------------------------ privacy

void Broker::HandleBlock(Session& s, std::uint64_t rid, const flatbuffers::String* login,
                         bool block) {
  const User* other = directory_.FindUserByLogin(View(login));
  if (other == nullptr) {
    return ReplyError(s, rid, Status::NotFound("there is no user " + Quoted(View(login))));
  }
  if (other->id == s.user) return ReplyError(s, rid, Status::InvalidArgument("you cannot block yourself"));
  if (block) {
    directory_.Block(s.user, other->id, &Batch().writes);
  } else {
    directory_.Unblock(s.user, other->id, &Batch().writes);
  }
  AfterCommit(s.connection, rid, [rid](Session& session) {
    auto body = wire::CreateDone(session.replies.builder());
    session.replies.AddEnvelope(rid, wire::Body::Done, body.Union());
  });
}

void Broker::HandleListBlocked(Session& s, std::uint64_t rid) {
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::UserInfo>> users;
  for (UserId id : directory_.BlockedBy(s.user)) {
    const User* u = directory_.FindUser(id);
    if (u == nullptr) continue;
    auto login = fbb.CreateString(u->login);
    auto display = fbb.CreateString(u->display_name);
    wire::UserInfoBuilder info(fbb);
    info.add_login(login);
    info.add_display_name(display);
    info.add_active(u->active);
    users.push_back(info.Finish());
  }
  auto body = wire::CreateUserList(fbb, fbb.CreateVector(users));
  s.replies.AddEnvelope(rid, wire::Body::UserList, body.Union());
  MarkDirty(s);
}

void Broker::HandleReport(Session& s, std::uint64_t rid, const wire::Report& r) {
  Result<Conversation*> target = ResolveTarget(s, r.conversation_id(), nullptr, false);
  if (!target.ok()) return ReplyError(s, rid, target.status());
  const Conversation& c = **target;
  Seq first = c.FindMember(s.user)->joined_seq + 1;
  if (r.seq() < first || r.seq() > c.committed_seq) {
    return ReplyError(s, rid, Status::NotFound("conversation " + std::to_string(c.id.value()) +
                                               " has no message " + std::to_string(r.seq()) +
                                               " you can read"));
  }
  Result<std::vector<StoredMessage>> read =
      store_->ReadMessages(c.id, r.seq(), 1, ReadDirection::kForward, ~std::uint64_t{0});
  if (!read.ok()) return ReplyError(s, rid, read.status());
  if (read->empty() || read->front().seq != r.seq()) {
    return ReplyError(s, rid, Status::NotFound("message " + std::to_string(r.seq()) +
                                               " no longer exists"));
  }
  if (!IsValidUtf8(View(r.reason()))) {
    return ReplyError(s, rid, Status::InvalidArgument("the reason is not valid UTF-8"));
  }
  std::string_view reason = TruncateUtf8(View(r.reason()), 2000);
  // The report keeps its own copy of the message: the evidence stays even if
  // the sender deletes the message later.
  std::uint64_t id = next_report_id_++;
  std::int64_t now = clock_->NowMicros();
  flatbuffers::FlatBufferBuilder fbb;
  auto message = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(read->front().bytes.data()),
                                  read->front().bytes.size());
  fbb.Finish(store::CreateReportRecord(fbb, id, now, s.user.value(), fbb.CreateString(reason),
                                       c.id.value(), r.seq(), message));
  Batch().writes.records.push_back(
      {RecordKind::kReport, store_keys::U64Key(id),
       std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize())});
  Audit(s, "message.report", "conversation:" + std::to_string(c.id.value()),
        JsonObject().Add("seq", r.seq()).Add("report", id).Add("reason", reason).str());
  AfterCommit(s.connection, rid, [rid](Session& session) {
    auto body = wire::CreateDone(session.replies.builder());
    session.replies.AddEnvelope(rid, wire::Body::Done, body.Union());
  });
}

void Broker::HandleAdminListReports(Session& s, std::uint64_t rid) {
  Status allowed = RequireAdminOrAuditor(s, "read reports");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::ReportInfo>> reports;
  Status bad;
  std::string scratch;
  Status scan = store_->ScanRecords(RecordKind::kReport, "", [&](std::string_view, std::string_view v) {
    const auto* rec = VerifiedRecord<store::ReportRecord>(v, &scratch);
    if (rec == nullptr) {
      bad = Status::DataLoss("a report in the store is damaged");
      return false;
    }
    const User* reporter = directory_.FindUser(UserId(rec->reporter_user_id()));
    flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> message;
    if (rec->message() != nullptr) {
      fbb.ForceVectorAlignment(rec->message()->size(), 1, 8);
      message = fbb.CreateVector(rec->message()->data(), rec->message()->size());
    }
    reports.push_back(wire::CreateReportInfo(
        fbb, rec->id(), rec->created_at_us(),
        fbb.CreateString(reporter == nullptr ? std::string() : reporter->login),
        fbb.CreateString(rec->reason()), rec->conversation_id(), rec->seq(), message));
    return true;
  });
  if (!scan.ok()) return ReplyError(s, rid, scan);
  if (!bad.ok()) return ReplyError(s, rid, bad);
  Audit(s, "report.list", "reports", JsonObject().Add("count", static_cast<std::uint64_t>(reports.size())).str());
  auto body = wire::CreateReportList(fbb, fbb.CreateVector(reports));
  s.replies.AddEnvelope(rid, wire::Body::ReportList, body.Union());
  MarkDirty(s);
}

// ------------------------------------------------------------------ groups

void Broker::HandleAdminListGroups(Session& s, std::uint64_t rid) {
  Status allowed = RequireAdminOrAuditor(s, "list every group");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  std::vector<const Conversation*> groups;
  conversations_.ForEach([&](const Conversation& c) {
    if (c.kind == wire::ConversationKind::Group) groups.push_back(&c);
  });
  std::sort(groups.begin(), groups.end(),
            [](const Conversation* a, const Conversation* b) { return a->id < b->id; });
  // Who is in which group and who owns it; never a message of it.
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::GroupInfo>> out;
  out.reserve(groups.size());
  for (const Conversation* c : groups) {
    std::vector<flatbuffers::Offset<flatbuffers::String>> members, owners;
    for (const Membership& m : c->members) {
      const User* u = directory_.FindUser(m.user);
      if (u == nullptr) continue;
      auto login = fbb.CreateSharedString(u->login);
      members.push_back(login);
      if (m.owner) owners.push_back(login);
    }
    auto name = fbb.CreateString(c->name);
    auto members_off = fbb.CreateVector(members);
    auto owners_off = fbb.CreateVector(owners);
    out.push_back(wire::CreateGroupInfo(fbb, c->id.value(), name, c->created_at_us, members_off,
                                        owners_off));
  }
  Audit(s, "group.list", "groups",
        JsonObject().Add("count", static_cast<std::uint64_t>(out.size())).str());
  auto body = wire::CreateGroupList(fbb, fbb.CreateVector(out));
  s.replies.AddEnvelope(rid, wire::Body::GroupList, body.Union());
  MarkDirty(s);
}

// ------------------------------------------------------------------ audit

void Broker::HandleAdminListAudit(Session& s, std::uint64_t rid, const wire::AdminListAudit& r) {
  Status allowed = RequireAdminOrAuditor(s, "read the audit log");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  std::size_t limit = std::clamp<std::size_t>(r.limit(), 1, 1000);
  Result<std::vector<AuditEntry>> entries = AuditLog::List(*store_, r.from_seq(), limit);
  if (!entries.ok()) return ReplyError(s, rid, entries.status());
  // Reading the audit log is itself recorded (written with the next batch,
  // after what was read).
  Audit(s, "audit.list", "audit",
        JsonObject().Add("from_seq", r.from_seq()).Add("entries", static_cast<std::uint64_t>(entries->size())).str());
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::AuditEntry>> out;
  for (const AuditEntry& e : *entries) {
    auto hash = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(e.hash.data()), e.hash.size());
    out.push_back(wire::CreateAuditEntry(fbb, e.seq, e.at_us, fbb.CreateString(e.actor.login),
                                         fbb.CreateString(e.action), fbb.CreateString(e.target),
                                         fbb.CreateString(e.details), hash));
  }
  auto body = wire::CreateAuditList(fbb, fbb.CreateVector(out));
  s.replies.AddEnvelope(rid, wire::Body::AuditList, body.Union());
  MarkDirty(s);
}

void Broker::HandleAdminVerifyAudit(Session& s, std::uint64_t rid) {
  Status allowed = RequireAdminOrAuditor(s, "verify the audit log");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  Result<AuditVerification> v = AuditLog::Verify(*store_);
  if (!v.ok()) return ReplyError(s, rid, v.status());
  Audit(s, "audit.verify", "audit",
        JsonObject().Add("whole", v->whole).Add("records", v->records).str());
  auto& fbb = s.replies.builder();
  auto body = wire::CreateAuditVerifyReply(fbb, v->whole, v->records, v->first_broken_seq,
                                           fbb.CreateString(v->message));
  s.replies.AddEnvelope(rid, wire::Body::AuditVerifyReply, body.Union());
  MarkDirty(s);
}

}  // namespace chatpro::core
