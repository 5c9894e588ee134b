// SPDX-License-Identifier: Apache-2.0
#include "admin-console/wire_json.h"

#include <utility>
#include <vector>

#include "broker/base/encoding.h"
#include "broker/base/json.h"
#include "schemas/vectors.h"

namespace chatpro::console {
namespace {

namespace fb = flatbuffers;

std::string Str(const fb::String* s) { return s ? s->str() : std::string(); }

// One Frame holding one envelope of `type`, built by `body`.
template <typename BuildBody>
std::string OneRequest(wire::Body type, BuildBody body) {
  fb::FlatBufferBuilder fbb(256);
  fb::Offset<void> b = body(fbb);
  std::vector<fb::Offset<wire::Envelope>> envelopes = {
      wire::CreateEnvelope(fbb, kRequestId, type, b)};
  fbb.Finish(wire::CreateFrameDirect(fbb, 1, &envelopes), wire::FrameIdentifier());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string UserJson(const wire::UserInfo& u) {
  return JsonObject()
      .Add("id", static_cast<std::uint64_t>(u.id()))
      .Add("login", Str(u.login()))
      .Add("display_name", Str(u.display_name()))
      .Add("role", RoleName(u.role()))
      .Add("active", u.active())
      .Add("devices", static_cast<std::uint64_t>(u.devices()))
      .Add("created_at_us", static_cast<std::int64_t>(u.created_at_us()))
      .str();
}

std::string DeviceJson(const wire::DeviceInfo& d) {
  return JsonObject()
      .Add("id", static_cast<std::uint64_t>(d.id()))
      .Add("name", Str(d.name()))
      .Add("client_version", Str(d.client_version()))
      .Add("created_at_us", static_cast<std::int64_t>(d.created_at_us()))
      .Add("last_seen_us", static_cast<std::int64_t>(d.last_seen_us()))
      .Add("last_address", Str(d.last_address()))
      .Add("active", d.active())
      .Add("revoked_at_us", static_cast<std::int64_t>(d.revoked_at_us()))
      .Add("online", d.online())
      .str();
}

std::string AuditJson(const wire::AuditEntry& e) {
  std::string hash;
  if (e.hash() != nullptr) {
    hash = HexEncode(std::string_view(reinterpret_cast<const char*>(e.hash()->data()),
                                      e.hash()->size()));
  }
  // `details` is a JSON object written by the core, passed on as a string:
  // the console never splices stored text into its own JSON.
  return JsonObject()
      .Add("seq", static_cast<std::uint64_t>(e.seq()))
      .Add("at_us", static_cast<std::int64_t>(e.at_us()))
      .Add("actor", Str(e.actor()))
      .Add("action", Str(e.action()))
      .Add("target", Str(e.target()))
      .Add("details", Str(e.details()))
      .Add("hash", hash)
      .str();
}

template <typename T, typename ToJson>
std::string JsonArray(const fb::Vector<fb::Offset<T>>* items, ToJson to_json) {
  std::string out = "[";
  if (items != nullptr) {
    for (fb::uoffset_t i = 0; i < items->size(); ++i) {
      if (i > 0) out += ',';
      out += to_json(*items->Get(i));
    }
  }
  return out + "]";
}

// Cases and exports (console_exports.cc)

std::string CaseJson(const wire::CaseInfo& c) {
  std::vector<std::string> subjects;
  if (c.subjects() != nullptr) {
    for (const fb::String* s : *c.subjects()) subjects.push_back(Str(s));
  }
  const std::vector<std::uint64_t> conversations = schemas::U64s(c.conversations());
  return JsonObject()
      .Add("id", static_cast<std::uint64_t>(c.id()))
      .Add("kind", CaseKindName(c.kind()))
      .Add("state", Str(c.state()))
      .Add("legal_basis", Str(c.legal_basis()))
      .Add("subjects", subjects)
      .Add("conversations", conversations)
      .Add("from_at_us", static_cast<std::int64_t>(c.from_us()))
      .Add("to_at_us", static_cast<std::int64_t>(c.to_us()))
      .Add("keyword", Str(c.keyword()))
      .Add("redact_others", c.redact_others())
      .Add("requested_by", Str(c.requested_by()))
      .Add("requested_at_us", static_cast<std::int64_t>(c.requested_at_us()))
      .Add("approved_by", Str(c.approved_by()))
      .Add("approved_at_us", static_cast<std::int64_t>(c.approved_at_us()))
      .Add("approval_expires_at_us", static_cast<std::int64_t>(c.approval_expires_at_us()))
      .Add("visible_to_subjects_at_us", static_cast<std::int64_t>(c.visible_to_subjects_at_us()))
      .str();
}

std::string ExportJson(const wire::ExportInfo& x) {
  std::string state = Str(x.state());
  JsonObject o;
  o.Add("id", static_cast<std::uint64_t>(x.id()))
      .Add("case_id", static_cast<std::uint64_t>(x.case_id()))
      .Add("state", state)
      .Add("messages", static_cast<std::uint64_t>(x.messages()))
      .Add("attachments", static_cast<std::uint64_t>(x.attachments()))
      .Add("bytes", static_cast<std::uint64_t>(x.bytes()))
      .Add("error", Str(x.error()));
  // Where the page fetches the finished file; the console's own path.
  if (state == "done") o.Add("download", "/api/v1/exports/" + std::to_string(x.id()) + "/download");
  return o.str();
}

}  // namespace

std::string_view RoleName(wire::Role role) {
  switch (role) {
    case wire::Role::Admin:
      return "admin";
    case wire::Role::Auditor:
      return "auditor";
    case wire::Role::User:
      break;
  }
  return "user";
}

Result<wire::Role> RoleFromName(std::string_view name) {
  if (name == "user") return wire::Role::User;
  if (name == "admin") return wire::Role::Admin;
  if (name == "auditor") return wire::Role::Auditor;
  return Status::InvalidArgument("role must be user, admin or auditor");
}

StatusCode StatusCodeFromWire(wire::ErrorCode code) {
  auto n = static_cast<std::uint16_t>(code);
  if (n == 0 || n > static_cast<std::uint16_t>(StatusCode::kInternal)) return StatusCode::kInternal;
  // The two enums share their numbers by design (broker/base/status.h).
  return static_cast<StatusCode>(n);
}

std::string ConsoleCredentialsFrame(std::string_view login) {
  return OneRequest(wire::Body::ConsoleCredentials, [&](fb::FlatBufferBuilder& fbb) {
    auto l = fbb.CreateString(login.data(), login.size());
    return wire::CreateConsoleCredentials(fbb, l).Union();
  });
}

std::string ConsoleAuditFrame(std::string_view event, std::string_view login,
                              std::string_view address, bool ok) {
  return OneRequest(wire::Body::ConsoleAudit, [&](fb::FlatBufferBuilder& fbb) {
    auto e = fbb.CreateString(event.data(), event.size());
    auto l = fbb.CreateString(login.data(), login.size());
    auto a = fbb.CreateString(address.data(), address.size());
    return wire::CreateConsoleAudit(fbb, e, l, a, ok).Union();
  });
}

std::string AdminListUsersFrame() {
  return OneRequest(wire::Body::AdminListUsers, [](fb::FlatBufferBuilder& fbb) {
    return wire::CreateAdminListUsers(fbb).Union();
  });
}

std::string AdminAddUserFrame(std::string_view login, std::string_view display_name,
                              wire::Role role) {
  return OneRequest(wire::Body::AdminAddUser, [&](fb::FlatBufferBuilder& fbb) {
    auto l = fbb.CreateString(login.data(), login.size());
    auto d = fbb.CreateString(display_name.data(), display_name.size());
    return wire::CreateAdminAddUser(fbb, l, d, role).Union();
  });
}

std::string AdminDeactivateUserFrame(std::string_view login) {
  return OneRequest(wire::Body::AdminDeactivateUser, [&](fb::FlatBufferBuilder& fbb) {
    auto l = fbb.CreateString(login.data(), login.size());
    return wire::CreateAdminDeactivateUser(fbb, l).Union();
  });
}

std::string AdminReactivateUserFrame(std::string_view login) {
  return OneRequest(wire::Body::AdminReactivateUser, [&](fb::FlatBufferBuilder& fbb) {
    auto l = fbb.CreateString(login.data(), login.size());
    return wire::CreateAdminReactivateUser(fbb, l).Union();
  });
}

std::string ListDevicesFrame(std::string_view login) {
  return OneRequest(wire::Body::ListDevices, [&](fb::FlatBufferBuilder& fbb) {
    auto l = fbb.CreateString(login.data(), login.size());
    return wire::CreateListDevices(fbb, l).Union();
  });
}

std::string AdminListAuditFrame(std::uint64_t from_seq, std::uint32_t limit) {
  return OneRequest(wire::Body::AdminListAudit, [&](fb::FlatBufferBuilder& fbb) {
    return wire::CreateAdminListAudit(fbb, from_seq, limit).Union();
  });
}

std::string AdminVerifyAuditFrame() {
  return OneRequest(wire::Body::AdminVerifyAudit, [](fb::FlatBufferBuilder& fbb) {
    return wire::CreateAdminVerifyAudit(fbb).Union();
  });
}

// Cases and exports (console_exports.cc)

std::string_view CaseKindName(wire::CaseKind kind) {
  return kind == wire::CaseKind::Search ? "search" : "subject_access";
}

Result<wire::CaseKind> CaseKindFromName(std::string_view name) {
  if (name == "subject_access") return wire::CaseKind::SubjectAccess;
  if (name == "search") return wire::CaseKind::Search;
  return Status::InvalidArgument("kind must be subject_access or search");
}

std::string CaseOpenFrame(const CaseOpenFields& f) {
  return OneRequest(wire::Body::CaseOpen, [&](fb::FlatBufferBuilder& fbb) {
    auto basis = fbb.CreateString(f.legal_basis);
    auto subjects = fbb.CreateVectorOfStrings(f.subjects);
    auto conversations = fbb.CreateVector(f.conversations);
    auto keyword = fbb.CreateString(f.keyword);
    return wire::CreateCaseOpen(fbb, f.kind, basis, subjects, conversations, f.from_us, f.to_us,
                                keyword, f.redact_others)
        .Union();
  });
}

std::string CaseApproveFrame(std::uint64_t case_id) {
  return OneRequest(wire::Body::CaseApprove, [&](fb::FlatBufferBuilder& fbb) {
    return wire::CreateCaseApprove(fbb, case_id).Union();
  });
}

std::string CaseListFrame() {
  return OneRequest(wire::Body::CaseList, [](fb::FlatBufferBuilder& fbb) {
    return wire::CreateCaseList(fbb).Union();
  });
}

std::string ExportStartFrame(std::uint64_t case_id) {
  return OneRequest(wire::Body::ExportStart, [&](fb::FlatBufferBuilder& fbb) {
    return wire::CreateExportStart(fbb, case_id).Union();
  });
}

std::string ExportStatusFrame(std::uint64_t export_id) {
  return OneRequest(wire::Body::ExportStatus, [&](fb::FlatBufferBuilder& fbb) {
    return wire::CreateExportStatus(fbb, export_id).Union();
  });
}

std::string ExportDownloadFrame(std::uint64_t export_id, std::uint64_t offset,
                                std::uint32_t max_bytes) {
  return OneRequest(wire::Body::ExportDownload, [&](fb::FlatBufferBuilder& fbb) {
    return wire::CreateExportDownload(fbb, export_id, offset, max_bytes).Union();
  });
}

Result<Reply> Reply::Parse(std::string frame) {
  fb::Verifier verifier(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
  if (!wire::VerifyFrameBuffer(verifier)) {
    return Status::Internal("the broker's reply is not a valid frame");
  }
  const wire::Frame* f = wire::GetFrame(frame.data());
  if (f->envelopes() != nullptr) {
    for (const wire::Envelope* e : *f->envelopes()) {
      if (e->request_id() != kRequestId) continue;
      if (const wire::Error* error = e->body_as_Error()) {
        return Status(StatusCodeFromWire(error->code()), Str(error->message()));
      }
      return Reply(std::move(frame), e);
    }
  }
  return Status::Internal("the broker's reply does not answer the request");
}

Result<std::string> ReplyJson(const Reply& reply) {
  const wire::Envelope& e = reply.envelope();
  switch (e.body_type()) {
    case wire::Body::Done:
      return JsonObject().Add("done", true).str();
    case wire::Body::UserList:
      return JsonObject().AddRaw("users", JsonArray(e.body_as_UserList()->users(), UserJson)).str();
    case wire::Body::InviteReply: {
      const auto* r = e.body_as_InviteReply();
      return JsonObject()
          .Add("login", Str(r->login()))
          .Add("invite", Str(r->invite()))
          .Add("expires_at_us", static_cast<std::int64_t>(r->expires_at_us()))
          .Add("web_link", Str(r->web_link()))
          .str();
    }
    case wire::Body::OffboardingReply: {
      const auto* r = e.body_as_OffboardingReply();
      return JsonObject()
          .Add("login", Str(r->login()))
          .Add("asked_at_us", static_cast<std::int64_t>(r->asked_at_us()))
          .Add("devices_revoked", static_cast<std::uint64_t>(r->devices_revoked()))
          .Add("sessions_closed", static_cast<std::uint64_t>(r->sessions_closed()))
          .Add("last_session_closed_at_us",
               static_cast<std::int64_t>(r->last_session_closed_at_us()))
          .Add("invites_cancelled", static_cast<std::uint64_t>(r->invites_cancelled()))
          .str();
    }
    case wire::Body::DeviceList: {
      const auto* r = e.body_as_DeviceList();
      return JsonObject()
          .Add("login", Str(r->login()))
          .AddRaw("devices", JsonArray(r->devices(), DeviceJson))
          .str();
    }
    case wire::Body::AuditList:
      return JsonObject()
          .AddRaw("entries", JsonArray(e.body_as_AuditList()->entries(), AuditJson))
          .str();
    case wire::Body::AuditVerifyReply: {
      const auto* r = e.body_as_AuditVerifyReply();
      return JsonObject()
          .Add("whole", r->whole())
          .Add("records", static_cast<std::uint64_t>(r->records()))
          .Add("first_broken_seq", static_cast<std::uint64_t>(r->first_broken_seq()))
          .Add("message", Str(r->message()))
          .str();
    }
    // Cases and exports (console_exports.cc)
    case wire::Body::CaseInfo:
      return CaseJson(*e.body_as_CaseInfo());
    case wire::Body::CaseInfoList:
      return JsonObject()
          .AddRaw("cases", JsonArray(e.body_as_CaseInfoList()->cases(), CaseJson))
          .str();
    case wire::Body::ExportInfo:
      return ExportJson(*e.body_as_ExportInfo());
    // Records management (console_records.cc)
    case wire::Body::GroupList:
    case wire::Body::PluginList:
    case wire::Body::RetentionReport:
    case wire::Body::HoldList:
    case wire::Body::HoldInfo:
    case wire::Body::ScheduleInfo:
    case wire::Body::DisconnectReport:
      return RecordsReplyJson(e);
    default:
      break;
  }
  return Status::Internal(std::string("the console does not show a ") +
                          wire::EnumNameBody(e.body_type()) + " reply");
}

// ------------------------------------------------------------- records management
// Records management (console_records.cc)

namespace {

std::vector<std::string> Strings(const fb::Vector<fb::Offset<fb::String>>* v) {
  std::vector<std::string> out;
  if (v != nullptr) {
    for (const fb::String* s : *v) out.push_back(s->str());
  }
  return out;
}

std::string GroupJson(const wire::GroupInfo& g) {
  return JsonObject()
      .Add("conversation_id", static_cast<std::uint64_t>(g.conversation_id()))
      .Add("name", Str(g.name()))
      .Add("created_at_us", static_cast<std::int64_t>(g.created_at_us()))
      .Add("members", Strings(g.members()))
      .Add("owners", Strings(g.owners()))
      .str();
}

std::string PluginJson(const wire::PluginInfo& p) {
  return JsonObject()
      .Add("name", Str(p.name()))
      .Add("plugin", Str(p.plugin()))
      .Add("library", Str(p.library()))
      .Add("accept_hook", p.accept_hook())
      .Add("retention_hook", p.retention_hook())
      .Add("failures", static_cast<std::uint64_t>(p.failures()))
      .str();
}

std::string PolicyCountJson(const wire::PolicyCount& p) {
  return JsonObject()
      .Add("policy", Str(p.policy()))
      .Add("deleted", static_cast<std::uint64_t>(p.deleted()))
      .Add("stripped", static_cast<std::uint64_t>(p.stripped()))
      .str();
}

std::string_view HoldTargetName(wire::HoldTarget t) {
  return t == wire::HoldTarget::Conversation ? "conversation" : "user";
}

std::string HoldJson(const wire::HoldInfo& h) {
  return JsonObject()
      .Add("id", static_cast<std::uint64_t>(h.id()))
      .Add("target", HoldTargetName(h.target()))
      .Add("login", Str(h.login()))
      .Add("conversation_id", static_cast<std::uint64_t>(h.conversation_id()))
      .Add("case_ref", Str(h.case_ref()))
      .Add("reason", Str(h.reason()))
      .Add("created_by", Str(h.created_by()))
      .Add("created_at_us", static_cast<std::int64_t>(h.created_at_us()))
      .Add("lifted_by", Str(h.lifted_by()))
      .Add("lifted_at_us", static_cast<std::int64_t>(h.lifted_at_us()))
      .Add("in_force", h.lifted_at_us() == 0)
      .str();
}

std::string PeriodsJson(const fb::Vector<const wire::WorkPeriod*>* periods) {
  std::string out = "[";
  if (periods != nullptr) {
    for (fb::uoffset_t i = 0; i < periods->size(); ++i) {
      if (i > 0) out += ',';
      const wire::WorkPeriod* p = periods->Get(i);
      out += JsonObject()
                 .Add("start_minute", static_cast<std::uint64_t>(p->start_minute()))
                 .Add("end_minute", static_cast<std::uint64_t>(p->end_minute()))
                 .str();
    }
  }
  return out + "]";
}

std::string DayHoursJson(const wire::DayHours& d) {
  return JsonObject()
      .Add("weekday", static_cast<std::uint64_t>(d.weekday()))
      .AddRaw("periods", PeriodsJson(d.periods()))
      .str();
}

std::string ShiftJson(const wire::ShiftChange& s) {
  return JsonObject().Add("date", Str(s.date())).AddRaw("periods", PeriodsJson(s.periods())).str();
}

std::string ScheduleJson(const wire::Schedule* s) {
  if (s == nullptr) return "null";
  return JsonObject()
      .Add("time_zone", Str(s->time_zone()))
      .AddRaw("week", JsonArray(s->week(), DayHoursJson))
      .Add("days_off", Strings(s->days_off()))
      .Add("holidays", Strings(s->holidays()))
      .AddRaw("shifts", JsonArray(s->shifts(), ShiftJson))
      .Add("profile", Str(s->profile()))
      .Add("may_change", Strings(s->may_change()))
      .str();
}

std::string DisconnectCountJson(const wire::DisconnectCount& c) {
  return JsonObject()
      .Add("name", Str(c.name()))
      .Add("conversation_id", static_cast<std::uint64_t>(c.conversation_id()))
      .Add("messages", static_cast<std::uint64_t>(c.messages()))
      .Add("recipients", static_cast<std::uint64_t>(c.recipients()))
      .Add("urgent", static_cast<std::uint64_t>(c.urgent()))
      .str();
}

}  // namespace

std::string AdminListGroupsFrame() {
  return OneRequest(wire::Body::AdminListGroups, [](fb::FlatBufferBuilder& fbb) {
    return wire::CreateAdminListGroups(fbb).Union();
  });
}

std::string AdminListPluginsFrame() {
  return OneRequest(wire::Body::AdminListPlugins, [](fb::FlatBufferBuilder& fbb) {
    return wire::CreateAdminListPlugins(fbb).Union();
  });
}

std::string AdminRetentionRunFrame(bool dry_run) {
  return OneRequest(wire::Body::AdminRetentionRun, [&](fb::FlatBufferBuilder& fbb) {
    // dry_run defaults to true on the wire: write it even when false.
    fbb.ForceDefaults(true);
    auto body = wire::CreateAdminRetentionRun(fbb, dry_run);
    fbb.ForceDefaults(false);
    return body.Union();
  });
}

std::string AdminListHoldsFrame(bool include_lifted) {
  return OneRequest(wire::Body::AdminListHolds, [&](fb::FlatBufferBuilder& fbb) {
    return wire::CreateAdminListHolds(fbb, include_lifted).Union();
  });
}

std::string AdminSetHoldFrame(wire::HoldTarget target, std::string_view login,
                              std::uint64_t conversation_id, std::string_view case_ref,
                              std::string_view reason) {
  return OneRequest(wire::Body::AdminSetHold, [&](fb::FlatBufferBuilder& fbb) {
    auto l = fbb.CreateString(login.data(), login.size());
    auto c = fbb.CreateString(case_ref.data(), case_ref.size());
    auto r = fbb.CreateString(reason.data(), reason.size());
    return wire::CreateAdminSetHold(fbb, target, l, conversation_id, c, r).Union();
  });
}

std::string AdminLiftHoldFrame(std::uint64_t hold_id, std::string_view reason) {
  return OneRequest(wire::Body::AdminLiftHold, [&](fb::FlatBufferBuilder& fbb) {
    auto r = fbb.CreateString(reason.data(), reason.size());
    return wire::CreateAdminLiftHold(fbb, hold_id, r).Union();
  });
}

std::string ScheduleGetFrame(std::string_view login) {
  return OneRequest(wire::Body::ScheduleGet, [&](fb::FlatBufferBuilder& fbb) {
    auto l = fbb.CreateString(login.data(), login.size());
    return wire::CreateScheduleGet(fbb, l).Union();
  });
}

std::string AdminDisconnectReportFrame(std::int64_t from_us, std::int64_t to_us) {
  return OneRequest(wire::Body::AdminDisconnectReport, [&](fb::FlatBufferBuilder& fbb) {
    return wire::CreateAdminDisconnectReport(fbb, from_us, to_us).Union();
  });
}

Result<std::string> RecordsReplyJson(const wire::Envelope& e) {
  switch (e.body_type()) {
    case wire::Body::GroupList:
      return JsonObject().AddRaw("groups", JsonArray(e.body_as_GroupList()->groups(), GroupJson)).str();
    case wire::Body::PluginList:
      return JsonObject()
          .AddRaw("plugins", JsonArray(e.body_as_PluginList()->plugins(), PluginJson))
          .str();
    case wire::Body::RetentionReport: {
      const auto* r = e.body_as_RetentionReport();
      return JsonObject()
          .Add("dry_run", r->dry_run())
          .Add("started_at_us", static_cast<std::int64_t>(r->started_at_us()))
          .Add("finished_at_us", static_cast<std::int64_t>(r->finished_at_us()))
          .Add("messages_examined", static_cast<std::uint64_t>(r->messages_examined()))
          .Add("messages_deleted", static_cast<std::uint64_t>(r->messages_deleted()))
          .Add("attachments_stripped", static_cast<std::uint64_t>(r->attachments_stripped()))
          .Add("attachment_bytes", static_cast<std::uint64_t>(r->attachment_bytes()))
          .Add("conversations", static_cast<std::uint64_t>(r->conversations()))
          .Add("held_protected", static_cast<std::uint64_t>(r->held_protected()))
          .AddRaw("policies", JsonArray(r->policies(), PolicyCountJson))
          .str();
    }
    case wire::Body::HoldList:
      return JsonObject().AddRaw("holds", JsonArray(e.body_as_HoldList()->holds(), HoldJson)).str();
    case wire::Body::HoldInfo:
      return HoldJson(*e.body_as_HoldInfo());
    case wire::Body::ScheduleInfo: {
      const auto* r = e.body_as_ScheduleInfo();
      const wire::DutyState* state = r->state();
      return JsonObject()
          .Add("login", Str(r->login()))
          .AddRaw("schedule", ScheduleJson(r->schedule()))
          .Add("on_duty", state == nullptr || state->on_duty())
          .Add("until_us", static_cast<std::int64_t>(state == nullptr ? 0 : state->until_us()))
          .str();
    }
    case wire::Body::DisconnectReport: {
      const auto* r = e.body_as_DisconnectReport();
      return JsonObject()
          .Add("from_us", static_cast<std::int64_t>(r->from_us()))
          .Add("to_us", static_cast<std::int64_t>(r->to_us()))
          .AddRaw("senders", JsonArray(r->senders(), DisconnectCountJson))
          .AddRaw("groups", JsonArray(r->groups(), DisconnectCountJson))
          .Add("messages", static_cast<std::uint64_t>(r->messages()))
          .Add("recipients", static_cast<std::uint64_t>(r->recipients()))
          .Add("urgent", static_cast<std::uint64_t>(r->urgent()))
          .str();
    }
    default:
      break;
  }
  return Status::Internal(std::string("the console does not show a ") +
                          wire::EnumNameBody(e.body_type()) + " reply");
}

}  // namespace chatpro::console
