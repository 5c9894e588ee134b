// SPDX-License-Identifier: Apache-2.0
//
// Backup manifests and their verification, and the store format table.
#include "broker/core/backup.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "broker/base/clock.h"
#include "broker/core/in_memory_message_store.h"
#include "broker/core/store_format.h"

namespace chatpro::core {
namespace {

namespace fs = std::filesystem;

class TempFolder {
 public:
  TempFolder() {
    std::random_device random;
    path_ = fs::path(::testing::TempDir()) /
            ("chatpro_backup_test_" + std::to_string(random()) + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

void Write(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void FlipByte(const std::string& path, std::size_t at) {
  std::string bytes = Read(path);
  ASSERT_LT(at, bytes.size());
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  Write(path, bytes);
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A backup folder by hand: three files and a manifest listing them.
BackupManifest MakeBackup(const std::string& dir, int store_format = kStoreFormat) {
  Write(dir + "/store/000005.ldb", std::string(5000, 'x') + "table");
  Write(dir + "/blobs/00000001.blob", std::string(70000, 'b'));
  Write(dir + "/storage.key", "key 1 00\nactive 1\n");
  BackupManifest m;
  m.name = "nightly";
  m.started_at_us = 1'700'000'000'000'000;
  m.finished_at_us = 1'700'000'001'000'000;
  m.broker_version = "0.1.0";
  m.store_format = store_format;
  m.store_id = "00112233445566778899aabbccddeeff";
  m.records = 7;
  m.messages = 40;
  m.blobs = 1;
  m.bytes = 75000;
  for (const char* rel : {"blobs/00000001.blob", "storage.key", "store/000005.ldb"}) {
    Result<BackupFileEntry> e = HashBackupFile(dir + "/" + rel);
    EXPECT_TRUE(e.ok()) << e.status();
    e->path = rel;
    m.files.push_back(*e);
  }
  Write(dir + "/MANIFEST", EncodeBackupManifest(m));
  return m;
}

TEST(BackupManifest, RoundTripsThroughItsText) {
  TempFolder tmp;
  BackupManifest m = MakeBackup(tmp.path());
  Result<BackupManifest> back = ParseBackupManifest(EncodeBackupManifest(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name, "nightly");
  EXPECT_EQ(back->started_at_us, m.started_at_us);
  EXPECT_EQ(back->store_format, kStoreFormat);
  EXPECT_EQ(back->store_id, m.store_id);
  EXPECT_EQ(back->messages, 40u);
  ASSERT_EQ(back->files.size(), 3u);
  EXPECT_EQ(back->files[2].path, "store/000005.ldb");
  EXPECT_EQ(back->files[2].bytes, 5005u);
  EXPECT_EQ(back->files[2].blake2b, m.files[2].blake2b);
}

TEST(BackupManifest, AnIntactBackupVerifies) {
  TempFolder tmp;
  MakeBackup(tmp.path());
  Result<BackupManifest> m = VerifyBackup(tmp.path());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->files.size(), 3u);
}

TEST(BackupManifest, AFlippedByteInACopiedFileIsRefusedNamingTheFile) {
  TempFolder tmp;
  MakeBackup(tmp.path());
  FlipByte(tmp.Sub("blobs/00000001.blob"), 12345);
  Result<BackupManifest> m = VerifyBackup(tmp.path());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(m.status().message(), "blobs/00000001.blob is damaged")) << m.status();
}

TEST(BackupManifest, AMissingOrShortenedFileIsRefused) {
  TempFolder tmp;
  MakeBackup(tmp.path());
  Write(tmp.Sub("storage.key"), "key 1 00\n");
  Result<BackupManifest> shortened = VerifyBackup(tmp.path());
  ASSERT_FALSE(shortened.ok());
  EXPECT_TRUE(Contains(shortened.status().message(), "storage.key is damaged"))
      << shortened.status();
  fs::remove(tmp.Sub("store/000005.ldb"));
  MakeBackup(tmp.path());
  fs::remove(tmp.Sub("store/000005.ldb"));
  Result<BackupManifest> missing = VerifyBackup(tmp.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.status().message(), "store/000005.ldb is missing"))
      << missing.status();
}

TEST(BackupManifest, ADamagedManifestIsRefused) {
  TempFolder tmp;
  MakeBackup(tmp.path());
  FlipByte(tmp.Sub("MANIFEST"), 30);
  Result<BackupManifest> m = VerifyBackup(tmp.path());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(m.status().message(), "MANIFEST is damaged")) << m.status();

  Result<BackupManifest> none = VerifyBackup(tmp.Sub("nothing-here"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
}

TEST(BackupManifest, PathsThatLeaveTheBackupAreRefused) {
  for (const char* bad : {"../outside", "/etc/passwd", "store/../../x", "store//x", "a\\b", ""}) {
    BackupManifest m;
    m.name = "n";
    m.store_format = kStoreFormat;
    m.files.push_back({bad, 1, std::string(64, '0')});
    Result<BackupManifest> parsed = ParseBackupManifest(EncodeBackupManifest(m));
    EXPECT_FALSE(parsed.ok()) << "accepted '" << bad << "'";
  }
}

TEST(BackupManifest, ABackupOfANewerStoreFormatIsRefused) {
  TempFolder tmp;
  MakeBackup(tmp.path(), kStoreFormat + 1);
  Result<BackupManifest> m = VerifyBackup(tmp.path());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(m.status().message(), "newer broker")) << m.status();
}

TEST(BackupNames, AreSingleFolderNames) {
  for (const char* ok : {"nightly", "2026-11-25", "a", "chatpro-20261125-020000", "x.y_z"}) {
    EXPECT_TRUE(ValidateBackupName(ok).ok()) << ok;
  }
  for (const char* bad :
       {"", ".", "..", ".hidden", "a/b", "../x", "a b", "-x",
        "0123456789012345678901234567890123456789012345678901234567890123456789"}) {
    EXPECT_FALSE(ValidateBackupName(bad).ok()) << bad;
  }
}

TEST(WriteBackup, AStoreThatCannotCopyItselfLeavesNothingBehind) {
  TempFolder tmp;
  InMemoryMessageStore store;
  SystemClock clock;
  BackupPlan plan;
  plan.name = "b1";
  plan.setup.dir = tmp.Sub("backups");
  plan.store_format = kStoreFormat;
  Result<BackupManifest> m = WriteBackup(store, plan, clock, {});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs::is_empty(tmp.Sub("backups")));
}

// ------------------------------------------------------------------ store format

TEST(StoreFormat, ANewStoreGetsTheCurrentFormatAndAnId) {
  InMemoryMessageStore store;
  ASSERT_EQ(*ReadStoreFormat(store), 0);
  WriteBatch b;
  InitStoreFormat(&b);
  ASSERT_TRUE(store.Write(b, true).ok());
  EXPECT_EQ(*ReadStoreFormat(store), kStoreFormat);
  EXPECT_EQ(ReadStoreId(store)->size(), 32u);
}

TEST(StoreFormat, AFormat2StoreIsMigratedStepByStepWithItsNote) {
  InMemoryMessageStore store;
  WriteBatch b;
  b.records.push_back({RecordKind::kMeta, "format", std::string("2")});
  ASSERT_TRUE(store.Write(b, true).ok());
  int notes = 0;
  Result<std::vector<const StoreMigration*>> steps =
      MigrateStore(store, 2, [&](const StoreMigration& step, WriteBatch* batch) {
        ++notes;
        EXPECT_EQ(step.from, 2);
        batch->records.push_back({RecordKind::kMeta, "noted", std::string("yes")});
      });
  ASSERT_TRUE(steps.ok()) << steps.status();
  ASSERT_EQ(steps->size(), static_cast<std::size_t>(kStoreFormat - 2));
  EXPECT_EQ(notes, kStoreFormat - 2);
  EXPECT_EQ(*ReadStoreFormat(store), kStoreFormat);
  std::string id = *ReadStoreId(store);
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(*store.GetRecord(RecordKind::kMeta, "noted"), std::optional<std::string>("yes"));

  // Idempotent: running the step again keeps the id.
  WriteBatch again;
  ASSERT_TRUE(StoreMigrations().front().apply(store, &again).ok());
  EXPECT_TRUE(again.records.empty());
}

TEST(StoreFormat, NewerAndTooOldStoresAreRefusedWithWhatToDo) {
  Status newer = CheckStoreFormat(kStoreFormat + 1);
  EXPECT_EQ(newer.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(newer.message(),
                       "made by a newer broker (format " + std::to_string(kStoreFormat + 1) +
                           "); this broker reads up to " + std::to_string(kStoreFormat) +
                           ": upgrade the broker or restore a backup"))
      << newer;
  Status old = CheckStoreFormat(1);
  EXPECT_EQ(old.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(old.message(), "cannot migrate")) << old;
  EXPECT_TRUE(CheckStoreFormat(0).ok());
  EXPECT_TRUE(CheckStoreFormat(kOldestMigratableFormat).ok());
  EXPECT_TRUE(CheckStoreFormat(kStoreFormat).ok());

  InMemoryMessageStore store;
  WriteBatch b;
  b.records.push_back({RecordKind::kMeta, "format", std::string("two")});
  ASSERT_TRUE(store.Write(b, true).ok());
  EXPECT_EQ(ReadStoreFormat(store).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace chatpro::core
