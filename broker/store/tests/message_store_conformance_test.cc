// SPDX-License-Identifier: Apache-2.0
//
// The MessageStore conformance suite: every test runs against every
// implementation (InMemoryMessageStore and LevelDbMessageStore), through the
// interface only. A behaviour the core relies on belongs here, so that the
// fake used in the core's tests cannot drift from the real store.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "broker/config/options.h"
#include "broker/core/in_memory_message_store.h"
#include "broker/core/message_store.h"
#include "broker/store/leveldb_message_store.h"
#include "broker/store/tests/store_test_util.h"

namespace chatpro::store {
namespace {

constexpr std::uint64_t kNoByteLimit = ~std::uint64_t{0};

using core::InMemoryMessageStore;
using core::MessageStore;
using core::ReadDirection;
using core::RecordKind;
using core::StoredMessage;
using core::WriteBatch;

// How each implementation is made, and how it is told to fail writes.
template <typename Store>
class StoreHarness;

template <>
class StoreHarness<InMemoryMessageStore> {
 public:
  static constexpr const char* kName = "InMemory";
  Status Init() {
    store_ = std::make_unique<InMemoryMessageStore>();
    return Status::Ok();
  }
  MessageStore& store() { return *store_; }
  void FailWrites(bool fail) {
    store_->FailWrites(fail ? Status::ResourceExhausted("disk full (injected)") : Status::Ok());
  }

 private:
  std::unique_ptr<InMemoryMessageStore> store_;
};

template <>
class StoreHarness<LevelDbMessageStore> {
 public:
  static constexpr const char* kName = "LevelDb";
  Status Init() {
    StoreOptions options;
    options.data_dir = dir_.Sub("data");
    options.cache_bytes = 8 << 20;
    options.write_buffer_bytes = 4 << 20;
    Result<std::unique_ptr<LevelDbMessageStore>> opened =
        LevelDbMessageStore::OpenWithEnv(options, &env_);
    if (!opened.ok()) return opened.status();
    store_ = std::move(opened).value();
    return Status::Ok();
  }
  MessageStore& store() { return *store_; }
  void FailWrites(bool fail) { env_.set_failing(fail); }

 private:
  // Destroyed in reverse: the store closes before its Env and its directory go.
  testing::TempDir dir_;
  testing::DiskFullEnv env_;
  std::unique_ptr<LevelDbMessageStore> store_;
};

template <typename Store>
class MessageStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = harness_.Init();
    ASSERT_TRUE(s.ok()) << s;
  }

  MessageStore& store() { return harness_.store(); }
  void FailWrites(bool fail) { harness_.FailWrites(fail); }

  // Writes one batch with the given messages of `conversation`, each body
  // being "c<conversation>-s<seq>".
  void PutMessages(std::uint64_t conversation, const std::vector<Seq>& seqs) {
    WriteBatch batch;
    for (Seq seq : seqs) {
      batch.messages.push_back({ConversationId(conversation), seq, Body(conversation, seq)});
    }
    Status s = store().Write(batch, /*sync=*/true);
    ASSERT_TRUE(s.ok()) << s;
  }

  void PutRecord(RecordKind kind, std::string key, std::string value) {
    WriteBatch batch;
    batch.records.push_back({kind, std::move(key), std::move(value)});
    Status s = store().Write(batch, /*sync=*/false);
    ASSERT_TRUE(s.ok()) << s;
  }

  static std::string Body(std::uint64_t conversation, Seq seq) {
    return "c" + std::to_string(conversation) + "-s" + std::to_string(seq);
  }

  // The seqs read, checking that each body belongs to its seq and conversation.
  std::vector<Seq> Read(std::uint64_t conversation, Seq from, std::size_t limit,
                        ReadDirection direction, std::uint64_t max_bytes = kNoByteLimit) {
    Result<std::vector<StoredMessage>> r =
        store().ReadMessages(ConversationId(conversation), from, limit, direction, max_bytes);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<Seq> seqs;
    if (!r.ok()) return seqs;
    for (const StoredMessage& m : *r) {
      EXPECT_EQ(m.bytes, Body(conversation, m.seq));
      seqs.push_back(m.seq);
    }
    return seqs;
  }

  Seq Last(std::uint64_t conversation) {
    Result<Seq> r = store().LastSeq(ConversationId(conversation));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : ~Seq{0};
  }

  std::optional<std::string> Get(RecordKind kind, std::string_view key) {
    Result<std::optional<std::string>> r = store().GetRecord(kind, key);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::nullopt;
  }

  // Every (key, value) a scan of `kind` from `start` yields, stopping after `max`.
  std::vector<std::pair<std::string, std::string>> Scan(
      RecordKind kind, std::string_view start,
      std::size_t max = std::numeric_limits<std::size_t>::max()) {
    std::vector<std::pair<std::string, std::string>> rows;
    Status s = store().ScanRecords(kind, start, [&](std::string_view k, std::string_view v) {
      rows.emplace_back(std::string(k), std::string(v));
      return rows.size() < max;
    });
    EXPECT_TRUE(s.ok()) << s;
    return rows;
  }

  StoreHarness<Store> harness_;
};

class ImplementationNames {
 public:
  template <typename Store>
  static std::string GetName(int /*index*/) {
    return StoreHarness<Store>::kName;
  }
};

using Implementations = ::testing::Types<InMemoryMessageStore, LevelDbMessageStore>;
TYPED_TEST_SUITE(MessageStoreConformance, Implementations, ImplementationNames);

using Seqs = std::vector<Seq>;
using Rows = std::vector<std::pair<std::string, std::string>>;

// ---- messages ---------------------------------------------------------------

TYPED_TEST(MessageStoreConformance, LastSeqOfAnUnknownConversationIsZero) {
  EXPECT_EQ(this->Last(1), 0u);
  this->PutMessages(5, {1, 2});
  EXPECT_EQ(this->Last(4), 0u);
  EXPECT_EQ(this->Last(6), 0u);
}

TYPED_TEST(MessageStoreConformance, ReadingAnUnknownConversationYieldsNothing) {
  this->PutMessages(5, {1, 2});
  EXPECT_EQ(this->Read(4, 0, 10, ReadDirection::kForward), Seqs{});
  EXPECT_EQ(this->Read(6, ~Seq{0}, 10, ReadDirection::kBackward), Seqs{});
}

TYPED_TEST(MessageStoreConformance, ReadsMessagesForwardFromAGivenSeq) {
  this->PutMessages(7, {1, 2, 3, 4, 5});
  EXPECT_EQ(this->Read(7, 3, 100, ReadDirection::kForward), (Seqs{3, 4, 5}));
  EXPECT_EQ(this->Read(7, 0, 100, ReadDirection::kForward), (Seqs{1, 2, 3, 4, 5}));
  EXPECT_EQ(this->Read(7, 6, 100, ReadDirection::kForward), Seqs{});
}

TYPED_TEST(MessageStoreConformance, ForwardReadStopsAtTheLimit) {
  this->PutMessages(7, {1, 2, 3, 4, 5});
  EXPECT_EQ(this->Read(7, 2, 2, ReadDirection::kForward), (Seqs{2, 3}));
  EXPECT_EQ(this->Read(7, 1, 0, ReadDirection::kForward), Seqs{});
}

TYPED_TEST(MessageStoreConformance, DeletedMessagesAreGoneAndLeaveAGap) {
  this->PutMessages(7, {1, 2, 3, 4});
  WriteBatch batch;
  batch.message_deletes.push_back({ConversationId(7), 2});
  batch.message_deletes.push_back({ConversationId(7), 4});
  batch.message_deletes.push_back({ConversationId(7), 99});  // absent: nothing to do
  ASSERT_TRUE(this->store().Write(batch, true).ok());
  EXPECT_EQ(this->Read(7, 1, 100, ReadDirection::kForward), (Seqs{1, 3}));
  EXPECT_EQ(this->Read(7, 9, 100, ReadDirection::kBackward), (Seqs{3, 1}));
  EXPECT_EQ(*this->store().LastSeq(ConversationId(7)), 3u);
  EXPECT_TRUE(this->store().CompactMessages().ok());
  EXPECT_EQ(this->Read(7, 1, 100, ReadDirection::kForward), (Seqs{1, 3}));
}

TYPED_TEST(MessageStoreConformance, AReplacingWriteOverwritesTheMessage) {
  this->PutMessages(7, {1, 2});
  WriteBatch batch;
  batch.messages.push_back({ConversationId(7), 2, "stripped", /*replaces=*/true});
  ASSERT_TRUE(this->store().Write(batch, true).ok());
  auto r = this->store().ReadMessages(ConversationId(7), 2, 1, ReadDirection::kForward, kNoByteLimit);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].bytes, "stripped");
}

TYPED_TEST(MessageStoreConformance, ReadStopsOnceTheByteBudgetIsReached) {
  this->PutMessages(7, {1, 2, 3, 4, 5});  // bodies of 5 bytes: "c7-s1"...
  EXPECT_EQ(this->Read(7, 1, 100, ReadDirection::kForward, 10), (Seqs{1, 2}));
  EXPECT_EQ(this->Read(7, 5, 100, ReadDirection::kBackward, 11), (Seqs{5, 4, 3}));
  // The first message is read whatever its size.
  EXPECT_EQ(this->Read(7, 3, 100, ReadDirection::kForward, 1), (Seqs{3}));
}

TYPED_TEST(MessageStoreConformance, ReadsMessagesBackwardFromAGivenSeq) {
  this->PutMessages(7, {1, 2, 3, 4, 5});
  EXPECT_EQ(this->Read(7, 3, 100, ReadDirection::kBackward), (Seqs{3, 2, 1}));
  EXPECT_EQ(this->Read(7, 0, 100, ReadDirection::kBackward), Seqs{});
}

TYPED_TEST(MessageStoreConformance, BackwardReadStopsAtTheLimit) {
  this->PutMessages(7, {1, 2, 3, 4, 5});
  EXPECT_EQ(this->Read(7, 4, 2, ReadDirection::kBackward), (Seqs{4, 3}));
  EXPECT_EQ(this->Read(7, 4, 0, ReadDirection::kBackward), Seqs{});
}

TYPED_TEST(MessageStoreConformance, BackwardReadFromBeyondTheLastSeqStartsAtTheLast) {
  this->PutMessages(7, {1, 2, 3});
  this->PutMessages(8, {1});
  EXPECT_EQ(this->Read(7, 1000, 2, ReadDirection::kBackward), (Seqs{3, 2}));
  EXPECT_EQ(this->Read(7, ~Seq{0}, 10, ReadDirection::kBackward), (Seqs{3, 2, 1}));
}

TYPED_TEST(MessageStoreConformance, ForwardReadSkipsRemovedMessages) {
  this->PutMessages(7, {1, 2, 4, 7, 8});
  EXPECT_EQ(this->Read(7, 3, 3, ReadDirection::kForward), (Seqs{4, 7, 8}));
  EXPECT_EQ(this->Read(7, 5, 100, ReadDirection::kForward), (Seqs{7, 8}));
}

TYPED_TEST(MessageStoreConformance, BackwardReadSkipsRemovedMessages) {
  this->PutMessages(7, {1, 2, 4, 7, 8});
  EXPECT_EQ(this->Read(7, 6, 3, ReadDirection::kBackward), (Seqs{4, 2, 1}));
  EXPECT_EQ(this->Read(7, 3, 100, ReadDirection::kBackward), (Seqs{2, 1}));
}

TYPED_TEST(MessageStoreConformance, MessagesOfSeveralConversationsDoNotMix) {
  // Neighbouring ids, written interleaved and out of order.
  this->PutMessages(2, {1, 3});
  this->PutMessages(1, {2, 5});
  this->PutMessages(3, {1});
  this->PutMessages(2, {2});
  this->PutMessages(1, {1});
  EXPECT_EQ(this->Read(1, 0, 100, ReadDirection::kForward), (Seqs{1, 2, 5}));
  EXPECT_EQ(this->Read(2, 0, 100, ReadDirection::kForward), (Seqs{1, 2, 3}));
  EXPECT_EQ(this->Read(3, 0, 100, ReadDirection::kForward), (Seqs{1}));
  EXPECT_EQ(this->Read(2, ~Seq{0}, 100, ReadDirection::kBackward), (Seqs{3, 2, 1}));
  EXPECT_EQ(this->Read(3, ~Seq{0}, 100, ReadDirection::kBackward), (Seqs{1}));
  EXPECT_EQ(this->Last(1), 5u);
  EXPECT_EQ(this->Last(2), 3u);
  EXPECT_EQ(this->Last(3), 1u);
}

TYPED_TEST(MessageStoreConformance, LastSeqIsTheHighestStoredSeq) {
  this->PutMessages(9, {4, 1, 9, 2});
  EXPECT_EQ(this->Last(9), 9u);
  this->PutMessages(9, {10});
  EXPECT_EQ(this->Last(9), 10u);
}

TYPED_TEST(MessageStoreConformance, LastSeqAndReadsWorkAtTheEdgesOfTheIdSpace) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  this->PutMessages(kMax, {1, kMax - 1, kMax});
  this->PutMessages(kMax - 1, {kMax});
  this->PutMessages(0, {0, 1});
  EXPECT_EQ(this->Last(kMax), kMax);
  EXPECT_EQ(this->Last(kMax - 1), kMax);
  EXPECT_EQ(this->Last(0), 1u);
  EXPECT_EQ(this->Read(kMax, kMax, 10, ReadDirection::kBackward), (Seqs{kMax, kMax - 1, 1}));
  EXPECT_EQ(this->Read(kMax, 2, 10, ReadDirection::kForward), (Seqs{kMax - 1, kMax}));
  EXPECT_EQ(this->Read(0, 0, 10, ReadDirection::kForward), (Seqs{0, 1}));
  EXPECT_EQ(this->Read(0, 0, 10, ReadDirection::kBackward), (Seqs{0}));
}

TYPED_TEST(MessageStoreConformance, RewritingAMessageReplacesIt) {
  WriteBatch first;
  first.messages.push_back({ConversationId(3), 1, "draft"});
  ASSERT_TRUE(this->store().Write(first, true).ok());
  WriteBatch second;
  second.messages.push_back({ConversationId(3), 1, "final"});
  ASSERT_TRUE(this->store().Write(second, true).ok());
  auto r = this->store().ReadMessages(ConversationId(3), 0, 10, ReadDirection::kForward, kNoByteLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].bytes, "final");
}

TYPED_TEST(MessageStoreConformance, KeepsALargeMessageWhole) {
  std::string big(16u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) ^ (i >> 13));
  WriteBatch batch;
  batch.messages.push_back({ConversationId(4), 1, big});
  batch.messages.push_back({ConversationId(4), 2, "small"});
  Status s = this->store().Write(batch, true);
  ASSERT_TRUE(s.ok()) << s;
  auto r = this->store().ReadMessages(ConversationId(4), 1, 1, ReadDirection::kForward, kNoByteLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].bytes.size(), big.size());
  EXPECT_TRUE((*r)[0].bytes == big);
  EXPECT_EQ(this->Last(4), 2u);
}

TYPED_TEST(MessageStoreConformance, KeepsEmptyAndBinaryMessageBodies) {
  const std::string binary("\x00\xff\x00\x01\xfe", 5);
  WriteBatch batch;
  batch.messages.push_back({ConversationId(6), 1, ""});
  batch.messages.push_back({ConversationId(6), 2, binary});
  ASSERT_TRUE(this->store().Write(batch, true).ok());
  auto r = this->store().ReadMessages(ConversationId(6), 0, 10, ReadDirection::kForward, kNoByteLimit);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].bytes, "");
  EXPECT_EQ((*r)[1].bytes, binary);
}

// ---- records ----------------------------------------------------------------

TYPED_TEST(MessageStoreConformance, PutsGetsAndDeletesARecord) {
  EXPECT_EQ(this->Get(RecordKind::kUser, "ana"), std::nullopt);
  this->PutRecord(RecordKind::kUser, "ana", "v1");
  EXPECT_EQ(this->Get(RecordKind::kUser, "ana"), "v1");
  this->PutRecord(RecordKind::kUser, "ana", "v2");
  EXPECT_EQ(this->Get(RecordKind::kUser, "ana"), "v2");

  WriteBatch remove;
  remove.records.push_back({RecordKind::kUser, "ana", std::nullopt});
  ASSERT_TRUE(this->store().Write(remove, false).ok());
  EXPECT_EQ(this->Get(RecordKind::kUser, "ana"), std::nullopt);
}

TYPED_TEST(MessageStoreConformance, DeletingAnAbsentRecordSucceeds) {
  WriteBatch remove;
  remove.records.push_back({RecordKind::kDevice, "nobody", std::nullopt});
  Status s = this->store().Write(remove, true);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(this->Get(RecordKind::kDevice, "nobody"), std::nullopt);
}

TYPED_TEST(MessageStoreConformance, AnEmptyValueIsARecordNotAnAbsence) {
  this->PutRecord(RecordKind::kMeta, "flag", "");
  EXPECT_EQ(this->Get(RecordKind::kMeta, "flag"), std::string());
}

TYPED_TEST(MessageStoreConformance, RecordsOfDifferentKindsWithTheSameKeyAreDistinct) {
  const std::string key = core::store_keys::U64Key(42);
  this->PutRecord(RecordKind::kUser, key, "user");
  this->PutRecord(RecordKind::kDevice, key, "device");
  this->PutRecord(RecordKind::kConversation, key, "conversation");
  EXPECT_EQ(this->Get(RecordKind::kUser, key), "user");
  EXPECT_EQ(this->Get(RecordKind::kDevice, key), "device");
  EXPECT_EQ(this->Get(RecordKind::kConversation, key), "conversation");
  EXPECT_EQ(this->Get(RecordKind::kCursor, key), std::nullopt);
}

TYPED_TEST(MessageStoreConformance, RecordKeysMayHoldZeroAndFfBytes) {
  const std::string zero("\x00", 1);
  const std::string zeros("\x00\x00", 2);
  const std::string mixed("\x00\xff\x00", 3);
  const std::string ff("\xff", 1);
  const std::string ffs("\xff\xff\xff\xff", 4);
  for (const std::string& k : {ffs, mixed, zero, ff, zeros}) {
    this->PutRecord(RecordKind::kEnrollment, k, "v" + HexEncode(k));
  }
  this->PutRecord(RecordKind::kEnrollment, "", "empty key");
  for (const std::string& k : {zero, zeros, mixed, ff, ffs}) {
    EXPECT_EQ(this->Get(RecordKind::kEnrollment, k), "v" + HexEncode(k)) << HexEncode(k);
  }
  EXPECT_EQ(this->Get(RecordKind::kEnrollment, ""), "empty key");
  EXPECT_EQ(this->Get(RecordKind::kEnrollment, std::string("\x00\x01", 2)), std::nullopt);

  // Byte order is unsigned: 0x00 sorts first, 0xFF last.
  const Rows expected = {{"", "empty key"},  {zero, "v00"}, {zeros, "v0000"},
                         {mixed, "v00ff00"}, {ff, "vff"},   {ffs, "vffffffff"}};
  EXPECT_EQ(this->Scan(RecordKind::kEnrollment, ""), expected);
  EXPECT_EQ(this->Scan(RecordKind::kEnrollment, ff), (Rows{{ff, "vff"}, {ffs, "vffffffff"}}));
}

TYPED_TEST(MessageStoreConformance, ScanRecordsVisitsKeysInOrder) {
  for (std::uint64_t id : {300u, 2u, 70000u, 1u, 256u}) {
    this->PutRecord(RecordKind::kConversation, core::store_keys::U64Key(id),
                    "conv" + std::to_string(id));
  }
  Rows rows = this->Scan(RecordKind::kConversation, "");
  ASSERT_EQ(rows.size(), 5u);
  std::vector<std::string> values;
  for (const auto& [k, v] : rows) values.push_back(v);
  EXPECT_EQ(values,
            (std::vector<std::string>{"conv1", "conv2", "conv256", "conv300", "conv70000"}));
  EXPECT_EQ(rows[0].first, core::store_keys::U64Key(1));
}

TYPED_TEST(MessageStoreConformance, ScanRecordsStartsAtTheGivenKey) {
  for (const char* k : {"apple", "banana", "cherry", "date"}) {
    this->PutRecord(RecordKind::kUser, k, std::string("fruit:") + k);
  }
  // An existing key is included.
  EXPECT_EQ(this->Scan(RecordKind::kUser, "cherry"),
            (Rows{{"cherry", "fruit:cherry"}, {"date", "fruit:date"}}));
  // A key between two starts at the next one.
  EXPECT_EQ(this->Scan(RecordKind::kUser, "b"),
            (Rows{{"banana", "fruit:banana"}, {"cherry", "fruit:cherry"}, {"date", "fruit:date"}}));
  // Past the last key there is nothing.
  EXPECT_EQ(this->Scan(RecordKind::kUser, "zzz"), Rows{});
}

TYPED_TEST(MessageStoreConformance, ScanRecordsStopsWhenTheCallbackReturnsFalse) {
  for (int i = 0; i < 600; ++i) {
    this->PutRecord(RecordKind::kDedupe, core::store_keys::U64Key(i), std::to_string(i));
  }
  Rows rows = this->Scan(RecordKind::kDedupe, "", /*max=*/3);
  EXPECT_EQ(rows, (Rows{{core::store_keys::U64Key(0), "0"},
                        {core::store_keys::U64Key(1), "1"},
                        {core::store_keys::U64Key(2), "2"}}));
  // And a scan that does not stop sees all of them, across any internal paging.
  EXPECT_EQ(this->Scan(RecordKind::kDedupe, "").size(), 600u);
}

TYPED_TEST(MessageStoreConformance, ScanRecordsNeverCrossesIntoTheNextKind) {
  // In key order the kinds sit '!' < 'c' < 'e' < 'k' < 'm' (messages) < 'o' < 'u' < 'v'.
  const std::string high("\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9);
  this->PutRecord(RecordKind::kCursor, core::store_keys::U64Key(1, 2), "cursor");
  this->PutRecord(RecordKind::kCursor, high, "high cursor");
  this->PutMessages(1, {1, 2});
  this->PutRecord(RecordKind::kConversation, core::store_keys::U64Key(1), "conversation");
  this->PutRecord(RecordKind::kEnrollment, high, "enrollment");
  this->PutRecord(RecordKind::kUser, "", "user");

  EXPECT_EQ(this->Scan(RecordKind::kCursor, ""),
            (Rows{{core::store_keys::U64Key(1, 2), "cursor"}, {high, "high cursor"}}));
  EXPECT_EQ(this->Scan(RecordKind::kCursor, high), (Rows{{high, "high cursor"}}));
  EXPECT_EQ(this->Scan(RecordKind::kEnrollment, ""), (Rows{{high, "enrollment"}}));
  EXPECT_EQ(this->Scan(RecordKind::kConversation, ""),
            (Rows{{core::store_keys::U64Key(1), "conversation"}}));
  EXPECT_EQ(this->Scan(RecordKind::kDevice, ""), Rows{});
  EXPECT_EQ(this->Scan(RecordKind::kMeta, ""), Rows{});
  EXPECT_EQ(this->Scan(RecordKind::kDedupe, ""), Rows{});
}

TYPED_TEST(MessageStoreConformance, ScanRecordsOfAnEmptyStoreCallsNothing) {
  bool called = false;
  Status s =
      this->store().ScanRecords(RecordKind::kUser, "", [&](std::string_view, std::string_view) {
        called = true;
        return true;
      });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_FALSE(called);
}

TYPED_TEST(MessageStoreConformance, ScanRecordsCallbackMayReadTheStore) {
  this->PutRecord(RecordKind::kDevice, "d1", "u1");
  this->PutRecord(RecordKind::kDevice, "d2", "u2");
  this->PutRecord(RecordKind::kUser, "u1", "ana");
  this->PutRecord(RecordKind::kUser, "u2", "ben");
  std::vector<std::string> owners;
  Status s = this->store().ScanRecords(
      RecordKind::kDevice, "", [&](std::string_view, std::string_view user) {
        Result<std::optional<std::string>> owner = this->store().GetRecord(RecordKind::kUser, user);
        if (owner.ok() && owner->has_value()) owners.push_back(**owner);
        return true;
      });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(owners, (std::vector<std::string>{"ana", "ben"}));
}

TYPED_TEST(MessageStoreConformance, KeepsALargeRecordValue) {
  const std::string big(1u << 20, 'x');
  this->PutRecord(RecordKind::kConversation, "big", big);
  std::optional<std::string> got = this->Get(RecordKind::kConversation, "big");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(*got == big);
}

// ---- batches ----------------------------------------------------------------

TYPED_TEST(MessageStoreConformance, ABatchWritesMessagesAndRecordsTogether) {
  WriteBatch batch;
  batch.messages.push_back({ConversationId(12), 1, TestFixture::Body(12, 1)});
  batch.messages.push_back({ConversationId(13), 1, TestFixture::Body(13, 1)});
  batch.messages.push_back({ConversationId(12), 2, TestFixture::Body(12, 2)});
  batch.records.push_back({RecordKind::kConversation, core::store_keys::U64Key(12), "c12"});
  batch.records.push_back(
      {RecordKind::kCursor, core::store_keys::U64Key(5, 12), core::store_keys::U64Key(2)});
  Status s = this->store().Write(batch, true);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(this->Read(12, 0, 10, ReadDirection::kForward), (Seqs{1, 2}));
  EXPECT_EQ(this->Read(13, 0, 10, ReadDirection::kForward), (Seqs{1}));
  EXPECT_EQ(this->Get(RecordKind::kConversation, core::store_keys::U64Key(12)), "c12");
  EXPECT_EQ(this->Get(RecordKind::kCursor, core::store_keys::U64Key(5, 12)),
            core::store_keys::U64Key(2));
}

TYPED_TEST(MessageStoreConformance, RecordsInABatchApplyInTheOrderGiven) {
  this->PutRecord(RecordKind::kUser, "kept", "old");
  WriteBatch batch;
  batch.records.push_back({RecordKind::kUser, "gone", "briefly"});
  batch.records.push_back({RecordKind::kUser, "gone", std::nullopt});
  batch.records.push_back({RecordKind::kUser, "kept", std::nullopt});
  batch.records.push_back({RecordKind::kUser, "kept", "new"});
  batch.records.push_back({RecordKind::kUser, "twice", "first"});
  batch.records.push_back({RecordKind::kUser, "twice", "second"});
  ASSERT_TRUE(this->store().Write(batch, false).ok());
  EXPECT_EQ(this->Get(RecordKind::kUser, "gone"), std::nullopt);
  EXPECT_EQ(this->Get(RecordKind::kUser, "kept"), "new");
  EXPECT_EQ(this->Get(RecordKind::kUser, "twice"), "second");
}

TYPED_TEST(MessageStoreConformance, AnEmptyBatchSucceeds) {
  EXPECT_TRUE(this->store().Write(WriteBatch{}, true).ok());
  EXPECT_TRUE(this->store().Write(WriteBatch{}, false).ok());
}

TYPED_TEST(MessageStoreConformance, AWriteBatchIsAllOrNothing) {
  this->PutMessages(20, {1});
  this->PutRecord(RecordKind::kCursor, "c", "1");

  WriteBatch batch;
  batch.messages.push_back({ConversationId(20), 2, TestFixture::Body(20, 2)});
  batch.messages.push_back({ConversationId(21), 1, TestFixture::Body(21, 1)});
  batch.records.push_back({RecordKind::kCursor, "c", "2"});
  batch.records.push_back({RecordKind::kUser, "new", "user"});

  this->FailWrites(true);
  Status failed = this->store().Write(batch, true);
  EXPECT_EQ(failed.code(), StatusCode::kResourceExhausted) << failed;
  EXPECT_EQ(this->Last(20), 1u);
  EXPECT_EQ(this->Last(21), 0u);
  EXPECT_EQ(this->Get(RecordKind::kCursor, "c"), "1");
  EXPECT_EQ(this->Get(RecordKind::kUser, "new"), std::nullopt);

  // Once the disk has room again, the same batch goes through whole.
  this->FailWrites(false);
  Status s = this->store().Write(batch, true);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(this->Read(20, 0, 10, ReadDirection::kForward), (Seqs{1, 2}));
  EXPECT_EQ(this->Last(21), 1u);
  EXPECT_EQ(this->Get(RecordKind::kCursor, "c"), "2");
  EXPECT_EQ(this->Get(RecordKind::kUser, "new"), "user");
}

TYPED_TEST(MessageStoreConformance, AConcurrentReaderSeesEachBatchWholeOrNotAtAll) {
  // Each batch adds seq n to conversation 30 and then to 31. A reader that
  // reads 30 first and 31 second could see 31 behind 30 only if it observed
  // a batch half applied.
  constexpr Seq kBatches = 300;
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!done.load()) {
        Result<Seq> a = this->store().LastSeq(ConversationId(30));
        Result<Seq> b = this->store().LastSeq(ConversationId(31));
        if (!a.ok() || !b.ok() || *b < *a) ++violations;
        ++reads;
      }
    });
  }
  // Start writing only once the readers are reading.
  while (reads.load() < 2) std::this_thread::yield();
  for (Seq n = 1; n <= kBatches; ++n) {
    WriteBatch batch;
    batch.messages.push_back({ConversationId(30), n, TestFixture::Body(30, n)});
    batch.messages.push_back({ConversationId(31), n, TestFixture::Body(31, n)});
    Status s = this->store().Write(batch, /*sync=*/false);
    // No ASSERT here: the readers must be joined before the test returns.
    EXPECT_TRUE(s.ok()) << s;
    // A read started after Write() returned sees the write.
    EXPECT_EQ(this->Last(31), n);
    if (!s.ok()) break;
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(violations.load(), 0);
}

}  // namespace
}  // namespace chatpro::store
