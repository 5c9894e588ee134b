// SPDX-License-Identifier: Apache-2.0
//
// Encryption at rest, checked where it matters: in the bytes of every file
// the LevelDB store leaves in its data directory (LevelDB's log, tables and
// manifest, and the blob files of large messages), with the
// core::EncryptingMessageStore in front of it as the broker runs it.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "broker/config/options.h"
#include "broker/core/encrypting_message_store.h"
#include "broker/core/message_store.h"
#include "broker/crypto/keys.h"
#include "broker/crypto/storage_key_ring.h"
#include "broker/store/leveldb_message_store.h"
#include "broker/store/tests/store_test_util.h"

namespace chatpro::store {
namespace {

namespace fs = std::filesystem;
using core::ReadDirection;
using core::RecordKind;
using core::WriteBatch;

const std::string kMarker = "PLAINTEXT-MARKER-4c1d9e-do-not-store";

StoreOptions OptionsFor(const std::string& data_dir) {
  StoreOptions options;
  options.data_dir = data_dir;
  options.cache_bytes = 8 << 20;
  options.write_buffer_bytes = 4 << 20;
  return options;
}

// A text and a 100 KiB "picture" (so that it goes to a blob file) with the
// marker at its start, middle and end, and records that name people.
WriteBatch MessagesWithTheMarker() {
  WriteBatch b;
  b.messages.push_back({ConversationId(1), 1, "see you at the gate, " + kMarker});
  std::string picture = kMarker;
  picture.append(50 << 10, 'P');
  picture += kMarker;
  picture.append(50 << 10, 'Q');
  picture += kMarker;
  b.messages.push_back({ConversationId(1), 2, std::move(picture)});
  b.records.push_back({RecordKind::kUser, core::store_keys::U64Key(1), "Ana Lima " + kMarker});
  b.records.push_back(
      {RecordKind::kConversation, core::store_keys::U64Key(1), "night shift " + kMarker});
  b.records.push_back({RecordKind::kAudit, core::store_keys::U64Key(1), "added " + kMarker});
  return b;
}

struct Finding {
  std::string file;
  std::uint64_t size = 0;
  bool has_marker = false;
};

// Every regular file under `dir`, read byte by byte.
std::vector<Finding> ReadEveryFile(const std::string& dir) {
  std::vector<Finding> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    EXPECT_TRUE(in.good()) << it->path();
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    out.push_back({fs::relative(it->path(), dir).string(), bytes.size(),
                   bytes.find(kMarker) != std::string::npos});
  }
  EXPECT_FALSE(ec) << ec.message();
  return out;
}

std::uint64_t BytesUnder(const std::vector<Finding>& files, const std::string& folder) {
  std::uint64_t n = 0;
  for (const Finding& f : files) {
    if (f.file.rfind(folder + "/", 0) == 0) n += f.size;
  }
  return n;
}

class EncryptedFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    // The key file outside the data directory, so that every file scanned
    // below is the store's.
    Result<crypto::StorageKeyRing> ring = crypto::StorageKeyRing::Create(dir_.Sub("storage.key"));
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = std::make_unique<crypto::StorageKeyRing>(std::move(ring).value());
  }

  testing::TempDir dir_;
  std::unique_ptr<crypto::StorageKeyRing> ring_;
};

TEST_F(EncryptedFilesTest, NoFileOfTheDataDirectoryHoldsTheTextOfAMessage) {
  const std::string data_dir = dir_.Sub("data");
  {
    Result<std::unique_ptr<LevelDbMessageStore>> store =
        LevelDbMessageStore::Open(OptionsFor(data_dir));
    ASSERT_TRUE(store.ok()) << store.status();
    core::EncryptingMessageStore encrypted(store->get(), ring_.get());
    const WriteBatch batch = MessagesWithTheMarker();
    ASSERT_TRUE(encrypted.Write(batch, /*sync=*/true).ok());
    // Read back through the encryption: the broker sees what it wrote.
    Result<std::vector<core::StoredMessage>> back =
        encrypted.ReadMessages(ConversationId(1), 0, 10, ReadDirection::kForward, ~0ull);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(back->size(), 2u);
    EXPECT_EQ((*back)[0].bytes, batch.messages[0].bytes);
    EXPECT_EQ((*back)[1].bytes, batch.messages[1].bytes);
    Result<std::optional<std::string>> user =
        encrypted.GetRecord(RecordKind::kUser, core::store_keys::U64Key(1));
    ASSERT_TRUE(user.ok()) << user.status();
    EXPECT_EQ(**user, "Ana Lima " + kMarker);
  }  // closed: LevelDB's files are complete

  std::vector<Finding> files = ReadEveryFile(data_dir);
  ASSERT_FALSE(files.empty());
  for (const Finding& f : files) {
    EXPECT_FALSE(f.has_marker) << f.file << " (" << f.size << " bytes) holds plaintext";
  }
  // The picture took the blob path, and the rest went to LevelDB: both were
  // scanned, not skipped.
  EXPECT_GT(BytesUnder(files, "blobs"), std::uint64_t{100 << 10});
  EXPECT_GT(BytesUnder(files, "store"), std::uint64_t{0});
}

TEST_F(EncryptedFilesTest, WithoutEncryptionTheSameScanFindsTheText) {
  // The control: the scan above would see plaintext if it were there.
  const std::string data_dir = dir_.Sub("plain");
  {
    Result<std::unique_ptr<LevelDbMessageStore>> store =
        LevelDbMessageStore::Open(OptionsFor(data_dir));
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Write(MessagesWithTheMarker(), /*sync=*/true).ok());
  }
  bool in_blobs = false;
  bool in_store = false;
  for (const Finding& f : ReadEveryFile(data_dir)) {
    if (!f.has_marker) continue;
    in_blobs = in_blobs || f.file.rfind("blobs/", 0) == 0;
    in_store = in_store || f.file.rfind("store/", 0) == 0;
  }
  EXPECT_TRUE(in_blobs);
  EXPECT_TRUE(in_store);
}

TEST_F(EncryptedFilesTest, ReopenedStoreReadsBackThroughTheKeyFile) {
  const std::string data_dir = dir_.Sub("data");
  const WriteBatch batch = MessagesWithTheMarker();
  {
    Result<std::unique_ptr<LevelDbMessageStore>> store =
        LevelDbMessageStore::Open(OptionsFor(data_dir));
    ASSERT_TRUE(store.ok()) << store.status();
    core::EncryptingMessageStore encrypted(store->get(), ring_.get());
    ASSERT_TRUE(encrypted.Write(batch, /*sync=*/true).ok());
  }
  Result<crypto::StorageKeyRing> ring = crypto::StorageKeyRing::Load(ring_->path());
  ASSERT_TRUE(ring.ok()) << ring.status();
  Result<std::unique_ptr<LevelDbMessageStore>> store =
      LevelDbMessageStore::Open(OptionsFor(data_dir));
  ASSERT_TRUE(store.ok()) << store.status();
  core::EncryptingMessageStore encrypted(store->get(), &*ring);
  Result<std::vector<core::StoredMessage>> back =
      encrypted.ReadMessages(ConversationId(1), 0, 10, ReadDirection::kForward, ~0ull);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].bytes, batch.messages[1].bytes);

  // Rotation on the real store: afterwards only the new key is needed.
  ASSERT_TRUE(ring->AddKeyAndSave().ok());
  Result<core::ReencryptionCounts> counts = core::ReencryptAll(**store, *ring);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->messages, 2u);
  EXPECT_EQ(counts->records, 3u);
  ASSERT_TRUE(ring->RetireAllButActiveAndSave().ok());
  back = encrypted.ReadMessages(ConversationId(1), 0, 10, ReadDirection::kForward, ~0ull);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].bytes, batch.messages[0].bytes);
  EXPECT_EQ((*back)[1].bytes, batch.messages[1].bytes);
}

}  // namespace
}  // namespace chatpro::store
