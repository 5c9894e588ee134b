// SPDX-License-Identifier: Apache-2.0
//
// BlobLog: append-only files for message values, so that LevelDB keeps only a
// small pointer to each and never copies the value again in its own log,
// tables and compactions (key-value separation, as in WiscKey). Pictures and
// voice gain most; for short texts it still saves LevelDB most of its bytes.
//
// Files live in `<data_dir>/blobs` as 00000001.blob, 00000002.blob, ...; a
// new file starts once the current one passes `file_bytes`. Each blob is
// written with a small header (magic, length) so that a damaged pointer is
// detected rather than followed. A blob whose pointer never reached LevelDB
// (a crash between the two writes) is unreferenced garbage, never wrong data.
//
// Appends are buffered: a batch's values reach the file in one write at
// Flush() (or Sync()), which must come before any pointer to them is written
// elsewhere.
//
// Lifecycle: Open() finds the files and continues the newest; Append(),
// Flush(), Sync() and Release() from one writer thread; Read() from any
// thread at the same time.
// Thread-safety: as above; Read() takes an internal lock to find the file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"

namespace chatpro::store {

struct BlobRef {
  std::uint32_t file = 0;
  std::uint64_t offset = 0;  // of the blob's bytes (after the header)
  std::uint64_t length = 0;
};

class BlobLog {
 public:
  // On failure returns IoError naming the folder.
  static Result<std::unique_ptr<BlobLog>> Open(const std::string& dir, std::uint64_t file_bytes);
  ~BlobLog();
  BlobLog(const BlobLog&) = delete;
  BlobLog& operator=(const BlobLog&) = delete;

  // Appends `bytes` (buffered; see Flush). On failure (ResourceExhausted if
  // the disk is full, IoError otherwise) nothing of this batch's appends is
  // kept: call Rollback() to cut the file back to where the batch started.
  Result<BlobRef> Append(std::string_view bytes);
  // Writes what Append() has buffered to the file (not synced). REQUIRES:
  // called before a pointer returned by Append() is stored anywhere. On
  // failure: as Append().
  Status Flush();
  // Marks where the current batch starts, for Rollback().
  void BeginBatch();
  void Rollback();
  // Makes every append so far durable (Flush, then fdatasync of each file
  // written since the last Sync()).
  Status Sync();

  // Frees a blob whose pointer is gone: its bytes (and header) are punched out
  // of the file, so they are really gone from the disk, not just unreferenced.
  Status Release(const BlobRef& ref);
  // Release() of many blobs: neighbouring blobs (a conversation's messages
  // removed together) are punched out as one range, one open per file.
  Status ReleaseMany(std::vector<BlobRef> refs);

  // Reads a blob. DataLoss if the header does not match the pointer.
  Result<std::string> Read(const BlobRef& ref);
  // Reads blobs in the given order, neighbours in one read (a conversation's
  // messages written together lie side by side). As Read() otherwise.
  Result<std::vector<std::string>> ReadMany(const std::vector<BlobRef>& refs);

  // Bytes in all blob files.
  std::uint64_t SizeBytes() const;

  // The encoded pointer kept in LevelDB: a marker no ChatPro message starts
  // with, then file, offset and length.
  static std::string EncodePointer(const BlobRef& ref);
  // True if `value` is an encoded pointer (and sets *ref).
  static bool DecodePointer(std::string_view value, BlobRef* ref);
  // True if `value` must go through the blob log even if small, because it
  // would otherwise be mistaken for a pointer.
  static bool LooksLikePointer(std::string_view value);

 private:
  BlobLog(std::string dir, std::uint64_t file_bytes) : dir_(std::move(dir)), file_bytes_(file_bytes) {}
  Status StartFile(std::uint32_t number);
  std::string PathOf(std::uint32_t number) const;
  // An open descriptor for reading file `number`, closed once neither the
  // cache nor a reader holds it.
  struct ReadHandle {
    int fd = -1;
    ~ReadHandle();
  };
  Result<std::shared_ptr<ReadHandle>> ReadFd(std::uint32_t number);
  Status ReadSpan(std::uint32_t file, std::uint64_t start, std::string* buf);
  Status PunchOut(int fd, std::uint32_t file, std::uint64_t start, std::uint64_t length);

  const std::string dir_;
  const std::uint64_t file_bytes_;
  // Writer side.
  std::uint32_t current_ = 0;
  int current_fd_ = -1;
  std::uint64_t current_size_ = 0;  // including pending_
  std::string pending_;             // appended, not written yet
  std::uint32_t batch_file_ = 0;
  std::uint64_t batch_size_ = 0;
  std::map<std::uint32_t, int> unsynced_;  // file -> fd written since the last Sync
  // Reader side.
  mutable std::mutex mutex_;
  // The most recently used files' read descriptors (at most kMaxReadFds), so
  // that a store of many blob files does not hold a descriptor per file.
  std::map<std::uint32_t, std::shared_ptr<ReadHandle>> read_fds_;  // GUARDED_BY(mutex_)
  std::map<std::uint32_t, std::uint64_t> read_fd_used_;            // GUARDED_BY(mutex_)
  std::uint64_t read_fd_clock_ = 0;                                // GUARDED_BY(mutex_)
};

}  // namespace chatpro::store
