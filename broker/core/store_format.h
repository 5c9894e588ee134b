// SPDX-License-Identifier: Apache-2.0
//
// The format of the store: which version of the key layout and record
// encodings a store holds, and the migrations that bring an older store up
// to the version this broker writes.
//
// The store keeps its version in the meta record "format" (decimal text,
// plain). A new store gets kStoreFormat. At open, a store of an older version
// is migrated one step at a time (from N to N+1) by the table in
// store_format.cc; a store newer than kStoreFormat, or older than
// kOldestMigratableFormat, is refused with a message that says what to do.
//
// Each step puts its changes, its audit entry and the new version into one
// write batch, written synced, so a crash leaves the store at N or at N+1,
// never in between. A step too large for one batch must instead be
// idempotent, writing the new version last (none is, so far).
//
// History:
//   1  written by development builds before encryption at rest (values plain);
//      never in a release and not migratable (refused).
//   2  values of personal records and messages sealed under the storage key.
//   3  the store has an identity (meta record "store_id": 16 random bytes,
//      hex), which backups record so that a backup names the store it came
//      from. 2 -> 3 gives an existing store its id.
//
// Thread-safety: free functions over a store; see MessageStore.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"
#include "broker/core/message_store.h"

namespace chatpro::core {

// The version this broker writes and reads.
constexpr int kStoreFormat = 3;
// The oldest version it migrates.
constexpr int kOldestMigratableFormat = 2;

// Meta record keys.
constexpr std::string_view kFormatRecord = "format";
constexpr std::string_view kStoreIdRecord = "store_id";

// One step of the table: from `from` to `from + 1`.
struct StoreMigration {
  int from = 0;
  // What the step changes, for the log and the audit log.
  const char* what = "";
  // Adds the step's changes to `batch` (the caller adds the version and the
  // audit entry). May read the store. On failure returns the read error;
  // nothing is written.
  std::function<Status(MessageStore& store, WriteBatch* batch)> apply;
};

// The table, in order.
const std::vector<StoreMigration>& StoreMigrations();

// The store's version; 0 for a store that has none yet (a new store).
// On failure returns the read error, or DataLoss if the record is not a
// version number.
Result<int> ReadStoreFormat(MessageStore& store);

// OK if this broker can open a store of version `format` (perhaps after
// migrating it); else FailedPrecondition saying why and what to do:
// newer than kStoreFormat ("made by a newer broker ... upgrade the broker or
// restore a backup") or older than kOldestMigratableFormat.
Status CheckStoreFormat(int format);

// A new store's first records: kStoreFormat and a fresh store id.
void InitStoreFormat(WriteBatch* batch);

// The store's id (hex), empty if it has none.
Result<std::string> ReadStoreId(MessageStore& store);

// Migrates `store` from `format` to kStoreFormat, a synced batch per step;
// `note(step, batch)` is called for each step before it is written, to add
// the step's audit entry to the same batch. Returns the steps run.
// REQUIRES: CheckStoreFormat(format) is OK; nothing else writes to the store.
// On failure returns the error of the failed step; the steps before it stay.
Result<std::vector<const StoreMigration*>> MigrateStore(
    MessageStore& store, int format,
    const std::function<void(const StoreMigration& step, WriteBatch* batch)>& note);

}  // namespace chatpro::core
