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

TEST(Config, MetricsListenDefaultsToLoopbackAndEmptyTurnsItOff) {
  auto o = BuildOptions({}, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->monitoring.listen, "127.0.0.1:9464");

  auto file = ParseConfigText("[metrics]\nlisten = 0.0.0.0:9100\n", "c.conf");
  ASSERT_TRUE(file.ok());
  o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->monitoring.listen, "0.0.0.0:9100");

  std::vector<Setting> flags = {{"metrics.listen", "", "--set metrics.listen"}};
  o = BuildOptions(*file, flags, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->monitoring.listen, "");

  for (const char* bad : {"9464", "localhost:"}) {
    flags = {{"metrics.listen", bad, "--set metrics.listen"}};
    EXPECT_FALSE(BuildOptions({}, flags, "/etc/chatpro").ok()) << bad;
  }
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
  EXPECT_EQ(o.status().message(),
            "c.conf:2: limits.max_text_bytes = 'lots' is not a size like 64KiB");
  file = ParseConfigText("[limits]\nhandshake_timeout = 10\n", "c.conf");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(BuildOptions(*file, {}, "/etc").status().message(),
            "c.conf:2: limits.handshake_timeout = '10' is not a duration like 30s or 72h");
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

TEST(Config, ReadsPluginSectionsKeepingEveryOtherKeyInOrder) {
  auto file = ParseConfigText(
      "[plugins]\ndir = plugins\n"
      "[plugin.delete-after-1y]\nlibrary = retention_age\ndays = 365\n"
      "[plugin.no-secrets]\nlibrary = patterns\npattern = \"#[0-9]+\"  # a hash in quotes stays\n"
      "pattern = pass(word)?\naction = flag\n"
      "[plugin.mine]\nlibrary = ../lib/libmine.so\n",
      "c.conf");
  ASSERT_TRUE(file.ok()) << file.status();
  auto o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->plugins.dir, "/etc/chatpro/plugins");
  ASSERT_EQ(o->plugins.instances.size(), 3u);
  const PluginOptions& age = o->plugins.instances[0];
  EXPECT_EQ(age.name, "delete-after-1y");
  EXPECT_EQ(age.library, "retention_age");
  ASSERT_EQ(age.settings.size(), 1u);
  EXPECT_EQ(age.settings[0], std::make_pair(std::string("days"), std::string("365")));
  const PluginOptions& patterns = o->plugins.instances[1];
  ASSERT_EQ(patterns.settings.size(), 3u);
  EXPECT_EQ(patterns.settings[0].second, "#[0-9]+");
  EXPECT_EQ(patterns.settings[1].second, "pass(word)?");
  EXPECT_EQ(patterns.settings[2].first, "action");
  EXPECT_EQ(o->plugins.instances[2].library, "/etc/chatpro/../lib/libmine.so");
}

TEST(Config, CommandLinePluginSettingsAddInstancesAndReplaceKeys) {
  auto file = ParseConfigText(
      "[plugin.trim]\nlibrary = keep_newest\ncount = 5\nscope = groups\n"
      "[plugin.p]\nlibrary = patterns\npattern = a\npattern = b\n",
      "c.conf");
  ASSERT_TRUE(file.ok());
  std::vector<Setting> flags = {
      {"plugin.trim.count", "10", "--set plugin.trim.count"},
      {"plugin.p.pattern", "c", "--set plugin.p.pattern"},
      {"plugin.p.pattern", "d", "--set plugin.p.pattern"},
      {"plugin.age.library", "retention_age", "--set plugin.age.library"},
      {"plugin.age.days", "30", "--set plugin.age.days"},
  };
  auto o = BuildOptions(*file, flags, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->plugins.instances.size(), 3u);
  using KV = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(o->plugins.instances[0].settings, (KV{{"scope", "groups"}, {"count", "10"}}));
  EXPECT_EQ(o->plugins.instances[1].settings, (KV{{"pattern", "c"}, {"pattern", "d"}}));
  EXPECT_EQ(o->plugins.instances[2].name, "age");
  EXPECT_EQ(o->plugins.instances[2].library, "retention_age");
  EXPECT_EQ(o->plugins.instances[2].settings, (KV{{"days", "30"}}));
}

TEST(Config, APluginSectionWithoutLibraryIsAnErrorNamingIt) {
  auto file = ParseConfigText("[plugin.trim]\ncount = 5\n", "c.conf");
  ASSERT_TRUE(file.ok());
  auto o = BuildOptions(*file, {}, "/etc");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("[plugin.trim] has no 'library'"), std::string::npos)
      << o.status();
  EXPECT_NE(o.status().message().find("c.conf:2"), std::string::npos) << o.status();

  file = ParseConfigText("[plugin.trim]\nlibrary = a\nlibrary = b\n", "c.conf");
  ASSERT_TRUE(file.ok());
  EXPECT_NE(BuildOptions(*file, {}, "/etc").status().message().find("set twice"), std::string::npos);
  file = ParseConfigText("[plugin]\nlibrary = a\n", "c.conf");
  ASSERT_TRUE(file.ok());
  EXPECT_NE(BuildOptions(*file, {}, "/etc").status().message().find("[plugin.NAME]"),
            std::string::npos);
  file = ParseConfigText("[plugin.a b]\nlibrary = a\n", "c.conf");
  ASSERT_TRUE(file.ok());
  EXPECT_NE(BuildOptions(*file, {}, "/etc").status().message().find("instance name"),
            std::string::npos);
  EXPECT_FALSE(BuildOptions({}, {{"plugin.x.library", "", "--set plugin.x.library"}}, "").ok());
}

TEST(Config, ReadsRetentionAndCasesSettings) {
  auto file = ParseConfigText(
      "[broker]\ndata_dir = /srv/chatpro\n"
      "[retention]\ninterval = 15min\nbatch_messages = 200\nlow_disk_free = 5GiB\n"
      "[cases]\napproval_valid = 24h\nembargo = 14d\n[store]\nmin_free = 256MiB\n",
      "c.conf");
  ASSERT_TRUE(file.ok());
  auto o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->store.min_free_bytes, 256ull << 20);
  EXPECT_EQ(o->retention.interval_us, 15ll * 60 * 1'000'000);
  EXPECT_EQ(o->retention.batch_messages, 200u);
  EXPECT_EQ(o->retention.low_disk_free_bytes, 5ull << 30);
  EXPECT_EQ(o->cases.approval_valid_us, 24ll * 3600 * 1'000'000);
  EXPECT_EQ(o->cases.embargo_us, 14ll * 86400 * 1'000'000);
  EXPECT_EQ(o->cases.export_dir, "/srv/chatpro/exports");

  std::vector<Setting> flags = {{"cases.export_dir", "/mnt/exports", "--set cases.export_dir"},
                                {"retention.low_disk_free", "0", "--set retention.low_disk_free"}};
  o = BuildOptions(*file, flags, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->cases.export_dir, "/mnt/exports");
  EXPECT_EQ(o->retention.low_disk_free_bytes, 0u);

  o = BuildOptions({}, {}, "");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->store.min_free_bytes, 64ull << 20);
  EXPECT_EQ(o->retention.interval_us, 3600ll * 1'000'000);
  EXPECT_EQ(o->retention.batch_messages, 500u);

  for (const char* bad : {"[retention]\ninterval = 0s\n", "[retention]\nbatch_messages = 0\n",
                          "[retention]\nlow_disk_free = lots\n", "[cases]\napproval_valid = 10s\n",
                          "[cases]\nembargo = soon\n"}) {
    file = ParseConfigText(bad, "c.conf");
    ASSERT_TRUE(file.ok());
    EXPECT_FALSE(BuildOptions(*file, {}, "/etc").ok()) << bad;
  }
}

TEST(Config, CollectsScheduleSectionsInFileOrder) {
  auto file = ParseConfigText(
      "[schedule.office]\ntime_zone = Europe/Berlin\nmon = 09:00-12:30, 13:30-17:00\n"
      "holidays = 2026-12-25, 2026-12-26\ndefault = true\n"
      "[schedule.nights]\ntime_zone = Europe/Berlin\nmon = 22:00-06:00\nmembers = ana, bo\n"
      "[urgent]\nallowed = role:admin,  user:ana , profile:nights\n",
      "c.conf");
  ASSERT_TRUE(file.ok()) << file.status();
  auto o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  using KV = std::vector<std::pair<std::string, std::string>>;
  ASSERT_EQ(o->schedules.size(), 2u);
  EXPECT_EQ(o->schedules[0].name, "office");
  EXPECT_EQ(o->schedules[0].where, "c.conf:2");
  EXPECT_EQ(o->schedules[0].settings,
            (KV{{"time_zone", "Europe/Berlin"},
                {"mon", "09:00-12:30, 13:30-17:00"},
                {"holidays", "2026-12-25, 2026-12-26"},
                {"default", "true"}}));
  EXPECT_EQ(o->schedules[1].name, "nights");
  EXPECT_EQ(o->schedules[1].settings[2], std::make_pair(std::string("members"), std::string("ana, bo")));
  EXPECT_EQ(o->urgent_allowed, (std::vector<std::string>{"role:admin", "user:ana", "profile:nights"}));

  // Nothing configured: no profiles, nobody may send urgently.
  o = BuildOptions({}, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->schedules.empty());
  EXPECT_TRUE(o->urgent_allowed.empty());
}

TEST(Config, CommandLineScheduleSettingsReplaceKeysAndAddProfiles) {
  auto file = ParseConfigText(
      "[schedule.office]\ntime_zone = Europe/Berlin\nmon = 09:00-17:00\n"
      "[urgent]\nallowed = role:admin\n",
      "c.conf");
  ASSERT_TRUE(file.ok());
  std::vector<Setting> flags = {
      {"schedule.office.mon", "08:00-16:00", "--set schedule.office.mon"},
      {"schedule.tokyo.time_zone", "Asia/Tokyo", "--set schedule.tokyo.time_zone"},
      {"urgent.allowed", "user:bo", "--set urgent.allowed"},
  };
  auto o = BuildOptions(*file, flags, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  using KV = std::vector<std::pair<std::string, std::string>>;
  ASSERT_EQ(o->schedules.size(), 2u);
  EXPECT_EQ(o->schedules[0].settings, (KV{{"time_zone", "Europe/Berlin"}, {"mon", "08:00-16:00"}}));
  EXPECT_EQ(o->schedules[1].name, "tokyo");
  EXPECT_EQ(o->schedules[1].where, "--set schedule.tokyo.time_zone");
  EXPECT_EQ(o->urgent_allowed, (std::vector<std::string>{"user:bo"}));
}

TEST(Config, ScheduleAndUrgentErrorsNameTheKeyAndLine) {
  auto error = [](const std::string& text) {
    auto file = ParseConfigText(text, "c.conf");
    EXPECT_TRUE(file.ok()) << file.status();
    auto o = BuildOptions(*file, {}, "/etc");
    EXPECT_FALSE(o.ok()) << text;
    return o.ok() ? std::string() : o.status().message();
  };
  std::string m = error("[schedule.office]\nmon = 09:00-17:00\nmon = 10:00-18:00\n");
  EXPECT_NE(m.find("c.conf:3"), std::string::npos) << m;
  EXPECT_NE(m.find("set twice in [schedule.office]"), std::string::npos) << m;
  m = error("[schedule]\nmon = 09:00-17:00\n");
  EXPECT_NE(m.find("[schedule.NAME]"), std::string::npos) << m;
  m = error("[schedule.a b]\nmon = 09:00-17:00\n");
  EXPECT_NE(m.find("invalid profile name"), std::string::npos) << m;
  m = error("[urgent]\nallowed = role:boss\n");
  EXPECT_NE(m.find("c.conf:2: urgent.allowed"), std::string::npos) << m;
  EXPECT_NE(m.find("'role:boss'"), std::string::npos) << m;
  m = error("[urgent]\nallowed = user:Ana\n");
  EXPECT_NE(m.find("invalid login"), std::string::npos) << m;
  m = error("[urgent]\nallowed = admin\n");
  EXPECT_NE(m.find("role:NAME, user:LOGIN or profile:NAME"), std::string::npos) << m;
  m = error("[urgent]\nallowed = team:x\n");
  EXPECT_NE(m.find("'team:x'"), std::string::npos) << m;
  m = error("[urgent]\nallowed = user:ana,,user:bo\n");
  EXPECT_NE(m.find("empty entry"), std::string::npos) << m;
  m = error("[urgent]\nallowed = user:ana, user:ana\n");
  EXPECT_NE(m.find("twice"), std::string::npos) << m;
  m = error("[urgent]\nallowed = profile:nights\n");
  EXPECT_NE(m.find("no [schedule.nights] section"), std::string::npos) << m;
  m = error("[urgent]\nwho = everyone\n");
  EXPECT_NE(m.find("unknown setting 'urgent.who'"), std::string::npos) << m;
}

TEST(Config, LogSectionSetsTargetFileRotationAndFormat) {
  auto file = ParseConfigText(
      "[broker]\ndata_dir = /srv/chatpro\n[log]\ntarget = file\nlevel = warning\n"
      "file = logs/broker.log\nrotate_size = 1MiB\nkeep = 3\nformat = json\n",
      "c.conf");
  ASSERT_TRUE(file.ok()) << file.status();
  auto o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->log.target, LogTarget::kFile);
  EXPECT_EQ(o->log.level, "warning");
  EXPECT_EQ(o->log.file, "/etc/chatpro/logs/broker.log") << "relative to the config file's folder";
  EXPECT_EQ(o->log.rotate_size, 1ull << 20);
  EXPECT_EQ(o->log.keep, 3u);
  EXPECT_EQ(o->log.format, LogFormat::kJson);
}

TEST(Config, LogDefaultsToTheConsoleAtInfoWithTheFileInTheDataDir) {
  auto file = ParseConfigText("[broker]\ndata_dir = /srv/chatpro\n", "c.conf");
  ASSERT_TRUE(file.ok());
  auto o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->log.target, LogTarget::kConsole);
  EXPECT_EQ(o->log.level, "info");
  EXPECT_EQ(o->log.file, "/srv/chatpro/chatpro-broker.log");
  EXPECT_EQ(o->log.rotate_size, 10ull << 20);
  EXPECT_EQ(o->log.keep, 5u);
  EXPECT_EQ(o->log.format, LogFormat::kText);
  EXPECT_EQ(o->log.syslog_facility, "daemon");
}

TEST(Config, BrokerLogLevelIsTheOlderNameOfLogLevelAndTheLaterSettingWins) {
  auto file = ParseConfigText("[broker]\nlog_level = debug\n", "c.conf");
  ASSERT_TRUE(file.ok());
  auto o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->log.level, "debug");
  std::vector<Setting> flags = {{"log.level", "error", "--set log.level"}};
  o = BuildOptions(*file, flags, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->log.level, "error") << "the command line wins";
}

TEST(Config, BadLogSettingsAreRefusedNamingTheKey) {
  struct Case {
    const char* text;
    const char* key;
    const char* why;
  };
  const Case cases[] = {
      {"[log]\ntarget = printer\n", "log.target", "must be console, file, syslog, journal or eventlog"},
      {"[log]\nlevel = verbose\n", "log.level", "must be debug, info, warning or error"},
      {"[broker]\nlog_level = loud\n", "broker.log_level", "must be debug"},
      {"[log]\nformat = xml\n", "log.format", "must be text or json"},
      {"[log]\nkeep = 0\n", "log.keep", "between 1 and 1000"},
      {"[log]\nrotate_size = 100\n", "log.rotate_size", "between"},
      {"[log]\nsyslog_facility = kern\n", "log.syslog_facility", "daemon, user or local0"},
      {"[log]\nfile = \"\"\n", "log.file", "must not be empty"},
#ifndef _WIN32
      {"[log]\ntarget = eventlog\n", "log.target", "for Windows only"},
#endif
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto file = ParseConfigText(c.text, "c.conf");
    ASSERT_TRUE(file.ok());
    auto o = BuildOptions(*file, {}, "/etc/chatpro");
    ASSERT_FALSE(o.ok());
    EXPECT_NE(o.status().message().find(c.key), std::string::npos) << o.status();
    EXPECT_NE(o.status().message().find(c.why), std::string::npos) << o.status();
    EXPECT_NE(o.status().message().find("c.conf:2"), std::string::npos) << o.status();
  }
}

TEST(Config, RotateSizeZeroMeansNeverRotate) {
  auto file = ParseConfigText("[log]\nrotate_size = 0\n", "c.conf");
  ASSERT_TRUE(file.ok());
  auto o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->log.rotate_size, 0u);
}


TEST(Config, ConsoleDefaultsAndPlainHttpOnlyOnLoopback) {
  auto o = BuildOptions({}, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->console.enabled);
  EXPECT_EQ(o->console.listen, "0.0.0.0:8443");
  EXPECT_FALSE(o->console.plain_http);
  EXPECT_EQ(o->console.max_request_bytes, 1u << 20);
  EXPECT_EQ(o->console.session_idle_us, 15ll * 60 * 1'000'000);
  EXPECT_EQ(o->console.session_max_us, 8ll * 3600 * 1'000'000);
  EXPECT_EQ(o->console.login_attempts, 5u);
  EXPECT_EQ(o->console.login_lockout_us, 5ll * 60 * 1'000'000);

  auto file = ParseConfigText(
      "[console]\nlisten = 127.0.0.1:8080\nplain_http = true\nsession_idle = 5min\n"
      "cert_file = tls/c.pem\nkey_file = tls/k.pem\n",
      "c.conf");
  ASSERT_TRUE(file.ok());
  o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->console.plain_http);
  EXPECT_EQ(o->console.session_idle_us, 5ll * 60 * 1'000'000);
  EXPECT_EQ(o->console.cert_file, "/etc/chatpro/tls/c.pem");

  std::vector<Setting> flags = {{"console.listen", "0.0.0.0:8080", "--set console.listen"}};
  o = BuildOptions(*file, flags, "/etc/chatpro");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("console.plain_http"), std::string::npos)
      << o.status();

  flags = {{"console.key_file", "", "--set console.key_file"}};
  EXPECT_FALSE(BuildOptions(*file, flags, "/etc/chatpro").ok());
  flags = {{"console.enabled", "maybe", "--set console.enabled"}};
  EXPECT_FALSE(BuildOptions({}, flags, "/etc/chatpro").ok());
}

TEST(Config, WebChatDefaultsAndSettings) {
  auto o = BuildOptions({}, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->webchat.enabled);
  EXPECT_EQ(o->webchat.listen, "127.0.0.1:8444");
  EXPECT_NE(o->webchat.listen, o->console.listen);
  EXPECT_TRUE(o->webchat.cert_file.empty());
  EXPECT_EQ(o->webchat.max_message_bytes, 17u << 20);
  EXPECT_EQ(o->webchat.max_connections, 256u);

  auto file = ParseConfigText(
      "[webchat]\nenabled = false\nlisten = 0.0.0.0:9443\ncert_file = tls/w.pem\n"
      "key_file = tls/wk.pem\nmax_message_bytes = 1MiB\nmax_connections = 50\n",
      "c.conf");
  ASSERT_TRUE(file.ok());
  o = BuildOptions(*file, {}, "/etc/chatpro");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->webchat.enabled);
  EXPECT_EQ(o->webchat.listen, "0.0.0.0:9443");
  EXPECT_EQ(o->webchat.cert_file, "/etc/chatpro/tls/w.pem");
  EXPECT_EQ(o->webchat.key_file, "/etc/chatpro/tls/wk.pem");
  EXPECT_EQ(o->webchat.max_message_bytes, 1u << 20);
  EXPECT_EQ(o->webchat.max_connections, 50u);

  std::vector<Setting> flags = {{"webchat.key_file", "", "--set webchat.key_file"}};
  o = BuildOptions(*file, flags, "/etc/chatpro");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("webchat.cert_file"), std::string::npos) << o.status();
  for (const Setting& bad : std::vector<Setting>{
           {"webchat.enabled", "maybe", "--set webchat.enabled"},
           {"webchat.listen", "9443", "--set webchat.listen"},
           {"webchat.max_message_bytes", "10", "--set webchat.max_message_bytes"},
           {"webchat.max_connections", "0", "--set webchat.max_connections"}}) {
    o = BuildOptions({}, {bad}, "/etc/chatpro");
    ASSERT_FALSE(o.ok()) << bad.key;
    EXPECT_NE(o.status().message().find(bad.key), std::string::npos) << o.status();
  }
}

TEST(Config, LoopbackListenAddresses) {
  for (const char* yes : {"127.0.0.1:80", "127.1.2.3:0", "[::1]:8443", "localhost:1"}) {
    EXPECT_TRUE(IsLoopbackListen(yes)) << yes;
  }
  for (const char* no : {"0.0.0.0:8443", "10.0.0.1:80", "127.0.0.1.example.com:80", "[::]:80",
                         "host:80", "8443"}) {
    EXPECT_FALSE(IsLoopbackListen(no)) << no;
  }
}

}  // namespace
}  // namespace chatpro
