// SPDX-License-Identifier: Apache-2.0
#include "broker/core/in_memory_message_store.h"

#include "broker/base/encoding.h"

namespace chatpro::core {

Status InMemoryMessageStore::Write(const WriteBatch& batch, bool sync) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!fail_.ok()) return fail_;
  for (const auto& m : batch.messages) {
    data_[store_keys::MessageKey(m.conversation, m.seq)] = m.bytes;
  }
  for (const auto& d : batch.message_deletes) {
    data_.erase(store_keys::MessageKey(d.conversation, d.seq));
  }
  for (const auto& r : batch.records) {
    std::string key = store_keys::RecordKey(r.kind, r.key);
    if (r.value) {
      data_[key] = *r.value;
    } else {
      data_.erase(key);
    }
  }
  ++writes_;
  if (sync) ++synced_writes_;
  return Status::Ok();
}

Result<std::vector<StoredMessage>> InMemoryMessageStore::ReadMessages(ConversationId conversation,
                                                                      Seq from, std::size_t limit,
                                                                      ReadDirection direction,
                                                                      std::uint64_t max_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StoredMessage> out;
  std::string prefix = store_keys::MessageKey(conversation, 0).substr(0, 9);
  auto seq_of = [](const std::string& key) { return ReadBigEndian64(std::string_view(key).substr(9)); };
  std::uint64_t bytes = 0;
  auto room = [&] { return out.size() < limit && bytes < max_bytes; };
  if (direction == ReadDirection::kForward) {
    for (auto it = data_.lower_bound(store_keys::MessageKey(conversation, from));
         it != data_.end() && room() && it->first.compare(0, 9, prefix) == 0; ++it) {
      out.push_back({seq_of(it->first), it->second});
      bytes += it->second.size();
    }
  } else {
    auto it = data_.upper_bound(store_keys::MessageKey(conversation, from));
    while (it != data_.begin() && room()) {
      --it;
      if (it->first.compare(0, 9, prefix) != 0) break;
      out.push_back({seq_of(it->first), it->second});
      bytes += it->second.size();
    }
  }
  return out;
}

Result<Seq> InMemoryMessageStore::LastSeq(ConversationId conversation) {
  auto r = ReadMessages(conversation, ~Seq{0}, 1, ReadDirection::kBackward, ~std::uint64_t{0});
  if (!r.ok()) return r.status();
  return r->empty() ? Seq{0} : r->front().seq;
}

Result<std::optional<std::string>> InMemoryMessageStore::GetRecord(RecordKind kind,
                                                                   std::string_view key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = data_.find(store_keys::RecordKey(kind, key));
  if (it == data_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status InMemoryMessageStore::ScanRecords(
    RecordKind kind, std::string_view start,
    const std::function<bool(std::string_view, std::string_view)>& fn) {
  // Rows are copied out in small chunks so that fn may call back into the
  // store and a scan that stops early copies little.
  constexpr size_t kChunk = 256;
  std::string from = store_keys::RecordKey(kind, start);
  bool inclusive = true;
  while (true) {
    std::vector<std::pair<std::string, std::string>> rows;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = inclusive ? data_.lower_bound(from) : data_.upper_bound(from);
      for (; it != data_.end() && rows.size() < kChunk && !it->first.empty() &&
             it->first[0] == static_cast<char>(kind);
           ++it) {
        rows.emplace_back(it->first, it->second);
      }
    }
    if (rows.empty()) return Status::Ok();
    for (const auto& [k, v] : rows) {
      if (!fn(std::string_view(k).substr(1), v)) return Status::Ok();
    }
    if (rows.size() < kChunk) return Status::Ok();
    from = rows.back().first;
    inclusive = false;
  }
}

std::uint64_t InMemoryMessageStore::ApproximateSizeBytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& [k, v] : data_) n += k.size() + v.size();
  return n;
}

void InMemoryMessageStore::FailWrites(Status status) {
  std::lock_guard<std::mutex> lock(mutex_);
  fail_ = std::move(status);
}

std::uint64_t InMemoryMessageStore::writes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return writes_;
}

std::uint64_t InMemoryMessageStore::synced_writes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return synced_writes_;
}

}  // namespace chatpro::core
