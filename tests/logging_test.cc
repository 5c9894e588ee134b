// SPDX-License-Identifier: Apache-2.0
//
// The broker's log as an administrator reads it: with `[log] target = file`
// its start, what clients do and its stop are in the file at the configured
// level (and nothing below it), the console gets none of it, SIGHUP makes it
// reopen the file after logrotate moved it, and --check-config refuses bad
// log settings naming the key.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/chat_fixture.h"

namespace chatpro::testing {
namespace {

namespace fs = std::filesystem;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Lines of `text` that contain `part`.
std::size_t CountLines(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  std::size_t at = 0;
  while ((at = text.find(part, at)) != std::string::npos) {
    ++n;
    at += part.size();
  }
  return n;
}

// Waits until the file at `path` contains `part`; false on timeout.
bool WaitForInFile(const std::string& path, const std::string& part) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Has(ReadWholeFile(path), part)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class FileLog : public BrokerTest {
 protected:
  virtual std::string Level() const { return "info"; }
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    // The file is the default one, in the data folder.
    o.extra_args = {"--set", "log.target=file", "--set", "log.level=" + Level()};
    return o;
  }
  std::string LogFile() const { return broker_->data_dir() + "/chatpro-broker.log"; }
};

class DebugFileLog : public FileLog {
 protected:
  std::string Level() const override { return "debug"; }
};

TEST_F(FileLog, HoldsTheStartAndAClientsActionAtInfoAndNothingAtDebug) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  ana_client.reset();
  root_.reset();
  ASSERT_EQ(broker_->Stop(), 0);

  const std::string log = ReadWholeFile(LogFile());
  const std::string port = std::to_string(broker_->port());
  EXPECT_TRUE(Has(log, " INFO    [chatpro-broker] listening on tcp://127.0.0.1:" + port)) << log;
  EXPECT_TRUE(Has(log, " INFO    [chatpro-broker] root added user ana")) << log;
  EXPECT_TRUE(Has(log, "enrolled device")) << log;
  EXPECT_TRUE(Has(log, "stopped cleanly")) << log;
  EXPECT_FALSE(Has(log, " DEBUG ")) << "level = info writes nothing at debug:\n" << log;
  EXPECT_FALSE(Has(log, "said hello")) << log;
  // Each line starts with its UTC time, e.g. 2026-11-25T08:00:00.123Z.
  ASSERT_GE(log.size(), 24u);
  EXPECT_EQ(log[4], '-');
  EXPECT_EQ(log[10], 'T');
  EXPECT_EQ(log[23], 'Z');

  // The console gets what the broker prints for people (the listening line
  // on stdout), not the log lines.
  const std::string console = broker_->Log();
  EXPECT_FALSE(Has(console, "root added user ana")) << console;
}

TEST_F(DebugFileLog, HoldsTheDebugLinesWhenTheLevelIsDebug) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  ana_client.reset();
  root_.reset();
  ASSERT_EQ(broker_->Stop(), 0);
  const std::string log = ReadWholeFile(LogFile());
  EXPECT_TRUE(Has(log, " DEBUG   [chatpro-broker] session ")) << log;
  EXPECT_TRUE(Has(log, ": ana (device ")) << log;
  EXPECT_TRUE(Has(log, " INFO    [chatpro-broker] root added user ana")) << log;
}

TEST_F(FileLog, SighupReopensTheFileAfterLogrotateMovedIt) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  ASSERT_TRUE(WaitForInFile(LogFile(), "root added user ana"));
  fs::rename(LogFile(), LogFile() + ".1");
  broker_->SignalNow(SIGHUP);
  ASSERT_TRUE(WaitForInFile(LogFile(), "reopened the log file"))
      << "no new log file after SIGHUP; the broker's output:\n"
      << broker_->Log();
  ASSERT_OK_AND_ASSIGN(client::Profile ben, AddUser("ben"));
  root_.reset();
  ASSERT_EQ(broker_->Stop(), 0) << "SIGHUP must not stop the broker";

  const std::string moved = ReadWholeFile(LogFile() + ".1");
  const std::string fresh = ReadWholeFile(LogFile());
  EXPECT_TRUE(Has(moved, "root added user ana")) << moved;
  EXPECT_FALSE(Has(moved, "root added user ben")) << moved;
  EXPECT_TRUE(Has(fresh, "root added user ben")) << fresh;
  EXPECT_TRUE(Has(fresh, "stopped cleanly")) << fresh;
  EXPECT_EQ(CountLines(moved + fresh, "listening on"), 1u);
}

// --check-config with bad [log] settings: refused, naming the key, where it
// was set and why.
class LogCheckConfig : public ::testing::Test {
 protected:
  RunResult Check(const std::vector<std::string>& extra) {
    std::vector<std::string> argv{BrokerPath(), "--data-dir", dir_.Sub("data")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("--check-config");
    return RunProgram(argv, dir_.path());
  }
  TempDir dir_;
};

TEST_F(LogCheckConfig, RefusesAnUnknownTargetNamingTheKey) {
  RunResult r = Check({"--set", "log.target=printer"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "log.target")) << r.err;
  EXPECT_TRUE(Has(r.err, "printer")) << r.err;
  EXPECT_TRUE(Has(r.err, "console, file, syslog, journal or eventlog")) << r.err;
  EXPECT_FALSE(Has(r.out, "configuration is valid"));
}

TEST_F(LogCheckConfig, RefusesAnUnknownLevelNamingTheKeyAlsoUnderItsOlderName) {
  RunResult r = Check({"--set", "log.level=verbose"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "log.level")) << r.err;
  EXPECT_TRUE(Has(r.err, "debug, info, warning or error")) << r.err;

  r = Check({"--log-level", "chatty"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "log.level")) << r.err;
  EXPECT_TRUE(Has(r.err, "--log-level")) << r.err;

  ASSERT_OK(WriteWholeFile(dir_.Sub("chatpro.conf"), "[broker]\nlog_level = loud\n"));
  r = Check({"--config", dir_.Sub("chatpro.conf")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "chatpro.conf:2")) << r.err;
  EXPECT_TRUE(Has(r.err, "broker.log_level")) << r.err;
}

TEST_F(LogCheckConfig, RefusesTheWindowsEventLogOnThisSystemSayingItIsForWindows) {
  ASSERT_OK(WriteWholeFile(dir_.Sub("chatpro.conf"), "[log]\ntarget = eventlog\n"));
  RunResult r = Check({"--config", dir_.Sub("chatpro.conf")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "chatpro.conf:2")) << r.err;
  EXPECT_TRUE(Has(r.err, "log.target")) << r.err;
  EXPECT_TRUE(Has(r.err, "Windows")) << r.err;
}

TEST_F(LogCheckConfig, RefusesALogFileInAFolderThatDoesNotExistAndPrintsAGoodOne) {
  RunResult r =
      Check({"--set", "log.target=file", "--set", "log.file=" + dir_.Sub("nowhere/b.log")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err, "log.file")) << r.err;
  EXPECT_TRUE(Has(r.err, "does not exist")) << r.err;

  r = Check({"--set", "log.target=file", "--set", "log.file=" + dir_.Sub("b.log"), "--set",
             "log.rotate_size=1MiB", "--set", "log.keep=3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(
      r.out, "log = file " + dir_.Sub("b.log") + " (rotated at 1MiB, 3 kept), text, level info"))
      << r.out;
}

}  // namespace
}  // namespace chatpro::testing
