// SPDX-License-Identifier: Apache-2.0
//
// chatpro-broker: the ChatPro server. The composition root: it reads the
// config file and the command line (flags win), opens the store, loads the
// core, binds the ZeroMQ edge and runs the event loop until its host (a
// terminal, systemd, a Windows console or the Windows service manager: see
// service/host.h) asks it to stop.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/file_io.h"
#include "broker/base/log.h"
#include "broker/config/config.h"
#include "broker/core/broker.h"
#include "broker/core/encrypting_message_store.h"
#include "broker/crypto/keys.h"
#include "broker/crypto/storage_key_ring.h"
#include "broker/export_zip/zip_export_archive.h"
#include "broker/plugin_host/plugin_host.h"
#include "broker/store/leveldb_message_store.h"
#include "broker/transport/zmq_local_caller.h"
#include "broker/transport/zmq_server.h"
#include "broker/tz/system_zone_db.h"
#include "service/backup_restore.h"
#include "service/daemon.h"
#include "service/logging.h"
#include "monitoring/metrics_server.h"
#if defined(CHATPRO_HAS_CONSOLE)
#include "admin-console/console_server.h"
#endif
#if defined(CHATPRO_HAS_WEB_CHAT)
#include "admin-console/certificate.h"
#include "web-chat/web_chat_server.h"
#endif
#include "service/host.h"
#include "service/platform.h"
#if defined(_WIN32)
#include "service/windows_service.h"
#endif

namespace chatpro {
namespace {

namespace fs = std::filesystem;

constexpr char kVersion[] = CHATPRO_VERSION;

const char kUsage[] = R"(chatpro-broker: the ChatPro messaging server.

Usage:
  chatpro-broker [--config FILE] [--data-dir DIR] [--listen ENDPOINT] [options]
  chatpro-broker --daemon [--pid-file FILE] [--config FILE] [options]
  chatpro-broker --data-dir DIR --listen ENDPOINT --init-admin NAME
  chatpro-broker --config FILE --check-config
  chatpro-broker --config FILE --rotate-storage-key
  chatpro-broker --restore BACKUP_DIR [--data-dir DIR] [--force]
  chatpro-broker --config FILE --backup [NAME]

Runs in the foreground until SIGTERM or SIGINT (Ctrl+C), with --daemon in the
background (Unix), or as a Windows service (see below, on Windows). On SIGTERM
it stops taking input, writes and acknowledges what it has received, closes the
store and exits 0. SIGHUP reopens the log file (for logrotate). On its first
start, with no users yet, it creates the administrator "admin" and prints a
one-time invite for their first device.

Logging ([log] section): target console (stderr, the default), file (rotated
by size, log.keep files kept), syslog, journal (systemd), or eventlog (the
Windows event log, Windows only). Errors before the configuration is read go
to stderr. --init-admin, --check-config, --rotate-storage-key, --restore and
--backup always log to stderr.

Messages, attachments and records about people are encrypted at rest
(XChaCha20-Poly1305) under the storage key file (store.key_file, default
DATA_DIR/storage.key, mode 0600), made when the store is created. Back it up
with the data: without it the store cannot be read. A store that has data
but no key file is refused rather than given a new key.

Retention and policy plugins are configured in [plugin.NAME] sections and
loaded at start (and by --check-config); one that cannot be loaded, or that
refuses its settings, stops the start with the reason.

Options:
  --config FILE          read settings from FILE (relative paths in it are
                         resolved against FILE's folder)
  --data-dir DIR         where the store and the broker key live
                         (broker.data_dir)
  --listen ENDPOINT      ZeroMQ endpoint for clients, e.g. tcp://0.0.0.0:7070
                         (broker.listen)
  --public-address H:P   address written into invites (broker.public_address)
  --durability MODE      fsync (default) or os (broker.durability)
  --log-level LEVEL      debug, info, warning or error (log.level)
  --daemon               detach and run in the background; the command
                         returns 0 once the broker serves (printing what it
                         printed until then), or 1 with the reason if it
                         could not start. log.target = console does not
                         exist for a daemon: it logs to syslog instead, with
                         a warning (set log.target to file, syslog or
                         journal to choose)
  --pid-file FILE        with --daemon: write the daemon's pid to FILE,
                         locked while it runs and removed when it stops
                         (default DATA_DIR/chatpro-broker.pid)
  --set KEY=VALUE        any setting, e.g. --set limits.max_text_bytes=32KiB
  --init-admin NAME      create the store if needed, make NAME an
                         administrator, print a one-time invite for their
                         device as the last line, and exit
  --check-config         validate the settings, print them, and exit
  --rotate-storage-key   with the broker stopped: add a new storage key,
                         re-encrypt every message and record under it,
                         remove the old keys from the key file, print what
                         was done, and exit
  --restore BACKUP_DIR   with the broker stopped: verify the backup (every
                         file against its manifest), install it as the store
                         and keys of the data directory, print what was
                         restored, and exit. A data directory with a store
                         is refused unless --force, which moves what is
                         there into DATA_DIR/replaced-<time>
  --backup [NAME]        with the broker stopped: back the store up into
                         backup.dir as NAME, and exit (while it runs:
                         chatpro admin backup start)
  --version              print the version and exit
  --help                 this text

Settings (config file sections and keys):
)";

struct Args {
  std::string config;
  std::vector<Setting> flags;
  std::string init_admin;
  bool check_config = false;
  bool rotate_storage_key = false;
  bool daemon = false;
  std::string pid_file;
  std::string restore;  // --restore BACKUP_DIR
  bool backup = false;  // --backup [NAME]
  std::string backup_name;
  bool force = false;
};

int Usage(const std::string& error) {
  std::cerr << "chatpro-broker: " << error << "\nRun chatpro-broker --help for usage.\n";
  return 2;
}

std::string PublicAddressFor(const std::string& endpoint) {
  std::string hp = endpoint.rfind("tcp://", 0) == 0 ? endpoint.substr(6) : endpoint;
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos) return hp;
  std::string host = hp.substr(0, colon);
  std::string port = hp.substr(colon + 1);
  if (host == "*" || host == "0.0.0.0" || host == "[::]" || host == "::") {
    std::string name = service::HostName();
    if (!name.empty()) host = name;
  }
  return host + ":" + port;
}

#if defined(CHATPRO_HAS_WEB_CHAT)
// "https://HOST:PORT" of the web chat bound to `port`: the host it listens
// on, or for one on every interface the host of the broker's public address
// (PublicAddressFor), so that links in invites reach it.
std::string WebChatUrl(const std::string& listen, int port, const std::string& public_address) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "*" || host == "0.0.0.0" || host == "::" || host == "[::]") {
    host = public_address.substr(0, public_address.rfind(':'));
  }
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return "https://" + host + ":" + std::to_string(port);
}
#endif

Status EnsureDataDir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      return Status::InvalidArgument("data directory " + dir + " is not a folder");
    return Status::Ok();
  }
  // Create the parents too (mkdir -p), the last one private.
  fs::path parent = fs::path(dir).parent_path();
  if (!parent.empty() && !fs::create_directories(parent, ec) && ec) {
    return Status::IoError("cannot create data directory " + parent.string() + ": " + ec.message());
  }
  if (base::MakeFolder(dir, 0700) != 0 && errno != EEXIST) {
    return Status::IoError("cannot create data directory " + dir + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<crypto::KeyPair> LoadOrCreateServerKey(const std::string& data_dir) {
  std::string path = data_dir + "/broker.key";
  Result<crypto::KeyPair> keys = crypto::ReadKeyFile(path);
  if (keys.ok() || keys.status().code() != StatusCode::kNotFound) return keys;
  crypto::KeyPair fresh = crypto::GenerateKeyPair();
  CHATPRO_RETURN_IF_ERROR(crypto::WriteKeyFile(path, fresh));
  LOG_INFO() << "created the broker key " << path;
  return fresh;
}

// The meta record holding the store's format version (see core::Broker::Open).
// Format 1 was written before encryption at rest.
constexpr std::string_view kFormatKey = "format";
constexpr std::string_view kUnencryptedFormat = "1";

Status RefuseUnencryptedStore(core::MessageStore& store, const std::string& data_dir) {
  Result<std::optional<std::string>> format = store.GetRecord(core::RecordKind::kMeta, kFormatKey);
  if (!format.ok()) return format.status();
  if (*format == std::optional<std::string>(kUnencryptedFormat)) {
    return Status::FailedPrecondition(
        "the store in " + data_dir +
        " was written without encryption at rest (format version 1); this broker cannot read "
        "it. Use a broker release that can migrate it.");
  }
  return Status::Ok();
}

// The storage key ring of the store, made for a store that is new. Never
// made for a store that has data: a new key would leave that data
// unreadable. REQUIRES: `store` is open (its lock keeps other brokers away
// from the key file too).
Result<crypto::StorageKeyRing> OpenStorageKeys(core::MessageStore& store,
                                               const StoreOptions& options) {
  Result<crypto::StorageKeyRing> ring = crypto::StorageKeyRing::Load(options.key_file);
  if (ring.ok() || ring.status().code() != StatusCode::kNotFound) return ring;
  CHATPRO_ASSIGN_OR_RETURN(bool has_data, core::HoldsEncryptedData(store));
  if (has_data) {
    CHATPRO_RETURN_IF_ERROR(RefuseUnencryptedStore(store, options.data_dir));
    return Status::FailedPrecondition(
        "the store in " + options.data_dir + " holds data but its storage key file " +
        options.key_file +
        " is missing. Restore that file from a backup, or set store.key_file to where it is; "
        "a new key would leave the data unreadable, so none is made.");
  }
  ring = crypto::StorageKeyRing::Create(options.key_file);
  if (ring.ok()) {
    LOG_INFO() << "created the storage key file " << options.key_file
               << "; back it up with the data: without it the store cannot be read";
  }
  return ring;
}

// --rotate-storage-key: adds a key, re-encrypts everything under it, then
// retires the old keys. Opening the store takes its lock, so this cannot run
// beside a broker. A failure part way leaves every key in the file, so
// everything stays readable and the command can simply be run again.
int RotateStorageKey(const StoreOptions& options) {
  auto fail = [](const std::string& why) {
    std::cerr << "chatpro-broker: " << why << "\n";
    return 1;
  };
  Status st = crypto::InitCrypto();
  if (!st.ok()) return fail(st.message());
  std::error_code ec;
  if (!fs::is_directory(fs::path(options.data_dir) / "store", ec)) {
    return fail("there is no store in " + options.data_dir + " to re-encrypt");
  }
  Result<std::unique_ptr<store::LevelDbMessageStore>> db =
      store::LevelDbMessageStore::Open(options);
  if (!db.ok()) return fail("cannot open the store: " + db.status().message());
  st = RefuseUnencryptedStore(**db, options.data_dir);
  if (!st.ok()) return fail(st.message());
  Result<crypto::StorageKeyRing> ring = crypto::StorageKeyRing::Load(options.key_file);
  if (!ring.ok()) return fail(ring.status().message());
  st = ring->AddKeyAndSave();
  if (!st.ok()) return fail(st.message());
  const std::uint32_t key = ring->active().id;
  std::cout << "added key " << key << " to " << options.key_file << "; re-encrypting the store in "
            << options.data_dir << std::endl;
  Result<core::ReencryptionCounts> counts = core::ReencryptAll(**db, *ring);
  if (!counts.ok()) {
    return fail("re-encryption stopped: " + counts.status().message() + ". The key file " +
                options.key_file +
                " keeps the old keys and the new one, so everything stays readable; run "
                "--rotate-storage-key again once the cause is fixed.");
  }
  st = ring->RetireAllButActiveAndSave();
  if (!st.ok()) {
    return fail("everything is re-encrypted under key " + std::to_string(key) +
                ", but the old keys could not be removed: " + st.message());
  }
  std::cout << "re-encrypted " << counts->messages << " messages and " << counts->records
            << " records under key " << key << "; old keys removed" << std::endl;
  return 0;
}

// Free bytes (for unprivileged users) on the file system holding `dir`: the
// retention engine's low-disk probe. Unknown counts as plenty, so that a
// failing query never triggers deletions.
std::uint64_t FreeBytes(const std::string& dir) {
  std::error_code ec;
  fs::space_info space = fs::space(dir, ec);
  if (ec) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(space.available);
}

// Loads the configured plugins; prints the reason and returns nullopt on failure.
std::optional<std::unique_ptr<core::PluginSet>> LoadConfiguredPlugins(const PluginsOptions& options,
                                                                      const char* argv0) {
  Result<std::unique_ptr<core::PluginSet>> set =
      plugin_host::LoadPlugins(options, service::ExecutableDir(argv0));
  if (!set.ok()) {
    std::cerr << "chatpro-broker: cannot load plugins: " << set.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(*set);
}

// The working-hours profiles of the configuration over the system's time-zone
// database; prints the reason and returns nullopt on failure.
std::optional<std::vector<core::ScheduleProfile>> LoadScheduleProfiles(const BrokerOptions& options,
                                                                       const core::ZoneDb& zones) {
  Result<std::vector<core::ScheduleProfile>> profiles =
      core::ParseScheduleProfiles(options.schedules, zones);
  if (!profiles.ok()) {
    std::cerr << "chatpro-broker: invalid working hours: " << profiles.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(*profiles);
}

std::string DescribePlugin(const core::PluginInstance& p) {
  std::string hooks;
  if (p.accept_instance != nullptr) hooks = "accept hook";
  if (p.retention_instance != nullptr) hooks += std::string(hooks.empty() ? "" : ", ") + "retention hook";
  return "'" + p.name + "' = " + p.api->name + " (" + p.library + "; " + hooks + ")";
}

// --daemon: detaches (the original process exits once the broker serves) and
// writes the pid file; then the log sinks of the [log] section. A daemon has
// no console: that target becomes syslog, with a warning the original
// process prints.
Status StartDaemonAndLogging(const Args& args, BrokerOptions* options,
                             std::unique_ptr<service::Daemon>* daemon,
                             std::unique_ptr<service::Logging>* logging) {
  // The pid file and the log file are in the data folder by default.
  CHATPRO_RETURN_IF_ERROR(EnsureDataDir(options->store.data_dir));
  if (args.daemon) {
    std::string pid_file = args.pid_file.empty()
                               ? options->store.data_dir + "/chatpro-broker.pid"
                               : args.pid_file;
    if (options->log.target == LogTarget::kConsole) {
      options->log.target = LogTarget::kSyslog;
      std::cerr << "chatpro-broker: warning: log.target is console, which a daemon does not have; "
                   "logging to syslog (facility "
                << options->log.syslog_facility
                << ") instead. Set log.target to file, syslog or journal to choose." << std::endl;
    }
    CHATPRO_ASSIGN_OR_RETURN(*daemon, service::Daemon::Start(pid_file));
  }
  CHATPRO_ASSIGN_OR_RETURN(*logging, service::Logging::Start(options->log));
  return Status::Ok();
}

Result<Args> ParseArgs(int argc, char** argv) {
  Args a;
  auto value = [&](int& i, const std::string& flag) -> Result<std::string> {
    if (i + 1 >= argc) return Status::InvalidArgument(flag + " needs a value");
    return std::string(argv[++i]);
  };
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    std::string inline_value;
    bool has_inline = false;
    if (f.rfind("--", 0) == 0 && f.find('=') != std::string::npos && f.rfind("--set", 0) != 0) {
      inline_value = f.substr(f.find('=') + 1);
      f = f.substr(0, f.find('='));
      has_inline = true;
    }
    auto take = [&]() -> Result<std::string> {
      if (has_inline) return inline_value;
      return value(i, f);
    };
    auto flag = [&](const char* key) -> Status {
      CHATPRO_ASSIGN_OR_RETURN(std::string v, take());
      a.flags.push_back({key, v, f});
      return Status::Ok();
    };
    if (f == "--config") {
      CHATPRO_ASSIGN_OR_RETURN(a.config, take());
    } else if (f == "--data-dir") {
      CHATPRO_RETURN_IF_ERROR(flag("broker.data_dir"));
    } else if (f == "--listen") {
      CHATPRO_RETURN_IF_ERROR(flag("broker.listen"));
    } else if (f == "--public-address") {
      CHATPRO_RETURN_IF_ERROR(flag("broker.public_address"));
    } else if (f == "--durability") {
      CHATPRO_RETURN_IF_ERROR(flag("broker.durability"));
    } else if (f == "--log-level") {
      CHATPRO_RETURN_IF_ERROR(flag("log.level"));
    } else if (f == "--set" || f.rfind("--set=", 0) == 0) {
      std::string kv = f == "--set" ? std::string() : f.substr(6);
      if (kv.empty()) {
        CHATPRO_ASSIGN_OR_RETURN(kv, value(i, "--set"));
      }
      size_t eq = kv.find('=');
      if (eq == std::string::npos) return Status::InvalidArgument("--set takes KEY=VALUE");
      a.flags.push_back({kv.substr(0, eq), kv.substr(eq + 1), "--set " + kv.substr(0, eq)});
    } else if (f == "--init-admin") {
      CHATPRO_ASSIGN_OR_RETURN(a.init_admin, take());
    } else if (f == "--check-config") {
      a.check_config = true;
    } else if (f == "--rotate-storage-key") {
      a.rotate_storage_key = true;
    } else if (f == "--daemon") {
      a.daemon = true;
    } else if (f == "--pid-file") {
      CHATPRO_ASSIGN_OR_RETURN(a.pid_file, take());
    } else if (f == "--restore") {
      CHATPRO_ASSIGN_OR_RETURN(a.restore, take());
      if (a.restore.empty()) return Status::InvalidArgument("--restore needs the backup's folder");
    } else if (f == "--backup") {
      a.backup = true;
      if (has_inline) {
        a.backup_name = inline_value;
      } else if (i + 1 < argc && argv[i + 1][0] != '-') {
        a.backup_name = argv[++i];
      }
    } else if (f == "--force") {
      a.force = true;
    } else {
      return Status::InvalidArgument("unknown option " + f);
    }
  }
  return a;
}

#if defined(CHATPRO_HAS_CONSOLE)
// Bytes of the regular files under `dir` (0 if it cannot be read).
std::uint64_t DirectoryBytes(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      std::uintmax_t n = it->file_size(size_ec);
      if (!size_ec) total += n;
    }
  }
  return total;
}

// The effective settings the console's status page shows, in the config
// file's key names. Secrets stay out: no key material and no key file paths,
// and no plugin settings (a plugin's settings are its own business).
std::vector<std::pair<std::string, std::string>> ConsoleSettings(const BrokerOptions& o) {
  auto bytes = [](std::uint64_t n) { return std::to_string(n) + " bytes"; };
  auto seconds = [](std::int64_t us) { return std::to_string(us / 1'000'000) + "s"; };
  auto number = [](auto n) { return std::to_string(n); };
  std::vector<std::pair<std::string, std::string>> out = {
      {"config file", o.config_path.empty() ? std::string("(none)") : o.config_path},
      {"broker.data_dir", o.store.data_dir},
      {"broker.listen", o.transport.listen},
      {"broker.public_address", o.transport.public_address},
      {"broker.durability", o.store.durability == Durability::kFsync ? "fsync" : "os"},
      {"metrics.listen", o.monitoring.listen.empty() ? std::string("off") : o.monitoring.listen},
      {"console.listen", o.console.listen},
      {"console.cert_file",
       o.console.cert_file.empty() ? std::string("(self-signed)") : o.console.cert_file},
      {"console.plain_http", o.console.plain_http ? "true" : "false"},
      {"console.max_request_bytes", bytes(o.console.max_request_bytes)},
      {"console.session_idle", seconds(o.console.session_idle_us)},
      {"console.session_max", seconds(o.console.session_max_us)},
      {"console.login_attempts", number(o.console.login_attempts)},
      {"console.login_lockout", seconds(o.console.login_lockout_us)},
      {"webchat.enabled", o.webchat.enabled ? "true" : "false"},
      {"webchat.listen", o.webchat.listen},
      {"webchat.cert_file",
       o.webchat.cert_file.empty() ? std::string("(self-signed)") : o.webchat.cert_file},
      {"log", service::Logging::Describe(o.log)},
      {"store.cache_size", bytes(o.store.cache_bytes)},
      {"store.write_buffer_size", bytes(o.store.write_buffer_bytes)},
      {"store.min_free", bytes(o.store.min_free_bytes)},
      {"store format", service::DescribeStoreFormat(o.store)},
      {"backup.dir", o.backup.dir},
      {"backup.max_rate", bytes(o.backup.max_bytes_per_second) + "/s"},
      {"cases.export_dir", o.cases.export_dir},
      {"cases.approval_valid", seconds(o.cases.approval_valid_us)},
      {"cases.embargo", seconds(o.cases.embargo_us)},
      {"retention.interval", seconds(o.retention.interval_us)},
      {"retention.batch_messages", number(o.retention.batch_messages)},
      {"retention.low_disk_free", bytes(o.retention.low_disk_free_bytes)},
      {"limits.max_text_bytes", bytes(o.core.max_text_bytes)},
      {"limits.max_attachment_bytes", bytes(o.core.max_attachment_bytes)},
      {"limits.max_group_members", number(o.core.max_group_members)},
      {"limits.invite_ttl", seconds(o.core.invite_ttl_us)},
      {"limits.session_timeout", seconds(o.core.session_timeout_us)},
      {"limits.slow_consumer_timeout", seconds(o.core.slow_consumer_timeout_us)},
      {"limits.handshake_timeout", seconds(o.transport.handshake_timeout_us)},
      {"limits.history_page_max", number(o.core.history_page_max)},
      {"limits.connections_per_address", number(o.core.connections_per_address)},
      {"limits.auth_failures_per_minute", number(o.core.auth_failures_per_minute)},
      {"limits.send_hwm", number(o.transport.send_hwm)},
      {"rate.messages_per_second", number(o.core.rate_messages_per_second)},
      {"rate.message_burst", number(o.core.rate_message_burst)},
      {"rate.bytes_per_second", bytes(o.core.rate_bytes_per_second)},
      {"rate.byte_burst", bytes(o.core.rate_byte_burst)},
      {"plugins.dir", o.plugins.dir},
  };
  for (const PluginOptions& p : o.plugins.instances) {
    out.emplace_back("plugin." + p.name + ".library", p.library);
  }
  for (const ScheduleSectionOptions& p : o.schedules) {
    out.emplace_back("schedule." + p.name, "(working-hours profile)");
  }
  std::string urgent;
  for (const std::string& u : o.urgent_allowed) urgent += (urgent.empty() ? "" : ",") + u;
  out.emplace_back("urgent.allowed", urgent);
  return out;
}

// Starts the web admin console if configured; nullptr if it is off. On
// failure returns the Status naming what is wrong (the broker does not start).
Result<std::unique_ptr<console::ConsoleServer>> StartConsole(const BrokerOptions& options,
                                                            core::LocalCaller* caller,
                                                            const Clock* clock,
                                                            const core::BrokerStats* stats,
                                                            std::int64_t started_at_us) {
  if (!options.console.enabled) return std::unique_ptr<console::ConsoleServer>();
  console::ConsoleDeps deps;
  deps.caller = caller;
  deps.clock = clock;
  deps.stats = stats;
  deps.version = kVersion;
  deps.started_at_us = started_at_us;
  deps.storage = [data_dir = fs::path(options.store.data_dir)] {
    console::StorageSnapshot snapshot;
    snapshot.store_bytes = DirectoryBytes(data_dir / "store") + DirectoryBytes(data_dir / "blobs");
    std::error_code ec;
    fs::space_info space = fs::space(data_dir, ec);
    if (!ec) {
      snapshot.free_bytes = static_cast<std::uint64_t>(space.available);
      snapshot.capacity_bytes = static_cast<std::uint64_t>(space.capacity);
    }
    return snapshot;
  };
  deps.settings = ConsoleSettings(options);
  deps.schedules = options.schedules;
  deps.urgent_allowed = options.urgent_allowed;
  Result<std::unique_ptr<console::ConsoleServer>> started =
      console::ConsoleServer::Start(options.console, options.store.data_dir, std::move(deps));
  if (!started.ok()) return started.status();
  LOG_INFO() << "admin console on " << (*started)->url();
  if (!(*started)->fingerprint().empty()) {
    LOG_INFO() << "admin console certificate " << (*started)->cert_file()
               << ", SHA-256 fingerprint " << (*started)->fingerprint();
  }
  return started;
}
#endif

#if defined(CHATPRO_HAS_WEB_CHAT)
// Starts the web chat if configured; nullptr if it is off. Without a
// configured certificate it uses a self-signed one made in <data_dir>/webchat
// (by the console's certificate code). On failure returns the Status naming
// what is wrong (the broker does not start).
Result<std::unique_ptr<webchat::WebChatServer>> StartWebChat(const BrokerOptions& options,
                                                             zmq::context_t* context,
                                                             const core::BrokerStats* stats) {
  if (!options.webchat.enabled) return std::unique_ptr<webchat::WebChatServer>();
  WebChatOptions web = options.webchat;
  if (web.cert_file.empty()) {
    Result<console::CertificateFiles> made = console::EnsureSelfSignedCertificate(
        options.store.data_dir + "/webchat", console::MachineHostName());
    if (!made.ok()) return made.status().WithContext("web chat certificate");
    if (made->created) LOG_INFO() << "web chat: made a self-signed certificate " << made->cert_file;
    LOG_INFO() << "web chat certificate " << made->cert_file << ", SHA-256 fingerprint "
               << made->sha256;
    web.cert_file = made->cert_file;
    web.key_file = made->key_file;
  }
  Result<std::unique_ptr<webchat::WebChatServer>> started =
      webchat::WebChatServer::Start(web, context, stats);
  if (!started.ok()) return started.status();
  std::string host = web.listen.substr(0, web.listen.rfind(':'));
  LOG_INFO() << "web chat on https://" << host << ":" << (*started)->port() << "/";
  return started;
}
#endif

int Run(int argc, char** argv, service::Host& host) {
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (f == "--help" || f == "-h") {
      std::cout << kUsage;
      for (const auto& [key, help] : DescribeSettings()) {
        std::printf("  %-34s %s\n", key.c_str(), help.c_str());
      }
#if defined(_WIN32)
      std::cout << service::kServiceUsage;
#endif
      return 0;
    }
    if (f == "--version") {
      std::cout << "chatpro-broker " << kVersion << "\n";
      return 0;
    }
  }
  Result<Args> args = ParseArgs(argc, argv);
  if (!args.ok()) return Usage(args.status().message());
  if (args->rotate_storage_key && (!args->init_admin.empty() || args->check_config)) {
    return Usage("--rotate-storage-key runs on its own");
  }
  if (args->daemon && (!args->init_admin.empty() || args->check_config || args->rotate_storage_key ||
                       !args->restore.empty() || args->backup)) {
    return Usage(
        "--daemon is for serving, not with --init-admin, --check-config, --rotate-storage-key, "
        "--restore or --backup");
  }
  if (!args->pid_file.empty() && !args->daemon) return Usage("--pid-file goes with --daemon");
  if ((!args->restore.empty() || args->backup) &&
      (!args->init_admin.empty() || args->check_config || args->rotate_storage_key ||
       (!args->restore.empty() && args->backup))) {
    return Usage("--restore and --backup run on their own");
  }
  if (args->force && args->restore.empty()) return Usage("--force goes with --restore");

  std::vector<Setting> file_settings;
  std::string config_dir;
  if (!args->config.empty()) {
    Result<std::vector<Setting>> file = ReadConfigFile(args->config);
    if (!file.ok()) {
      std::cerr << "chatpro-broker: " << file.status().message() << "\n";
      return 1;
    }
    file_settings = std::move(*file);
    config_dir = fs::u8path(args->config).parent_path().u8string();
    if (config_dir.empty()) config_dir = ".";
  }
  Result<BrokerOptions> options = BuildOptions(file_settings, args->flags, config_dir);
  if (!options.ok()) {
    std::cerr << "chatpro-broker: invalid configuration: " << options.status().message() << "\n";
    return 1;
  }
  options->config_path = args->config;
  if (args->check_config) {
    // Loading the plugins is part of the check: a missing library or a
    // setting a plugin refuses is reported here, not at the next start.
    std::optional<std::unique_ptr<core::PluginSet>> plugins =
        LoadConfiguredPlugins(options->plugins, argv[0]);
    if (!plugins) return 1;
    std::unique_ptr<core::ZoneDb> zones = tz::SystemZoneDb();
    std::optional<std::vector<core::ScheduleProfile>> profiles = LoadScheduleProfiles(*options, *zones);
    if (!profiles) return 1;
    Status log_target = service::CheckLogTarget(options->log, options->store.data_dir);
    if (!log_target.ok()) {
      std::cerr << "chatpro-broker: invalid configuration: " << log_target.message() << "\n";
      return 1;
    }
    std::cout << "configuration is valid\n"
              << "  data_dir = " << options->store.data_dir << "\n"
              << "  listen = " << options->transport.listen << "\n"
              << "  durability = " << (options->store.durability == Durability::kFsync ? "fsync" : "os")
              << "\n"
              << "  key_file = " << options->store.key_file << "\n"
              << "  metrics = "
              << (options->monitoring.listen.empty() ? "off" : options->monitoring.listen) << "\n"
              << "  backup.dir = " << options->backup.dir << "\n"
              << "  store format = " << service::DescribeStoreFormat(options->store) << "\n"
              << "  log = " << service::Logging::Describe(options->log) << "\n";
    for (const auto& p : (*plugins)->plugins()) std::cout << "  plugin " << DescribePlugin(*p) << "\n";
    for (const auto& p : *profiles) {
      std::cout << "  working hours '" << p.name << "' in " << p.hours.time_zone
                << (p.is_default ? " (default)" : "") << "\n";
    }
    return 0;
  }
  SetLogLevel(ParseLogLevel(options->log.level).value_or(LogLevel::kInfo));
  if (args->rotate_storage_key) return RotateStorageKey(options->store);
  // Backups with the broker stopped (service/backup_restore.h).
  if (!args->restore.empty()) {
    return service::RestoreBackup(args->restore, options->store, args->force);
  }
  if (args->backup) return service::OfflineBackup(args->backup_name, *options, kVersion);

  // Serving: detach first if asked (before any thread starts), then install
  // the log sinks. Both outlive everything declared after them.
  std::unique_ptr<service::Daemon> daemon;
  std::unique_ptr<service::Logging> logging;
  if (args->init_admin.empty()) {
    Status started = StartDaemonAndLogging(*args, &*options, &daemon, &logging);
    if (!started.ok()) {
      std::cerr << "chatpro-broker: " << started.message() << "\n";
      return 1;
    }
  }

  // Before the store: a broken plugin stops the start at once. Declared before
  // the broker, so it outlives it (destroyed after the broker has stopped).
  std::unique_ptr<core::PluginSet> plugins;
  if (args->init_admin.empty()) {
    host.Starting("loading plugins");
    std::optional<std::unique_ptr<core::PluginSet>> loaded =
        LoadConfiguredPlugins(options->plugins, argv[0]);
    if (!loaded) return 1;
    plugins = std::move(*loaded);
    for (const auto& p : plugins->plugins()) LOG_INFO() << "loaded plugin " << DescribePlugin(*p);
  }

  Status st = crypto::InitCrypto();
  if (st.ok()) st = EnsureDataDir(options->store.data_dir);
  if (!st.ok()) {
    std::cerr << "chatpro-broker: " << st.message() << "\n";
    return 1;
  }
  {
    std::error_code ec;
    fs::path real = fs::canonical(fs::u8path(options->store.data_dir), ec);
    if (!ec) options->store.data_dir = real.make_preferred().u8string();
  }
  // The store first: its lock keeps a second broker away from the key file too.
  host.Starting("opening the store in " + options->store.data_dir);
  Result<std::unique_ptr<store::LevelDbMessageStore>> db =
      store::LevelDbMessageStore::Open(options->store);
  if (!db.ok()) {
    std::cerr << "chatpro-broker: cannot open the store: " << db.status().message() << "\n";
    return 1;
  }
  Result<crypto::KeyPair> server_keys = LoadOrCreateServerKey(options->store.data_dir);
  if (!server_keys.ok()) {
    std::cerr << "chatpro-broker: " << server_keys.status().message() << "\n";
    return 1;
  }
  Result<crypto::StorageKeyRing> storage_keys = OpenStorageKeys(**db, options->store);
  if (!storage_keys.ok()) {
    std::cerr << "chatpro-broker: " << storage_keys.status().message() << "\n";
    return 1;
  }
  // Everything the core stores goes through the encryption; LevelDB and its
  // blob files see only sealed values.
  core::EncryptingMessageStore encrypted_store(db->get(), &*storage_keys);

  SystemClock clock;
  // The time-zone database of working hours; declared before the broker, so
  // it outlives it.
  std::unique_ptr<core::ZoneDb> zones = tz::SystemZoneDb();
  std::string public_address = options->transport.public_address.empty()
                                   ? PublicAddressFor(options->transport.listen)
                                   : options->transport.public_address;
  core::Broker broker(options->core, options->store.durability,
                      {server_keys->public_key, public_address}, &encrypted_store, &clock);
  if (plugins != nullptr) broker.SetPlugins(plugins.get());
  const std::string data_dir = options->store.data_dir;
  broker.SetRetention(options->retention, [data_dir] { return FreeBytes(data_dir); });
  broker.SetMinFreeBytes(options->store.min_free_bytes, [data_dir] { return FreeBytes(data_dir); });
  host.Starting("loading the store");
  st = broker.Open();
  if (!st.ok()) {
    std::cerr << "chatpro-broker: cannot load the store: " << st.message() << "\n";
    return 1;
  }
  // Exports of cases go into their own private folder, as zip files.
  CasesOptions cases = options->cases;
  if (cases.export_dir.empty()) cases.export_dir = options->store.data_dir + "/exports";
  broker.ConfigureCases(cases, export_zip::ZipExportArchives());
  broker.ConfigureBackups(service::BackupSetupFor(*options, kVersion));
  // Working hours: the organisation's profiles over the system's tz database.
  std::optional<std::vector<core::ScheduleProfile>> profiles = LoadScheduleProfiles(*options, *zones);
  if (!profiles) return 1;
  st = broker.SetSchedules(std::move(*profiles), options->urgent_allowed, zones.get());
  if (!st.ok()) {
    std::cerr << "chatpro-broker: invalid working hours: " << st.message() << "\n";
    return 1;
  }

  if (!args->init_admin.empty()) {
    Result<std::string> invite = broker.CreateBootstrapInvite(args->init_admin);
    if (!invite.ok()) {
      std::cerr << "chatpro-broker: " << invite.status().message() << "\n";
      return 1;
    }
    std::cout << "Store ready in " << options->store.data_dir << ".\n"
              << "Administrator '" << args->init_admin
              << "' can enroll a device with this one-time invite (chatpro enroll INVITE):\n"
              << *invite << std::endl;
    return 0;
  }

  // Monitoring: /metrics and /healthz at once; /readyz 503 until the broker serves.
  std::unique_ptr<monitoring::MetricsServer> metrics;
  if (!options->monitoring.listen.empty()) {
    Result<std::unique_ptr<monitoring::MetricsServer>> started = monitoring::MetricsServer::Start(
        options->monitoring, {&broker.stats(), kVersion, options->store.data_dir});
    if (!started.ok()) {
      std::cerr << "chatpro-broker: " << started.status().message() << "\n";
      return 1;
    }
    metrics = std::move(*started);
    LOG_INFO() << "metrics on http://" << options->monitoring.listen << "/metrics";
  }

  Result<std::unique_ptr<transport::ZmqServer>> server =
      transport::ZmqServer::Create(options->transport, *server_keys, &broker);
  if (!server.ok()) {
    std::cerr << "chatpro-broker: " << server.status().message() << "\n";
    return 1;
  }
  if (options->transport.public_address.empty()) {
    public_address = PublicAddressFor((*server)->bound_endpoint());
    broker.SetPublicAddress(public_address);
  }
  // How the admin console will call the core in-process (same requests and
  // rules as a device). Shut down after the loop stops and before the server
  // goes: its sockets live in the server's ZeroMQ context.
  auto local_caller = std::make_unique<transport::ZmqLocalCaller>(**server);
  std::string bootstrap_invite;
  if (!broker.HasUsers()) {
    Result<std::string> invite = broker.CreateBootstrapInvite("admin");
    if (!invite.ok()) {
      std::cerr << "chatpro-broker: cannot create the first administrator: "
                << invite.status().message() << "\n";
      return 1;
    }
    std::cout << "No users yet: the administrator 'admin' can enroll a device with this "
                 "one-time invite (chatpro enroll INVITE):\n"
              << *invite << std::endl;
    bootstrap_invite = *invite;
  }

  // The watchdog is pinged from the event loop itself, so that a hung loop
  // (not just a live process) gets the broker restarted.
  // The loop ticks about every 100 ms; free heap memory goes back to the
  // system once a minute (a few milliseconds at most).
  (*server)->SetTickHook([&host, ticks = 0]() mutable {
    host.WatchdogTick();
    if (++ticks % 600 == 0) service::ReleaseFreeMemory();
  });
  const std::int64_t started_at_us = clock.NowMicros();
  // The web admin console: after the store is open and the transport is up;
  // it stops before the transport.
#if defined(CHATPRO_HAS_CONSOLE)
  // It reaches the core through the in-process caller, as console principals.
  Result<std::unique_ptr<console::ConsoleServer>> console =
      StartConsole(*options, local_caller.get(), &clock, &broker.stats(), started_at_us);
  if (!console.ok()) {
    std::cerr << "chatpro-broker: " << console.status().message() << "\n";
    return 1;
  }
#else
  (void)started_at_us;
  if (options->console.enabled) {
    LOG_WARNING() << "this build of chatpro-broker has no admin console; console.enabled is ignored";
  }
#endif
#if defined(CHATPRO_HAS_WEB_CHAT)
  // The web chat: browsers reach the core over the in-process route, in the
  // transport's ZeroMQ context; it stops before the transport.
  Result<std::unique_ptr<webchat::WebChatServer>> web_chat =
      StartWebChat(*options, &(*server)->context(), &broker.stats());
  if (!web_chat.ok()) {
    std::cerr << "chatpro-broker: " << web_chat.status().message() << "\n";
    return 1;
  }
  if (*web_chat != nullptr) {
    // Invite replies carry the same invite as a web chat link.
    broker.SetWebChatUrl(
        WebChatUrl(options->webchat.listen, (*web_chat)->port(), public_address));
    if (!bootstrap_invite.empty()) {
      std::cout << "Or in a browser: " << broker.WebLinkFor(bootstrap_invite) << std::endl;
    }
  }
#else
  if (options->webchat.enabled) {
    LOG_WARNING() << "this build of chatpro-broker has no web chat; webchat.enabled is ignored";
  }
#endif
  broker.Start(server->get(), server->get());
  transport::ZmqServer* serving = server->get();
  monitoring::MetricsServer* metrics_server = metrics.get();
  host.WatchForStop(
      [serving, metrics_server] {
        if (metrics_server != nullptr) metrics_server->MarkStopping();
        serving->RequestStop();
      },
      [&logging] {
        if (logging == nullptr) return;
        logging->Reopen();
        LOG_INFO() << "SIGHUP: reopened the log file";
      });
  if (metrics != nullptr) metrics->MarkReady();
  std::cout << "chatpro-broker " << kVersion << " listening on " << (*server)->bound_endpoint()
            << " (data " << options->store.data_dir << ")" << std::endl;
  LOG_INFO() << "listening on " << (*server)->bound_endpoint();
  // Ready only now: the store is open and the endpoint bound, so a client
  // that connects once the service manager reports the service started is served.
  host.Ready("listening on " + (*server)->bound_endpoint());
  if (daemon != nullptr) daemon->Ready();

  (*server)->Run();
  host.Stopping("stopping");
#if defined(CHATPRO_HAS_CONSOLE)
  // Before the caller and the transport: its requests in progress use them
  // (and return Unavailable now that the loop has stopped).
  console->reset();
#endif
#if defined(CHATPRO_HAS_WEB_CHAT)
  // Closes every browser's WebSocket and its socket on the transport's context.
  web_chat->reset();
#endif
  // /readyz answers 503 until the store is flushed; then the endpoint goes,
  // before the broker and its stats.
  if (metrics != nullptr) metrics->MarkStopping();
  broker.Stop();
  host.StopWatching();  // before the metrics server goes: the stop request names it
  metrics.reset();
  local_caller->Shutdown();
  local_caller.reset();
  server->reset();
  db->reset();
  std::uint64_t accepted = 0;
  for (const auto& n : broker.stats().messages_accepted) accepted += n.load();
  LOG_INFO() << "stopped cleanly: " << accepted << " messages stored in "
             << broker.stats().batches_committed.load()
             << " write batches since the start; the store is closed";
  return 0;
}

}  // namespace
}  // namespace chatpro

int main(int argc, char** argv) {
  chatpro::service::PrepareProcess();
#if defined(_WIN32)
  if (std::optional<int> rc = chatpro::service::RunServiceCommand(argc, argv, &chatpro::Run)) {
    return *rc;
  }
#endif
  std::unique_ptr<chatpro::service::Host> host = chatpro::service::ConsoleHost();
  return chatpro::Run(argc, argv, *host);
}
