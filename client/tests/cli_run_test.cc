// SPDX-License-Identifier: Apache-2.0
//
// The `chatpro` command line run in-process (cli::Run) against FakeBroker:
// usage errors, what each new command sends and prints, and `listen` when
// the device is revoked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <fstream>
#include <future>
#include <iterator>
#include <sstream>
#include <thread>

#include "broker/crypto/keys.h"
#include "client/cli/commands.h"
#include "client/cli/format.h"
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
  // The broker serves the web chat: the same invite as a link for a browser.
  EXPECT_NE(std::find(o.lines.begin(), o.lines.end(),
                      "In a browser, open: https://127.0.0.1:8444/#invite=AGAIN"),
            o.lines.end())
      << o.out;
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

// ------------------------------------------------------------------ records management

TEST(CliUsage, RecordsCommandsRefuseWrongCommandLinesWithStatus2) {
  const std::vector<std::vector<std::string>> wrong = {
      {"admin", "hold", "set", "--case", "C", "--reason", "r"},  // no target
      {"admin", "hold", "set", "--user", "ben", "--conversation", "3", "--case", "C", "--reason",
       "r"},
      {"admin", "hold", "set", "--conversation", "x", "--case", "C", "--reason", "r"},
      {"admin", "hold", "set", "--user", "ben", "--reason", "r"},  // no case
      {"admin", "hold", "set", "--user", "ben", "--case", "C"},    // no reason
      {"admin", "hold", "lift", "--reason", "r"},
      {"admin", "hold", "lift", "0", "--reason", "r"},
      {"admin", "hold", "lift", "21"},
      {"admin", "hold", "list", "x"},
      {"admin", "retention", "run", "now"},
      {"admin", "plugins", "x"},
      {"admin", "case", "open", "--basis", "b", "--subject", "ben"},  // no kind
      {"admin", "case", "open", "--kind", "foi", "--basis", "b", "--subject", "ben"},
      {"admin", "case", "open", "--kind", "search", "--subject", "ben"},  // no basis
      {"admin", "case", "open", "--kind", "search", "--basis", "b"},      // no subject
      {"admin", "case", "open", "--kind", "search", "--basis", "b", "--subject", "ben", "--from",
       "yesterday"},
      {"admin", "case", "open", "--kind", "search", "--basis", "b", "--subject", "ben", "--to",
       "2026-02-30"},
      {"admin", "case", "open", "--kind", "search", "--basis", "b", "--subject", "ben", "--from",
       "2026-03-02", "--to", "2026-03-01"},
      {"admin", "case", "open", "--kind", "search", "--basis", "b", "--subject", "ben",
       "--conversation", "0"},
      {"admin", "case", "open", "--kind", "subject-access", "--basis", "b", "--subject", "ben",
       "--keyword", "x"},
      {"admin", "case", "approve"},
      {"admin", "case", "approve", "x"},
      {"admin", "case", "list", "x"},
      {"admin", "export", "start"},
      {"admin", "export", "start", "0"},
      {"admin", "export", "status", "a"},
      {"admin", "export", "download", "77"},  // no output
      {"admin", "export", "download", "--output", "f.zip"},
      {"my-data-access", "x"},
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

TEST(CliUsage, EveryRecordsCommandHasHelpAndIsInTheOverview) {
  const std::vector<std::string> names = {
      "admin hold set",      "admin hold lift",    "admin hold list",     "admin retention run",
      "admin plugins",       "admin case open",    "admin case approve",  "admin case list",
      "admin export start",  "admin export status", "admin export download", "my-data-access"};
  Output overview = RunCli({"--help"});
  for (const auto& name : names) {
    std::vector<std::string> words;
    std::istringstream in(name);
    for (std::string w; in >> w;) words.push_back(w);
    words.push_back("--help");
    Output o = RunCli(words);
    EXPECT_EQ(o.code, kExitOk) << name;
    ASSERT_FALSE(o.lines.empty()) << name;
    EXPECT_EQ(o.lines[0].rfind("Usage: chatpro " + name, 0), 0u) << o.lines[0];
    EXPECT_TRUE(Contains(overview.out, "  " + name + " ")) << name;
  }
  Output admin = RunCli({"admin", "export", "--help"});
  EXPECT_EQ(admin.code, kExitOk);
  EXPECT_TRUE(Contains(admin.out, "admin export download")) << admin.out;
}

TEST_F(CliRunTest, HoldsAreSetListedAndLifted) {
  Output set = Chatpro({"admin", "hold", "set", "--user", "ben", "--case", "LIT-2026-7",
                        "--reason", "pending lawsuit"});
  ASSERT_EQ(set.code, kExitOk) << set.err;
  SeenEnvelope s = Last(broker_.Seen(), wire::Body::AdminSetHold);
  EXPECT_EQ(s.hold_target, wire::HoldTarget::User);
  EXPECT_EQ(s.login, "ben");
  EXPECT_EQ(s.case_ref, "LIT-2026-7");
  EXPECT_EQ(s.reason, "pending lawsuit");
  EXPECT_EQ(set.lines, std::vector<std::string>{
                           "hold 21 set on user ben (case LIT-2026-7): no retention policy "
                           "removes anything it covers until it is lifted"});
  Output chat = Chatpro(
      {"admin", "hold", "set", "--conversation", "3", "--case", "HR-12", "--reason", "complaint"});
  ASSERT_EQ(chat.code, kExitOk) << chat.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::AdminSetHold).conversation_id, 3u);
  EXPECT_TRUE(Contains(chat.out, "set on conversation #3 (case HR-12)"));
  Output nobody =
      Chatpro({"admin", "hold", "set", "--user", "nobody", "--case", "C", "--reason", "r"});
  EXPECT_EQ(nobody.code, kExitError);
  EXPECT_EQ(nobody.err, "chatpro admin hold set: no user named nobody\n");

  Output list = Chatpro({"admin", "hold", "list"});
  ASSERT_EQ(list.code, kExitOk) << list.err;
  EXPECT_FALSE(Last(broker_.Seen(), wire::Body::AdminListHolds).flag);
  ASSERT_EQ(list.lines.size(), 2u) << list.out;
  EXPECT_EQ(list.lines[0].rfind("ID  TARGET", 0), 0u) << list.lines[0];
  EXPECT_TRUE(Contains(list.lines[1], "user ben  LIT-2026-7  ana")) << list.lines[1];
  EXPECT_TRUE(Contains(list.lines[1], "pending lawsuit"));
  Output all = Chatpro({"admin", "hold", "list", "--all"});
  ASSERT_EQ(all.code, kExitOk) << all.err;
  EXPECT_TRUE(Last(broker_.Seen(), wire::Body::AdminListHolds).flag);
  ASSERT_EQ(all.lines.size(), 3u);
  EXPECT_TRUE(Contains(all.lines[2], "conversation #3")) << all.lines[2];
  EXPECT_TRUE(Contains(all.lines[2], " by ana")) << all.lines[2];

  Output lift = Chatpro({"admin", "hold", "lift", "21", "--reason", "settled"});
  ASSERT_EQ(lift.code, kExitOk) << lift.err;
  SeenEnvelope l = Last(broker_.Seen(), wire::Body::AdminLiftHold);
  EXPECT_EQ(l.id, 21u);
  EXPECT_EQ(l.reason, "settled");
  EXPECT_EQ(lift.lines[0], "lifted hold 21; retention policies apply again to what it covered");
  Output missing = Chatpro({"admin", "hold", "lift", "404", "--reason", "settled"});
  EXPECT_EQ(missing.code, kExitError);
  EXPECT_EQ(missing.err, "chatpro admin hold lift: no hold 404\n");
}

TEST_F(CliRunTest, RetentionRunIsADryRunUnlessApplied) {
  Output dry = Chatpro({"admin", "retention", "run"});
  ASSERT_EQ(dry.code, kExitOk) << dry.err;
  EXPECT_TRUE(Last(broker_.Seen(), wire::Body::AdminRetentionRun).flag);
  ASSERT_EQ(dry.lines.size(), 11u) << dry.out;
  EXPECT_EQ(dry.lines[0],
            "dry run: nothing was removed; these counts are what --apply would remove");
  EXPECT_EQ(dry.lines[2], "took:                  1.500 s");
  EXPECT_EQ(dry.lines[3], "messages examined:     1000");
  EXPECT_EQ(dry.lines[4], "messages deleted:      40");
  EXPECT_EQ(dry.lines[5], "attachments stripped:  12");
  EXPECT_EQ(dry.lines[6], "attachment bytes:      5.0 MiB (5242880 bytes)");
  EXPECT_EQ(dry.lines[7], "conversations:         3");
  EXPECT_EQ(dry.lines[8], "held-protected:        7");
  EXPECT_EQ(dry.lines[9], "policy chats-2y:       40 deleted, 0 stripped");
  EXPECT_EQ(dry.lines[10], "policy media-90d:      0 deleted, 12 stripped");
  Output applied = Chatpro({"admin", "retention", "run", "--apply"});
  ASSERT_EQ(applied.code, kExitOk) << applied.err;
  EXPECT_FALSE(Last(broker_.Seen(), wire::Body::AdminRetentionRun).flag);
  EXPECT_EQ(applied.lines[0], "retention applied: the counts are what was removed");
}

TEST_F(CliRunTest, PluginsAreATable) {
  Output o = Chatpro({"admin", "plugins"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  ASSERT_EQ(o.lines.size(), 3u) << o.out;
  EXPECT_EQ(o.lines[0].rfind("NAME      PLUGIN             HOOKS      FAILURES  LIBRARY", 0), 0u)
      << o.lines[0];
  EXPECT_EQ(o.lines[1],
            "chats-2y  max-age            retention  0         "
            "/usr/lib/chatpro/plugins/libmax_age.so");
  EXPECT_TRUE(Contains(o.lines[2], "no-exe    attachment-filter  accept     2")) << o.lines[2];
}

TEST_F(CliRunTest, CaseOpenSendsTheScopeWithDatesInUtc) {
  Output o = Chatpro({"admin", "case", "open", "--kind", "search", "--basis",
                      "internal investigation", "--subject", "ben", "--subject", "carl",
                      "--conversation", "3", "--conversation", "4", "--from", "2023-11-01",
                      "--to", "2023-11-30", "--keyword", "invoice", "--redact-others"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  SeenEnvelope open = Last(broker_.Seen(), wire::Body::CaseOpen);
  EXPECT_EQ(open.case_kind, wire::CaseKind::Search);
  EXPECT_EQ(open.legal_basis, "internal investigation");
  EXPECT_EQ(open.subjects, (std::vector<std::string>{"ben", "carl"}));
  EXPECT_EQ(open.conversations, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(open.from_us, 1'698'796'800'000'000);  // 2023-11-01T00:00:00Z
  EXPECT_EQ(open.to_us, 1'701'388'799'999'999);    // the end of 2023-11-30 UTC
  EXPECT_EQ(open.keyword, "invoice");
  EXPECT_TRUE(open.flag);
  EXPECT_EQ(o.lines[0], "case:          31 (search)");
  EXPECT_EQ(o.lines[1], "state:         awaiting approval");
  EXPECT_EQ(o.lines[3], "subjects:      ben,carl");
  EXPECT_TRUE(Contains(o.lines[4], "scope:         conversations #3, #4; from ")) << o.lines[4];
  EXPECT_TRUE(Contains(o.lines[4], "; containing \"invoice\"; others redacted")) << o.lines[4];
  EXPECT_EQ(o.lines.back(),
            "someone of the other role must approve it before any export: chatpro admin case "
            "approve 31");

  Output timed = Chatpro({"admin", "case", "open", "--kind", "subject-access", "--basis",
                          "GDPR art. 15", "--subject", "ben", "--from",
                          "2023-11-01T10:30:00+01:00", "--to", "2023-11-02T00:00:00.5Z"});
  ASSERT_EQ(timed.code, kExitOk) << timed.err;
  open = Last(broker_.Seen(), wire::Body::CaseOpen);
  EXPECT_EQ(open.case_kind, wire::CaseKind::SubjectAccess);
  EXPECT_EQ(open.from_us, 1'698'796'800'000'000 + 9 * 3600'000'000LL + 1800'000'000LL);
  EXPECT_EQ(open.to_us, 1'698'883'200'500'000);
  EXPECT_TRUE(open.conversations.empty());
  EXPECT_FALSE(open.flag);
}

TEST_F(CliRunTest, CasesAreApprovedAndListed) {
  Output approve = Chatpro({"admin", "case", "approve", "32"});
  ASSERT_EQ(approve.code, kExitOk) << approve.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::CaseApprove).id, 32u);
  EXPECT_EQ(approve.lines[1], "state:              approved");
  EXPECT_TRUE(Contains(approve.out, "approved by:        ana ")) << approve.out;
  EXPECT_TRUE(Contains(approve.out, "export before:      ")) << approve.out;
  EXPECT_EQ(approve.lines.back(), "start the export with: chatpro admin export start 32");
  Output own = Chatpro({"admin", "case", "approve", "31"});
  EXPECT_EQ(own.code, kExitError);
  EXPECT_EQ(own.err,
            "chatpro admin case approve: case 31 was opened by you; someone else must approve "
            "it\n");

  Output list = Chatpro({"admin", "case", "list"});
  ASSERT_EQ(list.code, kExitOk) << list.err;
  ASSERT_EQ(list.lines.size(), 3u) << list.out;
  EXPECT_EQ(list.lines[0].rfind("ID  KIND            STATE", 0), 0u) << list.lines[0];
  EXPECT_TRUE(Contains(list.lines[1], "32  subject-access  exported  ")) << list.lines[1];
  EXPECT_TRUE(Contains(list.lines[1], "  all their conversations; any time  ")) << list.lines[1];
  EXPECT_TRUE(Contains(list.lines[1], "  GDPR art. 15")) << list.lines[1];
  EXPECT_TRUE(Contains(list.lines[2], "31  search          awaiting approval  ben,carl  ana"))
      << list.lines[2];
}

TEST_F(CliRunTest, ExportsStartWaitAndReportTheirState) {
  Output start = Chatpro({"admin", "export", "start", "32"});
  ASSERT_EQ(start.code, kExitOk) << start.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ExportStart).id, 32u);
  EXPECT_EQ(start.lines, std::vector<std::string>{
                             "started export 78 of case 32; see how far it is with: chatpro "
                             "admin export status 78"});
  Output unapproved = Chatpro({"admin", "export", "start", "31"});
  EXPECT_EQ(unapproved.code, kExitError);
  EXPECT_EQ(unapproved.err, "chatpro admin export start: case 31 is not approved\n");

  broker_.SetExportData(std::string(2048, 'x'));
  broker_.running_polls = 2;
  Output wait = Chatpro({"admin", "export", "start", "32", "--wait"});
  ASSERT_EQ(wait.code, kExitOk) << wait.err;
  EXPECT_EQ(wait.lines, (std::vector<std::string>{
                            "export 78 of case 32: done, 120 messages, 4 attachments, 2.0 KiB "
                            "(2048 bytes)",
                            "download it with: chatpro admin export download 78 --output FILE"}));
  std::size_t polls = 0;
  for (const auto& s : broker_.Seen()) polls += s.type == wire::Body::ExportStatus ? 1 : 0;
  EXPECT_EQ(polls, 3u);

  Output status = Chatpro({"admin", "export", "status", "77"});
  ASSERT_EQ(status.code, kExitOk) << status.err;
  EXPECT_EQ(status.lines, std::vector<std::string>{
                              "export 77 of case 32: done, 120 messages, 4 attachments, 2.0 KiB "
                              "(2048 bytes)"});
  Output failed = Chatpro({"admin", "export", "status", "79"});
  EXPECT_EQ(failed.code, kExitError);
  EXPECT_EQ(failed.lines, std::vector<std::string>{"export 79 of case 32: failed: disk full"});
  Output missing = Chatpro({"admin", "export", "status", "404"});
  EXPECT_EQ(missing.code, kExitError);
  EXPECT_EQ(missing.err, "chatpro admin export status: no export 404\n");
}

TEST_F(CliRunTest, ExportDownloadWritesTheFileAndRefusesToReplaceWithoutForce) {
  std::string data(3000, 'q');
  broker_.SetExportData(data);
  broker_.export_chunk_limit = 1000;
  const std::string out = root_ + "/case-32.zip";
  Output o = Chatpro({"admin", "export", "download", "77", "--output", out});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.lines, std::vector<std::string>{"downloaded export 77 to " + out +
                                              ": 2.9 KiB (3000 bytes)"});
  std::ifstream in(out, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), data);

  broker_.SetExportData("new");
  Output again = Chatpro({"admin", "export", "download", "77", "--output", out});
  EXPECT_EQ(again.code, kExitError);
  EXPECT_EQ(again.err, "chatpro admin export download: " + out +
                           " exists already (add --force to replace it)\n");
  Output forced = Chatpro({"admin", "export", "download", "77", "--output", out, "--force"});
  ASSERT_EQ(forced.code, kExitOk) << forced.err;
  EXPECT_EQ(std::filesystem::file_size(out), 3u);

  broker_.SetExportData(data);
  broker_.export_fault = FakeBroker::ExportFault::kWrongOffset;
  const std::string broken = root_ + "/broken.zip";
  Output bad = Chatpro({"admin", "export", "download", "77", "--output", broken});
  EXPECT_EQ(bad.code, kExitError);
  EXPECT_TRUE(Contains(bad.err, "chatpro admin export download: export 77: the broker sent a "
                                "chunk at offset 1001 where 1000 was asked for"))
      << bad.err;
  std::size_t left = 0;
  for (const auto& e : std::filesystem::directory_iterator(root_)) {
    left += e.path().filename().string().find("broken") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(left, 0u);
  Output running = Chatpro({"admin", "export", "download", "78", "--output", broken});
  EXPECT_EQ(running.code, kExitError);
  EXPECT_EQ(running.err, "chatpro admin export download: export 78 is still running\n");
}

TEST_F(CliRunTest, MyDataAccessListsTheCasesThatConcernedMe) {
  Output o = Chatpro({"my-data-access"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::MyDataAccess).type, wire::Body::MyDataAccess);
  ASSERT_GE(o.lines.size(), 7u) << o.out;
  EXPECT_EQ(o.lines[0], "case:               32 (subject-access)");
  EXPECT_EQ(o.lines[2], "legal basis:        GDPR art. 15");
  EXPECT_TRUE(Contains(o.lines[5], "requested by:       root ")) << o.lines[5];
}

TEST_F(CliRunTest, RecordsListsHaveJsonForScripts) {
  Output holds = Chatpro({"admin", "hold", "list", "--all", "--json"});
  ASSERT_EQ(holds.code, kExitOk) << holds.err;
  ASSERT_EQ(holds.lines.size(), 2u);
  EXPECT_EQ(holds.lines[0],
            "{\"id\":21,\"target\":\"user\",\"login\":\"ben\",\"conversation_id\":0,"
            "\"case_ref\":\"LIT-2026-7\",\"reason\":\"pending lawsuit\",\"created_by\":\"ana\","
            "\"created_at_us\":1700000000000000,\"lifted_by\":\"\",\"lifted_at_us\":0}");
  EXPECT_TRUE(Contains(holds.lines[1], "\"target\":\"conversation\",\"login\":\"\","
                                       "\"conversation_id\":3,"))
      << holds.lines[1];
  Output report = Chatpro({"admin", "retention", "run", "--json"});
  ASSERT_EQ(report.code, kExitOk) << report.err;
  EXPECT_EQ(report.lines,
            std::vector<std::string>{
                "{\"dry_run\":true,\"started_at_us\":1700000000000000,\"finished_at_us\":"
                "1700000001500000,\"messages_examined\":1000,\"messages_deleted\":40,"
                "\"attachments_stripped\":12,\"attachment_bytes\":5242880,\"conversations\":3,"
                "\"held_protected\":7,\"policies\":[{\"policy\":\"chats-2y\",\"deleted\":40,"
                "\"stripped\":0},{\"policy\":\"media-90d\",\"deleted\":0,\"stripped\":12}]}"});
  Output plugins = Chatpro({"admin", "plugins", "--json"});
  ASSERT_EQ(plugins.lines.size(), 2u);
  EXPECT_EQ(plugins.lines[1],
            "{\"name\":\"no-exe\",\"plugin\":\"attachment-filter\",\"library\":"
            "\"/usr/lib/chatpro/plugins/libfilter.so\",\"accept_hook\":true,"
            "\"retention_hook\":false,\"failures\":2}");
  Output cases = Chatpro({"admin", "case", "list", "--json"});
  ASSERT_EQ(cases.lines.size(), 2u);
  EXPECT_EQ(cases.lines[1],
            "{\"id\":31,\"kind\":\"search\",\"state\":\"awaiting approval\",\"legal_basis\":"
            "\"internal investigation\",\"subjects\":[\"ben\",\"carl\"],\"conversations\":[3,4],"
            "\"from_us\":1698796800000000,\"to_us\":1701388799999999,\"keyword\":\"invoice\","
            "\"redact_others\":true,\"requested_by\":\"ana\",\"requested_at_us\":"
            "1700000000000000,\"approved_by\":\"\",\"approved_at_us\":0,"
            "\"approval_expires_at_us\":0,\"visible_to_subjects_at_us\":0}");
  Output mine = Chatpro({"my-data-access", "--json"});
  ASSERT_EQ(mine.lines.size(), 1u);
  EXPECT_EQ(mine.lines[0].rfind("{\"id\":32,\"kind\":\"subject-access\",\"state\":\"exported\"", 0),
            0u);
  Output status = Chatpro({"admin", "export", "status", "79", "--json"});
  EXPECT_EQ(status.code, kExitError);
  EXPECT_EQ(status.lines, std::vector<std::string>{
                              "{\"id\":79,\"case_id\":32,\"state\":\"failed\",\"messages\":0,"
                              "\"attachments\":0,\"bytes\":0,\"error\":\"disk full\"}"});
}

TEST_F(CliRunTest, HistoryShowsStrippedMediaAsRemovedAndSavesNothing) {
  const std::string media = root_ + "/media";
  Output o = Chatpro({"history", "--conversation", "8", "--save-dir", media});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  ASSERT_EQ(o.lines.size(), 2u) << o.out;
  const std::string date = FormatDate(FakeBroker::kStrippedAtUs);
  EXPECT_TRUE(Contains(o.lines[0], "#8 bob: [picture removed by retention policy on " + date + "]"))
      << o.lines[0];
  EXPECT_TRUE(Contains(o.lines[1], "#8 bob: [voice removed by retention policy on " + date + "]"))
      << o.lines[1];
  EXPECT_FALSE(std::filesystem::exists(media + "/8-1.png"));
  EXPECT_FALSE(std::filesystem::exists(media + "/8-2.opus"));
  EXPECT_FALSE(Contains(o.err, "not saved")) << o.err;
  Output json = Chatpro({"history", "--conversation", "8", "--json"});
  ASSERT_EQ(json.lines.size(), 2u);
  EXPECT_TRUE(Contains(json.lines[0], "\"kind\":\"picture\",\"mime_type\":\"image/png\","
                                      "\"width\":640,\"height\":480,\"bytes\":0,"
                                      "\"attachments_removed_at_us\":1700086400000000}"))
      << json.lines[0];
}

TEST_F(CliRunTest, ListenShowsStrippedMediaAsRemoved) {
  const std::string media = root_ + "/media";
  auto run = std::async(std::launch::async, [&] {
    return Chatpro({"listen", "--count", "1", "--timeout", "10", "--save-dir", media});
  });
  ASSERT_TRUE(broker_.WaitFor([](const auto& seen) {
    for (const auto& s : seen) {
      if (s.type == wire::Body::ListConversations) return true;
    }
    return false;
  }));
  broker_.PushStored(
      {client::testing::BuildStoredStripped(6, 3, "bob", true, FakeBroker::kStrippedAtUs)});
  ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
  Output o = run.get();
  EXPECT_EQ(o.code, kExitOk) << o.err;
  ASSERT_EQ(o.lines.size(), 1u) << o.out;
  EXPECT_TRUE(Contains(o.lines[0], "#6 bob: [voice removed by retention policy on " +
                                       FormatDate(FakeBroker::kStrippedAtUs) + "]"))
      << o.lines[0];
  EXPECT_FALSE(std::filesystem::exists(media + "/6-3.opus"));
}

// ------------------------------------------------------------------ working hours

TEST(CliUsage, WorkingHoursCommandsRefuseWrongCommandLinesWithStatus2) {
  const std::vector<std::vector<std::string>> wrong = {
      {"schedule", "show", "x"},
      {"schedule", "show", "--user", ""},
      {"schedule", "set"},  // nothing to change
      {"schedule", "set", "--mon", "9-17"},
      {"schedule", "set", "--mon", "09:00-08:00"},
      {"schedule", "set", "--tue", "09:00-24:30"},
      {"schedule", "set", "--wed", "24:00-24:00"},
      {"schedule", "set", "--thu", "09:00-12:00,"},
      {"schedule", "set", "--fri", "closed"},
      {"schedule", "set", "--day-off", "2026-02-30"},
      {"schedule", "set", "--day-off", "tomorrow"},
      {"schedule", "set", "--shift", "2026-12-01"},
      {"schedule", "set", "--shift", "2026-12-01=9-13"},
      {"schedule", "set", "--shift", "2026-12-01=off", "--shift", "2026-12-01=09:00-10:00"},
      {"schedule", "set", "--time-zone", ""},
      {"schedule", "set", "--mon", "off", "extra"},
      {"presence", "x"},
      {"presence", "--conversation", "0"},
      {"presence", "--conversation", "team"},
      {"admin", "disconnect-report"},
      {"admin", "disconnect-report", "--from", "2026-11-01"},
      {"admin", "disconnect-report", "--to", "2026-11-30"},
      {"admin", "disconnect-report", "--from", "soon", "--to", "2026-11-30"},
      {"admin", "disconnect-report", "--from", "2026-12-01", "--to", "2026-11-30"},
      {"send", "--to", "ben", "--text", "x", "--urgent", ""},
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

TEST(CliUsage, EveryWorkingHoursCommandHasHelpAndIsInTheOverview) {
  Output overview = RunCli({"--help"});
  for (const std::string name :
       {"schedule show", "schedule set", "presence", "admin disconnect-report"}) {
    std::vector<std::string> words;
    std::istringstream in(name);
    for (std::string w; in >> w;) words.push_back(w);
    words.push_back("--help");
    Output o = RunCli(words);
    EXPECT_EQ(o.code, kExitOk) << name;
    ASSERT_FALSE(o.lines.empty()) << name;
    EXPECT_EQ(o.lines[0].rfind("Usage: chatpro " + name, 0), 0u) << o.lines[0];
    EXPECT_TRUE(Contains(overview.out, "  " + name + " ")) << name;
  }
  EXPECT_TRUE(Contains(RunCli({"send", "--help"}).out, "--urgent REASON"));
  EXPECT_TRUE(Contains(RunCli({"listen", "--help"}).out, "URGENT (reason)"));
  EXPECT_TRUE(Contains(RunCli({"schedule", "--help"}).out, "schedule set"));
}

TEST_F(CliRunTest, ScheduleShowPrintsTheWeekTheDaysAndTheDutyStateInUtc) {
  Output o = Chatpro({"schedule", "show"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ScheduleGet).login, "");
  const std::vector<std::string> expected = {
      "schedule of ana, time zone Europe/Berlin (the hours below are local times there)",
      "  Mon  09:00-12:30, 13:30-17:00",
      "  Tue  09:00-12:30, 13:30-17:00",
      "  Wed  09:00-12:30, 13:30-17:00",
      "  Thu  09:00-12:30, 13:30-17:00",
      "  Fri  09:00-12:30, 13:30-17:00",
      "  Sat  off",
      "  Sun  off",
      "days off: 2026-12-24",
      "holidays: 2026-12-25, 2026-12-26",
      "shift changes: 2026-12-01 09:00-13:00",
      "profile: office",
      "may be changed: week, days off, shifts",
      "now: on duty until 2026-11-25 16:00 UTC"};
  EXPECT_EQ(o.lines, expected) << o.out;

  Output ben = Chatpro({"schedule", "show", "--user", "ben"});
  ASSERT_EQ(ben.code, kExitOk) << ben.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ScheduleGet).login, "ben");
  EXPECT_EQ(ben.lines.back(), "now: off duty until Wed 2026-11-25 08:00 UTC");

  Output json = Chatpro({"schedule", "show", "--json"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  ASSERT_EQ(json.lines.size(), 1u);
  EXPECT_EQ(json.lines[0],
            "{\"login\":\"ana\",\"time_zone\":\"Europe/Berlin\",\"week\":{"
            "\"mon\":[\"09:00-12:30\",\"13:30-17:00\"],\"tue\":[\"09:00-12:30\",\"13:30-17:00\"],"
            "\"wed\":[\"09:00-12:30\",\"13:30-17:00\"],\"thu\":[\"09:00-12:30\",\"13:30-17:00\"],"
            "\"fri\":[\"09:00-12:30\",\"13:30-17:00\"],\"sat\":[],\"sun\":[]},"
            "\"days_off\":[\"2026-12-24\"],\"holidays\":[\"2026-12-25\",\"2026-12-26\"],"
            "\"shifts\":[{\"date\":\"2026-12-01\",\"periods\":[\"09:00-13:00\"]}],"
            "\"profile\":\"office\",\"may_change\":[\"week\",\"days_off\",\"shifts\"],"
            "\"on_duty\":true,\"until_us\":" +
                std::to_string(FakeBroker::kOnDutyUntilUs) + "}");

  Output missing = Chatpro({"schedule", "show", "--user", "nobody"});
  EXPECT_EQ(missing.code, kExitError);
  EXPECT_EQ(missing.err, "chatpro schedule show: no user named nobody\n");
}

TEST_F(CliRunTest, ScheduleSetSendsOnlyTheGivenPartsCompletedFromTheCurrentSchedule) {
  Output o = Chatpro({"schedule", "set", "--mon", "08:00-12:00,12:30-16:30", "--sat",
                      "10:00-14:00", "--fri", "off"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  SeenEnvelope set = Last(broker_.Seen(), wire::Body::ScheduleSet);
  EXPECT_EQ(set.login, "");
  // The whole week (the weekdays not given as they were), nothing else.
  EXPECT_EQ(set.schedule,
            "week=0:480-720,750-990|1:540-750,810-1020|2:540-750,810-1020|3:540-750,810-1020|"
            "4:|5:600-840|6:");
  ASSERT_FALSE(o.lines.empty());
  EXPECT_EQ(o.lines[0], "schedule changed");
  EXPECT_TRUE(Contains(o.out, "  Mon  08:00-12:00, 12:30-16:30\n")) << o.out;
  EXPECT_TRUE(Contains(o.out, "  Fri  off\n")) << o.out;
  EXPECT_TRUE(Contains(o.out, "  Sat  10:00-14:00\n")) << o.out;

  o = Chatpro({"schedule", "set", "--day-off", "2026-12-31", "--day-off", "2026-12-24",
               "--shift", "2026-12-02=off", "--shift", "2026-12-01=07:00-11:00,12:00-24:00"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  set = Last(broker_.Seen(), wire::Body::ScheduleSet);
  EXPECT_EQ(set.schedule,
            "days_off=2026-12-24,2026-12-31 shifts=2026-12-01:420-660,720-1440|2026-12-02:");
  EXPECT_TRUE(Contains(o.out, "days off: 2026-12-24, 2026-12-31\n")) << o.out;
  EXPECT_TRUE(Contains(o.out, "shift changes: 2026-12-01 07:00-11:00, 12:00-24:00; 2026-12-02 off\n"))
      << o.out;

  // Someone else's, as an administrator.
  o = Chatpro({"schedule", "set", "--user", "ben", "--shift", "2026-12-03=off", "--json"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ScheduleGet).login, "ben");
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ScheduleSet).login, "ben");
  ASSERT_EQ(o.lines.size(), 1u);
  EXPECT_TRUE(Contains(o.lines[0], "{\"date\":\"2026-12-03\",\"periods\":[]}")) << o.out;

  // The time zone alone needs no look-up; the organisation refuses it here.
  const std::size_t gets = [&] {
    std::size_t n = 0;
    for (const auto& e : broker_.Seen()) n += e.type == wire::Body::ScheduleGet;
    return n;
  }();
  Output refused = Chatpro({"schedule", "set", "--time-zone", "Europe/Rome"});
  EXPECT_EQ(refused.code, kExitError);
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::ScheduleSet).schedule, "zone=Europe/Rome");
  EXPECT_TRUE(Contains(refused.err, "chatpro schedule set: ")) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "does not let you change the time zone")) << refused.err;
  EXPECT_TRUE(refused.out.empty());
  std::size_t gets_after = 0;
  for (const auto& e : broker_.Seen()) gets_after += e.type == wire::Body::ScheduleGet;
  EXPECT_EQ(gets_after, gets);
}

TEST_F(CliRunTest, SendNamesWhoIsOffDutyAndUrgentCarriesItsReason) {
  Output o = Chatpro({"send", "--to", "ben", "--text", "see you tomorrow"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  ASSERT_EQ(o.lines.size(), 2u) << o.out;
  EXPECT_TRUE(Contains(o.lines[0], "sent to ben: conversation 1, seq")) << o.lines[0];
  EXPECT_EQ(o.lines[1], "ben is off duty until 2026-11-25 08:00 UTC; the message waits for them");
  SeenEnvelope sent = Last(broker_.Seen(), wire::Body::Send);
  EXPECT_FALSE(sent.urgent);

  o = Chatpro({"send", "--to", "ben", "--text", "server room flooding, come now", "--urgent",
               "server room flooding"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  sent = Last(broker_.Seen(), wire::Body::Send);
  EXPECT_TRUE(sent.urgent);
  EXPECT_EQ(sent.reason, "server room flooding");
  ASSERT_EQ(o.lines.size(), 2u) << o.out;
  EXPECT_TRUE(Contains(o.lines[0], "sent urgent to ben: conversation 1, seq")) << o.lines[0];
  EXPECT_EQ(o.lines[1],
            "ben is off duty until 2026-11-25 08:00 UTC; the urgent message reaches them now");

  // Everyone on duty: just the usual line.
  o = Chatpro({"send", "--to", "bob", "--text", "hi"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.lines.size(), 1u) << o.out;

  Output refused = Chatpro({"send", "--to", "bob", "--text", "x", "--urgent",
                            FakeBroker::kRefusedUrgentReason});
  EXPECT_EQ(refused.code, kExitError);
  EXPECT_TRUE(Contains(refused.err, "the urgent policy does not name ana")) << refused.err;
}

TEST_F(CliRunTest, HistoryMarksUrgentMessages) {
  Output o = Chatpro({"history", "--conversation", std::to_string(FakeBroker::kOffDutyConversation)});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  ASSERT_EQ(o.lines.size(), 2u) << o.out;
  EXPECT_TRUE(Contains(o.lines[0], " cy: URGENT (server room flooding) come now")) << o.lines[0];
  EXPECT_TRUE(Contains(o.lines[1], " cy: thanks")) << o.lines[1];
  EXPECT_FALSE(Contains(o.lines[1], "URGENT"));
  Output json = Chatpro({"history", "--conversation",
                         std::to_string(FakeBroker::kOffDutyConversation), "--json"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  ASSERT_EQ(json.lines.size(), 2u);
  EXPECT_TRUE(Contains(json.lines[0], ",\"urgent\":true,\"urgent_reason\":\"server room flooding\"}"))
      << json.lines[0];
  EXPECT_FALSE(Contains(json.lines[1], "urgent"));
}

TEST_F(CliRunTest, ListenMarksUrgentMessagesAndPrintsPresenceChanges) {
  auto run = std::async(std::launch::async, [&] {
    return Chatpro({"listen", "--count", "1", "--timeout", "10"});
  });
  ASSERT_TRUE(broker_.WaitFor([](const auto& seen) {
    for (const auto& s : seen) {
      if (s.type == wire::Body::ListConversations) return true;
    }
    return false;
  }));
  broker_.PushPresence("ben", wire::PresenceState::OffDuty, FakeBroker::kBackOnDutyUs);
  std::this_thread::sleep_for(200ms);  // the presence line first
  broker_.PushStored({client::testing::BuildStoredUrgent(6, 3, "cy", "come now", "flooding")});
  ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
  Output o = run.get();
  EXPECT_EQ(o.code, kExitOk) << o.err;
  ASSERT_EQ(o.lines.size(), 2u) << o.out;
  EXPECT_TRUE(Contains(o.lines[0], "] ben is off duty until 2026-11-25 08:00 UTC")) << o.lines[0];
  EXPECT_TRUE(Contains(o.lines[1], "#6 cy: URGENT (flooding) come now")) << o.lines[1];
}

TEST_F(CliRunTest, ListenJsonShowsPresenceAsEvents) {
  auto run = std::async(std::launch::async, [&] {
    return Chatpro({"listen", "--json", "--count", "1", "--timeout", "10"});
  });
  ASSERT_TRUE(broker_.WaitFor([](const auto& seen) {
    for (const auto& s : seen) {
      if (s.type == wire::Body::ListConversations) return true;
    }
    return false;
  }));
  broker_.PushPresence("bob", wire::PresenceState::Online, 0);
  std::this_thread::sleep_for(200ms);
  broker_.PushDeliveries(6, {4});
  ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
  Output o = run.get();
  EXPECT_EQ(o.code, kExitOk) << o.err;
  ASSERT_EQ(o.lines.size(), 2u) << o.out;
  EXPECT_EQ(o.lines[0], "{\"event\":\"presence\",\"login\":\"bob\",\"state\":\"online\",\"until_us\":0}");
  EXPECT_TRUE(Contains(o.lines[1], "\"seq\":4")) << o.lines[1];
}

TEST_F(CliRunTest, PresenceListsEveryoneOrOneConversation) {
  Output o = Chatpro({"presence"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::PresenceQuery).conversation_id, 0u);
  const std::vector<std::string> expected = {
      "LOGIN  STATE     UNTIL",
      "bob    online    -",
      "ben    off duty  Wed 2026-11-25 08:00 UTC",
      "cy     offline   -"};
  EXPECT_EQ(o.lines, expected) << o.out;

  Output json = Chatpro({"presence", "--conversation", "3", "--json"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  EXPECT_EQ(Last(broker_.Seen(), wire::Body::PresenceQuery).conversation_id, 3u);
  ASSERT_EQ(json.lines.size(), 3u);
  EXPECT_EQ(json.lines[1], "{\"login\":\"ben\",\"state\":\"off_duty\",\"until_us\":" +
                               std::to_string(FakeBroker::kBackOnDutyUs) + "}");

  Output missing = Chatpro({"presence", "--conversation", "404"});
  EXPECT_EQ(missing.code, kExitError);
  EXPECT_EQ(missing.err, "chatpro presence: no conversation 404\n");
}

TEST_F(CliRunTest, DisconnectReportCoversWholeDaysPerSenderAndPerGroup) {
  Output o = Chatpro({"admin", "disconnect-report", "--from", "2026-11-01", "--to", "2026-11-30"});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  SeenEnvelope seen = Last(broker_.Seen(), wire::Body::AdminDisconnectReport);
  EXPECT_EQ(seen.from_us, *ParseTimestamp("2026-11-01"));
  EXPECT_EQ(seen.to_us, *ParseTimestamp("2026-12-01"));  // the whole of the 30th
  const std::vector<std::string> expected = {
      "right to disconnect, 2026-11-01 00:00 UTC to 2026-12-01 00:00 UTC:",
      "4 messages reached people outside their working hours (6 recipients, 1 of the messages "
      "urgent)",
      "",
      "per sender:",
      "  SENDER  MESSAGES  RECIPIENTS  URGENT",
      "  ana     3         5           1",
      "  bob     1         1           0",
      "",
      "per group:",
      "  GROUP  CONVERSATION  MESSAGES  RECIPIENTS  URGENT",
      "  team   #1            4         6           1"};
  EXPECT_EQ(o.lines, expected) << o.out;

  Output json = Chatpro({"admin", "disconnect-report", "--from", "2026-11-01T08:00:00Z", "--to",
                         "2026-11-01T18:00:00Z", "--json"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  seen = Last(broker_.Seen(), wire::Body::AdminDisconnectReport);
  EXPECT_EQ(seen.to_us - seen.from_us, 10LL * 3600 * 1'000'000);
  ASSERT_EQ(json.lines.size(), 1u);
  EXPECT_TRUE(Contains(json.lines[0], "\"messages\":4,\"recipients\":6,\"urgent\":1,\"senders\":["
                                      "{\"name\":\"ana\",\"conversation_id\":0,\"messages\":3,"))
      << json.lines[0];
  EXPECT_TRUE(Contains(json.lines[0], "\"groups\":[{\"name\":\"team\",\"conversation_id\":1,"))
      << json.lines[0];
}

}  // namespace
}  // namespace chatpro::cli
