// SPDX-License-Identifier: Apache-2.0
#include "broker/config/config.h"

#if !defined(_WIN32)
#include <unistd.h>
#endif

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "broker/base/file_io.h"

namespace chatpro {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Result<std::uint64_t> ParseUnsigned(std::string_view digits) {
  if (digits.empty()) return Status::InvalidArgument("expected a number");
  std::uint64_t v = 0;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return Status::InvalidArgument("is not a whole number");
    }
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      return Status::InvalidArgument("is too large");
    }
    v = v * 10 + d;
  }
  return v;
}

// Splits "64KiB" into ("64", "KiB").
std::pair<std::string_view, std::string_view> SplitUnit(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  return {text.substr(0, i), Trim(text.substr(i))};
}

#if defined(_WIN32)
// Machine-wide, not under the profile of whoever installed the service.
std::string DefaultDataDir() { return base::ProgramDataFolder() + "\\ChatPro"; }
#else
std::string DefaultDataDir() {
  if (::geteuid() == 0) return "/var/lib/chatpro";
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/chatpro";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.local/share/chatpro";
}
#endif

struct Field {
  const char* key;
  const char* help;
  std::function<Status(BrokerOptions&, std::string_view value, const std::string& dir)> set;
};

template <typename T>
Status SetBounded(T* out, Result<std::uint64_t> v, std::uint64_t min, std::uint64_t max) {
  if (!v.ok()) return v.status();
  if (*v < min || *v > max) {
    return Status::InvalidArgument("must be between " + std::to_string(min) + " and " +
                                   std::to_string(max));
  }
  *out = static_cast<T>(*v);
  return Status::Ok();
}

Status SetDuration(std::int64_t* out, std::string_view value, std::int64_t min_us) {
  Result<std::int64_t> d = ParseDuration(value);
  if (!d.ok()) return d.status();
  if (*d < min_us) return Status::InvalidArgument("is too short");
  *out = *d;
  return Status::Ok();
}

Status SetBool(bool* out, std::string_view v) {
  if (v == "true") {
    *out = true;
  } else if (v == "false") {
    *out = false;
  } else {
    return Status::InvalidArgument("must be true or false");
  }
  return Status::Ok();
}

Status SetLevelName(std::string* out, std::string_view v) {
  if (v != "debug" && v != "info" && v != "warning" && v != "error") {
    return Status::InvalidArgument("must be debug, info, warning or error");
  }
  *out = std::string(v);
  return Status::Ok();
}

Status SetLogTarget(LogTarget* out, std::string_view v) {
  if (v == "console") {
    *out = LogTarget::kConsole;
  } else if (v == "file") {
    *out = LogTarget::kFile;
#ifdef _WIN32
  } else if (v == "syslog" || v == "journal") {
    return Status::InvalidArgument("is for Linux and other Unix systems; on Windows use console, "
                                   "file or eventlog");
  } else if (v == "eventlog") {
    *out = LogTarget::kEventLog;
#else
  } else if (v == "syslog") {
    *out = LogTarget::kSyslog;
  } else if (v == "journal") {
    *out = LogTarget::kJournal;
  } else if (v == "eventlog") {
    return Status::InvalidArgument("is the Windows event log, for Windows only; on this system "
                                   "use console, file, syslog or journal");
#endif
  } else {
    return Status::InvalidArgument("must be console, file, syslog, journal or eventlog");
  }
  return Status::Ok();
}

std::string ResolvePath(std::string_view value, const std::string& dir) {
  std::string p(value);
  // "/x" counts as absolute on Windows too (the current drive's root).
  if (p.empty() || dir.empty() || std::filesystem::path(p).has_root_directory() ||
      std::filesystem::path(p).is_absolute()) {
    return p;
  }
  if (p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return std::string(home != nullptr ? home : "") + p.substr(1);
  }
  return dir + "/" + p;
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = {
      {"broker.data_dir",
       "folder of the store and the broker key (default /var/lib/chatpro as root, else "
       "~/.local/share/chatpro; on Windows %ProgramData%\\ChatPro)",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         if (v.empty()) return Status::InvalidArgument("must not be empty");
         o.store.data_dir = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"broker.listen", "ZeroMQ endpoint for clients (default tcp://127.0.0.1:7070)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         if (v.rfind("tcp://", 0) != 0 && v.rfind("ipc://", 0) != 0) {
           return Status::InvalidArgument("must start with tcp:// or ipc://");
         }
         o.transport.listen = std::string(v);
         return Status::Ok();
       }},
      {"broker.public_address", "HOST:PORT put into invites (default: from listen)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         if (v.find(':') == std::string_view::npos)
           return Status::InvalidArgument("must be HOST:PORT");
         o.transport.public_address = std::string(v);
         return Status::Ok();
       }},
      {"metrics.listen",
       "HOST:PORT serving /metrics, /healthz and /readyz over HTTP; empty = off (default "
       "127.0.0.1:9464)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         if (!v.empty() && (v.find(':') == std::string_view::npos || v.back() == ':')) {
           return Status::InvalidArgument("must be HOST:PORT, or empty to turn metrics off");
         }
         o.monitoring.listen = std::string(v);
         return Status::Ok();
       }},
      {"console.enabled", "serve the web admin console: true or false (default true)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBool(&o.console.enabled, v);
       }},
      {"console.listen", "HOST:PORT of the web admin console (default 0.0.0.0:8443)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         if (v.find(':') == std::string_view::npos || v.back() == ':') {
           return Status::InvalidArgument("must be HOST:PORT");
         }
         o.console.listen = std::string(v);
         return Status::Ok();
       }},
      {"console.cert_file",
       "PEM certificate (chain) of the console's HTTPS; with key_file (default: a self-signed "
       "one made in <data_dir>/console)",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         o.console.cert_file = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"console.key_file", "PEM private key of console.cert_file",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         o.console.key_file = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"console.plain_http",
       "serve the console over plain HTTP; only with a loopback console.listen (default false)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBool(&o.console.plain_http, v);
       }},
      {"console.max_request_bytes", "largest console request body (default 1MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.console.max_request_bytes, ParseSize(v), 1024, 64ull << 20);
       }},
      {"console.session_idle", "a console session ends after this long unused (default 15min)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.console.session_idle_us, v, 1'000'000ll);
       }},
      {"console.session_max", "a console session ends this long after sign-in (default 8h)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.console.session_max_us, v, 1'000'000ll);
       }},
      {"console.login_attempts",
       "failed console sign-ins per address or login within 15 minutes before a lock-out "
       "(default 5)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.console.login_attempts, ParseUnsigned(v), 1, 1000);
       }},
      {"console.login_lockout", "how long a console sign-in lock-out lasts (default 5min)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.console.login_lockout_us, v, 1'000'000ll);
       }},
      {"webchat.enabled", "serve the web chat for browsers: true or false (default true)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBool(&o.webchat.enabled, v);
       }},
      {"webchat.listen", "HOST:PORT of the web chat (default 127.0.0.1:8444)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         if (v.find(':') == std::string_view::npos || v.back() == ':') {
           return Status::InvalidArgument("must be HOST:PORT");
         }
         o.webchat.listen = std::string(v);
         return Status::Ok();
       }},
      {"webchat.cert_file",
       "PEM certificate (chain) of the web chat's HTTPS; with key_file (default: a self-signed "
       "one made in <data_dir>/webchat)",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         o.webchat.cert_file = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"webchat.key_file", "PEM private key of webchat.cert_file",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         o.webchat.key_file = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"webchat.max_message_bytes",
       "largest WebSocket message taken from a browser (default 17MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.webchat.max_message_bytes, ParseSize(v), 1024, 1ull << 30);
       }},
      {"webchat.max_connections", "web chat WebSockets served at once (default 256)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.webchat.max_connections, ParseUnsigned(v), 1, 100000);
       }},
      {"broker.durability", "fsync (ack after a synced group commit) or os (default fsync)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         if (v == "fsync") {
           o.store.durability = Durability::kFsync;
         } else if (v == "os") {
           o.store.durability = Durability::kOs;
         } else {
           return Status::InvalidArgument("must be fsync or os");
         }
         return Status::Ok();
       }},
      {"broker.log_level", "the older name of log.level; sets the same thing",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetLevelName(&o.log.level, v);
       }},
      {"log.target",
       "where log lines go: console (stderr), file, syslog, journal (systemd), or eventlog "
       "(Windows only) (default console)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetLogTarget(&o.log.target, v);
       }},
      {"log.level", "debug, info, warning or error (default info)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetLevelName(&o.log.level, v);
       }},
      {"log.file", "the log file of target = file (default <data_dir>/chatpro-broker.log)",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         if (v.empty()) return Status::InvalidArgument("must not be empty");
         o.log.file = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"log.rotate_size", "start a new log file at this size, 0 = never (default 10MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         Result<std::uint64_t> size = ParseSize(v);
         if (size.ok() && *size == 0) {
           o.log.rotate_size = 0;
           return Status::Ok();
         }
         return SetBounded(&o.log.rotate_size, size, 4 << 10, 1ull << 40);
       }},
      {"log.keep", "rotated log files kept, FILE.0 the newest (default 5)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.log.keep, ParseUnsigned(v), 1, 1000);
       }},
      {"log.format", "text or json (one JSON object per line) for console and file (default text)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         if (v == "text") {
           o.log.format = LogFormat::kText;
         } else if (v == "json") {
           o.log.format = LogFormat::kJson;
         } else {
           return Status::InvalidArgument("must be text or json");
         }
         return Status::Ok();
       }},
      {"log.syslog_facility", "facility of target = syslog: daemon, user, local0 ... local7 (default daemon)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         static const char* const kFacilities[] = {"daemon", "user",   "local0", "local1",
                                                   "local2", "local3", "local4", "local5",
                                                   "local6", "local7"};
         for (const char* f : kFacilities) {
           if (v == f) {
             o.log.syslog_facility = std::string(v);
             return Status::Ok();
           }
         }
         return Status::InvalidArgument("must be daemon, user or local0 ... local7");
       }},
      {"store.cache_size", "LevelDB block cache (default 64MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.store.cache_bytes, ParseSize(v), 1 << 20, 1ull << 40);
       }},
      {"store.write_buffer_size", "LevelDB memtable size (default 64MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.store.write_buffer_bytes, ParseSize(v), 1 << 20, 1ull << 32);
       }},
      {"store.min_free",
       "refuse new messages while the data folder's disk has less free space than this, 0 "
       "for only when a write fails (default 64MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.store.min_free_bytes, ParseSize(v), 0, 1ull << 50);
       }},
      {"store.key_file",
       "storage key ring that encrypts the store at rest; back it up with the data (default "
       "<data_dir>/storage.key)",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         if (v.empty()) return Status::InvalidArgument("must not be empty");
         o.store.key_file = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"cases.approval_valid", "how long an approved case lets its export start (default 72h)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.cases.approval_valid_us, v, 60 * 1'000'000ll);
       }},
      {"cases.embargo",
       "after this long the people concerned see that a case accessed their data (default 30d)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.cases.embargo_us, v, 0);
       }},
      {"cases.export_dir", "folder of the exports of cases, mode 0700 (default <data_dir>/exports)",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         if (v.empty()) return Status::InvalidArgument("must not be empty");
         o.cases.export_dir = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"backup.dir", "folder of the backups made by chatpro admin backup start, mode 0700 (default <data_dir>/backups)",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         if (v.empty()) return Status::InvalidArgument("must not be empty");
         o.backup.dir = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"backup.max_rate", "most bytes a backup copies per second; 0 = no limit (default 64MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.backup.max_bytes_per_second, ParseSize(v), 0, 1ull << 40);
       }},
      {"limits.max_text_bytes", "largest text message (default 64KiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.max_text_bytes, ParseSize(v), 1, 16ull << 20);
       }},
      {"limits.max_attachment_bytes", "largest voice or picture message (default 16MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.max_attachment_bytes, ParseSize(v), 1024, 256ull << 20);
       }},
      {"limits.max_frame_bytes",
       "largest frame a client may send (default max_attachment_bytes + 1MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.transport.max_frame_bytes, ParseSize(v), 64 << 10, 1ull << 30);
       }},
      {"limits.max_group_members", "largest group (default 2000)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.max_group_members, ParseUnsigned(v), 2, 100000);
       }},
      {"limits.invite_ttl", "how long an invite stays valid (default 72h)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.core.invite_ttl_us, v, 60 * 1'000'000ll);
       }},
      {"limits.session_timeout", "drop a silent session after this long (default 60s)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.core.session_timeout_us, v, 1'000'000ll);
       }},
      {"limits.delivery_window_messages", "unacknowledged deliveries per device (default 32768)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.delivery_window_messages, ParseUnsigned(v), 1, 1u << 20);
       }},
      {"limits.delivery_window_bytes", "unacknowledged delivery bytes per device (default 16MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.delivery_window_bytes, ParseSize(v), 64 << 10, 1ull << 32);
       }},
      {"limits.slow_consumer_timeout",
       "a device whose delivery window stays full this long without an ack is cut (default 10s)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.core.slow_consumer_timeout_us, v, 1'000'000ll);
       }},
      {"limits.handshake_timeout",
       "close a connection that has not completed its handshake after this long (default 10s)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         Status st = SetDuration(&o.transport.handshake_timeout_us, v, 100'000ll);
         if (st.ok() && o.transport.handshake_timeout_us > 3600ll * 1'000'000) {
           return Status::InvalidArgument("must be at most 1h");
         }
         return st;
       }},
      {"limits.history_page_max", "most messages in one history page (default 500)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.history_page_max, ParseUnsigned(v), 1, 100000);
       }},
      {"rate.messages_per_second", "messages per second per device, 0 for no limit (default 200)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.rate_messages_per_second, ParseUnsigned(v), 0, 100'000'000);
       }},
      {"rate.message_burst", "messages a device may send at once above its rate (default 2000)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.rate_message_burst, ParseUnsigned(v), 1, 100'000'000);
       }},
      {"rate.bytes_per_second", "bytes per second per device, 0 for no limit (default 16MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.rate_bytes_per_second, ParseSize(v), 0, 1ull << 40);
       }},
      {"rate.byte_burst", "bytes a device may send at once above its rate (default 64MiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.rate_byte_burst, ParseSize(v), 1 << 20, 1ull << 40);
       }},
      {"limits.connections_per_address",
       "sessions from one network address, 0 for no limit (default 1000)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.connections_per_address, ParseUnsigned(v), 0, 10'000'000);
       }},
      {"limits.auth_failures_per_minute",
       "refused handshakes per address and minute before a 5-minute lockout, 0 for none (default "
       "30)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.core.auth_failures_per_minute, ParseUnsigned(v), 0, 1'000'000);
       }},
      {"limits.wipe_confirmation_wait",
       "how long a revoked device may still confirm its wipe (default 30s)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.core.wipe_confirmation_wait_us, v, 1'000'000ll);
       }},
      {"plugins.dir",
       "where plugins named without a path are found (default <broker executable's "
       "folder>/../lib/chatpro/plugins)",
       [](BrokerOptions& o, std::string_view v, const std::string& dir) {
         if (v.empty()) return Status::InvalidArgument("must not be empty");
         o.plugins.dir = ResolvePath(v, dir);
         return Status::Ok();
       }},
      {"retention.interval", "how often the retention policies run (default 1h)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetDuration(&o.retention.interval_us, v, 1'000'000ll);
       }},
      {"retention.batch_messages", "messages removed per write batch (default 500)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.retention.batch_messages, ParseUnsigned(v), 1, 1'000'000);
       }},
      {"retention.low_disk_free",
       "run retention at once when the data folder's disk has less free space than this, 0 for "
       "never (default 1GiB)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.retention.low_disk_free_bytes, ParseSize(v), 0, 1ull << 50);
       }},
      {"limits.send_hwm", "ZeroMQ send high-water mark per client, in frames (default 10000)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         return SetBounded(&o.transport.send_hwm, ParseUnsigned(v), 100, 10'000'000);
       }},
      {"urgent.allowed",
       "who may send urgent messages, which reach people also off duty: a comma list of "
       "role:NAME (user, admin, auditor), user:LOGIN, profile:NAME (default: nobody)",
       [](BrokerOptions& o, std::string_view v, const std::string&) {
         Result<std::vector<std::string>> list = ParseUrgentAllowed(v);
         if (!list.ok()) return list.status();
         o.urgent_allowed = std::move(*list);
         return Status::Ok();
       }},
  };
  return fields;
}


bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

// Collects [plugin.NAME] settings: `library` and every other key, in order.
// A key given on the command line replaces that key's values from the file
// (the first flag clears them, further flags add to them, so several
// `--set plugin.x.pattern=...` work).
class PluginSettings {
 public:
  // Handles `key` if it is a plugin.NAME.KEY setting; false if it is not.
  bool Handles(const Setting& s) const { return s.key.rfind("plugin.", 0) == 0; }

  Status Apply(BrokerOptions& o, const Setting& s, const std::string& dir, bool from_flags) {
    std::string_view rest = std::string_view(s.key).substr(7);
    size_t dot = rest.find('.');
    auto error = [&](const std::string& why) {
      return Status::InvalidArgument(s.where + ": " + s.key + " " + why);
    };
    if (dot == std::string_view::npos || dot == 0) {
      return error("is not a plugin setting: plugins are configured in [plugin.NAME] sections");
    }
    std::string name(rest.substr(0, dot));
    std::string key(rest.substr(dot + 1));
    for (char c : name) {
      if (!IsNameChar(c)) {
        return error("has an invalid plugin instance name '" + name +
                     "' (use letters, digits, '-' and '_')");
      }
    }
    if (key.empty()) return error("has no key");
    for (char c : key) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
        return error("has an invalid key '" + key + "' (use letters, digits and '_')");
      }
    }
    PluginOptions& p = Instance(o, name, s.where);
    if (key == "library") {
      if (s.value.empty()) return error("must not be empty");
      if (!from_flags && file_library_set_.count(name) != 0) {
        return error("is set twice in [plugin." + name + "]");
      }
      if (!from_flags) file_library_set_.insert(name);
      std::string v = s.value;
      if (v.find('/') != std::string::npos || EndsWithLibrarySuffix(v)) v = ResolvePath(v, dir);
      p.library = v;
      return Status::Ok();
    }
    if (from_flags && overridden_.insert({name, key}).second) {
      auto& list = p.settings;
      list.erase(std::remove_if(list.begin(), list.end(),
                                [&](const auto& kv) { return kv.first == key; }),
                 list.end());
    }
    p.settings.emplace_back(key, s.value);
    return Status::Ok();
  }

  // Every instance needs its library.
  Status Check(const BrokerOptions& o) const {
    for (const PluginOptions& p : o.plugins.instances) {
      if (p.library.empty()) {
        return Status::InvalidArgument(where_.at(p.name) + ": [plugin." + p.name +
                                       "] has no 'library' setting (e.g. library = retention_age)");
      }
    }
    return Status::Ok();
  }

 private:
  static bool EndsWithLibrarySuffix(const std::string& v) {
    for (const char* suffix : {".so", ".dll", ".dylib"}) {
      size_t n = std::strlen(suffix);
      if (v.size() > n && v.compare(v.size() - n, n, suffix) == 0) return true;
    }
    return false;
  }

  PluginOptions& Instance(BrokerOptions& o, const std::string& name, const std::string& where) {
    for (PluginOptions& p : o.plugins.instances) {
      if (p.name == name) return p;
    }
    where_[name] = where;
    o.plugins.instances.push_back(PluginOptions{name, "", {}});
    return o.plugins.instances.back();
  }

  std::map<std::string, std::string> where_;  // instance -> where it was first set
  std::set<std::string> file_library_set_;
  std::set<std::pair<std::string, std::string>> overridden_;  // (instance, key) set by flags
};

// Collects [schedule.NAME] sections: every key in file order. A key set
// twice in the file is an error; one set on the command line replaces the
// file's value. The keys' meaning is checked by the core
// (core::ParseScheduleProfiles), which knows the time-zone database.
class ScheduleSettings {
 public:
  bool Handles(const Setting& s) const { return s.key.rfind("schedule.", 0) == 0; }

  Status Apply(BrokerOptions& o, const Setting& s, bool from_flags) {
    std::string_view rest = std::string_view(s.key).substr(9);
    size_t dot = rest.find('.');
    auto error = [&](const std::string& why) {
      return Status::InvalidArgument(s.where + ": " + s.key + " " + why);
    };
    if (dot == std::string_view::npos || dot == 0) {
      return error("is not a schedule setting: profiles are configured in [schedule.NAME] sections");
    }
    std::string name(rest.substr(0, dot));
    std::string key(rest.substr(dot + 1));
    for (char c : name) {
      if (!IsNameChar(c)) {
        return error("has an invalid profile name '" + name + "' (use letters, digits, '-' and '_')");
      }
    }
    if (key.empty()) return error("has no key");
    for (char c : key) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
        return error("has an invalid key '" + key + "' (use letters, digits and '_')");
      }
    }
    ScheduleSectionOptions& section = Section(o, name, s.where);
    auto& list = section.settings;
    auto same_key = [&](const auto& kv) { return kv.first == key; };
    if (from_flags) {
      list.erase(std::remove_if(list.begin(), list.end(), same_key), list.end());
    } else if (std::any_of(list.begin(), list.end(), same_key)) {
      return error("is set twice in [schedule." + name + "]");
    }
    list.emplace_back(key, s.value);
    return Status::Ok();
  }

  // Every profile an urgent.allowed entry names exists.
  static Status Check(const BrokerOptions& o) {
    for (const std::string& entry : o.urgent_allowed) {
      if (entry.rfind("profile:", 0) != 0) continue;
      const std::string name = entry.substr(8);
      bool found = std::any_of(o.schedules.begin(), o.schedules.end(),
                               [&](const ScheduleSectionOptions& p) { return p.name == name; });
      if (!found) {
        return Status::InvalidArgument("urgent.allowed names profile '" + name +
                                       "' but there is no [schedule." + name + "] section");
      }
    }
    return Status::Ok();
  }

 private:
  static ScheduleSectionOptions& Section(BrokerOptions& o, const std::string& name,
                                         const std::string& where) {
    for (ScheduleSectionOptions& p : o.schedules) {
      if (p.name == name) return p;
    }
    o.schedules.push_back(ScheduleSectionOptions{name, {}, where});
    return o.schedules.back();
  }
};

// Cuts a `#` comment off a line. A `#` inside a quoted value is kept, so that
// e.g. a plugin's `pattern = "#[0-9]+"` can hold one.
std::string_view StripComment(std::string_view line) {
  size_t from = 0;
  size_t eq = line.find('=');
  size_t hash = line.find('#');
  if (eq != std::string_view::npos && (hash == std::string_view::npos || eq < hash)) {
    size_t v = line.find_first_not_of(" \t", eq + 1);
    if (v != std::string_view::npos && (line[v] == '"' || line[v] == '\'')) {
      size_t close = line.find(line[v], v + 1);
      if (close != std::string_view::npos) from = close + 1;
    }
  }
  hash = line.find('#', from);
  return hash == std::string_view::npos ? line : line.substr(0, hash);
}

}  // namespace

Result<std::uint64_t> ParseSize(std::string_view text) {
  auto [digits, unit] = SplitUnit(Trim(text));
  Result<std::uint64_t> n = ParseUnsigned(digits);
  if (!n.ok()) return Status::InvalidArgument("is not a size like 64KiB");
  std::uint64_t mult;
  if (unit.empty() || unit == "B") {
    mult = 1;
  } else if (unit == "KiB" || unit == "K" || unit == "KB") {
    mult = 1ull << 10;
  } else if (unit == "MiB" || unit == "M" || unit == "MB") {
    mult = 1ull << 20;
  } else if (unit == "GiB" || unit == "G" || unit == "GB") {
    mult = 1ull << 30;
  } else {
    return Status::InvalidArgument("has an unknown unit (use B, KiB, MiB, GiB)");
  }
  if (*n > std::numeric_limits<std::uint64_t>::max() / mult) {
    return Status::InvalidArgument("is too large");
  }
  return *n * mult;
}

Result<std::int64_t> ParseDuration(std::string_view text) {
  auto [digits, unit] = SplitUnit(Trim(text));
  Result<std::uint64_t> n = ParseUnsigned(digits);
  if (!n.ok() || unit.empty()) {
    return Status::InvalidArgument("is not a duration like 30s or 72h");
  }
  std::int64_t mult;
  if (unit == "ms") {
    mult = 1000;
  } else if (unit == "s") {
    mult = 1'000'000;
  } else if (unit == "min" || unit == "m") {
    mult = 60'000'000;
  } else if (unit == "h") {
    mult = 3'600'000'000ll;
  } else if (unit == "d") {
    mult = 86'400'000'000ll;
  } else {
    return Status::InvalidArgument("has an unknown unit (use ms, s, min, h, d)");
  }
  if (*n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / mult)) {
    return Status::InvalidArgument("is too long");
  }
  return static_cast<std::int64_t>(*n) * mult;
}

Result<std::vector<std::string>> ParseUrgentAllowed(std::string_view text) {
  std::vector<std::string> out;
  std::string_view rest = Trim(text);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view entry = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("entry '" + std::string(entry) + "' " + why);
    };
    if (entry.empty()) return Status::InvalidArgument("has an empty entry");
    size_t colon = entry.find(':');
    if (colon == std::string_view::npos) {
      return bad("is not role:NAME, user:LOGIN or profile:NAME");
    }
    std::string_view kind = Trim(entry.substr(0, colon));
    std::string_view name = Trim(entry.substr(colon + 1));
    if (kind == "role") {
      if (name != "user" && name != "admin" && name != "auditor") {
        return bad("names an unknown role (user, admin or auditor)");
      }
    } else if (kind == "user") {
      bool ok = !name.empty() && name.size() <= 32 &&
                (std::islower(static_cast<unsigned char>(name.front())) ||
                 std::isdigit(static_cast<unsigned char>(name.front())));
      for (char c : name) {
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '-');
      }
      if (!ok) return bad("has an invalid login");
    } else if (kind == "profile") {
      bool ok = !name.empty() && std::all_of(name.begin(), name.end(), IsNameChar);
      if (!ok) return bad("has an invalid profile name");
    } else {
      return bad("is not role:NAME, user:LOGIN or profile:NAME");
    }
    std::string normal = std::string(kind) + ":" + std::string(name);
    if (std::find(out.begin(), out.end(), normal) != out.end()) return bad("is listed twice");
    out.push_back(std::move(normal));
  }
  return out;
}

Result<std::vector<Setting>> ParseConfigText(std::string_view text, std::string_view source_name) {
  std::vector<Setting> out;
  std::string section;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    std::string where = std::string(source_name) + ":" + std::to_string(line_no);
    line = StripComment(line);
    line = Trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3) {
        return Status::InvalidArgument(where + ": a section header looks like [name]");
      }
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(where + ": expected key = value");
    }
    std::string_view key = Trim(line.substr(0, eq));
    std::string_view value = Trim(line.substr(eq + 1));
    if (key.empty()) return Status::InvalidArgument(where + ": the key is missing");
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (section.empty()) {
      return Status::InvalidArgument(where + ": '" + std::string(key) +
                                     "' must be inside a [section]");
    }
    out.push_back({section + "." + std::string(key), std::string(value), where});
  }
  return out;
}

Result<std::vector<Setting>> ReadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read config file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfigText(buffer.str(), path);
}

Result<BrokerOptions> BuildOptions(const std::vector<Setting>& file_settings,
                                   const std::vector<Setting>& flag_settings,
                                   const std::string& config_dir) {
  BrokerOptions o;
  o.store.data_dir = DefaultDataDir();
  PluginSettings plugins;
  ScheduleSettings schedules;
  auto apply = [&](const Setting& s, const std::string& dir, bool from_flags) -> Status {
    if (plugins.Handles(s)) return plugins.Apply(o, s, dir, from_flags);
    if (schedules.Handles(s)) return schedules.Apply(o, s, from_flags);
    for (const Field& f : Fields()) {
      if (s.key == f.key) {
        Status st = f.set(o, s.value, dir);
        if (!st.ok()) {
          return Status::InvalidArgument(s.where + ": " + s.key + " = '" + s.value + "' " +
                                         st.message());
        }
        return Status::Ok();
      }
    }
    return Status::InvalidArgument(s.where + ": unknown setting '" + s.key + "'");
  };
  for (const Setting& s : file_settings) CHATPRO_RETURN_IF_ERROR(apply(s, config_dir, false));
  char cwd[4096];
  std::string here = ::getcwd(cwd, sizeof cwd) != nullptr ? std::string(cwd) : std::string();
  for (const Setting& s : flag_settings) CHATPRO_RETURN_IF_ERROR(apply(s, here, true));
  CHATPRO_RETURN_IF_ERROR(plugins.Check(o));
  CHATPRO_RETURN_IF_ERROR(ScheduleSettings::Check(o));
  if (o.store.key_file.empty()) o.store.key_file = o.store.data_dir + "/storage.key";
  if (o.cases.export_dir.empty()) o.cases.export_dir = o.store.data_dir + "/exports";
  if (o.log.file.empty()) o.log.file = o.store.data_dir + "/chatpro-broker.log";
  if (o.backup.dir.empty()) o.backup.dir = o.store.data_dir + "/backups";
  if (o.transport.max_frame_bytes == 0) {
    o.transport.max_frame_bytes = o.core.max_attachment_bytes + (1ull << 20);
  }
  o.core.max_frame_bytes = o.transport.max_frame_bytes;
  if (o.transport.max_frame_bytes < o.core.max_attachment_bytes + 4096) {
    return Status::InvalidArgument(
        "limits.max_frame_bytes must exceed limits.max_attachment_bytes by at least 4KiB");
  }
  if (o.core.max_text_bytes > o.transport.max_frame_bytes) {
    return Status::InvalidArgument("limits.max_text_bytes must not exceed limits.max_frame_bytes");
  }
  if (o.console.cert_file.empty() != o.console.key_file.empty()) {
    return Status::InvalidArgument(
        "console.cert_file and console.key_file go together: set both, or neither for a "
        "self-signed certificate");
  }
  if (o.webchat.cert_file.empty() != o.webchat.key_file.empty()) {
    return Status::InvalidArgument(
        "webchat.cert_file and webchat.key_file go together: set both, or neither for a "
        "self-signed certificate");
  }
  // Passwords and session cookies must not cross a network in clear.
  if (o.console.enabled && o.console.plain_http && !IsLoopbackListen(o.console.listen)) {
    return Status::InvalidArgument("console.plain_http = true needs a loopback console.listen "
                                   "(127.0.0.1:PORT or [::1]:PORT), not '" +
                                   o.console.listen + "'");
  }
  return o;
}

bool IsLoopbackListen(std::string_view host_port) {
  std::size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, written as a dotted quad.
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

std::vector<std::pair<std::string, std::string>> DescribeSettings() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Field& f : Fields()) out.emplace_back(f.key, f.help);
  out.emplace_back("plugin.NAME.library",
                   "a plugin instance: the library's short name (retention_age, strip_attachments, "
                   "keep_newest, patterns) or a path");
  out.emplace_back("plugin.NAME.KEY", "a setting passed to that plugin instance (may repeat)");
  out.emplace_back("schedule.NAME.time_zone",
                   "a working-hours profile: its IANA time zone, e.g. Europe/Berlin (required)");
  out.emplace_back("schedule.NAME.mon ... sun",
                   "working periods of a weekday, e.g. 09:00-12:30, 13:30-17:00, or off "
                   "(default off; 22:00-06:00 runs into the next day)");
  out.emplace_back("schedule.NAME.holidays", "public holidays, a comma list of YYYY-MM-DD");
  out.emplace_back("schedule.NAME.members", "the logins the profile applies to, a comma list");
  out.emplace_back("schedule.NAME.default",
                   "true: the profile of everyone no other profile names (at most one)");
  out.emplace_back("schedule.NAME.may_change",
                   "what members may change themselves: a comma list of time_zone, week, "
                   "days_off, shifts (default nothing)");
  return out;
}

}  // namespace chatpro
