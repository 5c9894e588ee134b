// SPDX-License-Identifier: Apache-2.0
#include "broker/core/encrypting_message_store.h"

#include <limits>
#include <utility>

#include "broker/base/check.h"
#include "broker/base/encoding.h"

namespace chatpro::core {
namespace {

constexpr RecordKind kEncryptedKinds[] = {RecordKind::kUser,       RecordKind::kDevice,
                                          RecordKind::kConversation, RecordKind::kEnrollment,
                                          RecordKind::kReport,     RecordKind::kAudit,
                                          RecordKind::kCase};

// store_keys::MessageKey, built on the stack: it is the associated data of
// every message, sealed or opened, and a heap string each time would double
// the allocations of the hot path. The tests check that both agree.
constexpr std::size_t kMessageKeyBytes = 17;
struct MessageAd {
  char bytes[kMessageKeyBytes];
  MessageAd(ConversationId conversation, Seq seq) {
    bytes[0] = store_keys::kMessagePrefix;
    StoreBigEndian64(bytes + 1, conversation.value());
    StoreBigEndian64(bytes + 9, seq);
  }
  std::string_view view() const { return std::string_view(bytes, sizeof bytes); }
};

// store_keys::RecordKey into a reused string.
std::string_view RecordAd(RecordKind kind, std::string_view key, std::string* scratch) {
  scratch->assign(1, static_cast<char>(kind));
  scratch->append(key);
  return *scratch;
}

const char* KindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kUser: return "user";
    case RecordKind::kDevice: return "device";
    case RecordKind::kConversation: return "conversation";
    case RecordKind::kEnrollment: return "enrollment";
    case RecordKind::kReport: return "report";
    case RecordKind::kAudit: return "audit";
    case RecordKind::kCase: return "case";
    default: return "other";
  }
}

std::string MessageName(ConversationId conversation, Seq seq) {
  return "message " + std::to_string(seq) + " of conversation " +
         std::to_string(conversation.value());
}

std::string RecordName(RecordKind kind, std::string_view key) {
  return std::string("the ") + KindName(kind) + " record with key " + HexEncode(key);
}

}  // namespace

EncryptingMessageStore::EncryptingMessageStore(MessageStore* inner,
                                               const crypto::StorageKeyRing* keys)
    : inner_(inner), keys_(keys) {
  CHATPRO_CHECK(inner_ != nullptr && keys_ != nullptr, "an encrypting store needs a store and keys");
}

bool EncryptingMessageStore::IsEncryptedKind(RecordKind kind) {
  for (RecordKind k : kEncryptedKinds) {
    if (k == kind) return true;
  }
  return false;
}

Status EncryptingMessageStore::Write(const WriteBatch& batch, bool sync) {
  const crypto::StorageKey& key = keys_->active();
  WriteBatch sealed;
  sealed.messages.reserve(batch.messages.size());
  for (const WriteBatch::Message& m : batch.messages) {
    Result<std::string> bytes =
        crypto::Seal(key, m.bytes, MessageAd(m.conversation, m.seq).view());
    if (!bytes.ok()) return bytes.status().WithContext(MessageName(m.conversation, m.seq));
    sealed.messages.push_back({m.conversation, m.seq, std::move(*bytes), m.replaces});
  }
  sealed.message_deletes = batch.message_deletes;
  sealed.records.reserve(batch.records.size());
  std::string ad;
  for (const WriteBatch::Record& r : batch.records) {
    if (!r.value.has_value() || !IsEncryptedKind(r.kind)) {
      sealed.records.push_back(r);
      continue;
    }
    Result<std::string> value = crypto::Seal(key, *r.value, RecordAd(r.kind, r.key, &ad));
    if (!value.ok()) return value.status().WithContext(RecordName(r.kind, r.key));
    sealed.records.push_back({r.kind, r.key, std::move(*value)});
  }
  return inner_->Write(sealed, sync);
}

Result<std::vector<StoredMessage>> EncryptingMessageStore::ReadMessages(
    ConversationId conversation, Seq from, std::size_t limit, ReadDirection direction,
    std::uint64_t max_bytes) {
  CHATPRO_ASSIGN_OR_RETURN(std::vector<StoredMessage> messages,
                           inner_->ReadMessages(conversation, from, limit, direction, max_bytes));
  for (StoredMessage& m : messages) {
    Result<std::string> plain =
        crypto::Open(*keys_, m.bytes, MessageAd(conversation, m.seq).view());
    if (!plain.ok()) return plain.status().WithContext(MessageName(conversation, m.seq));
    m.bytes = std::move(*plain);
  }
  return messages;
}

Result<Seq> EncryptingMessageStore::LastSeq(ConversationId conversation) {
  return inner_->LastSeq(conversation);
}

Result<std::optional<std::string>> EncryptingMessageStore::GetRecord(RecordKind kind,
                                                                     std::string_view key) {
  CHATPRO_ASSIGN_OR_RETURN(std::optional<std::string> value, inner_->GetRecord(kind, key));
  if (!value.has_value() || !IsEncryptedKind(kind)) return value;
  std::string ad;
  Result<std::string> plain = crypto::Open(*keys_, *value, RecordAd(kind, key, &ad));
  if (!plain.ok()) return plain.status().WithContext(RecordName(kind, key));
  return std::optional<std::string>(std::move(*plain));
}

Status EncryptingMessageStore::ScanRecords(
    RecordKind kind, std::string_view start,
    const std::function<bool(std::string_view, std::string_view)>& fn) {
  if (!IsEncryptedKind(kind)) return inner_->ScanRecords(kind, start, fn);
  // One buffer for the whole scan: fn sees each value only during its call.
  std::string plain;
  std::string ad;
  Status failure;
  CHATPRO_RETURN_IF_ERROR(
      inner_->ScanRecords(kind, start, [&](std::string_view key, std::string_view value) {
        Status st = crypto::OpenInto(*keys_, value, RecordAd(kind, key, &ad), &plain);
        if (!st.ok()) {
          failure = st.WithContext(RecordName(kind, key));
          return false;
        }
        return fn(key, plain);
      }));
  return failure;
}

std::uint64_t EncryptingMessageStore::ApproximateSizeBytes() {
  return inner_->ApproximateSizeBytes();
}

Result<bool> HoldsEncryptedData(MessageStore& inner) {
  for (RecordKind kind : kEncryptedKinds) {
    bool found = false;
    CHATPRO_RETURN_IF_ERROR(inner.ScanRecords(kind, "", [&](std::string_view, std::string_view) {
      found = true;
      return false;
    }));
    if (found) return true;
  }
  return false;
}

Result<ReencryptionCounts> ReencryptAll(MessageStore& inner, const crypto::StorageKeyRing& keys,
                                        const ReencryptionLimits& limits) {
  const std::size_t max_values = limits.max_batch_values > 0 ? limits.max_batch_values : 1;
  EncryptingMessageStore store(&inner, &keys);
  ReencryptionCounts counts;
  WriteBatch batch;
  std::uint64_t batch_bytes = 0;
  auto full = [&] {
    return batch.messages.size() + batch.records.size() >= max_values ||
           batch_bytes >= limits.max_batch_bytes;
  };
  // Synced: the old keys are retired right after, so every batch must be on
  // disk by then (an unsynced write may be lost with a power cut).
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    CHATPRO_RETURN_IF_ERROR(store.Write(batch, /*sync=*/true));
    counts.messages += batch.messages.size();
    counts.records += batch.records.size();
    batch.Clear();
    batch_bytes = 0;
    return Status::Ok();
  };

  // Conversation ids are the record keys, which are not encrypted.
  std::vector<ConversationId> conversations;
  Status bad_key;
  CHATPRO_RETURN_IF_ERROR(inner.ScanRecords(
      RecordKind::kConversation, "", [&](std::string_view key, std::string_view) {
        if (key.size() != 8) {
          bad_key = Status::DataLoss("a conversation record has a malformed key of " +
                                     std::to_string(key.size()) + " bytes");
          return false;
        }
        conversations.push_back(ConversationId(ReadBigEndian64(key)));
        return true;
      }));
  CHATPRO_RETURN_IF_ERROR(bad_key);

  for (ConversationId conversation : conversations) {
    Seq from = 0;
    while (true) {
      CHATPRO_ASSIGN_OR_RETURN(
          std::vector<StoredMessage> page,
          store.ReadMessages(conversation, from, max_values, ReadDirection::kForward,
                             limits.max_batch_bytes));
      if (page.empty()) break;
      const Seq last = page.back().seq;
      for (StoredMessage& m : page) {
        batch_bytes += m.bytes.size();
        batch.messages.push_back({conversation, m.seq, std::move(m.bytes)});
        if (full()) CHATPRO_RETURN_IF_ERROR(flush());
      }
      if (last == std::numeric_limits<Seq>::max()) break;
      from = last + 1;
    }
  }

  // Records in pages: the scan only reads, and each page is written after it.
  for (RecordKind kind : kEncryptedKinds) {
    std::string start;
    bool more = true;
    while (more) {
      more = false;
      std::string next;
      CHATPRO_RETURN_IF_ERROR(
          store.ScanRecords(kind, start, [&](std::string_view key, std::string_view value) {
            batch_bytes += key.size() + value.size();
            batch.records.push_back({kind, std::string(key), std::string(value)});
            if (!full()) return true;
            // The smallest key after this one.
            next.assign(key);
            next.push_back('\0');
            more = true;
            return false;
          }));
      CHATPRO_RETURN_IF_ERROR(flush());
      start = std::move(next);
    }
  }
  CHATPRO_RETURN_IF_ERROR(flush());
  return counts;
}

}  // namespace chatpro::core
