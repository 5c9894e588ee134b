// SPDX-License-Identifier: Apache-2.0
//
// The built-in plugins, loaded from their built modules with dlopen as the
// broker loads them, and driven only through the C API.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "plugins/api/chatpro_plugin.h"
#include "plugins/support/plugin_support.h"

namespace chatpro::plugins {
namespace {

constexpr std::int64_t kDay = 86'400'000'000ll;
constexpr std::int64_t kNow = 1'800'000'000'000'000ll;  // 2027-01-15

using SettingList = std::vector<std::pair<std::string, std::string>>;

// One loaded plugin module.
class Module {
 public:
  explicit Module(const std::string& short_name) {
    std::string path = std::string(CHATPRO_TEST_PLUGIN_DIR) + "/libchatpro_" + short_name + ".so";
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) throw std::runtime_error(::dlerror());
    auto entry =
        reinterpret_cast<chatpro_plugin_entry_fn>(::dlsym(handle_, "chatpro_plugin_entry"));
    if (entry == nullptr) throw std::runtime_error("no chatpro_plugin_entry in " + path);
    api_ = entry();
  }
  ~Module() { ::dlclose(handle_); }
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const chatpro_plugin* api() const { return api_; }
  void* handle() const { return handle_; }

  // The instance, or nullptr with *error set.
  void* Create(const SettingList& settings, std::string* error) const {
    std::vector<chatpro_setting> c;
    for (const auto& [k, v] : settings) c.push_back({{k.data(), k.size()}, {v.data(), v.size()}});
    char buffer[512];
    std::memset(buffer, 'x', sizeof buffer);
    void* instance = api_->create(c.data(), c.size(), buffer, sizeof buffer);
    if (instance == nullptr && error != nullptr) *error = buffer;
    return instance;
  }

 private:
  void* handle_ = nullptr;
  const chatpro_plugin* api_ = nullptr;
};

// An instance, destroyed at the end of the scope.
class Instance {
 public:
  Instance(const Module& m, const SettingList& settings) : api_(m.api()) {
    instance_ = m.Create(settings, &error_);
    if (instance_ == nullptr) throw std::runtime_error("create failed: " + error_);
  }
  ~Instance() { api_->destroy(instance_); }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  std::uint32_t Retain(const chatpro_message_view& m, std::int64_t now_us = kNow) const {
    std::uint32_t verdict = 99;
    EXPECT_EQ(api_->retention(instance_, &m, now_us, &verdict), CHATPRO_PLUGIN_OK);
    return verdict;
  }
  chatpro_accept_result Accept(const chatpro_message_view& m) const {
    chatpro_accept_result r;
    std::memset(&r, 'x', sizeof r);
    EXPECT_EQ(api_->on_accept(instance_, &m, kNow, &r), CHATPRO_PLUGIN_OK);
    return r;
  }
  void* get() const { return instance_; }

 private:
  const chatpro_plugin* api_;
  void* instance_ = nullptr;
  std::string error_;
};

chatpro_string Str(const std::string& s) { return {s.data(), s.size()}; }

// A message view; strings point into static storage or the caller's strings.
chatpro_message_view Message(std::int64_t age_us,
                             chatpro_content_kind kind = CHATPRO_CONTENT_TEXT) {
  chatpro_message_view m;
  std::memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  m.conversation_id = 7;
  m.seq = 10;
  m.conversation_head_seq = 10;
  m.conversation_kind = CHATPRO_DIRECT;
  m.sent_at_us = kNow - age_us;
  m.content_kind = kind;
  return m;
}

chatpro_message_view InGroup(chatpro_message_view m, const std::string& name) {
  m.conversation_kind = CHATPRO_GROUP;
  m.conversation_name = Str(name);
  return m;
}

std::string CreateError(const std::string& plugin, const SettingList& settings) {
  Module m(plugin);
  std::string error;
  void* instance = m.Create(settings, &error);
  if (instance != nullptr) {
    m.api()->destroy(instance);
    return "(created)";
  }
  return error;
}

TEST(Plugins, EachModuleDescribesItselfWithTheCurrentApiVersion) {
  struct Expect {
    const char* file;
    const char* name;
    bool accept;
    bool retention;
  };
  for (const Expect& e : {Expect{"retention_age", "retention-age", false, true},
                          Expect{"strip_attachments", "strip-attachments", false, true},
                          Expect{"keep_newest", "keep-newest", false, true},
                          Expect{"patterns", "patterns", true, false}}) {
    Module m(e.file);
    ASSERT_NE(m.api(), nullptr);
    EXPECT_EQ(m.api()->api_version, static_cast<std::uint32_t>(CHATPRO_PLUGIN_API_VERSION));
    EXPECT_STREQ(m.api()->name, e.name);
    EXPECT_NE(m.api()->create, nullptr);
    EXPECT_NE(m.api()->destroy, nullptr);
    EXPECT_EQ(m.api()->on_accept != nullptr, e.accept) << e.file;
    EXPECT_EQ(m.api()->retention != nullptr, e.retention) << e.file;
  }
}

TEST(RetentionAge, DeletesOnlyMessagesOlderThanTheLimit) {
  Module m("retention_age");
  Instance p(m, {{"days", "30"}});
  EXPECT_EQ(p.Retain(Message(31 * kDay)), CHATPRO_RETAIN_DELETE);
  EXPECT_EQ(p.Retain(Message(30 * kDay + 1)), CHATPRO_RETAIN_DELETE);
  EXPECT_EQ(p.Retain(Message(30 * kDay)), CHATPRO_RETAIN_KEEP);
  EXPECT_EQ(p.Retain(Message(kDay)), CHATPRO_RETAIN_KEEP);
  EXPECT_EQ(p.Retain(Message(-kDay)), CHATPRO_RETAIN_KEEP);  // clock skew: from the future
  EXPECT_EQ(p.Retain(InGroup(Message(31 * kDay, CHATPRO_CONTENT_PICTURE), "Board")),
            CHATPRO_RETAIN_DELETE);
  chatpro_message_view ancient = Message(0);
  ancient.sent_at_us = INT64_MIN;  // no overflow on absurd times
  EXPECT_EQ(p.Retain(ancient), CHATPRO_RETAIN_DELETE);
}

TEST(RetentionAge, AppliesOnlyToItsScope) {
  Module m("retention_age");
  std::string board = "Board", hr = "HR", canteen = "Canteen";
  chatpro_message_view old_direct = Message(10 * kDay);
  {
    Instance p(m, {{"days", "1"}, {"scope", "direct"}});
    EXPECT_EQ(p.Retain(old_direct), CHATPRO_RETAIN_DELETE);
    EXPECT_EQ(p.Retain(InGroup(old_direct, board)), CHATPRO_RETAIN_KEEP);
  }
  {
    Instance p(m, {{"days", "1"}, {"scope", "groups"}});
    EXPECT_EQ(p.Retain(old_direct), CHATPRO_RETAIN_KEEP);
    EXPECT_EQ(p.Retain(InGroup(old_direct, canteen)), CHATPRO_RETAIN_DELETE);
  }
  {
    Instance p(m, {{"days", "1"}, {"groups", " Board , HR"}});
    EXPECT_EQ(p.Retain(old_direct), CHATPRO_RETAIN_KEEP);
    EXPECT_EQ(p.Retain(InGroup(old_direct, board)), CHATPRO_RETAIN_DELETE);
    EXPECT_EQ(p.Retain(InGroup(old_direct, hr)), CHATPRO_RETAIN_DELETE);
    EXPECT_EQ(p.Retain(InGroup(old_direct, canteen)), CHATPRO_RETAIN_KEEP);
  }
}

TEST(RetentionAge, RefusesBadSettingsNamingTheKey) {
  EXPECT_NE(CreateError("retention_age", {}).find("'days' is required"), std::string::npos);
  EXPECT_NE(CreateError("retention_age", {{"days", "0"}}).find("'days'"), std::string::npos);
  EXPECT_NE(CreateError("retention_age", {{"days", "1.5"}}).find("'days'"), std::string::npos);
  EXPECT_NE(CreateError("retention_age", {{"days", "-3"}}).find("'days'"), std::string::npos);
  EXPECT_NE(CreateError("retention_age", {{"days", "99999999999999999999999"}}).find("'days'"),
            std::string::npos);
  EXPECT_NE(
      CreateError("retention_age", {{"days", "1"}, {"days", "2"}}).find("'days' is set twice"),
      std::string::npos);
  EXPECT_NE(CreateError("retention_age", {{"days", "1"}, {"scope", "some"}}).find("'scope'"),
            std::string::npos);
  EXPECT_NE(CreateError("retention_age", {{"days", "1"}, {"scope", "direct"}, {"groups", "HR"}})
                .find("'groups'"),
            std::string::npos);
  EXPECT_NE(CreateError("retention_age", {{"days", "1"}, {"groups", "HR,,Board"}}).find("'groups'"),
            std::string::npos);
  EXPECT_NE(CreateError("retention_age", {{"days", "1"}, {"scop", "direct"}})
                .find("unknown setting 'scop'"),
            std::string::npos);
}

TEST(StripAttachments, StripsOnlyOldVoiceAndPicturesThatStillHaveThem) {
  Module m("strip_attachments");
  Instance p(m, {{"days", "90"}});
  chatpro_message_view picture = Message(91 * kDay, CHATPRO_CONTENT_PICTURE);
  picture.attachment_bytes = 250'000;
  EXPECT_EQ(p.Retain(picture), CHATPRO_RETAIN_STRIP_ATTACHMENTS);
  chatpro_message_view voice = picture;
  voice.content_kind = CHATPRO_CONTENT_VOICE;
  EXPECT_EQ(p.Retain(voice), CHATPRO_RETAIN_STRIP_ATTACHMENTS);

  chatpro_message_view young = picture;
  young.sent_at_us = kNow - 89 * kDay;
  EXPECT_EQ(p.Retain(young), CHATPRO_RETAIN_KEEP);
  chatpro_message_view stripped = picture;
  stripped.attachment_bytes = 0;
  stripped.attachments_removed = 1;
  EXPECT_EQ(p.Retain(stripped), CHATPRO_RETAIN_KEEP);
  EXPECT_EQ(p.Retain(Message(400 * kDay, CHATPRO_CONTENT_TEXT)), CHATPRO_RETAIN_KEEP);

  Instance groups_only(m, {{"days", "90"}, {"groups", "Site photos"}});
  EXPECT_EQ(groups_only.Retain(picture), CHATPRO_RETAIN_KEEP);
  EXPECT_EQ(groups_only.Retain(InGroup(picture, "Site photos")), CHATPRO_RETAIN_STRIP_ATTACHMENTS);
}

TEST(StripAttachments, RefusesBadSettingsNamingTheKey) {
  EXPECT_NE(CreateError("strip_attachments", {}).find("'days' is required"), std::string::npos);
  EXPECT_NE(CreateError("strip_attachments", {{"days", "x"}}).find("'days'"), std::string::npos);
  EXPECT_NE(CreateError("strip_attachments", {{"days", "3"}, {"scope", ""}}).find("'scope'"),
            std::string::npos);
}

TEST(KeepNewest, KeepsTheNewestCountMessagesOfEachConversation) {
  Module m("keep_newest");
  Instance p(m, {{"count", "3"}});
  chatpro_message_view msg = Message(0);
  msg.conversation_head_seq = 100;
  for (std::uint64_t seq : {98u, 99u, 100u}) {
    msg.seq = seq;
    EXPECT_EQ(p.Retain(msg), CHATPRO_RETAIN_KEEP) << seq;
  }
  for (std::uint64_t seq : {1u, 50u, 97u}) {
    msg.seq = seq;
    EXPECT_EQ(p.Retain(msg), CHATPRO_RETAIN_DELETE) << seq;
  }
  msg.seq = 101;  // newer than the head it was told about: keep
  EXPECT_EQ(p.Retain(msg), CHATPRO_RETAIN_KEEP);

  Instance groups(m, {{"count", "1"}, {"scope", "groups"}});
  msg.seq = 1;
  EXPECT_EQ(groups.Retain(msg), CHATPRO_RETAIN_KEEP);
  EXPECT_EQ(groups.Retain(InGroup(msg, "Canteen")), CHATPRO_RETAIN_DELETE);
}

TEST(KeepNewest, RefusesBadSettingsNamingTheKey) {
  EXPECT_NE(CreateError("keep_newest", {}).find("'count' is required"), std::string::npos);
  EXPECT_NE(CreateError("keep_newest", {{"count", "0"}}).find("'count'"), std::string::npos);
  EXPECT_NE(
      CreateError("keep_newest", {{"count", "10"}, {"days", "3"}}).find("unknown setting 'days'"),
      std::string::npos);
}

chatpro_message_view Text(const std::string& text,
                          chatpro_content_kind kind = CHATPRO_CONTENT_TEXT) {
  chatpro_message_view m = Message(0, kind);
  m.text = Str(text);
  return m;
}

TEST(Patterns, RejectsTextAndEditsMatchingAPattern) {
  Module m("patterns");
  Instance p(m, {{"pattern", "pass(word)?\\s*[:=]"}, {"pattern", "^secret"}});
  std::string bad = "the password: hunter2", bad2 = "secret plan", good = "no secrets here, pass";
  chatpro_accept_result r = p.Accept(Text(bad));
  EXPECT_EQ(r.verdict, CHATPRO_ACCEPT_REJECT);
  EXPECT_STREQ(r.reason, "message matches a blocked pattern");
  EXPECT_EQ(p.Accept(Text(bad, CHATPRO_CONTENT_EDIT)).verdict, CHATPRO_ACCEPT_REJECT);
  EXPECT_EQ(p.Accept(Text(bad2)).verdict, CHATPRO_ACCEPT_REJECT);
  EXPECT_EQ(p.Accept(Text(good)).verdict, CHATPRO_ACCEPT_ALLOW);
  std::string anchored = "my secret";  // ^ anchors at the start of the text only
  EXPECT_EQ(p.Accept(Text(anchored)).verdict, CHATPRO_ACCEPT_ALLOW);
  EXPECT_EQ(p.Accept(Text(bad, CHATPRO_CONTENT_VOICE)).verdict, CHATPRO_ACCEPT_ALLOW);
  EXPECT_EQ(p.Accept(Message(0, CHATPRO_CONTENT_PICTURE)).verdict, CHATPRO_ACCEPT_ALLOW);
}

TEST(Patterns, FlagsInsteadWhenAskedAndUsesTheConfiguredReason) {
  Module m("patterns");
  Instance p(m, {{"action", "flag"},
                 {"pattern", "confidential"},
                 {"ignore_case", "true"},
                 {"reason", "Marked for review: confidential"}});
  std::string text = "CONFIDENTIAL figures";
  chatpro_accept_result r = p.Accept(Text(text));
  EXPECT_EQ(r.verdict, CHATPRO_ACCEPT_FLAG);
  EXPECT_STREQ(r.reason, "Marked for review: confidential");
}

TEST(Patterns, FindsCardNumbersThatPassTheLuhnCheck) {
  Module m("patterns");
  Instance p(m, {{"card_numbers", "true"}});
  for (std::string card :
       {"4111111111111111", "card 4111 1111 1111 1111 thanks", "4111-1111-1111-1111",
        "ref 12 4111 1111 1111 1111", "378282246310005", "6011 0009 9013 9424"}) {
    chatpro_accept_result r = p.Accept(Text(card));
    EXPECT_EQ(r.verdict, CHATPRO_ACCEPT_REJECT) << card;
    EXPECT_STREQ(r.reason, "message contains what looks like a payment card number");
  }
  for (std::string fine :
       {"4111111111111112", "call 0800 123 4567", "4111  1111 1111 1111",
        "order 12345678901234567890123", "411111111111", "4111111111111111111111"}) {
    EXPECT_EQ(p.Accept(Text(fine)).verdict, CHATPRO_ACCEPT_ALLOW) << fine;
  }
}

TEST(Patterns, TruncatesALongReasonAtACharacterBoundary) {
  Module m("patterns");
  std::string reason;
  for (int i = 0; i < 200; ++i) reason += "\xC3\xA9";  // "é" x 200 = 400 bytes
  Instance p(m, {{"pattern", "x"}, {"reason", reason}});
  std::string text = "x";
  chatpro_accept_result r = p.Accept(Text(text));
  EXPECT_EQ(r.verdict, CHATPRO_ACCEPT_REJECT);
  EXPECT_EQ(std::strlen(r.reason), 254u);  // 127 whole characters fit in 255 bytes
  EXPECT_EQ(std::string(r.reason), reason.substr(0, 254));
}

TEST(Patterns, RefusesBadSettingsNamingTheKey) {
  EXPECT_NE(CreateError("patterns", {}).find("'pattern'"), std::string::npos);
  EXPECT_NE(CreateError("patterns", {{"pattern", "(unclosed"}}).find("'pattern' = '(unclosed'"),
            std::string::npos);
  EXPECT_NE(CreateError("patterns", {{"pattern", "(a)\\1"}}).find("'pattern'"), std::string::npos);
  EXPECT_NE(CreateError("patterns", {{"pattern", "x"}, {"action", "drop"}}).find("'action'"),
            std::string::npos);
  EXPECT_NE(CreateError("patterns", {{"card_numbers", "maybe"}}).find("'card_numbers'"),
            std::string::npos);
  EXPECT_NE(CreateError("patterns", {{"card_numbers", "false"}})
                .find("set at least one 'pattern' or 'card_numbers = true'"),
            std::string::npos);
  // The error buffer is never overrun and always terminated.
  Module patterns("patterns");
  std::string key = "pattern", value(1000, '(');
  chatpro_setting s = {Str(key), Str(value)};
  char small[16];
  std::memset(small, 'x', sizeof small);
  EXPECT_EQ(patterns.api()->create(&s, 1, small, sizeof small), nullptr);
  EXPECT_EQ(std::strlen(small), 15u);
}

TEST(Patterns, StaysFastAndSafeOnPathologicalInput) {
  Module m("patterns");
  // Classic catastrophic backtracking patterns, and a text far above the
  // 64 KiB examined: neither blows the stack nor takes long.
  Instance p(m, {{"pattern", "(a|aa)*c"},
                 {"pattern", "(a*)*b"},
                 {"pattern", "(x+x+)+y"},
                 {"card_numbers", "true"}});
  std::string text(1 << 20, 'a');
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(p.Accept(Text(text)).verdict, CHATPRO_ACCEPT_ALLOW);
  std::string digits;
  for (int i = 0; i < 100000; ++i) digits += "1 ";
  EXPECT_EQ(p.Accept(Text(digits)).verdict, CHATPRO_ACCEPT_ALLOW);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  // Only the first 64 KiB are examined by the patterns.
  std::string late = std::string(70 * 1024, ' ') + "c";
  EXPECT_EQ(p.Accept(Text(late)).verdict, CHATPRO_ACCEPT_ALLOW);
  std::string early = std::string(60 * 1024, ' ') + "c";
  EXPECT_EQ(p.Accept(Text(early)).verdict, CHATPRO_ACCEPT_REJECT);
}

TEST(Plugins, ReturnFailedOnBadArgumentsInsteadOfCrashing) {
  Module age("retention_age");
  Instance p(age, {{"days", "1"}});
  chatpro_message_view msg = Message(10 * kDay);
  std::uint32_t verdict = 0;
  EXPECT_EQ(age.api()->retention(p.get(), nullptr, kNow, &verdict), CHATPRO_PLUGIN_FAILED);
  EXPECT_EQ(age.api()->retention(p.get(), &msg, kNow, nullptr), CHATPRO_PLUGIN_FAILED);
  chatpro_message_view small = msg;
  small.struct_size = 8;  // from a broker with a smaller view than this plugin knows
  EXPECT_EQ(age.api()->retention(p.get(), &small, kNow, &verdict), CHATPRO_PLUGIN_FAILED);
  // A group name with a size and no data throws inside; it comes out as FAILED.
  Instance groups(age, {{"days", "1"}, {"groups", "HR"}});
  chatpro_message_view broken = msg;
  broken.conversation_kind = CHATPRO_GROUP;
  broken.conversation_name = {nullptr, 5};
  EXPECT_EQ(age.api()->retention(groups.get(), &broken, kNow, &verdict), CHATPRO_PLUGIN_FAILED);

  Module patterns("patterns");
  Instance q(patterns, {{"pattern", "x"}});
  chatpro_message_view text = Message(0);
  text.text = {nullptr, 3};
  chatpro_accept_result r;
  EXPECT_EQ(patterns.api()->on_accept(q.get(), &text, kNow, &r), CHATPRO_PLUGIN_FAILED);
  EXPECT_EQ(patterns.api()->on_accept(q.get(), nullptr, kNow, &r), CHATPRO_PLUGIN_FAILED);
  std::string key = "pattern";
  chatpro_setting bad = {Str(key), {nullptr, 4}};
  char error[64];
  EXPECT_EQ(patterns.api()->create(&bad, 1, error, sizeof error), nullptr);
  EXPECT_EQ(patterns.api()->create(nullptr, 2, error, sizeof error), nullptr);
}

TEST(PluginSupport, GuardTurnsAnyExceptionIntoFailed) {
  EXPECT_EQ(plugin_support::Guard([]() -> int { throw std::runtime_error("boom"); }),
            CHATPRO_PLUGIN_FAILED);
  EXPECT_EQ(plugin_support::Guard([]() -> int { throw 42; }), CHATPRO_PLUGIN_FAILED);
  EXPECT_EQ(plugin_support::Guard([]() -> int { return CHATPRO_PLUGIN_OK; }), CHATPRO_PLUGIN_OK);
}

TEST(PluginSupport, Utf8PrefixNeverCutsACharacter) {
  std::string s =
      "a\xE2\x82\xAC"
      "b";  // a € b
  EXPECT_EQ(plugin_support::Utf8Prefix(s, 10), 5u);
  EXPECT_EQ(plugin_support::Utf8Prefix(s, 4), 4u);
  EXPECT_EQ(plugin_support::Utf8Prefix(s, 3), 1u);
  EXPECT_EQ(plugin_support::Utf8Prefix(s, 2), 1u);
  EXPECT_EQ(plugin_support::Utf8Prefix(s, 1), 1u);
  EXPECT_EQ(plugin_support::Utf8Prefix(s, 0), 0u);
}

}  // namespace
}  // namespace chatpro::plugins
