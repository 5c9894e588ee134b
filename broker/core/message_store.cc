// SPDX-License-Identifier: Apache-2.0
#include "broker/core/message_store.h"

#include "broker/base/encoding.h"

namespace chatpro::core {

std::uint64_t WriteBatch::ApproximateBytes() const {
  std::uint64_t n = 0;
  for (const Message& m : messages) n += 17 + m.bytes.size();
  n += 17 * message_deletes.size();
  for (const Record& r : records) n += 1 + r.key.size() + (r.value ? r.value->size() : 0);
  return n;
}

Result<SnapshotCopyCounts> MessageStore::CopySnapshot(const std::string&,
                                                      const SnapshotCopyControl&) {
  return Status::FailedPrecondition("this store cannot copy itself (it is not kept on disk)");
}

namespace store_keys {

std::string MessageKey(ConversationId conversation, Seq seq) {
  char k[17];
  k[0] = kMessagePrefix;
  StoreBigEndian64(k + 1, conversation.value());
  StoreBigEndian64(k + 9, seq);
  return std::string(k, sizeof k);
}

std::string RecordKey(RecordKind kind, std::string_view key) {
  std::string k;
  k.reserve(1 + key.size());
  k.push_back(static_cast<char>(kind));
  k.append(key);
  return k;
}

std::string U64Key(std::uint64_t a) {
  std::string k;
  AppendBigEndian64(&k, a);
  return k;
}

std::string U64Key(std::uint64_t a, std::uint64_t b) {
  std::string k;
  AppendBigEndian64(&k, a);
  AppendBigEndian64(&k, b);
  return k;
}

}  // namespace store_keys
}  // namespace chatpro::core
