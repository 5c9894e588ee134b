// SPDX-License-Identifier: Apache-2.0
//
// Encryption at rest, end to end: nothing a user sent can be read from the
// files of a stopped broker's data directory, and rotating the storage key
// keeps every message readable.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/cli_fixture.h"

namespace chatpro::testing {
namespace {

namespace fs = std::filesystem;
using client::Profile;
using client::Target;

class AtRest : public CliBrokerTest {};

struct Scan {
  std::size_t files = 0;
  std::uintmax_t bytes = 0;
  std::vector<std::string> holding_marker;  // paths
};

// Reads every regular file under `dir`, recursively.
Scan ScanFor(const std::string& dir, const std::string& marker) {
  Scan scan;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string bytes = ReadWholeFile(entry.path().string());
    ++scan.files;
    scan.bytes += bytes.size();
    if (bytes.find(marker) != std::string::npos) {
      scan.holding_marker.push_back(entry.path().string());
    }
  }
  return scan;
}

std::string Listing(const Scan& scan) {
  std::string out;
  for (const auto& p : scan.holding_marker) out += "\n  " + p;
  return out;
}

TEST_F(AtRest, NoTextOrPictureBytesAreReadableInTheDataDirectoryAndAKeyRotationKeepsThemReadable) {
  RunResult help = RunProgram({BrokerPath(), "--help"}, dir_->path());
  if (!Contains(help.out + help.err, "--rotate-storage-key")) {
    GTEST_SKIP() << "at-rest encryption not built yet";
  }
  const std::string marker = "Zq7-AT-REST-MARKER-41c9e0-Zq7";
  const std::string text = "Salary review for ward 7, keep it private: " + marker;
  // A small picture is stored with the messages, a large one (64 KiB and
  // more) in the blob files; both carry the marker.
  client::Picture small = MakePicture(40000, 2000, 17);
  client::Picture large = MakePicture(300000, 4000, 18);
  for (client::Picture* p : {&small, &large}) {
    p->image.replace(1000, marker.size(), marker);
    p->image.replace(p->image.size() - 5000, marker.size(), marker);
    p->thumbnail.replace(100, marker.size(), marker);
  }

  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  {
    auto ben_inbox = std::make_shared<Inbox>();
    ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
    ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));
    ASSERT_OK(SendAndWait(*ana_client, Target::User("ben"), MakeText(text)).status);
    ASSERT_OK(SendAndWait(*ana_client, Target::User("ben"), small).status);
    ASSERT_OK(SendAndWait(*ana_client, Target::User("ben"), large).status);
    ASSERT_TRUE(ben_inbox->WaitFor(3));
  }
  root_.reset();
  ExitCode stopped = broker_->Stop();
  ASSERT_EQ(stopped, 0) << DescribeExit(stopped);

  Scan scan = ScanFor(broker_->data_dir(), marker);
  Note("scanned " + std::to_string(scan.files) + " files, " + std::to_string(scan.bytes) +
       " bytes under " + broker_->data_dir());
  EXPECT_GE(scan.bytes, small.image.size() + large.image.size())
      << "the data directory is too small to hold the pictures";
  EXPECT_TRUE(scan.holding_marker.empty())
      << "the marker is readable in" << Listing(scan);

  const std::string key_file = broker_->data_dir() + "/storage.key";  // store.key_file's default
  const std::string key_before = ReadWholeFile(key_file);
  RunResult rotate = RunProgram(
      {BrokerPath(), "--data-dir", broker_->data_dir(), "--rotate-storage-key"}, dir_->path());
  Note("$ chatpro-broker --data-dir " + broker_->data_dir() + " --rotate-storage-key\n" +
       rotate.out + rotate.err + "(" + DescribeExit(rotate.exit_code) + ")");
  ASSERT_EQ(rotate.exit_code, 0) << rotate.out << rotate.err;
  EXPECT_NE(ReadWholeFile(key_file), key_before) << "the rotation left the key file as it was";
  scan = ScanFor(broker_->data_dir(), marker);
  EXPECT_TRUE(scan.holding_marker.empty())
      << "after the rotation the marker is readable in" << Listing(scan);

  ASSERT_OK(broker_->Start());
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, nullptr));
  ASSERT_OK_AND_ASSIGN(client::HistoryPage page, ben_client->History(Target::User("ana"), {}));
  ASSERT_EQ(page.messages.size(), 3u);
  EXPECT_EQ(TextOf(page.messages[0]), text);
  EXPECT_TRUE(SameContent(small, page.messages[1].content));
  EXPECT_TRUE(SameContent(large, page.messages[2].content));
}

}  // namespace
}  // namespace chatpro::testing
