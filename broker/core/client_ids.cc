// SPDX-License-Identifier: Apache-2.0
#include "broker/core/client_ids.h"

#include <algorithm>

#include "broker/base/encoding.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"
#include "schemas/vectors.h"

namespace chatpro::core {
namespace {

constexpr ClientMsgId kMarker = kMaxClientMsgId;

std::string DedupeKey(DeviceId device, ClientMsgId id) {
  return store_keys::U64Key(device.value(), id);
}

std::string EncodeRecord(const std::vector<std::pair<ClientMsgId, ClientIdIndex::Ref>>& entries,
                         bool point) {
  flatbuffers::FlatBufferBuilder fbb(64 + entries.size() * 24);
  std::vector<store::DedupeEntry> structs;
  structs.reserve(entries.size());
  for (const auto& [id, ref] : entries) {
    structs.emplace_back(id, ref.conversation.value(), ref.seq, ref.sent_at_us);
  }
  auto v = fbb.CreateVectorOfStructs(structs);
  fbb.Finish(store::CreateDedupeRecord(fbb, v, point));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace

Result<ClientIdIndex::DeviceState*> ClientIdIndex::State(DeviceId device) {
  auto it = devices_.find(device);
  if (it != devices_.end()) return &it->second;
  Result<std::optional<std::string>> marker =
      store_->GetRecord(RecordKind::kDedupe, DedupeKey(device, kMarker));
  if (!marker.ok()) return marker.status();
  DeviceState& st = devices_[device];
  if (marker->has_value() && (*marker)->size() == 8) {
    st.max_known = st.max_recorded = ReadBigEndian64(**marker);
  }
  return &st;
}

Result<std::optional<ClientIdIndex::Ref>> ClientIdIndex::Find(DeviceId device, ClientMsgId id) {
  CHATPRO_ASSIGN_OR_RETURN(DeviceState * st, State(device));
  // The common case: a new id above every id the device used before.
  if (id > st->max_known || id == kMarker) return std::optional<Ref>();
  auto run = std::lower_bound(
      st->unstored_run.begin(), st->unstored_run.end(), id,
      [](const std::pair<ClientMsgId, Ref>& e, ClientMsgId v) { return e.first < v; });
  if (run != st->unstored_run.end() && run->first == id) return std::optional<Ref>(run->second);
  auto other = st->unstored_other.find(id);
  if (other != st->unstored_other.end()) return std::optional<Ref>(other->second);

  std::optional<Ref> found;
  Status bad;
  std::string scratch;
  std::string prefix = store_keys::U64Key(device.value());
  Status scan = store_->ScanRecords(
      RecordKind::kDedupe, DedupeKey(device, id), [&](std::string_view key, std::string_view value) {
        if (key.size() != 16 || key.substr(0, 8) != prefix) return false;
        if (ReadBigEndian64(key.substr(8)) == kMarker) return false;
        const auto* r = VerifiedRecord<store::DedupeRecord>(value, &scratch);
        if (r == nullptr) {
          bad = Status::DataLoss("a client message id record in the store is damaged");
          return false;
        }
        if (r->entries() != nullptr) {
          for (flatbuffers::uoffset_t i = 0; i < r->entries()->size(); ++i) {
            const store::DedupeEntry e = schemas::StructAt(*r->entries(), i);
            if (e.client_msg_id() == id) {
              found = Ref{ConversationId(e.conversation_id()), e.seq(), e.sent_at_us()};
              return false;
            }
          }
        }
        // A run record covers every id between the previous run and its key;
        // if `id` is not in it, no later record has it either.
        return r->point();
      });
  CHATPRO_RETURN_IF_ERROR(scan);
  CHATPRO_RETURN_IF_ERROR(bad);
  return found;
}

Result<ClientMsgId> ClientIdIndex::HighestId(DeviceId device) {
  CHATPRO_ASSIGN_OR_RETURN(DeviceState * st, State(device));
  return st->max_known;
}

Status ClientIdIndex::Add(DeviceId device, ClientMsgId id, Ref ref) {
  CHATPRO_ASSIGN_OR_RETURN(DeviceState * st, State(device));
  if (st->to_record.empty()) dirty_.push_back(device);
  st->to_record.emplace_back(id, ref);
  bool in_run = id > st->max_known;
  if (in_run) {
    st->unstored_run.emplace_back(id, ref);
    st->max_known = id;
  } else {
    st->unstored_other[id] = ref;
  }
  pending_batch_.push_back({0, device, id, in_run});
  return Status::Ok();
}

void ClientIdIndex::AppendRecords(std::uint64_t batch_number, WriteBatch* batch) {
  for (DeviceId device : dirty_) {
    DeviceState& st = devices_[device];
    std::vector<std::pair<ClientMsgId, Ref>> run;
    for (const auto& entry : st.to_record) {
      if (entry.first > st.max_recorded) {
        run.push_back(entry);
        st.max_recorded = entry.first;
      } else {
        batch->records.push_back({RecordKind::kDedupe, DedupeKey(device, entry.first),
                                  EncodeRecord({entry}, /*point=*/true)});
      }
    }
    if (!run.empty()) {
      batch->records.push_back({RecordKind::kDedupe, DedupeKey(device, run.back().first),
                                EncodeRecord(run, /*point=*/false)});
      std::string max;
      AppendBigEndian64(&max, st.max_recorded);
      batch->records.push_back({RecordKind::kDedupe, DedupeKey(device, kMarker), std::move(max)});
    }
    st.to_record.clear();
  }
  dirty_.clear();
  for (Unstored& u : pending_batch_) {
    u.batch = batch_number;
    unstored_order_.push_back(u);
  }
  pending_batch_.clear();
}

void ClientIdIndex::Committed(std::uint64_t batch_number) {
  while (!unstored_order_.empty() && unstored_order_.front().batch <= batch_number) {
    const Unstored& u = unstored_order_.front();
    auto it = devices_.find(u.device);
    if (it != devices_.end()) {
      DeviceState& st = it->second;
      // Batches are stored in order, so a run entry is its deque's oldest.
      if (u.in_run) {
        if (!st.unstored_run.empty() && st.unstored_run.front().first == u.id) {
          st.unstored_run.pop_front();
        }
      } else {
        st.unstored_other.erase(u.id);
      }
    }
    unstored_order_.pop_front();
  }
}

}  // namespace chatpro::core
