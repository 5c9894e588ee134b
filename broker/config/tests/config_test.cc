// SPDX-License-Identifier: Apache-2.0
#include "broker/config/config.h"

#include <gtest/gtest.h>

namespace chatpro {
namespace {

TEST(Config, ParsesSectionsCommentsAndQuotes) {
  auto s = ParseConfigText(
      "# ChatPro\n[broker]\nlisten = \"tcp://0.0.0.0:7070\"  # all interfaces\n"
      "\n[limits]\nmax_text_bytes=32KiB\n",
      "test.conf");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].key, "broker.listen");
  EXPECT_EQ((*s)[0].value, "tcp://0.0.0.0:7070");
  EXPECT_EQ((*s)[1].where, "test.conf:6");
}

TEST(Config, FlagsOverrideTheFile) {
  auto file = ParseConfigText("[broker]\ndurability = os\ndata_dir = data\n", "c.conf");
  ASSERT_TRUE(file.ok());
  std::vector<Setting> flags = {{"broker.durability", "fsync", "--durability"}};
  auto o = BuildOptions(*file, flags, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->store.durability, Durability::kFsync);
  EXPECT_EQ(o->store.data_dir, "/etc/chatpro/data");
  EXPECT_EQ(o->transport.max_frame_bytes, (16ull << 20) + (1ull << 20));
}

TEST(Config, StorageKeyFileDefaultsToTheDataDirAndResolvesLikeOtherPaths) {
  auto file = ParseConfigText("[broker]\ndata_dir = data\n", "c.conf");
  ASSERT_TRUE(file.ok());
  auto o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->store.key_file, "/etc/chatpro/data/storage.key");

  file = ParseConfigText("[broker]\ndata_dir = /srv/chatpro\n[store]\nkey_file = keys/storage.key\n",
                         "c.conf");
  ASSERT_TRUE(file.ok());
  o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->store.key_file, "/etc/chatpro/keys/storage.key");

  std::vector<Setting> flags = {{"store.key_file", "/run/secrets/storage.key", "--set store.key_file"}};
  o = BuildOptions(*file, flags, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->store.key_file, "/run/secrets/storage.key");

  file = ParseConfigText("[store]\nkey_file = \"\"\n", "c.conf");
  ASSERT_TRUE(file.ok());
  EXPECT_FALSE(BuildOptions(*file, {}, "/etc/chatpro").ok());
}

TEST(Config, CasesSettingsTakeDurationsAndAResolvedExportFolder) {
  auto file = ParseConfigText(
      "[cases]\napproval_valid = 24h\nembargo = 7d\nexport_dir = exports-here\n", "c.conf");
  ASSERT_TRUE(file.ok());
  auto o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->cases.approval_valid_us, 24ll * 3600 * 1'000'000);
  EXPECT_EQ(o->cases.embargo_us, 7ll * 24 * 3600 * 1'000'000);
  EXPECT_EQ(o->cases.export_dir, "/etc/chatpro/exports-here");

  file = ParseConfigText("[cases]\napproval_valid = 1s\n", "c.conf");
  ASSERT_TRUE(file.ok());
  EXPECT_FALSE(BuildOptions(*file, {}, "/etc/chatpro").ok());
}

TEST(Config, NamesTheOffendingKeyAndLine) {
  auto file = ParseConfigText("[limits]\nmax_text_bytes = lots\n", "c.conf");
  ASSERT_TRUE(file.ok());
  auto o = BuildOptions(*file, {}, "/etc");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("c.conf:2"), std::string::npos) << o.status();
  EXPECT_NE(o.status().message().find("limits.max_text_bytes"), std::string::npos);
}

TEST(Config, RejectsUnknownKeysAndKeysOutsideSections) {
  auto file = ParseConfigText("[broker]\nlisen = tcp://x:1\n", "c.conf");
  ASSERT_TRUE(file.ok());
  EXPECT_NE(BuildOptions(*file, {}, "").status().message().find("unknown setting 'broker.lisen'"),
            std::string::npos);
  EXPECT_FALSE(ParseConfigText("listen = tcp://x:1\n", "c.conf").ok());
  EXPECT_FALSE(ParseConfigText("[broker\n", "c.conf").ok());
}

TEST(Config, ParsesSizesAndDurations) {
  EXPECT_EQ(*ParseSize("16MiB"), 16ull << 20);
  EXPECT_EQ(*ParseSize("100"), 100u);
  EXPECT_FALSE(ParseSize("12XB").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999GiB").ok());
  EXPECT_EQ(*ParseDuration("72h"), 72ll * 3600 * 1'000'000);
  EXPECT_EQ(*ParseDuration("250ms"), 250'000);
  EXPECT_FALSE(ParseDuration("10").ok());
}

}  // namespace
}  // namespace chatpro
