// SPDX-License-Identifier: Apache-2.0
//
// The broker's command-line routes to backups (broker/core/backup.h) with
// the broker stopped, and what the service tells about the store's format:
//   chatpro-broker --restore BACKUP_DIR [--data-dir DIR] [--force]
//   chatpro-broker --backup [NAME]
// Each prints what it did (or why not) and returns the process's exit
// status: 0 done, 1 refused or failed.
//
// Thread-safety: called from main() only.
#pragma once

#include <string>

#include "broker/config/options.h"
#include "broker/core/backup.h"

namespace chatpro::service {

// What a running broker's backups need: the folder, the pace, the key files
// (the storage key ring and the broker's key pair) and the broker's version.
core::BackupSetup BackupSetupFor(const BrokerOptions& options, const std::string& version);

// Verifies the backup in `backup_dir` (manifest, every file's size and
// BLAKE2b, a store format this broker reads) and installs it as the store of
// `store.data_dir`, the storage key file at `store.key_file` and the broker
// key in the data directory. A data directory that has a store or keys is
// refused unless `force`; then they are moved into
// `<data_dir>/replaced-<UTC time>` first, never deleted. The store must not
// be in use (its lock is taken).
int RestoreBackup(const std::string& backup_dir, const StoreOptions& store, bool force);

// Writes a backup named `name` (empty: chatpro-YYYYMMDD-HHMMSS, UTC) of the
// stopped broker's store into `options.backup.dir`, the same backup a running
// broker makes. Refused while a broker has the store open.
int OfflineBackup(const std::string& name, const BrokerOptions& options,
                  const std::string& version);

// For --check-config: the store's format version, or why it cannot be read
// now ("in use by a running broker", "no store yet").
std::string DescribeStoreFormat(const StoreOptions& store);

}  // namespace chatpro::service
