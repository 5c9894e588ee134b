// SPDX-License-Identifier: Apache-2.0
#include "service/logging.h"

#include <Poco/AsyncChannel.h>
#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>
#include <Poco/FileChannel.h>
#include <Poco/Formatter.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Message.h>

#ifdef _WIN32
#include <Poco/EventLogChannel.h>
#else
#include <Poco/SyslogChannel.h>
#include <pthread.h>
#include <unistd.h>
#endif
#ifdef __linux__
#include <systemd/sd-journal.h>
#endif

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

// <syslog.h> (through Poco's SyslogChannel) defines LOG_DEBUG, LOG_INFO and
// LOG_WARNING as priorities; the broker's logging macros of the same names
// are the ones meant here.
#undef LOG_DEBUG
#undef LOG_INFO
#undef LOG_WARNING
#include "broker/base/json.h"
#include "broker/base/log.h"

namespace chatpro::service {
namespace {

constexpr char kIdentifier[] = "chatpro-broker";

Poco::Message::Priority PriorityOf(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return Poco::Message::PRIO_DEBUG;
    case LogLevel::kInfo:
      return Poco::Message::PRIO_INFORMATION;
    case LogLevel::kWarning:
      return Poco::Message::PRIO_WARNING;
    case LogLevel::kError:
      return Poco::Message::PRIO_ERROR;
  }
  return Poco::Message::PRIO_INFORMATION;
}

std::string_view LevelNameOf(Poco::Message::Priority priority) {
  if (priority >= Poco::Message::PRIO_DEBUG) return "debug";
  if (priority >= Poco::Message::PRIO_INFORMATION) return "info";
  if (priority >= Poco::Message::PRIO_WARNING) return "warning";
  return "error";
}

// The calling thread's name (the broker names its threads: chatpro-commit,
// chatpro-retention, ...; the event loop is chatpro-broker). Read once per
// thread: the name is taken when a line is logged, not when it is written.
const std::string& ThreadName() {
  thread_local const std::string name = [] {
#ifndef _WIN32
    char buffer[64] = {};
    if (::pthread_getname_np(::pthread_self(), buffer, sizeof buffer) == 0 && buffer[0] != '\0') {
      return std::string(buffer);
    }
#endif
    return std::string("thread");
  }();
  return name;
}

// Console and file lines: text or JSON with the UTC time; syslog lines:
// "[thread] message" (syslog adds the time, host and identifier).
class LineFormatter final : public Poco::Formatter {
 public:
  LineFormatter(LogFormat format, bool with_time) : format_(format), with_time_(with_time) {}

  void format(const Poco::Message& msg, std::string& text) override {
    if (!with_time_) {
      text = "[" + msg.getThread() + "] " + msg.getText();
      return;
    }
    std::string time = Poco::DateTimeFormatter::format(msg.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ");
    std::string_view level = LevelNameOf(msg.getPriority());
    if (format_ == LogFormat::kJson) {
      text = "{\"time\":" + JsonQuote(time) + ",\"level\":" + JsonQuote(level) +
             ",\"thread\":" + JsonQuote(msg.getThread()) +
             ",\"message\":" + JsonQuote(msg.getText()) + "}";
      return;
    }
    std::string upper(level);
    for (char& c : upper) c = static_cast<char>(c - 'a' + 'A');
    upper.resize(7, ' ');
    text = time + " " + upper + " [" + msg.getThread() + "] " + msg.getText();
  }

 private:
  const LogFormat format_;
  const bool with_time_;
};

#ifdef __linux__
// The systemd journal, with structured fields. A journal that is not there
// (no systemd, a container) makes sd_journal_send fail; such lines are lost
// the way lines to a syslog nobody runs are, and nothing else is affected.
class JournalChannel final : public Poco::Channel {
 public:
  void log(const Poco::Message& msg) override {
    std::string level(LevelNameOf(msg.getPriority()));
    int priority = static_cast<int>(msg.getPriority());
    if (priority > 7) priority = 7;
    // The result is ignored on purpose (see above).
    (void)::sd_journal_send("MESSAGE=%s", msg.getText().c_str(), "PRIORITY=%d", priority,
                            "SYSLOG_IDENTIFIER=%s", kIdentifier, "CHATPRO_LEVEL=%s", level.c_str(),
                            "CHATPRO_THREAD=%s", msg.getThread().c_str(), nullptr);
  }

 private:
  ~JournalChannel() override = default;
};
#endif

#ifndef _WIN32
int FacilityOf(const std::string& name) {
  if (name == "user") return Poco::SyslogChannel::SYSLOG_USER;
  if (name.rfind("local", 0) == 0 && name.size() == 6 && name[5] >= '0' && name[5] <= '7') {
    return Poco::SyslogChannel::SYSLOG_LOCAL0 + ((name[5] - '0') << 3);
  }
  return Poco::SyslogChannel::SYSLOG_DAEMON;
}
#endif

std::string SizeText(std::uint64_t bytes) {
  if (bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
  if (bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes) + "B";
}

#ifndef _WIN32
std::string FolderOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
#endif

}  // namespace

// What the callers' threads and the writer thread share. The queue itself is
// Poco's AsyncChannel; `pending` bounds it (AsyncChannel's own bound counts
// drops where the metrics cannot see them).
class LogPipeline {
 public:
  explicit LogPipeline(std::size_t capacity) : capacity_(capacity) {}

  // The end of the queue, on the writer thread: reopens the file when asked,
  // reports dropped lines, writes, and never lets an exception of the target
  // end the writer thread.
  class WriterEnd final : public Poco::Channel {
   public:
    WriterEnd(LogPipeline* pipeline, Poco::Channel::Ptr target, Poco::Channel::Ptr file)
        : pipeline_(pipeline), target_(std::move(target)), file_(std::move(file)) {}

    void log(const Poco::Message& msg) override {
      if (file_ && pipeline_->reopen_.exchange(false)) Guard([&] { file_->close(); });
      std::uint64_t dropped = pipeline_->dropped_unreported_.exchange(0);
      if (dropped != 0) {
        Poco::Message warning(
            kIdentifier,
            "dropped " + std::to_string(dropped) + " log lines: the log target did not keep up",
            Poco::Message::PRIO_WARNING);
        warning.setThread("chatpro-log");
        Guard([&] { target_->log(warning); });
      }
      Guard([&] { target_->log(msg); });
      pipeline_->Written();
    }

    void close() override {
      Guard([&] { target_->close(); });
    }

   private:
    ~WriterEnd() override = default;

    template <typename F>
    void Guard(F&& f) {
      try {
        f();
      } catch (const Poco::Exception& e) {
        Complain(e.displayText());
      } catch (const std::exception& e) {
        Complain(e.what());
      }
    }
    // The log target itself fails: say so once on stderr (the only place
    // left), then keep trying quietly.
    void Complain(const std::string& why) {
      if (complained_) return;
      complained_ = true;
      std::fprintf(stderr, "%s: cannot write log lines: %s\n", kIdentifier, why.c_str());
    }

    LogPipeline* const pipeline_;
    Poco::Channel::Ptr target_;
    Poco::Channel::Ptr file_;
    bool complained_ = false;
  };

  Status Open(const LogOptions& options) {
    Poco::Channel::Ptr target;
    Poco::Channel::Ptr file;
    try {
      switch (options.target) {
        case LogTarget::kConsole:
          target = new Poco::FormattingChannel(new LineFormatter(options.format, true),
                                               new Poco::ConsoleChannel);
          break;
        case LogTarget::kFile: {
          Poco::AutoPtr<Poco::FileChannel> channel(new Poco::FileChannel(options.file));
          channel->setProperty(Poco::FileChannel::PROP_ROTATION,
                               options.rotate_size == 0 ? std::string("never")
                                                        : std::to_string(options.rotate_size));
          channel->setProperty(Poco::FileChannel::PROP_ARCHIVE, "number");
          channel->setProperty(Poco::FileChannel::PROP_PURGECOUNT, std::to_string(options.keep));
          channel->setProperty(Poco::FileChannel::PROP_FLUSH, "true");
          // Opened now, so that a file that cannot be written stops the start.
          channel->open();
          file = channel;
          target = new Poco::FormattingChannel(new LineFormatter(options.format, true), channel);
          break;
        }
        case LogTarget::kSyslog:
#ifdef _WIN32
          return Status::InvalidArgument("log.target = syslog is not available on Windows");
#else
          target = new Poco::FormattingChannel(
              new LineFormatter(LogFormat::kText, false),
              new Poco::SyslogChannel(kIdentifier, Poco::SyslogChannel::SYSLOG_PID,
                                      FacilityOf(options.syslog_facility)));
          break;
#endif
        case LogTarget::kJournal:
#ifdef __linux__
          target = new JournalChannel;
          break;
#else
          return Status::InvalidArgument("log.target = journal is only available on Linux");
#endif
        case LogTarget::kEventLog:
#ifdef _WIN32
          target = new Poco::EventLogChannel(kIdentifier);
          break;
#else
          return Status::InvalidArgument(
              "log.target = eventlog is the Windows event log, for Windows only");
#endif
      }
      target->open();
    } catch (const Poco::Exception& e) {
      if (options.target == LogTarget::kFile) {
        return Status::IoError("log.file: cannot open " + options.file + ": " + e.displayText());
      }
      return Status::IoError("cannot open the log target: " + e.displayText());
    }
    writer_ = new WriterEnd(this, target, file);
    async_ = new Poco::AsyncChannel(writer_);
    return Status::Ok();
  }

  // On a caller's thread; Log() serialises the calls.
  void Write(LogLevel level, std::string_view line) {
    if (pending_.load(std::memory_order_acquire) >= capacity_) {
      dropped_unreported_.fetch_add(1, std::memory_order_relaxed);
      CountDroppedLogLines(1);
      return;
    }
    pending_.fetch_add(1, std::memory_order_acq_rel);
    Poco::Message msg(kIdentifier, std::string(line), PriorityOf(level));
    msg.setThread(ThreadName());
    async_->log(msg);
  }

  void Reopen() { reopen_ = true; }

  void Drain(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    drained_.wait_for(lock, timeout, [this] { return pending_.load() == 0; });
  }

  // Writes what is queued, then closes the target.
  void Close() {
    Drain(std::chrono::seconds(30));
    async_->close();  // stops the writer thread
    writer_->close();
  }

 private:
  void Written() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      drained_.notify_all();
    }
  }

  const std::size_t capacity_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::uint64_t> dropped_unreported_{0};
  std::atomic<bool> reopen_{false};
  std::mutex mutex_;
  std::condition_variable drained_;
  Poco::AutoPtr<WriterEnd> writer_;
  Poco::AutoPtr<Poco::AsyncChannel> async_;
};

Result<std::unique_ptr<Logging>> Logging::Start(const LogOptions& options,
                                                std::size_t queue_lines) {
  std::optional<LogLevel> level = ParseLogLevel(options.level);
  if (!level) {
    return Status::InvalidArgument("log.level = '" + options.level +
                                   "' must be debug, info, warning or error");
  }
  auto pipeline = std::make_unique<LogPipeline>(queue_lines == 0 ? 1 : queue_lines);
  CHATPRO_RETURN_IF_ERROR(pipeline->Open(options));
  LogPipeline* sink = pipeline.get();
  SetLogLevel(*level);
  SetLogSink([sink](LogLevel l, std::string_view line) { sink->Write(l, line); });
  // Bounded: the target may be what is stuck.
  SetLogFlush([sink] { sink->Drain(std::chrono::seconds(2)); });
  return std::unique_ptr<Logging>(new Logging(std::move(pipeline)));
}

Logging::Logging(std::unique_ptr<LogPipeline> pipeline) : pipeline_(std::move(pipeline)) {}

Logging::~Logging() {
  SetLogFlush(nullptr);
  SetLogSink(nullptr);  // from here on, lines go to stderr again
  pipeline_->Close();
}

void Logging::Reopen() { pipeline_->Reopen(); }

void Logging::Drain(std::chrono::milliseconds timeout) { pipeline_->Drain(timeout); }

std::string Logging::Describe(const LogOptions& options) {
  std::string out;
  switch (options.target) {
    case LogTarget::kConsole:
      out = "console (stderr)";
      break;
    case LogTarget::kFile:
      out = "file " + options.file +
            (options.rotate_size == 0 ? std::string(" (never rotated)")
                                      : " (rotated at " + SizeText(options.rotate_size) + ", " +
                                            std::to_string(options.keep) + " kept)");
      break;
    case LogTarget::kSyslog:
      out = "syslog (facility " + options.syslog_facility + ")";
      break;
    case LogTarget::kJournal:
      out = "journal";
      break;
    case LogTarget::kEventLog:
      out = "eventlog";
      break;
  }
  if (options.target == LogTarget::kConsole || options.target == LogTarget::kFile) {
    out += options.format == LogFormat::kJson ? ", json" : ", text";
  }
  return out + ", level " + options.level;
}

Status CheckLogTarget(const LogOptions& options, const std::string& data_dir) {
  if (options.target != LogTarget::kFile) return Status::Ok();
#ifndef _WIN32
  std::string folder = FolderOf(options.file);
  if (folder == data_dir && ::access(folder.c_str(), F_OK) != 0) return Status::Ok();
  if (::access(folder.c_str(), F_OK) != 0) {
    return Status::InvalidArgument("log.file = '" + options.file + "': the folder " + folder +
                                   " does not exist");
  }
  if (::access(folder.c_str(), W_OK) != 0 && ::access(options.file.c_str(), W_OK) != 0) {
    return Status::InvalidArgument("log.file = '" + options.file +
                                   "' cannot be written: " + std::strerror(errno));
  }
#else
  (void)data_dir;
#endif
  return Status::Ok();
}

}  // namespace chatpro::service
