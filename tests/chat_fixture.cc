// SPDX-License-Identifier: Apache-2.0
#include "tests/chat_fixture.h"

#include <random>
#include <sstream>

namespace chatpro::testing {
namespace {

constexpr std::size_t kLogTailBytes = 30000;

std::string KindName(const client::Content& c) {
  switch (c.index()) {
    case 0: return "text";
    case 1: return "voice";
    default: return "picture";
  }
}

// Where two byte strings first differ, for failure messages.
std::string FirstDifference(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) {
    return "sizes differ: " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return "first difference at byte " + std::to_string(i);
  }
  return "equal";
}

}  // namespace

// ------------------------------------------------------------------ Inbox

void Inbox::Add(const client::Message& message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    messages_.push_back(message);
  }
  cv_.notify_all();
}

void Inbox::AddConversation(const client::Conversation& conversation) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    conversations_.push_back(conversation);
  }
  cv_.notify_all();
}

Result<std::vector<client::Message>> ReadHistory(client::Client& reader,
                                                 const client::Target& target,
                                                 std::uint64_t from_seq) {
  std::vector<client::Message> all;
  client::HistoryQuery q;
  q.backward = false;
  q.limit = 500;
  for (q.from_seq = from_seq;;) {
    CHATPRO_ASSIGN_OR_RETURN(client::HistoryPage page, reader.History(target, q));
    all.insert(all.end(), page.messages.begin(), page.messages.end());
    if (!page.has_more || page.messages.empty()) return all;
    q.from_seq = page.messages.back().seq + 1;
  }
}

bool Inbox::WaitFor(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
}

bool Inbox::WaitUntil(const std::function<bool(const std::vector<client::Message>&)>& done,
                      std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return done(messages_); });
}

bool Inbox::WaitForConversation(std::uint64_t id, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] {
    for (const auto& c : conversations_) {
      if (c.id == id) return true;
    }
    return false;
  });
}

std::vector<client::Message> Inbox::messages() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_;
}

std::size_t Inbox::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_.size();
}

client::ClientOptions CollectInto(std::shared_ptr<Inbox> inbox) {
  client::ClientOptions options;
  options.on_message = [inbox](const client::Message& m) { inbox->Add(m); };
  options.on_conversation = [inbox](const client::Conversation& c) { inbox->AddConversation(c); };
  return options;
}

// ------------------------------------------------------------------ content

std::string RandomBytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>(gen() & 0xff);
  return out;
}

client::Text MakeText(std::string body) { return client::Text{std::move(body)}; }

client::Voice MakeVoice(std::size_t bytes, std::uint32_t seed) {
  client::Voice v;
  v.codec = "opus";
  v.duration_ms = static_cast<std::uint32_t>(bytes / 4 + 1);
  v.audio = RandomBytes(bytes, seed);
  return v;
}

client::Picture MakePicture(std::size_t image_bytes, std::size_t thumbnail_bytes,
                            std::uint32_t seed) {
  client::Picture p;
  p.mime_type = "image/jpeg";
  p.width = 640 + seed % 7;
  p.height = 480 + seed % 5;
  p.image = RandomBytes(image_bytes, seed);
  p.thumbnail = RandomBytes(thumbnail_bytes, seed + 1);
  return p;
}

std::string Describe(const client::Content& content) {
  std::ostringstream out;
  if (const auto* t = std::get_if<client::Text>(&content)) {
    out << "text \"" << t->body.substr(0, 60) << (t->body.size() > 60 ? "...\"" : "\"");
  } else if (const auto* v = std::get_if<client::Voice>(&content)) {
    out << "voice " << v->codec << " " << v->duration_ms << " ms, " << v->audio.size() << " bytes";
  } else if (const auto* p = std::get_if<client::Picture>(&content)) {
    out << "picture " << p->mime_type << " " << p->width << "x" << p->height << ", "
        << p->image.size() << " bytes, thumbnail " << p->thumbnail.size() << " bytes";
  }
  return out.str();
}

std::string TextOf(const client::Message& message) {
  const auto* t = std::get_if<client::Text>(&message.content);
  return t == nullptr ? std::string() : t->body;
}

Result<client::SendResult> Await(std::future<client::SendResult>& future,
                                 std::chrono::milliseconds timeout) {
  if (future.wait_for(timeout) != std::future_status::ready) {
    return Status::Unavailable("the send did not complete within " +
                               std::to_string(timeout.count()) + " ms");
  }
  return future.get();
}

::testing::AssertionResult SameContent(const client::Content& expected,
                                       const client::Content& actual) {
  if (expected.index() != actual.index()) {
    return ::testing::AssertionFailure()
           << "expected a " << KindName(expected) << " message, got " << Describe(actual);
  }
  auto fail = [&](const std::string& what) {
    return ::testing::AssertionFailure()
           << what << "\n  expected: " << Describe(expected) << "\n  actual:   " << Describe(actual);
  };
  if (const auto* t = std::get_if<client::Text>(&expected)) {
    const auto& a = std::get<client::Text>(actual);
    if (t->body != a.body) return fail("text differs: " + FirstDifference(t->body, a.body));
  } else if (const auto* v = std::get_if<client::Voice>(&expected)) {
    const auto& a = std::get<client::Voice>(actual);
    if (v->codec != a.codec || v->duration_ms != a.duration_ms) return fail("voice header differs");
    if (v->audio != a.audio) return fail("audio differs: " + FirstDifference(v->audio, a.audio));
  } else if (const auto* e = std::get_if<client::Picture>(&expected)) {
    const auto& a = std::get<client::Picture>(actual);
    if (e->mime_type != a.mime_type || e->width != a.width || e->height != a.height) {
      return fail("picture header differs");
    }
    if (e->image != a.image) return fail("image differs: " + FirstDifference(e->image, a.image));
    if (e->thumbnail != a.thumbnail) {
      return fail("thumbnail differs: " + FirstDifference(e->thumbnail, a.thumbnail));
    }
  }
  return ::testing::AssertionSuccess();
}

// ------------------------------------------------------------------ BrokerTest

void BrokerTest::SetUp() {
  dir_ = std::make_unique<TempDir>();
  broker_ = std::make_unique<BrokerProcess>(dir_->path(), BrokerOptions());
  ASSERT_OK(broker_->Init());
  if (!EnrollRoot()) return;
  ASSERT_OK_AND_ASSIGN(root_profile_,
                       client::Enroll(ProfileDir("root"), broker_->admin_invite()));
  ASSERT_OK_AND_ASSIGN(root_, Connect(root_profile_, nullptr));
}

void BrokerTest::TearDown() {
  root_.reset();
  if (broker_ != nullptr && broker_->running()) {
    ExitCode code = broker_->Stop();
    EXPECT_EQ(code, 0) << "chatpro-broker did not stop cleanly on SIGTERM: " << DescribeExit(code);
  }
  if (HasFailure() && broker_ != nullptr) {
    std::string log = broker_->Log();
    if (log.size() > kLogTailBytes) log = "...\n" + log.substr(log.size() - kLogTailBytes);
    std::fprintf(stderr, "---- %s ----\n%s---- end of broker log ----\n",
                 broker_->log_path().c_str(), log.c_str());
  }
  broker_.reset();
  dir_.reset();
}

Result<client::Profile> BrokerTest::AddUser(const std::string& login) {
  if (root_ == nullptr) return Status::FailedPrecondition("root is not connected");
  CHATPRO_ASSIGN_OR_RETURN(client::InviteInfo invite,
                           root_->AdminAddUser(login, "User " + login, client::Role::kUser));
  return client::Enroll(ProfileDir(login), invite.invite);
}

Result<std::unique_ptr<client::Client>> BrokerTest::Connect(const client::Profile& profile,
                                                            std::shared_ptr<Inbox> inbox,
                                                            client::ClientOptions options) {
  if (inbox != nullptr) {
    client::ClientOptions collect = CollectInto(inbox);
    options.on_message = std::move(collect.on_message);
    options.on_conversation = std::move(collect.on_conversation);
  }
  options.connect_timeout = kWaitTimeout;
  options.request_timeout = kWaitTimeout;
  return client::Client::Connect(profile, std::move(options));
}

}  // namespace chatpro::testing
