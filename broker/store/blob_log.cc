// SPDX-License-Identifier: Apache-2.0
#include "broker/store/blob_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "broker/base/encoding.h"
#include "broker/base/file_io.h"

namespace chatpro::store {
namespace {

namespace fs = std::filesystem;

// "\xffCPBLOB\xff": a pointer value starts with it. A FlatBuffer starts with
// its root offset, which is never 0x...ff ff ff ff for a buffer of this size.
constexpr std::string_view kPointerMagic("\xff" "CPBLOB" "\xff", 8);
constexpr std::uint32_t kHeaderMagic = 0x43504231;  // "CPB1"
constexpr std::size_t kHeaderBytes = 12;             // magic u32 + length u64
constexpr std::size_t kPointerBytes = 8 + 4 + 8 + 8;
// Appends are written once this much is buffered, so that a big batch needs
// no more memory than this beyond its values.
constexpr std::size_t kFlushBytes = 1 << 20;
// Read descriptors kept open: reads go mostly to the newest files.
constexpr std::size_t kMaxReadFds = 8;
// Files written and not synced yet, the current one included.
constexpr std::size_t kMaxUnsyncedFiles = 3;

Status ErrnoStatus(const std::string& what) {
  int e = errno;
  std::string m = what + ": " + std::strerror(e);
  if (base::IsDiskFull(e)) return Status::ResourceExhausted("disk full: " + m);
  return Status::IoError(m);
}

void PutU32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
}
std::uint32_t GetU32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

bool WriteAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<BlobLog>> BlobLog::Open(const std::string& dir, std::uint64_t file_bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create blob folder " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  std::unique_ptr<BlobLog> log(new BlobLog(dir, file_bytes));
  std::uint32_t newest = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() == 13 && name.substr(8) == ".blob") {
      newest = std::max<std::uint32_t>(newest, static_cast<std::uint32_t>(std::strtoul(name.c_str(), nullptr, 10)));
    }
  }
  if (ec) return Status::IoError("cannot list blob folder " + dir + ": " + ec.message());
  CHATPRO_RETURN_IF_ERROR(log->StartFile(newest == 0 ? 1 : newest));
  return log;
}

BlobLog::~BlobLog() {
  if (current_fd_ >= 0) ::close(current_fd_);
  for (auto& [n, fd] : unsynced_) {
    if (fd != current_fd_) ::close(fd);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  read_fds_.clear();
}

std::string BlobLog::PathOf(std::uint32_t number) const {
  char name[32];
  std::snprintf(name, sizeof name, "%08u.blob", number);
  return dir_ + "/" + name;
}

Status BlobLog::StartFile(std::uint32_t number) {
  int fd = ::open(PathOf(number).c_str(), O_WRONLY | O_CREAT | O_APPEND | base::kOpenFlags, 0600);
  if (fd < 0) return ErrnoStatus("cannot open blob file " + PathOf(number));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return ErrnoStatus("cannot stat blob file " + PathOf(number));
  }
  if (current_fd_ >= 0 && unsynced_.count(current_) == 0) ::close(current_fd_);
  current_ = number;
  current_fd_ = fd;
  current_size_ = static_cast<std::uint64_t>(st.st_size);
  return Status::Ok();
}

void BlobLog::BeginBatch() {
  batch_file_ = current_;
  batch_size_ = current_size_;
}

void BlobLog::Rollback() {
  pending_.clear();
  // Files started during the batch hold nothing referenced: empty them.
  const off_t keep = current_ != batch_file_ ? 0 : static_cast<off_t>(batch_size_);
  if (::ftruncate(current_fd_, keep) != 0) { /* garbage stays; never referenced */ }
  // Appends continue from what the file really holds.
  struct stat st;
  if (::fstat(current_fd_, &st) == 0) current_size_ = static_cast<std::uint64_t>(st.st_size);
}

Result<BlobRef> BlobLog::Append(std::string_view bytes) {
  if (current_size_ >= file_bytes_) {
    CHATPRO_RETURN_IF_ERROR(Flush());
    unsynced_[current_] = current_fd_;  // sync it before it is left behind
    current_fd_ = -1;
    CHATPRO_RETURN_IF_ERROR(StartFile(current_ + 1));
    // Without synced writes (durability os) nothing else would ever close the
    // files left behind: sync and close the oldest beyond a few. By now the
    // kernel has written most of it back, so the sync is short.
    while (unsynced_.size() > kMaxUnsyncedFiles) {
      auto oldest = unsynced_.begin();
      if (base::SyncFile(oldest->second) != 0) {
        return ErrnoStatus("cannot sync blob file " + PathOf(oldest->first));
      }
      ::close(oldest->second);
      unsynced_.erase(oldest);
    }
  }
  char header[kHeaderBytes];
  PutU32(header, kHeaderMagic);
  std::string len;
  AppendBigEndian64(&len, bytes.size());
  std::memcpy(header + 4, len.data(), 8);
  if (pending_.empty() && bytes.size() >= kFlushBytes) {
    // A big value goes straight to the file instead of through the buffer.
    if (!WriteAll(current_fd_, header, sizeof header) ||
        !WriteAll(current_fd_, bytes.data(), bytes.size())) {
      return ErrnoStatus("cannot write blob file " + PathOf(current_));
    }
  } else {
    pending_.append(header, sizeof header);
    pending_.append(bytes.data(), bytes.size());
  }
  BlobRef ref{current_, current_size_ + kHeaderBytes, bytes.size()};
  current_size_ += kHeaderBytes + bytes.size();
  unsynced_[current_] = current_fd_;
  if (pending_.size() >= kFlushBytes) CHATPRO_RETURN_IF_ERROR(Flush());
  return ref;
}

Status BlobLog::Flush() {
  if (pending_.empty()) return Status::Ok();
  if (!WriteAll(current_fd_, pending_.data(), pending_.size())) {
    return ErrnoStatus("cannot write blob file " + PathOf(current_));
  }
  pending_.clear();
  return Status::Ok();
}

Status BlobLog::Sync() {
  CHATPRO_RETURN_IF_ERROR(Flush());
  for (auto it = unsynced_.begin(); it != unsynced_.end();) {
    if (base::SyncFile(it->second) != 0)
      return ErrnoStatus("cannot sync blob file " + PathOf(it->first));
    if (it->second != current_fd_) ::close(it->second);
    it = unsynced_.erase(it);
  }
  return Status::Ok();
}

BlobLog::ReadHandle::~ReadHandle() {
  if (fd >= 0) ::close(fd);
}

Result<std::shared_ptr<BlobLog::ReadHandle>> BlobLog::ReadFd(std::uint32_t number) {
  std::lock_guard<std::mutex> lock(mutex_);
  read_fd_used_[number] = ++read_fd_clock_;
  auto it = read_fds_.find(number);
  if (it != read_fds_.end()) return it->second;
  auto handle = std::make_shared<ReadHandle>();
  handle->fd = ::open(PathOf(number).c_str(), O_RDONLY | base::kOpenFlags);
  if (handle->fd < 0) {
    const int err = errno;
    read_fd_used_.erase(number);
    errno = err;
    if (err == ENOENT) return Status::DataLoss("blob file " + PathOf(number) + " is missing");
    return ErrnoStatus("cannot open blob file " + PathOf(number));
  }
  if (read_fds_.size() >= kMaxReadFds) {
    // Forget the least recently used; a reader still using it keeps it open
    // until it is done.
    auto oldest = read_fds_.begin();
    for (auto i = read_fds_.begin(); i != read_fds_.end(); ++i) {
      if (read_fd_used_[i->first] < read_fd_used_[oldest->first]) oldest = i;
    }
    read_fd_used_.erase(oldest->first);
    read_fds_.erase(oldest);
  }
  read_fds_[number] = handle;
  return handle;
}

Status BlobLog::ReadSpan(std::uint32_t file, std::uint64_t start, std::string* buf) {
  CHATPRO_ASSIGN_OR_RETURN(std::shared_ptr<ReadHandle> handle, ReadFd(file));
  const int fd = handle->fd;
  std::size_t done = 0;
  while (done < buf->size()) {
    long r = base::ReadAt(fd, buf->data() + done, buf->size() - done, start + done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoStatus("cannot read blob file " + PathOf(file));
    if (r == 0) return Status::DataLoss("blob file " + PathOf(file) + " is shorter than a pointer says");
    done += static_cast<std::size_t>(r);
  }
  return Status::Ok();
}

Result<std::string> BlobLog::Read(const BlobRef& ref) {
  CHATPRO_ASSIGN_OR_RETURN(std::vector<std::string> one, ReadMany({ref}));
  return std::move(one.front());
}

Result<std::vector<std::string>> BlobLog::ReadMany(const std::vector<BlobRef>& refs) {
  // Gaps up to this size (removed blobs, other conversations' messages) are
  // read through rather than paid for with another system call.
  constexpr std::uint64_t kMaxGapBytes = 4096;
  constexpr std::uint64_t kMaxSpanBytes = 4 << 20;
  std::vector<std::string> out;
  out.reserve(refs.size());
  std::string span;
  std::size_t i = 0;
  while (i < refs.size()) {
    if (refs[i].offset < kHeaderBytes) return Status::DataLoss("a blob pointer is damaged");
    const std::uint64_t start = refs[i].offset - kHeaderBytes;
    std::uint64_t end = refs[i].offset + refs[i].length;
    std::size_t j = i + 1;
    for (; j < refs.size(); ++j) {
      const BlobRef& next = refs[j];
      if (next.file != refs[i].file || next.offset < end + kHeaderBytes ||
          next.offset - kHeaderBytes - end > kMaxGapBytes ||
          next.offset + next.length - start > kMaxSpanBytes) {
        break;
      }
      end = next.offset + next.length;
    }
    span.assign(end - start, '\0');
    CHATPRO_RETURN_IF_ERROR(ReadSpan(refs[i].file, start, &span));
    for (; i < j; ++i) {
      const BlobRef& ref = refs[i];
      const std::string_view header(span.data() + (ref.offset - kHeaderBytes - start), kHeaderBytes);
      if (GetU32(header.data()) != kHeaderMagic ||
          ReadBigEndian64(header.substr(4, 8)) != ref.length) {
        return Status::DataLoss("blob file " + PathOf(ref.file) + " does not match its pointer");
      }
      out.emplace_back(span, ref.offset - start, ref.length);
    }
  }
  return out;
}

Status BlobLog::Release(const BlobRef& ref) { return ReleaseMany({ref}); }

Status BlobLog::ReleaseMany(std::vector<BlobRef> refs) {
  for (const BlobRef& ref : refs) {
    if (ref.offset < kHeaderBytes) return Status::DataLoss("a blob pointer is damaged");
  }
  std::sort(refs.begin(), refs.end(), [](const BlobRef& a, const BlobRef& b) {
    return a.file != b.file ? a.file < b.file : a.offset < b.offset;
  });
  Status first_error;
  std::size_t i = 0;
  while (i < refs.size()) {
    const std::uint32_t file = refs[i].file;
    int fd = ::open(PathOf(file).c_str(), O_WRONLY | base::kOpenFlags);
    if (fd < 0 && errno != ENOENT && first_error.ok()) {
      first_error = ErrnoStatus("cannot open blob file " + PathOf(file));
    }
    // Ranges of this file, merged where one blob (with its header) ends
    // where the next begins.
    while (i < refs.size() && refs[i].file == file) {
      std::uint64_t start = refs[i].offset - kHeaderBytes;
      std::uint64_t end = refs[i].offset + refs[i].length;
      for (++i; i < refs.size() && refs[i].file == file && refs[i].offset - kHeaderBytes <= end;
           ++i) {
        end = std::max(end, refs[i].offset + refs[i].length);
      }
      if (fd >= 0) {
        Status st = PunchOut(fd, file, start, end - start);
        if (!st.ok() && first_error.ok()) first_error = st;
      }
    }
    if (fd >= 0) ::close(fd);
  }
  return first_error;
}

Status BlobLog::PunchOut(int fd, std::uint32_t file, std::uint64_t start, std::uint64_t length) {
#ifdef FALLOC_FL_PUNCH_HOLE
  // A range smaller than a block is zeroed in place, so the bytes are gone
  // either way; whole blocks go back to the file system.
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(start),
                  static_cast<off_t>(length)) != 0) {
    return ErrnoStatus("cannot free blob bytes in " + PathOf(file));
  }
  return Status::Ok();
#else
  // Without hole punching, overwrite the bytes with zeros.
  std::string zeros(static_cast<size_t>(std::min<std::uint64_t>(length, 1 << 20)), '\0');
  for (std::uint64_t done = 0; done < length;) {
    size_t n = static_cast<size_t>(std::min<std::uint64_t>(length - done, zeros.size()));
    if (base::WriteAt(fd, zeros.data(), n, start + done) != static_cast<long>(n)) {
      return ErrnoStatus("cannot clear blob bytes in " + PathOf(file));
    }
    done += n;
  }
  return Status::Ok();
#endif
}

std::uint64_t BlobLog::SizeBytes() const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code e;
    if (it->is_regular_file(e)) total += it->file_size(e);
  }
  return total;
}

std::string BlobLog::EncodePointer(const BlobRef& ref) {
  std::string v(kPointerMagic);
  char file[4];
  PutU32(file, ref.file);
  v.append(file, 4);
  AppendBigEndian64(&v, ref.offset);
  AppendBigEndian64(&v, ref.length);
  return v;
}

bool BlobLog::LooksLikePointer(std::string_view value) {
  return value.substr(0, kPointerMagic.size()) == kPointerMagic;
}

bool BlobLog::DecodePointer(std::string_view value, BlobRef* ref) {
  if (value.size() != kPointerBytes || !LooksLikePointer(value)) return false;
  ref->file = GetU32(value.data() + 8);
  ref->offset = ReadBigEndian64(value.substr(12));
  ref->length = ReadBigEndian64(value.substr(20));
  return true;
}

}  // namespace chatpro::store
