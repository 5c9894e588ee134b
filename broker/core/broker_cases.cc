// SPDX-License-Identifier: Apache-2.0
//
// Cases and exports: four eyes on people's messages.
//
// An administrator or an auditor opens a case (a legal basis and a scope);
// someone of the other role approves it; within the approval's validity an
// administrator or auditor starts its export, which runs on a background
// thread (ExportJob) and ends in a zip file in the export folder. Every step,
// and every refusal, is in the audit log, in the same batch as the change it
// records; answers go out once that batch is stored.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "broker/base/encoding.h"
#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/core/broker.h"
#include "broker/core/records.h"
#include "schemas/vectors.h"

namespace chatpro::core {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxLegalBasisBytes = 2000;
constexpr std::size_t kMaxKeywordBytes = 200;
constexpr std::size_t kMaxSubjects = 100;
constexpr std::size_t kMaxCaseConversations = 1000;
constexpr std::uint32_t kMaxChunkBytes = 1u << 20;

std::string Quoted(std::string_view s) { return "'" + std::string(s.substr(0, 64)) + "'"; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string CaseTarget(std::uint64_t id) { return "case:" + std::to_string(id); }

const char* RoleName(Role role) {
  return role == Role::Admin ? "an administrator" : role == Role::Auditor ? "an auditor" : "a user";
}

}  // namespace

void Broker::ConfigureCases(const CasesOptions& options, ExportArchiveFactory archives) {
  cases_options_ = options;
  export_archives_ = std::move(archives);
  if (options.export_dir.empty()) return;
  // An export cut short by a crash leaves decrypted copies of messages in its
  // staging folder and a partial archive: neither may stay on disk.
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(options.export_dir, ec)) {
    std::string name = e.path().filename().string();
    auto ends_with = [&name](std::string_view suffix) {
      return name.size() >= suffix.size() &&
             name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (name.rfind("export-", 0) != 0 || !(ends_with(".staging") || ends_with(".zip.part"))) continue;
    std::error_code removed;
    fs::remove_all(e.path(), removed);
    if (removed) {
      LOG_WARNING() << "cannot remove the unfinished export " << e.path().string() << ": "
                    << removed.message();
    } else {
      LOG_INFO() << "removed the unfinished export " << e.path().string();
    }
  }
}

// ------------------------------------------------------------------ helpers

void Broker::RefuseCaseRequest(Session& s, std::uint64_t rid, std::string_view request,
                               std::string target, const Status& why) {
  Audit(s, "case.refused", target,
        JsonObject()
            .Add("request", request)
            .Add("code", std::string(StatusCodeName(why.code())))
            .Add("reason", why.message())
            .str());
  AfterCommit(s.connection, rid, [this, rid, why](Session& session) { ReplyError(session, rid, why); });
}

flatbuffers::Offset<wire::CaseInfo> Broker::BuildCaseInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                          const Case& c, bool for_subject) const {
  auto login = [this](UserId id) {
    const User* u = directory_.FindUser(id);
    return u == nullptr ? std::string() : u->login;
  };
  // A subject sees that their data was accessed, on what basis and by whom;
  // not who else was concerned nor what was searched for.
  std::vector<std::string> subjects;
  std::vector<std::uint64_t> conversations;
  if (!for_subject) {
    for (UserId u : c.subjects) subjects.push_back(login(u));
    for (ConversationId id : c.conversations) conversations.push_back(id.value());
  }
  auto subj = fbb.CreateVectorOfStrings(subjects);
  auto convs = fbb.CreateVector(conversations);
  auto state = fbb.CreateString(c.State(clock_->NowMicros()));
  auto basis = fbb.CreateString(c.legal_basis);
  auto keyword = fbb.CreateString(for_subject ? std::string() : c.keyword);
  auto requested_by = fbb.CreateString(login(c.requested_by));
  auto approved_by = fbb.CreateString(c.approved() ? login(c.approved_by) : std::string());
  return wire::CreateCaseInfo(fbb, c.id, c.kind, state, basis, subj, convs, c.from_us, c.to_us,
                              keyword, c.redact_others, requested_by, c.requested_at_us,
                              approved_by, c.approved_at_us, c.approval_expires_at_us,
                              c.visible_to_subjects_at_us);
}

flatbuffers::Offset<wire::ExportInfo> Broker::BuildExportInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                              std::uint64_t id,
                                                              const ExportProgress& p) const {
  auto state = fbb.CreateString(p.state_name());
  auto error = fbb.CreateString(p.error);
  return wire::CreateExportInfo(fbb, id, id, state, p.messages, p.attachments, p.bytes, error);
}

// ------------------------------------------------------------------ cases

void Broker::HandleCaseOpen(Session& s, std::uint64_t rid, const wire::CaseOpen& r) {
  auto refuse = [&](const Status& why) { RefuseCaseRequest(s, rid, "case.open", "cases", why); };
  Status allowed = RequireAdminOrAuditor(s, "open cases");
  if (!allowed.ok()) return refuse(allowed);
  if (r.kind() != wire::CaseKind::SubjectAccess && r.kind() != wire::CaseKind::Search) {
    return refuse(Status::InvalidArgument("unknown case kind " + std::to_string(static_cast<int>(r.kind()))));
  }
  std::string_view basis = Trim(View(r.legal_basis()));
  if (basis.empty()) {
    return refuse(Status::InvalidArgument(
        "a case needs a legal basis (the request's reference and the rule it rests on)"));
  }
  if (!IsValidUtf8(basis) || basis.size() > kMaxLegalBasisBytes) {
    return refuse(Status::InvalidArgument("the legal basis must be valid UTF-8 of at most " +
                                          std::to_string(kMaxLegalBasisBytes) + " bytes"));
  }
  if (r.subjects() == nullptr || r.subjects()->size() == 0) {
    return refuse(Status::InvalidArgument("a case names at least one subject (a login)"));
  }
  if (r.subjects()->size() > kMaxSubjects) {
    return refuse(Status::InvalidArgument("a case names at most " + std::to_string(kMaxSubjects) +
                                          " subjects"));
  }
  Case c;
  std::vector<std::string> subject_logins;
  for (const flatbuffers::String* login : *r.subjects()) {
    const User* u = directory_.FindUserByLogin(View(login));
    if (u == nullptr) return refuse(Status::NotFound("there is no user " + Quoted(View(login))));
    if (c.HasSubject(u->id)) continue;
    c.subjects.push_back(u->id);
    subject_logins.push_back(u->login);
  }
  std::vector<std::uint64_t> conversation_ids;
  if (r.conversations() != nullptr) {
    if (r.conversations()->size() > kMaxCaseConversations) {
      return refuse(Status::InvalidArgument("a case names at most " +
                                            std::to_string(kMaxCaseConversations) + " conversations"));
    }
    for (std::uint64_t id : schemas::U64s(r.conversations())) {
      if (conversations_.Find(ConversationId(id)) == nullptr) {
        return refuse(Status::NotFound("there is no conversation " + std::to_string(id)));
      }
      if (std::find(conversation_ids.begin(), conversation_ids.end(), id) != conversation_ids.end()) continue;
      conversation_ids.push_back(id);
      c.conversations.push_back(ConversationId(id));
    }
  }
  if (r.from_us() < 0 || r.to_us() < 0) {
    return refuse(Status::InvalidArgument("the dates of a case are Unix microseconds, 0 or more"));
  }
  if (r.from_us() != 0 && r.to_us() != 0 && r.from_us() > r.to_us()) {
    return refuse(Status::InvalidArgument("the date range ends before it starts (from > to)"));
  }
  std::string_view keyword = View(r.keyword());
  if (!IsValidUtf8(keyword) || keyword.size() > kMaxKeywordBytes) {
    return refuse(Status::InvalidArgument("the keyword must be valid UTF-8 of at most " +
                                          std::to_string(kMaxKeywordBytes) + " bytes"));
  }
  std::int64_t now = clock_->NowMicros();
  c.kind = r.kind();
  c.legal_basis = std::string(basis);
  c.from_us = r.from_us();
  c.to_us = r.to_us();
  c.keyword = std::string(keyword);
  c.redact_others = r.redact_others();
  c.requested_by = s.user;
  c.requested_at_us = now;
  c.visible_to_subjects_at_us = now + cases_options_.embargo_us;
  std::uint64_t id = cases_.Add(std::move(c), &Batch().writes).id;
  Audit(s, "case.open", CaseTarget(id),
        JsonObject()
            .Add("kind", r.kind() == wire::CaseKind::Search ? "search" : "subject access")
            .Add("legal_basis", basis)
            .Add("subjects", subject_logins)
            .Add("conversations", conversation_ids)
            .Add("from_us", r.from_us())
            .Add("to_us", r.to_us())
            .Add("keyword", keyword)
            .Add("redact_others", r.redact_others())
            .str());
  LOG_INFO() << ActorOf(s).login << " opened case " << id;
  AfterCommit(s.connection, rid, [this, id, rid](Session& session) {
    auto body = BuildCaseInfo(session.replies.builder(), *cases_.Find(id), false);
    session.replies.AddEnvelope(rid, wire::Body::CaseInfo, body.Union());
  });
}

void Broker::HandleCaseApprove(Session& s, std::uint64_t rid, const wire::CaseApprove& r) {
  std::string target = CaseTarget(r.case_id());
  auto refuse = [&](const Status& why) { RefuseCaseRequest(s, rid, "case.approve", target, why); };
  Status allowed = RequireAdminOrAuditor(s, "approve cases");
  if (!allowed.ok()) return refuse(allowed);
  Case* c = cases_.Find(r.case_id());
  if (c == nullptr) return refuse(Status::NotFound("there is no case " + std::to_string(r.case_id())));
  if (c->exported) {
    return refuse(Status::FailedPrecondition("case " + std::to_string(c->id) + " was exported already"));
  }
  if (c->approved()) {
    return refuse(Status::FailedPrecondition("case " + std::to_string(c->id) + " was approved already"));
  }
  // Four eyes: never the requester, and always the other role.
  if (c->requested_by == s.user) {
    return refuse(Status::PermissionDenied(
        "you opened case " + std::to_string(c->id) +
        " yourself; it needs the approval of another person, of the other role"));
  }
  const User* requester = directory_.FindUser(c->requested_by);
  const User* approver = directory_.FindUser(s.user);
  Role requester_role = requester == nullptr ? Role::User : requester->role;
  if ((requester_role == Role::Admin || requester_role == Role::Auditor) &&
      approver->role == requester_role) {
    Role other = requester_role == Role::Admin ? Role::Auditor : Role::Admin;
    return refuse(Status::PermissionDenied("case " + std::to_string(c->id) + " was opened by " +
                                           RoleName(requester_role) + "; only " + RoleName(other) +
                                           " may approve it"));
  }
  std::int64_t now = clock_->NowMicros();
  c->approved_by = s.user;
  c->approved_at_us = now;
  c->approval_expires_at_us = now + cases_options_.approval_valid_us;
  c->visible_to_subjects_at_us = now + cases_options_.embargo_us;
  cases_.Put(c->id, &Batch().writes);
  Audit(s, "case.approve", target,
        JsonObject()
            .Add("requested_by", requester == nullptr ? std::string() : requester->login)
            .Add("approval_expires_at_us", c->approval_expires_at_us)
            .Add("visible_to_subjects_at_us", c->visible_to_subjects_at_us)
            .str());
  LOG_INFO() << approver->login << " approved case " << c->id;
  std::uint64_t id = c->id;
  AfterCommit(s.connection, rid, [this, id, rid](Session& session) {
    auto body = BuildCaseInfo(session.replies.builder(), *cases_.Find(id), false);
    session.replies.AddEnvelope(rid, wire::Body::CaseInfo, body.Union());
  });
}

void Broker::HandleCaseList(Session& s, std::uint64_t rid) {
  Status allowed = RequireAdminOrAuditor(s, "list cases");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::CaseInfo>> out;
  for (const auto& [id, c] : cases_.all()) out.push_back(BuildCaseInfo(fbb, c, false));
  auto body = wire::CreateCaseInfoList(fbb, fbb.CreateVector(out));
  s.replies.AddEnvelope(rid, wire::Body::CaseInfoList, body.Union());
  MarkDirty(s);
}

void Broker::HandleMyDataAccess(Session& s, std::uint64_t rid) {
  std::int64_t now = clock_->NowMicros();
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::CaseInfo>> out;
  for (const auto& [id, c] : cases_.all()) {
    if (c.HasSubject(s.user) && c.visible_to_subjects_at_us <= now) {
      out.push_back(BuildCaseInfo(fbb, c, true));
    }
  }
  auto body = wire::CreateCaseInfoList(fbb, fbb.CreateVector(out));
  s.replies.AddEnvelope(rid, wire::Body::CaseInfoList, body.Union());
  MarkDirty(s);
}

// ------------------------------------------------------------------ exports

Result<ExportPlan> Broker::PlanExport(const Case& c) {
  ExportPlan plan;
  plan.id = c.id;
  plan.the_case = c;
  plan.generated_at_us = clock_->NowMicros();
  plan.dir = cases_options_.export_dir;
  auto login = [this](UserId id) {
    const User* u = directory_.FindUser(id);
    return u == nullptr ? std::string() : u->login;
  };
  plan.requested_by = login(c.requested_by);
  plan.approved_by = login(c.approved_by);
  for (UserId u : c.subjects) plan.subject_logins.push_back(login(u));

  // Which conversations to read: those listed, else every conversation (a
  // subject may have written in a group they have left since; the core keeps
  // no history of membership, so only what they sent is found there).
  std::vector<ConversationId> ids = c.conversations;
  if (ids.empty()) {
    CHATPRO_RETURN_IF_ERROR(store_->ScanRecords(
        RecordKind::kConversation, "", [&](std::string_view key, std::string_view) {
          if (key.size() == 8) ids.push_back(ConversationId(ReadBigEndian64(key)));
          return true;
        }));
  }
  bool whole_listed = c.kind == wire::CaseKind::Search && !c.conversations.empty();
  std::unordered_set<UserId> users;
  for (ConversationId id : ids) {
    const Conversation* conv = conversations_.Find(id);
    if (conv == nullptr || conv->committed_seq == 0) continue;
    ExportConversation e;
    e.id = id;
    e.kind = conv->kind;
    e.name = conv->name;
    e.last_seq = conv->committed_seq;
    for (const Membership& m : conv->members) e.members.push_back(m.user);
    if (whole_listed) {
      e.received_after = 0;  // a listed conversation is searched whole
    } else {
      // What the subjects could read (after they joined), and what they sent.
      e.received_after = conv->committed_seq;
      for (UserId subject : c.subjects) {
        if (const Membership* m = conv->FindMember(subject)) {
          e.received_after = std::min(e.received_after, m->joined_seq);
        }
      }
    }
    plan.conversations.push_back(std::move(e));
  }
  // Logins of everyone, for names and for mentions in texts.
  for (const User* u : directory_.Users()) plan.logins[u->id] = u->login;
  return plan;
}

Result<ExportProgress> Broker::ExportState(std::uint64_t id) const {
  auto it = exports_.find(id);
  if (it != exports_.end()) return it->second.job->progress();
  const Case* c = cases_.Find(id);
  if (c != nullptr && c->exported && !cases_options_.export_dir.empty()) {
    std::error_code ec;
    std::uintmax_t size = fs::file_size(ExportJob::ArchivePath(cases_options_.export_dir, id), ec);
    if (!ec) {
      ExportProgress p;
      p.state = ExportProgress::State::kDone;
      p.bytes = size;
      return p;
    }
  }
  return Status::NotFound("there is no export " + std::to_string(id));
}

void Broker::HandleExportStart(Session& s, std::uint64_t rid, const wire::ExportStart& r) {
  std::string target = CaseTarget(r.case_id());
  auto refuse = [&](const Status& why) { RefuseCaseRequest(s, rid, "export.start", target, why); };
  PollExports();  // an export that just ended is on record before anything replaces it
  Status allowed = RequireAdminOrAuditor(s, "export cases");
  if (!allowed.ok()) return refuse(allowed);
  Case* c = cases_.Find(r.case_id());
  if (c == nullptr) return refuse(Status::NotFound("there is no case " + std::to_string(r.case_id())));
  std::string id_text = std::to_string(c->id);
  if (c->exported) return refuse(Status::FailedPrecondition("case " + id_text + " was exported already"));
  if (!c->approved()) {
    return refuse(Status::FailedPrecondition("case " + id_text + " is awaiting approval"));
  }
  std::int64_t now = clock_->NowMicros();
  if (now >= c->approval_expires_at_us) {
    return refuse(Status::FailedPrecondition(
        "approval expired: the approval of case " + id_text +
        " let an export start only until then; open a new case and have it approved"));
  }
  for (const auto& [other, task] : exports_) {
    if (!task.job->finished()) {
      return refuse(Status::FailedPrecondition("export " + std::to_string(other) +
                                               " is running; start this one when it is done"));
    }
  }
  if (cases_options_.export_dir.empty() || !export_archives_) {
    return refuse(Status::FailedPrecondition("this broker has no export folder configured"));
  }
  Result<ExportPlan> plan = PlanExport(*c);
  if (!plan.ok()) return ReplyError(s, rid, plan.status());
  std::uint64_t id = c->id;
  ExportTask task;
  task.started_by = ActorOf(s);
  task.job = std::make_unique<ExportJob>(std::move(*plan), store_, export_archives_);
  exports_.erase(id);  // an earlier failed attempt
  exports_.emplace(id, std::move(task));
  Audit(s, "export.start", target,
        JsonObject()
            .Add("export", id)
            .Add("conversations", static_cast<std::uint64_t>(exports_[id].job->plan().conversations.size()))
            .Add("approved_by", exports_[id].job->plan().approved_by)
            .str());
  LOG_INFO() << ActorOf(s).login << " started export " << id;
  // No message is read before the start is on record.
  Batch().on_commit.push_back([this, id](const Status& st) {
    auto it = exports_.find(id);
    if (it == exports_.end()) return;
    if (st.ok()) {
      it->second.job->Start();
    } else {
      exports_.erase(it);
    }
  });
  AfterCommit(s.connection, rid, [this, id, rid](Session& session) {
    ExportProgress p;
    auto it = exports_.find(id);
    if (it != exports_.end()) p = it->second.job->progress();
    auto body = BuildExportInfo(session.replies.builder(), id, p);
    session.replies.AddEnvelope(rid, wire::Body::ExportInfo, body.Union());
  });
}

void Broker::HandleExportStatus(Session& s, std::uint64_t rid, const wire::ExportStatus& r) {
  Status allowed = RequireAdminOrAuditor(s, "follow exports");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  Result<ExportProgress> p = ExportState(r.export_id());
  if (!p.ok()) return ReplyError(s, rid, p.status());
  auto body = BuildExportInfo(s.replies.builder(), r.export_id(), *p);
  s.replies.AddEnvelope(rid, wire::Body::ExportInfo, body.Union());
  MarkDirty(s);
}

void Broker::HandleExportDownload(Session& s, std::uint64_t rid, const wire::ExportDownload& r) {
  std::string target = "export:" + std::to_string(r.export_id());
  Status allowed = RequireAdminOrAuditor(s, "download exports");
  if (!allowed.ok()) return RefuseCaseRequest(s, rid, "export.download", target, allowed);
  Result<ExportProgress> p = ExportState(r.export_id());
  if (!p.ok()) return ReplyError(s, rid, p.status());
  if (p->state != ExportProgress::State::kDone) {
    return ReplyError(s, rid, Status::FailedPrecondition("export " + std::to_string(r.export_id()) +
                                                         " is " + p->state_name()));
  }
  std::string path = ExportJob::ArchivePath(cases_options_.export_dir, r.export_id());
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  std::uint64_t total = fs::file_size(path, ec);
  if (!in || ec) return ReplyError(s, rid, Status::IoError("cannot read " + path));
  if (r.offset() > total) {
    return ReplyError(s, rid, Status::InvalidArgument("offset " + std::to_string(r.offset()) +
                                                      " is past the end of the export (" +
                                                      std::to_string(total) + " bytes)"));
  }
  std::uint64_t want = std::min<std::uint64_t>(std::clamp<std::uint32_t>(r.max_bytes(), 1, kMaxChunkBytes),
                                               total - r.offset());
  std::string data(want, '\0');
  in.seekg(static_cast<std::streamoff>(r.offset()));
  in.read(data.data(), static_cast<std::streamsize>(want));
  if (!in) return ReplyError(s, rid, Status::IoError("cannot read " + path));
  std::uint64_t offset = r.offset();
  std::uint64_t id = r.export_id();
  auto reply = [rid, id, offset, total, data = std::move(data)](Session& session) {
    auto& fbb = session.replies.builder();
    auto bytes = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    auto body = wire::CreateExportChunk(fbb, id, offset, bytes, total, offset + data.size() >= total);
    session.replies.AddEnvelope(rid, wire::Body::ExportChunk, body.Union());
  };
  if (offset != 0) {
    reply(s);
    MarkDirty(s);
    return;
  }
  // A download (its first chunk) is on record before any byte leaves.
  Audit(s, "export.download", target, JsonObject().Add("case", id).Add("bytes", total).str());
  AfterCommit(s.connection, rid, std::move(reply));
}

void Broker::PollExports() {
  for (auto& [id, task] : exports_) {
    if (task.recorded || !task.job->finished()) continue;
    task.job->Cancel();  // joins the finished thread
    task.recorded = true;
    ExportProgress p = task.job->progress();
    if (p.state == ExportProgress::State::kDone) {
      if (Case* c = cases_.Find(id)) {
        c->exported = true;
        cases_.Put(id, &Batch().writes);
      }
      audit_.Append(task.started_by, "export.finish", CaseTarget(id),
                    JsonObject()
                        .Add("export", id)
                        .Add("file", std::string(fs::path(ExportJob::ArchivePath(
                                                              cases_options_.export_dir, id))
                                                     .filename()
                                                     .string()))
                        .Add("conversations", p.conversations)
                        .Add("messages", p.messages)
                        .Add("attachments", p.attachments)
                        .Add("bytes", p.bytes)
                        .str(),
                    &Batch().writes);
      LOG_INFO() << "export " << id << " done: " << p.messages << " messages, " << p.bytes << " bytes";
    } else {
      audit_.Append(task.started_by, "export.failed", CaseTarget(id),
                    JsonObject().Add("export", id).Add("error", p.error).str(), &Batch().writes);
      LOG_WARNING() << "export " << id << " failed: " << p.error;
    }
  }
}

void Broker::StopExports() {
  for (auto& [id, task] : exports_) task.job->Cancel();
  PollExports();
}

}  // namespace chatpro::core
