// SPDX-License-Identifier: Apache-2.0
//
// What only the LevelDB store has: files on disk, a lock per data directory,
// recovery after a restart, and the translation of LevelDB's errors. The
// behaviour shared with the in-memory store is in
// message_store_conformance_test.cc.
#include "broker/store/leveldb_message_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <leveldb/db.h>
#include <leveldb/options.h>
#include <leveldb/status.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker/config/options.h"
#include "broker/core/message_store.h"
#include "broker/store/leveldb_status.h"
#include "broker/store/tests/store_test_util.h"

namespace chatpro::store {
namespace {

namespace fs = std::filesystem;
using core::ReadDirection;
using core::RecordKind;
using core::WriteBatch;

StoreOptions OptionsFor(const std::string& data_dir) {
  StoreOptions options;
  options.data_dir = data_dir;
  options.cache_bytes = 8 << 20;
  options.write_buffer_bytes = 4 << 20;
  return options;
}

std::unique_ptr<LevelDbMessageStore> MustOpen(const StoreOptions& options) {
  Result<std::unique_ptr<LevelDbMessageStore>> r = LevelDbMessageStore::Open(options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? std::move(r).value() : nullptr;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(LevelDbMessageStore, DataSurvivesCloseAndReopen) {
  testing::TempDir dir;
  const StoreOptions options = OptionsFor(dir.Sub("data"));
  {
    std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
    ASSERT_NE(store, nullptr);
    WriteBatch batch;
    batch.messages.push_back({ConversationId(1), 1, "hello"});
    batch.messages.push_back({ConversationId(1), 2, "world"});
    batch.records.push_back({RecordKind::kUser, "ana", "record"});
    ASSERT_TRUE(store->Write(batch, /*sync=*/true).ok());
    WriteBatch unsynced;
    unsynced.messages.push_back({ConversationId(1), 3, "os only"});
    ASSERT_TRUE(store->Write(unsynced, /*sync=*/false).ok());
  }
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  auto messages = store->ReadMessages(ConversationId(1), 0, 10, ReadDirection::kForward, ~std::uint64_t{0});
  ASSERT_TRUE(messages.ok()) << messages.status();
  ASSERT_EQ(messages->size(), 3u);
  EXPECT_EQ((*messages)[0].bytes, "hello");
  EXPECT_EQ((*messages)[1].bytes, "world");
  // A clean close flushes what the OS had; only a power cut could lose it.
  EXPECT_EQ((*messages)[2].bytes, "os only");
  auto last = store->LastSeq(ConversationId(1));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 3u);
  auto record = store->GetRecord(RecordKind::kUser, "ana");
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(*record, std::optional<std::string>("record"));
}

TEST(LevelDbMessageStore, ReadsEverythingBackOnceTheMemtableHasBeenFlushedToTables) {
  testing::TempDir dir;
  StoreOptions options = OptionsFor(dir.Sub("data"));
  options.write_buffer_bytes = 64 << 10;  // LevelDB's smallest: many table files
  constexpr Seq kMessages = 3000;
  const std::string body(200, 'b');
  {
    std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
    ASSERT_NE(store, nullptr);
    for (Seq seq = 1; seq <= kMessages; ++seq) {
      WriteBatch batch;
      batch.messages.push_back({ConversationId(seq % 3), seq, body + std::to_string(seq)});
      batch.records.push_back(
          {RecordKind::kCursor, core::store_keys::U64Key(seq % 3), core::store_keys::U64Key(seq)});
      ASSERT_TRUE(store->Write(batch, /*sync=*/false).ok());
    }
  }
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  std::size_t seen = 0;
  for (std::uint64_t conversation = 0; conversation < 3; ++conversation) {
    auto r =
        store->ReadMessages(ConversationId(conversation), 0, kMessages, ReadDirection::kForward, ~std::uint64_t{0});
    ASSERT_TRUE(r.ok()) << r.status();
    for (const core::StoredMessage& m : *r) {
      EXPECT_EQ(m.seq % 3, conversation);
      EXPECT_EQ(m.bytes, body + std::to_string(m.seq));
    }
    seen += r->size();
    auto last = store->LastSeq(ConversationId(conversation));
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(*last, kMessages - (kMessages - conversation) % 3);
  }
  EXPECT_EQ(seen, kMessages);
  EXPECT_GT(store->ApproximateSizeBytes(), 64u << 10);
}

TEST(LevelDbMessageStore, ASecondOpenOfTheSameDataDirectoryFailsNamingIt) {
  testing::TempDir dir;
  const StoreOptions options = OptionsFor(dir.Sub("data"));
  std::unique_ptr<LevelDbMessageStore> first = MustOpen(options);
  ASSERT_NE(first, nullptr);

  Result<std::unique_ptr<LevelDbMessageStore>> second = LevelDbMessageStore::Open(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition) << second.status();
  EXPECT_TRUE(Contains(second.status().message(), "the data directory " + options.data_dir))
      << second.status();
  EXPECT_TRUE(Contains(second.status().message(), "in use")) << second.status();

  // The first store is unharmed, and closing it frees the directory.
  WriteBatch batch;
  batch.records.push_back({RecordKind::kMeta, "version", "1"});
  EXPECT_TRUE(first->Write(batch, true).ok());
  first.reset();
  std::unique_ptr<LevelDbMessageStore> third = MustOpen(options);
  ASSERT_NE(third, nullptr);
  auto version = third->GetRecord(RecordKind::kMeta, "version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, std::optional<std::string>("1"));
}

TEST(LevelDbMessageStore, ADataDirectoryThatIsAFileIsRefusedClearly) {
  testing::TempDir dir;
  const std::string file = dir.Sub("not-a-directory");
  std::ofstream(file) << "x";
  Result<std::unique_ptr<LevelDbMessageStore>> r = LevelDbMessageStore::Open(OptionsFor(file));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status();
  EXPECT_EQ(r.status().message(), "the data directory " + file + " exists but is not a directory");
}

TEST(LevelDbMessageStore, ADataDirectoryInsideAFileIsAnIoErrorNamingIt) {
  testing::TempDir dir;
  const std::string file = dir.Sub("file");
  std::ofstream(file) << "x";
  const std::string data_dir = file + "/data";
  Result<std::unique_ptr<LevelDbMessageStore>> r = LevelDbMessageStore::Open(OptionsFor(data_dir));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().code() == StatusCode::kIoError ||
              r.status().code() == StatusCode::kFailedPrecondition)
      << r.status();
  EXPECT_TRUE(Contains(r.status().message(), data_dir)) << r.status();
}

TEST(LevelDbMessageStore, AnEmptyDataDirectoryOptionIsAnInvalidArgument) {
  Result<std::unique_ptr<LevelDbMessageStore>> r = LevelDbMessageStore::Open(StoreOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status();
}

TEST(LevelDbMessageStore, KeepsTheDatabaseInTheStoreSubdirectory) {
  testing::TempDir dir;
  const std::string data_dir = dir.Sub("a/b/data");
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(OptionsFor(data_dir + "/"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->data_dir(), data_dir);
  EXPECT_EQ(store->store_dir(), data_dir + "/store");
  EXPECT_TRUE(fs::is_regular_file(fs::path(data_dir) / "store" / "CURRENT"));
  EXPECT_TRUE(fs::is_regular_file(fs::path(data_dir) / "store" / "LOCK"));
}

#ifndef _WIN32
TEST(LevelDbMessageStore, CreatesAMissingDataDirectoryForItsOwnerOnly) {
  testing::TempDir dir;
  const std::string data_dir = dir.Sub("data");
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(OptionsFor(data_dir));
  ASSERT_NE(store, nullptr);
  const fs::perms perms = fs::status(data_dir).permissions();
  EXPECT_EQ(perms & fs::perms::all, fs::perms::owner_all);
}
#endif

TEST(LevelDbMessageStore, ApproximateSizeBytesGrowsWithTheData) {
  testing::TempDir dir;
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(OptionsFor(dir.Sub("data")));
  ASSERT_NE(store, nullptr);
  const std::uint64_t before = store->ApproximateSizeBytes();
  WriteBatch batch;
  // Not compressible, so the log and tables really hold about this much.
  std::string noise(1 << 20, '\0');
  std::uint64_t x = 88172645463325252ull;
  for (char& c : noise) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  batch.messages.push_back({ConversationId(1), 1, noise});
  ASSERT_TRUE(store->Write(batch, true).ok());
  EXPECT_GE(store->ApproximateSizeBytes(), before + noise.size());
}

TEST(LevelDbMessageStore, AWriteOnAFullDiskIsResourceExhaustedAndNamesTheDataDirectory) {
  testing::TempDir dir;
  testing::DiskFullEnv env;
  const StoreOptions options = OptionsFor(dir.Sub("data"));
  Result<std::unique_ptr<LevelDbMessageStore>> opened =
      LevelDbMessageStore::OpenWithEnv(options, &env);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<LevelDbMessageStore> store = std::move(opened).value();
  env.set_failing(true);
  WriteBatch batch;
  batch.messages.push_back({ConversationId(1), 1, "m"});
  Status s = store->Write(batch, true);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s;
  EXPECT_TRUE(Contains(s.message(), "disk full writing the store")) << s;
  EXPECT_TRUE(Contains(s.message(), options.data_dir)) << s;
  store.reset();  // before the Env it uses
}

// The messages 1..count of conversation 1 as stored, "" for a missing seq.
std::vector<std::string> ReadConversation(LevelDbMessageStore& store, Seq count) {
  std::vector<std::string> out(count);
  Result<std::vector<core::StoredMessage>> read =
      store.ReadMessages(ConversationId(1), 1, 1000, ReadDirection::kForward, 1ull << 30);
  EXPECT_TRUE(read.ok()) << read.status();
  if (!read.ok()) return out;
  for (const core::StoredMessage& m : *read) {
    if (m.seq >= 1 && m.seq <= count) out[m.seq - 1] = m.bytes;
  }
  return out;
}

WriteBatch OneMessage(Seq seq, std::string bytes) {
  WriteBatch batch;
  batch.messages.push_back({ConversationId(1), seq, std::move(bytes)});
  return batch;
}

// Regression: a log append cut short by a full disk left half a record in
// LevelDB's log, and the writes that succeeded after it (acknowledged to
// their senders) were appended behind it; at the next open LevelDB dropped
// the rest of that log block as corrupt, and those messages with it.
TEST(LevelDbMessageStore, EveryWriteThatSucceededAfterAHalfWrittenLogRecordSurvivesAReopen) {
  testing::TempDir dir;
  const StoreOptions options = OptionsFor(dir.Sub("data"));
  {
    testing::DiskFullEnv env;
    Result<std::unique_ptr<LevelDbMessageStore>> opened =
        LevelDbMessageStore::OpenWithEnv(options, &env);
    ASSERT_TRUE(opened.ok()) << opened.status();
    std::unique_ptr<LevelDbMessageStore> store = std::move(opened).value();
    ASSERT_TRUE(store->Write(OneMessage(1, "before the disk filled"), true).ok());
    env.set_failing(true);
    env.set_partial_appends(true);
    Status full = store->Write(OneMessage(2, std::string(1000, 'x')), true);
    EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full;
    // Space is back: the same batch is retried, then the flow goes on.
    env.set_failing(false);
    Status retried = store->Write(OneMessage(2, std::string(1000, 'x')), true);
    ASSERT_TRUE(retried.ok()) << retried;
    for (Seq seq = 3; seq <= 10; ++seq) {
      Status st = store->Write(OneMessage(seq, "after " + std::to_string(seq)), true);
      ASSERT_TRUE(st.ok()) << st;
    }
    // Readers saw every write while it ran.
    std::vector<std::string> live = ReadConversation(*store, 10);
    EXPECT_EQ(live[9], "after 10");
    store.reset();  // before the Env it uses
  }
  std::unique_ptr<LevelDbMessageStore> reopened = MustOpen(options);
  ASSERT_NE(reopened, nullptr);
  std::vector<std::string> stored = ReadConversation(*reopened, 10);
  EXPECT_EQ(stored[0], "before the disk filled");
  EXPECT_EQ(stored[1], std::string(1000, 'x'));
  for (Seq seq = 3; seq <= 10; ++seq) {
    EXPECT_EQ(stored[seq - 1], "after " + std::to_string(seq)) << "acknowledged write lost";
  }
}

// A failed sync makes LevelDB refuse every later write with the same error,
// even once the disk has room again; the store reopens the database instead
// of staying unwritable until the broker is restarted.
TEST(LevelDbMessageStore, WritesSucceedAgainAfterAFailedSyncOnceTheDiskHasRoom) {
  testing::TempDir dir;
  const StoreOptions options = OptionsFor(dir.Sub("data"));
  testing::DiskFullEnv env;
  Result<std::unique_ptr<LevelDbMessageStore>> opened =
      LevelDbMessageStore::OpenWithEnv(options, &env);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<LevelDbMessageStore> store = std::move(opened).value();
  ASSERT_TRUE(store->Write(OneMessage(1, "one"), true).ok());
  env.set_failing_syncs(true);
  Status failed = store->Write(OneMessage(2, "two"), true);
  EXPECT_EQ(failed.code(), StatusCode::kResourceExhausted) << failed;
  // Reads go on while writes fail.
  EXPECT_EQ(ReadConversation(*store, 1)[0], "one");
  env.set_failing_syncs(false);
  Status retried = store->Write(OneMessage(2, "two"), true);
  ASSERT_TRUE(retried.ok()) << retried;
  ASSERT_TRUE(store->Write(OneMessage(3, "three"), true).ok());
  EXPECT_EQ(ReadConversation(*store, 3), (std::vector<std::string>{"one", "two", "three"}));
  store.reset();
  std::unique_ptr<LevelDbMessageStore> reopened = MustOpen(options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(ReadConversation(*reopened, 3), (std::vector<std::string>{"one", "two", "three"}));
}

// ---- translation of leveldb::Status -------------------------------------------

std::uint64_t FolderBytes(const std::string& dir) {
  std::uint64_t total = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

TEST(LevelDbMessageStore, LargeMessagesLiveInBlobFilesAndSurviveAReopen) {
  testing::TempDir dir;
  const StoreOptions options = OptionsFor(dir.Sub("data"));
  std::string picture(300 << 10, '\0');
  for (size_t i = 0; i < picture.size(); ++i) picture[i] = static_cast<char>(i * 31);
  std::string voice(64 << 10, 'v');
  {
    std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
    ASSERT_NE(store, nullptr);
    WriteBatch batch;
    batch.messages.push_back({ConversationId(1), 1, picture});
    batch.messages.push_back({ConversationId(1), 2, "small"});
    batch.messages.push_back({ConversationId(1), 3, voice});
    ASSERT_TRUE(store->Write(batch, /*sync=*/true).ok());
    // The big values went to blob files, not into LevelDB.
    EXPECT_GE(FolderBytes(dir.Sub("data") + "/blobs"), picture.size() + voice.size());
    EXPECT_LT(FolderBytes(store->store_dir()), 64u << 10);
  }
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  auto messages =
      store->ReadMessages(ConversationId(1), 0, 10, ReadDirection::kForward, ~std::uint64_t{0});
  ASSERT_TRUE(messages.ok()) << messages.status();
  ASSERT_EQ(messages->size(), 3u);
  EXPECT_EQ((*messages)[0].bytes, picture);
  EXPECT_EQ((*messages)[1].bytes, "small");
  EXPECT_EQ((*messages)[2].bytes, voice);
  // A byte budget counts the blobs' real size.
  auto budget = store->ReadMessages(ConversationId(1), 0, 10, ReadDirection::kForward, 1000);
  ASSERT_TRUE(budget.ok());
  EXPECT_EQ(budget->size(), 1u);
}

std::uint64_t AllocatedBytes(const std::string& dir) {
  std::uint64_t total = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    struct stat st;
    if (::stat(entry.path().c_str(), &st) == 0) total += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

bool FolderContains(const std::string& dir, const std::string& needle) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(LevelDbMessageStore, ADeletedOrReplacedPictureIsGoneFromTheBlobFiles) {
  testing::TempDir dir;
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(OptionsFor(dir.Sub("data")));
  ASSERT_NE(store, nullptr);
  std::string marker = "PICTURE-MARKER-7f3a";
  auto picture = [&](char fill) {
    std::string p(512 << 10, fill);
    for (size_t i = 0; i < p.size(); i += 4096) p.replace(i, marker.size(), marker);
    return p;
  };
  WriteBatch put;
  put.messages.push_back({ConversationId(1), 1, picture('a')});
  put.messages.push_back({ConversationId(1), 2, picture('b')});
  ASSERT_TRUE(store->Write(put, true).ok());
  const std::string blobs = dir.Sub("data") + "/blobs";
  std::uint64_t before = AllocatedBytes(blobs);
  ASSERT_TRUE(FolderContains(blobs, marker));

  WriteBatch remove;
  remove.message_deletes.push_back({ConversationId(1), 1});
  remove.messages.push_back({ConversationId(1), 2, "text only now", /*replaces=*/true});
  ASSERT_TRUE(store->Write(remove, true).ok());
  // Both pictures' bytes are punched out of the file, not just unreferenced.
  EXPECT_FALSE(FolderContains(blobs, marker));
  EXPECT_LT(AllocatedBytes(blobs), before - (900u << 10));
  auto left = store->ReadMessages(ConversationId(1), 0, 10, ReadDirection::kForward, ~std::uint64_t{0});
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].bytes, "text only now");
}

std::string Text(Seq seq) { return "TEXT-" + std::to_string(seq) + "-" + std::string(250, 't'); }

TEST(LevelDbMessageStore, TextsLiveInBlobFilesSoLevelDbHoldsOnlyPointers) {
  testing::TempDir dir;
  const StoreOptions options = OptionsFor(dir.Sub("data"));
  {
    std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
    ASSERT_NE(store, nullptr);
    // Two conversations interleaved in the same batches, as live traffic writes them.
    for (Seq first = 1; first <= 3000; first += 1000) {
      WriteBatch batch;
      for (Seq seq = first; seq < first + 1000; ++seq) {
        batch.messages.push_back({ConversationId(1), seq, Text(seq)});
        batch.messages.push_back({ConversationId(2), seq, "other " + std::to_string(seq)});
      }
      ASSERT_TRUE(store->Write(batch, /*sync=*/false).ok());
    }
    EXPECT_FALSE(FolderContains(store->store_dir(), "TEXT-17-"));
    EXPECT_TRUE(FolderContains(dir.Sub("data") + "/blobs", "TEXT-17-"));
  }
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  auto forward =
      store->ReadMessages(ConversationId(1), 1, 5000, ReadDirection::kForward, ~std::uint64_t{0});
  ASSERT_TRUE(forward.ok()) << forward.status();
  ASSERT_EQ(forward->size(), 3000u);
  for (Seq seq = 1; seq <= 3000; ++seq) {
    ASSERT_EQ((*forward)[seq - 1].seq, seq);
    ASSERT_EQ((*forward)[seq - 1].bytes, Text(seq));
  }
  auto backward =
      store->ReadMessages(ConversationId(2), 2500, 100, ReadDirection::kBackward, ~std::uint64_t{0});
  ASSERT_TRUE(backward.ok()) << backward.status();
  ASSERT_EQ(backward->size(), 100u);
  for (std::size_t i = 0; i < backward->size(); ++i) {
    EXPECT_EQ((*backward)[i].seq, 2500 - i);
    EXPECT_EQ((*backward)[i].bytes, "other " + std::to_string(2500 - i));
  }
}

TEST(LevelDbMessageStore, RemovedTextsAreGoneFromTheBlobFilesAndTheirNeighboursStay) {
  testing::TempDir dir;
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(OptionsFor(dir.Sub("data")));
  ASSERT_NE(store, nullptr);
  WriteBatch put;
  for (Seq seq = 1; seq <= 2000; ++seq) put.messages.push_back({ConversationId(1), seq, Text(seq)});
  ASSERT_TRUE(store->Write(put, true).ok());
  const std::string blobs = dir.Sub("data") + "/blobs";
  const std::uint64_t before = AllocatedBytes(blobs);

  // What a retention run removes: the oldest run of a conversation, plus a
  // few messages here and there.
  WriteBatch remove;
  for (Seq seq = 1; seq <= 1500; ++seq) remove.message_deletes.push_back({ConversationId(1), seq});
  remove.message_deletes.push_back({ConversationId(1), 1700});
  remove.message_deletes.push_back({ConversationId(1), 1900});
  ASSERT_TRUE(store->Write(remove, true).ok());
  EXPECT_FALSE(FolderContains(blobs, "TEXT-1-"));
  EXPECT_FALSE(FolderContains(blobs, "TEXT-1499-"));
  EXPECT_FALSE(FolderContains(blobs, "TEXT-1700-"));
  EXPECT_FALSE(FolderContains(blobs, "TEXT-1900-"));
  // Whole blocks of the removed run went back to the file system.
  EXPECT_LT(AllocatedBytes(blobs), before - 256u * 1500 * 9 / 10);
  auto left = store->ReadMessages(ConversationId(1), 0, 5000, ReadDirection::kForward,
                                  ~std::uint64_t{0});
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 498u);
  for (const auto& m : *left) {
    EXPECT_GT(m.seq, 1500u);
    EXPECT_NE(m.seq, 1700u);
    EXPECT_NE(m.seq, 1900u);
    EXPECT_EQ(m.bytes, Text(m.seq));
  }
}

TEST(LevelDbMessageStore, ValuesKeptInLevelDbByEarlierVersionsAreStillRead) {
  testing::TempDir dir;
  const StoreOptions options = OptionsFor(dir.Sub("data"));
  {
    std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
    ASSERT_NE(store, nullptr);
    WriteBatch batch;
    batch.messages.push_back({ConversationId(4), 2, "kept as a blob"});
    ASSERT_TRUE(store->Write(batch, true).ok());
  }
  {
    // Earlier versions stored values under 64 KiB inline.
    leveldb::DB* raw = nullptr;
    leveldb::Options o;
    ASSERT_TRUE(leveldb::DB::Open(o, dir.Sub("data") + "/store", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), core::store_keys::MessageKey(ConversationId(4), 1),
                        "stored inline")
                    .ok());
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), core::store_keys::MessageKey(ConversationId(4), 3),
                        "also inline")
                    .ok());
  }
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  for (ReadDirection direction : {ReadDirection::kForward, ReadDirection::kBackward}) {
    auto all = store->ReadMessages(ConversationId(4), direction == ReadDirection::kForward ? 0 : 9,
                                   10, direction, ~std::uint64_t{0});
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->size(), 3u);
    std::vector<std::string> texts;
    for (const auto& m : *all) texts.push_back(m.bytes);
    if (direction == ReadDirection::kBackward) std::reverse(texts.begin(), texts.end());
    EXPECT_EQ(texts, (std::vector<std::string>{"stored inline", "kept as a blob", "also inline"}));
  }
  // Removing an inline value frees no blob and fails nothing.
  WriteBatch remove;
  remove.message_deletes.push_back({ConversationId(4), 1});
  ASSERT_TRUE(store->Write(remove, true).ok());
}

TEST(LevelDbMessageStore, ASmallValueThatLooksLikeABlobPointerIsKeptAsIs) {
  testing::TempDir dir;
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(OptionsFor(dir.Sub("data")));
  ASSERT_NE(store, nullptr);
  std::string tricky = std::string("\xff" "CPBLOB" "\xff", 8) + std::string(20, '\0');
  WriteBatch batch;
  batch.messages.push_back({ConversationId(2), 1, tricky});
  ASSERT_TRUE(store->Write(batch, /*sync=*/false).ok());
  auto messages =
      store->ReadMessages(ConversationId(2), 1, 1, ReadDirection::kForward, ~std::uint64_t{0});
  ASSERT_TRUE(messages.ok()) << messages.status();
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ((*messages)[0].bytes, tricky);
}

TEST(LevelDbMessageStore, ABlobFileCutShortIsReportedAsDataLoss) {
  testing::TempDir dir;
  std::unique_ptr<LevelDbMessageStore> store = MustOpen(OptionsFor(dir.Sub("data")));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.messages.push_back({ConversationId(3), 1, std::string(100 << 10, 'p')});
  ASSERT_TRUE(store->Write(batch, /*sync=*/true).ok());
  for (const auto& entry : fs::directory_iterator(dir.Sub("data") + "/blobs")) {
    fs::resize_file(entry.path(), 1000);
  }
  auto messages =
      store->ReadMessages(ConversationId(3), 1, 1, ReadDirection::kForward, ~std::uint64_t{0});
  ASSERT_FALSE(messages.ok());
  EXPECT_EQ(messages.status().code(), StatusCode::kDataLoss) << messages.status();
}

TEST(FromLevelDbStatus, OkStaysOk) {
  EXPECT_TRUE(FromLevelDbStatus(leveldb::Status::OK(), "/x").ok());
}

TEST(FromLevelDbStatus, ALockHeldByAnotherProcessIsAFailedPreconditionNamingTheDataDirectory) {
  for (const char* detail : {"Resource temporarily unavailable", "already held by process"}) {
    Status s = FromLevelDbStatus(leveldb::Status::IOError("lock /x/store/LOCK", detail), "/x");
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
    EXPECT_TRUE(Contains(s.message(),
                         "the data directory /x is in use by another chatpro-broker "
                         "(LevelDB lock held"))
        << s;
    EXPECT_TRUE(Contains(s.message(), detail)) << s;
  }
}

TEST(FromLevelDbStatus, NoPermissionToOpenTheLockFileIsAnIoError) {
  Status s =
      FromLevelDbStatus(leveldb::Status::IOError("/x/store/LOCK", "Permission denied"), "/x");
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s;
  EXPECT_TRUE(Contains(s.message(), "Permission denied")) << s;
}

TEST(FromLevelDbStatus, NoSpaceLeftIsResourceExhausted) {
  for (const char* detail : {"No space left on device", "Disk quota exceeded",
                             "There is not enough space on the disk."}) {
    Status s = FromLevelDbStatus(leveldb::Status::IOError("/x/store/000005.log", detail), "/x");
    EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s;
    EXPECT_TRUE(Contains(s.message(), "disk full writing the store")) << s;
    EXPECT_TRUE(Contains(s.message(), detail)) << s;
  }
}

TEST(FromLevelDbStatus, CorruptionIsDataLoss) {
  Status s = FromLevelDbStatus(
      leveldb::Status::Corruption("block checksum mismatch", "/x/store/7.ldb"), "/x");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Contains(s.message(), "block checksum mismatch")) << s;
}

TEST(FromLevelDbStatus, OtherIoErrorsStayIoErrors) {
  Status s = FromLevelDbStatus(
      leveldb::Status::IOError("/x/store/000007.ldb", "Input/output error"), "/x");
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s;
  EXPECT_TRUE(Contains(s.message(), "/x")) << s;
  EXPECT_EQ(FromLevelDbStatus(leveldb::Status::NotFound("/x/store/000009.ldb"), "/x").code(),
            StatusCode::kIoError);
}

TEST(FromLevelDbStatus, FilesThatAreNotAStoreAreAFailedPrecondition) {
  Status s = FromLevelDbStatus(
      leveldb::Status::InvalidArgument("leveldb.BytewiseComparator",
                                       "does not match existing comparator other"),
      "/x");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(FromLevelDbStatus(leveldb::Status::NotSupported("compression"), "/x").code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace chatpro::store
