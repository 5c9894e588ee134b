// SPDX-License-Identifier: Apache-2.0
//
// The broker's requests other than Send and Ack: history, conversations and
// groups, enrollment, invites and user administration.
#include <sodium.h>

#include <algorithm>
#include <set>

#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/core/broker.h"
#include "broker/core/records.h"

namespace chatpro::core {
namespace {

// History replies stop adding messages past this size (at least one is sent).
constexpr std::size_t kHistoryReplyBytes = 8 << 20;

std::string Quoted(std::string_view s) { return "'" + std::string(s.substr(0, 64)) + "'"; }

}  // namespace

// ------------------------------------------------------------------ helpers

Result<Conversation*> Broker::ResolveTarget(const Session& s, std::uint64_t conversation_id,
                                            const flatbuffers::String* to_user,
                                            bool create_direct) {
  if (conversation_id != 0) {
    Conversation* c = conversations_.Find(ConversationId(conversation_id));
    if (c == nullptr) {
      return Status::NotFound("conversation " + std::to_string(conversation_id) + " does not exist");
    }
    if (!c->IsMember(s.user)) {
      return Status::PermissionDenied("you are not a member of conversation " +
                                      std::to_string(conversation_id));
    }
    return c;
  }
  if (to_user == nullptr || to_user->size() == 0) {
    return Status::InvalidArgument("name a conversation or a user");
  }
  const User* other = directory_.FindUserByLogin(to_user->string_view());
  if (other == nullptr) return Status::NotFound("there is no user " + Quoted(to_user->string_view()));
  Conversation* c = conversations_.FindDirect(s.user, other->id);
  // A chat with someone who left can still be read, never written to.
  if (!other->active && create_direct) {
    return Status::FailedPrecondition("user " + Quoted(other->login) + " has left the organisation");
  }
  if (c != nullptr) return c;
  if (!create_direct) {
    return Status::NotFound("you have no conversation with " + Quoted(other->login) + " yet");
  }
  return OpenDirectWith(s.user, other->id);
}

Conversation* Broker::OpenDirectWith(UserId self, UserId other) {
  Conversation* c = conversations_.FindDirect(self, other);
  if (c != nullptr) return c;
  c = conversations_.CreateDirect(self, other, clock_->NowMicros(), &Batch().writes);
  NotifyMembership(c->id, self);
  if (other != self) NotifyMembership(c->id, other);
  return c;
}

flatbuffers::Offset<wire::ConversationInfo> Broker::BuildInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                              const Conversation& c,
                                                              UserId viewer) const {
  std::vector<flatbuffers::Offset<wire::Member>> members;
  members.reserve(c.members.size());
  std::string name = c.name;
  for (const Membership& m : c.members) {
    const User* u = directory_.FindUser(m.user);
    if (u == nullptr) continue;
    members.push_back(wire::CreateMember(fbb, fbb.CreateString(u->login),
                                         fbb.CreateString(u->display_name), m.owner));
    if (c.kind == wire::ConversationKind::Direct && (m.user != viewer || c.members.size() == 1)) {
      name = u->login;
    }
  }
  const Membership* me = c.FindMember(viewer);
  Seq first = me == nullptr ? c.committed_seq + 1 : me->joined_seq + 1;
  auto name_off = fbb.CreateString(name);
  auto members_off = fbb.CreateVector(members);
  return wire::CreateConversationInfo(fbb, c.id.value(), c.kind, name_off, members_off,
                                      c.committed_seq, first);
}

void Broker::NotifyMembership(ConversationId id, UserId user) {
  Batch().on_commit.push_back([this, id, user](const Status& st) {
    if (!st.ok()) return;
    auto online = online_.find(user);
    if (online == online_.end()) return;
    const Conversation* c = conversations_.Find(id);
    if (c == nullptr) return;
    bool member = c->IsMember(user);
    for (Session* s : online->second) {
      if (!member) {
        auto cur = s->cursors.find(id);
        if (cur != s->cursors.end()) {
          s->in_flight_messages -= static_cast<std::uint32_t>(cur->second.in_flight.size());
          for (const auto& f : cur->second.in_flight) s->in_flight_bytes -= f.second;
          s->cursors.erase(cur);
        }
      }
      if (!s->receive) continue;
      auto body = BuildInfo(s->replies.builder(), *c, user);
      s->replies.AddEnvelope(0, wire::Body::ConversationInfo, body.Union());
      MarkDirty(*s);
      if (member && !s->needs_pump) {
        s->needs_pump = true;
        pump_list_.push_back(s->connection);
      }
    }
  });
}

Result<std::vector<UserId>> Broker::ResolveLogins(
    const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* logins) {
  std::vector<UserId> out;
  std::set<UserId> seen;
  if (logins == nullptr) return out;
  if (logins->size() > options_.max_group_members) {
    return Status::ResourceExhausted("a group has at most " +
                                     std::to_string(options_.max_group_members) + " members");
  }
  for (const flatbuffers::String* login : *logins) {
    const User* u = directory_.FindUserByLogin(login->string_view());
    if (u == nullptr) return Status::NotFound("there is no user " + Quoted(login->string_view()));
    if (!u->active) {
      return Status::FailedPrecondition("user " + Quoted(u->login) + " has left the organisation");
    }
    if (seen.insert(u->id).second) out.push_back(u->id);
  }
  return out;
}

// ------------------------------------------------------------------ history

void Broker::HandleHistory(Session& s, std::uint64_t rid, const wire::History& r) {
  Result<Conversation*> target =
      ResolveTarget(s, r.conversation_id(), r.to_user(), /*create_direct=*/false);
  if (!target.ok()) return ReplyError(s, rid, target.status());
  const Conversation& c = **target;
  Seq first = c.FindMember(s.user)->joined_seq + 1;
  Seq head = c.committed_seq;
  std::size_t limit = std::clamp<std::size_t>(r.limit(), 1, options_.history_page_max);

  std::vector<StoredMessage> page;
  bool has_more = false;
  if (r.backward()) {
    Seq from = r.from_seq() == 0 ? head : std::min<Seq>(r.from_seq() - 1, head);
    if (from >= first) {
      Result<std::vector<StoredMessage>> read =
          store_->ReadMessages(c.id, from, limit, ReadDirection::kBackward, kHistoryReplyBytes);
      if (!read.ok()) return ReplyError(s, rid, read.status());
      for (StoredMessage& m : *read) {
        if (m.seq < first) break;
        page.push_back(std::move(m));
      }
      std::reverse(page.begin(), page.end());
      has_more = !page.empty() && page.front().seq > first && page.size() == limit;
    }
  } else {
    Seq from = std::max<Seq>(r.from_seq(), first);
    if (from <= head) {
      Result<std::vector<StoredMessage>> read =
          store_->ReadMessages(c.id, from, limit, ReadDirection::kForward, kHistoryReplyBytes);
      if (!read.ok()) return ReplyError(s, rid, read.status());
      for (StoredMessage& m : *read) {
        if (m.seq > head) break;
        page.push_back(std::move(m));
      }
      has_more = !page.empty() && page.back().seq < head && page.size() == limit;
    }
  }

  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::Delivery>> items;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < page.size(); ++i) {
    const StoredMessage& m = page[r.backward() ? page.size() - 1 - i : i];
    if (!items.empty() && bytes + m.bytes.size() > kHistoryReplyBytes) {
      has_more = true;
      break;
    }
    bytes += m.bytes.size();
    fbb.ForceVectorAlignment(m.bytes.size(), 1, alignof(std::uint64_t));
    auto v = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(m.bytes.data()), m.bytes.size());
    items.push_back(wire::CreateDelivery(fbb, v));
  }
  // Backward pages were collected newest first when trimming; put them back in order.
  if (r.backward()) std::reverse(items.begin(), items.end());
  auto body = wire::CreateHistoryReply(fbb, c.id.value(), fbb.CreateVector(items), has_more);
  s.replies.AddEnvelope(rid, wire::Body::HistoryReply, body.Union());
  MarkDirty(s);
}

// ------------------------------------------------------------------ conversations

void Broker::HandleOpenDirect(Session& s, std::uint64_t rid, const wire::OpenDirect& r) {
  if (r.user() != nullptr) {
    const User* other = directory_.FindUserByLogin(r.user()->string_view());
    if (other != nullptr && conversations_.FindDirect(s.user, other->id) == nullptr) {
      Status blocked = CheckNotBlocked(s.user, other->id);
      if (!blocked.ok()) return ReplyError(s, rid, blocked);
    }
  }
  Result<Conversation*> c = ResolveTarget(s, 0, r.user(), /*create_direct=*/true);
  if (!c.ok()) return ReplyError(s, rid, c.status());
  ConversationId id = (*c)->id;
  AfterCommit(s.connection, rid, [this, id, rid](Session& session) {
    const Conversation* conv = conversations_.Find(id);
    auto body = BuildInfo(session.replies.builder(), *conv, session.user);
    session.replies.AddEnvelope(rid, wire::Body::ConversationInfo, body.Union());
  });
}

void Broker::HandleCreateGroup(Session& s, std::uint64_t rid, const wire::CreateGroup& r) {
  std::string_view name = r.name() == nullptr ? std::string_view() : r.name()->string_view();
  Status valid = ConversationTable::ValidateGroupName(name);
  if (!valid.ok()) return ReplyError(s, rid, valid);
  Result<std::vector<UserId>> members = ResolveLogins(r.members());
  if (!members.ok()) return ReplyError(s, rid, members.status());
  bool creator_listed = std::find(members->begin(), members->end(), s.user) != members->end();
  if (members->size() + (creator_listed ? 0 : 1) > options_.max_group_members) {
    return ReplyError(s, rid, Status::ResourceExhausted("a group has at most " +
                                                        std::to_string(options_.max_group_members) +
                                                        " members"));
  }
  Result<Conversation*> c = conversations_.CreateGroup(name, s.user, *members, clock_->NowMicros(),
                                                       &Batch().writes);
  if (!c.ok()) return ReplyError(s, rid, c.status());
  ConversationId id = (*c)->id;
  for (const Membership& m : (*c)->members) NotifyMembership(id, m.user);
  AfterCommit(s.connection, rid, [this, id, rid](Session& session) {
    auto body = BuildInfo(session.replies.builder(), *conversations_.Find(id), session.user);
    session.replies.AddEnvelope(rid, wire::Body::ConversationInfo, body.Union());
  });
}

void Broker::HandleAddMembers(Session& s, std::uint64_t rid, const wire::AddMembers& r) {
  Result<Conversation*> target = ResolveTarget(s, r.conversation_id(), nullptr, false);
  if (!target.ok()) return ReplyError(s, rid, target.status());
  Conversation* c = *target;
  if (c->kind != wire::ConversationKind::Group) {
    return ReplyError(s, rid, Status::FailedPrecondition("a direct conversation has exactly two people"));
  }
  if (!c->IsOwner(s.user)) {
    return ReplyError(s, rid, Status::PermissionDenied("only the group's owners may add members"));
  }
  Result<std::vector<UserId>> members = ResolveLogins(r.members());
  if (!members.ok()) return ReplyError(s, rid, members.status());
  std::size_t added = 0;
  for (UserId u : *members) added += c->IsMember(u) ? 0 : 1;
  if (c->members.size() + added > options_.max_group_members) {
    return ReplyError(s, rid, Status::ResourceExhausted("a group has at most " +
                                                        std::to_string(options_.max_group_members) +
                                                        " members"));
  }
  for (UserId u : *members) conversations_.AddMember(c, u, r.as_owners(), &Batch().writes);
  for (const Membership& m : c->members) NotifyMembership(c->id, m.user);
  ConversationId id = c->id;
  AfterCommit(s.connection, rid, [this, id, rid](Session& session) {
    auto body = BuildInfo(session.replies.builder(), *conversations_.Find(id), session.user);
    session.replies.AddEnvelope(rid, wire::Body::ConversationInfo, body.Union());
  });
}

void Broker::HandleRemoveMember(Session& s, std::uint64_t rid, const wire::RemoveMember& r) {
  Result<Conversation*> target = ResolveTarget(s, r.conversation_id(), nullptr, false);
  if (!target.ok()) return ReplyError(s, rid, target.status());
  Conversation* c = *target;
  if (c->kind != wire::ConversationKind::Group) {
    return ReplyError(s, rid, Status::FailedPrecondition("a direct conversation has exactly two people"));
  }
  std::string_view login = r.member() == nullptr ? std::string_view() : r.member()->string_view();
  const User* u = directory_.FindUserByLogin(login);
  if (u == nullptr) return ReplyError(s, rid, Status::NotFound("there is no user " + Quoted(login)));
  if (u->id != s.user && !c->IsOwner(s.user)) {
    return ReplyError(s, rid, Status::PermissionDenied("only the group's owners may remove members"));
  }
  if (!c->IsMember(u->id)) {
    return ReplyError(s, rid, Status::NotFound(Quoted(u->login) + " is not a member of this group"));
  }
  std::vector<UserId> told;
  for (const Membership& m : c->members) told.push_back(m.user);
  conversations_.RemoveMember(c, u->id, &Batch().writes);
  conversations_.EnsureActiveOwner(c, [this](UserId x) { return IsActiveUser(x); }, &Batch().writes);
  for (UserId m : told) NotifyMembership(c->id, m);
  ConversationId id = c->id;
  AfterCommit(s.connection, rid, [this, id, rid](Session& session) {
    auto body = BuildInfo(session.replies.builder(), *conversations_.Find(id), session.user);
    session.replies.AddEnvelope(rid, wire::Body::ConversationInfo, body.Union());
  });
}

void Broker::HandleLeaveGroup(Session& s, std::uint64_t rid, const wire::LeaveGroup& r) {
  Result<Conversation*> target = ResolveTarget(s, r.conversation_id(), nullptr, false);
  if (!target.ok()) return ReplyError(s, rid, target.status());
  Conversation* c = *target;
  if (c->kind != wire::ConversationKind::Group) {
    return ReplyError(s, rid, Status::FailedPrecondition("you cannot leave a direct conversation"));
  }
  std::vector<UserId> told;
  for (const Membership& m : c->members) told.push_back(m.user);
  conversations_.RemoveMember(c, s.user, &Batch().writes);
  conversations_.EnsureActiveOwner(c, [this](UserId x) { return IsActiveUser(x); }, &Batch().writes);
  for (UserId m : told) NotifyMembership(c->id, m);
  AfterCommit(s.connection, rid, [rid](Session& session) {
    auto body = wire::CreateDone(session.replies.builder());
    session.replies.AddEnvelope(rid, wire::Body::Done, body.Union());
  });
}

void Broker::HandleListConversations(Session& s, std::uint64_t rid) {
  std::vector<ConversationId> ids(conversations_.ConversationsOf(s.user).begin(),
                                  conversations_.ConversationsOf(s.user).end());
  std::sort(ids.begin(), ids.end());
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::ConversationInfo>> infos;
  for (ConversationId id : ids) infos.push_back(BuildInfo(fbb, *conversations_.Find(id), s.user));
  auto body = wire::CreateConversationList(fbb, fbb.CreateVector(infos));
  s.replies.AddEnvelope(rid, wire::Body::ConversationList, body.Union());
  MarkDirty(s);
}

// ------------------------------------------------------------------ identity

void Broker::HandleEnroll(Session& s, std::uint64_t rid, const wire::Enroll& r) {
  std::int64_t now = clock_->NowMicros();
  const Enrollment* e = directory_.FindEnrollment(s.enrollment_key, now);
  if (e == nullptr) {
    return ReplyError(s, rid, Status::PermissionDenied("this invite is used up or has expired"));
  }
  if (r.device_public_key() == nullptr || r.device_public_key()->size() != 32) {
    return ReplyError(s, rid, Status::InvalidArgument("a device public key has 32 bytes"));
  }
  const User* user = directory_.FindUser(e->user);
  if (user == nullptr || !user->active) {
    return ReplyError(s, rid, Status::FailedPrecondition("the invited user has left the organisation"));
  }
  std::string key(reinterpret_cast<const char*>(r.device_public_key()->data()), 32);
  const KeyKind kind = r.device_key_kind();
  if (kind == KeyKind::Ed25519) {
    // A key that is no point of the curve (or of small order) would verify
    // forged signatures or none at all.
    if (crypto_core_ed25519_is_valid_point(
            reinterpret_cast<const unsigned char*>(key.data())) != 1) {
      return ReplyError(s, rid, Status::InvalidArgument("the device key is not a valid Ed25519 key"));
    }
  } else if (kind != KeyKind::Curve25519) {
    return ReplyError(s, rid, Status::InvalidArgument("unknown device key kind " +
                                                      std::to_string(static_cast<int>(kind))));
  }
  std::string_view name = r.device_name() == nullptr ? "" : r.device_name()->string_view();
  std::string_view version = r.client_version() == nullptr ? "" : r.client_version()->string_view();
  if (!IsValidUtf8(name) || !IsValidUtf8(version)) {
    return ReplyError(s, rid, Status::InvalidArgument("the device name is not valid UTF-8"));
  }
  Result<const Device*> device = directory_.AddDevice(user->id, key, name, version, now, &Batch().writes, kind);
  if (!device.ok()) return ReplyError(s, rid, device.status());
  directory_.RemoveEnrollment(s.enrollment_key, &Batch().writes);
  LOG_INFO() << "enrolled device " << (*device)->id << " of " << user->login;
  audit_.Append(AuditActor{user->id, user->login, (*device)->id}, "device.enroll",
                "device:" + std::to_string((*device)->id.value()),
                JsonObject()
                    .Add("user", user->login)
                    .Add("name", name)
                    .Add("client_version", version)
                    .Add("key_kind", wire::EnumNameKeyKind(kind))
                    .Add("address", s.address)
                    .str(),
                &Batch().writes);
  UserId uid = user->id;
  DeviceId did = (*device)->id;
  AfterCommit(s.connection, rid, [this, uid, did, rid](Session& session) {
    const User* u = directory_.FindUser(uid);
    auto& fbb = session.replies.builder();
    auto login = fbb.CreateString(u->login);
    auto display = fbb.CreateString(u->display_name);
    auto body = wire::CreateEnrollReply(fbb, uid.value(), login, display, u->role, did.value());
    session.replies.AddEnvelope(rid, wire::Body::EnrollReply, body.Union());
  });
}

void Broker::HandleCreateInvite(Session& s, std::uint64_t rid, const wire::CreateInvite& r) {
  const User* caller = directory_.FindUser(s.user);
  const User* target = caller;
  if (r.login() != nullptr && r.login()->size() > 0 && r.login()->string_view() != caller->login) {
    if (caller->role != Role::Admin) {
      return ReplyError(s, rid, Status::PermissionDenied(
                                    "only administrators may invite devices for other users"));
    }
    target = directory_.FindUserByLogin(r.login()->string_view());
    if (target == nullptr) {
      return ReplyError(s, rid, Status::NotFound("there is no user " + Quoted(r.login()->string_view())));
    }
  }
  if (!target->active) {
    return ReplyError(s, rid, Status::FailedPrecondition("user " + Quoted(target->login) +
                                                         " has left the organisation"));
  }
  Result<std::string> invite = MakeInvite(target->id);
  if (!invite.ok()) return ReplyError(s, rid, invite.status());
  std::string login = target->login;
  std::int64_t expires = clock_->NowMicros() + options_.invite_ttl_us;
  Audit(s, "device.invite", "user:" + login, JsonObject().Add("expires_at_us", expires).str());
  AfterCommit(s.connection, rid, [login, invite = *invite, web = WebLinkFor(*invite), expires,
                                  rid](Session& session) {
    auto& fbb = session.replies.builder();
    auto body = wire::CreateInviteReply(fbb, fbb.CreateString(login), fbb.CreateString(invite),
                                        expires, OptionalString(fbb, web));
    session.replies.AddEnvelope(rid, wire::Body::InviteReply, body.Union());
  });
}

void Broker::HandleDirectory(Session& s, std::uint64_t rid) {
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::UserInfo>> users;
  for (const User* u : directory_.Users()) {
    if (!u->active) continue;
    // Everyone sees login and display name, nothing else.
    auto login = fbb.CreateString(u->login);
    auto display = fbb.CreateString(u->display_name);
    wire::UserInfoBuilder info(fbb);
    info.add_login(login);
    info.add_display_name(display);
    info.add_active(true);
    users.push_back(info.Finish());
  }
  auto body = wire::CreateUserList(fbb, fbb.CreateVector(users));
  s.replies.AddEnvelope(rid, wire::Body::UserList, body.Union());
  MarkDirty(s);
}

void Broker::HandleAdminAddUser(Session& s, std::uint64_t rid, const wire::AdminAddUser& r) {
  const User* caller = directory_.FindUser(s.user);
  Status allowed = RequireAdmin(s, "add users");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  if (static_cast<int>(r.role()) > static_cast<int>(wire::Role::MAX)) {
    return ReplyError(s, rid, Status::InvalidArgument("unknown role"));
  }
  std::string_view login = r.login() == nullptr ? std::string_view() : r.login()->string_view();
  std::string_view display =
      r.display_name() == nullptr || r.display_name()->size() == 0 ? login
                                                                   : r.display_name()->string_view();
  Result<const User*> user =
      directory_.AddUser(login, display, r.role(), clock_->NowMicros(), &Batch().writes);
  if (!user.ok()) return ReplyError(s, rid, user.status());
  Result<std::string> invite = MakeInvite((*user)->id);
  if (!invite.ok()) return ReplyError(s, rid, invite.status());
  LOG_INFO() << caller->login << " added user " << (*user)->login << " ("
             << wire::EnumNameRole(r.role()) << ")";
  Audit(s, "user.add", "user:" + (*user)->login,
        JsonObject()
            .Add("role", wire::EnumNameRole(r.role()))
            .Add("display_name", (*user)->display_name)
            .str());
  std::string new_login = (*user)->login;
  std::int64_t expires = clock_->NowMicros() + options_.invite_ttl_us;
  AfterCommit(s.connection, rid, [new_login, invite = *invite, web = WebLinkFor(*invite),
                                  expires, rid](Session& session) {
    auto& fbb = session.replies.builder();
    auto body = wire::CreateInviteReply(fbb, fbb.CreateString(new_login),
                                        fbb.CreateString(invite), expires,
                                        OptionalString(fbb, web));
    session.replies.AddEnvelope(rid, wire::Body::InviteReply, body.Union());
  });
}

void Broker::HandleAdminListUsers(Session& s, std::uint64_t rid) {
  Status allowed = RequireAdminOrAuditor(s, "list users");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  Audit(s, "user.list", "users", "{}");
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::UserInfo>> users;
  for (const User* u : directory_.Users()) {
    std::uint32_t devices = 0;
    for (DeviceId d : u->devices) {
      const Device* dev = directory_.FindDevice(d);
      if (dev != nullptr && dev->active) ++devices;
    }
    users.push_back(wire::CreateUserInfo(fbb, u->id.value(), fbb.CreateString(u->login),
                                         fbb.CreateString(u->display_name), u->role, u->active,
                                         devices, u->created_at_us));
  }
  auto body = wire::CreateUserList(fbb, fbb.CreateVector(users));
  s.replies.AddEnvelope(rid, wire::Body::UserList, body.Union());
  MarkDirty(s);
}

}  // namespace chatpro::core
