// SPDX-License-Identifier: Apache-2.0
#include "broker/store/leveldb_message_store.h"

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/filter_policy.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/slice.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>
#include <thread>
#include <utility>

#ifndef _WIN32
#include <sys/stat.h>
#include <sys/types.h>
#endif

#include "broker/base/encoding.h"
#include "broker/base/log.h"
#include "broker/store/leveldb_status.h"

namespace chatpro::store {
namespace {

namespace fs = std::filesystem;

// 'm' + conversation (8 bytes) + seq (8 bytes).
constexpr std::size_t kMessageKeyBytes = 17;
constexpr std::size_t kConversationPrefixBytes = 9;
// Ten bits per key gives about 1% false positives, LevelDB's recommended setting.
constexpr int kBloomBitsPerKey = 10;
constexpr std::uint64_t kBlobFileBytes = 256ull << 20;

std::string_view View(const leveldb::Slice& s) { return std::string_view(s.data(), s.size()); }

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::size_t ClampToSize(std::uint64_t v) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::size_t>::max();
  return static_cast<std::size_t>(v > kMax ? kMax : v);
}

std::string WithoutTrailingSeparators(std::string dir) {
  while (dir.size() > 1 && (dir.back() == '/' || dir.back() == '\\')) dir.pop_back();
  return dir;
}

// Makes sure `data_dir` is a directory, creating it (owner-only) and any
// missing parents. An existing directory is left as it is.
Status PrepareDataDir(const std::string& data_dir) {
  std::error_code ec;
  const fs::path dir(data_dir);
  const fs::file_status st = fs::status(dir, ec);
  if (st.type() != fs::file_type::not_found) {
    if (ec) {
      return Status::IoError("cannot inspect the data directory " + data_dir + ": " + ec.message());
    }
    if (!fs::is_directory(st)) {
      return Status::FailedPrecondition("the data directory " + data_dir +
                                        " exists but is not a directory");
    }
    return Status::Ok();
  }
  if (dir.has_parent_path()) {
    fs::create_directories(dir.parent_path(), ec);
    if (ec) {
      return Status::IoError("cannot create the parent folders of the data directory " + data_dir +
                             ": " + ec.message());
    }
  }
#ifdef _WIN32
  fs::create_directory(dir, ec);
  if (ec) {
    return Status::IoError("cannot create the data directory " + data_dir + ": " + ec.message());
  }
#else
  // mkdir with the mode directly, so the directory is never readable by others,
  // not even between creation and a later chmod.
  if (::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    const int err = errno;
    return Status::IoError("cannot create the data directory " + data_dir + ": " +
                           std::strerror(err));
  }
  // Lost a race with another creator: accept what is there only if it is a directory.
  if (!fs::is_directory(dir, ec)) {
    return Status::FailedPrecondition("the data directory " + data_dir +
                                      " exists but is not a directory");
  }
#endif
  return Status::Ok();
}

// Leaves `it` on the last key <= `target`, or not Valid() if there is none.
void SeekAtOrBefore(leveldb::Iterator* it, const std::string& target) {
  it->Seek(target);
  if (it->Valid()) {
    if (View(it->key()) != target) it->Prev();
  } else if (it->status().ok()) {
    // Every key is smaller than target.
    it->SeekToLast();
  }
}

// The seq of a message key within the conversation prefix already checked.
Result<Seq> SeqOfMessageKey(std::string_view key) {
  if (key.size() != kMessageKeyBytes) {
    return Status::DataLoss("malformed message key of " + std::to_string(key.size()) +
                            " bytes in the store");
  }
  return ReadBigEndian64(key.substr(kConversationPrefixBytes));
}

leveldb::ReadOptions CheckedReads() {
  leveldb::ReadOptions ro;
  // A damaged block is reported as DataLoss instead of handed to the core.
  ro.verify_checksums = true;
  return ro;
}

}  // namespace

Result<std::unique_ptr<LevelDbMessageStore>> LevelDbMessageStore::Open(
    const StoreOptions& options) {
  return OpenWithEnv(options, nullptr);
}

Result<std::unique_ptr<LevelDbMessageStore>> LevelDbMessageStore::OpenWithEnv(
    const StoreOptions& options, leveldb::Env* env) {
  if (options.data_dir.empty()) {
    return Status::InvalidArgument("the store needs a data directory (data_dir is empty)");
  }
  std::string data_dir = WithoutTrailingSeparators(options.data_dir);
  CHATPRO_RETURN_IF_ERROR(PrepareDataDir(data_dir));
  // Native separators: on Windows leveldb's renames fail on paths with "/" under Wine.
  std::string store_dir = (fs::path(data_dir) / "store").make_preferred().string();

  std::unique_ptr<const leveldb::FilterPolicy> filter_policy(
      leveldb::NewBloomFilterPolicy(kBloomBitsPerKey));
  std::unique_ptr<leveldb::Cache> block_cache(
      leveldb::NewLRUCache(ClampToSize(options.cache_bytes)));

  auto db_options = std::make_unique<leveldb::Options>();
  leveldb::Options& o = *db_options;
  o.create_if_missing = true;
  o.filter_policy = filter_policy.get();
  o.block_cache = block_cache.get();
  o.write_buffer_size = ClampToSize(options.write_buffer_bytes);
  // No compression: message bodies are mostly short texts or already
  // compressed media (and encrypted at rest), so snappy costs CPU for nothing.
  o.compression = leveldb::kNoCompression;
  if (env != nullptr) o.env = env;

  leveldb::DB* raw_db = nullptr;
  leveldb::Status s = leveldb::DB::Open(o, store_dir, &raw_db);
  std::unique_ptr<leveldb::DB> db(raw_db);
  if (!s.ok()) return FromLevelDbStatus(s, data_dir);
  // After LevelDB: its lock keeps a second process away from the blobs too.
  CHATPRO_ASSIGN_OR_RETURN(std::unique_ptr<BlobLog> blobs,
                           BlobLog::Open((fs::path(data_dir) / "blobs").string(), kBlobFileBytes));

  return std::unique_ptr<LevelDbMessageStore>(new LevelDbMessageStore(
      std::move(data_dir), std::move(store_dir), std::move(filter_policy), std::move(block_cache),
      std::move(db), std::move(blobs), std::move(db_options)));
}

LevelDbMessageStore::LevelDbMessageStore(std::string data_dir, std::string store_dir,
                                         std::unique_ptr<const leveldb::FilterPolicy> filter_policy,
                                         std::unique_ptr<leveldb::Cache> block_cache,
                                         std::unique_ptr<leveldb::DB> db,
                                         std::unique_ptr<BlobLog> blobs,
                                         std::unique_ptr<leveldb::Options> db_options)
    : data_dir_(std::move(data_dir)),
      store_dir_(std::move(store_dir)),
      filter_policy_(std::move(filter_policy)),
      block_cache_(std::move(block_cache)),
      db_(std::move(db)),
      db_options_(std::move(db_options)),
      blobs_(std::move(blobs)) {}

LevelDbMessageStore::~LevelDbMessageStore() {
  // The database uses the cache and the filter policy until it is closed.
  std::unique_lock<std::shared_mutex> lock(db_mutex_);
  db_.reset();
}

Status LevelDbMessageStore::CheckOpen() const {
  if (db_ != nullptr) return Status::Ok();
  return Status::Unavailable("the store in " + data_dir_ +
                             " is closed after a failed write and not reopened yet");
}

Status LevelDbMessageStore::Reopen() {
  // Recovery writes what the old logs hold into a table before it starts a
  // new log; without room for that the open would fail half-way and leave
  // no database to read from. So wait, with the old one open, for room.
  std::uint64_t log_bytes = 0;
  std::error_code ec;
  for (fs::directory_iterator it(store_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (it->path().extension() != ".log") continue;
    const std::uint64_t bytes = it->file_size(entry_ec);
    if (!entry_ec) log_bytes += bytes;
  }
  constexpr std::uint64_t kReopenSlackBytes = 1ull << 20;  // manifest, LOG, table overhead
  const fs::space_info space = fs::space(data_dir_, ec);
  if (!ec && space.available < log_bytes + kReopenSlackBytes) {
    return Status::ResourceExhausted(
        "data directory full: " + std::to_string(space.available) + " bytes free in " +
        data_dir_ + ", the store needs about " + std::to_string(log_bytes + kReopenSlackBytes) +
        " to recover from the failed write");
  }
  std::unique_lock<std::shared_mutex> lock(db_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Status::Unavailable("the store in " + data_dir_ +
                               " waits for a reader to finish before it reopens");
  }
  db_.reset();
  leveldb::DB* raw_db = nullptr;
  const leveldb::Status s = leveldb::DB::Open(*db_options_, store_dir_, &raw_db);
  db_.reset(raw_db);
  if (!s.ok()) {
    db_.reset();
    return FromLevelDbStatus(s, data_dir_).WithContext("reopening the store after a failed write");
  }
  reopen_needed_ = false;
  LOG_INFO() << "store in " << data_dir_ << " reopened after a failed write";
  return Status::Ok();
}

Status LevelDbMessageStore::Write(const core::WriteBatch& batch, bool sync) {
  // A failed write may have left half a record in the log or a sticky error
  // in LevelDB: nothing more is written until the database is reopened.
  if (reopen_needed_) CHATPRO_RETURN_IF_ERROR(Reopen());
  std::shared_lock<std::shared_mutex> db_lock(db_mutex_);
  CHATPRO_RETURN_IF_ERROR(CheckOpen());
  leveldb::WriteBatch wb;
  blobs_->BeginBatch();
  // Every message value goes to the blob log and LevelDB keeps a pointer:
  // LevelDB's log, tables and compactions then move 45 bytes per message
  // instead of the whole message, and the blob log writes a batch's values in
  // one go. (Stores written before keep their small values in LevelDB; both
  // forms are read.)
  for (const core::WriteBatch::Message& m : batch.messages) {
    Result<BlobRef> ref = blobs_->Append(m.bytes);
    if (!ref.ok()) {
      blobs_->Rollback();
      return ref.status().WithContext("store in " + data_dir_);
    }
    wb.Put(core::store_keys::MessageKey(m.conversation, m.seq), BlobLog::EncodePointer(*ref));
  }
  const bool wrote_blobs = !batch.messages.empty();
  if (wrote_blobs) {
    Status flushed = blobs_->Flush();
    if (!flushed.ok()) {
      blobs_->Rollback();
      return flushed.WithContext("store in " + data_dir_);
    }
  }
  // Deleted and overwritten messages: their blobs are released once the batch
  // is written (a pointer must never outlive its blob).
  std::vector<BlobRef> released;
  auto note_old_blob = [&](const std::string& key) -> Status {
    std::string old;
    leveldb::Status g = db_->Get(leveldb::ReadOptions(), key, &old);
    if (g.IsNotFound()) return Status::Ok();
    if (!g.ok()) return FromLevelDbStatus(g, data_dir_);
    BlobRef ref;
    if (BlobLog::DecodePointer(old, &ref)) released.push_back(ref);
    return Status::Ok();
  };
  for (const core::WriteBatch::Message& m : batch.messages) {
    if (m.replaces) {
      CHATPRO_RETURN_IF_ERROR(note_old_blob(core::store_keys::MessageKey(m.conversation, m.seq)));
    }
  }
  for (const core::WriteBatch::MessageDelete& d : batch.message_deletes) {
    const std::string key = core::store_keys::MessageKey(d.conversation, d.seq);
    CHATPRO_RETURN_IF_ERROR(note_old_blob(key));
    wb.Delete(key);
  }
  // The blobs are durable before any pointer to them is.
  if (sync && wrote_blobs) CHATPRO_RETURN_IF_ERROR(blobs_->Sync());
  for (const core::WriteBatch::Record& r : batch.records) {
    const std::string key = core::store_keys::RecordKey(r.kind, r.key);
    if (r.value) {
      wb.Put(key, *r.value);
    } else {
      wb.Delete(key);
    }
  }
  leveldb::WriteOptions wo;
  wo.sync = sync;
  // An empty batch still goes to LevelDB: with sync it makes earlier unsynced
  // writes durable.
  Status written = FromLevelDbStatus(db_->Write(wo, &wb), data_dir_);
  if (!written.ok()) {
    reopen_needed_ = true;
    return written;
  }
  ReleaseBlobs(std::move(released));
  return Status::Ok();
}

void LevelDbMessageStore::ReleaseBlobs(std::vector<BlobRef> refs) {
  {
    std::lock_guard<std::mutex> lock(release_mutex_);
    if (copies_running_ > 0) {
      // A snapshot copy may still read these: freed by the first write after
      // it ends (or, after a crash, left as unreferenced bytes).
      deferred_releases_.insert(deferred_releases_.end(), refs.begin(), refs.end());
      return;
    }
    // What earlier copies kept: freed here, on the writer's thread, like the rest.
    refs.insert(refs.end(), deferred_releases_.begin(), deferred_releases_.end());
    deferred_releases_.clear();
  }
  if (refs.empty()) return;
  Status st = blobs_->ReleaseMany(std::move(refs));
  // The pointer is gone already; a blob that could not be punched out is
  // unreferenced bytes, reported but not a failed write.
  if (!st.ok()) LOG_WARNING() << "could not free a removed blob: " << st;
}

void LevelDbMessageStore::EndCopy() {
  std::lock_guard<std::mutex> lock(release_mutex_);
  --copies_running_;
}

Result<core::SnapshotCopyCounts> LevelDbMessageStore::CopySnapshot(
    const std::string& dir, const core::SnapshotCopyControl& control) {
  if (dir.empty()) return Status::InvalidArgument("a snapshot copy needs a folder");
  // Before the snapshot: a removal whose pointer the snapshot still holds
  // frees its blob only after the copy.
  {
    std::lock_guard<std::mutex> lock(release_mutex_);
    ++copies_running_;
  }
  struct CopyGuard {
    LevelDbMessageStore* store;
    ~CopyGuard() { store->EndCopy(); }
  } copy_guard{this};
  std::shared_lock<std::shared_mutex> db_lock(db_mutex_);
  CHATPRO_RETURN_IF_ERROR(CheckOpen());
  const leveldb::Snapshot* snapshot = db_->GetSnapshot();
  struct SnapshotGuard {
    leveldb::DB* db;
    const leveldb::Snapshot* snapshot;
    ~SnapshotGuard() { db->ReleaseSnapshot(snapshot); }
  } snapshot_guard{db_.get(), snapshot};

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create the folder " + dir + ": " + ec.message());
  StoreOptions copy_options;
  copy_options.data_dir = dir;
  copy_options.cache_bytes = 8ull << 20;
  copy_options.write_buffer_bytes = 16ull << 20;
  if (fs::exists(fs::path(dir) / "store", ec)) {
    return Status::AlreadyExists("a store exists in " + dir + " already");
  }
  CHATPRO_ASSIGN_OR_RETURN(std::unique_ptr<LevelDbMessageStore> copy, Open(copy_options));

  leveldb::ReadOptions ro = CheckedReads();
  ro.snapshot = snapshot;
  ro.fill_cache = false;  // a copy must not push the live working set out of the cache
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(ro));
  core::SnapshotCopyCounts counts;
  leveldb::WriteBatch batch;
  std::size_t batch_bytes = 0;
  const auto started = std::chrono::steady_clock::now();
  constexpr std::size_t kChunkBytes = 1 << 20;
  auto stopped = [&] { return control.cancelled && control.cancelled(); };
  // Writes the chunk; between chunks, paces the copy.
  auto flush = [&](bool sync) -> Status {
    // Blobs are durable before the pointers to them.
    CHATPRO_RETURN_IF_ERROR(sync ? copy->blobs_->Sync() : copy->blobs_->Flush());
    leveldb::WriteOptions wo;
    wo.sync = sync;
    CHATPRO_RETURN_IF_ERROR(FromLevelDbStatus(copy->db_->Write(wo, &batch), dir));
    batch.Clear();
    batch_bytes = 0;
    if (control.progress) control.progress(counts);
    if (stopped()) return Status::Unavailable("the copy of the store was stopped");
    if (sync) return Status::Ok();  // the last chunk: nothing left to pace
    for (int waits = 0; waits < 250 && Backlogged() && !stopped(); ++waits) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (control.bytes_per_second != 0) {
      // Sleep until the bytes so far fit the rate, in short naps so that a
      // stop is seen at once. (Capped at a day, which no real rate reaches.)
      const double due_s = std::min(
          static_cast<double>(counts.bytes) / static_cast<double>(control.bytes_per_second),
          86400.0);
      const auto due = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     std::chrono::duration<double>(due_s));
      for (auto now = std::chrono::steady_clock::now(); now < due && !stopped();
           now = std::chrono::steady_clock::now()) {
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            due - now, std::chrono::milliseconds(100)));
      }
    }
    if (stopped()) return Status::Unavailable("the copy of the store was stopped");
    return Status::Ok();
  };
  copy->blobs_->BeginBatch();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = View(it->key());
    const std::string_view value = View(it->value());
    const bool message = !key.empty() && key.front() == core::store_keys::kMessagePrefix;
    BlobRef ref;
    if (message && BlobLog::DecodePointer(value, &ref)) {
      Result<std::string> blob = blobs_->Read(ref);
      if (!blob.ok()) return blob.status().WithContext("copying the store in " + data_dir_);
      CHATPRO_ASSIGN_OR_RETURN(BlobRef copied, copy->blobs_->Append(*blob));
      batch.Put(it->key(), BlobLog::EncodePointer(copied));
      ++counts.blobs;
      counts.bytes += key.size() + blob->size();
      batch_bytes += key.size() + blob->size();
    } else {
      batch.Put(it->key(), it->value());
      counts.bytes += key.size() + value.size();
      batch_bytes += key.size() + value.size();
    }
    ++(message ? counts.messages : counts.records);
    if (batch_bytes >= kChunkBytes) CHATPRO_RETURN_IF_ERROR(flush(false));
  }
  CHATPRO_RETURN_IF_ERROR(FromLevelDbStatus(it->status(), data_dir_));
  it.reset();
  // The last write is synced: with it the log, and the tables LevelDB has
  // already synced as it wrote them, hold everything.
  CHATPRO_RETURN_IF_ERROR(flush(true));
  return counts;
}

bool LevelDbMessageStore::Backlogged() {
  // LevelDB compacts level 0 from 4 files on and slows every write from 8 on;
  // past 4, background writers leave it the time to catch up.
  std::string files;
  std::shared_lock<std::shared_mutex> db_lock(db_mutex_);
  if (db_ == nullptr) return false;
  if (!db_->GetProperty("leveldb.num-files-at-level0", &files)) return false;
  return std::strtoul(files.c_str(), nullptr, 10) > 4;
}

Status LevelDbMessageStore::CompactMessages() {
  std::shared_lock<std::shared_mutex> db_lock(db_mutex_);
  CHATPRO_RETURN_IF_ERROR(CheckOpen());
  db_->CompactRange(nullptr, nullptr);
  return Status::Ok();
}

Result<std::vector<core::StoredMessage>> LevelDbMessageStore::ReadMessages(
    ConversationId conversation, Seq from, std::size_t limit, core::ReadDirection direction,
    std::uint64_t max_bytes) {
  std::vector<core::StoredMessage> out;
  if (limit == 0) return out;
  const std::string target = core::store_keys::MessageKey(conversation, from);
  const std::string_view prefix = std::string_view(target).substr(0, kConversationPrefixBytes);
  std::shared_lock<std::shared_mutex> db_lock(db_mutex_);
  CHATPRO_RETURN_IF_ERROR(CheckOpen());
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(CheckedReads()));
  const bool forward = direction == core::ReadDirection::kForward;
  if (forward) {
    it->Seek(target);
  } else {
    SeekAtOrBefore(it.get(), target);
  }
  // Values in the blob log are read after the scan, neighbours together.
  std::vector<BlobRef> refs;
  std::vector<std::size_t> ref_slots;
  std::uint64_t bytes = 0;
  while (it->Valid() && out.size() < limit && bytes < max_bytes) {
    const std::string_view key = View(it->key());
    if (!StartsWith(key, prefix)) break;
    CHATPRO_ASSIGN_OR_RETURN(Seq seq, SeqOfMessageKey(key));
    const std::string_view value = View(it->value());
    BlobRef ref;
    if (BlobLog::DecodePointer(value, &ref)) {
      refs.push_back(ref);
      ref_slots.push_back(out.size());
      out.push_back({seq, std::string()});
      bytes += ref.length;
    } else {
      out.push_back({seq, std::string(value)});
      bytes += value.size();
    }
    if (forward) {
      it->Next();
    } else {
      it->Prev();
    }
  }
  CHATPRO_RETURN_IF_ERROR(FromLevelDbStatus(it->status(), data_dir_));
  it.reset();
  if (!refs.empty()) {
    if (!forward) {
      // Backwards the blobs come newest first; read them in file order.
      std::reverse(refs.begin(), refs.end());
      std::reverse(ref_slots.begin(), ref_slots.end());
    }
    CHATPRO_ASSIGN_OR_RETURN(std::vector<std::string> values, blobs_->ReadMany(refs));
    for (std::size_t k = 0; k < values.size(); ++k) out[ref_slots[k]].bytes = std::move(values[k]);
  }
  return out;
}

Result<std::string> LevelDbMessageStore::Resolve(std::string_view value) {
  BlobRef ref;
  if (BlobLog::DecodePointer(value, &ref)) return blobs_->Read(ref);
  return std::string(value);
}

Result<Seq> LevelDbMessageStore::LastSeq(ConversationId conversation) {
  // The largest possible key of the conversation is its prefix + 0xFF x 8.
  const std::string target =
      core::store_keys::MessageKey(conversation, std::numeric_limits<Seq>::max());
  const std::string_view prefix = std::string_view(target).substr(0, kConversationPrefixBytes);
  std::shared_lock<std::shared_mutex> db_lock(db_mutex_);
  CHATPRO_RETURN_IF_ERROR(CheckOpen());
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(CheckedReads()));
  SeekAtOrBefore(it.get(), target);
  if (it->Valid()) {
    const std::string_view key = View(it->key());
    if (StartsWith(key, prefix)) return SeqOfMessageKey(key);
  }
  CHATPRO_RETURN_IF_ERROR(FromLevelDbStatus(it->status(), data_dir_));
  return Seq{0};
}

Result<std::optional<std::string>> LevelDbMessageStore::GetRecord(core::RecordKind kind,
                                                                  std::string_view key) {
  std::string value;
  std::shared_lock<std::shared_mutex> db_lock(db_mutex_);
  CHATPRO_RETURN_IF_ERROR(CheckOpen());
  const leveldb::Status s =
      db_->Get(CheckedReads(), core::store_keys::RecordKey(kind, key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  CHATPRO_RETURN_IF_ERROR(FromLevelDbStatus(s, data_dir_));
  return std::optional<std::string>(std::move(value));
}

Status LevelDbMessageStore::ScanRecords(
    core::RecordKind kind, std::string_view start,
    const std::function<bool(std::string_view, std::string_view)>& fn) {
  // The iterator reads a snapshot and holds no lock, so fn may write to the
  // store; it will not see its own writes in this scan. (A write that needs
  // a reopen meanwhile is refused with Unavailable, never waits for us.)
  std::shared_lock<std::shared_mutex> db_lock(db_mutex_);
  CHATPRO_RETURN_IF_ERROR(CheckOpen());
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(CheckedReads()));
  const char kind_byte = static_cast<char>(kind);
  for (it->Seek(core::store_keys::RecordKey(kind, start)); it->Valid(); it->Next()) {
    const std::string_view key = View(it->key());
    if (key.empty() || key.front() != kind_byte) break;
    if (!fn(key.substr(1), View(it->value()))) return Status::Ok();
  }
  return FromLevelDbStatus(it->status(), data_dir_);
}

std::uint64_t LevelDbMessageStore::ApproximateSizeBytes() {
  // Files come and go under compaction while we list them; a file that
  // vanished is simply not counted.
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator it(store_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec)) continue;
    const std::uint64_t bytes = it->file_size(entry_ec);
    if (!entry_ec) total += bytes;
  }
  return total + blobs_->SizeBytes();
}

}  // namespace chatpro::store
