// SPDX-License-Identifier: Apache-2.0
//
// Console passwords through the real broker and CLI: `chatpro admin
// console-password` hashes on the client and the broker stores only the hash;
// a password sent as plain text is refused; the audit log names who set whose
// password and never holds the hash.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/cli_fixture.h"

namespace chatpro::testing {
namespace {

class ConsolePasswordTest : public CliBrokerTest {
 protected:
  // `printf 'STDIN' | chatpro --profile PROFILE admin console-password ARGS...`
  // (stdin is a pipe, so the CLI takes one line).
  RunResult SetWithStdin(const std::string& profile, const std::string& stdin_text,
                         const std::vector<std::string>& args) {
    std::string command = "printf '%s\\n' '" + stdin_text + "' | '" + CliPath() +
                          "' --profile '" + profile + "' admin console-password";
    for (const std::string& a : args) command += " '" + a + "'";
    RunResult r = RunProgram({"/bin/sh", "-c", command}, dir_->path());
    Note("$ " + command + "\n" + r.out + r.err + "(" + DescribeExit(r.exit_code) + ")");
    return r;
  }
};

TEST_F(ConsolePasswordTest, CliSetsAHashedPasswordAndThePlainTextIsRefused) {
  if (CliPath().empty()) GTEST_SKIP() << "the chatpro CLI is not part of this build";
  Result<std::string> root_cli = RootCliProfile();
  ASSERT_TRUE(root_cli.ok()) << root_cli.status();
  Result<client::Profile> audrey = AddUserWithRole("audrey", client::Role::kAuditor);
  ASSERT_TRUE(audrey.ok()) << audrey.status();
  Result<client::Profile> ben = AddUserWithRole("ben", client::Role::kUser);
  ASSERT_TRUE(ben.ok()) << ben.status();

  // An administrator sets an auditor's password.
  RunResult set = SetWithStdin(*root_cli, "correct horse battery", {"audrey"});
  ASSERT_EQ(set.exit_code, 0) << transcript_;
  EXPECT_TRUE(Contains(set.out, "console password set for audrey")) << transcript_;

  // A password that breaks the policy never leaves the client.
  RunResult short_one = SetWithStdin(*root_cli, "hunter2", {"audrey"});
  EXPECT_EQ(short_one.exit_code, 1) << transcript_;
  EXPECT_TRUE(Contains(short_one.err, "at least 12 characters")) << transcript_;

  // A user sets their own, not someone else's.
  RunResult own = SetWithStdin(ben->dir, "bens long passphrase", {"ben"});
  EXPECT_EQ(own.exit_code, 0) << transcript_;
  RunResult other = SetWithStdin(ben->dir, "bens long passphrase", {"audrey"});
  EXPECT_EQ(other.exit_code, 1) << transcript_;
  EXPECT_TRUE(Contains(other.err, "only administrators")) << transcript_;

  // A client that sends the password itself instead of a hash is refused
  // with a clear error, and nothing changes.
  Status plain = root_->SetConsolePassword("audrey", "correct horse battery");
  EXPECT_EQ(plain.code(), StatusCode::kInvalidArgument) << plain;
  EXPECT_TRUE(Contains(plain.message(), "argon2id")) << plain;

  RunResult cleared = Cli(*root_cli, {"admin", "console-password", "ben", "--clear"});
  EXPECT_EQ(cleared.exit_code, 0) << transcript_;
  EXPECT_TRUE(Contains(cleared.out, "console password cleared for ben")) << transcript_;

  // The audit log: who set whose password, never the hash or the password.
  RunResult audit = Cli(*root_cli, {"admin", "audit", "--limit", "1000"});
  ASSERT_EQ(audit.exit_code, 0) << transcript_;
  std::vector<std::string> set_lines;
  for (const std::string& line : Lines(audit.out)) {
    if (Contains(line, "console.password_set")) set_lines.push_back(line);
  }
  ASSERT_EQ(set_lines.size(), 2u) << audit.out;
  EXPECT_TRUE(Contains(set_lines[0], "user:audrey")) << set_lines[0];
  EXPECT_TRUE(Contains(set_lines[1], "ben")) << set_lines[1];
  EXPECT_TRUE(Contains(audit.out, "console.password_cleared")) << audit.out;
  EXPECT_FALSE(Contains(audit.out, "argon2")) << audit.out;
  EXPECT_FALSE(Contains(audit.out, "correct horse")) << audit.out;

  // Neither the store (records are sealed at rest) nor the log shows a hash.
  root_.reset();
  ExitCode stopped = broker_->Stop();
  ASSERT_EQ(stopped, 0) << DescribeExit(stopped);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(broker_->data_dir())) {
    if (!entry.is_regular_file()) continue;
    EXPECT_FALSE(Contains(ReadWholeFile(entry.path().string()), "$argon2id$")) << entry.path();
  }
  EXPECT_FALSE(Contains(broker_->Log(), "$argon2id$"));
  EXPECT_TRUE(Contains(broker_->Log(), "console password set for audrey")) << broker_->Log();
  Status started = broker_->Start();
  ASSERT_TRUE(started.ok()) << started;
}

}  // namespace
}  // namespace chatpro::testing
