// SPDX-License-Identifier: Apache-2.0
//
// InMemoryMessageStore: a MessageStore in a sorted map, for tests and for the
// benchmark's reference runs. Nothing survives the object.
//
// It can be told to fail writes (FailWrites) so that tests can show how the
// core behaves when the disk is full or broken.
//
// Thread-safety: all functions may be called from any thread.
#pragma once

#include <map>
#include <mutex>

#include "broker/core/message_store.h"

namespace chatpro::core {

class InMemoryMessageStore final : public MessageStore {
 public:
  InMemoryMessageStore() = default;
  InMemoryMessageStore(const InMemoryMessageStore&) = delete;
  InMemoryMessageStore& operator=(const InMemoryMessageStore&) = delete;

  Status Write(const WriteBatch& batch, bool sync) override;
  Result<std::vector<StoredMessage>> ReadMessages(ConversationId conversation, Seq from,
                                                 std::size_t limit, ReadDirection direction,
                                                 std::uint64_t max_bytes) override;
  Result<Seq> LastSeq(ConversationId conversation) override;
  Result<std::optional<std::string>> GetRecord(RecordKind kind, std::string_view key) override;
  Status ScanRecords(RecordKind kind, std::string_view start,
                     const std::function<bool(std::string_view, std::string_view)>& fn) override;
  std::uint64_t ApproximateSizeBytes() override;

  // Every following Write() fails with `status` (pass OK to stop failing).
  void FailWrites(Status status);
  // Number of successful Write() calls, and how many of them asked for sync.
  std::uint64_t writes() const;
  std::uint64_t synced_writes() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> data_;  // GUARDED_BY(mutex_)
  Status fail_;                                           // GUARDED_BY(mutex_)
  std::uint64_t writes_ = 0;                              // GUARDED_BY(mutex_)
  std::uint64_t synced_writes_ = 0;                       // GUARDED_BY(mutex_)
};

}  // namespace chatpro::core
