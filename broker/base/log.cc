// SPDX-License-Identifier: Apache-2.0
#include "broker/base/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace chatpro {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mutex;
std::atomic<std::uint64_t> g_dropped{0};
std::atomic<bool> g_queued{false};
std::function<void()>& Flush() {
  static std::function<void()> flush;
  return flush;
}
LogSink& Sink() {
  static LogSink sink;
  return sink;
}

}  // namespace

void SetLogSink(LogSink sink) {
  std::lock_guard<std::mutex> lock(g_mutex);
  Sink() = std::move(sink);
}

void SetLogFlush(std::function<void()> flush) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_queued = flush != nullptr;
  Flush() = std::move(flush);
}

bool LogSinkIsQueued() { return g_queued.load(); }

void FlushLog() {
  std::function<void()> flush;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    flush = Flush();
  }
  if (flush) flush();
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == LogLevelName(l)) return l;
  }
  return std::nullopt;
}

void Log(LogLevel level, std::string_view line) {
  if (level < GetLogLevel()) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (Sink()) {
    Sink()(level, line);
    return;
  }
  std::fprintf(stderr, "chatpro-broker [%.*s] %.*s\n",
               static_cast<int>(LogLevelName(level).size()), LogLevelName(level).data(),
               static_cast<int>(line.size()), line.data());
}

void CountDroppedLogLines(std::uint64_t lines) {
  g_dropped.fetch_add(lines, std::memory_order_relaxed);
}

std::uint64_t DroppedLogLines() { return g_dropped.load(std::memory_order_relaxed); }

}  // namespace chatpro
