// SPDX-License-Identifier: Apache-2.0
//
// Plugins from the outside: the real chatpro-broker loads the built-in
// plugins from beside its executable, lists them under --check-config, and
// refuses to start, with a clear message and a non-zero exit, when a plugin
// cannot be loaded or refuses its settings.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/broker_process.h"
#include "tests/chat_fixture.h"

namespace chatpro::testing {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class BrokerPlugins : public ::testing::Test {
 protected:
  RunResult Run(std::vector<std::string> extra) {
    std::vector<std::string> argv = {BrokerPath(), "--data-dir", dir_.Sub("data"), "--listen",
                                     "tcp://127.0.0.1:" + std::to_string(PickFreePort()),
                                     "--set", "metrics.listen=", "--set",
                                     "console.enabled=false", "--set", "webchat.enabled=false"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunProgram(argv, dir_.path());
  }

  TempDir dir_;
};

TEST_F(BrokerPlugins, CheckConfigLoadsAndListsTheBuiltInPlugins) {
  RunResult r = Run({"--check-config", "--set", "plugin.trim.library=keep_newest", "--set",
                     "plugin.trim.count=10", "--set", "plugin.no-cards.library=patterns", "--set",
                     "plugin.no-cards.card_numbers=true"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Has(r.out, "plugin 'trim' = keep-newest")) << r.out;
  EXPECT_TRUE(Has(r.out, "libchatpro_keep_newest.so; retention hook")) << r.out;
  EXPECT_TRUE(Has(r.out, "plugin 'no-cards' = patterns")) << r.out;
}

TEST_F(BrokerPlugins, AMissingPluginStopsTheStartNamingIt) {
  for (const char* mode : {"--check-config", ""}) {
    std::vector<std::string> extra = {"--set", "plugin.policy.library=no_such_plugin"};
    if (*mode != '\0') extra.push_back(mode);
    RunResult r = Run(extra);
    EXPECT_EQ(r.exit_code, 1) << DescribeExit(r.exit_code) << r.out << r.err;
    EXPECT_TRUE(Has(r.err, "cannot load plugins: plugin 'policy'")) << r.err;
    EXPECT_TRUE(Has(r.err, "libchatpro_no_such_plugin.so")) << r.err;
    EXPECT_TRUE(Has(r.err, "does not exist")) << r.err;
  }
}

TEST_F(BrokerPlugins, SettingsAPluginRefusesStopTheStartNamingTheKey) {
  RunResult r = Run({"--set", "plugin.age.library=retention_age", "--set", "plugin.age.days=soon"});
  EXPECT_EQ(r.exit_code, 1) << DescribeExit(r.exit_code) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "plugin 'age'")) << r.err;
  EXPECT_TRUE(Has(r.err, "setting 'days' = 'soon'")) << r.err;

  r = Run({"--check-config", "--set", "plugin.age.days=30"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "[plugin.age] has no 'library' setting")) << r.err;
}

TEST(BrokerWithPlugins, StartsServesAndStopsCleanlyWithPluginsLoaded) {
  TempDir dir;
  BrokerProcessOptions options;
  options.extra_args = {
      "--set", "plugin.age.library=retention_age", "--set", "plugin.age.days=365",
      "--set", "plugin.no-cards.library=patterns", "--set", "plugin.no-cards.card_numbers=true"};
  BrokerProcess broker(dir.path(), options);
  ASSERT_OK(broker.Init());
  EXPECT_TRUE(Has(broker.Log(), "loaded plugin 'age' = retention-age")) << broker.Log();
  EXPECT_TRUE(Has(broker.Log(), "loaded plugin 'no-cards' = patterns")) << broker.Log();
  ExitCode stopped = broker.Stop();
  EXPECT_EQ(stopped, 0) << DescribeExit(stopped) << broker.Log();
}

}  // namespace
}  // namespace chatpro::testing
