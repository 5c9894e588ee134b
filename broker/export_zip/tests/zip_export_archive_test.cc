// SPDX-License-Identifier: Apache-2.0
#include "broker/export_zip/zip_export_archive.h"

#include <Poco/Path.h>
#include <Poco/Zip/Decompress.h>
#include <Poco/Zip/ZipArchive.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace chatpro::export_zip {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class ZipExportArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("chatpro-zip-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ZipExportArchiveTest, WritesMembersThatReadBackUnchanged) {
  std::string jsonl = "{\"seq\":1,\"text\":\"h\\u00e9llo\"}\n";
  std::string big;
  big.reserve(6 << 20);
  for (std::uint64_t i = 0; big.size() < (6u << 20); ++i) big += "line " + std::to_string(i * 7919) + "\n";
  std::string binary;
  for (int i = 0; i < 70000; ++i) binary += static_cast<char>((i * 131) & 0xFF);
  WriteFile(dir_ / "src/messages.jsonl", jsonl);
  WriteFile(dir_ / "src/transcript.html", big);
  WriteFile(dir_ / "src/a.jpg", binary);
  WriteFile(dir_ / "src/empty", "");

  std::string path = (dir_ / "export-1.zip").string();
  Result<std::unique_ptr<core::ExportArchive>> archive = ZipExportArchives()(path);
  ASSERT_TRUE(archive.ok()) << archive.status();
  ASSERT_TRUE((*archive)->AddFile("messages.jsonl", (dir_ / "src/messages.jsonl").string()).ok());
  ASSERT_TRUE((*archive)->AddFile("transcript.html", (dir_ / "src/transcript.html").string()).ok());
  ASSERT_TRUE((*archive)->AddFile("attachments/3-7.jpg", (dir_ / "src/a.jpg").string()).ok());
  ASSERT_TRUE((*archive)->AddFile("manifest.json", (dir_ / "src/empty").string()).ok());
  Status done = (*archive)->Finish();
  ASSERT_TRUE(done.ok()) << done;
  archive->reset();
  EXPECT_LT(fs::file_size(path), big.size() / 2);  // deflated

  std::ifstream in(path, std::ios::binary);
  Poco::Zip::Decompress unzip(in, Poco::Path((dir_ / "out").string() + "/"));
  Poco::Zip::ZipArchive listing = unzip.decompressAllFiles();
  EXPECT_EQ(ReadFile(dir_ / "out/messages.jsonl"), jsonl);
  EXPECT_EQ(ReadFile(dir_ / "out/transcript.html"), big);
  EXPECT_EQ(ReadFile(dir_ / "out/attachments/3-7.jpg"), binary);
  EXPECT_TRUE(fs::exists(dir_ / "out/manifest.json"));
  std::size_t members = 0;
  for (auto it = listing.fileInfoBegin(); it != listing.fileInfoEnd(); ++it) {
    if (!it->second.isDirectory()) ++members;
  }
  EXPECT_EQ(members, 4u);

  // Another zip reader agrees, where one is installed.
  if (std::system("command -v unzip >/dev/null 2>&1") == 0) {
    std::string cmd = "unzip -tq '" + path + "' >/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }
}

TEST_F(ZipExportArchiveTest, ReportsAMissingSourceAsAnError) {
  std::string path = (dir_ / "export-2.zip").string();
  Result<std::unique_ptr<core::ExportArchive>> archive = ZipExportArchives()(path);
  ASSERT_TRUE(archive.ok());
  Status st = (*archive)->AddFile("messages.jsonl", (dir_ / "missing").string());
  EXPECT_EQ(st.code(), StatusCode::kIoError) << st;
}

TEST(ZipExportArchive, RefusesAFolderItCannotWriteTo) {
  Result<std::unique_ptr<core::ExportArchive>> archive =
      ZipExportArchives()("/nonexistent-chatpro-folder/export-1.zip");
  EXPECT_FALSE(archive.ok());
  EXPECT_EQ(archive.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace chatpro::export_zip
