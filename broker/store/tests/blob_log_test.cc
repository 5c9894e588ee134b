// SPDX-License-Identifier: Apache-2.0
//
// BlobLog on its own: buffered appends, reads of neighbours together, and the
// descriptors it keeps open over many files.
#include "broker/store/blob_log.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "broker/store/tests/store_test_util.h"

namespace chatpro::store {
namespace {

namespace fs = std::filesystem;

std::size_t OpenDescriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

std::string Value(std::size_t i) { return "value " + std::to_string(i) + std::string(900, 'v'); }

TEST(BlobLog, ManyFilesWrittenWithoutSyncAndReadBackKeepFewDescriptorsOpen) {
  testing::TempDir dir;
  // 4 KiB files: each holds three or four values, so 600 values make ~170 files.
  Result<std::unique_ptr<BlobLog>> log = BlobLog::Open(dir.Sub("blobs"), 4096);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::size_t before = OpenDescriptors();
  std::vector<BlobRef> refs;
  for (std::size_t i = 0; i < 600; ++i) {
    (*log)->BeginBatch();
    Result<BlobRef> ref = (*log)->Append(Value(i));
    ASSERT_TRUE(ref.ok()) << ref.status();
    ASSERT_TRUE((*log)->Flush().ok());
    refs.push_back(*ref);
  }
  EXPECT_GT(refs.back().file, 100u);
  // Durability os never syncs; the files left behind are closed anyway.
  EXPECT_LE(OpenDescriptors(), before + 6);
  for (std::size_t i = 0; i < refs.size(); ++i) {
    Result<std::string> value = (*log)->Read(refs[i]);
    ASSERT_TRUE(value.ok()) << value.status();
    ASSERT_EQ(*value, Value(i));
  }
  Result<std::vector<std::string>> all = (*log)->ReadMany(refs);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), refs.size());
  for (std::size_t i = 0; i < refs.size(); ++i) EXPECT_EQ((*all)[i], Value(i));
  EXPECT_LE(OpenDescriptors(), before + 16);
  ASSERT_TRUE((*log)->Sync().ok());
}

TEST(BlobLog, ABatchRolledBackBeforeItsFlushLeavesNothingAndTheNextAppendsFollowOn) {
  testing::TempDir dir;
  Result<std::unique_ptr<BlobLog>> log = BlobLog::Open(dir.Sub("blobs"), 1 << 20);
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->BeginBatch();
  Result<BlobRef> kept = (*log)->Append("kept");
  ASSERT_TRUE(kept.ok());
  ASSERT_TRUE((*log)->Flush().ok());
  (*log)->BeginBatch();
  ASSERT_TRUE((*log)->Append("dropped one").ok());
  ASSERT_TRUE((*log)->Append("dropped two").ok());
  (*log)->Rollback();
  (*log)->BeginBatch();
  Result<BlobRef> next = (*log)->Append("next");
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE((*log)->Sync().ok());
  EXPECT_EQ(next->offset, kept->offset + kept->length + 12);
  EXPECT_EQ(*(*log)->Read(*kept), "kept");
  EXPECT_EQ(*(*log)->Read(*next), "next");
}

}  // namespace
}  // namespace chatpro::store
