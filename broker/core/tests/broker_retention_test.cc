// SPDX-License-Identifier: Apache-2.0
//
// Records management in the core: retention runs (requested, on the timer,
// when the disk runs low, dry runs), tombstones, legal holds, stripping
// attachments, and the accept hooks that refuse or flag messages. The
// policies are real plugins over the plugin C API, defined here so that each
// test controls what they decide; the clock is the harness's.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "broker/core/plugin_set.h"
#include "broker/core/records.h"
#include "broker/core/retention.h"
#include "broker/core/tests/broker_harness.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core::testing {
namespace {

constexpr std::int64_t kDayUs = 24 * 3600 * kMicrosPerSecond;

// ------------------------------------------------------------------ test plugins

// "age": deletes (or strips, with `strip`) messages older than `max_age_us`.
// "fail": fails every call. "words": rejects texts containing `reject`,
// flags texts containing `flag`.
struct TestPolicy {
  std::int64_t max_age_us = kDayUs;
  bool strip = false;
  bool fail = false;
  bool throws = false;  // breaks the C API's rule
  bool bogus = false;   // answers a verdict that does not exist
  std::string reject = "secret";
  std::string flag = "invoice";
};

void* Create(const chatpro_setting*, size_t, char*, size_t) { return new TestPolicy(); }
void Destroy(void* p) { delete static_cast<TestPolicy*>(p); }

int Retain(void* instance, const chatpro_message_view* m, int64_t now_us, uint32_t* verdict) {
  const auto* p = static_cast<const TestPolicy*>(instance);
  if (p->fail) return CHATPRO_PLUGIN_FAILED;
  if (p->throws) throw std::runtime_error("plugin bug");
  *verdict = CHATPRO_RETAIN_KEEP;
  if (p->bogus) {
    *verdict = 42;
    return CHATPRO_PLUGIN_OK;
  }
  if (now_us - m->sent_at_us > p->max_age_us) {
    *verdict = p->strip ? CHATPRO_RETAIN_STRIP_ATTACHMENTS : CHATPRO_RETAIN_DELETE;
  }
  return CHATPRO_PLUGIN_OK;
}

int Accept(void* instance, const chatpro_message_view* m, int64_t, chatpro_accept_result* r) {
  const auto* p = static_cast<const TestPolicy*>(instance);
  if (p->fail) return CHATPRO_PLUGIN_FAILED;
  std::string_view text(m->text.data, m->text.size);
  r->verdict = CHATPRO_ACCEPT_ALLOW;
  if (text.find(p->reject) != std::string_view::npos) {
    r->verdict = CHATPRO_ACCEPT_REJECT;
    std::snprintf(r->reason, sizeof r->reason, "no secrets in chat");
  } else if (text.find(p->flag) != std::string_view::npos) {
    r->verdict = CHATPRO_ACCEPT_FLAG;
    std::snprintf(r->reason, sizeof r->reason, "mentions an invoice");
  }
  return CHATPRO_PLUGIN_OK;
}

const chatpro_plugin kRetentionApi{CHATPRO_PLUGIN_API_VERSION, "test-age", Create, Destroy,
                                   nullptr, Retain};
const chatpro_plugin kAcceptApi{CHATPRO_PLUGIN_API_VERSION, "test-words", Create, Destroy, Accept,
                                nullptr};

// A retention policy instance named `name`; `policy` (owned by the set) lets
// the test change what it decides.
TestPolicy* AddRetention(PluginSet* set, std::string name, TestPolicy policy = TestPolicy()) {
  auto p = std::make_unique<PluginInstance>();
  p->name = std::move(name);
  p->library = "in-test";
  p->api = &kRetentionApi;
  auto* instance = new TestPolicy(std::move(policy));
  p->retention_instance = instance;
  set->Add(std::move(p));
  return instance;
}

TestPolicy* AddAccept(PluginSet* set, std::string name, TestPolicy policy = TestPolicy()) {
  auto p = std::make_unique<PluginInstance>();
  p->name = std::move(name);
  p->library = "in-test";
  p->api = &kAcceptApi;
  auto* instance = new TestPolicy(std::move(policy));
  p->accept_instance = instance;
  set->Add(std::move(p));
  return instance;
}

// ------------------------------------------------------------------ raw replies

// One reply decoded from the frames the broker sent, kept with its frame.
struct Raw {
  std::string frame;
  const wire::Envelope* envelope = nullptr;

  wire::Body type() const { return envelope == nullptr ? wire::Body::NONE : envelope->body_type(); }
  std::string error() const {
    if (type() != wire::Body::Error) return "";
    const auto* e = envelope->body_as_Error();
    return std::string(wire::EnumNameErrorCode(e->code())) + ": " +
           (e->message() == nullptr ? "" : e->message()->str());
  }
  wire::ErrorCode code() const {
    return type() == wire::Body::Error ? envelope->body_as_Error()->code() : wire::ErrorCode::Ok;
  }
};

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

class RetentionTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    h_->broker().SetPlugins(&plugins_);
    ana_ = AddUser("ana");
    bob_ = AddUser("bob");
    auditor_ = AddUser("ines", wire::Role::Auditor);
  }

  // Sends `request` from `c` and returns the reply to `rid`, read straight
  // from the frames sent to `c` (which drops everything else sent to it).
  Raw Ask(const TestClient& c, std::uint64_t rid, Request& request) {
    c.Send(request);
    EXPECT_TRUE(Settle());
    return TakeRaw(c, rid);
  }
  Raw TakeRaw(const TestClient& c, std::uint64_t rid) {
    for (std::string& frame : h_->transport().TakeFrames(c.connection)) {
      flatbuffers::Verifier v(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
      EXPECT_TRUE(wire::VerifyFrameBuffer(v));
      const wire::Frame* f = wire::GetFrame(frame.data());
      if (f->envelopes() == nullptr) continue;
      for (const wire::Envelope* e : *f->envelopes()) {
        if (e->request_id() != rid) continue;
        Raw out;
        out.frame = std::move(frame);
        const wire::Frame* kept = wire::GetFrame(out.frame.data());
        for (const wire::Envelope* k : *kept->envelopes()) {
          if (k->request_id() == rid) out.envelope = k;
        }
        return out;
      }
    }
    ADD_FAILURE() << "no reply to request " << rid;
    return Raw();
  }

  Raw SetHoldOnUser(const TestClient& by, std::string_view login, std::string_view case_ref = "LIT-7",
                    std::string_view reason = "litigation") {
    std::uint64_t rid = next_rid_++;
    Request r;
    auto body = wire::CreateAdminSetHoldDirect(r.builder(), wire::HoldTarget::User,
                                               std::string(login).c_str(), 0,
                                               std::string(case_ref).c_str(),
                                               std::string(reason).c_str());
    r.Raw(rid, wire::Body::AdminSetHold, body.Union());
    return Ask(by, rid, r);
  }
  Raw SetHoldOnConversation(std::uint64_t conversation) {
    std::uint64_t rid = next_rid_++;
    Request r;
    auto body = wire::CreateAdminSetHoldDirect(r.builder(), wire::HoldTarget::Conversation, nullptr,
                                               conversation, "FOI-12", "information request");
    r.Raw(rid, wire::Body::AdminSetHold, body.Union());
    return Ask(admin_, rid, r);
  }
  Raw LiftHold(std::uint64_t id, std::string_view reason = "case closed") {
    std::uint64_t rid = next_rid_++;
    Request r;
    auto body = wire::CreateAdminLiftHoldDirect(r.builder(), id, std::string(reason).c_str());
    r.Raw(rid, wire::Body::AdminLiftHold, body.Union());
    return Ask(admin_, rid, r);
  }
  Raw ListHolds(const TestClient& by, bool include_lifted) {
    std::uint64_t rid = next_rid_++;
    Request r;
    r.Raw(rid, wire::Body::AdminListHolds, wire::CreateAdminListHolds(r.builder(), include_lifted).Union());
    return Ask(by, rid, r);
  }
  Raw ListPlugins() {
    std::uint64_t rid = next_rid_++;
    Request r;
    r.Raw(rid, wire::Body::AdminListPlugins, wire::CreateAdminListPlugins(r.builder()).Union());
    return Ask(admin_, rid, r);
  }

  // Asks for a run and drives the loop until it has answered.
  Raw RunRetention(bool dry_run, const TestClient* by = nullptr) {
    const TestClient& c = by == nullptr ? admin_ : *by;
    std::uint64_t rid = next_rid_++;
    Request r;
    r.Raw(rid, wire::Body::AdminRetentionRun, wire::CreateAdminRetentionRun(r.builder(), dry_run).Union());
    c.Send(r);
    EXPECT_TRUE(FinishRun());
    return TakeRaw(c, rid);
  }
  ::testing::AssertionResult FinishRun() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      ::testing::AssertionResult settled = Settle();
      if (!settled) return settled;
      if (!h_->broker().retention_running()) return Settle();
      if (std::chrono::steady_clock::now() > deadline) {
        return ::testing::AssertionFailure() << "the retention run did not finish";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // The seqs of `conversation` `c` can read, oldest first.
  std::vector<Seq> StoredSeqs(const TestClient& c, std::uint64_t conversation) {
    std::vector<Seq> out;
    for (const MessageView& m : History(c, conversation)) out.push_back(m.seq);
    return out;
  }
  std::vector<MessageView> History(const TestClient& c, std::uint64_t conversation) {
    std::uint64_t rid = next_rid_++;
    c.Send(Request().History(rid, conversation, 1, 1000, false));
    EXPECT_TRUE(Settle());
    Envelope reply = c.TakeReply(rid);
    EXPECT_EQ(reply.type, wire::Body::HistoryReply) << reply.error_message;
    return reply.history;
  }

  std::vector<AuditView> AuditEntries(std::string_view action) {
    std::uint64_t rid = next_rid_++;
    admin_.Send(Request().AdminListAudit(rid, 1, 1000));
    EXPECT_TRUE(Settle());
    Envelope list = admin_.TakeReply(rid);
    std::vector<AuditView> out;
    for (AuditView& e : list.audit) {
      if (e.action == action) out.push_back(std::move(e));
    }
    return out;
  }

  std::vector<const store::TombstoneRecord*> Tombstones(std::vector<std::string>* keep) {
    keep->clear();
    EXPECT_TRUE(h_->store()
                    .ScanRecords(RecordKind::kTombstone, "",
                                 [&](std::string_view, std::string_view v) {
                                   keep->emplace_back(v);
                                   return true;
                                 })
                    .ok());
    std::vector<const store::TombstoneRecord*> out;
    for (const std::string& v : *keep) {
      flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(v.data()), v.size());
      EXPECT_TRUE(verifier.VerifyBuffer<store::TombstoneRecord>(nullptr));
      out.push_back(flatbuffers::GetRoot<store::TombstoneRecord>(v.data()));
    }
    return out;
  }

  // `n` texts from ana to bob; returns the direct conversation's id.
  std::uint64_t SendTexts(int n, std::string_view text = "hello") {
    std::uint64_t conversation = 0;
    for (int i = 0; i < n; ++i) {
      Envelope ack = SendText(ana_, ToUser("bob"), next_msg_id_++, text);
      EXPECT_EQ(ack.type, wire::Body::SendAck) << ack.error_message;
      conversation = ack.conversation_id;
    }
    return conversation;
  }

  PluginSet plugins_;
  TestClient ana_;
  TestClient bob_;
  TestClient auditor_;
  ClientMsgId next_msg_id_ = 1;
};

// ------------------------------------------------------------------ runs

TEST_F(RetentionTest, RunDeletesWhatThePolicySaysAndLeavesATombstoneForEach) {
  AddRetention(&plugins_, "delete-after-1d");
  std::uint64_t chat = SendTexts(5, "old news");
  std::vector<MessageView> before = History(bob_, chat);
  ASSERT_EQ(before.size(), 5u);
  h_->clock().Advance(2 * kDayUs);
  SendTexts(2, "fresh");

  Raw report = RunRetention(/*dry_run=*/false);
  ASSERT_EQ(report.type(), wire::Body::RetentionReport) << report.error();
  const wire::RetentionReport* r = report.envelope->body_as_RetentionReport();
  EXPECT_FALSE(r->dry_run());
  EXPECT_EQ(r->messages_examined(), 7u);
  EXPECT_EQ(r->messages_deleted(), 5u);
  EXPECT_EQ(r->conversations(), 1u);
  ASSERT_EQ(r->policies()->size(), 1u);
  EXPECT_EQ(Str(r->policies()->Get(0)->policy()), "delete-after-1d");
  EXPECT_EQ(r->policies()->Get(0)->deleted(), 5u);

  // Gone for everyone, and from the store.
  EXPECT_EQ(StoredSeqs(bob_, chat), (std::vector<Seq>{6, 7}));
  EXPECT_EQ(StoredSeqs(ana_, chat), (std::vector<Seq>{6, 7}));
  Result<std::vector<StoredMessage>> raw =
      h_->store().ReadMessages(ConversationId(chat), 1, 100, ReadDirection::kForward, ~0ull);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), 2u);

  // Each removal can be proven: which message, whose, under which policy,
  // when, and the hash of what was stored.
  std::vector<std::string> keep;
  std::vector<const store::TombstoneRecord*> tombstones = Tombstones(&keep);
  ASSERT_EQ(tombstones.size(), 5u);
  std::vector<AuditView> starts = AuditEntries("retention.start");
  ASSERT_EQ(starts.size(), 1u);
  for (std::size_t i = 0; i < tombstones.size(); ++i) {
    const store::TombstoneRecord* t = tombstones[i];
    EXPECT_EQ(t->conversation_id(), chat);
    EXPECT_EQ(t->seq(), i + 1);
    EXPECT_EQ(t->sender_user_id(), ana_.user_id);
    EXPECT_EQ(Str(t->policy()), "delete-after-1d");
    EXPECT_EQ(t->removed_at_us(), h_->clock().NowMicros());
    EXPECT_EQ(t->sent_at_us(), before[i].sent_at_us);
    EXPECT_EQ(t->retention_run(), starts[0].seq);
    ASSERT_NE(t->content_hash(), nullptr);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(t->content_hash()->data()),
                          t->content_hash()->size()),
              RetentionRun::ContentHash(before[i].bytes));
  }
  // The run is recorded with its counts.
  std::vector<AuditView> runs = AuditEntries("retention.run");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_NE(runs[0].details.find("\"deleted\":5"), std::string::npos) << runs[0].details;
  EXPECT_NE(runs[0].details.find("\"trigger\":\"request\""), std::string::npos) << runs[0].details;
  EXPECT_EQ(h_->broker().stats().retention_removed.load(), 5u);
  // For monitoring: by policy, and a success.
  std::map<std::string, RetentionPolicyCounters::Counts> by_policy =
      h_->broker().stats().retention_by_policy.Snapshot();
  ASSERT_EQ(by_policy.size(), 1u);
  EXPECT_EQ(by_policy["delete-after-1d"].deleted, 5u);
  EXPECT_EQ(by_policy["delete-after-1d"].stripped, 0u);
  EXPECT_EQ(h_->broker().stats().retention_failures.load(), 0u);
  EXPECT_EQ(h_->broker().stats().retention_last_success_us.load(), h_->clock().NowMicros());
}

TEST_F(RetentionTest, LargeRunRemovesEverythingWithATombstoneEachWhileMessagesAreAcknowledged) {
  // More removals than one chunk (500) and than one slice of the commit
  // thread's time: written in many batches of their own between live ones.
  AddRetention(&plugins_, "delete-after-1d");
  constexpr int kOld = 1200;
  std::uint64_t chat = SendTexts(kOld, "old news");
  h_->clock().Advance(2 * kDayUs);

  std::uint64_t rid = next_rid_++;
  Request r;
  r.Raw(rid, wire::Body::AdminRetentionRun, wire::CreateAdminRetentionRun(r.builder(), false).Union());
  admin_.Send(r);
  // Messages sent while the run goes are acknowledged, stored and kept.
  SendTexts(3, "fresh");
  ASSERT_TRUE(FinishRun());
  Raw report = TakeRaw(admin_, rid);
  ASSERT_EQ(report.type(), wire::Body::RetentionReport) << report.error();
  EXPECT_EQ(report.envelope->body_as_RetentionReport()->messages_deleted(),
            static_cast<std::uint64_t>(kOld));
  EXPECT_EQ(StoredSeqs(bob_, chat), (std::vector<Seq>{kOld + 1, kOld + 2, kOld + 3}));
  std::vector<std::string> keep;
  std::vector<const store::TombstoneRecord*> tombstones = Tombstones(&keep);
  ASSERT_EQ(tombstones.size(), static_cast<std::size_t>(kOld));
  for (std::size_t i = 0; i < tombstones.size(); ++i) EXPECT_EQ(tombstones[i]->seq(), i + 1);
  EXPECT_EQ(h_->broker().stats().retention_removed.load(), static_cast<std::uint64_t>(kOld));
  std::vector<AuditView> runs = AuditEntries("retention.run");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_NE(runs[0].details.find("\"deleted\":1200"), std::string::npos) << runs[0].details;
}

TEST_F(RetentionTest, DryRunReportsWhatWouldGoAndRemovesNothing) {
  AddRetention(&plugins_, "delete-after-1d");
  std::uint64_t chat = SendTexts(3);
  std::uint64_t rid = next_rid_++;
  bob_.Send(Request().SendPicture(rid, ToUser("ana"), 900, "image/png", 4, 4,
                                  std::string(1000, 'i'), std::string(100, 't')));
  ASSERT_TRUE(Settle());
  h_->clock().Advance(2 * kDayUs);

  Raw report = RunRetention(/*dry_run=*/true);
  ASSERT_EQ(report.type(), wire::Body::RetentionReport) << report.error();
  const wire::RetentionReport* r = report.envelope->body_as_RetentionReport();
  EXPECT_TRUE(r->dry_run());
  EXPECT_EQ(r->messages_deleted(), 4u);
  EXPECT_EQ(r->attachment_bytes(), 1100u);
  EXPECT_EQ(r->conversations(), 1u);
  EXPECT_EQ(StoredSeqs(bob_, chat).size(), 4u);
  std::vector<std::string> keep;
  EXPECT_TRUE(Tombstones(&keep).empty());
  std::vector<AuditView> dry = AuditEntries("retention.dry_run");
  ASSERT_EQ(dry.size(), 1u);
  EXPECT_NE(dry[0].details.find("\"would_delete\":4"), std::string::npos) << dry[0].details;
  EXPECT_TRUE(AuditEntries("retention.run").empty());
}

TEST_F(RetentionTest, StripRemovesVoiceAndPictureBytesButKeepsTextAndMetadata) {
  TestPolicy strip;
  strip.strip = true;
  AddRetention(&plugins_, "strip-after-1d", strip);
  std::uint64_t chat = SendTexts(1, "see the photo");
  std::uint64_t rid = next_rid_++;
  ana_.Send(Request().SendPicture(rid, ToUser("bob"), 901, "image/jpeg", 640, 480,
                                  std::string(5000, 'p'), std::string(200, 't')));
  ana_.Send(Request().SendVoice(next_rid_++, ToUser("bob"), 902, "opus", 3000, std::string(800, 'a')));
  ASSERT_TRUE(Settle());
  h_->clock().Advance(2 * kDayUs);

  Raw report = RunRetention(false);
  ASSERT_EQ(report.type(), wire::Body::RetentionReport) << report.error();
  EXPECT_EQ(report.envelope->body_as_RetentionReport()->attachments_stripped(), 2u);
  EXPECT_EQ(report.envelope->body_as_RetentionReport()->messages_deleted(), 0u);
  EXPECT_EQ(report.envelope->body_as_RetentionReport()->attachment_bytes(), 6000u);

  std::vector<MessageView> h = History(bob_, chat);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].text, "see the photo");
  EXPECT_EQ(h[1].content_type, wire::Content::Picture);
  EXPECT_EQ(h[1].mime_type, "image/jpeg");
  EXPECT_EQ(h[1].width, 640u);
  EXPECT_TRUE(h[1].image.empty());
  EXPECT_TRUE(h[1].thumbnail.empty());
  EXPECT_EQ(h[2].codec, "opus");
  EXPECT_EQ(h[2].duration_ms, 3000u);
  EXPECT_TRUE(h[2].audio.empty());
  const wire::Message* m = flatbuffers::GetRoot<wire::Message>(h[1].bytes.data());
  EXPECT_EQ(m->attachments_removed_at_us(), h_->clock().NowMicros());
  EXPECT_EQ(flatbuffers::GetRoot<wire::Message>(h[0].bytes.data())->attachments_removed_at_us(), 0);

  // A second run finds nothing more to strip.
  Raw again = RunRetention(false);
  ASSERT_EQ(again.type(), wire::Body::RetentionReport) << again.error();
  EXPECT_EQ(again.envelope->body_as_RetentionReport()->attachments_stripped(), 0u);
}

TEST_F(RetentionTest, DeviceCatchingUpAfterARunGetsOnlyWhatRemains) {
  AddRetention(&plugins_, "delete-after-1d");
  h_->TimeOutSessions();  // everyone offline
  TestClient ana = h_->Reconnect(ana_, /*receive=*/false);
  std::uint64_t chat = 0;
  for (int i = 0; i < 4; ++i) {
    std::uint64_t rid = next_rid_++;
    ana.Send(Request().SendText(rid, ToUser("bob"), next_msg_id_++, "while you were away"));
    ASSERT_TRUE(Settle());
    chat = ana.TakeReply(rid).conversation_id;
  }
  h_->clock().Advance(2 * kDayUs);
  std::uint64_t rid = next_rid_++;
  ana.Send(Request().SendText(rid, Conv(chat), next_msg_id_++, "still there?"));
  ASSERT_TRUE(Settle());
  admin_ = h_->Reconnect(admin_);
  Raw report = RunRetention(false);
  ASSERT_EQ(report.type(), wire::Body::RetentionReport) << report.error();

  TestClient bob = h_->Reconnect(bob_);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(DeliveredSeqs(bob.Take(), chat), (std::vector<Seq>{5}));
}

TEST_F(RetentionTest, FailingPluginNeverDeletesAndIsCounted) {
  TestPolicy failing;
  failing.fail = true;
  AddRetention(&plugins_, "broken", failing);
  std::uint64_t chat = SendTexts(3);
  h_->clock().Advance(2 * kDayUs);
  Raw report = RunRetention(false);
  ASSERT_EQ(report.type(), wire::Body::RetentionReport) << report.error();
  EXPECT_EQ(report.envelope->body_as_RetentionReport()->messages_deleted(), 0u);
  EXPECT_EQ(StoredSeqs(bob_, chat).size(), 3u);

  Raw list = ListPlugins();
  ASSERT_EQ(list.type(), wire::Body::PluginList) << list.error();
  ASSERT_EQ(list.envelope->body_as_PluginList()->plugins()->size(), 1u);
  const wire::PluginInfo* p = list.envelope->body_as_PluginList()->plugins()->Get(0);
  EXPECT_EQ(Str(p->name()), "broken");
  EXPECT_EQ(Str(p->plugin()), "test-age");
  EXPECT_TRUE(p->retention_hook());
  EXPECT_FALSE(p->accept_hook());
  EXPECT_EQ(p->failures(), 3u);
  // Monitoring sees a failed run (retention is not doing its job), not a success.
  EXPECT_EQ(h_->broker().stats().retention_failures.load(), 1u);
  EXPECT_EQ(h_->broker().stats().retention_plugin_failures.load(), 3u);
  EXPECT_EQ(h_->broker().stats().retention_last_success_us.load(), 0);
}

TEST_F(RetentionTest, PluginThatThrowsOrAnswersNonsenseNeverDeletes) {
  TestPolicy throwing;
  throwing.throws = true;
  AddRetention(&plugins_, "throws", throwing);
  TestPolicy bogus;
  bogus.bogus = true;
  AddRetention(&plugins_, "bogus", bogus);
  std::uint64_t chat = SendTexts(2);
  h_->clock().Advance(2 * kDayUs);
  Raw report = RunRetention(false);
  ASSERT_EQ(report.type(), wire::Body::RetentionReport) << report.error();
  EXPECT_EQ(report.envelope->body_as_RetentionReport()->messages_deleted(), 0u);
  EXPECT_EQ(StoredSeqs(bob_, chat).size(), 2u);
  Raw list = ListPlugins();
  ASSERT_EQ(list.type(), wire::Body::PluginList) << list.error();
  for (const wire::PluginInfo* p : *list.envelope->body_as_PluginList()->plugins()) {
    EXPECT_EQ(p->failures(), 2u) << Str(p->name());
  }
}

TEST_F(RetentionTest, OnlyAdministratorsRunRetention) {
  Raw refused = RunRetention(false, &auditor_);
  EXPECT_EQ(refused.code(), wire::ErrorCode::PermissionDenied) << refused.error();
  Raw user = RunRetention(true, &ana_);
  EXPECT_EQ(user.code(), wire::ErrorCode::PermissionDenied) << user.error();
}

TEST_F(RetentionTest, TimerRunsThePoliciesInTheBackground) {
  RetentionOptions options;
  options.interval_us = 3600 * kMicrosPerSecond;
  options.batch_messages = 2;  // several small batches
  h_->broker().SetRetention(options, nullptr);
  AddRetention(&plugins_, "delete-after-1d");
  std::uint64_t chat = SendTexts(5);
  h_->broker().OnTick();  // arms the timer
  h_->clock().Advance(2 * kDayUs);
  h_->broker().OnTick();
  EXPECT_TRUE(h_->broker().retention_running());
  ASSERT_TRUE(FinishRun());
  EXPECT_TRUE(StoredSeqs(bob_, chat).empty());
  std::vector<AuditView> runs = AuditEntries("retention.run");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].actor, "");  // the system, not a person
  EXPECT_NE(runs[0].details.find("\"trigger\":\"timer\""), std::string::npos) << runs[0].details;
  // Not again before the next interval.
  h_->clock().Advance(60 * kMicrosPerSecond);
  h_->broker().OnTick();
  EXPECT_FALSE(h_->broker().retention_running());
}

TEST_F(RetentionTest, LowDiskStartsARunAtOnce) {
  RetentionOptions options;
  options.interval_us = 24 * 3600 * kMicrosPerSecond;
  options.low_disk_free_bytes = 1ull << 30;
  std::uint64_t free_bytes = 10ull << 30;
  h_->broker().SetRetention(options, [&] { return free_bytes; });
  AddRetention(&plugins_, "delete-after-1d");
  std::uint64_t chat = SendTexts(2);
  h_->clock().Advance(2 * kDayUs);
  h_->broker().OnTick();
  EXPECT_FALSE(h_->broker().retention_running());  // plenty of room
  free_bytes = 100ull << 20;
  h_->clock().Advance(11 * kMicrosPerSecond);
  h_->broker().OnTick();
  EXPECT_TRUE(h_->broker().retention_running());
  ASSERT_TRUE(FinishRun());
  EXPECT_TRUE(StoredSeqs(bob_, chat).empty());
  std::vector<AuditView> runs = AuditEntries("retention.run");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_NE(runs[0].details.find("\"trigger\":\"low disk\""), std::string::npos) << runs[0].details;
}

// ------------------------------------------------------------------ holds

TEST_F(RetentionTest, HoldOnAPersonProtectsEverythingTheySentOrReceivedUntilLifted) {
  AddRetention(&plugins_, "delete-after-1d");
  std::uint64_t ana_bob = SendTexts(3);
  TestClient cleo = AddUser("cleo");
  Envelope other = SendText(cleo, ToUser("ana"), 500, "unrelated");
  ASSERT_EQ(other.type, wire::Body::SendAck) << other.error_message;
  h_->clock().Advance(2 * kDayUs);

  Raw hold = SetHoldOnUser(admin_, "bob");
  ASSERT_EQ(hold.type(), wire::Body::HoldInfo) << hold.error();
  std::uint64_t hold_id = hold.envelope->body_as_HoldInfo()->id();
  EXPECT_EQ(Str(hold.envelope->body_as_HoldInfo()->login()), "bob");
  EXPECT_EQ(Str(hold.envelope->body_as_HoldInfo()->case_ref()), "LIT-7");

  Raw report = RunRetention(false);
  ASSERT_EQ(report.type(), wire::Body::RetentionReport) << report.error();
  EXPECT_EQ(report.envelope->body_as_RetentionReport()->held_protected(), 3u);
  EXPECT_EQ(report.envelope->body_as_RetentionReport()->messages_deleted(), 1u);  // cleo's
  EXPECT_EQ(StoredSeqs(bob_, ana_bob).size(), 3u);
  EXPECT_TRUE(StoredSeqs(cleo, other.conversation_id).empty());

  // Listed while in force, by auditors too; lifted ones only on request.
  Raw listed = ListHolds(auditor_, false);
  ASSERT_EQ(listed.type(), wire::Body::HoldList) << listed.error();
  ASSERT_EQ(listed.envelope->body_as_HoldList()->holds()->size(), 1u);
  EXPECT_EQ(Str(listed.envelope->body_as_HoldList()->holds()->Get(0)->created_by()), "admin");

  Raw lifted = LiftHold(hold_id);
  ASSERT_EQ(lifted.type(), wire::Body::Done) << lifted.error();
  EXPECT_EQ(ListHolds(admin_, false).envelope->body_as_HoldList()->holds()->size(), 0u);
  Raw all = ListHolds(admin_, true);
  ASSERT_EQ(all.envelope->body_as_HoldList()->holds()->size(), 1u);
  EXPECT_NE(all.envelope->body_as_HoldList()->holds()->Get(0)->lifted_at_us(), 0);

  Raw after = RunRetention(false);
  ASSERT_EQ(after.type(), wire::Body::RetentionReport) << after.error();
  EXPECT_EQ(after.envelope->body_as_RetentionReport()->messages_deleted(), 3u);
  EXPECT_TRUE(StoredSeqs(bob_, ana_bob).empty());
  EXPECT_EQ(AuditEntries("hold.set").size(), 1u);
  EXPECT_EQ(AuditEntries("hold.lift").size(), 1u);
}

TEST_F(RetentionTest, HoldOnAConversationProtectsOnlyThatConversation) {
  AddRetention(&plugins_, "delete-after-1d");
  std::uint64_t ana_bob = SendTexts(2);
  std::uint64_t group = CreateGroup(ana_, "project", {"bob"});
  Envelope g = SendText(ana_, Conv(group), 700, "group message");
  ASSERT_EQ(g.type, wire::Body::SendAck) << g.error_message;
  h_->clock().Advance(2 * kDayUs);
  Raw hold = SetHoldOnConversation(group);
  ASSERT_EQ(hold.type(), wire::Body::HoldInfo) << hold.error();
  EXPECT_EQ(hold.envelope->body_as_HoldInfo()->conversation_id(), group);

  Raw dry = RunRetention(true);
  ASSERT_EQ(dry.type(), wire::Body::RetentionReport) << dry.error();
  EXPECT_EQ(dry.envelope->body_as_RetentionReport()->held_protected(), 1u);
  EXPECT_EQ(dry.envelope->body_as_RetentionReport()->messages_deleted(), 2u);
  RunRetention(false);
  EXPECT_TRUE(StoredSeqs(bob_, ana_bob).empty());
  EXPECT_EQ(StoredSeqs(bob_, group).size(), 1u);
}

TEST_F(RetentionTest, HoldsNeedAnAdministratorACaseAndAReasonAndSurviveARestart) {
  EXPECT_EQ(SetHoldOnUser(auditor_, "bob").code(), wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(SetHoldOnUser(admin_, "nobody").code(), wire::ErrorCode::NotFound);
  EXPECT_EQ(SetHoldOnUser(admin_, "bob", "", "why").code(), wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(SetHoldOnUser(admin_, "bob", "LIT-1", "").code(), wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(SetHoldOnConversation(424242).code(), wire::ErrorCode::NotFound);
  EXPECT_EQ(LiftHold(99).code(), wire::ErrorCode::NotFound);
  Raw hold = SetHoldOnUser(admin_, "bob");
  ASSERT_EQ(hold.type(), wire::Body::HoldInfo) << hold.error();
  EXPECT_EQ(LiftHold(hold.envelope->body_as_HoldInfo()->id(), "").code(),
            wire::ErrorCode::InvalidArgument);

  h_->Restart();
  h_->broker().SetPlugins(&plugins_);
  admin_ = h_->Reconnect(admin_);
  Raw listed = ListHolds(admin_, false);
  ASSERT_EQ(listed.type(), wire::Body::HoldList) << listed.error();
  ASSERT_EQ(listed.envelope->body_as_HoldList()->holds()->size(), 1u);
  EXPECT_EQ(Str(listed.envelope->body_as_HoldList()->holds()->Get(0)->reason()), "litigation");
  // The next hold gets a new number.
  Raw second = SetHoldOnUser(admin_, "ana");
  ASSERT_EQ(second.type(), wire::Body::HoldInfo) << second.error();
  EXPECT_GT(second.envelope->body_as_HoldInfo()->id(), hold.envelope->body_as_HoldInfo()->id());
}

// ------------------------------------------------------------------ accept hooks

TEST_F(RetentionTest, AcceptHookRefusesWithThePolicysReasonAndStoresNothing) {
  AddAccept(&plugins_, "no-secrets");
  Envelope refused = SendText(ana_, ToUser("bob"), 1, "the secret code is 1234");
  EXPECT_EQ(refused.type, wire::Body::Error);
  EXPECT_EQ(refused.error_code, wire::ErrorCode::PermissionDenied);
  EXPECT_NE(refused.error_message.find("no-secrets"), std::string::npos) << refused.error_message;
  EXPECT_NE(refused.error_message.find("no secrets in chat"), std::string::npos)
      << refused.error_message;
  EXPECT_EQ(h_->broker().stats().messages_rejected_by_policy.load(), 1u);
  Envelope fine = SendText(ana_, ToUser("bob"), 2, "lunch?");
  ASSERT_EQ(fine.type, wire::Body::SendAck) << fine.error_message;
  EXPECT_EQ(fine.seq, 1u);  // nothing of the refused one was stored
  EXPECT_EQ(StoredSeqs(bob_, fine.conversation_id), (std::vector<Seq>{1}));
}

TEST_F(RetentionTest, FlaggedMessageIsDeliveredAndReportedToTheAdministrators) {
  AddAccept(&plugins_, "invoices");
  Envelope ack = SendText(ana_, ToUser("bob"), 1, "please pay the invoice today");
  ASSERT_EQ(ack.type, wire::Body::SendAck) << ack.error_message;
  EXPECT_EQ(StoredSeqs(bob_, ack.conversation_id).size(), 1u);
  EXPECT_EQ(h_->broker().stats().messages_flagged.load(), 1u);

  std::uint64_t rid = next_rid_++;
  admin_.Send(Request().AdminListReports(rid));
  ASSERT_TRUE(Settle());
  Envelope reports = admin_.TakeReply(rid);
  ASSERT_EQ(reports.reports.size(), 1u);
  EXPECT_EQ(reports.reports[0].reporter, "");
  EXPECT_NE(reports.reports[0].reason.find("invoices"), std::string::npos) << reports.reports[0].reason;
  EXPECT_EQ(reports.reports[0].message.text, "please pay the invoice today");
  std::vector<AuditView> flagged = AuditEntries("message.flagged");
  ASSERT_EQ(flagged.size(), 1u);
  EXPECT_EQ(flagged[0].actor, "ana");
}

TEST_F(RetentionTest, FailingAcceptHookLetsTheMessageThrough) {
  TestPolicy failing;
  failing.fail = true;
  AddAccept(&plugins_, "broken", failing);
  Envelope ack = SendText(ana_, ToUser("bob"), 1, "secret");
  EXPECT_EQ(ack.type, wire::Body::SendAck) << ack.error_message;
}

}  // namespace
}  // namespace chatpro::core::testing
