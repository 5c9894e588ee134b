// SPDX-License-Identifier: Apache-2.0
//
// Backups of the store while the broker serves (backup.h): an administrator
// starts one; it runs on its own thread at the lowest priority, copying one
// snapshot of the store, and ends as a folder in the backup folder. The
// start, the end (done or failed) and listings are in the audit log; the
// backup's own start entry is in the backup, since the copy begins only once
// that entry is stored.
#include <filesystem>

#include "broker/base/clock.h"
#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/core/broker.h"

namespace chatpro::core {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDefaultVersion = "chatpro-broker/0.1.0";

// The fields of one BackupInfo.
struct BackupInfoFields {
  std::string name;
  std::string state;
  std::int64_t started_at_us = 0;
  std::int64_t finished_at_us = 0;
  int store_format = 0;
  std::string store_id;
  std::string broker_version;
  std::uint64_t records = 0;
  std::uint64_t messages = 0;
  std::uint64_t blobs = 0;
  std::uint64_t bytes = 0;
  std::string path;
  std::string error;
};

flatbuffers::Offset<wire::BackupInfo> BuildBackupInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                      const BackupInfoFields& f) {
  auto name = fbb.CreateString(f.name);
  auto state = fbb.CreateString(f.state);
  auto store_id = fbb.CreateString(f.store_id);
  auto version = fbb.CreateString(f.broker_version);
  auto path = fbb.CreateString(f.path);
  auto error = fbb.CreateString(f.error);
  return wire::CreateBackupInfo(fbb, name, state, f.started_at_us, f.finished_at_us,
                                static_cast<std::uint32_t>(f.store_format), store_id, version,
                                f.records, f.messages, f.blobs, f.bytes, path, error);
}

BackupInfoFields FieldsOf(const BackupJob& job) {
  BackupProgress p = job.progress();
  BackupInfoFields f;
  f.name = p.name;
  f.state = p.state_name();
  f.started_at_us = p.started_at_us;
  f.finished_at_us = p.finished_at_us;
  f.store_format = job.plan().store_format;
  f.store_id = job.plan().store_id;
  f.broker_version = job.plan().setup.broker_version;
  f.records = p.records;
  f.messages = p.messages;
  f.blobs = p.blobs;
  f.bytes = p.bytes;
  f.path = p.path;
  f.error = p.error;
  return f;
}

BackupInfoFields FieldsOf(const BackupManifest& m, const std::string& root) {
  BackupInfoFields f;
  f.name = m.name;
  f.state = "complete";
  f.started_at_us = m.started_at_us;
  f.finished_at_us = m.finished_at_us;
  f.store_format = m.store_format;
  f.store_id = m.store_id;
  f.broker_version = m.broker_version;
  f.records = m.records;
  f.messages = m.messages;
  f.blobs = m.blobs;
  f.bytes = m.bytes;
  f.path = (fs::path(root) / m.name).string();
  return f;
}

}  // namespace

void Broker::ConfigureBackups(BackupSetup setup) {
  backup_setup_ = std::move(setup);
  if (backup_setup_.broker_version.empty()) backup_setup_.broker_version = kDefaultVersion;
  if (!backup_setup_.dir.empty()) RemoveUnfinishedBackups(backup_setup_.dir);
}

void Broker::HandleAdminBackup(Session& s, std::uint64_t rid, const wire::AdminBackup& r) {
  Status allowed = RequireAdmin(s, "make or list backups");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  PollBackup();  // a backup that just ended is on record before anything replaces it
  if (r.action() == wire::BackupAction::Status) {
    if (backup_ == nullptr) {
      return ReplyError(
          s, rid,
          Status::NotFound("no backup has run since the broker started; the backups in "
                           "the folder are listed by: chatpro admin backup list"));
    }
    auto body = BuildBackupInfo(s.replies.builder(), FieldsOf(*backup_));
    s.replies.AddEnvelope(rid, wire::Body::BackupInfo, body.Union());
    MarkDirty(s);
    return;
  }
  if (backup_setup_.dir.empty()) {
    return ReplyError(s, rid,
                      Status::FailedPrecondition("this broker has no backup folder configured"));
  }
  if (r.action() == wire::BackupAction::List) {
    auto& fbb = s.replies.builder();
    std::vector<flatbuffers::Offset<wire::BackupInfo>> list;
    for (const BackupManifest& m : ListBackups(backup_setup_.dir)) {
      list.push_back(BuildBackupInfo(fbb, FieldsOf(m, backup_setup_.dir)));
    }
    if (backup_ != nullptr && !backup_->finished())
      list.push_back(BuildBackupInfo(fbb, FieldsOf(*backup_)));
    Audit(s, "backup.list", "backups",
          JsonObject().Add("count", static_cast<std::uint64_t>(list.size())).str());
    auto body =
        wire::CreateBackupList(fbb, fbb.CreateString(backup_setup_.dir), fbb.CreateVector(list));
    s.replies.AddEnvelope(rid, wire::Body::BackupList, body.Union());
    MarkDirty(s);
    return;
  }
  if (r.action() != wire::BackupAction::Start) {
    return ReplyError(s, rid, Status::InvalidArgument("unknown backup action"));
  }
  if (backup_ != nullptr && !backup_->finished()) {
    return ReplyError(s, rid,
                      Status::FailedPrecondition("backup '" + backup_->plan().name +
                                                 "' is running; start another when it is done"));
  }
  const std::int64_t now = clock_->NowMicros();
  std::string name = r.name() == nullptr || r.name()->size() == 0
                         ? FormatUtc(now, "chatpro-%Y%m%d-%H%M%S")
                         : std::string(r.name()->string_view());
  Status valid = ValidateBackupName(name);
  if (!valid.ok()) return ReplyError(s, rid, valid);
  std::error_code ec;
  if (fs::exists(fs::path(backup_setup_.dir) / name, ec)) {
    return ReplyError(s, rid,
                      Status::AlreadyExists("there is a backup named '" + name +
                                            "' already; choose another name"));
  }
  BackupPlan plan;
  plan.name = name;
  plan.setup = backup_setup_;
  plan.store_format = store_format_;
  plan.store_id = store_id_;
  plan.started_at_us = now;
  backup_ = std::make_unique<BackupJob>(std::move(plan), store_, clock_);
  backup_actor_ = ActorOf(s);
  backup_recorded_ = false;
  Audit(s, "backup.start", "backup:" + name,
        JsonObject()
            .Add("folder", backup_setup_.dir)
            .Add("store_format", store_format_)
            .Add("store_id", store_id_)
            .str());
  LOG_INFO() << backup_actor_.login << " started backup '" << name << "' into "
             << backup_setup_.dir;
  // The copy starts once its start is on record (and so in the copy).
  BackupJob* job = backup_.get();
  Batch().on_commit.push_back([this, job](const Status& st) {
    if (backup_.get() != job) return;
    if (st.ok()) {
      job->Start();
    } else {
      backup_.reset();
    }
  });
  AfterCommit(s.connection, rid, [this, rid](Session& session) {
    if (backup_ == nullptr) return;
    auto body = BuildBackupInfo(session.replies.builder(), FieldsOf(*backup_));
    session.replies.AddEnvelope(rid, wire::Body::BackupInfo, body.Union());
  });
}

void Broker::PollBackup() {
  if (backup_ == nullptr || backup_recorded_ || !backup_->finished()) return;
  backup_->Cancel();  // joins the finished thread
  backup_recorded_ = true;
  BackupProgress p = backup_->progress();
  const std::string target = "backup:" + p.name;
  if (p.state == BackupProgress::State::kDone) {
    stats_.backups_done.fetch_add(1, std::memory_order_relaxed);
    stats_.backup_last_success_us.store(p.finished_at_us, std::memory_order_relaxed);
    audit_.Append(backup_actor_, "backup.finish", target,
                  JsonObject()
                      .Add("path", p.path)
                      .Add("records", p.records)
                      .Add("messages", p.messages)
                      .Add("blobs", p.blobs)
                      .Add("bytes", p.bytes)
                      .str(),
                  &Batch().writes);
    LOG_INFO() << "backup '" << p.name << "' done: " << p.messages << " messages, " << p.records
               << " records, " << p.blobs << " attachments in " << p.path;
  } else {
    stats_.backups_failed.fetch_add(1, std::memory_order_relaxed);
    audit_.Append(backup_actor_, "backup.failed", target, JsonObject().Add("error", p.error).str(),
                  &Batch().writes);
    LOG_WARNING() << "backup '" << p.name << "' failed: " << p.error;
  }
}

void Broker::StopBackup() {
  if (backup_ == nullptr) return;
  backup_->Cancel();
  PollBackup();
}

}  // namespace chatpro::core
