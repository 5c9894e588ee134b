// SPDX-License-Identifier: Apache-2.0
//
// BrokerOptions: every setting of chatpro-broker, grouped per component. The
// service parses them once (config file, then command-line flags, which win)
// and hands each component its own struct by const reference.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace chatpro {

enum class Durability {
  kFsync,  // acknowledge a message only after its write batch is synced to disk
  kOs,     // acknowledge once the batch is written to the OS (survives a broker crash, not power loss)
};

struct StoreOptions {
  // Folder of the LevelDB store and the broker's key file. Default: /var/lib/chatpro
  // as root, else ~/.local/share/chatpro.
  std::string data_dir;
  // Default: kFsync.
  Durability durability = Durability::kFsync;
  // LevelDB block cache. Default: 64 MiB.
  std::uint64_t cache_bytes = 64ull << 20;
  // LevelDB write buffer (memtable) size. Default: 64 MiB.
  std::uint64_t write_buffer_bytes = 64ull << 20;
  // New messages are refused (ResourceExhausted, "data directory full: ...")
  // while the data directory's file system has less than this free; reads go
  // on and sends are accepted again by themselves once there is room. 0: only
  // when a write really fails. Default: 64 MiB.
  std::uint64_t min_free_bytes = 64ull << 20;
  // The storage key ring that encrypts messages and personal records at rest
  // (crypto::StorageKeyRing). Created with a new key, mode 0600, when the
  // store is new; a store with data and no key file is refused. Back it up:
  // without it the store cannot be read. Default: <data_dir>/storage.key.
  std::string key_file;
};

struct TransportOptions {
  // ZeroMQ endpoint clients connect to. Default: tcp://127.0.0.1:7070.
  std::string listen = "tcp://127.0.0.1:7070";
  // HOST:PORT written into invites. Default: derived from `listen` (the host
  // name when listening on all interfaces).
  std::string public_address;
  // Largest frame a client may send; bigger ones cut the connection. Default:
  // max_attachment_bytes + 1 MiB.
  std::uint64_t max_frame_bytes = 0;
  // ZeroMQ send high-water mark per client, in frames. Default: 10000.
  int send_hwm = 10000;
  // A connection that has not completed its ZMTP/CURVE handshake within this
  // long is closed (ZMQ_HANDSHAKE_IVL), so that clients sending half a
  // handshake cannot hold file descriptors. Default: 10 s.
  std::int64_t handshake_timeout_us = 10ll * 1'000'000;
};

struct CoreOptions {
  // Largest text message body. Default: 64 KiB.
  std::uint64_t max_text_bytes = 64ull << 10;
  // Largest voice or picture payload (audio, image plus thumbnail). Default: 16 MiB.
  std::uint64_t max_attachment_bytes = 16ull << 20;
  // Largest frame a client may send (the same as TransportOptions'; reported
  // to clients in HelloReply). Default: max_attachment_bytes + 1 MiB.
  std::uint64_t max_frame_bytes = 0;
  // Largest group. Default: 2000.
  std::uint32_t max_group_members = 2000;
  // How long an invite stays valid. Default: 72 hours.
  std::int64_t invite_ttl_us = 72ll * 3600 * 1'000'000;
  // A session that sends nothing (not even a ping) for this long is dropped.
  // Default: 60 s.
  std::int64_t session_timeout_us = 60ll * 1'000'000;
  // Deliveries a device may have unacknowledged before the broker stops
  // pushing and lets it catch up from the store. They bound what the broker
  // holds for one device that stops reading. Default: 32768 messages, 16 MiB.
  std::uint32_t delivery_window_messages = 32768;
  std::uint64_t delivery_window_bytes = 16ull << 20;
  // A device whose delivery window stays full without an acknowledgement for
  // this long is counted as a slow consumer cut (it gets nothing more until it
  // acks, then catches up from the store). Default: 10 s.
  std::int64_t slow_consumer_timeout_us = 10ll * 1'000'000;
  // Most messages in one history page. Default: 500.
  std::uint32_t history_page_max = 500;
  // Per device: messages per second, and how many may come at once above that
  // rate. 0 means no limit. Default: 200 per second, bursts of 2000.
  std::uint32_t rate_messages_per_second = 200;
  std::uint32_t rate_message_burst = 2000;
  // Per device: bytes per second and burst. 0 means no limit. Default: 16 MiB/s,
  // bursts of 64 MiB.
  std::uint64_t rate_bytes_per_second = 16ull << 20;
  std::uint64_t rate_byte_burst = 64ull << 20;
  // Sessions from one network address (an office behind one NAT address counts
  // once per device). 0 means no limit. Default: 1000.
  std::uint32_t connections_per_address = 1000;
  // Refused handshakes from one address within a minute before the address may
  // not try new keys for five minutes (invite codes cannot be guessed). 0 means
  // no limit. Default: 30.
  std::uint32_t auth_failures_per_minute = 30;
  // How long a revoked device's connection is kept for its wipe confirmation.
  // Default: 30 s.
  std::int64_t wipe_confirmation_wait_us = 30ll * 1'000'000;
  // A write batch is handed to the store at this many messages even if the
  // previous one is still being written (the pipeline then waits). Default: 20000.
  std::uint32_t max_batch_messages = 20000;
  std::uint64_t max_batch_bytes = 64ull << 20;
};

// One configured plugin instance: a [plugin.NAME] section.
struct PluginOptions {
  std::string name;     // NAME
  std::string library;  // `library = ...`: a path, or a plugin's short name looked up in plugins.dir
  std::vector<std::pair<std::string, std::string>> settings;  // every other key, in file order
};

struct PluginsOptions {
  // Where plugins named without a path are found (libchatpro_<name>.so). Default: the
  // folder `../lib/chatpro/plugins` next to the broker executable.
  std::string dir;
  std::vector<PluginOptions> instances;
};

// One working-hours profile: a [schedule.NAME] section, kept raw here (the
// core parses and checks it with the time-zone database: core::ParseScheduleProfiles).
struct ScheduleSectionOptions {
  std::string name;  // NAME
  // Every key with its value, in file order; a key set on the command line
  // replaces the file's. Keys: time_zone, mon ... sun, holidays, members,
  // default, may_change.
  std::vector<std::pair<std::string, std::string>> settings;
  std::string where;  // where the section was first seen ("chatpro.conf:12"), for errors
};

struct RetentionOptions {
  // How often the retention policies run. Default: 1 hour.
  std::int64_t interval_us = 3600ll * 1'000'000;
  // Messages removed per write batch, so that live traffic never waits long.
  // Default: 500.
  std::uint32_t batch_messages = 500;
  // Run at once when the data directory's file system has less free space than
  // this. Default: 1 GiB.
  std::uint64_t low_disk_free_bytes = 1ull << 30;
};

struct CasesOptions {
  // How long an approval of a case lets its export start. Default: 72 hours.
  std::int64_t approval_valid_us = 72ll * 3600 * 1'000'000;
  // After this long the people concerned can see that their data was
  // accessed. Default: 30 days.
  std::int64_t embargo_us = 30ll * 24 * 3600 * 1'000'000;
  // Where exports are written. Default: <data_dir>/exports.
  std::string export_dir;
};

struct BackupOptions {
  // Where `chatpro admin backup start` writes backups (one folder each, mode
  // 0700). Default: <data_dir>/backups.
  std::string dir;
  // Most bytes a backup copies per second, so that it leaves the disk to live
  // traffic; 0: no limit. Default: 64 MiB.
  std::uint64_t max_bytes_per_second = 64ull << 20;
};

struct MonitoringOptions {
  // HOST:PORT of the HTTP endpoint serving /metrics (Prometheus text format),
  // /healthz and /readyz. Empty turns it off. Default: 127.0.0.1:9464.
  std::string listen = "127.0.0.1:9464";
};

// The web admin console (admin-console/): the [console] section.
struct ConsoleOptions {
  // Whether the broker serves the console. Default: true.
  bool enabled = true;
  // HOST:PORT it listens on (port 0 picks a free one). Default: 0.0.0.0:8443.
  std::string listen = "0.0.0.0:8443";
  // PEM certificate chain and private key for HTTPS. Both or neither; with
  // neither a self-signed certificate is made at the first start in
  // <data_dir>/console and reused. Default: empty.
  std::string cert_file;
  std::string key_file;
  // Plain HTTP instead of HTTPS; allowed only with a loopback listen address
  // (a reverse proxy on the same machine). Default: false.
  bool plain_http = false;
  // Largest request body; larger ones answer 413. Default: 1 MiB.
  std::uint64_t max_request_bytes = 1ull << 20;
  // A session ends after this long without a request. Default: 15 minutes.
  std::int64_t session_idle_us = 15ll * 60 * 1'000'000;
  // A session ends this long after its sign-in, however busy. Default: 8 hours.
  std::int64_t session_max_us = 8ll * 3600 * 1'000'000;
  // Failed sign-ins (per client address, and per login) within 15 minutes
  // that lock further sign-ins out. Default: 5.
  std::uint32_t login_attempts = 5;
  // How long such a lock-out lasts. Default: 5 minutes.
  std::int64_t login_lockout_us = 5ll * 60 * 1'000'000;
};

// The web chat for browsers (web-chat/): the [webchat] section.
struct WebChatOptions {
  // Whether the broker serves the web chat. Default: true.
  bool enabled = true;
  // HOST:PORT it listens on (port 0 picks a free one); a port of its own,
  // apart from the admin console's, for staff. Default: 127.0.0.1:8444.
  std::string listen = "127.0.0.1:8444";
  // PEM certificate chain and private key for HTTPS. Both or neither; with
  // neither a self-signed certificate is made at the first start in
  // <data_dir>/webchat and reused. Default: empty.
  std::string cert_file;
  std::string key_file;
  // Largest WebSocket message taken from a browser; a larger one closes its
  // WebSocket (1009). Default: 17 MiB (as limits.max_frame_bytes).
  std::uint64_t max_message_bytes = 17ull << 20;
  // WebSockets served at once; more are refused with 503. Default: 256.
  std::uint32_t max_connections = 256;
  // Not in the config file: the time a browser has to answer the challenge
  // (and for one message to arrive once started), the time one message to
  // it may take before it is cut, and how long a revoked page may take to
  // confirm its wipe before it is closed. Defaults: 10 s, 10 s, 3 s.
  int handshake_timeout_ms = 10000;
  int send_timeout_ms = 10000;
  int revoked_grace_ms = 3000;
};

// Where log lines go: the [log] section. The service builds the sinks
// (service/logging.h).
enum class LogTarget {
  kConsole,   // standard error
  kFile,      // a file, rotated by size
  kSyslog,    // the local syslog daemon (syslog(3))
  kJournal,   // the systemd journal, with structured fields
  kEventLog,  // the Windows event log (Windows only)
};

enum class LogFormat {
  kText,  // "2026-11-25T08:00:00.123Z INFO  [thread] message"
  kJson,  // one JSON object per line: time, level, thread, message
};

struct LogOptions {
  // Default: kConsole.
  LogTarget target = LogTarget::kConsole;
  // One of debug, info, warning, error (`log.level`, or its older name
  // `broker.log_level`). Default: info.
  std::string level = "info";
  // The log file of the file target. Default: <data_dir>/chatpro-broker.log.
  std::string file;
  // The file target starts a new file when the current one reaches this size;
  // 0 never rotates. Default: 10 MiB.
  std::uint64_t rotate_size = 10ull << 20;
  // Rotated files kept beside the current one (FILE.0 is the newest); older
  // ones are deleted. Default: 5.
  std::uint32_t keep = 5;
  // Format of console and file lines. Default: kText.
  LogFormat format = LogFormat::kText;
  // Facility of the syslog target: daemon, user or local0 ... local7.
  // Default: daemon.
  std::string syslog_facility = "daemon";
};

struct BrokerOptions {
  LogOptions log;
  PluginsOptions plugins;
  MonitoringOptions monitoring;
  ConsoleOptions console;
  WebChatOptions webchat;
  RetentionOptions retention;
  CasesOptions cases;
  BackupOptions backup;
  StoreOptions store;
  TransportOptions transport;
  CoreOptions core;
  // Working-hours profiles, in file order. Default: none (everyone is always on duty).
  std::vector<ScheduleSectionOptions> schedules;
  // Who may send urgent messages, which reach people also off duty: entries
  // "role:NAME" (user, admin, auditor), "user:LOGIN" or "profile:NAME" (the
  // members of a [schedule.NAME] profile), from `[urgent] allowed`.
  // Default: none (nobody).
  std::vector<std::string> urgent_allowed;
  // The config file the options came from, if any.
  std::string config_path;
};

}  // namespace chatpro
