// SPDX-License-Identifier: Apache-2.0
#include "broker/core/client_ids.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "broker/core/in_memory_message_store.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

const DeviceId kPhone(7);
const DeviceId kLaptop(8);
const ConversationId kChat(3);

class ClientIdIndexTest : public ::testing::Test {
 protected:
  // What Find() says about `id` of `device`: its seq, or 0 if unknown.
  Seq Lookup(ClientIdIndex& index, DeviceId device, ClientMsgId id) {
    Result<std::optional<ClientIdIndex::Ref>> r = index.Find(device, id);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || !r->has_value()) return 0;
    EXPECT_EQ((*r)->conversation, kChat);
    return (*r)->seq;
  }

  void Add(ClientIdIndex& index, DeviceId device, ClientMsgId id, Seq seq) {
    ASSERT_EQ(Lookup(index, device, id), 0u) << "id " << id << " is known already";
    ASSERT_TRUE(index.Add(device, id, {kChat, seq}).ok());
  }

  // Appends the records as batch `number`, stores them and marks the batch
  // committed, as the broker does. Returns the records written.
  WriteBatch Commit(ClientIdIndex& index, std::uint64_t number) {
    WriteBatch batch;
    index.AppendRecords(number, &batch);
    EXPECT_TRUE(store_.Write(batch, true).ok());
    index.Committed(number);
    return batch;
  }

  InMemoryMessageStore store_;
};

const store::DedupeRecord* AsRecord(const WriteBatch::Record& r) {
  return flatbuffers::GetRoot<store::DedupeRecord>(r.value->data());
}

TEST_F(ClientIdIndexTest, UnknownIdsAreNotFound) {
  ClientIdIndex index(&store_);
  EXPECT_EQ(Lookup(index, kPhone, 1), 0u);
  EXPECT_EQ(Lookup(index, kPhone, ~ClientMsgId{0}), 0u);
}

TEST_F(ClientIdIndexTest, IdsAreFoundBeforeTheirBatchIsStored) {
  ClientIdIndex index(&store_);
  Add(index, kPhone, 10, 1);
  EXPECT_EQ(Lookup(index, kPhone, 10), 1u);
  WriteBatch batch;
  index.AppendRecords(1, &batch);  // submitted, not written yet
  EXPECT_EQ(Lookup(index, kPhone, 10), 1u);
  ASSERT_TRUE(store_.Write(batch, true).ok());
  index.Committed(1);
  EXPECT_EQ(Lookup(index, kPhone, 10), 1u);
}

TEST_F(ClientIdIndexTest, IncreasingIdsShareOneRunRecordPerBatch) {
  ClientIdIndex index(&store_);
  Add(index, kPhone, 10, 1);
  Add(index, kPhone, 20, 2);
  Add(index, kPhone, 30, 3);
  WriteBatch batch = Commit(index, 1);
  // One run record keyed by the highest id, and the device's marker.
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records[0].kind, RecordKind::kDedupe);
  EXPECT_EQ(batch.records[0].key, store_keys::U64Key(kPhone.value(), 30));
  EXPECT_FALSE(AsRecord(batch.records[0])->point());
  EXPECT_EQ(AsRecord(batch.records[0])->entries()->size(), 3u);
  EXPECT_EQ(batch.records[1].key, store_keys::U64Key(kPhone.value(), ~ClientMsgId{0}));

  EXPECT_EQ(Lookup(index, kPhone, 10), 1u);
  EXPECT_EQ(Lookup(index, kPhone, 20), 2u);
  EXPECT_EQ(Lookup(index, kPhone, 30), 3u);
  EXPECT_EQ(Lookup(index, kPhone, 15), 0u);
  EXPECT_EQ(Lookup(index, kPhone, 5), 0u);
  EXPECT_EQ(Lookup(index, kPhone, 31), 0u);
}

TEST_F(ClientIdIndexTest, IdBelowTheHighestGetsAPointRecord) {
  ClientIdIndex index(&store_);
  Add(index, kPhone, 100, 1);
  Commit(index, 1);
  Add(index, kPhone, 50, 2);
  Add(index, kPhone, 200, 3);
  WriteBatch batch = Commit(index, 2);
  ASSERT_EQ(batch.records.size(), 3u);  // point 50, run {200}, marker
  EXPECT_EQ(batch.records[0].key, store_keys::U64Key(kPhone.value(), 50));
  EXPECT_TRUE(AsRecord(batch.records[0])->point());
  EXPECT_EQ(batch.records[1].key, store_keys::U64Key(kPhone.value(), 200));
  EXPECT_FALSE(AsRecord(batch.records[1])->point());

  EXPECT_EQ(Lookup(index, kPhone, 50), 2u);
  EXPECT_EQ(Lookup(index, kPhone, 100), 1u);
  EXPECT_EQ(Lookup(index, kPhone, 200), 3u);
  EXPECT_EQ(Lookup(index, kPhone, 49), 0u);
  EXPECT_EQ(Lookup(index, kPhone, 51), 0u);
  EXPECT_EQ(Lookup(index, kPhone, 150), 0u);
}

TEST_F(ClientIdIndexTest, DecreasingIdsInOneBatchAreAllFound) {
  ClientIdIndex index(&store_);
  Add(index, kPhone, 30, 1);
  Add(index, kPhone, 20, 2);
  Add(index, kPhone, 10, 3);
  Add(index, kPhone, 40, 4);
  Commit(index, 1);
  EXPECT_EQ(Lookup(index, kPhone, 30), 1u);
  EXPECT_EQ(Lookup(index, kPhone, 20), 2u);
  EXPECT_EQ(Lookup(index, kPhone, 10), 3u);
  EXPECT_EQ(Lookup(index, kPhone, 40), 4u);
  EXPECT_EQ(Lookup(index, kPhone, 25), 0u);
  EXPECT_EQ(Lookup(index, kPhone, 35), 0u);
}

TEST_F(ClientIdIndexTest, LookupsWorkAcrossManyBatches) {
  ClientIdIndex index(&store_);
  Seq seq = 0;
  for (std::uint64_t batch = 1; batch <= 20; ++batch) {
    for (ClientMsgId i = 0; i < 5; ++i) Add(index, kPhone, batch * 100 + i * 10, ++seq);
    // Every few batches one id from the past that was never used.
    if (batch % 4 == 0) Add(index, kPhone, batch * 100 - 55, ++seq);
    Commit(index, batch);
  }
  seq = 0;
  for (std::uint64_t batch = 1; batch <= 20; ++batch) {
    for (ClientMsgId i = 0; i < 5; ++i) {
      EXPECT_EQ(Lookup(index, kPhone, batch * 100 + i * 10), ++seq);
      EXPECT_EQ(Lookup(index, kPhone, batch * 100 + i * 10 + 1), 0u);
    }
    if (batch % 4 == 0) {
      EXPECT_EQ(Lookup(index, kPhone, batch * 100 - 55), ++seq);
    }
  }
}

TEST_F(ClientIdIndexTest, DevicesHaveSeparateIds) {
  ClientIdIndex index(&store_);
  Add(index, kPhone, 10, 1);
  Add(index, kLaptop, 20, 2);
  Commit(index, 1);
  EXPECT_EQ(Lookup(index, kPhone, 20), 0u);
  EXPECT_EQ(Lookup(index, kLaptop, 10), 0u);
  EXPECT_EQ(Lookup(index, kLaptop, 20), 2u);
  Add(index, kLaptop, 10, 3);
  EXPECT_EQ(Lookup(index, kLaptop, 10), 3u);
}

TEST_F(ClientIdIndexTest, NewIndexOnTheSameStoreFindsEverythingStored) {
  {
    ClientIdIndex index(&store_);
    Add(index, kPhone, 100, 1);
    Add(index, kPhone, 110, 2);
    Commit(index, 1);
    Add(index, kPhone, 105, 3);
    Add(index, kLaptop, 7, 4);
    Commit(index, 2);
  }
  ClientIdIndex restarted(&store_);
  EXPECT_EQ(Lookup(restarted, kPhone, 100), 1u);
  EXPECT_EQ(Lookup(restarted, kPhone, 110), 2u);
  EXPECT_EQ(Lookup(restarted, kPhone, 105), 3u);
  EXPECT_EQ(Lookup(restarted, kLaptop, 7), 4u);
  EXPECT_EQ(Lookup(restarted, kPhone, 106), 0u);
  EXPECT_EQ(Lookup(restarted, kPhone, 111), 0u);
  // New ids after the restart go on the same way.
  Add(restarted, kPhone, 120, 5);
  Add(restarted, kPhone, 101, 6);
  Commit(restarted, 1);  // batch numbers start again in a new process
  EXPECT_EQ(Lookup(restarted, kPhone, 120), 5u);
  EXPECT_EQ(Lookup(restarted, kPhone, 101), 6u);
  EXPECT_EQ(Lookup(restarted, kPhone, 100), 1u);
}

TEST_F(ClientIdIndexTest, DamagedRecordIsDataLoss) {
  ClientIdIndex index(&store_);
  Add(index, kPhone, 10, 1);
  Commit(index, 1);
  WriteBatch damage;
  damage.records.push_back(
      {RecordKind::kDedupe, store_keys::U64Key(kPhone.value(), 10), std::string("garbage")});
  ASSERT_TRUE(store_.Write(damage, true).ok());
  ClientIdIndex restarted(&store_);
  Result<std::optional<ClientIdIndex::Ref>> r = restarted.Find(kPhone, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
}

TEST_F(ClientIdIndexTest, StoreReadErrorIsReturned) {
  // A store whose reads fail: Find reports the error instead of guessing.
  class FailingReads final : public MessageStore {
   public:
    Status Write(const WriteBatch&, bool) override { return Status::Ok(); }
    Result<std::vector<StoredMessage>> ReadMessages(ConversationId, Seq, std::size_t,
                                                    ReadDirection, std::uint64_t) override {
      return Status::IoError("read failed");
    }
    Result<Seq> LastSeq(ConversationId) override { return Status::IoError("read failed"); }
    Result<std::optional<std::string>> GetRecord(RecordKind, std::string_view) override {
      return Status::IoError("read failed");
    }
    Status ScanRecords(RecordKind, std::string_view,
                       const std::function<bool(std::string_view, std::string_view)>&) override {
      return Status::IoError("read failed");
    }
  } failing;
  ClientIdIndex index(&failing);
  Result<std::optional<ClientIdIndex::Ref>> r = index.Find(kPhone, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace chatpro::core
