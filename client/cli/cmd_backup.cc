// SPDX-License-Identifier: Apache-2.0
//
// `chatpro admin backup start|status|list`: backups of the broker's store,
// made by the running broker into its backup folder.
#include <algorithm>
#include <chrono>
#include <thread>

#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace chatpro::cli {
namespace {

constexpr std::chrono::milliseconds kFirstPoll{100};
constexpr std::chrono::milliseconds kLongestPoll{2000};

std::string BackupJson(const client::BackupInfo& b) {
  return "{\"name\":" + JsonString(b.name) + ",\"state\":" + JsonString(b.state) +
         ",\"started_at_us\":" + std::to_string(b.started_at_us) +
         ",\"finished_at_us\":" + std::to_string(b.finished_at_us) +
         ",\"store_format\":" + std::to_string(b.store_format) +
         ",\"store_id\":" + JsonString(b.store_id) +
         ",\"broker_version\":" + JsonString(b.broker_version) +
         ",\"records\":" + std::to_string(b.records) +
         ",\"messages\":" + std::to_string(b.messages) + ",\"blobs\":" + std::to_string(b.blobs) +
         ",\"bytes\":" + std::to_string(b.bytes) + ",\"path\":" + JsonString(b.path) +
         ",\"error\":" + JsonString(b.error) + "}";
}

std::string FormatBackup(const client::BackupInfo& b) {
  std::string line = "backup " + Printable(b.name) + ": " + b.state + ", " +
                     std::to_string(b.messages) + " messages, " + std::to_string(b.records) +
                     " records, " + std::to_string(b.blobs) + " attachments, " +
                     FormatBytes(b.bytes) + "; store format " + std::to_string(b.store_format) +
                     ", started " + FormatTime(b.started_at_us);
  if (b.finished_at_us != 0 && !b.running()) line += ", finished " + FormatTime(b.finished_at_us);
  if (!b.path.empty()) line += "; in " + Printable(b.path);
  if (!b.error.empty()) line += "; " + Printable(b.error);
  return line;
}

int Print(const Invocation& inv, const client::BackupInfo& b) {
  if (!PrintLine(inv.args.Has("json") ? BackupJson(b) : FormatBackup(b))) return kExitError;
  return b.failed() ? kExitError : kExitOk;
}

int BackupStart(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() > 1) return UsageError(inv, "give at most one name");
  std::string name = pos.empty() ? std::string() : pos[0];
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto info = (*client)->StartBackup(name);
  if (!info.ok()) return Fail(inv, info.status());
  if (!inv.args.Has("wait")) {
    if (inv.args.Has("json")) return Print(inv, *info);
    PrintLine("started backup " + Printable(info->name) +
              "; see how far it is with: chatpro admin backup status");
    return kExitOk;
  }
  std::chrono::milliseconds pause = kFirstPoll;
  const std::string started = info->name;
  while (info->running()) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, kLongestPoll);
    info = (*client)->BackupStatus();
    if (!info.ok()) return Fail(inv, info.status());
    if (info->name != started) {
      return Fail(inv, Status::Unavailable("another backup replaced " + started + " meanwhile"));
    }
  }
  return Print(inv, *info);
}

int BackupStatus(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, inv.name + " takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto info = (*client)->BackupStatus();
  if (!info.ok()) return Fail(inv, info.status());
  return Print(inv, *info);
}

int BackupList(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, inv.name + " takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto list = (*client)->ListBackups();
  if (!list.ok()) return Fail(inv, list.status());
  if (inv.args.Has("json")) {
    for (const auto& b : list->backups) {
      if (!PrintLine(BackupJson(b))) return kExitError;
    }
    return kExitOk;
  }
  std::vector<std::string> lines;
  if (list->backups.empty()) lines.push_back("no backups in " + Printable(list->folder));
  for (const auto& b : list->backups) lines.push_back(FormatBackup(b));
  return PrintAll(lines) ? kExitOk : kExitError;
}

}  // namespace

std::vector<CommandSpec> BackupCommands() {
  return {
      {"admin backup start",
       "admin backup start [NAME] [--wait] [--json]",
       "back up the store while the broker serves (administrators)",
       "Starts a backup of the whole store as it is now, written by the broker into its\n"
       "backup folder (backup.dir, default DATA_DIR/backups) as folder NAME (default\n"
       "chatpro-YYYYMMDD-HHMMSS, UTC). It holds a copy of the store, the storage key\n"
       "file and the broker's key, and a MANIFEST with a checksum of each file. The\n"
       "broker keeps serving meanwhile. With --wait, waits until it is done and prints\n"
       "its counts (exit status 1 if it failed). Restore it with the broker stopped:\n"
       "  chatpro-broker --restore BACKUP_FOLDER --data-dir DIR",
       {{"wait", "", "wait until the backup is done"},
        {"json", "", "print the backup as one JSON object"}},
       BackupStart},
      {"admin backup status",
       "admin backup status [--json]",
       "the backup running, or the last one (administrators)",
       "Prints the state (running, done, failed) of the backup running or last run since\n"
       "the broker started, with what it copied so far. Exit status 1 if it failed.",
       {{"json", "", "one JSON object"}},
       BackupStatus},
      {"admin backup list",
       "admin backup list [--json]",
       "list the backups in the broker's backup folder (administrators)",
       "Prints each complete backup in the broker's backup folder (and one running):\n"
       "name, messages, records, attachments, bytes, store format, when it was made.",
       {{"json", "", "one JSON object per line"}},
       BackupList},
  };
}

}  // namespace chatpro::cli
