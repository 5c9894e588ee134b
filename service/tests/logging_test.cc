// SPDX-License-Identifier: Apache-2.0
#include "service/logging.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/base/check.h"
#include "broker/base/log.h"

namespace chatpro::service {
namespace {

namespace fs = std::filesystem;

class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (fs::temp_directory_path() / "chatpro-logging-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) std::abort();
    path_ = buffer.data();
  }
  ~TempFolder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

LogOptions FileOptions(const TempFolder& dir) {
  LogOptions o;
  o.target = LogTarget::kFile;
  o.file = dir.Sub("broker.log");
  return o;
}

TEST(Logging, FileTargetWritesUtcTimeLevelThreadAndMessageAtTheConfiguredLevel) {
  TempFolder dir;
  LogOptions o = FileOptions(dir);
  o.level = "info";
  {
    auto logging = Logging::Start(o);
    ASSERT_TRUE(logging.ok()) << logging.status();
    LOG_INFO() << "listening on tcp://127.0.0.1:7070";
    LOG_DEBUG() << "a detail nobody asked for";
    LOG_WARNING() << "disk filling";
    (*logging)->Drain();
  }
  std::vector<std::string> lines = Lines(Read(o.file));
  ASSERT_EQ(lines.size(), 2u) << Read(o.file);
  const std::regex text(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING) +\[[^\]]+\] (.*)$)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, text)) << lines[0];
  EXPECT_EQ(m[1], "INFO");
  EXPECT_EQ(m[2], "listening on tcp://127.0.0.1:7070");
  ASSERT_TRUE(std::regex_match(lines[1], m, text)) << lines[1];
  EXPECT_EQ(m[1], "WARNING");
  EXPECT_EQ(m[2], "disk filling");
}

TEST(Logging, JsonFormatWritesOneEscapedObjectPerLine) {
  TempFolder dir;
  LogOptions o = FileOptions(dir);
  o.format = LogFormat::kJson;
  {
    auto logging = Logging::Start(o);
    ASSERT_TRUE(logging.ok()) << logging.status();
    std::thread([] { LOG_ERROR() << "a \"quoted\" word\tand a tab"; }).join();
    (*logging)->Drain();
  }
  std::vector<std::string> lines = Lines(Read(o.file));
  ASSERT_EQ(lines.size(), 1u);
  const std::regex json(
      R"re(^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"error","thread":"[^"]+","message":"(.*)"\}$)re");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, json)) << lines[0];
  EXPECT_EQ(m[1], R"(a \"quoted\" word\tand a tab)");
}

TEST(Logging, FileRotationRotatesBySizeAndKeepsTheConfiguredNumberOfFiles) {
  TempFolder dir;
  LogOptions o = FileOptions(dir);
  o.rotate_size = 4096;
  o.keep = 2;
  const std::string padding(100, 'x');
  constexpr int kLines = 400;  // about 40 KiB: ten rotations
  {
    auto logging = Logging::Start(o);
    ASSERT_TRUE(logging.ok()) << logging.status();
    for (int i = 0; i < kLines; ++i) {
      LOG_INFO() << "line " << i << " " << padding;
      (*logging)->Drain();  // one at a time, so the test never hits the queue bound
    }
  }
  EXPECT_TRUE(fs::exists(o.file));
  EXPECT_TRUE(fs::exists(o.file + ".0"));
  EXPECT_TRUE(fs::exists(o.file + ".1"));
  EXPECT_FALSE(fs::exists(o.file + ".2")) << "only `keep` rotated files stay";
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir.Sub(""))) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 3u);
  for (const std::string& f : {o.file + ".0", o.file + ".1"}) {
    EXPECT_LE(fs::file_size(f), 4096u + 200u) << f << " was rotated at 4KiB";
    EXPECT_GE(fs::file_size(f), 4096u - 200u) << f << " was rotated at 4KiB";
  }
  // The newest line is in the current file, the ones just before it in .0.
  std::string current = Read(o.file);
  EXPECT_NE(current.find("line " + std::to_string(kLines - 1) + " "), std::string::npos);
  std::vector<std::string> newest_archive = Lines(Read(o.file + ".0"));
  std::vector<std::string> older_archive = Lines(Read(o.file + ".1"));
  ASSERT_FALSE(newest_archive.empty());
  ASSERT_FALSE(older_archive.empty());
  auto number = [](const std::string& line) {
    std::size_t at = line.find("line ");
    return std::stoi(line.substr(at + 5));
  };
  EXPECT_EQ(number(older_archive.back()) + 1, number(newest_archive.front()))
      << "FILE.1 holds the lines just before FILE.0";
  EXPECT_EQ(number(Lines(current).front()), number(newest_archive.back()) + 1);
}

TEST(Logging, ReopenWritesToANewFileAfterTheOldOneWasMovedAway) {
  TempFolder dir;
  LogOptions o = FileOptions(dir);
  auto logging = Logging::Start(o);
  ASSERT_TRUE(logging.ok()) << logging.status();
  LOG_INFO() << "before logrotate";
  (*logging)->Drain();
  fs::rename(o.file, o.file + ".1");
  (*logging)->Reopen();
  LOG_INFO() << "after logrotate";
  (*logging)->Drain();
  logging->reset();
  std::string moved = Read(o.file + ".1");
  std::string fresh = Read(o.file);
  EXPECT_NE(moved.find("before logrotate"), std::string::npos);
  EXPECT_EQ(moved.find("after logrotate"), std::string::npos);
  EXPECT_NE(fresh.find("after logrotate"), std::string::npos);
  EXPECT_EQ(fresh.find("before logrotate"), std::string::npos);
}

TEST(Logging, AFileInAFolderThatDoesNotExistIsRefusedNamingTheSetting) {
  TempFolder dir;
  LogOptions o = FileOptions(dir);
  o.file = dir.Sub("missing/broker.log");
  Status check = CheckLogTarget(o, dir.Sub("data"));
  ASSERT_FALSE(check.ok());
  EXPECT_NE(check.message().find("log.file"), std::string::npos) << check;
  EXPECT_TRUE(CheckLogTarget(o, dir.Sub("missing")).ok())
      << "the data folder does not exist before the first start; the broker makes it";
  auto logging = Logging::Start(o);
  ASSERT_FALSE(logging.ok());
  EXPECT_NE(logging.status().message().find("log.file"), std::string::npos) << logging.status();
}

TEST(Logging, SyslogAndJournalTargetsAcceptLinesAlsoWithoutTheirDaemon) {
  for (LogTarget target : {LogTarget::kSyslog, LogTarget::kJournal}) {
    LogOptions o;
    o.target = target;
    o.syslog_facility = "local3";
    auto logging = Logging::Start(o);
    ASSERT_TRUE(logging.ok()) << logging.status();
    for (int i = 0; i < 100; ++i) LOG_WARNING() << "line " << i << " to " << Logging::Describe(o);
    (*logging)->Drain();
    logging->reset();
  }
  // Back on the default sink: stderr.
  LOG_INFO() << "after the syslog and journal sinks";
  SUCCEED();
}

TEST(Logging, DescribeSaysWhereLinesGo) {
  LogOptions o;
  o.target = LogTarget::kFile;
  o.file = "/var/log/chatpro/broker.log";
  EXPECT_EQ(Logging::Describe(o),
            "file /var/log/chatpro/broker.log (rotated at 10MiB, 5 kept), text, level info");
  o.target = LogTarget::kSyslog;
  o.level = "debug";
  EXPECT_EQ(Logging::Describe(o), "syslog (facility daemon), level debug");
}

// The console target writes to a pipe that nobody reads until the test
// says so: the writer thread blocks, the queue fills, and further lines are
// dropped without blocking the callers, counted, and reported once the
// writer catches up.
TEST(Logging, AFloodOfLinesToAStuckTargetIsDroppedCountedAndReportedNeverWaitedFor) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ::fcntl(pipe_fds[1], F_SETPIPE_SZ, 4096);
  std::fflush(stderr);
  const int saved_stderr = ::dup(STDERR_FILENO);
  ASSERT_GE(saved_stderr, 0);
  ::dup2(pipe_fds[1], STDERR_FILENO);
  ::close(pipe_fds[1]);

  constexpr int kLines = 2000;
  constexpr std::size_t kQueue = 16;
  const std::string padding(200, 'y');
  const std::uint64_t dropped_before = DroppedLogLines();
  std::string output;
  {
    LogOptions o;
    o.target = LogTarget::kConsole;
    auto logging = Logging::Start(o, kQueue);
    ASSERT_TRUE(logging.ok()) << logging.status();
    for (int i = 0; i < kLines; ++i) LOG_INFO() << "flood " << i << " " << padding;
    // Every call returned although nothing reads the pipe. Now read it.
    std::thread reader([&] {
      char buffer[4096];
      ssize_t n;
      while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) {
        output.append(buffer, static_cast<std::size_t>(n));
      }
    });
    (*logging)->Drain();
    LOG_INFO() << "after the flood";
    (*logging)->Drain();
    logging->reset();
    std::fflush(stderr);
    ::dup2(saved_stderr, STDERR_FILENO);  // closes the pipe's last write end
    ::close(saved_stderr);
    reader.join();
  }
  ::close(pipe_fds[0]);

  const std::uint64_t dropped = DroppedLogLines() - dropped_before;
  std::size_t written = 0;
  std::uint64_t reported = 0;
  for (const std::string& line : Lines(output)) {
    if (line.find(" flood ") != std::string::npos) ++written;
    std::size_t at = line.find("dropped ");
    if (at != std::string::npos) reported += std::stoull(line.substr(at + 8));
  }
  EXPECT_GT(dropped, 0u) << "a stuck target must not make the queue grow without bound";
  EXPECT_LE(written, static_cast<std::size_t>(kLines) - dropped);
  EXPECT_EQ(written + dropped, static_cast<std::size_t>(kLines))
      << "every line is either written or counted as dropped";
  EXPECT_EQ(reported, dropped) << "the drop is reported in the log itself\n"
                               << output.substr(0, 2000);
  EXPECT_NE(output.find("after the flood"), std::string::npos);
}

// A broken invariant aborts the process; its reason is written to the log
// file (a daemon's stderr goes nowhere) before the abort, not left queued.
TEST(LoggingDeathTest, ABrokenInvariantReachesTheLogFileBeforeTheAbort) {
  TempFolder dir;
  LogOptions o = FileOptions(dir);
  EXPECT_DEATH(
      {
        auto logging = Logging::Start(o);
        if (logging.ok()) CHATPRO_CHECK(1 + 1 == 3, "arithmetic is broken");
      },
      "invariant broken");
  std::string log = Read(o.file);
  EXPECT_NE(log.find("ERROR   ["), std::string::npos) << log;
  EXPECT_NE(log.find("invariant broken at "), std::string::npos) << log;
  EXPECT_NE(log.find("(arithmetic is broken)"), std::string::npos) << log;
}

}  // namespace
}  // namespace chatpro::service
