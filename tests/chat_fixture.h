// SPDX-License-Identifier: Apache-2.0
//
// The fixture of the integration tests: a real chatpro-broker in a temporary
// folder, its administrator ("root") enrolled and connected through
// libchatpro, and helpers to add users, connect them and collect what they
// receive.
//
//   TEST_F(BrokerTest, Something) {
//     ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
//     auto inbox = std::make_shared<Inbox>();
//     ASSERT_OK_AND_ASSIGN(auto client, Connect(ana, inbox));
//     ...
//     ASSERT_TRUE(inbox->WaitFor(3));
//   }
//
// Clients made in a test body are destroyed before TearDown(), which stops
// the broker (expecting a clean exit) and prints its log if the test failed.
//
// Thread-safety: Inbox may be filled from client I/O threads and read from
// the test's thread; the fixture itself belongs to the test's thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/client.h"
#include "tests/broker_process.h"

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    const ::chatpro::Status chatpro_st_ = (expr);         \
    ASSERT_TRUE(chatpro_st_.ok()) << #expr << ": " << chatpro_st_; \
  } while (0)

// `lhs` = the value of the Result `expr`, or a fatal failure naming the error.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(CHATPRO_CONCAT_(chatpro_it_result_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)                 \
  auto tmp = (expr);                                              \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status();         \
  lhs = std::move(tmp).value()

namespace chatpro::testing {

// What one client received, in the order its callbacks saw it.
class Inbox {
 public:
  void Add(const client::Message& message);
  void AddConversation(const client::Conversation& conversation);

  // Waits until at least `count` messages arrived; false on timeout.
  bool WaitFor(std::size_t count, std::chrono::milliseconds timeout = kWaitTimeout) const;
  // Waits until `done` holds for the messages received so far.
  bool WaitUntil(const std::function<bool(const std::vector<client::Message>&)>& done,
                 std::chrono::milliseconds timeout = kWaitTimeout) const;
  // Waits until a ConversationInfo event with this id arrived.
  bool WaitForConversation(std::uint64_t id, std::chrono::milliseconds timeout = kWaitTimeout) const;

  std::vector<client::Message> messages() const;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::vector<client::Message> messages_;           // GUARDED_BY(mutex_)
  std::vector<client::Conversation> conversations_;  // GUARDED_BY(mutex_)
};

// Client options that collect deliveries and conversation events into `inbox`
// (which the callbacks keep alive).
client::ClientOptions CollectInto(std::shared_ptr<Inbox> inbox);

// Deterministic pseudo-random bytes.
std::string RandomBytes(std::size_t size, std::uint32_t seed);

client::Text MakeText(std::string body);
client::Voice MakeVoice(std::size_t bytes, std::uint32_t seed);
client::Picture MakePicture(std::size_t image_bytes, std::size_t thumbnail_bytes,
                            std::uint32_t seed);

// Equal kind and every field equal; on failure says what differs (without
// printing megabytes of payload).
::testing::AssertionResult SameContent(const client::Content& expected,
                                       const client::Content& actual);
std::string Describe(const client::Content& content);
std::string TextOf(const client::Message& message);  // "" unless Text

// The SendResult of `future` once ready; Unavailable if it is not ready within
// `timeout` (a send that never completes is a bug, not a hang).
Result<client::SendResult> Await(std::future<client::SendResult>& future,
                                 std::chrono::milliseconds timeout = kWaitTimeout);

// Every message of `target` from `from_seq` on, oldest first, page by page,
// as `reader` reads it.
Result<std::vector<client::Message>> ReadHistory(client::Client& reader,
                                                 const client::Target& target,
                                                 std::uint64_t from_seq = 1);

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Options for this fixture's broker; override to pass settings.
  virtual BrokerProcessOptions BrokerOptions() const { return {}; }
  // Whether SetUp() enrolls and connects root with the admin invite. Override
  // to false to use broker_->admin_invite() another way.
  virtual bool EnrollRoot() const { return true; }

  std::string ProfileDir(const std::string& name) const { return dir_->Sub("profiles/" + name); }

  // Root adds `login` (role user) and the new user's first device enrolls
  // with the invite into ProfileDir(login).
  Result<client::Profile> AddUser(const std::string& login);
  // Connects with `profile`; deliveries go to `inbox` (none if null).
  Result<std::unique_ptr<client::Client>> Connect(const client::Profile& profile,
                                                  std::shared_ptr<Inbox> inbox,
                                                  client::ClientOptions options = {});

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<BrokerProcess> broker_;
  client::Profile root_profile_;
  std::unique_ptr<client::Client> root_;
};

}  // namespace chatpro::testing
