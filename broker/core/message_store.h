// SPDX-License-Identifier: Apache-2.0
//
// MessageStore: the core's view of durable storage.
//
// The store keeps two things, both ordered:
//   * messages, by (conversation, seq), as opaque bytes (a chatpro.wire.Message);
//   * records, by (kind, key), as opaque bytes (users, devices, conversations,
//     cursors, ... encoded by the core).
// A WriteBatch applies any mix of these atomically. The store never interprets
// what it keeps; all rules live in the core.
//
// Implementations: LevelDbMessageStore (broker/store) for production and
// InMemoryMessageStore (here) for tests; both pass the same conformance suite
// (broker/store/tests/message_store_conformance_test.cc).
//
// Thread-safety: implementations must allow Write() from one thread while other
// threads call the read functions. A read started after Write() returned sees
// that write.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/ids.h"
#include "broker/base/result.h"

namespace chatpro::core {

enum class RecordKind : char {
  kMeta = '!',          // store-wide values: format version
  kUser = 'u',          // key: user id (8 bytes, big-endian)
  kDevice = 'v',        // key: device id
  kConversation = 'o',  // key: conversation id
  kEnrollment = 'e',    // key: derived enrollment public key (32 bytes)
  kCursor = 'k',        // key: device id + conversation id; value: seq (8 bytes)
  kDedupe = 'c',        // key: device id + client message id
  kAudit = 'a',         // key: audit seq (8 bytes big-endian)
  kReport = 'r',        // key: report id
  kBlock = 'b',         // key: user id + blocked user id; value: empty
  kHold = 'h',          // key: hold id
  kTombstone = 't',     // key: conversation id + seq
  kCase = 'x',          // key: case id
  kSchedule = 'w',      // key: user id
  kDisconnectStat = 'q',  // key: UTC day (4 bytes) + 's'/'g' + user or conversation id
};

struct StoredMessage {
  Seq seq = 0;
  std::string bytes;
};

// Changes to apply atomically. Messages are written first, then message
// deletions, then records in the order given. A record whose value is nullopt
// is deleted.
struct WriteBatch {
  struct Message {
    ConversationId conversation;
    Seq seq = 0;
    std::string bytes;
    // True when this overwrites a stored message (retention stripping its
    // attachments): the store then frees what the old value used on disk.
    bool replaces = false;
  };
  // Removes a stored message and frees what it used on disk.
  struct MessageDelete {
    ConversationId conversation;
    Seq seq = 0;
  };
  struct Record {
    RecordKind kind;
    std::string key;
    std::optional<std::string> value;
  };

  std::vector<Message> messages;
  std::vector<MessageDelete> message_deletes;
  std::vector<Record> records;

  bool empty() const { return messages.empty() && message_deletes.empty() && records.empty(); }
  void Clear() {
    messages.clear();
    message_deletes.clear();
    records.clear();
  }
  // Sum of the sizes of keys and values, for batch limits.
  std::uint64_t ApproximateBytes() const;
};

enum class ReadDirection { kForward, kBackward };

// What a snapshot copy (MessageStore::CopySnapshot) wrote.
struct SnapshotCopyCounts {
  std::uint64_t records = 0;  // rows that are not messages
  std::uint64_t messages = 0;
  std::uint64_t blobs = 0;  // message values kept out of line (in blob files)
  std::uint64_t bytes = 0;  // keys and values copied, blobs included
};

// How a snapshot copy is paced and stopped.
struct SnapshotCopyControl {
  // Most bytes copied per second, so that a copy leaves the disk to live
  // traffic. 0: as fast as the disk goes. Default: 0.
  std::uint64_t bytes_per_second = 0;
  // Polled between chunks; true stops the copy (it then fails with
  // Unavailable). Default: never.
  std::function<bool()> cancelled;
  // Called after each chunk with the counts so far. Default: none.
  std::function<void(const SnapshotCopyCounts&)> progress;
};

class MessageStore {
 public:
  virtual ~MessageStore() = default;

  // Applies `batch` atomically. With `sync`, returns only once the data is on
  // stable storage. On failure returns IoError (ResourceExhausted if the disk
  // is full); the batch is then not visible, but after a failed sync it may
  // still appear after a restart, so the caller retries the same batch (every
  // put and delete is idempotent) rather than dropping it.
  virtual Status Write(const WriteBatch& batch, bool sync) = 0;

  // Up to `limit` messages of `conversation`. kForward: seq >= `from`,
  // ascending. kBackward: seq <= `from`, descending. Gaps (removed messages)
  // are skipped. The read also stops once the messages read add up to
  // `max_bytes` or more (the first message is always read, however big). An
  // unknown conversation yields an empty vector.
  virtual Result<std::vector<StoredMessage>> ReadMessages(ConversationId conversation, Seq from,
                                                         std::size_t limit,
                                                         ReadDirection direction,
                                                         std::uint64_t max_bytes) = 0;

  // The highest stored seq of `conversation`, 0 if it has none.
  virtual Result<Seq> LastSeq(ConversationId conversation) = 0;

  // The value of one record, nullopt if absent.
  virtual Result<std::optional<std::string>> GetRecord(RecordKind kind, std::string_view key) = 0;

  // Calls fn(key, value) for the records of `kind` whose key is >= `start`, in
  // key order, until fn returns false or the records of `kind` end. fn may
  // read the store; whether it sees writes made during the scan is unspecified.
  virtual Status ScanRecords(
      RecordKind kind, std::string_view start,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;

  // Disk bytes used by the store (approximate). Default: 0 when unknown.
  virtual std::uint64_t ApproximateSizeBytes() { return 0; }

  // Rewrites the store's files so that deleted and overwritten data is gone
  // from disk now rather than at some later compaction. May take long; call it
  // from a background thread. Default: nothing to do.
  virtual Status CompactMessages() { return Status::Ok(); }

  // True while the store is behind with its own upkeep (for LevelDB: files
  // waiting to be compacted), so that writes would soon slow down. Background
  // writers (retention) wait while it holds; live traffic never does.
  // Default: never.
  virtual bool Backlogged() { return false; }

  // Writes a copy of the whole store as of one moment (a consistent snapshot:
  // every write batch is in it entirely or not at all) into `dir` as a new
  // store of the same implementation, openable in place of this one. Writes
  // go on meanwhile; nothing the snapshot holds is freed until the copy ends.
  // Values are copied as stored (an encrypting store's values stay sealed).
  // Runs on the caller's thread for as long as the copy takes: call it from a
  // background thread. REQUIRES: `dir` does not exist or is empty.
  // On success the copy is on stable storage. On failure returns IoError
  // (ResourceExhausted if the disk is full), DataLoss if a stored value is
  // damaged, Unavailable if `control.cancelled` stopped it, AlreadyExists if
  // `dir` holds a store; `dir` then may hold a partial copy for the caller to
  // remove. Default: FailedPrecondition (this store cannot copy itself).
  virtual Result<SnapshotCopyCounts> CopySnapshot(const std::string& dir,
                                                  const SnapshotCopyControl& control);
};

// The key layout shared by ordered-map implementations: one byte of kind,
// then the record key; messages are 'm' + conversation (8 bytes big-endian) +
// seq (8 bytes big-endian).
namespace store_keys {
constexpr char kMessagePrefix = 'm';
std::string MessageKey(ConversationId conversation, Seq seq);
std::string RecordKey(RecordKind kind, std::string_view key);
// Helpers for building record keys.
std::string U64Key(std::uint64_t a);
std::string U64Key(std::uint64_t a, std::uint64_t b);
}  // namespace store_keys

}  // namespace chatpro::core
