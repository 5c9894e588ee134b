// SPDX-License-Identifier: Apache-2.0
//
// The one place where a leveldb::Status becomes a chatpro::Status. Internal to
// broker/store: only leveldb_message_store.cc and the store's tests include it.
//
// Thread-safety: a pure function.
#pragma once

#include <leveldb/status.h>

#include <string_view>

#include "broker/base/status.h"

namespace chatpro::store {

// Maps a LevelDB outcome to the canonical code set; `data_dir` names the
// store's data directory in the messages an administrator reads.
//   OK                                   -> OK
//   the LOCK file is held                -> FailedPrecondition ("the data directory
//                                           X is in use by another chatpro-broker")
//   no space left / disk quota exceeded  -> ResourceExhausted ("disk full ...")
//   Corruption                           -> DataLoss
//   InvalidArgument, NotSupported        -> FailedPrecondition (the files are not
//                                           a store this build can open)
//   other IO errors, NotFound            -> IoError
Status FromLevelDbStatus(const leveldb::Status& s, std::string_view data_dir);

}  // namespace chatpro::store
