// SPDX-License-Identifier: Apache-2.0
#include "broker/crypto/storage_key_ring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "broker/crypto/keys.h"

namespace chatpro::crypto {
namespace {

class StorageKeyRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    char tmpl[] = "/tmp/chatpro-storage-keys-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/storage.key";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  StorageKeyRing MustCreate() {
    Result<StorageKeyRing> ring = StorageKeyRing::Create(path_);
    EXPECT_TRUE(ring.ok()) << ring.status();
    return std::move(ring).value();
  }

  void WriteFile(const std::string& text, mode_t mode = 0600) {
    ::unlink(path_.c_str());
    {
      std::ofstream out(path_);
      out << text;
    }
    ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
  }

  std::string ReadFile() {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
  std::string path_;
};

std::string Hex64(char digit) { return std::string(64, digit); }

TEST_F(StorageKeyRingTest, CreatedRingIsPrivateAndLoadsBackTheSameKey) {
  StorageKeyRing ring = MustCreate();
  EXPECT_EQ(ring.keys().size(), 1u);
  EXPECT_EQ(ring.active().id, 1u);
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Result<StorageKeyRing> back = StorageKeyRing::Load(path_);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->path(), path_);
  EXPECT_EQ(back->active().id, 1u);
  EXPECT_EQ(back->active().bytes, ring.active().bytes);
}

TEST_F(StorageKeyRingTest, CreateNeverOverwritesAnExistingRing) {
  StorageKeyRing ring = MustCreate();
  Result<StorageKeyRing> again = StorageKeyRing::Create(path_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  Result<StorageKeyRing> back = StorageKeyRing::Load(path_);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->active().bytes, ring.active().bytes);
}

TEST_F(StorageKeyRingTest, AddedKeyBecomesActiveAndRetiringKeepsOnlyIt) {
  StorageKeyRing ring = MustCreate();
  const StorageKey first = ring.active();
  ASSERT_TRUE(ring.AddKeyAndSave().ok());
  EXPECT_EQ(ring.keys().size(), 2u);
  EXPECT_EQ(ring.active().id, 2u);
  EXPECT_NE(ring.active().bytes, first.bytes);
  ASSERT_NE(ring.Find(1), nullptr);
  EXPECT_EQ(ring.Find(1)->bytes, first.bytes);

  Result<StorageKeyRing> loaded = StorageKeyRing::Load(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->keys().size(), 2u);
  EXPECT_EQ(loaded->active().id, 2u);
  EXPECT_EQ(loaded->active().bytes, ring.active().bytes);

  const StorageKey second = ring.active();
  ASSERT_TRUE(ring.RetireAllButActiveAndSave().ok());
  EXPECT_EQ(ring.keys().size(), 1u);
  EXPECT_EQ(ring.Find(1), nullptr);
  loaded = StorageKeyRing::Load(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->keys().size(), 1u);
  EXPECT_EQ(loaded->active().id, 2u);
  EXPECT_EQ(loaded->active().bytes, second.bytes);
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary file is left behind.
  EXPECT_NE(::access((path_ + ".tmp").c_str(), F_OK), 0);
}

TEST_F(StorageKeyRingTest, RefusesARingThatGroupOrOthersMayRead) {
  MustCreate();
  ASSERT_EQ(::chmod(path_.c_str(), 0640), 0);
  Result<StorageKeyRing> ring = StorageKeyRing::Load(path_);
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(ring.status().message().find(path_), std::string::npos) << ring.status();
  EXPECT_NE(ring.status().message().find("chmod 600 " + path_), std::string::npos)
      << ring.status();
}

TEST_F(StorageKeyRingTest, MissingRingIsNotFound) {
  Result<StorageKeyRing> ring = StorageKeyRing::Load(path_);
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), StatusCode::kNotFound);
}

TEST_F(StorageKeyRingTest, ReadsTheDocumentedFormatWithCommentsAndAnyKeyOrder) {
  WriteFile("# a comment\n\nkey 7 " + Hex64('b') + "\nkey 3 " + Hex64('a') + "\nactive 7\n");
  Result<StorageKeyRing> ring = StorageKeyRing::Load(path_);
  ASSERT_TRUE(ring.ok()) << ring.status();
  ASSERT_EQ(ring->keys().size(), 2u);
  EXPECT_EQ(ring->keys()[0].id, 3u);
  EXPECT_EQ(ring->active().id, 7u);
  EXPECT_EQ(ring->active().bytes[0], 0xbb);
  ASSERT_TRUE(ring->AddKeyAndSave().ok());
  EXPECT_EQ(ring->active().id, 8u);
}

TEST_F(StorageKeyRingTest, RejectsMalformedRingsNamingTheLine) {
  const std::string key = "key 1 " + Hex64('a') + "\n";
  const struct {
    std::string text;
    std::string expected;
  } cases[] = {
      {"", "holds no key"},
      {key, "names no active key"},
      {key + "active 2\n", "does not hold it"},
      {key + key + "active 1\n", "line 2: key 1 appears twice"},
      {"key 1 abcd\nactive 1\n", "line 1: key 1 is not 64 hex digits"},
      {"key 0 " + Hex64('a') + "\nactive 0\n", "line 1: expected"},
      {key + "active 1\nactive 1\n", "line 3: a second 'active' line"},
      {key + "active 1\nsecret = 12\n", "line 3: expected"},
  };
  for (const auto& c : cases) {
    WriteFile(c.text);
    Result<StorageKeyRing> ring = StorageKeyRing::Load(path_);
    ASSERT_FALSE(ring.ok()) << c.text;
    EXPECT_EQ(ring.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(ring.status().message().find(c.expected), std::string::npos)
        << c.text << " -> " << ring.status();
  }
}

TEST_F(StorageKeyRingTest, SealedValueOpensWithTheSameAssociatedData) {
  StorageKeyRing ring = MustCreate();
  const std::string plaintext = "meet at the loading bay at 8";
  Result<std::string> sealed = Seal(ring.active(), plaintext, "m-conversation-1-seq-5");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->size(), SealedSize(plaintext.size()));
  EXPECT_EQ(sealed->find("loading bay"), std::string::npos);
  EXPECT_EQ(static_cast<unsigned char>((*sealed)[0]), 1u);  // format version
  EXPECT_EQ(sealed->substr(1, 4), std::string("\0\0\0\1", 4));  // key id, big-endian

  Result<std::string> opened = Open(ring, *sealed, "m-conversation-1-seq-5");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, plaintext);

  // Empty values and empty associated data work too.
  Result<std::string> empty = Seal(ring.active(), "", "");
  ASSERT_TRUE(empty.ok());
  Result<std::string> empty_opened = Open(ring, *empty, "");
  ASSERT_TRUE(empty_opened.ok()) << empty_opened.status();
  EXPECT_EQ(*empty_opened, "");
}

TEST_F(StorageKeyRingTest, SealingTheSameValueTwiceGivesDifferentBytes) {
  StorageKeyRing ring = MustCreate();
  Result<std::string> a = Seal(ring.active(), "hello", "k");
  Result<std::string> b = Seal(ring.active(), "hello", "k");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);  // fresh nonces
}

TEST_F(StorageKeyRingTest, OpenFailsWithOtherAssociatedData) {
  StorageKeyRing ring = MustCreate();
  Result<std::string> sealed = Seal(ring.active(), "salary review", "record-1");
  ASSERT_TRUE(sealed.ok());
  Result<std::string> opened = Open(ring, *sealed, "record-2");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(opened.status().message().find("damaged or was encrypted with another key"),
            std::string::npos)
      << opened.status();
}

TEST_F(StorageKeyRingTest, OpenFailsForEveryTamperedByte) {
  StorageKeyRing ring = MustCreate();
  Result<std::string> sealed = Seal(ring.active(), "the quarterly figures", "ad");
  ASSERT_TRUE(sealed.ok());
  for (std::size_t i = 0; i < sealed->size(); ++i) {
    std::string tampered = *sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    Result<std::string> opened = Open(ring, tampered, "ad");
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    // Changing the key id names an unknown key; anything else fails the tag
    // or the format check.
    if (i >= 1 && i < 5) {
      EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition) << "byte " << i;
    } else {
      EXPECT_EQ(opened.status().code(), StatusCode::kDataLoss) << "byte " << i;
    }
  }
  // Truncated values are not sealed values.
  Result<std::string> truncated = Open(ring, sealed->substr(0, kSealedOverheadBytes - 1), "ad");
  EXPECT_EQ(truncated.status().code(), StatusCode::kDataLoss);
}

TEST_F(StorageKeyRingTest, OpenNamesAnUnknownKeyAndTheKeyFile) {
  StorageKeyRing ring = MustCreate();
  ASSERT_TRUE(ring.AddKeyAndSave().ok());
  Result<std::string> sealed = Seal(*ring.Find(1), "old value", "ad");
  ASSERT_TRUE(sealed.ok());
  // Both keys are in the ring: a value under the older one still opens.
  Result<std::string> opened = Open(ring, *sealed, "ad");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "old value");

  ASSERT_TRUE(ring.RetireAllButActiveAndSave().ok());
  opened = Open(ring, *sealed, "ad");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find("encrypted with key 1, which is not in the key file " +
                                           path_),
            std::string::npos)
      << opened.status();
}

TEST_F(StorageKeyRingTest, AValueSealedUnderAnotherRingWithTheSameIdDoesNotOpen) {
  StorageKeyRing ring = MustCreate();
  Result<StorageKeyRing> other = StorageKeyRing::Create(dir_ + "/other.key");
  ASSERT_TRUE(other.ok());
  Result<std::string> sealed = Seal(other->active(), "secret", "ad");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(Open(ring, *sealed, "ad").status().code(), StatusCode::kDataLoss);
}

TEST_F(StorageKeyRingTest, OpenIntoReusesTheCallersBuffer) {
  StorageKeyRing ring = MustCreate();
  std::string buffer;
  for (const std::string text : {"a longer first value", "short", ""}) {
    Result<std::string> sealed = Seal(ring.active(), text, "ad");
    ASSERT_TRUE(sealed.ok());
    ASSERT_TRUE(OpenInto(ring, *sealed, "ad", &buffer).ok());
    EXPECT_EQ(buffer, text);
  }
}

}  // namespace
}  // namespace chatpro::crypto
