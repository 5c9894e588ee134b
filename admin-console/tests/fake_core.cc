// SPDX-License-Identifier: Apache-2.0
#include "admin-console/tests/fake_core.h"

#include <sodium.h>

#include <algorithm>
#include <functional>

#include "schemas/vectors.h"

namespace chatpro::console::testing {
namespace {

namespace fb = flatbuffers;

std::string Finish(fb::FlatBufferBuilder& fbb, std::uint64_t rid, wire::Body type,
                   fb::Offset<void> body) {
  std::vector<fb::Offset<wire::Envelope>> envelopes = {wire::CreateEnvelope(fbb, rid, type, body)};
  fbb.Finish(wire::CreateFrameDirect(fbb, 1, &envelopes), wire::FrameIdentifier());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string ErrorFrame(std::uint64_t rid, wire::ErrorCode code, const std::string& message) {
  fb::FlatBufferBuilder fbb;
  auto m = fbb.CreateString(message);
  return Finish(fbb, rid, wire::Body::Error, wire::CreateError(fbb, code, m).Union());
}

std::string DoneFrame(std::uint64_t rid) {
  fb::FlatBufferBuilder fbb;
  return Finish(fbb, rid, wire::Body::Done, wire::CreateDone(fbb).Union());
}

std::string S(const fb::String* s) { return s ? s->str() : std::string(); }

}  // namespace

void FakeCore::AddUser(std::uint64_t id, const std::string& login, const std::string& display_name,
                       wire::Role role, const std::string& password) {
  char hash[crypto_pwhash_STRBYTES] = {};
  if (!password.empty()) {
    // The cheapest parameters: the tests check behaviour, not hash strength.
    if (crypto_pwhash_str(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_MIN,
                          crypto_pwhash_MEMLIMIT_MIN) != 0) {
      std::abort();
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  users_.push_back({id, login, display_name, role, true, hash});
}

void FakeCore::SetActive(const std::string& login, bool active) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (FakeUser& u : users_) {
    if (u.login == login) u.active = active;
  }
}

std::vector<AuditRecord> FakeCore::audit() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return audit_;
}

std::vector<std::string> FakeCore::user_requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return user_requests_;
}

Result<std::string> FakeCore::Call(std::string_view principal, std::string_view frame,
                                   std::chrono::milliseconds) {
  if (unavailable) return Status::Unavailable("the broker is not serving");
  fb::Verifier verifier(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
  if (!wire::VerifyFrameBuffer(verifier)) return Status::InvalidArgument("not a frame");
  const wire::Frame* f = wire::GetFrame(frame.data());
  if (f->envelopes() == nullptr || f->envelopes()->size() != 1) {
    return Status::InvalidArgument("one envelope expected");
  }
  const wire::Envelope* e = f->envelopes()->Get(0);
  const std::uint64_t rid = e->request_id();
  std::lock_guard<std::mutex> lock(mutex_);
  auto find = [&](const std::string& login) -> FakeUser* {
    for (FakeUser& u : users_) {
      if (u.login == login) return &u;
    }
    return nullptr;
  };

  if (principal == "s:console") {
    if (const auto* r = e->body_as_ConsoleCredentials()) {
      FakeUser* u = find(S(r->login()));
      if (u == nullptr) return ErrorFrame(rid, wire::ErrorCode::NotFound, "no such user");
      fb::FlatBufferBuilder fbb;
      auto reply = wire::CreateConsoleCredentialsReplyDirect(
          fbb, u->id, u->login.c_str(), u->display_name.c_str(), u->role, u->active,
          u->password_hash.c_str());
      return Finish(fbb, rid, wire::Body::ConsoleCredentialsReply, reply.Union());
    }
    if (const auto* r = e->body_as_ConsoleAudit()) {
      audit_.push_back({S(r->event()), S(r->login()), S(r->address()), r->ok()});
      return DoneFrame(rid);
    }
    return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "not for the console service");
  }
  if (principal.rfind("c:", 0) != 0) return Status::InvalidArgument("unknown principal");
  std::uint64_t id = std::stoull(std::string(principal.substr(2)));
  user_requests_.push_back(wire::EnumNameBody(e->body_type()));
  FakeUser* caller = nullptr;
  for (FakeUser& u : users_) {
    if (u.id == id) caller = &u;
  }
  if (caller == nullptr || !caller->active) {
    return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "the account is deactivated");
  }
  const bool admin = caller->role == wire::Role::Admin;
  const bool reader = admin || caller->role == wire::Role::Auditor;
  fb::FlatBufferBuilder fbb;
  switch (e->body_type()) {
    case wire::Body::AdminListUsers: {
      if (!reader) return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "admins only");
      std::vector<fb::Offset<wire::UserInfo>> list;
      for (const FakeUser& u : users_) {
        list.push_back(wire::CreateUserInfoDirect(fbb, u.id, u.login.c_str(),
                                                  u.display_name.c_str(), u.role, u.active, 1,
                                                  1'700'000'000'000'000));
      }
      return Finish(fbb, rid, wire::Body::UserList, wire::CreateUserListDirect(fbb, &list).Union());
    }
    case wire::Body::AdminAddUser: {
      if (!admin) return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "admins only");
      const auto* r = e->body_as_AdminAddUser();
      std::string login = S(r->login());
      if (login.empty()) return ErrorFrame(rid, wire::ErrorCode::InvalidArgument, "login is empty");
      if (find(login) != nullptr) {
        return ErrorFrame(rid, wire::ErrorCode::AlreadyExists, "user '" + login + "' exists");
      }
      users_.push_back({users_.size() + 100, login, S(r->display_name()), r->role(), true, ""});
      std::string invite = "chatpro://127.0.0.1:7070?key=abc&code=" + login;
      return Finish(fbb, rid, wire::Body::InviteReply,
                    wire::CreateInviteReplyDirect(fbb, login.c_str(), invite.c_str(), 42).Union());
    }
    case wire::Body::AdminDeactivateUser: {
      if (!admin) return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "admins only");
      std::string login = S(e->body_as_AdminDeactivateUser()->login());
      FakeUser* u = find(login);
      if (u == nullptr) return ErrorFrame(rid, wire::ErrorCode::NotFound, "no user " + login);
      u->active = false;
      return Finish(fbb, rid, wire::Body::OffboardingReply,
                    wire::CreateOffboardingReplyDirect(fbb, login.c_str(), 5, 2, 1, 6, 0).Union());
    }
    case wire::Body::ListDevices: {
      if (!reader) return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "admins only");
      std::string login = S(e->body_as_ListDevices()->login());
      if (find(login) == nullptr) return ErrorFrame(rid, wire::ErrorCode::NotFound, "no user " + login);
      std::vector<fb::Offset<wire::DeviceInfo>> devices = {wire::CreateDeviceInfoDirect(
          fbb, 7, "laptop", "chatpro-cli/0.1", 1, 2, "127.0.0.1", true, 0, false)};
      return Finish(fbb, rid, wire::Body::DeviceList,
                    wire::CreateDeviceListDirect(fbb, login.c_str(), &devices).Union());
    }
    case wire::Body::AdminListAudit: {
      if (!reader) return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "admins only");
      std::vector<fb::Offset<wire::AuditEntry>> entries;
      std::vector<std::uint8_t> hash = {0xab, 0xcd};
      for (std::size_t i = 0; i < audit_.size(); ++i) {
        entries.push_back(wire::CreateAuditEntryDirect(fbb, i + 1, 0, audit_[i].login.c_str(),
                                                       audit_[i].event.c_str(), "console",
                                                       "{\"a\":1}", &hash));
      }
      return Finish(fbb, rid, wire::Body::AuditList,
                    wire::CreateAuditListDirect(fbb, &entries).Union());
    }
    case wire::Body::AdminVerifyAudit:
      if (!reader) return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "admins only");
      return Finish(fbb, rid, wire::Body::AuditVerifyReply,
                    wire::CreateAuditVerifyReplyDirect(fbb, true, audit_.size(), 0, "whole").Union());
    default:
      if (std::optional<std::string> reply = RecordsReply(*e, *caller)) return *reply;
      return AnswerCases(*caller, rid, *e);
  }
}

// Cases and exports (console_exports.cc)

void FakeCore::FinishExports() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (FakeCase& c : cases_) {
    if (c.export_state == "running") c.export_state = "done";
  }
}

std::vector<FakeCore::FakeCase> FakeCore::cases() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cases_;
}

Result<std::string> FakeCore::AnswerCases(const FakeUser& caller, std::uint64_t rid,
                                          const wire::Envelope& e) {
  if (caller.role != wire::Role::Admin && caller.role != wire::Role::Auditor) {
    return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "administrators and auditors only");
  }
  auto login_of = [&](std::uint64_t id) {
    for (const FakeUser& u : users_) {
      if (u.id == id) return u.login;
    }
    return std::string();
  };
  auto find_case = [&](std::uint64_t id) -> FakeCase* {
    for (FakeCase& c : cases_) {
      if (c.id == id) return &c;
    }
    return nullptr;
  };
  fb::FlatBufferBuilder fbb;
  auto case_info = [&](const FakeCase& c) {
    std::string state = c.export_state == "done" ? "exported"
                        : c.approved_by != 0                               ? "approved"
                                                                           : "awaiting approval";
    std::vector<fb::Offset<fb::String>> subjects;
    for (const std::string& login : c.subjects) subjects.push_back(fbb.CreateString(login));
    return wire::CreateCaseInfoDirect(fbb, c.id, c.kind, state.c_str(), c.legal_basis.c_str(),
                                      &subjects, &c.conversations, c.from_us, c.to_us,
                                      c.keyword.c_str(), c.redact_others,
                                      login_of(c.requested_by).c_str(), 1'700'000'000'000'000,
                                      login_of(c.approved_by).c_str(),
                                      c.approved_by != 0 ? 1'700'000'100'000'000 : 0,
                                      c.approved_by != 0 ? 1'700'600'000'000'000 : 0, 0);
  };
  auto export_info = [&](const FakeCase& c) {
    std::uint64_t bytes = c.export_state == "done" ? export_file.size() : 0;
    return wire::CreateExportInfoDirect(fbb, c.id, c.id, c.export_state.c_str(), 3, 0, bytes, "");
  };
  switch (e.body_type()) {
    case wire::Body::CaseOpen: {
      const auto* r = e.body_as_CaseOpen();
      FakeCase c;
      c.id = cases_.size() + 1;
      c.kind = r->kind();
      c.legal_basis = S(r->legal_basis());
      if (c.legal_basis.empty()) {
        return ErrorFrame(rid, wire::ErrorCode::InvalidArgument, "a case needs a legal basis");
      }
      if (r->subjects() == nullptr || r->subjects()->size() == 0) {
        return ErrorFrame(rid, wire::ErrorCode::InvalidArgument, "a case names at least one subject");
      }
      for (const fb::String* s : *r->subjects()) {
        bool known = std::any_of(users_.begin(), users_.end(),
                                 [&](const FakeUser& u) { return u.login == S(s); });
        if (!known) {
          return ErrorFrame(rid, wire::ErrorCode::NotFound, "there is no user '" + S(s) + "'");
        }
        c.subjects.push_back(S(s));
      }
      c.conversations = schemas::U64s(r->conversations());
      c.from_us = r->from_us();
      c.to_us = r->to_us();
      c.keyword = S(r->keyword());
      c.redact_others = r->redact_others();
      c.requested_by = caller.id;
      cases_.push_back(c);
      return Finish(fbb, rid, wire::Body::CaseInfo, case_info(cases_.back()).Union());
    }
    case wire::Body::CaseApprove: {
      FakeCase* c = find_case(e.body_as_CaseApprove()->case_id());
      if (c == nullptr) return ErrorFrame(rid, wire::ErrorCode::NotFound, "there is no such case");
      if (c->approved_by != 0) {
        return ErrorFrame(rid, wire::ErrorCode::FailedPrecondition, "approved already");
      }
      const FakeUser* requester = nullptr;
      for (const FakeUser& u : users_) {
        if (u.id == c->requested_by) requester = &u;
      }
      if (c->requested_by == caller.id) {
        return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "you opened the case yourself");
      }
      if (requester != nullptr && requester->role == caller.role) {
        return ErrorFrame(rid, wire::ErrorCode::PermissionDenied, "only the other role may approve");
      }
      c->approved_by = caller.id;
      return Finish(fbb, rid, wire::Body::CaseInfo, case_info(*c).Union());
    }
    case wire::Body::CaseList: {
      std::vector<fb::Offset<wire::CaseInfo>> list;
      for (const FakeCase& c : cases_) list.push_back(case_info(c));
      return Finish(fbb, rid, wire::Body::CaseInfoList,
                    wire::CreateCaseInfoListDirect(fbb, &list).Union());
    }
    case wire::Body::ExportStart: {
      FakeCase* c = find_case(e.body_as_ExportStart()->case_id());
      if (c == nullptr) return ErrorFrame(rid, wire::ErrorCode::NotFound, "there is no such case");
      if (c->approved_by == 0) {
        return ErrorFrame(rid, wire::ErrorCode::FailedPrecondition, "the case is awaiting approval");
      }
      if (!c->export_state.empty()) {
        return ErrorFrame(rid, wire::ErrorCode::FailedPrecondition, "exported already");
      }
      c->export_state = "running";
      return Finish(fbb, rid, wire::Body::ExportInfo, export_info(*c).Union());
    }
    case wire::Body::ExportStatus: {
      FakeCase* c = find_case(e.body_as_ExportStatus()->export_id());
      if (c == nullptr || c->export_state.empty()) {
        return ErrorFrame(rid, wire::ErrorCode::NotFound, "there is no such export");
      }
      return Finish(fbb, rid, wire::Body::ExportInfo, export_info(*c).Union());
    }
    case wire::Body::ExportDownload: {
      if (download_pieces_left == 0) return Status::Unavailable("the broker is not serving");
      if (download_pieces_left > 0) --download_pieces_left;
      const auto* r = e.body_as_ExportDownload();
      FakeCase* c = find_case(r->export_id());
      if (c == nullptr || c->export_state.empty()) {
        return ErrorFrame(rid, wire::ErrorCode::NotFound, "there is no such export");
      }
      if (c->export_state != "done") {
        return ErrorFrame(rid, wire::ErrorCode::FailedPrecondition, "the export is running");
      }
      if (r->offset() > export_file.size()) {
        return ErrorFrame(rid, wire::ErrorCode::InvalidArgument, "offset past the end");
      }
      std::size_t n = std::min<std::size_t>({r->max_bytes(), chunk_limit,
                                             export_file.size() - r->offset()});
      auto data = fbb.CreateVector(
          reinterpret_cast<const std::uint8_t*>(export_file.data()) + r->offset(), n);
      return Finish(fbb, rid, wire::Body::ExportChunk,
                    wire::CreateExportChunk(fbb, r->export_id(), r->offset(), data,
                                            export_file.size(),
                                            r->offset() + n >= export_file.size())
                        .Union());
    }
    default:
      return ErrorFrame(rid, wire::ErrorCode::InvalidArgument, "not handled by the fake");
  }
}

}  // namespace chatpro::console::testing
