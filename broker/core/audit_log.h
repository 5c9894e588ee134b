// SPDX-License-Identifier: Apache-2.0
//
// AuditLog: the organisation's tamper-evident record of who did what:
// administrative and auditor actions, enrollments, deactivations, refused
// authentications, reports, edits and deletions, exports, holds, retention.
//
// Entries are append-only and hash-chained: each entry's hash is BLAKE2b-256
// of the previous entry's hash followed by the entry's own fields in a fixed
// encoding, so that changing, removing or reordering any stored entry breaks
// the chain from there on. An entry is written in the same store batch as the
// change it records (never through a side channel that could drop it).
//
// Lifecycle: Load() once at start (finds the chain's head); then Append() from
// the event loop, into the batch being filled. Batches are stored in order, so
// the chain on disk is always a prefix of the chain in memory.
// Thread-safety: Append/Load on the event-loop thread; List and Verify are
// static and only read the store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/core/message_store.h"

namespace chatpro::core {

// Who did it. An empty login means the broker itself (retention, start-up).
struct AuditActor {
  UserId user;
  std::string login;
  DeviceId device;
  // "console" when the user acted through the web admin console (no device);
  // Append then records it as "via" in the entry's details, which the hash
  // covers, so entries from before the console verify unchanged.
  std::string via = {};
};

struct AuditEntry {
  std::uint64_t seq = 0;  // from 1, no gaps
  std::int64_t at_us = 0;
  AuditActor actor;
  std::string action;   // dotted, e.g. "user.deactivate", "device.revoke", "auth.refused"
  std::string target;   // e.g. "user:ana", "device:7", "conversation:3", "address:10.0.0.9"
  std::string details;  // a JSON object, e.g. {"devices":[3,4],"sessions_closed":2}
  std::string prev_hash;  // 32 bytes (all zero for the first entry)
  std::string hash;       // 32 bytes
};

struct AuditVerification {
  bool whole = true;
  std::uint64_t records = 0;           // entries checked
  std::uint64_t first_broken_seq = 0;  // 0 if whole
  std::string message;                 // what is wrong, for a person
};

class AuditLog {
 public:
  explicit AuditLog(const Clock* clock) : clock_(clock) {}
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Finds the newest entry and continues the chain from it. On failure
  // returns the store's error or DataLoss if the newest entry is damaged.
  // Seqs have no gaps, so the newest entry is found in O(log n) point reads;
  // should entries be missing, it is still the highest stored seq (new
  // entries never overwrite old ones; Verify reports the hole).
  Status Load(MessageStore& store);

  // Appends an entry stamped now to `batch`. Returns its seq. `details_json`
  // is a JSON object (or empty); a non-empty actor.via is added to it.
  // REQUIRES: Load() has returned OK (else the chain would restart at 1 over
  // the stored one).
  std::uint64_t Append(const AuditActor& actor, std::string_view action, std::string_view target,
                       std::string details_json, WriteBatch* batch);

  std::uint64_t last_seq() const { return last_seq_; }

  // Up to `limit` entries from `from_seq` on, oldest first; from_seq 0 means
  // the newest `limit` entries. Does not check hashes (Verify does). On
  // failure returns the store's error or DataLoss naming a damaged entry.
  static Result<std::vector<AuditEntry>> List(MessageStore& store, std::uint64_t from_seq,
                                              std::size_t limit);

  // Walks the whole chain and recomputes every hash. Reports the first entry
  // whose hash, link to its predecessor or seq does not match. On failure
  // returns the store's error (a broken chain is a result, not an error).
  static Result<AuditVerification> Verify(MessageStore& store);

  // The hash of an entry given its predecessor's hash (exposed for tests).
  static std::string Hash(const AuditEntry& entry);

 private:
  const Clock* const clock_;
  std::uint64_t last_seq_ = 0;
  std::string last_hash_ = std::string(32, '\0');
  bool loaded_ = false;
};

}  // namespace chatpro::core
