// SPDX-License-Identifier: Apache-2.0
#include "broker/plugin_host/plugin_host.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace chatpro::plugin_host {
namespace {

const std::string kTestDir = CHATPRO_TEST_PLUGIN_DIR;
const std::string kBuiltinDir = CHATPRO_BUILTIN_PLUGIN_DIR;

PluginOptions Instance(std::string name, std::string library,
                       std::vector<std::pair<std::string, std::string>> settings = {}) {
  return PluginOptions{std::move(name), std::move(library), std::move(settings)};
}

// The message of a failed load, which must name the instance and the file.
std::string LoadError(const PluginsOptions& options, StatusCode code) {
  auto set = LoadPlugins(options, "/nowhere/bin");
  EXPECT_FALSE(set.ok());
  if (set.ok()) return "";
  EXPECT_EQ(set.status().code(), code) << set.status();
  return set.status().message();
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(PluginHost, ResolvesShortNamesInTheDirAndPathsAsTheyAre) {
  EXPECT_EQ(ResolvePluginLibrary("retention_age", "/opt/plugins", "/usr/bin"),
            "/opt/plugins/libchatpro_retention_age.so");
  EXPECT_EQ(ResolvePluginLibrary("retention-age", "/opt/plugins", "/usr/bin"),
            "/opt/plugins/libchatpro_retention_age.so");
  EXPECT_EQ(ResolvePluginLibrary("keep_newest", "", "/usr/bin"),
            "/usr/lib/chatpro/plugins/libchatpro_keep_newest.so");
  EXPECT_EQ(ResolvePluginLibrary("/srv/my/libfilter.so", "/opt/plugins", "/usr/bin"),
            "/srv/my/libfilter.so");
  EXPECT_EQ(ResolvePluginLibrary("libmine.so", "/opt/plugins", "/usr/bin"), "libmine.so");
}

TEST(PluginHost, NoInstancesMakesAnEmptySet) {
  auto set = LoadPlugins(PluginsOptions{}, "/nowhere/bin");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE((*set)->plugins().empty());
  EXPECT_FALSE((*set)->has_accept_hooks());
}

TEST(PluginHost, AMissingFileIsNotFoundNamingTheInstanceAndFile) {
  PluginsOptions o{kTestDir, {Instance("trim", "keep_nwest")}};
  std::string e = LoadError(o, StatusCode::kNotFound);
  EXPECT_TRUE(Has(e, "plugin 'trim'")) << e;
  EXPECT_TRUE(Has(e, kTestDir + "/libchatpro_keep_nwest.so")) << e;
  EXPECT_TRUE(Has(e, "does not exist")) << e;
}

TEST(PluginHost, AFileThatIsNoLibraryIsRefused) {
  PluginsOptions o{"", {Instance("odd", CHATPRO_TEST_PLUGIN_DIR "/../CMakeFiles")}};
  std::string e = LoadError(o, StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(e, "plugin 'odd'")) << e;
  // A regular file, but not a library.
  const std::string text_file = ::testing::TempDir() + "chatpro_not_a_library.so";
  std::ofstream(text_file) << "this is text, not a shared library\n";
  o.instances[0].library = text_file;
  e = LoadError(o, StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(e, "cannot load the library")) << e;
  std::remove(text_file.c_str());
}

TEST(PluginHost, ALibraryWithoutTheEntrySymbolIsRefused) {
  PluginsOptions o{kTestDir, {Instance("bad", "test_no_entry")}};
  std::string e = LoadError(o, StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(e, "plugin 'bad'")) << e;
  EXPECT_TRUE(Has(e, "libchatpro_test_no_entry.so")) << e;
  EXPECT_TRUE(Has(e, "chatpro_plugin_entry")) << e;
}

TEST(PluginHost, AnotherApiVersionIsRefused) {
  PluginsOptions o{kTestDir, {Instance("old", "test_version99")}};
  std::string e = LoadError(o, StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Has(e, "plugin 'old'")) << e;
  EXPECT_TRUE(Has(e, "version 99")) << e;
  EXPECT_TRUE(Has(e, "supports version " + std::to_string(CHATPRO_PLUGIN_API_VERSION))) << e;
}

TEST(PluginHost, APluginWithoutHooksIsRefused) {
  PluginsOptions o{kTestDir, {Instance("idle", "test_no_hooks")}};
  EXPECT_TRUE(
      Has(LoadError(o, StatusCode::kFailedPrecondition), "neither an accept nor a retention hook"));
}

TEST(PluginHost, AnIncompleteDescriptorIsRefused) {
  PluginsOptions o{kTestDir, {Instance("nameless", "test_no_name")}};
  EXPECT_TRUE(Has(LoadError(o, StatusCode::kFailedPrecondition), "lacks a name")) << o.dir;
}

TEST(PluginHost, ACreateFailureCarriesThePluginsReason) {
  PluginsOptions o{kTestDir, {Instance("picky", "test_good", {{"fail", "setting 'x' is wrong"}})}};
  std::string e = LoadError(o, StatusCode::kInvalidArgument);
  EXPECT_TRUE(Has(e, "plugin 'picky'")) << e;
  EXPECT_TRUE(Has(e, "[plugin.picky]")) << e;
  EXPECT_TRUE(Has(e, "setting 'x' is wrong")) << e;

  // A built-in plugin's own reason, naming its key.
  o = PluginsOptions{kBuiltinDir, {Instance("trim", "keep_newest", {{"count", "none"}})}};
  e = LoadError(o, StatusCode::kInvalidArgument);
  EXPECT_TRUE(Has(e, "plugin 'trim'")) << e;
  EXPECT_TRUE(Has(e, "'count'")) << e;
}

// The test plugin's instance counter, read through a handle of the test's
// own (which also keeps the library loaded after the set unloads it).
class LiveInstances {
 public:
  LiveInstances() {
    handle_ = ::dlopen((kTestDir + "/libchatpro_test_good.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    EXPECT_NE(handle_, nullptr);
    fn_ = reinterpret_cast<int (*)()>(::dlsym(handle_, "test_plugin_live_instances"));
    EXPECT_NE(fn_, nullptr);
  }
  ~LiveInstances() { ::dlclose(handle_); }
  int count() const { return fn_(); }

 private:
  void* handle_ = nullptr;
  int (*fn_)() = nullptr;
};

TEST(PluginHost, AFailureLaterLeavesNothingCreated) {
  LiveInstances live;
  PluginsOptions o{
      kTestDir,
      {Instance("first", "test_good"), Instance("second", "test_good", {{"fail", "no"}})}};
  EXPECT_EQ(LoadError(o, StatusCode::kInvalidArgument).find("plugin 'second'"), 0u);
  EXPECT_EQ(live.count(), 0);
}

chatpro_message_view View(std::uint64_t seq, const std::string& text) {
  chatpro_message_view m;
  std::memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  m.seq = seq;
  m.conversation_head_seq = 100;
  m.text = {text.data(), text.size()};
  return m;
}

TEST(PluginHost, LoadsAPluginWithOneInstancePerHookAndDestroysThem) {
  LiveInstances live;
  {
    PluginsOptions o{kTestDir, {Instance("both", "test_good", {{"reject", "spam"}})}};
    auto set = LoadPlugins(o, "/nowhere/bin");
    ASSERT_TRUE(set.ok()) << set.status();
    ASSERT_EQ((*set)->plugins().size(), 1u);
    const core::PluginInstance& p = *(*set)->plugins()[0];
    EXPECT_EQ(p.name, "both");
    EXPECT_EQ(p.library, kTestDir + "/libchatpro_test_good.so");
    EXPECT_NE(p.accept_instance, nullptr);
    EXPECT_NE(p.retention_instance, nullptr);
    EXPECT_NE(p.accept_instance, p.retention_instance);
    EXPECT_EQ(live.count(), 2);

    std::string spam = "spam", ham = "ham";
    core::AcceptDecision d = (*set)->Accept(View(5, spam), 0);
    EXPECT_EQ(d.verdict, CHATPRO_ACCEPT_REJECT);
    EXPECT_EQ(d.reason, "test says no");
    EXPECT_EQ(d.plugin, "both");
    EXPECT_EQ((*set)->Accept(View(5, ham), 0).verdict, CHATPRO_ACCEPT_ALLOW);
    EXPECT_EQ((*set)->Retention(View(1, ham), 0).verdict, CHATPRO_RETAIN_DELETE);
    EXPECT_EQ((*set)->Retention(View(2, ham), 0).verdict, CHATPRO_RETAIN_KEEP);
  }
  EXPECT_EQ(live.count(), 0);
}

TEST(PluginHost, LoadsTheBuiltInPluginsByShortName) {
  PluginsOptions o{kBuiltinDir,
                   {Instance("trim", "keep_newest", {{"count", "10"}}),
                    Instance("trim-groups", "keep-newest", {{"count", "5"}, {"scope", "groups"}}),
                    Instance("no-cards", "patterns", {{"card_numbers", "true"}})}};
  auto set = LoadPlugins(o, "/nowhere/bin");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ((*set)->plugins().size(), 3u);
  EXPECT_EQ((*set)->plugins()[0]->api, (*set)->plugins()[1]->api);  // one library, loaded once
  EXPECT_STREQ((*set)->plugins()[0]->api->name, "keep-newest");
  EXPECT_EQ((*set)->plugins()[2]->retention_instance, nullptr);
  EXPECT_TRUE((*set)->has_accept_hooks());
  EXPECT_TRUE((*set)->has_retention_hooks());

  std::string none, card = "4111 1111 1111 1111";
  EXPECT_EQ((*set)->Retention(View(90, none), 0).verdict, CHATPRO_RETAIN_DELETE);
  EXPECT_EQ((*set)->Retention(View(91, none), 0).verdict, CHATPRO_RETAIN_KEEP);
  core::AcceptDecision d = (*set)->Accept(View(100, card), 0);
  EXPECT_EQ(d.verdict, CHATPRO_ACCEPT_REJECT);
  EXPECT_EQ(d.plugin, "no-cards");
}

TEST(PluginHost, TheDefaultDirIsBesideTheExecutable) {
  // build/bin/../lib/chatpro/plugins is where the build puts the built-ins.
  std::string bin = kBuiltinDir + "/../../../bin";
  PluginsOptions o{"", {Instance("age", "retention_age", {{"days", "7"}})}};
  auto set = LoadPlugins(o, bin);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->plugins()[0]->library, kBuiltinDir + "/libchatpro_retention_age.so");
}

}  // namespace
}  // namespace chatpro::plugin_host
