// SPDX-License-Identifier: Apache-2.0
//
// The `chatpro` command line run in-process (cli::Run) against FakeBroker:
// usage errors, what each new command sends and prints, and `listen` when
// the device is revoked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "broker/crypto/keys.h"
#include "client/cli/commands.h"
#include "client/client.h"
#include "client/tests/fake_broker.h"

namespace chatpro::cli {
namespace {

using client::testing::FakeBroker;
using client::testing::SeenEnvelope;
using namespace std::chrono_literals;

struct Output {
  int code = -1;
  std::string out;
  std::string err;
  std::vector<std::string> lines;  // of out
};

std::string ReadAll(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

// Runs the command line with stdout and stderr going to files. Only one may
// run at a time (the descriptors are the process's).
Output RunCli(const std::vector<std::string>& words) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  int saved_out = ::dup(1);
  int saved_err = ::dup(2);
  ::dup2(::fileno(out), 1);
  ::dup2(::fileno(err), 2);
  Output o;
  o.code = Run(words);
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  ::close(saved_out);
  ::close(saved_err);
  o.out = ReadAll(out);
  o.err = ReadAll(err);
  std::fclose(out);
  std::fclose(err);
  std::istringstream in(o.out);
  for (std::string line; std::getline(in, line);) o.lines.push_back(line);
  return o;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The last envelope of this type, or one of type NONE. A copy: Seen()
// returns a fresh vector each time.
SeenEnvelope Last(const std::vector<SeenEnvelope>& seen, wire::Body type) {
  for (auto it = seen.rbegin(); it != seen.rend(); ++it) {
    if (it->type == type) return *it;
  }
  return SeenEnvelope();
}

TEST(CliUsage, NewCommandsRefuseWrongCommandLinesWithStatus2) {
  const std::vector<std::vector<std::string>> wrong = {
      {"admin", "user", "deactivate"},
      {"admin", "user", "deactivate", "a", "b"},
      {"admin", "user", "reactivate"},
      {"devices", "a", "b"},
      {"device", "revoke"},
      {"device", "revoke", "phone"},
      {"device", "revoke", "0"},
      {"block"},
      {"unblock", "a", "b"},
      {"blocked", "x"},
      {"report", "--seq", "3", "--reason", "spam"},                    // no conversation
      {"report", "--to", "bob", "--reason", "spam"},                   // no seq
      {"report", "--to", "bob", "--seq", "x", "--reason", "spam"},     // not a number
      {"report", "--to", "bob", "--seq", "3"},                         // no reason
      {"report", "--to", "bob", "--group", "team", "--seq", "3", "--reason", "x"},
      {"admin", "reports", "x"},
      {"admin", "audit", "--limit", "0"},
      {"admin", "audit", "--from", "soon"},
      {"admin", "audit", "verify", "now"},
      {"edit", "--to", "bob", "--text", "x"},                          // no seq
      {"edit", "--to", "bob", "--seq", "0", "--text", "x"},
      {"edit", "--to", "bob", "--seq", "4"},                           // no text
      {"edit", "--seq", "4", "--text", "x"},                           // no conversation
      {"delete", "--to", "bob"},
      {"delete", "--conversation", "0", "--seq", "4"},
      {"delete", "--to", "bob", "--seq", "4", "extra"},
  };
  for (const auto& words : wrong) {
    Output o = RunCli(words);
    std::string line;
    for (const auto& w : words) line += w + " ";
    EXPECT_EQ(o.code, kExitUsage) << line << "\n" << o.err;
    EXPECT_TRUE(Contains(o.err, "--help")) << line << "\n" << o.err;
    EXPECT_TRUE(o.out.empty()) << line;
  }
}

TEST(CliUsage, EveryNewCommandHasHelpAndTheOverviewNamesExitStatus4) {
  for (std::vector<std::string> words :
       {std::vector<std::string>{"admin", "user", "deactivate"}, {"admin", "user", "reactivate"},
        {"devices"}, {"device", "revoke"}, {"block"}, {"unblock"}, {"blocked"}, {"report"},
        {"admin", "reports"}, {"admin", "audit"}, {"admin", "audit", "verify"}, {"edit"},
        {"delete"}, {"listen"}}) {
    words.push_back("--help");
    Output o = RunCli(words);
    EXPECT_EQ(o.code, kExitOk) << words[0];
    ASSERT_FALSE(o.lines.empty());
    EXPECT_EQ(o.lines[0].rfind("Usage: chatpro " + words[0], 0), 0u) << o.lines[0];
  }
  Output overview = RunCli({"--help"});
  EXPECT_EQ(overview.code, kExitOk);
  EXPECT_TRUE(Contains(overview.out, "4 `listen` was cut off because the organisation revoked"));
  for (const char* name : {"admin user deactivate", "device revoke", "blocked", "report",
                           "admin audit verify", "edit", "delete"}) {
    EXPECT_TRUE(Contains(overview.out, std::string("  ") + name + " ")) << name;
  }
  EXPECT_TRUE(Contains(RunCli({"listen", "--help"}).out, "exits with status 4"));
}

// A profile folder pointing at a FakeBroker that knows its key.
class CliRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    char tmpl[] = "/tmp/chatpro-cli-run-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    crypto::KeyPair device = crypto::GenerateKeyPair();
    client::Profile p;
    p.dir = root_ + "/profile";
    p.endpoint = broker_.endpoint();
    p.server_key = broker_.keys().public_key;
    p.public_key = device.public_key;
    p.secret_key = device.secret_key;
    p.login = "ana";
    p.user_id = 7;
    p.device_id = 3;
    ASSERT_TRUE(p.Save().ok());
    broker_.Allow(device.public_key);
    profile_ = p.dir;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  Output Chatpro(std::vector<std::string> words) {
    words.insert(words.begin(), {"--profile", profile_});
    return RunCli(words);
  }

  FakeBroker broker_;
  std::string root_;
  std::string profile_;
};

TEST_F(CliRunTest, AdminUserDeactivatePrintsTheOffboardingSummary) {
  Output o = Chatpro({"admin", "user", "deactivate", "ben"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::AdminDeactivateUser).login, "ben");
  ASSERT_EQ(o.lines.size(), 6u) << o.out;
  EXPECT_EQ(o.lines[0], "deactivated:          ben");
  EXPECT_EQ(o.lines[2], "devices revoked:      2");
  EXPECT_EQ(o.lines[3], "sessions closed:      3");
  EXPECT_TRUE(Contains(o.lines[4], "(0.250 s after the request)")) << o.lines[4];
  EXPECT_EQ(o.lines[5], "invites cancelled:    1");

  Output missing = Chatpro({"admin", "user", "deactivate", "nobody"});
  EXPECT_EQ(missing.code, kExitError);
  EXPECT_EQ(missing.err, "chatpro admin user deactivate: no user named nobody\n");
}

TEST_F(CliRunTest, AdminUserReactivatePrintsTheInviteLast) {
  Output o = Chatpro({"admin", "user", "reactivate", "ben"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  ASSERT_GE(o.lines.size(), 2u);
  EXPECT_EQ(o.lines[0], "reactivated user ben; their old devices stay revoked");
  EXPECT_EQ(o.lines.back(), "chatpro://127.0.0.1:1?key=00&code=AGAIN");
}

TEST_F(CliRunTest, DevicesListsAndDeviceRevokeNamesTheDevice) {
  Output table = Chatpro({"devices"});
  ASSERT_EQ(table.code, kExitOk) << table.err;
  ASSERT_EQ(table.lines.size(), 3u);
  EXPECT_EQ(table.lines[0].rfind("ID  NAME", 0), 0u);
  EXPECT_TRUE(Contains(table.lines[1], "laptop"));
  EXPECT_TRUE(Contains(table.lines[2], "revoked"));
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ListDevices).login, "");

  Output json = Chatpro({"devices", "ben", "--json"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ListDevices).login, "ben");
  ASSERT_EQ(json.lines.size(), 2u);
  EXPECT_EQ(json.lines[0].rfind("{\"id\":3,\"name\":\"laptop\"", 0), 0u);

  Output revoke = Chatpro({"device", "revoke", "4", "--user", "ben"});
  ASSERT_EQ(revoke.code, kExitOk) << revoke.err;
  SeenEnvelope r = Last(broker_.Seen(), wire::Body::RevokeDevice);
  ASSERT_EQ(r.type, wire::Body::RevokeDevice);
  EXPECT_EQ(r.login, "ben");
  EXPECT_EQ(r.device_id, 4u);
  EXPECT_EQ(revoke.lines,
            std::vector<std::string>{
                "revoked device 4 of ben; it is cut off and told to wipe its local copy"});
}

TEST_F(CliRunTest, BlockUnblockAndBlocked) {
  Output block = Chatpro({"block", "carl"});
  ASSERT_EQ(block.code, kExitOk) << block.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::Block).login, "carl");
  EXPECT_EQ(block.lines[0], "blocked carl: no direct messages pass between you any more");
  Output unblock = Chatpro({"unblock", "carl"});
  ASSERT_EQ(unblock.code, kExitOk) << unblock.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::Unblock).login, "carl");
  EXPECT_EQ(Chatpro({"blocked"}).lines, std::vector<std::string>{"carl"});
  EXPECT_EQ(Chatpro({"blocked", "--json"}).lines,
            std::vector<std::string>{"{\"login\":\"carl\"}"});
}

TEST_F(CliRunTest, ReportNamesTheConversationAndAdminReportsShowsTheEvidence) {
  Output by_id = Chatpro({"report", "--conversation", "2", "--seq", "9", "--reason", "insulting"});
  ASSERT_EQ(by_id.code, kExitOk) << by_id.err;
  SeenEnvelope r = Last(broker_.Seen(), wire::Body::Report);
  ASSERT_EQ(r.type, wire::Body::Report);
  EXPECT_EQ(r.conversation_id, 2u);
  EXPECT_EQ(r.seq, 9u);
  EXPECT_EQ(r.reason, "insulting");
  // --to USER: the direct conversation with them (the fake's is #5).
  Output by_user = Chatpro({"report", "--to", "bob", "--seq", "4", "--reason", "spam"});
  ASSERT_EQ(by_user.code, kExitOk) << by_user.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::Report).conversation_id, 5u);
  EXPECT_TRUE(Contains(by_user.out, "reported message 4 of bob (conversation 5)"));

  Output reports = Chatpro({"admin", "reports"});
  ASSERT_EQ(reports.code, kExitOk) << reports.err;
  ASSERT_EQ(reports.lines.size(), 4u) << reports.out;
  EXPECT_TRUE(Contains(reports.lines[0], "by ana on #2 seq 9: insulting"));
  EXPECT_TRUE(Contains(reports.lines[1], "#2 bob: rude words"));
  EXPECT_EQ(reports.lines[3], "    (no copy of the message)");
  Output json = Chatpro({"admin", "reports", "--json"});
  ASSERT_EQ(json.lines.size(), 2u);
  EXPECT_TRUE(Contains(json.lines[0], "\"message\":{\"conversation_id\":2,\"seq\":9"));
  EXPECT_TRUE(Contains(json.lines[1], "\"message\":null"));
}

TEST_F(CliRunTest, AdminAuditListsEntriesAndVerifySetsTheExitStatus) {
  Output audit = Chatpro({"admin", "audit", "--from", "40", "--limit", "2"});
  ASSERT_EQ(audit.code, kExitOk) << audit.err;
  SeenEnvelope list = Last(broker_.Seen(), wire::Body::AdminListAudit);
  ASSERT_EQ(list.type, wire::Body::AdminListAudit);
  EXPECT_EQ(list.seq, 40u);
  EXPECT_EQ(list.limit, 2u);
  ASSERT_EQ(audit.lines.size(), 3u);
  EXPECT_EQ(audit.lines[1].rfind("40  ", 0), 0u) << audit.lines[1];
  EXPECT_TRUE(Contains(audit.lines[1], "  root   user.deactivate  user:ana  {\"devices\":2}"))
      << audit.lines[1];
  Output json = Chatpro({"admin", "audit", "--json"});
  ASSERT_EQ(json.code, kExitOk);
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::AdminListAudit).limit, 100u);
  ASSERT_EQ(json.lines.size(), 2u);
  EXPECT_TRUE(Contains(json.lines[0], "\"details\":\"{\\\"devices\\\":2}\""));

  Output broken = Chatpro({"admin", "audit", "verify"});
  EXPECT_EQ(broken.code, kExitError);
  EXPECT_EQ(broken.lines, std::vector<std::string>{
                              "audit log broken at entry 7: its hash does not match (12 entries "
                              "checked)"});
  broker_.audit_whole = true;
  Output whole = Chatpro({"admin", "audit", "verify"});
  EXPECT_EQ(whole.code, kExitOk);
  EXPECT_EQ(whole.lines, std::vector<std::string>{"audit log whole: 12 entries"});
}

TEST_F(CliRunTest, EditAndDeleteSendTheirContentAndHistoryShowsThem) {
  Output edit = Chatpro({"edit", "--conversation", "6", "--seq", "5", "--text", "better"});
  ASSERT_EQ(edit.code, kExitOk) << edit.err;
  EXPECT_EQ(edit.lines, std::vector<std::string>{"edited seq 5 in #6: conversation 6, seq 1"});
  Output del = Chatpro({"delete", "--conversation", "6", "--seq", "5"});
  ASSERT_EQ(del.code, kExitOk) << del.err;
  EXPECT_EQ(del.lines, std::vector<std::string>{"deleted seq 5 in #6: conversation 6, seq 2"});
  std::vector<SeenEnvelope> sends;
  for (const auto& s : broker_.Seen()) {
    if (s.type == wire::Body::Send) sends.push_back(s);
  }
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].content, wire::Content::Edit);
  EXPECT_EQ(sends[0].target_seq, 5u);
  EXPECT_EQ(sends[0].text, "better");
  EXPECT_EQ(sends[1].content, wire::Content::Deletion);
  EXPECT_EQ(sends[1].target_seq, 5u);

  Output history = Chatpro({"history", "--conversation", "6"});
  ASSERT_EQ(history.code, kExitOk) << history.err;
  ASSERT_EQ(history.lines.size(), 3u);
  EXPECT_TRUE(Contains(history.lines[1], "#6 bob: [edited #5] better text")) << history.lines[1];
  EXPECT_TRUE(Contains(history.lines[2], "#6 bob: [deleted #5]")) << history.lines[2];
  Output json = Chatpro({"history", "--conversation", "6", "--json"});
  ASSERT_EQ(json.lines.size(), 3u);
  EXPECT_TRUE(Contains(json.lines[1], "\"kind\":\"edit\",\"target_seq\":5,\"text\":\"better text\""));
  EXPECT_TRUE(Contains(json.lines[2], "\"kind\":\"deletion\",\"target_seq\":5}"));
}

TEST_F(CliRunTest, ListenShowsEditsAndDeletions) {
  auto run = std::async(std::launch::async,
                        [&] { return Chatpro({"listen", "--count", "2", "--timeout", "10"}); });
  ASSERT_TRUE(broker_.WaitFor([](const auto& seen) {
    for (const auto& s : seen) {
      if (s.type == wire::Body::ListConversations) return true;
    }
    return false;
  }));
  broker_.PushStored({client::testing::BuildStoredEdit(6, 8, "bob", 5, "fixed"),
                      client::testing::BuildStoredDeletion(6, 9, "bob", 4)});
  ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
  Output o = run.get();
  EXPECT_EQ(o.code, kExitOk) << o.err;
  ASSERT_EQ(o.lines.size(), 2u) << o.out;
  EXPECT_TRUE(Contains(o.lines[0], "] #6 bob: [edited #5] fixed")) << o.lines[0];
  EXPECT_TRUE(Contains(o.lines[1], "] #6 bob: [deleted #4]")) << o.lines[1];
}

TEST_F(CliRunTest, ListenOnRevocationWipesWhatItSavedAndExitsWith4AtOnce) {
  const std::string media = root_ + "/media";
  std::filesystem::create_directories(media);
  { std::ofstream(media + "/earlier-run.png") << "kept"; }
  auto run = std::async(std::launch::async, [&] {
    return Chatpro({"listen", "--save-dir", media, "--timeout", "20"});
  });
  ASSERT_TRUE(broker_.WaitFor([](const auto& seen) {
    for (const auto& s : seen) {
      if (s.type == wire::Body::ListConversations) return true;
    }
    return false;
  }));
  broker_.PushStored({client::testing::BuildStoredPicture(6, 3, "bob")});
  const std::string saved = media + "/6-3.png";
  for (int i = 0; i < 500 && !std::filesystem::exists(media + "/6-3-thumb.png"); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(std::filesystem::exists(saved));

  auto revoked_at = std::chrono::steady_clock::now();
  broker_.PushRevoked("offboarded by HR");
  ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
  auto took = std::chrono::steady_clock::now() - revoked_at;
  Output o = run.get();
  EXPECT_EQ(o.code, kExitRevoked) << o.err;
  EXPECT_LT(took, 1s);
  EXPECT_EQ(o.err,
            "chatpro: this device was revoked by your organisation (offboarded by HR); its key "
            "and the files saved here were wiped\n");
  EXPECT_FALSE(std::filesystem::exists(saved));
  EXPECT_FALSE(std::filesystem::exists(media + "/6-3-thumb.png"));
  EXPECT_TRUE(std::filesystem::exists(media + "/earlier-run.png")) << "not saved in this run";
  EXPECT_FALSE(std::filesystem::exists(profile_ + "/device.key"));
  EXPECT_FALSE(std::filesystem::exists(profile_ + "/profile.conf"));
  EXPECT_TRUE(broker_.WaitFor([](const auto& seen) {
    return Last(seen, wire::Body::ConfirmWipe).type == wire::Body::ConfirmWipe;
  }));

  // Coming back needs a fresh enrollment.
  Output again = Chatpro({"whoami"});
  EXPECT_EQ(again.code, kExitError);
  EXPECT_TRUE(Contains(again.err, "not enrolled")) << again.err;
}

}  // namespace
}  // namespace chatpro::cli
