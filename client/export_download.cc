// SPDX-License-Identifier: Apache-2.0
//
// Client::DownloadExport: a finished export, chunk by chunk, into a file that
// appears only whole. The bytes go into a temporary file beside the target
// (so that the rename stays on one file system), which is synced before it
// takes the target's name; on any failure the temporary file is removed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include "client/client.h"

namespace chatpro::client {
namespace {

namespace fs = std::filesystem;

std::string Errno() { return std::strerror(errno); }

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// The temporary file beside the target: created with mode 0600, removed by
// the destructor unless Commit() renamed it.
class TempFile {
 public:
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  Status Create(const std::string& target) {
    fs::path p(target);
    std::string name = "." + p.filename().string() + ".part-XXXXXX";
    std::string tmpl = (p.parent_path() / name).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    fd_ = ::mkstemp(buf.data());
    if (fd_ < 0) return Status::IoError("cannot create a file beside " + target + ": " + Errno());
    path_ = buf.data();
    if (::fchmod(fd_, S_IRUSR | S_IWUSR) != 0) {
      return Status::IoError("cannot make " + path_ + " private: " + Errno());
    }
    return Status::Ok();
  }

  Status Write(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IoError("cannot write " + path_ + ": " + Errno());
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return Status::Ok();
  }

  // Syncs and closes the file, then gives it the name `target`: replacing
  // what is there, or (`replace` false) only if nothing is.
  Status Commit(const std::string& target, bool replace) {
    if (::fsync(fd_) != 0) return Status::IoError("cannot sync " + path_ + ": " + Errno());
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Status::IoError("cannot close " + path_ + ": " + Errno());
    if (replace) {
      if (::rename(path_.c_str(), target.c_str()) != 0) {
        return Status::IoError("cannot move " + path_ + " to " + target + ": " + Errno());
      }
    } else if (::link(path_.c_str(), target.c_str()) == 0) {
      // A hard link fails if the name is taken: no window in which another
      // file at `target` could be replaced.
      ::unlink(path_.c_str());
    } else if (errno == EEXIST) {
      return Status::AlreadyExists(target + " exists already");
    } else {
      // A file system without hard links: check, then rename.
      if (Exists(target)) return Status::AlreadyExists(target + " exists already");
      if (::rename(path_.c_str(), target.c_str()) != 0) {
        return Status::IoError("cannot move " + path_ + " to " + target + ": " + Errno());
      }
    }
    path_.clear();
    // The new name is durable once the folder is synced; a folder that
    // cannot be opened or synced leaves the file in place all the same.
    std::string dir = fs::path(target).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      (void)::fsync(dfd);
      ::close(dfd);
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
  std::string path_;  // empty once renamed
};

}  // namespace

Status Client::DownloadExport(std::uint64_t export_id, const std::string& path,
                              const ExportProgress& progress, ExistingFile existing) {
  if (export_id == 0) return Status::InvalidArgument("name the export by its id");
  if (path.empty()) return Status::InvalidArgument("name the file to download into");
  const bool replace = existing == ExistingFile::kReplace;
  if (!replace && Exists(path)) return Status::AlreadyExists(path + " exists already");

  TempFile tmp;
  CHATPRO_RETURN_IF_ERROR(tmp.Create(path));
  const std::string what = "export " + std::to_string(export_id);
  std::uint64_t offset = 0;
  std::uint64_t total = 0;
  for (bool first = true;; first = false) {
    CHATPRO_ASSIGN_OR_RETURN(ExportChunk chunk,
                             ReadExportChunk(export_id, offset, kExportChunkBytes));
    const std::uint64_t size = chunk.data.size();
    if (chunk.export_id != export_id) {
      return Status::DataLoss(what + ": the broker sent a chunk of export " +
                              std::to_string(chunk.export_id));
    }
    if (chunk.offset != offset) {
      return Status::DataLoss(what + ": the broker sent a chunk at offset " +
                              std::to_string(chunk.offset) + " where " + std::to_string(offset) +
                              " was asked for");
    }
    if (size > kExportChunkBytes) {
      return Status::DataLoss(what + ": a chunk of " + std::to_string(size) +
                              " bytes, more than the " + std::to_string(kExportChunkBytes) +
                              " asked for");
    }
    if (first) {
      total = chunk.total_bytes;
    } else if (chunk.total_bytes != total) {
      return Status::DataLoss(what + ": the file's size changed from " + std::to_string(total) +
                              " to " + std::to_string(chunk.total_bytes) + " bytes");
    }
    if (size > total - offset) {
      return Status::DataLoss(what + ": a chunk reaches past the end of the " +
                              std::to_string(total) + "-byte file");
    }
    if (chunk.done && offset + size != total) {
      return Status::DataLoss(what + ": the file ended after " + std::to_string(offset + size) +
                              " of " + std::to_string(total) + " bytes");
    }
    if (!chunk.done && size == 0) {
      return Status::DataLoss(what + ": an empty chunk at offset " + std::to_string(offset) +
                              " of " + std::to_string(total) + " bytes");
    }
    CHATPRO_RETURN_IF_ERROR(tmp.Write(chunk.data));
    offset += size;
    if (progress) progress(offset, total);
    if (chunk.done) break;
  }
  return tmp.Commit(path, replace);
}

}  // namespace chatpro::client
