// SPDX-License-Identifier: Apache-2.0
#include "broker/base/file_io.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

namespace chatpro::base {
namespace {

namespace fs = std::filesystem;

// A fresh folder, removed with everything in it at the end of the test.
class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("chatpro-file-io-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
};

TEST_F(FileIoTest, MoveReplacingPutsTheNewFileInPlaceOfTheOld) {
  Write(Path("key"), "old key");
  Write(Path("key.tmp"), "new key");
  ASSERT_EQ(MoveReplacing(Path("key.tmp"), Path("key")), 0);
  EXPECT_EQ(Read(Path("key")), "new key");
  EXPECT_FALSE(fs::exists(Path("key.tmp")));
}

TEST_F(FileIoTest, MoveReplacingAFileThatIsNotThereFails) {
  EXPECT_EQ(MoveReplacing(Path("missing"), Path("key")), -1);
}

TEST_F(FileIoTest, WriteAtAndReadAtUseTheGivenOffsetAndKeepTheRest) {
  Write(Path("blob"), "hello world");
  int fd = ::open(Path("blob").c_str(), O_RDWR | kOpenFlags);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(WriteAt(fd, "WORLD", 5, 6), 5);
  char buffer[16] = {};
  EXPECT_EQ(ReadAt(fd, buffer, 5, 0), 5);
  EXPECT_EQ(std::string(buffer, 5), "hello");
  EXPECT_EQ(SyncFile(fd), 0);
  // At the end of the file a read gives nothing, not an error.
  EXPECT_EQ(ReadAt(fd, buffer, sizeof buffer, 11), 0);
  ::close(fd);
  EXPECT_EQ(Read(Path("blob")), "hello WORLD");
}

TEST_F(FileIoTest, BinaryDataIsWrittenAsIs) {
  const std::string bytes("a\nb\r\nc\0d\x1a", 9);
  int fd = ::open(Path("bin").c_str(), O_WRONLY | O_CREAT | O_TRUNC | kOpenFlags, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<long>(bytes.size()));
  ::close(fd);
  EXPECT_EQ(Read(Path("bin")), bytes);
}

TEST_F(FileIoTest, PathTakenTellsWhatIsThereFromNothing) {
  Write(Path("file"), "x");
  EXPECT_EQ(PathTaken(Path("file")), 0);
  EXPECT_EQ(PathTaken(dir_.string()), 0);
  EXPECT_EQ(PathTaken(Path("nothing")), ENOENT);
}

TEST_F(FileIoTest, MakeFolderMakesOneAndRefusesAnExistingOne) {
  ASSERT_EQ(MakeFolder(Path("data"), 0700), 0);
  EXPECT_TRUE(fs::is_directory(Path("data")));
  EXPECT_EQ(MakeFolder(Path("data"), 0700), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(SyncFolder(dir_.string()), 0);
#if !defined(_WIN32)
  struct stat st;
  ASSERT_EQ(::stat(Path("data").c_str(), &st), 0);
  EXPECT_FALSE(OthersMayRead(st.st_mode));
#endif
}

#if !defined(_WIN32)
TEST(FileIo, OthersMayReadSeesGroupAndOtherPermissions) {
  EXPECT_FALSE(OthersMayRead(0600));
  EXPECT_TRUE(OthersMayRead(0640));
  EXPECT_TRUE(OthersMayRead(0604));
}
#endif

TEST(FileIo, ADiskOrQuotaFullErrorIsDiskFull) {
  EXPECT_TRUE(IsDiskFull(ENOSPC));
  EXPECT_FALSE(IsDiskFull(EACCES));
}

}  // namespace
}  // namespace chatpro::base
