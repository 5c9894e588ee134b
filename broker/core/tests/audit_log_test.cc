// SPDX-License-Identifier: Apache-2.0
//
// AuditLog: the hash chain, what it stores, finding its head, and that every
// kind of tampering with the stored entries is found by Verify.
#include "broker/core/audit_log.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "broker/base/encoding.h"
#include "broker/core/in_memory_message_store.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

// Forwards to an in-memory store, counts reads and can be told to fail them.
class CountingStore final : public MessageStore {
 public:
  Status Write(const WriteBatch& batch, bool sync) override { return inner_.Write(batch, sync); }
  Result<std::vector<StoredMessage>> ReadMessages(ConversationId conversation, Seq from,
                                                  std::size_t limit, ReadDirection direction,
                                                  std::uint64_t max_bytes) override {
    return inner_.ReadMessages(conversation, from, limit, direction, max_bytes);
  }
  Result<Seq> LastSeq(ConversationId conversation) override { return inner_.LastSeq(conversation); }
  Result<std::optional<std::string>> GetRecord(RecordKind kind, std::string_view key) override {
    ++gets_;
    if (!fail_.ok()) return fail_;
    return inner_.GetRecord(kind, key);
  }
  Status ScanRecords(RecordKind kind, std::string_view start,
                     const std::function<bool(std::string_view, std::string_view)>& fn) override {
    ++scans_;
    if (!fail_.ok()) return fail_;
    return inner_.ScanRecords(kind, start, fn);
  }

  void FailReads(Status status) { fail_ = std::move(status); }
  void ResetCounts() { gets_ = scans_ = 0; }
  int gets() const { return gets_; }
  int scans() const { return scans_; }

 private:
  InMemoryMessageStore inner_;
  Status fail_;
  int gets_ = 0;
  int scans_ = 0;
};

AuditActor Admin() { return AuditActor{UserId(7), "ana", DeviceId(9)}; }

std::string EncodeRecord(const AuditEntry& e) {
  flatbuffers::FlatBufferBuilder fbb;
  auto bytes = [&fbb](const std::string& s) {
    return fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  auto record = store::CreateAuditRecord(
      fbb, e.seq, e.at_us, e.actor.user.value(), fbb.CreateString(e.actor.login),
      e.actor.device.value(), fbb.CreateString(e.action), fbb.CreateString(e.target),
      fbb.CreateString(e.details), bytes(e.prev_hash), bytes(e.hash));
  fbb.Finish(record);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

void PutRaw(MessageStore& store, std::uint64_t seq, std::optional<std::string> value) {
  WriteBatch batch;
  batch.records.push_back({RecordKind::kAudit, store_keys::U64Key(seq), std::move(value)});
  ASSERT_TRUE(store.Write(batch, true).ok());
}

std::string GetRaw(MessageStore& store, std::uint64_t seq) {
  Result<std::optional<std::string>> r =
      store.GetRecord(RecordKind::kAudit, store_keys::U64Key(seq));
  if (!r.ok() || !r->has_value()) return std::string();
  return **r;
}

AuditEntry GetEntry(MessageStore& store, std::uint64_t seq) {
  Result<std::vector<AuditEntry>> r = AuditLog::List(store, seq, 1);
  if (!r.ok() || r->empty()) return AuditEntry();
  return r->front();
}

// Appends `n` entries, each in its own batch, numbered in their details.
void AppendEntries(AuditLog& log, MessageStore& store, FakeClock& clock, int n) {
  for (int i = 0; i < n; ++i) {
    WriteBatch batch;
    std::uint64_t seq = log.Append(Admin(), "user.deactivate", "user:bob",
                                   "{\"n\":" + std::to_string(log.last_seq() + 1) + "}", &batch);
    ASSERT_EQ(seq, log.last_seq());
    ASSERT_TRUE(store.Write(batch, true).ok());
    clock.Advance(kMicrosPerSecond);
  }
}

// A store holding a chain of `n` entries.
struct Fixture {
  explicit Fixture(int n) : log(&clock) {
    EXPECT_TRUE(log.Load(store).ok());
    AppendEntries(log, store, clock, n);
  }
  FakeClock clock;
  InMemoryMessageStore store;
  AuditLog log;
};

AuditVerification VerifyOf(MessageStore& store) {
  Result<AuditVerification> r = AuditLog::Verify(store);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : AuditVerification{};
}

TEST(AuditLog, FreshLogVerifiesWholeWithNoRecords) {
  Fixture f(0);
  EXPECT_EQ(f.log.last_seq(), 0u);
  AuditVerification v = VerifyOf(f.store);
  EXPECT_TRUE(v.whole);
  EXPECT_EQ(v.records, 0u);
  EXPECT_EQ(v.first_broken_seq, 0u);
  Result<std::vector<AuditEntry>> listed = AuditLog::List(f.store, 0, 10);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST(AuditLog, AppendedEntriesVerifyAndListBackInOrderWithTheirFields) {
  FakeClock clock(1'700'000'000'000'000);
  InMemoryMessageStore store;
  AuditLog log(&clock);
  ASSERT_TRUE(log.Load(store).ok());

  WriteBatch batch;
  EXPECT_EQ(log.Append(Admin(), "user.deactivate", "user:bob", "{\"devices\":[3,4]}", &batch), 1u);
  clock.Advance(5);
  EXPECT_EQ(
      log.Append(AuditActor{}, "retention.sweep", "conversation:3", "{\"removed\":12}", &batch),
      2u);
  clock.Advance(5);
  EXPECT_EQ(log.Append(Admin(), "device.revoke", "device:4", "{}", &batch), 3u);
  EXPECT_EQ(log.last_seq(), 3u);
  ASSERT_EQ(batch.records.size(), 3u);
  EXPECT_EQ(batch.records[0].kind, RecordKind::kAudit);
  EXPECT_EQ(batch.records[0].key, store_keys::U64Key(1));
  ASSERT_TRUE(store.Write(batch, true).ok());

  AuditVerification v = VerifyOf(store);
  EXPECT_TRUE(v.whole) << v.message;
  EXPECT_EQ(v.records, 3u);

  Result<std::vector<AuditEntry>> listed = AuditLog::List(store, 1, 10);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  const AuditEntry& first = (*listed)[0];
  EXPECT_EQ(first.seq, 1u);
  EXPECT_EQ(first.at_us, 1'700'000'000'000'000);
  EXPECT_EQ(first.actor.user, UserId(7));
  EXPECT_EQ(first.actor.login, "ana");
  EXPECT_EQ(first.actor.device, DeviceId(9));
  EXPECT_EQ(first.action, "user.deactivate");
  EXPECT_EQ(first.target, "user:bob");
  EXPECT_EQ(first.details, "{\"devices\":[3,4]}");
  EXPECT_EQ(first.prev_hash, std::string(32, '\0'));
  EXPECT_EQ(first.hash, AuditLog::Hash(first));

  const AuditEntry& second = (*listed)[1];
  EXPECT_EQ(second.seq, 2u);
  EXPECT_EQ(second.at_us, 1'700'000'000'000'005);
  EXPECT_FALSE(second.actor.user.valid());
  EXPECT_EQ(second.actor.login, "");
  EXPECT_EQ(second.action, "retention.sweep");
  EXPECT_EQ(second.target, "conversation:3");
  EXPECT_EQ(second.details, "{\"removed\":12}");
  EXPECT_EQ(second.prev_hash, first.hash);

  EXPECT_EQ((*listed)[2].seq, 3u);
  EXPECT_EQ((*listed)[2].at_us, 1'700'000'000'000'010);
  EXPECT_EQ((*listed)[2].prev_hash, second.hash);
}

TEST(AuditLog, HashIsBlake2b256OfThePreviousHashAndTheFieldsInTheFixedEncoding) {
  AuditEntry e;
  e.seq = 1;
  e.at_us = 1'700'000'000'000'000;
  e.actor = Admin();
  e.action = "user.deactivate";
  e.target = "user:bob";
  e.details = "{\"devices\":[3,4]}";
  e.prev_hash = std::string(32, '\0');
  // Computed independently: blake2b(digest_size=32) over 32 zero bytes, then
  // seq, at_us, user, device (8 bytes big-endian each), then login, action,
  // target, details (each a 4-byte big-endian length and the bytes).
  EXPECT_EQ(HexEncode(AuditLog::Hash(e)),
            "f708881638009f10dd559ced0062d6b37647f74a3dcc760ca4d0f62bf1314f6a");
}

TEST(AuditLog, HashCoversEveryFieldAndTheirBoundaries) {
  AuditEntry base;
  base.seq = 4;
  base.at_us = 99;
  base.actor = Admin();
  base.action = "ab";
  base.target = "c";
  base.details = "{}";
  base.prev_hash = std::string(32, 'p');
  const std::string h = AuditLog::Hash(base);
  EXPECT_EQ(h.size(), 32u);

  std::vector<AuditEntry> changed(9, base);
  changed[0].seq = 5;
  changed[1].at_us = 100;
  changed[2].actor.user = UserId(8);
  changed[3].actor.device = DeviceId(10);
  changed[4].actor.login = "anb";
  changed[5].details = "{ }";
  changed[6].prev_hash[31] = 'q';
  changed[7].action = "a";  // "a" + "bc" must not hash like "ab" + "c"
  changed[7].target = "bc";
  changed[8].hash = "ignored: the stored hash is not an input";
  for (size_t i = 0; i + 1 < changed.size(); ++i) {
    EXPECT_NE(AuditLog::Hash(changed[i]), h) << "field " << i;
  }
  EXPECT_EQ(AuditLog::Hash(changed[8]), h);
}

TEST(AuditLog, AppendIsStampedByTheClock) {
  FakeClock clock(42);
  InMemoryMessageStore store;
  AuditLog log(&clock);
  ASSERT_TRUE(log.Load(store).ok());
  WriteBatch batch;
  log.Append(Admin(), "auth.refused", "address:10.0.0.9", "{}", &batch);
  ASSERT_TRUE(store.Write(batch, true).ok());
  EXPECT_EQ(GetEntry(store, 1).at_us, 42);
}

TEST(AuditLog, ChainContinuesAcrossAReload) {
  Fixture f(5);
  AuditLog reloaded(&f.clock);
  ASSERT_TRUE(reloaded.Load(f.store).ok());
  EXPECT_EQ(reloaded.last_seq(), 5u);
  AppendEntries(reloaded, f.store, f.clock, 3);
  EXPECT_EQ(reloaded.last_seq(), 8u);
  EXPECT_EQ(GetEntry(f.store, 6).prev_hash, GetEntry(f.store, 5).hash);
  AuditVerification v = VerifyOf(f.store);
  EXPECT_TRUE(v.whole) << v.message;
  EXPECT_EQ(v.records, 8u);
}

TEST(AuditLog, LoadFindsTheHeadAtEveryLengthAroundPowersOfTwo) {
  FakeClock clock;
  InMemoryMessageStore store;
  AuditLog writer(&clock);
  ASSERT_TRUE(writer.Load(store).ok());
  for (std::uint64_t n = 0; n <= 70; ++n) {
    AuditLog reader(&clock);
    ASSERT_TRUE(reader.Load(store).ok());
    EXPECT_EQ(reader.last_seq(), n);
    AppendEntries(writer, store, clock, 1);
  }
}

TEST(AuditLog, LoadOfALongLogFindsTheHeadInFewPointReads) {
  FakeClock clock;
  CountingStore store;
  AuditLog writer(&clock);
  ASSERT_TRUE(writer.Load(store).ok());
  WriteBatch batch;
  for (int i = 0; i < 10'000; ++i)
    writer.Append(Admin(), "message.delete", "conversation:1", "{}", &batch);
  ASSERT_TRUE(store.Write(batch, true).ok());

  store.ResetCounts();
  AuditLog reader(&clock);
  ASSERT_TRUE(reader.Load(store).ok());
  EXPECT_EQ(reader.last_seq(), 10'000u);
  // O(log n): a galloping probe and a binary search (about 2 * log2(10'000)),
  // then one seek past the head; never a walk over the log.
  EXPECT_LE(store.gets(), 32);
  EXPECT_EQ(store.scans(), 1);

  WriteBatch more;
  EXPECT_EQ(reader.Append(Admin(), "user.create", "user:cy", "{}", &more), 10'001u);
  ASSERT_TRUE(store.Write(more, true).ok());
  AuditVerification v = VerifyOf(store);
  EXPECT_TRUE(v.whole) << v.message;
  EXPECT_EQ(v.records, 10'001u);
}

TEST(AuditLog, LoadAfterAHoleContinuesFromTheHighestEntryWithoutOverwritingAny) {
  Fixture f(10);
  PutRaw(f.store, 3, std::nullopt);
  const std::string tenth = GetRaw(f.store, 10);

  AuditLog reloaded(&f.clock);
  ASSERT_TRUE(reloaded.Load(f.store).ok());
  EXPECT_EQ(reloaded.last_seq(), 10u);
  AppendEntries(reloaded, f.store, f.clock, 1);
  EXPECT_EQ(reloaded.last_seq(), 11u);
  EXPECT_EQ(GetRaw(f.store, 10), tenth);
  EXPECT_EQ(GetEntry(f.store, 11).prev_hash, GetEntry(f.store, 10).hash);

  AuditVerification v = VerifyOf(f.store);
  EXPECT_FALSE(v.whole);
  EXPECT_EQ(v.first_broken_seq, 3u);
}

TEST(AuditLog, LoadOfADamagedNewestEntryIsDataLoss) {
  Fixture f(4);
  PutRaw(f.store, 4, "garbage");
  AuditLog reloaded(&f.clock);
  Status st = reloaded.Load(f.store);
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("entry 4"), std::string::npos) << st;
}

TEST(AuditLog, AppendBeforeLoadIsABug) {
  FakeClock clock;
  AuditLog log(&clock);
  WriteBatch batch;
  EXPECT_DEATH(log.Append(Admin(), "user.create", "user:cy", "{}", &batch), "before Load");
}

TEST(AuditLog, ChangedDetailsAreReportedAtThatEntry) {
  Fixture f(8);
  AuditEntry e = GetEntry(f.store, 5);
  e.details = "{\"n\":500}";  // the stored hash is kept
  PutRaw(f.store, 5, EncodeRecord(e));

  AuditVerification v = VerifyOf(f.store);
  EXPECT_FALSE(v.whole);
  EXPECT_EQ(v.first_broken_seq, 5u);
  EXPECT_EQ(v.message,
            "entry 5: its hash does not match its contents (changed after it was written)");
}

TEST(AuditLog, RewritingAnEntryWithARecomputedHashBreaksTheNextLink) {
  Fixture f(8);
  AuditEntry e = GetEntry(f.store, 4);
  e.actor.login = "mallory";
  e.hash = AuditLog::Hash(e);
  PutRaw(f.store, 4, EncodeRecord(e));

  AuditVerification v = VerifyOf(f.store);
  EXPECT_FALSE(v.whole);
  EXPECT_EQ(v.first_broken_seq, 5u);
  EXPECT_EQ(v.message, "entry 5 does not link to entry 4");
}

TEST(AuditLog, FirstEntryThatLinksToAPredecessorIsReported) {
  Fixture f(3);
  AuditEntry e = GetEntry(f.store, 1);
  e.prev_hash = std::string(32, 'x');  // as if older entries had been cut off
  e.hash = AuditLog::Hash(e);
  PutRaw(f.store, 1, EncodeRecord(e));

  AuditVerification v = VerifyOf(f.store);
  EXPECT_FALSE(v.whole);
  EXPECT_EQ(v.first_broken_seq, 1u);
  EXPECT_EQ(v.message, "entry 1 does not start the chain (it links to a predecessor)");
}

TEST(AuditLog, DeletedMiddleEntryIsReportedMissing) {
  Fixture f(8);
  PutRaw(f.store, 4, std::nullopt);

  AuditVerification v = VerifyOf(f.store);
  EXPECT_FALSE(v.whole);
  EXPECT_EQ(v.first_broken_seq, 4u);
  EXPECT_EQ(v.message, "entry 4 is missing (the chain jumps from 3 to 5)");
}

TEST(AuditLog, DeletedFirstEntryIsReportedMissing) {
  Fixture f(3);
  PutRaw(f.store, 1, std::nullopt);

  AuditVerification v = VerifyOf(f.store);
  EXPECT_FALSE(v.whole);
  EXPECT_EQ(v.first_broken_seq, 1u);
  EXPECT_EQ(v.message, "entry 1 is missing (the chain starts at 2)");
}

TEST(AuditLog, SwappedEntriesAreDetected) {
  Fixture f(8);
  const std::string third = GetRaw(f.store, 3);
  const std::string sixth = GetRaw(f.store, 6);
  PutRaw(f.store, 3, sixth);
  PutRaw(f.store, 6, third);

  AuditVerification v = VerifyOf(f.store);
  EXPECT_FALSE(v.whole);
  EXPECT_EQ(v.first_broken_seq, 3u);
  EXPECT_FALSE(v.message.empty());
}

TEST(AuditLog, SwappedContentsRenumberedToTheirNewPlaceAreDetected) {
  Fixture f(8);
  AuditEntry third = GetEntry(f.store, 3);
  AuditEntry sixth = GetEntry(f.store, 6);
  std::swap(third.seq, sixth.seq);
  PutRaw(f.store, 3, EncodeRecord(sixth));
  PutRaw(f.store, 6, EncodeRecord(third));

  AuditVerification v = VerifyOf(f.store);
  EXPECT_FALSE(v.whole);
  EXPECT_EQ(v.first_broken_seq, 3u);
}

TEST(AuditLog, RecordThatIsNotAFlatBufferBreaksTheChainThere) {
  Fixture f(6);
  PutRaw(f.store, 4, "this is not a flatbuffer");

  AuditVerification v = VerifyOf(f.store);
  EXPECT_FALSE(v.whole);
  EXPECT_EQ(v.first_broken_seq, 4u);
  EXPECT_EQ(v.message, "entry 4 is damaged (not an audit record)");
  EXPECT_EQ(v.records, 4u);
}

TEST(AuditLog, ListFromSeqZeroGivesTheNewestEntriesOldestFirst) {
  Fixture f(10);
  Result<std::vector<AuditEntry>> newest = AuditLog::List(f.store, 0, 3);
  ASSERT_TRUE(newest.ok()) << newest.status();
  ASSERT_EQ(newest->size(), 3u);
  EXPECT_EQ((*newest)[0].seq, 8u);
  EXPECT_EQ((*newest)[1].seq, 9u);
  EXPECT_EQ((*newest)[2].seq, 10u);
  EXPECT_EQ((*newest)[2].details, "{\"n\":10}");

  Result<std::vector<AuditEntry>> all = AuditLog::List(f.store, 0, 50);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 10u);
  EXPECT_EQ(all->front().seq, 1u);
  EXPECT_EQ(all->back().seq, 10u);
}

TEST(AuditLog, ListFromASeqGivesUpToLimitEntriesFromThere) {
  Fixture f(10);
  Result<std::vector<AuditEntry>> page = AuditLog::List(f.store, 4, 3);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].seq, 4u);
  EXPECT_EQ((*page)[2].seq, 6u);

  Result<std::vector<AuditEntry>> tail = AuditLog::List(f.store, 9, 5);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->size(), 2u);

  Result<std::vector<AuditEntry>> beyond = AuditLog::List(f.store, 11, 5);
  ASSERT_TRUE(beyond.ok());
  EXPECT_TRUE(beyond->empty());

  Result<std::vector<AuditEntry>> none = AuditLog::List(f.store, 1, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(AuditLog, ListReportsADamagedRecordAsDataLossNamingItsSeq) {
  Fixture f(10);
  PutRaw(f.store, 9, "junk");
  Result<std::vector<AuditEntry>> r = AuditLog::List(f.store, 0, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("entry 9"), std::string::npos) << r.status();

  // Entries before the damaged one still list.
  Result<std::vector<AuditEntry>> before = AuditLog::List(f.store, 1, 8);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->size(), 8u);
}

TEST(AuditLog, StoreErrorsAreErrorsNotBrokenChains) {
  FakeClock clock;
  CountingStore store;
  AuditLog log(&clock);
  ASSERT_TRUE(log.Load(store).ok());
  AppendEntries(log, store, clock, 3);
  store.FailReads(Status::IoError("disk on fire"));

  Result<AuditVerification> v = AuditLog::Verify(store);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kIoError);
  Result<std::vector<AuditEntry>> listed = AuditLog::List(store, 0, 10);
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.status().code(), StatusCode::kIoError);
  AuditLog reloaded(&clock);
  EXPECT_EQ(reloaded.Load(store).code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace chatpro::core
