// SPDX-License-Identifier: Apache-2.0
#include "broker/store/blob_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
  for (auto& [n, fd] : read_fds_) ::close(fd);
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
  // Files started during the batch hold nothing referenced: empty them.
  if (current_ != batch_file_) {
    if (::ftruncate(current_fd_, 0) != 0) { /* garbage stays; never referenced */ }
    current_size_ = 0;
    return;
  }
  if (::ftruncate(current_fd_, static_cast<off_t>(batch_size_)) == 0) current_size_ = batch_size_;
}

Result<BlobRef> BlobLog::Append(std::string_view bytes) {
  if (current_size_ >= file_bytes_) {
    unsynced_[current_] = current_fd_;  // sync it before it is left behind
    current_fd_ = -1;
    CHATPRO_RETURN_IF_ERROR(StartFile(current_ + 1));
  }
  char header[kHeaderBytes];
  PutU32(header, kHeaderMagic);
  std::string len;
  AppendBigEndian64(&len, bytes.size());
  std::memcpy(header + 4, len.data(), 8);
  if (!WriteAll(current_fd_, header, sizeof header) ||
      !WriteAll(current_fd_, bytes.data(), bytes.size())) {
    return ErrnoStatus("cannot write blob file " + PathOf(current_));
  }
  BlobRef ref{current_, current_size_ + kHeaderBytes, bytes.size()};
  current_size_ += kHeaderBytes + bytes.size();
  unsynced_[current_] = current_fd_;
  return ref;
}

Status BlobLog::Sync() {
  for (auto it = unsynced_.begin(); it != unsynced_.end();) {
    if (base::SyncFile(it->second) != 0)
      return ErrnoStatus("cannot sync blob file " + PathOf(it->first));
    if (it->second != current_fd_) ::close(it->second);
    it = unsynced_.erase(it);
  }
  return Status::Ok();
}

Result<int> BlobLog::ReadFd(std::uint32_t number) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = read_fds_.find(number);
  if (it != read_fds_.end()) return it->second;
  int fd = ::open(PathOf(number).c_str(), O_RDONLY | base::kOpenFlags);
  if (fd < 0) {
    if (errno == ENOENT) return Status::DataLoss("blob file " + PathOf(number) + " is missing");
    return ErrnoStatus("cannot open blob file " + PathOf(number));
  }
  read_fds_[number] = fd;
  return fd;
}

Result<std::string> BlobLog::Read(const BlobRef& ref) {
  CHATPRO_ASSIGN_OR_RETURN(int fd, ReadFd(ref.file));
  if (ref.offset < kHeaderBytes) return Status::DataLoss("a blob pointer is damaged");
  std::string buf(kHeaderBytes + ref.length, '\0');
  std::size_t done = 0;
  while (done < buf.size()) {
    long r =
        base::ReadAt(fd, buf.data() + done, buf.size() - done, ref.offset - kHeaderBytes + done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoStatus("cannot read blob file " + PathOf(ref.file));
    if (r == 0) return Status::DataLoss("blob file " + PathOf(ref.file) + " is shorter than a pointer says");
    done += static_cast<std::size_t>(r);
  }
  if (GetU32(buf.data()) != kHeaderMagic ||
      ReadBigEndian64(std::string_view(buf).substr(4, 8)) != ref.length) {
    return Status::DataLoss("blob file " + PathOf(ref.file) + " does not match its pointer");
  }
  buf.erase(0, kHeaderBytes);
  return buf;
}

Status BlobLog::Release(const BlobRef& ref) {
  if (ref.offset < kHeaderBytes) return Status::DataLoss("a blob pointer is damaged");
  int fd = ::open(PathOf(ref.file).c_str(), O_WRONLY | base::kOpenFlags);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoStatus("cannot open blob file " + PathOf(ref.file));
  }
  off_t start = static_cast<off_t>(ref.offset - kHeaderBytes);
  off_t length = static_cast<off_t>(ref.length + kHeaderBytes);
  Status st;
#ifdef FALLOC_FL_PUNCH_HOLE
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, start, length) != 0) {
    st = ErrnoStatus("cannot free blob bytes in " + PathOf(ref.file));
  }
#else
  // Without hole punching, overwrite the bytes with zeros.
  std::string zeros(static_cast<size_t>(std::min<off_t>(length, 1 << 20)), '\0');
  for (off_t done = 0; done < length && st.ok();) {
    size_t n = static_cast<size_t>(std::min<off_t>(length - done, static_cast<off_t>(zeros.size())));
    if (base::WriteAt(fd, zeros.data(), n, static_cast<std::uint64_t>(start + done)) !=
        static_cast<long>(n)) {
      st = ErrnoStatus("cannot clear blob bytes in " + PathOf(ref.file));
    }
    done += static_cast<off_t>(n);
  }
#endif
  ::close(fd);
  return st;
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
