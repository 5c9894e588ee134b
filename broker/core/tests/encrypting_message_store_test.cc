// SPDX-License-Identifier: Apache-2.0
#include "broker/core/encrypting_message_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/encoding.h"
#include "broker/core/audit_log.h"
#include "broker/core/in_memory_message_store.h"
#include "broker/crypto/keys.h"

namespace chatpro::core {
namespace {

constexpr std::uint64_t kAll = std::numeric_limits<std::uint64_t>::max();
const std::string kMarker = "MARKER-7f3a-personal-data";

constexpr RecordKind kEncrypted[] = {RecordKind::kUser,       RecordKind::kDevice,
                                     RecordKind::kConversation, RecordKind::kEnrollment,
                                     RecordKind::kReport,     RecordKind::kAudit,
                                     RecordKind::kCase};
constexpr RecordKind kPlain[] = {RecordKind::kMeta, RecordKind::kCursor, RecordKind::kDedupe,
                                 RecordKind::kBlock, RecordKind::kTombstone};

std::uint32_t KeyIdOf(const std::string& sealed) {
  EXPECT_GE(sealed.size(), crypto::kSealedOverheadBytes);
  return static_cast<std::uint32_t>(ReadBigEndian64(std::string(4, '\0') + sealed.substr(1, 4)));
}

class EncryptingMessageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    char tmpl[] = "/tmp/chatpro-encrypting-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Result<crypto::StorageKeyRing> ring = crypto::StorageKeyRing::Create(dir_ + "/storage.key");
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = std::make_unique<crypto::StorageKeyRing>(std::move(ring).value());
    store_ = std::make_unique<EncryptingMessageStore>(&inner_, ring_.get());
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  // Every message of `conversation` as the inner store keeps it.
  std::vector<StoredMessage> RawMessages(ConversationId conversation) {
    Result<std::vector<StoredMessage>> r =
        inner_.ReadMessages(conversation, 0, kAll, ReadDirection::kForward, kAll);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::move(r).value() : std::vector<StoredMessage>();
  }
  std::map<std::string, std::string> RawRecords(RecordKind kind) {
    std::map<std::string, std::string> out;
    Status st = inner_.ScanRecords(kind, "", [&](std::string_view k, std::string_view v) {
      out.emplace(std::string(k), std::string(v));
      return true;
    });
    EXPECT_TRUE(st.ok()) << st;
    return out;
  }

  std::string dir_;
  InMemoryMessageStore inner_;
  std::unique_ptr<crypto::StorageKeyRing> ring_;
  std::unique_ptr<EncryptingMessageStore> store_;
};

TEST_F(EncryptingMessageStoreTest, ReadsGiveBackWhatWasWritten) {
  WriteBatch b;
  b.messages.push_back({ConversationId(4), 1, "first " + kMarker});
  b.messages.push_back({ConversationId(4), 2, ""});
  b.messages.push_back({ConversationId(4), 3, std::string(100 << 10, 'p') + kMarker});
  for (RecordKind kind : kEncrypted) b.records.push_back({kind, "key-a", "value " + kMarker});
  for (RecordKind kind : kPlain) b.records.push_back({kind, "key-a", "plain"});
  ASSERT_TRUE(store_->Write(b, true).ok());

  Result<std::vector<StoredMessage>> forward =
      store_->ReadMessages(ConversationId(4), 0, 10, ReadDirection::kForward, kAll);
  ASSERT_TRUE(forward.ok()) << forward.status();
  ASSERT_EQ(forward->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*forward)[i].seq, b.messages[i].seq);
    EXPECT_EQ((*forward)[i].bytes, b.messages[i].bytes);
  }
  Result<std::vector<StoredMessage>> backward =
      store_->ReadMessages(ConversationId(4), 2, 10, ReadDirection::kBackward, kAll);
  ASSERT_TRUE(backward.ok()) << backward.status();
  ASSERT_EQ(backward->size(), 2u);
  EXPECT_EQ((*backward)[0].bytes, "");
  EXPECT_EQ((*backward)[1].bytes, "first " + kMarker);
  Result<Seq> last = store_->LastSeq(ConversationId(4));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 3u);

  for (const WriteBatch::Record& r : b.records) {
    Result<std::optional<std::string>> got = store_->GetRecord(r.kind, r.key);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, r.value);
    int seen = 0;
    ASSERT_TRUE(store_->ScanRecords(r.kind, "", [&](std::string_view k, std::string_view v) {
      EXPECT_EQ(k, r.key);
      EXPECT_EQ(v, *r.value);
      ++seen;
      return true;
    }).ok());
    EXPECT_EQ(seen, 1);
  }
  Result<std::optional<std::string>> missing = store_->GetRecord(RecordKind::kUser, "nobody");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(EncryptingMessageStoreTest, TheInnerStoreHoldsNoPlaintext) {
  WriteBatch b;
  for (Seq s = 1; s <= 20; ++s) {
    b.messages.push_back({ConversationId(9), s, "text " + std::to_string(s) + " " + kMarker});
  }
  for (RecordKind kind : kEncrypted) {
    b.records.push_back({kind, store_keys::U64Key(1), "name " + kMarker});
    b.records.push_back({kind, store_keys::U64Key(2), kMarker});
  }
  ASSERT_TRUE(store_->Write(b, false).ok());

  std::vector<StoredMessage> raw = RawMessages(ConversationId(9));
  ASSERT_EQ(raw.size(), 20u);
  for (const StoredMessage& m : raw) {
    EXPECT_EQ(m.bytes.find(kMarker), std::string::npos) << "message " << m.seq;
    EXPECT_EQ(m.bytes.find("text "), std::string::npos) << "message " << m.seq;
    EXPECT_EQ(KeyIdOf(m.bytes), ring_->active().id);
  }
  for (RecordKind kind : kEncrypted) {
    std::map<std::string, std::string> records = RawRecords(kind);
    ASSERT_EQ(records.size(), 2u);
    for (const auto& [key, value] : records) {
      EXPECT_EQ(value.find(kMarker), std::string::npos) << static_cast<char>(kind);
      EXPECT_EQ(value.find("name"), std::string::npos) << static_cast<char>(kind);
    }
  }
}

TEST_F(EncryptingMessageStoreTest, IdOnlyKindsStayPlainAndDeletesPassThrough) {
  WriteBatch b;
  for (RecordKind kind : kPlain) b.records.push_back({kind, "k", "plain " + kMarker});
  b.records.push_back({RecordKind::kUser, "gone", "soon deleted"});
  ASSERT_TRUE(store_->Write(b, true).ok());
  for (RecordKind kind : kPlain) {
    Result<std::optional<std::string>> raw = inner_.GetRecord(kind, "k");
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(*raw, std::optional<std::string>("plain " + kMarker)) << static_cast<char>(kind);
  }
  WriteBatch del;
  del.records.push_back({RecordKind::kUser, "gone", std::nullopt});
  del.records.push_back({RecordKind::kCursor, "k", std::nullopt});
  ASSERT_TRUE(store_->Write(del, true).ok());
  EXPECT_FALSE(inner_.GetRecord(RecordKind::kUser, "gone")->has_value());
  EXPECT_FALSE(inner_.GetRecord(RecordKind::kCursor, "k")->has_value());
}

TEST_F(EncryptingMessageStoreTest, TheAssociatedDataIsTheValuesStoreKey) {
  WriteBatch b;
  b.messages.push_back({ConversationId(0x0102030405060708), 0x1112131415161718, "m"});
  b.records.push_back({RecordKind::kDevice, "dev", "d"});
  ASSERT_TRUE(store_->Write(b, true).ok());
  std::vector<StoredMessage> raw = RawMessages(ConversationId(0x0102030405060708));
  ASSERT_EQ(raw.size(), 1u);
  Result<std::string> m = crypto::Open(
      *ring_, raw[0].bytes, store_keys::MessageKey(ConversationId(0x0102030405060708), 0x1112131415161718));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(*m, "m");
  Result<std::string> d = crypto::Open(*ring_, RawRecords(RecordKind::kDevice)["dev"],
                                       store_keys::RecordKey(RecordKind::kDevice, "dev"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, "d");
}

TEST_F(EncryptingMessageStoreTest, AValueMovedToAnotherKeyDoesNotOpen) {
  WriteBatch b;
  b.messages.push_back({ConversationId(1), 1, "for conversation 1 only"});
  b.records.push_back({RecordKind::kUser, store_keys::U64Key(1), "user one"});
  ASSERT_TRUE(store_->Write(b, true).ok());
  const std::string sealed_message = RawMessages(ConversationId(1))[0].bytes;
  const std::string sealed_user = RawRecords(RecordKind::kUser)[store_keys::U64Key(1)];

  // Replayed into another seq and another conversation, under another record
  // key, and under another kind with the same key.
  WriteBatch moved;
  moved.messages.push_back({ConversationId(1), 2, sealed_message});
  moved.messages.push_back({ConversationId(2), 1, sealed_message});
  moved.records.push_back({RecordKind::kUser, store_keys::U64Key(2), sealed_user});
  moved.records.push_back({RecordKind::kDevice, store_keys::U64Key(1), sealed_user});
  ASSERT_TRUE(inner_.Write(moved, true).ok());

  Result<std::vector<StoredMessage>> same_conversation =
      store_->ReadMessages(ConversationId(1), 2, 1, ReadDirection::kForward, kAll);
  ASSERT_FALSE(same_conversation.ok());
  EXPECT_EQ(same_conversation.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(same_conversation.status().message().find("message 2 of conversation 1"),
            std::string::npos)
      << same_conversation.status();
  EXPECT_EQ(store_->ReadMessages(ConversationId(2), 0, 1, ReadDirection::kForward, kAll)
                .status()
                .code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(store_->GetRecord(RecordKind::kUser, store_keys::U64Key(2)).status().code(),
            StatusCode::kDataLoss);
  Status scan = store_->ScanRecords(RecordKind::kDevice, "",
                                    [](std::string_view, std::string_view) { return true; });
  EXPECT_EQ(scan.code(), StatusCode::kDataLoss);
  EXPECT_NE(scan.message().find("device record"), std::string::npos) << scan;
  // The original still opens.
  Result<std::optional<std::string>> original =
      store_->GetRecord(RecordKind::kUser, store_keys::U64Key(1));
  ASSERT_TRUE(original.ok()) << original.status();
  EXPECT_EQ(**original, "user one");
}

TEST_F(EncryptingMessageStoreTest, PlaintextInTheInnerStoreIsNotAccepted) {
  WriteBatch plain;
  plain.messages.push_back({ConversationId(1), 1, "written without encryption"});
  plain.records.push_back({RecordKind::kUser, "u", "written without encryption"});
  ASSERT_TRUE(inner_.Write(plain, true).ok());
  EXPECT_EQ(store_->ReadMessages(ConversationId(1), 0, 1, ReadDirection::kForward, kAll)
                .status()
                .code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(store_->GetRecord(RecordKind::kUser, "u").status().code(), StatusCode::kDataLoss);
}

TEST_F(EncryptingMessageStoreTest, ScanCallbackMayReadTheStoreAndStopEarly) {
  WriteBatch b;
  for (int i = 0; i < 600; ++i) {
    b.records.push_back({RecordKind::kAudit, store_keys::U64Key(i), "entry " + std::to_string(i)});
  }
  ASSERT_TRUE(store_->Write(b, true).ok());
  int seen = 0;
  ASSERT_TRUE(store_->ScanRecords(RecordKind::kAudit, store_keys::U64Key(100),
                                  [&](std::string_view key, std::string_view value) {
                                    const std::uint64_t i = ReadBigEndian64(key);
                                    EXPECT_EQ(value, "entry " + std::to_string(i));
                                    Result<std::optional<std::string>> again =
                                        store_->GetRecord(RecordKind::kAudit, key);
                                    EXPECT_TRUE(again.ok() && **again == value);
                                    return ++seen < 400;
                                  })
                  .ok());
  EXPECT_EQ(seen, 400);
}

TEST_F(EncryptingMessageStoreTest, ReencryptionMovesEverythingToTheNewKeySoTheOldOneCanGo) {
  // Three conversations (with their records) and records of every kind,
  // written under key 1.
  std::map<std::pair<std::uint64_t, Seq>, std::string> messages;
  WriteBatch b;
  for (std::uint64_t c = 1; c <= 3; ++c) {
    b.records.push_back({RecordKind::kConversation, store_keys::U64Key(c), "group " + std::to_string(c)});
    for (Seq s = 1; s <= 25 * c; ++s) {
      if (s % 7 == 0) continue;  // gaps, as retention leaves them
      std::string text = "conversation " + std::to_string(c) + " message " + std::to_string(s);
      if (s == 3) text = std::string(70 << 10, 'x');
      messages[{c, s}] = text;
      b.messages.push_back({ConversationId(c), s, text});
    }
  }
  std::uint64_t record_count = 3;
  for (RecordKind kind : kEncrypted) {
    if (kind == RecordKind::kConversation) continue;
    for (int i = 0; i < 11; ++i) {
      b.records.push_back({kind, "r" + std::to_string(i), "value " + std::to_string(i)});
      ++record_count;
    }
  }
  b.records.push_back({RecordKind::kCursor, store_keys::U64Key(1, 1), store_keys::U64Key(5)});
  ASSERT_TRUE(store_->Write(b, true).ok());

  // A new key; some values are written under it before the re-encryption.
  ASSERT_TRUE(ring_->AddKeyAndSave().ok());
  ASSERT_EQ(ring_->active().id, 2u);
  WriteBatch newer;
  newer.messages.push_back({ConversationId(1), 1000, "written under key 2"});
  messages[{1, 1000}] = "written under key 2";
  ASSERT_TRUE(store_->Write(newer, true).ok());
  const std::uint64_t writes_before = inner_.writes();

  ReencryptionLimits small;
  small.max_batch_values = 7;
  small.max_batch_bytes = 1 << 20;
  Result<ReencryptionCounts> counts = ReencryptAll(inner_, *ring_, small);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->messages, messages.size());
  EXPECT_EQ(counts->records, record_count);
  // In bounded, synced batches.
  const std::uint64_t batches = inner_.writes() - writes_before;
  EXPECT_GE(batches, (messages.size() + record_count) / 7);
  EXPECT_EQ(inner_.synced_writes(), inner_.writes());

  for (std::uint64_t c = 1; c <= 3; ++c) {
    for (const StoredMessage& m : RawMessages(ConversationId(c))) {
      EXPECT_EQ(KeyIdOf(m.bytes), 2u) << c << "/" << m.seq;
    }
  }
  for (RecordKind kind : kEncrypted) {
    for (const auto& [key, value] : RawRecords(kind)) EXPECT_EQ(KeyIdOf(value), 2u);
  }
  // Plain records are left as they were.
  EXPECT_EQ(*inner_.GetRecord(RecordKind::kCursor, store_keys::U64Key(1, 1)),
            std::optional<std::string>(store_keys::U64Key(5)));

  // Without key 1, everything still reads back.
  ASSERT_TRUE(ring_->RetireAllButActiveAndSave().ok());
  Result<crypto::StorageKeyRing> reloaded = crypto::StorageKeyRing::Load(ring_->path());
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  ASSERT_EQ(reloaded->keys().size(), 1u);
  EncryptingMessageStore after(&inner_, &*reloaded);
  std::size_t read = 0;
  for (std::uint64_t c = 1; c <= 3; ++c) {
    Result<std::vector<StoredMessage>> all =
        after.ReadMessages(ConversationId(c), 0, kAll, ReadDirection::kForward, kAll);
    ASSERT_TRUE(all.ok()) << all.status();
    for (const StoredMessage& m : *all) {
      EXPECT_EQ(m.bytes, (messages[{c, m.seq}])) << c << "/" << m.seq;
      ++read;
    }
  }
  EXPECT_EQ(read, messages.size());
  for (int i = 0; i < 11; ++i) {
    Result<std::optional<std::string>> r = after.GetRecord(RecordKind::kReport, "r" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(**r, "value " + std::to_string(i));
  }
  Result<std::optional<std::string>> conversation =
      after.GetRecord(RecordKind::kConversation, store_keys::U64Key(2));
  ASSERT_TRUE(conversation.ok()) << conversation.status();
  EXPECT_EQ(**conversation, "group 2");
}

TEST_F(EncryptingMessageStoreTest, OnlyEncryptedRecordsCountAsEncryptedData) {
  Result<bool> empty = HoldsEncryptedData(inner_);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(*empty);
  WriteBatch plain;
  for (RecordKind kind : kPlain) plain.records.push_back({kind, "k", "v"});
  ASSERT_TRUE(store_->Write(plain, true).ok());
  EXPECT_FALSE(*HoldsEncryptedData(inner_));
  for (RecordKind kind : kEncrypted) {
    InMemoryMessageStore other;
    EncryptingMessageStore encrypted(&other, ring_.get());
    WriteBatch b;
    b.records.push_back({kind, "k", "v"});
    ASSERT_TRUE(encrypted.Write(b, true).ok());
    Result<bool> has = HoldsEncryptedData(other);
    ASSERT_TRUE(has.ok());
    EXPECT_TRUE(*has) << static_cast<char>(kind);
  }
}

TEST_F(EncryptingMessageStoreTest, ReencryptionOfAnEmptyStoreDoesNothing) {
  Result<ReencryptionCounts> counts = ReencryptAll(inner_, *ring_);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->messages, 0u);
  EXPECT_EQ(counts->records, 0u);
  EXPECT_EQ(inner_.writes(), 0u);
}

TEST_F(EncryptingMessageStoreTest, ReencryptionStopsAtAValueThatDoesNotOpen) {
  WriteBatch b;
  b.records.push_back({RecordKind::kConversation, store_keys::U64Key(1), "c"});
  b.messages.push_back({ConversationId(1), 1, "fine"});
  ASSERT_TRUE(store_->Write(b, true).ok());
  WriteBatch damaged;
  damaged.messages.push_back({ConversationId(1), 2, "not sealed at all"});
  ASSERT_TRUE(inner_.Write(damaged, true).ok());
  Result<ReencryptionCounts> counts = ReencryptAll(inner_, *ring_);
  ASSERT_FALSE(counts.ok());
  EXPECT_EQ(counts.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(counts.status().message().find("message 2 of conversation 1"), std::string::npos)
      << counts.status();
}

TEST_F(EncryptingMessageStoreTest, ReadsNameTheKeyFileWhenTheirKeyIsMissing) {
  WriteBatch b;
  b.messages.push_back({ConversationId(1), 1, "under key 1"});
  ASSERT_TRUE(store_->Write(b, true).ok());
  ASSERT_TRUE(ring_->AddKeyAndSave().ok());
  ASSERT_TRUE(ring_->RetireAllButActiveAndSave().ok());  // without re-encrypting: a mistake
  Result<std::vector<StoredMessage>> read =
      store_->ReadMessages(ConversationId(1), 0, 1, ReadDirection::kForward, kAll);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(read.status().message().find("key 1, which is not in the key file " + ring_->path()),
            std::string::npos)
      << read.status();
}

TEST_F(EncryptingMessageStoreTest, AnAuditEntryAlteredInTheStoreIsNamedByVerify) {
  FakeClock clock;
  AuditLog log(&clock);
  ASSERT_TRUE(log.Load(*store_).ok());
  for (int i = 0; i < 4; ++i) {
    WriteBatch b;
    log.Append(AuditActor{UserId(1), "root", DeviceId(1)}, "user.add", "user:u" + std::to_string(i),
               "{}", &b);
    ASSERT_TRUE(store_->Write(b, true).ok());
  }
  Result<AuditVerification> whole = AuditLog::Verify(*store_);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->whole);
  EXPECT_EQ(whole->records, 4u);

  // Someone with access to the files flips one byte of entry 3.
  std::map<std::string, std::string> raw = RawRecords(RecordKind::kAudit);
  std::string key = store_keys::U64Key(3);
  ASSERT_EQ(raw.count(key), 1u);
  std::string altered = raw[key];
  altered[altered.size() / 2] ^= 0x01;
  WriteBatch tamper;
  tamper.records.push_back({RecordKind::kAudit, key, altered});
  ASSERT_TRUE(inner_.Write(tamper, true).ok());

  Result<AuditVerification> broken = AuditLog::Verify(*store_);
  ASSERT_TRUE(broken.ok()) << broken.status();
  EXPECT_FALSE(broken->whole);
  EXPECT_EQ(broken->first_broken_seq, 3u);
  EXPECT_NE(broken->message.find("entry 3"), std::string::npos) << broken->message;

  // The broker still starts and goes on after the newest entry.
  AuditLog reloaded(&clock);
  ASSERT_TRUE(reloaded.Load(*store_).ok());
  EXPECT_EQ(reloaded.last_seq(), 4u);
}

}  // namespace
}  // namespace chatpro::core
