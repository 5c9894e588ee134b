// SPDX-License-Identifier: Apache-2.0
//
// Logging: the broker's log sinks on Poco channels, installed behind the
// libraries' Log() front (broker/base/log.h) from the [log] settings.
//
//   console  Poco::ConsoleChannel (standard error)
//   file     Poco::FileChannel: rotated by size into FILE.0 (newest), FILE.1,
//            ...; `keep` rotated files, older ones purged; every line flushed
//   syslog   Poco::SyslogChannel, identifier chatpro-broker, the configured
//            facility
//   journal  sd_journal_send with PRIORITY, SYSLOG_IDENTIFIER=chatpro-broker,
//            CHATPRO_LEVEL and CHATPRO_THREAD
//   eventlog Poco::EventLogChannel (Windows only)
//
// Console and file lines are text ("2026-11-25T08:00:00.123Z INFO    [thread]
// message", UTC) or JSON objects (time, level, thread, message); syslog and
// the journal add their own time, so they get "[thread] message".
//
// Writing a line never blocks the calling thread on the target: lines go
// through a queue (Poco::AsyncChannel) to one writer thread. The queue is
// bounded; when the target cannot keep up (a slow disk, a stuck syslog
// socket, a terminal nobody reads) further lines are dropped, counted
// (CountDroppedLogLines, the chatpro_log_lines_dropped_total metric) and
// reported by a warning line once the writer catches up.
//
// Lifecycle: Start() installs the sinks (SetLogSink) and the level; the
// destructor writes what is queued, closes the target and puts the stderr
// default back. Reopen() (on SIGHUP) makes the file target reopen its file
// before the next line, for logrotate.
// Thread-safety: Reopen from any thread; Start and the destructor from the
// service's main thread while no other thread logs through these sinks
// during the swap (Log() serialises lines, so other threads may log).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "broker/base/result.h"
#include "broker/config/options.h"

namespace chatpro::service {

class LogPipeline;

class Logging {
 public:
  // The most lines waiting for the writer before lines are dropped.
  static constexpr std::size_t kDefaultQueueLines = 65536;

  // Builds the sinks of `options` and installs them. On failure (the log
  // file's folder does not exist or cannot be written, a target this system
  // does not have) returns InvalidArgument or IoError naming the setting, and
  // changes nothing.
  static Result<std::unique_ptr<Logging>> Start(const LogOptions& options,
                                                std::size_t queue_lines = kDefaultQueueLines);
  ~Logging();
  Logging(const Logging&) = delete;
  Logging& operator=(const Logging&) = delete;

  // The file target closes its file and opens FILE anew before writing the
  // next line (after logrotate moved it). Other targets ignore it.
  void Reopen();

  // Waits until every line logged so far has been written, at most
  // `timeout`. For tests and for the moment before the process ends (also
  // through FlushLog(), before an abort).
  void Drain(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // "file /var/log/chatpro/chatpro-broker.log (rotated at 10MiB, 5 kept), text, level info"
  static std::string Describe(const LogOptions& options);

 private:
  explicit Logging(std::unique_ptr<LogPipeline> pipeline);
  std::unique_ptr<LogPipeline> pipeline_;
};

// Checks what --check-config can check without logging anything: the file
// target's folder exists (or is `data_dir`, which the broker creates) and
// can be written. On failure returns InvalidArgument naming log.file.
Status CheckLogTarget(const LogOptions& options, const std::string& data_dir);

}  // namespace chatpro::service
