// SPDX-License-Identifier: Apache-2.0
//
// LevelDbMessageStore::CopySnapshot: the copy is a store of its own holding
// exactly the rows of one moment, also while writes and removals go on.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker/config/options.h"
#include "broker/core/message_store.h"
#include "broker/store/leveldb_message_store.h"
#include "broker/store/tests/store_test_util.h"

namespace chatpro::store {
namespace {

using core::ReadDirection;
using core::RecordKind;
using core::SnapshotCopyControl;
using core::SnapshotCopyCounts;
using core::WriteBatch;

StoreOptions OptionsFor(const std::string& data_dir) {
  StoreOptions options;
  options.data_dir = data_dir;
  options.cache_bytes = 8 << 20;
  options.write_buffer_bytes = 4 << 20;
  return options;
}

std::unique_ptr<LevelDbMessageStore> MustOpen(const std::string& data_dir) {
  Result<std::unique_ptr<LevelDbMessageStore>> r = LevelDbMessageStore::Open(OptionsFor(data_dir));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? std::move(r).value() : nullptr;
}

std::string Filled(std::size_t bytes, char seed) {
  std::string s(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) s[i] = static_cast<char>(seed + (i * 131) % 251);
  return s;
}

std::vector<core::StoredMessage> All(core::MessageStore& store, std::uint64_t conversation) {
  Result<std::vector<core::StoredMessage>> r =
      store.ReadMessages(ConversationId(conversation), 1, 100000, ReadDirection::kForward, ~0ull);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? std::move(r).value() : std::vector<core::StoredMessage>{};
}

// Conversation 1: 300 messages of 4 KiB (more than one chunk of the copy);
// conversation 2: a large message and a small one;
// two records.
void Fill(core::MessageStore& store) {
  WriteBatch b;
  for (Seq seq = 1; seq <= 300; ++seq) {
    b.messages.push_back({ConversationId(1), seq, Filled(4096, static_cast<char>(seq))});
  }
  b.messages.push_back({ConversationId(2), 1, Filled(300000, 'p')});
  b.messages.push_back({ConversationId(2), 2, "small"});
  b.records.push_back({RecordKind::kMeta, "format", std::string("3")});
  b.records.push_back({RecordKind::kUser, "u1", std::string("sealed user")});
  ASSERT_TRUE(store.Write(b, true).ok());
}

TEST(SnapshotCopy, TheCopyOpensAsAStoreWithEveryRowAndBlob) {
  testing::TempDir dir;
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(dir.Sub("data"));
  ASSERT_NE(store, nullptr);
  Fill(*store);

  Result<SnapshotCopyCounts> counts = store->CopySnapshot(dir.Sub("copy"), {});
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->messages, 302u);
  EXPECT_EQ(counts->records, 2u);
  EXPECT_EQ(counts->blobs, 302u);  // every message value is kept in the blob log
  EXPECT_GE(counts->bytes, 300u * 4096 + 300000);

  std::unique_ptr<LevelDbMessageStore> copy = MustOpen(dir.Sub("copy"));
  ASSERT_NE(copy, nullptr);
  std::vector<core::StoredMessage> one = All(*copy, 1);
  ASSERT_EQ(one.size(), 300u);
  for (const auto& m : one) EXPECT_EQ(m.bytes, Filled(4096, static_cast<char>(m.seq)));
  std::vector<core::StoredMessage> two = All(*copy, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].bytes, Filled(300000, 'p'));
  EXPECT_EQ(two[1].bytes, "small");
  Result<std::optional<std::string>> user = copy->GetRecord(RecordKind::kUser, "u1");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user, std::optional<std::string>("sealed user"));
}

TEST(SnapshotCopy, WritesAndRemovalsDuringTheCopyLeaveItAsOfItsStart) {
  testing::TempDir dir;
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(dir.Sub("data"));
  ASSERT_NE(store, nullptr);
  Fill(*store);

  // After the first chunk (conversation 1 is still being read), the large
  // message is deleted (its blob is freed) and new messages arrive.
  SnapshotCopyControl control;
  bool changed = false;
  control.progress = [&](const SnapshotCopyCounts& so_far) {
    if (changed) return;
    changed = true;
    EXPECT_LT(so_far.messages, 300u) << "the first chunk should end inside conversation 1";
    WriteBatch b;
    b.message_deletes.push_back({ConversationId(2), 1});
    b.messages.push_back({ConversationId(2), 3, Filled(200000, 'n')});
    b.messages.push_back({ConversationId(1), 301, "after the snapshot"});
    EXPECT_TRUE(store->Write(b, true).ok());
  };
  Result<SnapshotCopyCounts> counts = store->CopySnapshot(dir.Sub("copy"), control);
  ASSERT_TRUE(counts.ok()) << counts.status();
  ASSERT_TRUE(changed);

  std::unique_ptr<LevelDbMessageStore> copy = MustOpen(dir.Sub("copy"));
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(All(*copy, 1).size(), 300u);
  std::vector<core::StoredMessage> two = All(*copy, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].seq, 1u);
  EXPECT_EQ(two[0].bytes, Filled(300000, 'p')) << "the blob was freed while the copy needed it";
  EXPECT_EQ(two[1].seq, 2u);

  // The live store has moved on.
  std::vector<core::StoredMessage> live = All(*store, 2);
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0].seq, 2u);
  EXPECT_EQ(live[1].bytes, Filled(200000, 'n'));
  EXPECT_EQ(All(*store, 1).size(), 301u);
}

TEST(SnapshotCopy, StopsWhenCancelledAndRefusesAFolderWithAStore) {
  testing::TempDir dir;
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(dir.Sub("data"));
  ASSERT_NE(store, nullptr);
  Fill(*store);

  SnapshotCopyControl control;
  control.cancelled = [] { return true; };
  Result<SnapshotCopyCounts> stopped = store->CopySnapshot(dir.Sub("stopped"), control);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().code(), StatusCode::kUnavailable) << stopped.status();

  ASSERT_TRUE(store->CopySnapshot(dir.Sub("copy"), {}).ok());
  Result<SnapshotCopyCounts> again = store->CopySnapshot(dir.Sub("copy"), {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status();
}

}  // namespace
}  // namespace chatpro::store
