// SPDX-License-Identifier: Apache-2.0
//
// The `chatpro` command-line client end to end, as a script or a person would
// use it: every step runs the real binary with its own --profile folder
// against a real broker.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "tests/chat_fixture.h"

namespace chatpro::testing {
namespace {

namespace fs = std::filesystem;

// The CLI enrolls the administrator itself, with the broker's first invite.
class Cli : public BrokerTest {
 protected:
  bool EnrollRoot() const override { return false; }

  RunResult Run(const std::string& profile, std::vector<std::string> args) {
    std::vector<std::string> argv{CliPath(), "--profile", dir_->Sub("cli/" + profile)};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = RunProgram(argv, dir_->path());
    std::string line;
    for (const auto& a : argv) line += " " + a;
    transcript_ += "$" + line + "\n" + r.out + r.err + "(" + DescribeExit(r.exit_code) +
                   (r.timed_out ? ", timed out" : "") + ")\n";
    return r;
  }

  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "---- chatpro runs ----\n%s", transcript_.c_str());
    BrokerTest::TearDown();
  }

  std::string transcript_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// The string value of "key" in a one-line JSON object (simple escapes only).
std::string JsonString(const std::string& json, const std::string& key) {
  std::string needle = "\"" + key + "\":\"";
  std::size_t at = json.find(needle);
  if (at == std::string::npos) return {};
  std::string out;
  for (std::size_t i = at + needle.size(); i < json.size() && json[i] != '"'; ++i) {
    if (json[i] == '\\' && i + 1 < json.size()) ++i;
    out += json[i];
  }
  return out;
}

// A PNG as far as headers go: signature, IHDR with the size, then noise.
std::string FakePng(std::uint32_t width, std::uint32_t height) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  png += std::string("\0\0\0\x0d", 4) + "IHDR";
  for (std::uint32_t v : {width, height}) {
    for (int shift = 24; shift >= 0; shift -= 8) png += static_cast<char>((v >> shift) & 0xff);
  }
  png += std::string("\x08\x02\0\0\0", 5);
  png += RandomBytes(4 + 3000, 77);
  return png;
}

TEST_F(Cli, EnrollsSendsListensSavesPicturesRunsGroupsAndShowsHistory) {
  if (CliPath().empty()) GTEST_SKIP() << "the chatpro CLI is not part of this build";

  // Enroll the administrator; add two people; each enrolls with their invite.
  RunResult r = Run("boss", {"enroll", broker_->admin_invite()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("enrolled as root"), std::string::npos) << r.out;
  for (const std::string login : {"ana", "ben"}) {
    r = Run("boss", {"admin", "user", "add", login, "--display-name", "User " + login});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string invite = LastLine(r.out);
    ASSERT_EQ(invite.rfind("chatpro://", 0), 0u) << "the invite is not the last line:\n" << r.out;
    r = Run(login, {"enroll", invite});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("enrolled as " + login), std::string::npos) << r.out;
  }

  // Ben listens for three messages while Ana writes.
  const std::string media = dir_->Sub("ben-media");
  const std::string listen_out = dir_->Sub("listen.out");
  const std::string listen_err = dir_->Sub("listen.err");
  ChildProcess listener;
  ASSERT_OK(listener.Spawn({CliPath(), "--profile", dir_->Sub("cli/ben"), "listen", "--count", "3",
                            "--json", "--save-dir", media},
                           listen_out, listen_err));

  r = Run("ana", {"send", "--to", "ben", "--text", "Lunch at one?"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string png = FakePng(3, 2);
  const std::string png_path = dir_->Sub("photo.png");
  ASSERT_OK(WriteWholeFile(png_path, png));
  r = Run("ana", {"send", "--to", "ben", "--picture", png_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = Run("ana", {"group", "create", "Night shift", "--member", "ben"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run("ana", {"group", "add", "Night shift", "root"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run("boss", {"group", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Night shift"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ana (owner)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ben"), std::string::npos) << r.out;
  r = Run("ana", {"send", "--group", "Night shift", "--text", "Keys are at the front desk"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::optional<ExitCode> listened = listener.Wait(kWaitTimeout);
  ASSERT_TRUE(listened.has_value()) << "listen --count 3 did not end:\n"
                                    << ReadWholeFile(listen_out) << ReadWholeFile(listen_err);
  EXPECT_EQ(*listened, 0) << ReadWholeFile(listen_err);
  std::vector<std::string> lines = Lines(ReadWholeFile(listen_out));
  ASSERT_EQ(lines.size(), 3u) << "one JSON line per message:\n" << ReadWholeFile(listen_out);
  std::string text_line, picture_line, group_line;
  for (const auto& line : lines) {
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    if (JsonString(line, "text") == "Lunch at one?") text_line = line;
    if (JsonString(line, "kind") == "picture") picture_line = line;
    if (JsonString(line, "text") == "Keys are at the front desk") group_line = line;
  }
  ASSERT_FALSE(text_line.empty()) << ReadWholeFile(listen_out);
  ASSERT_FALSE(picture_line.empty()) << ReadWholeFile(listen_out);
  ASSERT_FALSE(group_line.empty()) << ReadWholeFile(listen_out);
  EXPECT_EQ(JsonString(text_line, "sender"), "ana");
  EXPECT_EQ(JsonString(group_line, "sender"), "ana");
  EXPECT_EQ(JsonString(group_line, "conversation"), "Night shift") << group_line;
  EXPECT_EQ(JsonString(picture_line, "mime_type"), "image/png");
  EXPECT_NE(picture_line.find("\"width\":3"), std::string::npos) << picture_line;
  EXPECT_NE(picture_line.find("\"height\":2"), std::string::npos) << picture_line;
  const std::string saved = JsonString(picture_line, "file");
  ASSERT_FALSE(saved.empty()) << "the picture was not saved: " << picture_line;
  EXPECT_EQ(fs::path(saved).parent_path(), fs::path(media)) << saved;
  EXPECT_TRUE(ReadWholeFile(saved) == png) << "the saved picture differs from the one sent";

  // History, as Ben sees his chat with Ana: oldest first.
  r = Run("ben", {"history", "--to", "ana", "--json", "--save-dir", dir_->Sub("history-media")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(JsonString(lines[0], "text"), "Lunch at one?");
  EXPECT_EQ(JsonString(lines[1], "kind"), "picture");
  r = Run("ben", {"history", "--to", "ana", "--save-dir", dir_->Sub("history-media")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Lunch at one?"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace chatpro::testing
