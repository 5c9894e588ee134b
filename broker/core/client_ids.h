// SPDX-License-Identifier: Apache-2.0
//
// ClientIdIndex: which client message ids each device has already sent, so
// that a resend has exactly one effect, also across broker restarts.
//
// It costs one store record per sending device per write batch, not one per
// message: ids above the device's highest so far (the normal case: ChatPro
// clients make increasing ids) are kept together in a "run" record keyed by
// the run's highest id; the rare id that is not above the highest gets a
// "point" record of its own. A new id above the highest needs no lookup at
// all; a resend is found with one seek. Ids of messages whose batch is not
// stored yet are found in memory.
//
// Thread-safety: none; used by the broker's event-loop thread.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/core/message_store.h"

namespace chatpro::core {

// The largest client message id is reserved (the index keeps each device's
// highest id under it); valid ids are 1 .. kMaxClientMsgId - 1.
constexpr ClientMsgId kMaxClientMsgId = ~ClientMsgId{0};

class ClientIdIndex {
 public:
  struct Ref {
    ConversationId conversation;
    Seq seq = 0;
    std::int64_t sent_at_us = 0;
  };

  explicit ClientIdIndex(MessageStore* store) : store_(store) {}
  ClientIdIndex(const ClientIdIndex&) = delete;
  ClientIdIndex& operator=(const ClientIdIndex&) = delete;

  // The message `device` sent with `id`, if any (stored or on its way).
  // On failure returns the store's error.
  Result<std::optional<Ref>> Find(DeviceId device, ClientMsgId id);

  // The highest id `device` has used (stored or on its way), 0 if none.
  Result<ClientMsgId> HighestId(DeviceId device);

  // Records that `device` sent `id` as `ref`, in the batch being filled.
  // REQUIRES: Find(device, id) found nothing.
  Status Add(DeviceId device, ClientMsgId id, Ref ref);

  // Appends the records for everything Add()ed since the last call to
  // `batch`, which will be submitted as number `batch_number`.
  void AppendRecords(std::uint64_t batch_number, WriteBatch* batch);

  // Batch `batch_number` (and every one before it) is stored: its ids can be
  // found in the store from now on.
  void Committed(std::uint64_t batch_number);

 private:
  struct DeviceState {
    ClientMsgId max_known = 0;     // highest id seen, stored or not
    ClientMsgId max_recorded = 0;  // highest id covered by appended records
    // Ids not yet stored: those above max_known when they came (the normal
    // case) in increasing order, the others in a map.
    std::deque<std::pair<ClientMsgId, Ref>> unstored_run;
    std::map<ClientMsgId, Ref> unstored_other;
    std::vector<std::pair<ClientMsgId, Ref>> to_record;  // since the last AppendRecords
  };

  Result<DeviceState*> State(DeviceId device);

  MessageStore* const store_;
  std::unordered_map<DeviceId, DeviceState> devices_;
  std::vector<DeviceId> dirty_;  // devices with to_record entries
  // (batch number, device, id) of unstored entries, oldest first.
  struct Unstored {
    std::uint64_t batch;
    DeviceId device;
    ClientMsgId id;
    bool in_run;  // in the device's unstored_run, else in unstored_other
  };
  std::deque<Unstored> unstored_order_;
  std::vector<Unstored> pending_batch_;  // Add()ed, batch number not known yet
};

}  // namespace chatpro::core
