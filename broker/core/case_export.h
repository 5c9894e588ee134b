// SPDX-License-Identifier: Apache-2.0
//
// Exports of cases (subject access, search): the archive interface the core
// writes through, the plan of one export, and the job that writes it on a
// background thread.
//
// ExportArchive is the core's view of an archive file (a zip file in
// production: broker/export_zip). The core never includes the zip library; it
// stages every member as a file on disk and hands the archive one file at a
// time, so that neither side ever holds a whole member, let alone the whole
// export, in memory.
//
// ExportJob writes one export:
//   <dir>/export-<id>.staging/   messages.jsonl, transcript.html,
//                                attachments/<conv>-<seq>.<ext>, manifest.json
//   <dir>/export-<id>.zip.part   the archive being written (mode 0600)
//   <dir>/export-<id>.zip        renamed from .part once complete
// and removes the staging folder. It reads messages through the broker's
// MessageStore (so an encrypting store decrypts them), page by page, only up
// to the seqs committed when the export was planned.
//
// Lifecycle: construct with a plan; Start() starts the thread; the owner polls
// finished() and progress(); Cancel() asks the thread to stop and joins it.
// The destructor cancels.
// Thread-safety: Start, Cancel and the destructor on the owner's thread;
// progress() and finished() from any thread. The job reads the store (which
// allows reads alongside the broker's writes) and its own plan only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/core/audit_log.h"
#include "broker/core/cases.h"
#include "broker/core/message_store.h"

namespace chatpro::core {

// An archive being written. Members are added one at a time from files.
class ExportArchive {
 public:
  virtual ~ExportArchive() = default;
  // Adds the file at `source_path` as member `name` ("a/b.txt": forward
  // slashes), reading it in pieces. On failure returns IoError.
  virtual Status AddFile(std::string_view name, const std::string& source_path) = 0;
  // Completes the archive (its directory) and closes the file. On failure
  // returns IoError. Nothing may be added afterwards.
  virtual Status Finish() = 0;
};

// Opens a new archive writing to `path`. The file exists (empty, mode 0600)
// when the factory is called; the archive truncates and writes it.
using ExportArchiveFactory =
    std::function<Result<std::unique_ptr<ExportArchive>>(const std::string& path)>;

// One conversation within an export's scope.
struct ExportConversation {
  ConversationId id;
  wire::ConversationKind kind = wire::ConversationKind::Direct;
  std::string name;              // a group's name
  std::vector<UserId> members;   // current members, in joining order
  // Messages with a seq above this are in scope whoever sent them; at or
  // below it only those the case's subjects sent.
  Seq received_after = 0;
  Seq last_seq = 0;  // committed when the export was planned
};

// Everything an export needs, copied on the event loop when it starts.
struct ExportPlan {
  std::uint64_t id = 0;  // the export's id (the case's id)
  Case the_case;
  std::string requested_by;  // logins
  std::string approved_by;
  std::vector<std::string> subject_logins;
  std::int64_t generated_at_us = 0;
  std::vector<ExportConversation> conversations;
  std::unordered_map<UserId, std::string> logins;  // every user
  std::string dir;  // where the archive goes
};

struct ExportProgress {
  enum class State { kRunning, kDone, kFailed };
  State state = State::kRunning;
  std::uint64_t conversations = 0;
  std::uint64_t messages = 0;
  std::uint64_t attachments = 0;
  std::uint64_t bytes = 0;  // staged so far; the archive's size once done
  std::string error;        // set when failed

  const char* state_name() const {
    return state == State::kRunning ? "running" : state == State::kDone ? "done" : "failed";
  }
};

class ExportJob {
 public:
  // REQUIRES: `store` outlives the job.
  ExportJob(ExportPlan plan, MessageStore* store, ExportArchiveFactory factory);
  ~ExportJob();
  ExportJob(const ExportJob&) = delete;
  ExportJob& operator=(const ExportJob&) = delete;

  void Start();
  // Asks the thread to stop (the export then fails) and joins it.
  void Cancel();
  // True once the thread has finished (done or failed); it may be joined.
  bool finished() const { return finished_.load(); }
  ExportProgress progress() const;
  const ExportPlan& plan() const { return plan_; }

  // <dir>/export-<id>.zip
  static std::string ArchivePath(const std::string& dir, std::uint64_t id);

 private:
  void Run();
  Status Write();

  const ExportPlan plan_;
  MessageStore* const store_;
  const ExportArchiveFactory factory_;
  std::thread thread_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> finished_{false};
  mutable std::mutex mutex_;
  ExportProgress progress_;  // GUARDED_BY(mutex_)
};

// The broker's bookkeeping for one export.
struct ExportTask {
  std::unique_ptr<ExportJob> job;
  AuditActor started_by;
  bool recorded = false;  // its end is in the audit log
};

}  // namespace chatpro::core
