// SPDX-License-Identifier: Apache-2.0
//
// The web admin console's requests. The console calls the core in-process
// (core::LocalCaller) as a signed-in user ("c:<user id>", checked exactly as
// that user's device) or as the console service ("s:console", which may only
// look up credentials and record sign-ins). Console passwords are argon2id
// hashes made at the edge; the core checks their form and stores them.
#include <algorithm>

#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/core/broker.h"
#include "broker/core/records.h"
#include "broker/crypto/password.h"

namespace chatpro::core {
namespace {

std::string Quoted(std::string_view s) { return "'" + std::string(s.substr(0, 64)) + "'"; }

constexpr std::size_t kMaxConsoleFieldBytes = 128;

}  // namespace

void Broker::DispatchConsole(Session& s, const wire::Envelope& e) {
  const std::uint64_t rid = e.request_id();
  const wire::Body type = e.body_type();
  const User* u = directory_.FindUser(s.user);
  // The same code as a device of a deactivated user gets; the console signs
  // the user out when it sees it.
  if (u == nullptr) {
    return ReplyError(s, rid, Status::PermissionDenied("there is no user with id " +
                                                       std::to_string(s.user.value())));
  }
  if (!u->active) {
    return ReplyError(s, rid, Status::PermissionDenied("user " + Quoted(u->login) +
                                                       " is deactivated"));
  }
  switch (type) {
    case wire::Body::Send:
    case wire::Body::Ack:
    case wire::Body::Hello:
    case wire::Body::ConfirmWipe:
    case wire::Body::Enroll:
    case wire::Body::Goodbye:
      return ReplyError(s, rid,
                        Status::PermissionDenied(std::string(wire::EnumNameBody(type)) +
                                                 " needs a device; a console session has none"));
    default:
      return DispatchUser(s, e);
  }
}

void Broker::DispatchConsoleService(Session& s, const wire::Envelope& e) {
  const std::uint64_t rid = e.request_id();
  switch (e.body_type()) {
    case wire::Body::ConsoleCredentials:
      return HandleConsoleCredentials(s, rid, *e.body_as_ConsoleCredentials());
    case wire::Body::ConsoleAudit: return HandleConsoleAudit(s, rid, *e.body_as_ConsoleAudit());
    case wire::Body::NONE:
      return ReplyError(s, rid, Status::InvalidArgument("the envelope has no request"));
    default:
      return ReplyError(s, rid,
                        Status::PermissionDenied("the console service may only send "
                                                 "ConsoleCredentials and ConsoleAudit"));
  }
}

void Broker::HandleAdminSetConsolePassword(Session& s, std::uint64_t rid,
                                           const wire::AdminSetConsolePassword& r) {
  const User* caller = directory_.FindUser(s.user);
  const User* target = caller;
  if (!View(r.login()).empty() && View(r.login()) != caller->login) {
    Status allowed = RequireAdmin(s, "set other people's console passwords");
    if (!allowed.ok()) return ReplyError(s, rid, allowed);
    target = directory_.FindUserByLogin(View(r.login()));
    if (target == nullptr) {
      return ReplyError(s, rid, Status::NotFound("there is no user " + Quoted(View(r.login()))));
    }
  }
  const std::string_view hash = View(r.password_hash());
  if (!hash.empty()) {
    // Never a plain password or a cheap hash in the store: the edge hashes.
    Status valid = crypto::CheckPasswordHash(hash);
    if (!valid.ok()) return ReplyError(s, rid, valid);
  }
  const bool clear = hash.empty();
  const std::string login = target->login;
  directory_.SetConsolePasswordHash(target->id, hash, &Batch().writes);
  // The hash goes neither into the audit entry nor into the log.
  Audit(s, clear ? "console.password_cleared" : "console.password_set", "user:" + login, "{}");
  LOG_INFO() << "console password " << (clear ? "cleared" : "set") << " for " << login << " by "
             << caller->login << (s.console ? " via the console" : "");
  AfterCommit(s.connection, rid, [rid](Session& session) {
    auto body = wire::CreateDone(session.replies.builder());
    session.replies.AddEnvelope(rid, wire::Body::Done, body.Union());
  });
}

void Broker::HandleConsoleCredentials(Session& s, std::uint64_t rid,
                                      const wire::ConsoleCredentials& r) {
  const User* u = directory_.FindUserByLogin(View(r.login()));
  if (u == nullptr) {
    return ReplyError(s, rid, Status::NotFound("there is no user " + Quoted(View(r.login()))));
  }
  auto& fbb = s.replies.builder();
  auto body = wire::CreateConsoleCredentialsReply(
      fbb, u->id.value(), fbb.CreateString(u->login), fbb.CreateString(u->display_name), u->role,
      u->active, fbb.CreateString(u->console_password_hash));
  s.replies.AddEnvelope(rid, wire::Body::ConsoleCredentialsReply, body.Union());
  MarkDirty(s);
}

void Broker::HandleConsoleAudit(Session& s, std::uint64_t rid, const wire::ConsoleAudit& r) {
  // The console names its events ("signin", "signout", "signin_refused",
  // "lockout", ...); the core only keeps the name to a safe, short word.
  const std::string_view event = View(r.event());
  const bool word = !event.empty() && event.size() <= 32 &&
                    std::all_of(event.begin(), event.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                             c == '-' || c == '.';
                    });
  if (!word) {
    return ReplyError(s, rid,
                      Status::InvalidArgument("a console audit event is 1 to 32 of a-z, 0-9, "
                                              "'_', '-' and '.', e.g. signin"));
  }
  // A refused sign-in carries whatever a browser typed: bounded and text.
  const std::string_view login = View(r.login());
  const std::string_view address = View(r.address());
  if (login.size() > kMaxConsoleFieldBytes || address.size() > kMaxConsoleFieldBytes ||
      !IsValidUtf8(login) || !IsValidUtf8(address)) {
    return ReplyError(s, rid,
                      Status::InvalidArgument("a console audit login or address is UTF-8 text of "
                                              "at most " +
                                              std::to_string(kMaxConsoleFieldBytes) + " bytes"));
  }
  // Who signed in or out acted; a refusal or lock-out is the broker's own.
  const bool acted = event == "signin" || event == "signout";
  AuditActor actor;
  actor.via = "console";
  const User* u = directory_.FindUserByLogin(login);
  if (u != nullptr && acted) {
    actor.user = u->id;
    actor.login = u->login;
  }
  audit_.Append(actor, "console." + std::string(event), "user:" + std::string(login),
                JsonObject().Add("address", address).Add("ok", r.ok()).str(), &Batch().writes);
  AfterCommit(s.connection, rid, [rid](Session& session) {
    auto body = wire::CreateDone(session.replies.builder());
    session.replies.AddEnvelope(rid, wire::Body::Done, body.Union());
  });
}

}  // namespace chatpro::core
