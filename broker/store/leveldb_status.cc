// SPDX-License-Identifier: Apache-2.0
#include "broker/store/leveldb_status.h"

#include <string>

namespace chatpro::store {
namespace {

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// LevelDB reports a held lock as an IOError whose context is "lock <dir>/LOCK"
// (env_posix: "already held by process" inside one process, EAGAIN/EACCES from
// fcntl across processes; env_windows the same context with LockFileEx's
// error). The text is the only signal it gives. Failing to open the LOCK file
// itself has the bare file name as context and is an ordinary I/O error.
bool IsLockHeld(const leveldb::Status& s, std::string_view text) {
  constexpr std::string_view kPrefix = "IO error: lock ";
  return s.IsIOError() && text.substr(0, kPrefix.size()) == kPrefix && Contains(text, "LOCK");
}

// strerror(ENOSPC), strerror(EDQUOT) and Windows' ERROR_DISK_FULL /
// ERROR_HANDLE_DISK_FULL texts.
bool IsDiskFull(std::string_view text) {
  return Contains(text, "No space left") || Contains(text, "Disk quota exceeded") ||
         Contains(text, "not enough space on the disk") || Contains(text, "disk is full");
}

}  // namespace

Status FromLevelDbStatus(const leveldb::Status& s, std::string_view data_dir) {
  if (s.ok()) return Status::Ok();
  const std::string text = s.ToString();
  const std::string dir(data_dir);
  if (IsLockHeld(s, text)) {
    return Status::FailedPrecondition(
        "the data directory " + dir +
        " is in use by another chatpro-broker (LevelDB lock held: " + text + ")");
  }
  if (IsDiskFull(text)) {
    return Status::ResourceExhausted("disk full writing the store in " + dir + ": " + text);
  }
  if (s.IsCorruption()) {
    return Status::DataLoss("the store in " + dir + " is damaged: " + text);
  }
  if (s.IsInvalidArgument() || s.IsNotSupportedError()) {
    return Status::FailedPrecondition("the store in " + dir + " cannot be used: " + text);
  }
  return Status::IoError("store I/O error in " + dir + ": " + text);
}

}  // namespace chatpro::store
