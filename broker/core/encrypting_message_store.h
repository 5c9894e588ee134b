// SPDX-License-Identifier: Apache-2.0
//
// EncryptingMessageStore: a MessageStore that encrypts what it keeps at rest,
// in front of another MessageStore that keeps the bytes.
//
// Every message, and every record that holds personal data or content
// (kUser, kDevice, kConversation, kEnrollment, kReport, kAudit, kCase), is sealed
// with crypto::Seal under the active key of a StorageKeyRing before it
// reaches the inner store, and opened on the way back. The associated data is
// the value's key in the store's layout (store_keys::MessageKey,
// store_keys::RecordKey), so a sealed value moved to another conversation,
// seq or record does not open. Records that hold only ids, counters or the
// store's format (kMeta, kCursor, kDedupe, kBlock) stay plain: they are read
// before anything else or on every delivery, and tell nothing about people.
// Keys are never encrypted (they are ids, and the order of the store depends
// on them).
//
// The inner store sees opaque bytes only, so whatever it makes of them
// (LevelDB's log and tables, the blob files of large messages) is encrypted
// too. Reads that meet a value that does not open fail with DataLoss (damaged,
// or sealed under another key) or FailedPrecondition (sealed under a key the
// ring does not hold), naming the message or record.
//
// Cost: one AEAD pass and one allocation (the sealed or opened value) per
// encrypted value; plain records are copied into the batch handed on, since
// the caller's batch is const.
//
// Lifecycle and ownership: the object owns neither the inner store nor the
// ring. REQUIRES: both outlive it, and the ring does not change while the
// object is used.
//
// Thread-safety: as the inner store's (see MessageStore); this object adds no
// state of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/core/message_store.h"
#include "broker/crypto/storage_key_ring.h"

namespace chatpro::core {

class EncryptingMessageStore final : public MessageStore {
 public:
  // REQUIRES: `inner` and `keys` are not null and outlive this object.
  EncryptingMessageStore(MessageStore* inner, const crypto::StorageKeyRing* keys);
  EncryptingMessageStore(const EncryptingMessageStore&) = delete;
  EncryptingMessageStore& operator=(const EncryptingMessageStore&) = delete;

  // True for the record kinds whose values are encrypted.
  static bool IsEncryptedKind(RecordKind kind);

  // See MessageStore. Write() also fails with InvalidArgument if a value is
  // too large to encrypt; reads also fail as described above. ReadMessages'
  // byte budget is counted by the inner store, over the sealed sizes (45
  // bytes per message more than the plaintext).
  Status Write(const WriteBatch& batch, bool sync) override;
  Result<std::vector<StoredMessage>> ReadMessages(ConversationId conversation, Seq from,
                                                 std::size_t limit, ReadDirection direction,
                                                 std::uint64_t max_bytes) override;
  Result<Seq> LastSeq(ConversationId conversation) override;
  Result<std::optional<std::string>> GetRecord(RecordKind kind, std::string_view key) override;
  Status ScanRecords(RecordKind kind, std::string_view start,
                     const std::function<bool(std::string_view, std::string_view)>& fn) override;
  std::uint64_t ApproximateSizeBytes() override;
  Status CompactMessages() override { return inner_->CompactMessages(); }
  bool Backlogged() override { return inner_->Backlogged(); }
  // The inner store's copy: values stay sealed, so the copy needs the same
  // key ring to be read.
  Result<SnapshotCopyCounts> CopySnapshot(const std::string& dir,
                                          const SnapshotCopyControl& control) override {
    return inner_->CopySnapshot(dir, control);
  }

 private:
  MessageStore* const inner_;
  const crypto::StorageKeyRing* const keys_;
};

// True if `inner` holds any value an EncryptingMessageStore encrypts: a
// record of an encrypted kind (messages never come without a conversation
// record). The broker uses it to tell a new store, for which it may make a
// key, from one whose key file is missing. On failure returns the read error.
Result<bool> HoldsEncryptedData(MessageStore& inner);

// Bounds of one write batch of ReencryptAll.
struct ReencryptionLimits {
  // Default: 1000 values.
  std::size_t max_batch_values = 1000;
  // Default: 16 MiB (a batch is cut once it reaches this; one message may
  // exceed it).
  std::uint64_t max_batch_bytes = 16ull << 20;
};

struct ReencryptionCounts {
  std::uint64_t messages = 0;
  std::uint64_t records = 0;
};

// Re-seals every encrypted value of `inner` under `keys.active()`: the
// messages of every conversation that has a kConversation record, and the
// records of every encrypted kind, in synced write batches within `limits`.
// Values may be sealed under any key of the ring beforehand; once it returns
// OK, none needs a key but the active one.
//
// REQUIRES: nothing else uses `inner` meanwhile (the broker is stopped).
// Messages of a conversation without a record are not found (the core never
// leaves such messages). On failure returns the first error of a read or a
// write; what was written until then is sealed under the active key and
// everything stays readable with the whole ring.
Result<ReencryptionCounts> ReencryptAll(MessageStore& inner, const crypto::StorageKeyRing& keys,
                                        const ReencryptionLimits& limits = {});

}  // namespace chatpro::core
