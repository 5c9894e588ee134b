// SPDX-License-Identifier: Apache-2.0
#include "broker/core/store_format.h"

#include <sodium.h>

#include "broker/base/encoding.h"

namespace chatpro::core {
namespace {

std::string NewStoreId() {
  unsigned char id[16];
  randombytes_buf(id, sizeof id);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(id), sizeof id));
}

Status GiveStoreId(MessageStore& store, WriteBatch* batch) {
  // Idempotent: a store that has an id keeps it.
  CHATPRO_ASSIGN_OR_RETURN(std::optional<std::string> id,
                           store.GetRecord(RecordKind::kMeta, kStoreIdRecord));
  if (!id) batch->records.push_back({RecordKind::kMeta, std::string(kStoreIdRecord), NewStoreId()});
  return Status::Ok();
}

}  // namespace

const std::vector<StoreMigration>& StoreMigrations() {
  static const std::vector<StoreMigration> table = {
      {2, "gives the store an identity (store_id), which backups record", GiveStoreId},
  };
  return table;
}

Result<int> ReadStoreFormat(MessageStore& store) {
  CHATPRO_ASSIGN_OR_RETURN(std::optional<std::string> text,
                           store.GetRecord(RecordKind::kMeta, kFormatRecord));
  if (!text) return 0;
  int version = 0;
  bool digits = !text->empty() && text->size() <= 6;
  for (char c : *text) {
    if (c < '0' || c > '9') {
      digits = false;
      break;
    }
    version = version * 10 + (c - '0');
  }
  if (!digits || version == 0) {
    return Status::DataLoss("the store's format record is damaged ('" + text->substr(0, 16) +
                            "' is not a version)");
  }
  return version;
}

Status CheckStoreFormat(int format) {
  const std::string reads = std::to_string(kStoreFormat);
  if (format > kStoreFormat) {
    return Status::FailedPrecondition("the store was made by a newer broker (format " +
                                      std::to_string(format) + "); this broker reads up to " +
                                      reads + ": upgrade the broker or restore a backup");
  }
  if (format != 0 && format < kOldestMigratableFormat) {
    return Status::FailedPrecondition(
        "the store has format " + std::to_string(format) +
        (format == 1 ? " (written by a development build, before encryption at rest)" : "") +
        ", which this broker cannot migrate: it migrates formats " +
        std::to_string(kOldestMigratableFormat) + " to " + reads +
        ". Restore a backup made by a broker that reads format " +
        std::to_string(kOldestMigratableFormat) + " or later");
  }
  return Status::Ok();
}

void InitStoreFormat(WriteBatch* batch) {
  batch->records.push_back(
      {RecordKind::kMeta, std::string(kFormatRecord), std::to_string(kStoreFormat)});
  batch->records.push_back({RecordKind::kMeta, std::string(kStoreIdRecord), NewStoreId()});
}

Result<std::string> ReadStoreId(MessageStore& store) {
  CHATPRO_ASSIGN_OR_RETURN(std::optional<std::string> id,
                           store.GetRecord(RecordKind::kMeta, kStoreIdRecord));
  return id.value_or(std::string());
}

Result<std::vector<const StoreMigration*>> MigrateStore(
    MessageStore& store, int format,
    const std::function<void(const StoreMigration& step, WriteBatch* batch)>& note) {
  CHATPRO_RETURN_IF_ERROR(CheckStoreFormat(format));
  std::vector<const StoreMigration*> done;
  for (int version = format; version < kStoreFormat; ++version) {
    const StoreMigration* step = nullptr;
    for (const StoreMigration& m : StoreMigrations()) {
      if (m.from == version) step = &m;
    }
    if (step == nullptr) {
      return Status::Internal("no migration from store format " + std::to_string(version));
    }
    WriteBatch batch;
    CHATPRO_RETURN_IF_ERROR(step->apply(store, &batch));
    if (note) note(*step, &batch);
    batch.records.push_back(
        {RecordKind::kMeta, std::string(kFormatRecord), std::to_string(version + 1)});
    CHATPRO_RETURN_IF_ERROR(store.Write(batch, true));
    done.push_back(step);
  }
  return done;
}

}  // namespace chatpro::core
