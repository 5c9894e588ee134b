// SPDX-License-Identifier: Apache-2.0
//
// LevelDbMessageStore: the production MessageStore, one LevelDB database in
// `<data_dir>/store`.
//
// Messages of 64 KiB and more (pictures, voice) are kept in a BlobLog in
// `<data_dir>/blobs`, LevelDB holding only a pointer to them, so that large
// values are written once instead of again in every LevelDB compaction.
//
// Keys follow core::store_keys exactly ('m' + conversation BE + seq BE for
// messages, kind byte + key for records), so this store and
// InMemoryMessageStore order and find the same rows; LevelDB's default
// bytewise comparator gives that order. Tables use a bloom filter and snappy
// compression; reads go through an LRU block cache of `cache_bytes`.
//
// Lifecycle: Open() creates the data directory (mode 0700) if it is missing,
// takes LevelDB's lock on the store (one process per data directory) and
// recovers the log. Destroying the object closes the database and releases
// the lock. Everything written with Write(batch, /*sync=*/true) survives a
// crash or power loss; with sync=false, a process crash but not power loss.
//
// Ownership: the object owns the database, its block cache and its filter
// policy; the database is closed before the other two are freed.
//
// Thread-safety: all functions may be called from any thread at the same time
// (LevelDB serialises writers itself). A read started after Write() returned
// sees that write. ScanRecords reads a consistent snapshot and `fn` may call
// back into the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/base/status.h"
#include "broker/config/options.h"
#include "broker/core/message_store.h"
#include "broker/store/blob_log.h"

namespace leveldb {
class Cache;
class DB;
class Env;
class FilterPolicy;
struct Options;
}  // namespace leveldb

namespace chatpro::store {

class LevelDbMessageStore final : public core::MessageStore {
 public:
  // Opens (creating if needed) the store in `<options.data_dir>/store`.
  // `cache_bytes` and `write_buffer_bytes` size LevelDB; `durability` is not
  // read here (the caller passes sync to Write()).
  //
  // On failure returns:
  //   InvalidArgument    if data_dir is empty;
  //   FailedPrecondition if data_dir exists but is not a directory, or another
  //                      process (or another store in this one) has it open;
  //   ResourceExhausted  if the disk is full;
  //   DataLoss           if LevelDB finds the store damaged;
  //   IoError            for other failures to create or read it.
  static Result<std::unique_ptr<LevelDbMessageStore>> Open(const StoreOptions& options);

  // As Open(), with LevelDB's file system calls going through `env` (tests use
  // it to inject faults such as a full disk). REQUIRES: `env` outlives the
  // store; nullptr means LevelDB's default Env.
  static Result<std::unique_ptr<LevelDbMessageStore>> OpenWithEnv(const StoreOptions& options,
                                                                  leveldb::Env* env);

  ~LevelDbMessageStore() override;
  LevelDbMessageStore(const LevelDbMessageStore&) = delete;
  LevelDbMessageStore& operator=(const LevelDbMessageStore&) = delete;

  // See core::MessageStore. Write() failures: ResourceExhausted when the disk
  // is full, IoError otherwise. Reads return DataLoss when a block fails its
  // checksum or a message key is malformed.
  //
  // Two LevelDB behaviours the caller must know about:
  //  * A failed Write() is not visible to readers, but if the failure came
  //    after the batch reached the log (a failed sync), the batch may appear
  //    after the store is reopened. Retrying the same batch is safe (it only
  //    puts and deletes fixed values); writing different data under the same
  //    keys later also wins over it.
  //  * After a failed sync or a failed background compaction (for example the
  //    disk filled up while writing a table), LevelDB refuses every further
  //    write with that same error until the database is closed and opened
  //    again, even once the disk has room. An append cut short leaves half a
  //    record in LevelDB's log, and LevelDB would append the next records
  //    behind it, where its recovery drops them as corrupt.
  // So after any failed write the next Write() first reopens the database
  // (recovery ends the old log at the half record and starts a new one), and
  // only then writes. It reopens only once the data directory has room for
  // recovery (about the size of the logs); until then Write() returns
  // ResourceExhausted ("data directory full: ...") and reads go on from the
  // open database. A reopen waits for no reader: while one reads (a backup's
  // long scan) Write() returns Unavailable and the caller retries. If the
  // reopen itself fails, reads return Unavailable until a later Write()
  // reopens it.
  Status Write(const core::WriteBatch& batch, bool sync) override;
  Result<std::vector<core::StoredMessage>> ReadMessages(ConversationId conversation, Seq from,
                                                        std::size_t limit,
                                                        core::ReadDirection direction, std::uint64_t max_bytes) override;
  Result<Seq> LastSeq(ConversationId conversation) override;
  Result<std::optional<std::string>> GetRecord(core::RecordKind kind,
                                               std::string_view key) override;
  Status ScanRecords(core::RecordKind kind, std::string_view start,
                     const std::function<bool(std::string_view, std::string_view)>& fn) override;

  // Sum of the sizes of the files in the store directory (tables, log,
  // manifest): what the store really occupies on disk, including data not yet
  // compacted.
  std::uint64_t ApproximateSizeBytes() override;
  // Compacts the whole database (deleted values leave the tables) .
  Status CompactMessages() override;
  bool Backlogged() override;
  // A new LevelDB database in `<dir>/store` and a new blob log in
  // `<dir>/blobs`, holding every row of one LevelDB snapshot: a data
  // directory's store, openable by Open() with data_dir = `dir`. Large values
  // are read from this store's blob log and written to the new one, so the
  // copy holds only blobs the snapshot points to. While a copy runs, blobs
  // that removals free are kept (so none it still has to read is punched
  // out) and freed by the first write after it ends. Reads skip the block
  // cache; pacing as `control` says, and while Backlogged() the copy waits
  // (up to 5 s at a time).
  Result<core::SnapshotCopyCounts> CopySnapshot(const std::string& dir,
                                                const core::SnapshotCopyControl& control) override;

  const std::string& data_dir() const { return data_dir_; }
  // `<data_dir>/store`, the LevelDB directory.
  const std::string& store_dir() const { return store_dir_; }

 private:
  LevelDbMessageStore(std::string data_dir, std::string store_dir,
                      std::unique_ptr<const leveldb::FilterPolicy> filter_policy,
                      std::unique_ptr<leveldb::Cache> block_cache, std::unique_ptr<leveldb::DB> db,
                      std::unique_ptr<BlobLog> blobs, std::unique_ptr<leveldb::Options> db_options);
  // Closes and opens the database again after a failed write (see Write()).
  // Writer thread only. On failure the database stays as it was if it was
  // not closed yet (ResourceExhausted: too little room; Unavailable: a
  // reader holds it), else is null until a later call succeeds.
  Status Reopen();
  // Reads call this under a shared lock of db_mutex_: Unavailable while a
  // failed reopen left no database.
  Status CheckOpen() const;
  // The message bytes a LevelDB value stands for (itself, or the blob it
  // points to).
  Result<std::string> Resolve(std::string_view value);
  // Frees blobs whose pointers are gone (and those kept for a copy that has
  // ended), or keeps them for later while a snapshot copy may still read
  // them. Writer thread only, like every BlobLog change.
  void ReleaseBlobs(std::vector<BlobRef> refs);
  // The end of a snapshot copy: what was kept for it is freed by the next write.
  void EndCopy();

  const std::string data_dir_;
  const std::string store_dir_;
  // Declared before db_ so that they are destroyed after it; the destructor
  // also closes db_ explicitly first.
  std::unique_ptr<const leveldb::FilterPolicy> filter_policy_;
  std::unique_ptr<leveldb::Cache> block_cache_;
  // Shared by every use of db_, exclusive only to replace it (Reopen()).
  mutable std::shared_mutex db_mutex_;
  std::unique_ptr<leveldb::DB> db_;  // GUARDED_BY(db_mutex_); null after a failed reopen
  // The options the database was opened with, for Reopen().
  const std::unique_ptr<leveldb::Options> db_options_;
  // A write failed: the next Write() reopens the database first.
  std::atomic<bool> reopen_needed_{false};
  std::unique_ptr<BlobLog> blobs_;
  std::mutex release_mutex_;
  int copies_running_ = 0;                  // GUARDED_BY(release_mutex_)
  std::vector<BlobRef> deferred_releases_;  // GUARDED_BY(release_mutex_)
};

}  // namespace chatpro::store
