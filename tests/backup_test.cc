// SPDX-License-Identifier: Apache-2.0
//
// Backups, restores and store format versions, end to end: a broker under
// continuous sends makes a backup; the backup restored into a new data
// directory serves every message acknowledged before the backup started,
// none sent after it ended, and its audit chain verifies; a damaged backup is
// refused naming the file; a store of a newer format is refused with what to
// do; an older store is migrated at start.
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli_fixture.h"

namespace chatpro::testing {
namespace {

namespace fs = std::filesystem;
using client::Profile;
using client::Target;

// The meta records (plain in the store): '!' + name.
constexpr char kFormatKey[] = "!format";
constexpr char kStoreIdKey[] = "!store_id";

class Backups : public CliBrokerTest {
 protected:
  RunResult Admin(const std::vector<std::string>& args) {
    Result<std::string> profile = RootCliProfile();
    EXPECT_TRUE(profile.ok()) << profile.status();
    return Cli(profile.ok() ? *profile : std::string(), args);
  }

  RunResult Broker(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BrokerPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = RunProgram(argv, dir_->path());
    std::string line = "$";
    for (const auto& a : argv) line += " " + a;
    Note(line + "\n" + r.out + r.err + "(" + DescribeExit(r.exit_code) + ")");
    return r;
  }

  // Stops the broker, runs `change` on its LevelDB store.
  void WithStoppedBroker(const std::function<void(leveldb::DB*)>& change) {
    root_.reset();
    ExitCode stopped = broker_->Stop();
    ASSERT_EQ(stopped, 0) << DescribeExit(stopped);
    leveldb::DB* raw = nullptr;
    leveldb::Options options;
    leveldb::Status s = leveldb::DB::Open(options, broker_->data_dir() + "/store", &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<leveldb::DB> db(raw);
    change(db.get());
  }

  std::string BackupDir(const std::string& name) const {
    return broker_->data_dir() + "/backups/" + name;  // backup.dir's default
  }

  // Every message of ben's chat with ana, oldest first.
  static Result<std::vector<client::Message>> AllHistory(client::Client& ben) {
    std::vector<client::Message> all;
    client::HistoryQuery q;
    q.backward = false;
    q.from_seq = 1;
    q.limit = 200;
    for (int pages = 0; pages < 1000; ++pages) {
      CHATPRO_ASSIGN_OR_RETURN(client::HistoryPage page, ben.History(Target::User("ana"), q));
      for (auto& m : page.messages) all.push_back(std::move(m));
      if (!page.has_more || page.messages.empty()) break;
      q.from_seq = all.back().seq + 1;
    }
    return all;
  }
};

struct Sent {
  std::uint64_t seq = 0;
  client::Content content;
};

// Sends to ben from its own thread until stopped, remembering what was
// acknowledged; every 7th message is a picture large enough for the blob log.
class Sender {
 public:
  explicit Sender(client::Client* from) : from_(from) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Sender() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Sent> acked() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return acked_;
  }
  std::string error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_;
  }

 private:
  void Run() {
    for (std::uint32_t i = 1; !stop_; ++i) {
      client::Content content = i % 7 == 0
                                    ? client::Content(MakePicture(70000 + i, 500, i))
                                    : client::Content(MakeText("message " + std::to_string(i)));
      client::SendResult r = SendAndWait(*from_, Target::User("ben"), content);
      std::lock_guard<std::mutex> lock(mutex_);
      if (!r.status.ok()) {
        error_ = r.status.ToString();
        return;
      }
      acked_.push_back({r.seq, content});
    }
  }

  client::Client* const from_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Sent> acked_;  // GUARDED_BY(mutex_)
  std::string error_;        // GUARDED_BY(mutex_)
  std::thread thread_;
};

TEST_F(Backups, ABackupUnderLoadRestoredIntoANewDataDirServesEveryMessageAckedBeforeIt) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  ASSERT_OK(RootCliProfile().status());

  std::vector<Sent> before;
  std::vector<Sent> all;
  RunResult started;
  {
    Sender sender(ana_client.get());
    ASSERT_TRUE(WaitUntil([&] { return sender.acked().size() >= 40 || !sender.error().empty(); }));
    ASSERT_EQ(sender.error(), "");
    before = sender.acked();
    started = Admin({"admin", "backup", "start", "nightly", "--wait", "--json"});
    const std::size_t at_end = sender.acked().size();
    // Sends go on after the backup ended; none of these may be in it.
    ASSERT_TRUE(
        WaitUntil([&] { return sender.acked().size() >= at_end + 10 || !sender.error().empty(); }));
    sender.Stop();
    ASSERT_EQ(sender.error(), "");
    all = sender.acked();
    const std::string counts = "acknowledged " + std::to_string(before.size()) +
                               " before the backup, " + std::to_string(at_end) +
                               " when it ended, " + std::to_string(all.size()) + " in all";
    Note(counts);
    std::printf("%s\n", counts.c_str());
  }
  ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  EXPECT_EQ(JsonStringField(started.out, "state"), std::optional<std::string>("done"));
  std::optional<std::uint64_t> backed_up = JsonUintField(started.out, "messages");
  ASSERT_TRUE(backed_up.has_value()) << started.out;
  EXPECT_GE(*backed_up, before.size());
  EXPECT_EQ(JsonUintField(started.out, "store_format"), std::optional<std::uint64_t>(3));

  RunResult list = Admin({"admin", "backup", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Contains(list.out, "backup nightly: complete")) << list.out;
  ASSERT_TRUE(fs::exists(BackupDir("nightly") + "/MANIFEST"));
  for (const char* key : {"storage.key", "broker.key"}) {
    EXPECT_TRUE(fs::exists(BackupDir("nightly") + "/" + key)) << key;
  }
  ASSERT_OK_AND_ASSIGN(std::vector<client::AuditEntryInfo> audit, root_->AdminListAudit(0, 100));
  std::vector<std::string> actions;
  for (const auto& e : audit) actions.push_back(e.action + " " + e.target);
  auto has = [&](const std::string& a) {
    return std::find(actions.begin(), actions.end(), a) != actions.end();
  };
  EXPECT_TRUE(has("backup.start backup:nightly"));
  EXPECT_TRUE(has("backup.finish backup:nightly"));

  // Restore into a new data directory while the first broker keeps its own.
  const std::string restored_work = dir_->Sub("restored");
  const std::string restored_data = restored_work + "/data";
  RunResult restore = Broker({"--restore", BackupDir("nightly"), "--data-dir", restored_data});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  EXPECT_TRUE(Contains(restore.out, "restored backup 'nightly'")) << restore.out;
  // Not twice over a store without --force.
  RunResult again = Broker({"--restore", BackupDir("nightly"), "--data-dir", restored_data});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "holds a store already")) << again.err;

  BrokerProcess restored(restored_work);
  ASSERT_OK(restored.Init());
  Profile ben_there = ben;
  ben_there.endpoint = restored.endpoint();
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben_there, nullptr));
  ASSERT_OK_AND_ASSIGN(std::vector<client::Message> history, AllHistory(*ben_client));
  Note("the restored broker has " + std::to_string(history.size()) + " messages");

  // A prefix of what was sent: seqs 1..K without holes, each as sent,
  // holding everything acknowledged before the backup and nothing
  // acknowledged after it ended.
  std::map<std::uint64_t, const Sent*> by_seq;
  for (const Sent& s : all) by_seq[s.seq] = &s;
  ASSERT_EQ(history.size(), *backed_up) << "the backup's count and the restored history differ";
  for (std::size_t i = 0; i < history.size(); ++i) {
    ASSERT_EQ(history[i].seq, i + 1) << "a hole in the restored conversation";
    auto it = by_seq.find(history[i].seq);
    ASSERT_NE(it, by_seq.end()) << "seq " << history[i].seq << " was never acknowledged";
    EXPECT_TRUE(SameContent(it->second->content, history[i].content)) << "seq " << history[i].seq;
  }
  EXPECT_GE(history.size(), before.size());
  if (!before.empty()) {
    EXPECT_GE(history.size(), before.back().seq);
  }
  EXPECT_LT(history.size(), all.size()) << "messages sent after the backup ended are in it";

  Profile root_there = root_profile_;
  root_there.endpoint = restored.endpoint();
  ASSERT_OK_AND_ASSIGN(auto root_client, Connect(root_there, nullptr));
  ASSERT_OK_AND_ASSIGN(client::AuditVerification verified, root_client->AdminVerifyAudit());
  EXPECT_TRUE(verified.whole) << verified.message;
  EXPECT_GT(verified.records, 0u);
  ben_client.reset();
  root_client.reset();
  EXPECT_EQ(restored.Stop(), 0);
}

// A broker whose backups copy one byte per second: a backup of more than
// one chunk (1 MiB) runs until the broker stops.
class SlowBackups : public Backups {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "backup.max_rate=1"};
    return o;
  }
};

TEST_F(SlowBackups, OneBackupRunsAtATimeWhileTheBrokerServesAndAStopLeavesNothingOfIt) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  for (std::uint32_t seed : {1u, 2u}) {
    ASSERT_OK(
        SendAndWait(*ana_client, Target::User("root"), MakePicture(800000, 1000, seed)).status);
  }
  ASSERT_OK_AND_ASSIGN(client::BackupInfo started, root_->StartBackup("slow"));
  EXPECT_EQ(started.name, "slow");
  ASSERT_TRUE(WaitUntil([&] {
    Result<client::BackupInfo> now = root_->BackupStatus();
    return now.ok() && now->running() && now->bytes > 0;
  })) << "the backup never showed progress";

  // Only administrators, and one at a time.
  Result<client::BackupInfo> by_user = ana_client->StartBackup("mine");
  ASSERT_FALSE(by_user.ok());
  EXPECT_EQ(by_user.status().code(), StatusCode::kPermissionDenied) << by_user.status();
  Result<client::BackupInfo> second = root_->StartBackup("second");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition) << second.status();
  EXPECT_TRUE(Contains(second.status().message(), "'slow' is running")) << second.status();

  // The broker serves meanwhile.
  ASSERT_OK(SendAndWait(*ana_client, Target::User("root"), MakeText("during the backup")).status);
  ASSERT_OK_AND_ASSIGN(client::BackupList listed, root_->ListBackups());
  ASSERT_EQ(listed.backups.size(), 1u);
  EXPECT_EQ(listed.backups[0].name, "slow");
  EXPECT_TRUE(listed.backups[0].running());

  // A stop ends it at once; nothing of it stays, and its failure is on record.
  ana_client.reset();
  root_.reset();
  ExitCode stopped = broker_->Stop();
  ASSERT_EQ(stopped, 0) << DescribeExit(stopped);
  EXPECT_FALSE(fs::exists(BackupDir("slow")));
  EXPECT_FALSE(fs::exists(BackupDir(".slow.partial")));
  ASSERT_OK(broker_->Start());
  ASSERT_OK_AND_ASSIGN(auto root_client, Connect(root_profile_, nullptr));
  ASSERT_OK_AND_ASSIGN(std::vector<client::AuditEntryInfo> audit,
                       root_client->AdminListAudit(0, 100));
  bool failed = false;
  for (const auto& e : audit)
    failed = failed || (e.action == "backup.failed" && e.target == "backup:slow");
  EXPECT_TRUE(failed) << "no backup.failed entry for the stopped backup";
}

TEST_F(Backups, ADamagedBackupIsRefusedNamingTheFileAndNothingIsInstalled) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  {
    ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
    ASSERT_OK(SendAndWait(*ana_client, Target::User("root"), MakeText("before the backup")).status);
  }
  // The route for a stopped broker makes the same backup.
  root_.reset();
  ASSERT_EQ(broker_->Stop(), 0);
  RunResult made = Broker({"--data-dir", broker_->data_dir(), "--backup", "offline"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(Contains(made.out, "backed up the store")) << made.out;

  // Flip one byte in the middle of the largest file of the copied store.
  std::string victim;
  std::uintmax_t largest = 0;
  for (const auto& e : fs::directory_iterator(BackupDir("offline") + "/store")) {
    if (e.is_regular_file() && e.file_size() > largest && e.path().filename() != "LOCK") {
      largest = e.file_size();
      victim = e.path().string();
    }
  }
  ASSERT_FALSE(victim.empty());
  std::string bytes = ReadWholeFile(victim);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
  ASSERT_OK(WriteWholeFile(victim, bytes));

  const std::string target = dir_->Sub("elsewhere/data");
  RunResult restore = Broker({"--restore", BackupDir("offline"), "--data-dir", target});
  EXPECT_EQ(restore.exit_code, 1);
  EXPECT_TRUE(Contains(restore.err, victim + " is damaged")) << restore.err;
  EXPECT_FALSE(fs::exists(target + "/store")) << "a refused backup was installed";
  ASSERT_OK(broker_->Start());
}

TEST_F(Backups, AStoreOfANewerFormatIsRefusedWithWhatToDo) {
  WithStoppedBroker(
      [](leveldb::DB* db) { ASSERT_TRUE(db->Put(leveldb::WriteOptions(), kFormatKey, "4").ok()); });
  std::vector<std::string> args = broker_->BaseArgs();
  RunResult r = Broker(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err,
                       "the store was made by a newer broker (format 4); this broker reads "
                       "up to 3: upgrade the broker or restore a backup"))
      << r.err;
  // Put it back so that the fixture's broker starts and stops cleanly.
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), broker_->data_dir() + "/store", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), kFormatKey, "3").ok());
  }
  ASSERT_OK(broker_->Start());
}

TEST_F(Backups, AFormat2StoreIsMigratedAtStartAndTheMigrationIsAudited) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  {
    ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
    ASSERT_OK(SendAndWait(*ana_client, Target::User("root"), MakeText("kept across")).status);
  }
  // What a broker of format 2 left: the version 2 and no store id.
  WithStoppedBroker([](leveldb::DB* db) {
    std::string id;
    ASSERT_TRUE(db->Get(leveldb::ReadOptions(), kStoreIdKey, &id).ok());
    leveldb::WriteBatch b;
    b.Put(kFormatKey, "2");
    b.Delete(kStoreIdKey);
    ASSERT_TRUE(db->Write(leveldb::WriteOptions(), &b).ok());
  });
  RunResult check = Broker({"--data-dir", broker_->data_dir(), "--check-config"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  EXPECT_TRUE(Contains(check.out, "store format = 2;")) << check.out;

  ASSERT_OK(broker_->Start());
  EXPECT_TRUE(Contains(broker_->Log(), "migrating the store from format 2 to 3")) << broker_->Log();
  ASSERT_OK_AND_ASSIGN(auto root_client, Connect(root_profile_, nullptr));
  ASSERT_OK_AND_ASSIGN(std::vector<client::AuditEntryInfo> audit,
                       root_client->AdminListAudit(0, 100));
  bool migrated = false;
  for (const auto& e : audit) {
    if (e.action == "store.migrate") {
      migrated = true;
      EXPECT_TRUE(Contains(e.details, "\"from\":2")) << e.details;
      EXPECT_TRUE(Contains(e.details, "\"to\":3")) << e.details;
    }
  }
  EXPECT_TRUE(migrated) << "no store.migrate entry in the audit log";
  ASSERT_OK_AND_ASSIGN(client::AuditVerification verified, root_client->AdminVerifyAudit());
  EXPECT_TRUE(verified.whole) << verified.message;
  ASSERT_OK_AND_ASSIGN(client::HistoryPage page, root_client->History(Target::User("ana"), {}));
  ASSERT_EQ(page.messages.size(), 1u);
  EXPECT_EQ(TextOf(page.messages[0]), "kept across");
  root_client.reset();

  // Once migrated it stays migrated; the format shows while it runs too.
  RunResult running = Broker({"--data-dir", broker_->data_dir(), "--check-config"});
  EXPECT_TRUE(Contains(running.out, "in use by a running broker")) << running.out;
  ASSERT_OK(broker_->Restart());
  EXPECT_EQ(broker_->Log().find("migrating the store from format 3"), std::string::npos);
  root_.reset();
  ASSERT_EQ(broker_->Stop(), 0);
  RunResult after = Broker({"--data-dir", broker_->data_dir(), "--check-config"});
  EXPECT_TRUE(Contains(after.out, "store format = 3;")) << after.out;
  ASSERT_OK(broker_->Start());
}

}  // namespace
}  // namespace chatpro::testing
