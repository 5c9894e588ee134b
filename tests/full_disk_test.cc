// SPDX-License-Identifier: Apache-2.0
//
// A full disk: the broker's data directory on a small tmpfs, filled with
// messages, pictures and a filler file until nothing more fits. While it is
// full the broker must refuse new messages with a clear error
// (ResourceExhausted, "data directory full: ..."), counted in
// chatpro_errors_total{code="resource_exhausted"}, acknowledge nothing it has
// not stored, keep serving reads (history, conversation lists, a device
// catching up), say so on /readyz (503 with the reason; /healthz stays 200,
// since a restart would not help) and never crash. Once the filler file is
// deleted it accepts and delivers messages again by itself, without a
// restart, and a restart afterwards finds everything acknowledged, once and
// in order, pictures included.
//
// The tmpfs is mounted in a mount namespace of this test process only (see
// main() below): as root directly, otherwise as root of a new user namespace
// (what `unshare -Urm` does). So a test that dies never leaves a mount behind
// on the machine, and the broker processes it starts see the same mount.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/chat_fixture.h"
#include "tests/http_get.h"

namespace chatpro::testing {
namespace {

namespace fs = std::filesystem;
using client::Message;
using client::Profile;
using client::SendResult;
using client::Target;

// Why the mount namespace could not be had (set by main()); empty if it was.
std::string& NamespaceProblem() {
  static std::string problem;
  return problem;
}

// A tmpfs of `bytes` mounted at `path` (created) for the object's lifetime.
class Tmpfs {
 public:
  Tmpfs(std::string path, std::uint64_t bytes) : path_(std::move(path)) {
    std::error_code ec;
    fs::create_directories(path_, ec);
    const std::string data = "size=" + std::to_string(bytes) + ",mode=0700";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
      error_ = std::string("mount -t tmpfs -o ") + data + " " + path_ + ": " + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  bool mounted_ = false;
  std::string error_;
};

// Appends to `path` until the file system is full; returns the bytes written.
std::uint64_t FillUp(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (f == nullptr) return 0;
  std::setvbuf(f, nullptr, _IONBF, 0);
  std::uint64_t written = 0;
  const std::string chunk(1 << 20, 'f');
  for (std::size_t size : {std::size_t{1} << 20, std::size_t{4096}, std::size_t{1}}) {
    while (std::fwrite(chunk.data(), 1, size, f) == size) written += size;
    std::clearerr(f);
  }
  std::fclose(f);
  return written;
}

double Sample(const std::string& text, const std::string& name_and_labels) {
  std::size_t at = text.find("\n" + name_and_labels + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name_and_labels.size() + 2));
}

std::string Text(std::size_t i) { return "message " + std::to_string(i) + std::string(200, '.'); }

client::Picture PictureFor(std::size_t i) {
  // 96 KiB: kept in the store's blob files.
  return MakePicture(96 << 10, 0, static_cast<std::uint32_t>(1000 + i));
}

class FullDisk : public ::testing::Test {
 protected:
  // The tmpfs size, and store.min_free for the broker.
  virtual std::uint64_t DiskBytes() const { return 12ull << 20; }
  virtual std::string MinFree() const { return "0"; }

  void SetUp() override {
    if (!NamespaceProblem().empty()) GTEST_SKIP() << NamespaceProblem();
    dir_ = std::make_unique<TempDir>();
    disk_ = std::make_unique<Tmpfs>(dir_->Sub("disk"), DiskBytes());
    if (!disk_->mounted()) GTEST_SKIP() << "cannot mount a small file system: " << disk_->error();
    // The data directory on the small disk; the broker's log stays off it.
    ASSERT_TRUE(fs::create_directories(disk_->path() + "/data"));
    fs::create_directories(dir_->Sub("work"));
    fs::create_directory_symlink(disk_->path() + "/data", dir_->Sub("work/data"));
    BrokerProcessOptions o;
    o.extra_args = {"--set", "rate.messages_per_second=0",
                    "--set", "store.min_free=" + MinFree(),
                    "--set", "metrics.listen=127.0.0.1:" + std::to_string(metrics_port_)};
    broker_ = std::make_unique<BrokerProcess>(dir_->Sub("work"), o);
    ASSERT_OK(broker_->Init());
    ASSERT_OK_AND_ASSIGN(Profile root, client::Enroll(dir_->Sub("root"), broker_->admin_invite()));
    client::ClientOptions options;
    options.receive = false;
    options.connect_timeout = kWaitTimeout;
    options.request_timeout = kWaitTimeout;
    ASSERT_OK_AND_ASSIGN(root_, client::Client::Connect(root, options));
  }

  void TearDown() override {
    clients_.clear();
    root_.reset();
    if (broker_ != nullptr && broker_->running()) {
      ExitCode code = broker_->Stop();
      EXPECT_EQ(code, 0) << "chatpro-broker did not stop cleanly: " << DescribeExit(code);
    }
    if (HasFailure() && broker_ != nullptr) {
      std::string log = broker_->Log();
      if (log.size() > 20000) log = "...\n" + log.substr(log.size() - 20000);
      std::fprintf(stderr, "---- broker log ----\n%s---- end ----\n", log.c_str());
    }
    broker_.reset();
    disk_.reset();
    dir_.reset();
  }

  Result<Profile> AddUser(const std::string& login) {
    CHATPRO_ASSIGN_OR_RETURN(client::InviteInfo invite,
                             root_->AdminAddUser(login, "User " + login, client::Role::kUser));
    return client::Enroll(dir_->Sub(login), invite.invite);
  }

  Result<client::Client*> Connect(const Profile& profile, std::shared_ptr<Inbox> inbox,
                                  bool receive = true) {
    client::ClientOptions options = inbox ? CollectInto(inbox) : client::ClientOptions{};
    options.receive = receive;
    options.connect_timeout = kWaitTimeout;
    options.request_timeout = kWaitTimeout;
    CHATPRO_ASSIGN_OR_RETURN(std::unique_ptr<client::Client> c,
                             client::Client::Connect(profile, std::move(options)));
    clients_.push_back(std::move(c));
    return clients_.back().get();
  }

  std::string Metrics() { return HttpGet(metrics_port_, "/metrics").body; }

  // Waits (bounded) until /readyz answers 200.
  ::testing::AssertionResult ReadyAgain() {
    HttpReply ready;
    for (auto until = std::chrono::steady_clock::now() + kWaitTimeout;
         std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
      ready = HttpGet(metrics_port_, "/readyz");
      if (ready.status == 200) return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "/readyz still answers " << ready.status << " " << ready.body << ready.error;
  }

  // The whole conversation as `reader` reads it, oldest first.
  Result<std::vector<Message>> ReadAll(client::Client& reader, std::uint64_t conversation) {
    return ReadHistory(reader, Target::Conversation(conversation));
  }

  const int metrics_port_ = PickFreePort();
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Tmpfs> disk_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<client::Client> root_;
  std::vector<std::unique_ptr<client::Client>> clients_;
};

// One send and, once taken, the broker's answer.
struct Sent {
  client::Content content;
  std::future<SendResult> future;
  std::optional<SendResult> result;

  // The answer if it comes within `timeout`.
  std::optional<SendResult> Wait(std::chrono::milliseconds timeout) {
    if (!result && future.wait_for(timeout) == std::future_status::ready) result = future.get();
    return result;
  }
};

TEST_F(FullDisk, RefusesSendsKeepsServingReadsLosesNothingAndRecoversByItselfWhenSpaceIsFreed) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(client::Client * ana_client, Connect(ana, nullptr, false));
  ASSERT_OK_AND_ASSIGN(client::Client * ben_client, Connect(ben, ben_inbox));
  // Ben's second device, enrolled now and offline until the disk is full.
  ASSERT_OK_AND_ASSIGN(client::InviteInfo invite, ben_client->CreateInvite("ben"));
  ASSERT_OK_AND_ASSIGN(Profile ben_tablet, client::Enroll(dir_->Sub("ben-tablet"), invite.invite));
  ASSERT_OK_AND_ASSIGN(client::Conversation direct, ana_client->OpenDirect("ben"));
  const Target to = Target::Conversation(direct.id);

  std::deque<Sent> sent;
  auto send = [&](client::Content content) -> Sent& {
    std::future<SendResult> future = ana_client->Send(to, content);
    sent.push_back({std::move(content), std::move(future), std::nullopt});
    return sent.back();
  };
  // The answer to `s`, or a failed Unavailable if none came in time.
  auto answer = [](Sent& s) {
    std::optional<SendResult> r = s.Wait(kWaitTimeout);
    if (r) return *r;
    SendResult none;
    none.status = Status::Unavailable("no answer within the test's bound");
    return none;
  };
  // Texts and pictures fill most of the disk, every one acknowledged.
  for (std::size_t i = 0; i < 60; ++i) {
    SendResult result =
        answer(send(i % 10 == 9 ? client::Content(PictureFor(i)) : MakeText(Text(i))));
    ASSERT_TRUE(result.status.ok()) << "send " << i << ": " << result.status;
  }
  // Then a filler file takes what is left.
  const std::string filler = disk_->path() + "/filler";
  ASSERT_GT(FillUp(filler), 0u);

  // Sends until one is refused. Some may still fit in the last pages of the
  // store's files (stored and acknowledged), or wait in the write that failed
  // (acknowledged once it is stored, later); none may be acknowledged
  // unless stored, which the end checks.
  Status refusal;
  for (std::size_t i = 60; i < 400 && refusal.ok(); ++i) {
    std::optional<SendResult> result =
        send(i % 10 == 9 ? client::Content(PictureFor(i)) : MakeText(Text(i)))
            .Wait(std::chrono::seconds(2));
    if (result && !result->status.ok()) refusal = result->status;
  }
  ASSERT_FALSE(refusal.ok()) << "nothing was refused on a full disk";
  EXPECT_EQ(refusal.code(), StatusCode::kResourceExhausted) << refusal;
  EXPECT_EQ(refusal.message().rfind("data directory full: ", 0), 0u) << refusal;
  // A picture and a text now are refused at once.
  for (client::Content c : {client::Content(PictureFor(1000)), client::Content(MakeText("x"))}) {
    SendResult result = answer(send(c));
    EXPECT_EQ(result.status.code(), StatusCode::kResourceExhausted) << result.status;
  }
  EXPECT_GE(Sample(Metrics(), "chatpro_errors_total{code=\"resource_exhausted\"}"), 2) << Metrics();

  // Reads go on: history, the conversation list, another device catching up.
  ASSERT_OK_AND_ASSIGN(std::vector<Message> history, ReadAll(*ben_client, direct.id));
  ASSERT_GE(history.size(), 60u);
  ASSERT_OK_AND_ASSIGN(std::vector<client::Conversation> listed, ben_client->ListConversations());
  EXPECT_EQ(listed.size(), 1u);
  auto tablet_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(client::Client * tablet, Connect(ben_tablet, tablet_inbox));
  (void)tablet;
  EXPECT_TRUE(tablet_inbox->WaitFor(60))
      << "the other device did not catch up: " << tablet_inbox->size();

  // Probes: ready no longer (with the reason), healthy still.
  std::string why;
  for (auto until = std::chrono::steady_clock::now() + kWaitTimeout;
       std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    HttpReply ready = HttpGet(metrics_port_, "/readyz");
    why = std::to_string(ready.status) + " " + ready.body;
    if (ready.status == 503) break;
  }
  EXPECT_NE(why.find("503 refusing new messages: data directory full"), std::string::npos) << why;
  EXPECT_EQ(HttpGet(metrics_port_, "/healthz").status, 200);
  EXPECT_EQ(Sample(Metrics(), "chatpro_store_refusing_messages"), 1);

  // Space is freed: without a restart, what waited is stored and new sends
  // are acknowledged and delivered.
  ASSERT_TRUE(fs::remove(filler));
  SendResult after;
  for (auto until = std::chrono::steady_clock::now() + kWaitTimeout;
       std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    after = answer(send(MakeText("after the disk was freed")));
    if (after.status.ok()) break;
    ASSERT_EQ(after.status.code(), StatusCode::kResourceExhausted) << after.status;
  }
  ASSERT_TRUE(after.status.ok()) << "the broker did not recover by itself: " << after.status;
  for (std::size_t i = 0; i < 5; ++i) {
    client::Content content = MakeText("recovered " + std::to_string(i));
    if (i == 2) content = PictureFor(2000);
    SendResult result = answer(send(std::move(content)));
    ASSERT_TRUE(result.status.ok()) << result.status;
  }
  ASSERT_TRUE(ana_client->Flush(kWaitTimeout)) << "sends that waited for space never completed";
  EXPECT_TRUE(ben_inbox->WaitUntil([&](const std::vector<Message>& got) {
    return !got.empty() && got.back().seq >= after.seq + 5;
  })) << "new messages were not delivered after the recovery";
  // The probes follow within the broker's next check (about a second).
  EXPECT_TRUE(ReadyAgain());

  // Everything acknowledged is there after a restart, once, in order.
  clients_.clear();
  ASSERT_OK(broker_->Restart());
  ASSERT_OK_AND_ASSIGN(client::Client * reader, Connect(ben, nullptr, false));
  ASSERT_OK_AND_ASSIGN(history, ReadAll(*reader, direct.id));
  std::size_t acknowledged = 0;
  std::size_t at = 0;  // position in history
  for (std::size_t i = 0; i < sent.size(); ++i) {
    SendResult r = answer(sent[i]);
    if (!r.status.ok()) {
      EXPECT_EQ(r.status.code(), StatusCode::kResourceExhausted)
          << "send " << i << ": " << r.status;
      continue;  // refused: must not be stored (checked by the order below)
    }
    ++acknowledged;
    ASSERT_LT(at, history.size()) << "acknowledged send " << i << " is missing";
    ASSERT_EQ(history[at].seq, r.seq) << "send " << i << " is not at its acknowledged seq";
    ASSERT_TRUE(SameContent(sent[i].content, history[at].content)) << "send " << i;
    ++at;
  }
  EXPECT_EQ(at, history.size()) << "the conversation holds messages nobody was told were stored";
  RecordProperty("acknowledged", static_cast<int>(acknowledged));
}

// A picture that does not fit in the blob files waits in its failed write,
// unacknowledged, while later sends are refused; once space is freed it is
// stored whole and acknowledged, and is readable after a restart.
TEST_F(FullDisk, APictureThatDoesNotFitIsStoredWholeOnceSpaceIsFreedAndNeverAcknowledgedBefore) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Client * ana_client, Connect(ana, nullptr, false));
  ASSERT_OK_AND_ASSIGN(client::Conversation direct, ana_client->OpenDirect("root"));
  const Target to = Target::Conversation(direct.id);
  const std::string filler = disk_->path() + "/filler";
  ASSERT_GT(FillUp(filler), 0u);

  const client::Content picture = PictureFor(7);
  std::future<SendResult> waiting = ana_client->Send(to, picture);
  EXPECT_EQ(waiting.wait_for(std::chrono::seconds(1)), std::future_status::timeout)
      << "a picture was answered although the disk had no room for it";
  Status refusal;
  for (auto until = std::chrono::steady_clock::now() + kWaitTimeout;
       refusal.ok() && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    auto f = ana_client->Send(to, MakeText("refused"));
    ASSERT_OK_AND_ASSIGN(SendResult r, Await(f));
    ASSERT_NE(r.seq, 1u) << "a text overtook the waiting picture";
    refusal = r.status;
  }
  EXPECT_EQ(refusal.code(), StatusCode::kResourceExhausted) << refusal;
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);

  ASSERT_TRUE(fs::remove(filler));
  ASSERT_OK_AND_ASSIGN(SendResult stored, Await(waiting));
  ASSERT_TRUE(stored.status.ok()) << stored.status;
  EXPECT_EQ(stored.seq, 1u);

  root_.reset();
  clients_.clear();
  ASSERT_OK(broker_->Restart());
  ASSERT_OK_AND_ASSIGN(client::Client * reader, Connect(ana, nullptr, false));
  ASSERT_OK_AND_ASSIGN(std::vector<Message> history, ReadAll(*reader, direct.id));
  ASSERT_EQ(history.size(), 1u) << "refused texts must not be stored";
  EXPECT_TRUE(SameContent(picture, history[0].content));
}

// The low-space mark: below store.min_free the broker refuses new messages
// before the disk is really full, and accepts them again by itself once
// space is freed.
class FullDiskMark : public FullDisk {
 protected:
  std::uint64_t DiskBytes() const override { return 16ull << 20; }
  std::string MinFree() const override { return "6MiB"; }
};

TEST_F(FullDiskMark, BelowTheFreeSpaceMarkSendsAreRefusedUntilSpaceIsFreed) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::Client * ana_client, Connect(ana, nullptr, false));
  ASSERT_OK_AND_ASSIGN(client::Conversation direct, ana_client->OpenDirect("root"));
  const Target to = Target::Conversation(direct.id);
  auto first = ana_client->Send(to, MakeText("before"));
  ASSERT_OK_AND_ASSIGN(SendResult r, Await(first));
  ASSERT_TRUE(r.status.ok()) << r.status;

  // Leave about 3 MiB free: below the mark, with room to spare.
  const std::string filler = disk_->path() + "/filler";
  {
    std::error_code ec;
    const std::uint64_t free = fs::space(disk_->path(), ec).available;
    ASSERT_GT(free, 4ull << 20);
    std::ofstream out(filler, std::ios::binary);
    const std::string chunk(1 << 20, 'f');
    for (std::uint64_t left = free - (3ull << 20); left > 0;) {
      const std::uint64_t n = std::min<std::uint64_t>(left, chunk.size());
      out.write(chunk.data(), static_cast<std::streamsize>(n));
      left -= n;
    }
    ASSERT_TRUE(out.good());
  }
  Status refusal;
  for (auto until = std::chrono::steady_clock::now() + kWaitTimeout;
       refusal.ok() && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    auto f = ana_client->Send(to, MakeText("probe"));
    ASSERT_OK_AND_ASSIGN(r, Await(f));
    refusal = r.status;
  }
  ASSERT_EQ(refusal.code(), StatusCode::kResourceExhausted) << refusal;
  EXPECT_NE(refusal.message().find("data directory full: "), std::string::npos) << refusal;
  EXPECT_NE(refusal.message().find("below store.min_free (6291456)"), std::string::npos) << refusal;
  EXPECT_EQ(HttpGet(metrics_port_, "/readyz").status, 503);
  ASSERT_OK_AND_ASSIGN(std::vector<Message> history, ReadAll(*root_, direct.id));
  EXPECT_FALSE(history.empty());

  ASSERT_TRUE(fs::remove(filler));
  Status accepted = refusal;
  for (auto until = std::chrono::steady_clock::now() + kWaitTimeout;
       !accepted.ok() && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
    auto f = ana_client->Send(to, MakeText("after"));
    ASSERT_OK_AND_ASSIGN(r, Await(f));
    accepted = r.status;
  }
  EXPECT_TRUE(accepted.ok()) << "still refused after space was freed: " << accepted;
  EXPECT_TRUE(ReadyAgain());
}

}  // namespace
}  // namespace chatpro::testing

// A mount namespace of this process (and the brokers it starts) for the
// tmpfs, made before GoogleTest or anything else starts a thread (a process
// with threads cannot enter a new user namespace). Not root: a new user
// namespace too, in which this user is root, as `unshare -Urm` does.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  int flags = CLONE_NEWNS;
  if (uid != 0) flags |= CLONE_NEWUSER;
  if (::unshare(flags) != 0) {
    chatpro::testing::NamespaceProblem() =
        std::string("cannot make a mount namespace for the small file system (unshare: ") +
        std::strerror(errno) + "); neither root nor user namespaces allowed";
  } else {
    if (uid != 0) {
      std::ofstream("/proc/self/setgroups") << "deny";
      std::ofstream("/proc/self/uid_map") << "0 " << uid << " 1";
      std::ofstream("/proc/self/gid_map") << "0 " << gid << " 1";
    }
    // Mounts made here must not propagate back to the machine.
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      chatpro::testing::NamespaceProblem() =
          std::string("cannot make the mount namespace private: ") + std::strerror(errno);
    }
  }
  return RUN_ALL_TESTS();
}
