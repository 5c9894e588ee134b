// SPDX-License-Identifier: Apache-2.0
//
// A minimal logging front: every library logs through Log(); the service
// installs the sink (console, file, syslog...) once at start. Until then,
// lines go to stderr.
//
// Thread-safety: Log() may be called from any thread; SetLogSink() and
// SetLogLevel() must be called before other threads log.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace chatpro {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogSink = std::function<void(LogLevel, std::string_view line)>;

void SetLogSink(LogSink sink);
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
std::string_view LogLevelName(LogLevel level);

// Parses "debug", "info", "warning", "error"; nullopt if unknown.
std::optional<LogLevel> ParseLogLevel(std::string_view text);

void Log(LogLevel level, std::string_view line);

// A sink that queues lines (the service's) also sets how to write out what
// it holds; FlushLog() does that, e.g. before the process aborts, and
// LogSinkIsQueued() says whether there is anything of the kind.
// SetLogFlush() has SetLogSink()'s rules; the others any thread.
void SetLogFlush(std::function<void()> flush);
bool LogSinkIsQueued();
void FlushLog();

// Lines a sink dropped rather than wait (e.g. its queue was full while the
// log target could not keep up), counted for the metrics. Any thread.
void CountDroppedLogLines(std::uint64_t lines);
std::uint64_t DroppedLogLines();

// Builds a line with <<, e.g. LOG_INFO() << "listening on " << endpoint;
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine() { Log(level_, stream_.str()); }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  template <typename T>
  LogLine& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Turns a LogLine expression into void, so that CHATPRO_LOG is an expression
// (safe inside if/else without braces).
struct LogVoidify {
  void operator&(const LogLine&) {}
};

}  // namespace chatpro

#define CHATPRO_LOG(level)                                          \
  (::chatpro::LogLevel::level < ::chatpro::GetLogLevel()) ? (void)0 \
      : ::chatpro::LogVoidify() & ::chatpro::LogLine(::chatpro::LogLevel::level)
#define LOG_DEBUG() CHATPRO_LOG(kDebug)
#define LOG_INFO() CHATPRO_LOG(kInfo)
#define LOG_WARNING() CHATPRO_LOG(kWarning)
#define LOG_ERROR() CHATPRO_LOG(kError)
