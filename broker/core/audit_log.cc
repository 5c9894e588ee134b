// SPDX-License-Identifier: Apache-2.0
#include "broker/core/audit_log.h"

#include <sodium.h>

#include <limits>
#include <utility>

#include "broker/base/check.h"
#include "broker/base/encoding.h"
#include "broker/base/json.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

constexpr size_t kHashBytes = 32;
static_assert(crypto_generichash_BYTES == kHashBytes, "BLAKE2b-256");

std::string_view AsView(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->c_str(), s->size());
}

std::string AsBytes(const flatbuffers::Vector<std::uint8_t>* v) {
  return v == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(v->data()), v->size());
}

std::string SeqText(std::uint64_t seq) { return std::to_string(seq); }

void AppendLengthPrefixed(std::string* out, std::string_view s) {
  CHATPRO_CHECK(s.size() <= std::numeric_limits<std::uint32_t>::max(),
                "an audit field longer than 4 GiB");
  const auto n = static_cast<std::uint32_t>(s.size());
  out->push_back(static_cast<char>(n >> 24));
  out->push_back(static_cast<char>(n >> 16));
  out->push_back(static_cast<char>(n >> 8));
  out->push_back(static_cast<char>(n));
  out->append(s);
}

// The fields that the hash covers, in the one encoding that is hashed (never
// the FlatBuffer, whose layout a builder may choose freely):
//   seq, at_us, actor user id, actor device id   8 bytes big-endian each
//   actor login, action, target, details         4-byte big-endian length + bytes
// Fixed widths and length prefixes make it unambiguous: no two different
// entries encode to the same bytes ("ab" + "c" is not "a" + "bc"). The hash is
// BLAKE2b-256(prev_hash || these bytes). Changing this breaks every stored chain.
std::string CanonicalFields(const AuditEntry& e) {
  std::string out;
  out.reserve(48 + 16 + e.actor.login.size() + e.action.size() + e.target.size() +
              e.details.size());
  AppendBigEndian64(&out, e.seq);
  AppendBigEndian64(&out, static_cast<std::uint64_t>(e.at_us));
  AppendBigEndian64(&out, e.actor.user.value());
  AppendBigEndian64(&out, e.actor.device.value());
  AppendLengthPrefixed(&out, e.actor.login);
  AppendLengthPrefixed(&out, e.action);
  AppendLengthPrefixed(&out, e.target);
  AppendLengthPrefixed(&out, e.details);
  return out;
}

std::string Encode(const AuditEntry& e) {
  flatbuffers::FlatBufferBuilder fbb(256 + e.actor.login.size() + e.action.size() +
                                     e.target.size() + e.details.size());
  auto login = fbb.CreateString(e.actor.login);
  auto action = fbb.CreateString(e.action);
  auto target = fbb.CreateString(e.target);
  auto details = fbb.CreateString(e.details);
  auto prev_hash = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(e.prev_hash.data()),
                                    e.prev_hash.size());
  auto hash = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(e.hash.data()), e.hash.size());
  store::AuditRecordBuilder b(fbb);
  b.add_seq(e.seq);
  b.add_at_us(e.at_us);
  b.add_actor_user_id(e.actor.user.value());
  b.add_actor_login(login);
  b.add_actor_device_id(e.actor.device.value());
  b.add_action(action);
  b.add_target(target);
  b.add_details(details);
  b.add_prev_hash(prev_hash);
  b.add_hash(hash);
  fbb.Finish(b.Finish());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// The entry stored as `value`, or nullopt if the bytes are not an AuditRecord.
std::optional<AuditEntry> Decode(std::string_view value) {
  std::string scratch;
  const auto* r = VerifiedRecord<store::AuditRecord>(value, &scratch);
  if (r == nullptr) return std::nullopt;
  AuditEntry e;
  e.seq = r->seq();
  e.at_us = r->at_us();
  e.actor.user = UserId(r->actor_user_id());
  e.actor.login = std::string(AsView(r->actor_login()));
  e.actor.device = DeviceId(r->actor_device_id());
  e.action = std::string(AsView(r->action()));
  e.target = std::string(AsView(r->target()));
  e.details = std::string(AsView(r->details()));
  e.prev_hash = AsBytes(r->prev_hash());
  e.hash = AsBytes(r->hash());
  return e;
}

// Decodes the record stored under `seq` for List and Load, where a damaged
// record is an error.
Result<AuditEntry> DecodeStored(std::uint64_t seq, std::string_view value) {
  std::optional<AuditEntry> e = Decode(value);
  if (!e) {
    return Status::DataLoss("audit entry " + SeqText(seq) + " is damaged (not an audit record)");
  }
  if (e->seq != seq) {
    return Status::DataLoss("audit entry " + SeqText(seq) + " is damaged (it says it is entry " +
                            SeqText(e->seq) + ")");
  }
  if (e->hash.size() != kHashBytes || e->prev_hash.size() != kHashBytes) {
    return Status::DataLoss("audit entry " + SeqText(seq) +
                            " is damaged (its hashes are not 32 bytes)");
  }
  return std::move(*e);
}

Result<bool> Exists(MessageStore& store, std::uint64_t seq) {
  Result<std::optional<std::string>> value =
      store.GetRecord(RecordKind::kAudit, store_keys::U64Key(seq));
  // A value the store cannot open (altered at rest) is still an entry that
  // is there: Verify names it; the chain goes on after the newest one.
  if (!value.ok() && value.status().code() == StatusCode::kDataLoss) return true;
  if (!value.ok()) return value.status();
  return value->has_value();
}

// The first seq-shaped (8-byte) audit key after `seq`, 0 if there is none.
Result<std::uint64_t> NextStoredSeq(MessageStore& store, std::uint64_t seq) {
  if (seq == std::numeric_limits<std::uint64_t>::max()) return std::uint64_t{0};
  std::uint64_t next = 0;
  Status st = store.ScanRecords(RecordKind::kAudit, store_keys::U64Key(seq + 1),
                                [&](std::string_view key, std::string_view) {
                                  if (key.size() != 8) return true;  // not an entry: Verify's job
                                  next = ReadBigEndian64(key);
                                  return false;
                                });
  if (!st.ok()) return st;
  return next;
}

// The highest stored seq, 0 for an empty log, in O(log n) point reads.
//
// Append gives out seqs from 1 without gaps and nothing deletes entries, so
// "entry s exists" holds for exactly s = 1..last: a galloping probe (1, 3, 7,
// 15, ...) brackets `last` and a binary search finds it, about 2 log2(n)
// GetRecord calls (40 for a million entries) instead of reading the whole log.
// A hole (an entry removed behind the broker's back) would make the probe
// stop early, so one seek past the result confirms that nothing lies beyond;
// if something does, the probe resumes from there. The result is therefore
// always the highest stored seq, and new entries never overwrite old ones.
Result<std::uint64_t> FindLastSeq(MessageStore& store) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t lo = 0;  // stored, or 0
  while (true) {
    std::uint64_t hi = 0;  // not stored
    std::uint64_t step = 1;
    while (true) {
      hi = step > kMax - lo ? kMax : lo + step;
      CHATPRO_ASSIGN_OR_RETURN(bool present, Exists(store, hi));
      if (!present) break;
      lo = hi;
      if (lo == kMax) break;
      if (step <= kMax / 2) step *= 2;
    }
    while (lo != kMax && hi - lo > 1) {
      const std::uint64_t mid = lo + (hi - lo) / 2;
      CHATPRO_ASSIGN_OR_RETURN(bool present, Exists(store, mid));
      (present ? lo : hi) = mid;
    }
    CHATPRO_ASSIGN_OR_RETURN(std::uint64_t beyond, NextStoredSeq(store, lo));
    if (beyond == 0) return lo;
    lo = beyond;
  }
}

}  // namespace

std::string AuditLog::Hash(const AuditEntry& entry) {
  // sodium_init() only selects the fastest BLAKE2b code for this CPU; the hash
  // is the same without it. It is idempotent and thread-safe.
  static const int sodium_ready = sodium_init();
  (void)sodium_ready;
  const std::string fields = CanonicalFields(entry);
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, kHashBytes);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(entry.prev_hash.data()),
                            entry.prev_hash.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(fields.data()),
                            fields.size());
  std::string out(kHashBytes, '\0');
  crypto_generichash_final(&state, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

Status AuditLog::Load(MessageStore& store) {
  CHATPRO_ASSIGN_OR_RETURN(std::uint64_t last, FindLastSeq(store));
  std::string hash(kHashBytes, '\0');
  if (last != 0) {
    CHATPRO_ASSIGN_OR_RETURN(std::optional<std::string> value,
                             store.GetRecord(RecordKind::kAudit, store_keys::U64Key(last)));
    if (!value) {
      return Status::Unavailable("audit entry " + SeqText(last) + " vanished while loading");
    }
    CHATPRO_ASSIGN_OR_RETURN(AuditEntry newest, DecodeStored(last, *value));
    hash = std::move(newest.hash);
  }
  last_seq_ = last;
  last_hash_ = std::move(hash);
  loaded_ = true;
  return Status::Ok();
}

std::uint64_t AuditLog::Append(const AuditActor& actor, std::string_view action,
                               std::string_view target, std::string details_json,
                               WriteBatch* batch) {
  CHATPRO_CHECK(loaded_, "AuditLog::Append before Load() would overwrite the stored chain");
  AuditEntry e;
  e.seq = last_seq_ + 1;
  e.at_us = clock_->NowMicros();
  e.actor = actor;
  e.action = std::string(action);
  e.target = std::string(target);
  e.details = std::move(details_json);
  if (!actor.via.empty()) {
    // First, so that a reader sees at once that no device was involved.
    std::string via = JsonObject().Add("via", actor.via).str();
    if (e.details.size() <= 2) {
      e.details = std::move(via);
    } else {
      via.back() = ',';
      e.details.replace(0, 1, via);
    }
  }
  e.prev_hash = last_hash_;
  e.hash = Hash(e);
  batch->records.push_back({RecordKind::kAudit, store_keys::U64Key(e.seq), Encode(e)});
  last_seq_ = e.seq;
  last_hash_ = std::move(e.hash);
  return last_seq_;
}

Result<std::vector<AuditEntry>> AuditLog::List(MessageStore& store, std::uint64_t from_seq,
                                               std::size_t limit) {
  std::vector<AuditEntry> out;
  if (limit == 0) return out;
  if (from_seq == 0) {
    CHATPRO_ASSIGN_OR_RETURN(std::uint64_t last, FindLastSeq(store));
    if (last == 0) return out;
    from_seq = last >= limit ? last - limit + 1 : 1;
  }
  Status bad;
  Status st = store.ScanRecords(
      RecordKind::kAudit, store_keys::U64Key(from_seq),
      [&](std::string_view key, std::string_view value) {
        if (key.size() != 8) {
          bad = Status::DataLoss("the audit log holds a record under a key of " +
                                 std::to_string(key.size()) + " bytes (not an entry)");
          return false;
        }
        Result<AuditEntry> e = DecodeStored(ReadBigEndian64(key), value);
        if (!e.ok()) {
          bad = e.status();
          return false;
        }
        out.push_back(std::move(e).value());
        return out.size() < limit;
      });
  if (!st.ok()) return st;
  if (!bad.ok()) return bad;
  return out;
}

Result<AuditVerification> AuditLog::Verify(MessageStore& store) {
  AuditVerification v;
  std::uint64_t prev_seq = 0;
  std::string prev_hash(kHashBytes, '\0');
  auto broken = [&v](std::uint64_t seq, std::string message) {
    v.whole = false;
    v.first_broken_seq = seq;
    v.message = std::move(message);
    return false;  // stop the scan at the first problem
  };
  Status st = store.ScanRecords(
      RecordKind::kAudit, std::string_view(), [&](std::string_view key, std::string_view value) {
        ++v.records;
        const std::uint64_t expected = prev_seq + 1;
        const std::string entry = "entry " + SeqText(expected);
        if (key.size() != 8) {
          return broken(expected, "a record under a key of " + std::to_string(key.size()) +
                                      " bytes is not an audit entry (expected " + entry + ")");
        }
        const std::uint64_t seq = ReadBigEndian64(key);
        if (seq == 0) {
          return broken(expected, "a record is stored under seq 0 (entries start at 1)");
        }
        if (seq != expected) {
          // Keys arrive in ascending order, so seq > expected: a hole.
          return broken(expected,
                        prev_seq == 0
                            ? entry + " is missing (the chain starts at " + SeqText(seq) + ")"
                            : entry + " is missing (the chain jumps from " + SeqText(prev_seq) +
                                  " to " + SeqText(seq) + ")");
        }
        std::optional<AuditEntry> e = Decode(value);
        if (!e) return broken(seq, entry + " is damaged (not an audit record)");
        if (e->seq != seq) {
          return broken(seq, entry + " holds the contents of entry " + SeqText(e->seq) +
                                 " (moved or swapped)");
        }
        if (e->hash.size() != kHashBytes || e->prev_hash.size() != kHashBytes) {
          return broken(seq, entry + " is damaged (its hashes are not 32 bytes)");
        }
        if (e->prev_hash != prev_hash) {
          if (prev_seq == 0) {
            return broken(seq, entry + " does not start the chain (it links to a predecessor)");
          }
          return broken(seq, entry + " does not link to entry " + SeqText(prev_seq));
        }
        if (Hash(*e) != e->hash) {
          return broken(seq, entry +
                                 ": its hash does not match its contents (changed after it "
                                 "was written)");
        }
        prev_seq = seq;
        prev_hash = std::move(e->hash);
        return true;
      });
  if (!st.ok() && st.code() == StatusCode::kDataLoss && v.whole) {
    // A record the store cannot open (sealed at rest and altered since): the
    // scan stopped at it, right after the last entry that was whole.
    v.whole = false;
    v.first_broken_seq = prev_seq + 1;
    v.message = "entry " + SeqText(prev_seq + 1) +
                " cannot be read: it was altered or damaged in the store (" + st.message() + ")";
    return v;
  }
  if (!st.ok()) return st;
  return v;
}

}  // namespace chatpro::core
