// SPDX-License-Identifier: Apache-2.0
//
// Records management end to end: a broker started with the built-in policy
// plugins from its command line refuses and flags messages, removes what the
// retention policy says (dry run first), leaves tombstones of what it
// removed, keeps what a legal hold covers, and records all of it in the
// audit log; driven through libchatpro and the chatpro CLI.
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "tests/cli_fixture.h"

namespace chatpro::testing {
namespace {

using client::Target;

class Records : public CliBrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {
        // Keep the newest 3 messages of every direct chat.
        "--set", "plugin.trim.library=keep_newest", "--set", "plugin.trim.count=3",
        "--set", "plugin.trim.scope=direct",
        // Refuse card numbers.
        "--set", "plugin.no-cards.library=patterns", "--set", "plugin.no-cards.card_numbers=true",
        "--set", "plugin.no-cards.reason=No card numbers in chat, please.",
        // Flag talk of invoices for the administrators.
        "--set", "plugin.invoices.library=patterns", "--set", "plugin.invoices.action=flag",
        "--set", "plugin.invoices.pattern=invoice",
        // Runs on request only, in small batches.
        "--set", "retention.interval=24h", "--set", "retention.batch_messages=2"};
    return o;
  }

  // `n` texts from `from` to `to_login`; returns the conversation's id.
  std::uint64_t SendTexts(client::Client& from, const std::string& to_login, int n,
                          const std::string& prefix) {
    std::uint64_t conversation = 0;
    for (int i = 0; i < n; ++i) {
      client::SendResult r =
          SendAndWait(from, Target::User(to_login), MakeText(prefix + " " + std::to_string(i + 1)));
      EXPECT_TRUE(r.status.ok()) << r.status;
      conversation = r.conversation_id;
    }
    return conversation;
  }

  std::vector<std::uint64_t> Seqs(client::Client& c, std::uint64_t conversation) {
    std::vector<std::uint64_t> out;
    Result<client::HistoryPage> page =
        c.History(Target::Conversation(conversation), client::HistoryQuery{1, 100, false});
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return out;
    for (const client::Message& m : page->messages) out.push_back(m.seq);
    return out;
  }

  std::vector<std::string> AuditActions() {
    std::vector<std::string> out;
    Result<std::vector<client::AuditEntryInfo>> entries = root_->AdminListAudit(1, 1000);
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok()) return out;
    for (const auto& e : *entries) out.push_back(e.action);
    return out;
  }
};

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Disk space the files under `dir` take (blocks allocated, so punched holes count).
std::uint64_t AllocatedBytes(const std::string& dir) {
  std::uint64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st;
    if (e.is_regular_file() && ::stat(e.path().c_str(), &st) == 0) {
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

// The LevelDB key of message `seq` of `conversation`: 'm', then both big-endian.
std::string MessageKey(std::uint64_t conversation, std::uint64_t seq) {
  std::string k(1, 'm');
  for (std::uint64_t v : {conversation, seq}) {
    for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  return k;
}

TEST_F(Records, ThePoliciesOfTheConfigurationAreLoadedAndListed) {
  ASSERT_OK_AND_ASSIGN(std::vector<client::PluginInfo> plugins, root_->ListPlugins());
  ASSERT_EQ(plugins.size(), 3u);
  EXPECT_EQ(plugins[0].name, "trim");
  EXPECT_EQ(plugins[0].plugin, "keep-newest");
  EXPECT_TRUE(plugins[0].retention_hook);
  EXPECT_FALSE(plugins[0].accept_hook);
  EXPECT_EQ(plugins[1].name, "no-cards");
  EXPECT_TRUE(plugins[1].accept_hook);
  ASSERT_OK_AND_ASSIGN(std::string cli, RootCliProfile());
  RunResult r = Cli(cli, {"admin", "plugins"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "trim")) << r.out;
  EXPECT_TRUE(Contains(r.out, "invoices")) << r.out;
}

TEST_F(Records, ACardNumberIsRefusedWithThePolicysReasonAndFlaggedTalkReachesTheAdministrators) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Profile ben, AddUser("ben"));
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));

  client::SendResult refused =
      SendAndWait(*ana_client, Target::User("ben"), MakeText("my card is 4111 1111 1111 1111"));
  EXPECT_EQ(refused.status.code(), StatusCode::kPermissionDenied) << refused.status;
  EXPECT_TRUE(Contains(refused.status.message(), "No card numbers in chat, please."))
      << refused.status;
  EXPECT_TRUE(Contains(refused.status.message(), "no-cards")) << refused.status;

  client::SendResult flagged =
      SendAndWait(*ana_client, Target::User("ben"), MakeText("the invoice is attached"));
  ASSERT_TRUE(flagged.status.ok()) << flagged.status;
  ASSERT_TRUE(ben_inbox->WaitFor(1));
  EXPECT_EQ(TextOf(ben_inbox->messages()[0]), "the invoice is attached");  // the refused one never came
  ASSERT_OK_AND_ASSIGN(std::vector<client::ReportInfo> reports, root_->AdminListReports());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(Contains(reports[0].reason, "invoices")) << reports[0].reason;
  EXPECT_TRUE(Has(AuditActions(), "message.flagged"));
}

TEST_F(Records, ADryRunSaysWhatWouldGoThenTheRunRemovesItAndRecordsIt) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Profile ben, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, nullptr));
  std::uint64_t chat = SendTexts(*ana_client, "ben", 10, "note");
  ASSERT_OK_AND_ASSIGN(std::string cli, RootCliProfile());

  // The CLI's default is a dry run.
  RunResult dry = Cli(cli, {"admin", "retention", "run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_EQ(JsonUintField(dry.out, "messages_deleted"), std::optional<std::uint64_t>(7)) << dry.out;
  EXPECT_EQ(Seqs(*ben_client, chat).size(), 10u);

  RunResult run = Cli(cli, {"admin", "retention", "run", "--apply", "--json"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(JsonUintField(run.out, "messages_deleted"), std::optional<std::uint64_t>(7)) << run.out;
  EXPECT_EQ(Seqs(*ben_client, chat), (std::vector<std::uint64_t>{8, 9, 10}));
  EXPECT_EQ(Seqs(*ana_client, chat), (std::vector<std::uint64_t>{8, 9, 10}));

  // Nothing more goes on a second run; the conversation goes on numbering.
  ASSERT_OK_AND_ASSIGN(client::RetentionReport again, root_->RunRetention(false));
  EXPECT_EQ(again.messages_deleted, 0u);
  client::SendResult next = SendAndWait(*ana_client, Target::User("ben"), MakeText("after"));
  ASSERT_TRUE(next.status.ok()) << next.status;
  EXPECT_EQ(next.seq, 11u);

  std::vector<std::string> actions = AuditActions();
  EXPECT_TRUE(Has(actions, "retention.dry_run"));
  EXPECT_TRUE(Has(actions, "retention.start"));
  EXPECT_TRUE(Has(actions, "retention.run"));
  RunResult verify = Cli(cli, {"admin", "audit", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

TEST_F(Records, RemovedMessagesAndTheirPicturesLeaveTheStoreFiles) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Profile ben, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  std::uint64_t chat = 0;
  for (std::uint32_t i = 0; i < 8; ++i) {
    client::SendResult r = SendAndWait(*ana_client, Target::User("ben"), MakePicture(400000, 2000, i));
    ASSERT_TRUE(r.status.ok()) << r.status;
    chat = r.conversation_id;
  }
  std::uint64_t before = AllocatedBytes(broker_->data_dir());
  ASSERT_OK_AND_ASSIGN(client::RetentionReport report, root_->RunRetention(false));
  EXPECT_EQ(report.messages_deleted, 5u);
  EXPECT_GE(report.attachment_bytes, 5u * 400000);
  ana_client.reset();
  root_.reset();
  ExitCode stopped = broker_->Stop();
  ASSERT_EQ(stopped, 0) << DescribeExit(stopped);
  std::uint64_t after = AllocatedBytes(broker_->data_dir());
  // Five pictures of 400 kB no longer take space (tombstones and logs are small).
  EXPECT_LT(after + 5 * 300000, before) << "before " << before << " bytes, after " << after;

  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), broker_->data_dir() + "/store", &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  for (std::uint64_t seq = 1; seq <= 8; ++seq) {
    std::string value;
    bool present = db->Get(leveldb::ReadOptions(), MessageKey(chat, seq), &value).ok();
    EXPECT_EQ(present, seq > 5) << "message " << seq;
  }
}

TEST_F(Records, ALegalHoldKeepsEverythingItCoversUntilItIsLifted) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Profile ben, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(client::Profile cleo, AddUser("cleo"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  ASSERT_OK_AND_ASSIGN(auto cleo_client, Connect(cleo, nullptr));
  std::uint64_t ana_ben = SendTexts(*ana_client, "ben", 6, "to ben");
  std::uint64_t cleo_ana = SendTexts(*cleo_client, "ana", 6, "to ana");
  ASSERT_OK_AND_ASSIGN(std::string cli, RootCliProfile());

  RunResult set = Cli(cli, {"admin", "hold", "set", "--user", "ben", "--case", "LIT-2026-7",
                            "--reason", "employment tribunal"});
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  RunResult list = Cli(cli, {"admin", "hold", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(JsonStringField(list.out, "case_ref"), std::optional<std::string>("LIT-2026-7")) << list.out;
  std::optional<std::uint64_t> hold_id = JsonUintField(list.out, "id");
  ASSERT_TRUE(hold_id.has_value()) << list.out;

  ASSERT_OK_AND_ASSIGN(client::RetentionReport held, root_->RunRetention(false));
  EXPECT_EQ(held.held_protected, 3u);   // ana-ben's oldest three
  EXPECT_EQ(held.messages_deleted, 3u);  // cleo-ana's oldest three
  EXPECT_EQ(Seqs(*ana_client, ana_ben).size(), 6u);
  EXPECT_EQ(Seqs(*ana_client, cleo_ana).size(), 3u);

  RunResult lift = Cli(cli, {"admin", "hold", "lift", std::to_string(*hold_id), "--reason",
                             "tribunal closed"});
  ASSERT_EQ(lift.exit_code, 0) << lift.out << lift.err;
  ASSERT_OK_AND_ASSIGN(client::RetentionReport after, root_->RunRetention(false));
  EXPECT_EQ(after.messages_deleted, 3u);
  EXPECT_EQ(Seqs(*ana_client, ana_ben), (std::vector<std::uint64_t>{4, 5, 6}));
  std::vector<std::string> actions = AuditActions();
  EXPECT_TRUE(Has(actions, "hold.set"));
  EXPECT_TRUE(Has(actions, "hold.lift"));
}

TEST_F(Records, OnlyAdministratorsPlaceHoldsAndRunRetention) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  EXPECT_EQ(ana_client->RunRetention(true).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ana_client->SetHold(client::HoldTarget::User("ana"), "X-1", "mine").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(ana_client->ListHolds(false).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(root_->SetHold(client::HoldTarget::User("nobody"), "X-1", "why").status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace chatpro::testing
