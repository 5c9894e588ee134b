// SPDX-License-Identifier: Apache-2.0
//
// CliBrokerTest: the BrokerTest fixture plus what the offboarding, safety and
// at-rest tests need on top of it: running the real `chatpro` binary with a
// chosen profile folder (every run is kept in a transcript that is printed
// when the test fails), a second device of the administrator for the CLI,
// users with a role, more devices of a user, copies of profile folders, and
// small readers for the CLI's one-line JSON objects.
//
//   TEST_F(SomeCliTest, Something) {
//     ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
//     RunResult r = Cli(ana.dir, {"send", "--to", "root", "--text", "hi"});
//     ASSERT_EQ(r.exit_code, 0) << r.err;
//   }
//
// Thread-safety: the test's thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/chat_fixture.h"

namespace chatpro::testing {

class CliBrokerTest : public BrokerTest {
 protected:
  void TearDown() override;

  // Runs `chatpro --profile PROFILE_DIR ARGS...` to completion.
  RunResult Cli(const std::string& profile_dir, const std::vector<std::string>& args);
  // Starts `chatpro --profile PROFILE_DIR ARGS...` as a child whose stdout and
  // stderr go to OUT_PATH and ERR_PATH; the runs are noted in the transcript.
  Status SpawnCli(ChildProcess& child, const std::string& profile_dir,
                  const std::vector<std::string>& args, const std::string& out_path,
                  const std::string& err_path);
  // Adds a line to the transcript printed on failure.
  void Note(const std::string& line) { transcript_ += line + "\n"; }

  // A second device of root, enrolled once on first use, for `chatpro admin
  // ...` runs (root's first device is the fixture's connected client).
  Result<std::string> RootCliProfile();
  // Root adds `login` with `role`; the first device enrolls into
  // ProfileDir(login).
  Result<client::Profile> AddUserWithRole(const std::string& login, client::Role role);
  // `of` makes an invite for another device of its user (CreateInvite) and a
  // device enrolls with it into `dir` through the library.
  Result<client::Profile> EnrollAnotherDevice(client::Client& of, const std::string& dir,
                                              const std::string& device_name);

  std::string transcript_;

 private:
  std::string root_cli_profile_;
};

// A profile folder copied file by file (device.key keeps mode 0600), so that
// a key can be tried again after the original folder was wiped.
Status CopyProfile(const std::string& from_dir, const std::string& to_dir);

// The non-empty lines of `text`.
std::vector<std::string> Lines(const std::string& text);

// Readers for the flat one-line JSON objects the CLI prints. They find the
// first occurrence of "key": at any depth, which is enough for objects whose
// keys the test knows.
std::optional<std::string> JsonStringField(const std::string& json, const std::string& key);
std::optional<std::uint64_t> JsonUintField(const std::string& json, const std::string& key);
std::optional<bool> JsonBoolField(const std::string& json, const std::string& key);
// "key":[1,2,3]
std::optional<std::vector<std::uint64_t>> JsonUintListField(const std::string& json,
                                                            const std::string& key);

// The seq in "sent to ana: conversation 3, seq 17" (also `edit`'s output).
std::optional<std::uint64_t> SeqInOutput(const std::string& out);

// Polls `done` every few milliseconds until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& done,
               std::chrono::milliseconds timeout = kWaitTimeout);

bool Contains(const std::string& haystack, const std::string& needle);

// Sends and waits for the broker's answer (bounded): the SendResult, or one
// whose status says the send did not complete.
client::SendResult SendAndWait(client::Client& from, const client::Target& to,
                               const client::Content& content);

}  // namespace chatpro::testing
