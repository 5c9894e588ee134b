// SPDX-License-Identifier: Apache-2.0
//
// Backups of the broker's store: a consistent copy of the store, the key
// files that make it readable, and a manifest that lets a restore check every
// byte before it installs anything.
//
// A backup is a folder `<root>/<name>`:
//   store/      a LevelDB database holding every row of one snapshot
//   blobs/      the large messages that snapshot points to
//   storage.key the storage key ring (values in store/ and blobs/ are sealed
//               under it), broker.key the broker's CURVE key pair
//   MANIFEST    written last: the backup's name, times, broker version, store
//               format and id, counts, then each file's size and BLAKE2b-256,
//               and a BLAKE2b-256 of the manifest itself.
// It is written as `<root>/.<name>.partial` and renamed to `<root>/<name>`
// only once everything in it, the manifest included, is synced; a folder
// without the leading dot is a complete backup.
//
// BackupJob writes one backup on a background thread at the lowest CPU
// priority, through MessageStore::CopySnapshot (paced, and waiting while the
// store is behind with its compactions), so the broker keeps serving.
//
// Thread-safety: the free functions may run on any thread. BackupJob: Start,
// Cancel and the destructor on the owner's thread; progress() and finished()
// from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/core/message_store.h"

namespace chatpro::core {

constexpr std::string_view kBackupManifestName = "MANIFEST";

// A file a backup holds besides the store (the key files).
struct BackupKeyFile {
  std::string name;  // its name in the backup, e.g. "storage.key"
  std::string path;  // where it is now
};

// Where backups go and what they hold beside the store.
struct BackupSetup {
  // The backup folder (created, mode 0700, when the first backup starts).
  // Empty: backups are refused.
  std::string dir;
  // Most bytes copied per second. 0: no limit.
  std::uint64_t bytes_per_second = 0;
  std::vector<BackupKeyFile> key_files;
  std::string broker_version;
};

struct BackupFileEntry {
  std::string path;  // inside the backup, '/'-separated, e.g. "store/000005.ldb"
  std::uint64_t bytes = 0;
  std::string blake2b;  // BLAKE2b-256, 64 hex digits
};

struct BackupManifest {
  std::string name;
  std::int64_t started_at_us = 0;  // the snapshot is of about this moment
  std::int64_t finished_at_us = 0;
  std::string broker_version;
  int store_format = 0;
  std::string store_id;
  std::uint64_t records = 0;
  std::uint64_t messages = 0;
  std::uint64_t blobs = 0;
  std::uint64_t bytes = 0;  // rows and blobs copied
  std::vector<BackupFileEntry> files;
};

// The manifest as text (the layout above), ending with its own hash.
std::string EncodeBackupManifest(const BackupManifest& manifest);
// Parses a manifest. DataLoss if it is damaged (its own hash does not match,
// a line is malformed, a path would leave the backup's folder).
Result<BackupManifest> ParseBackupManifest(std::string_view text);

// OK for a name of 1 to 64 letters, digits, '.', '_' and '-' that starts with
// a letter or digit; else InvalidArgument saying what is allowed.
Status ValidateBackupName(std::string_view name);

// BLAKE2b-256 of the file's bytes (hex) and its size. On failure IoError
// naming the file.
Result<BackupFileEntry> HashBackupFile(const std::string& path);

// Reads `<dir>/MANIFEST` without checking the files. NotFound if there is
// none; DataLoss if it is damaged.
Result<BackupManifest> ReadBackupManifest(const std::string& dir);

// Reads the manifest and checks every file it lists: there, of its size and
// hash. On failure returns NotFound (no manifest), DataLoss naming the first
// damaged or missing file (`<dir>/store/000005.ldb is damaged: ...`), or
// FailedPrecondition if the backup holds a store of a newer format than this
// broker reads.
Result<BackupManifest> VerifyBackup(const std::string& dir);

// The complete backups in `root`, oldest first (folders whose manifest
// cannot be read are left out). An absent `root` has none.
std::vector<BackupManifest> ListBackups(const std::string& root);

// Removes what backups cut short by a crash left in `root` (`.<name>.partial`).
void RemoveUnfinishedBackups(const std::string& root);

// What one backup needs, copied on the event loop when it starts.
struct BackupPlan {
  std::string name;
  BackupSetup setup;
  int store_format = 0;
  std::string store_id;
  std::int64_t started_at_us = 0;
};

struct BackupProgress {
  enum class State { kRunning, kDone, kFailed };
  State state = State::kRunning;
  std::string name;
  std::string path;  // the finished backup's folder
  std::int64_t started_at_us = 0;
  std::int64_t finished_at_us = 0;
  std::uint64_t records = 0;
  std::uint64_t messages = 0;
  std::uint64_t blobs = 0;
  std::uint64_t bytes = 0;
  std::string error;

  const char* state_name() const {
    return state == State::kRunning ? "running" : state == State::kDone ? "done" : "failed";
  }
};

// Writes backup `plan` of `store` on the caller's thread: the snapshot copy,
// the key files, the manifest, then the rename into place. `progress` (may
// be null) is updated as it goes. On failure nothing is left in the backup
// folder and returns AlreadyExists (the name is taken), the copy's error,
// or IoError naming the file.
Result<BackupManifest> WriteBackup(MessageStore& store, const BackupPlan& plan, const Clock& clock,
                                   const SnapshotCopyControl& control);

class BackupJob {
 public:
  // REQUIRES: `store` and `clock` outlive the job.
  BackupJob(BackupPlan plan, MessageStore* store, const Clock* clock);
  ~BackupJob();
  BackupJob(const BackupJob&) = delete;
  BackupJob& operator=(const BackupJob&) = delete;

  void Start();
  // Asks the thread to stop (the backup then fails, leaving nothing) and
  // joins it.
  void Cancel();
  bool finished() const { return finished_.load(); }
  BackupProgress progress() const;
  const BackupPlan& plan() const { return plan_; }

 private:
  void Run();

  const BackupPlan plan_;
  MessageStore* const store_;
  const Clock* const clock_;
  std::thread thread_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> finished_{false};
  mutable std::mutex mutex_;
  BackupProgress progress_;  // GUARDED_BY(mutex_)
};

}  // namespace chatpro::core
