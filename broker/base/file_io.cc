// SPDX-License-Identifier: Apache-2.0
#include "broker/base/file_io.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#if defined(_WIN32)
#include <direct.h>
#include <io.h>
#include <windows.h>
// After windows.h.
#include <knownfolders.h>
#include <shlobj.h>
#else
#include <unistd.h>
#endif

namespace chatpro::base {

#if defined(_WIN32)

namespace {

HANDLE HandleOf(int fd) { return reinterpret_cast<HANDLE>(_get_osfhandle(fd)); }

OVERLAPPED At(std::uint64_t offset) {
  OVERLAPPED at{};
  at.Offset = static_cast<DWORD>(offset & 0xffffffffu);
  at.OffsetHigh = static_cast<DWORD>(offset >> 32);
  return at;
}

std::wstring Wide(const std::string& utf8) {
  int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

}  // namespace

long ReadAt(int fd, void* buffer, std::size_t n, std::uint64_t offset) {
  OVERLAPPED at = At(offset);
  DWORD got = 0;
  if (!::ReadFile(HandleOf(fd), buffer, static_cast<DWORD>(n), &got, &at)) {
    if (GetLastError() == ERROR_HANDLE_EOF) return 0;
    errno = EIO;
    return -1;
  }
  return static_cast<long>(got);
}

long WriteAt(int fd, const void* buffer, std::size_t n, std::uint64_t offset) {
  OVERLAPPED at = At(offset);
  DWORD put = 0;
  if (!::WriteFile(HandleOf(fd), buffer, static_cast<DWORD>(n), &put, &at)) {
    errno = GetLastError() == ERROR_DISK_FULL ? ENOSPC : EIO;
    return -1;
  }
  return static_cast<long>(put);
}

int SyncFile(int fd) {
  if (::FlushFileBuffers(HandleOf(fd))) return 0;
  errno = EIO;
  return -1;
}

int SyncFolder(const std::string&) { return 0; }

int MoveReplacing(const std::string& from, const std::string& to) {
  if (::MoveFileExW(Wide(from).c_str(), Wide(to).c_str(),
                    MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    return 0;
  }
  errno = GetLastError() == ERROR_ACCESS_DENIED ? EACCES : EIO;
  return -1;
}

int MakeFolder(const std::string& path, int) { return ::_mkdir(path.c_str()); }

int PathTaken(const std::string& path) {
  if (::GetFileAttributesW(Wide(path).c_str()) != INVALID_FILE_ATTRIBUTES) return 0;
  DWORD error = GetLastError();
  return error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND ? ENOENT : EIO;
}

bool OthersMayRead(unsigned) { return false; }

bool IsDiskFull(int err) { return err == ENOSPC; }

std::string ProgramDataFolder() {
  PWSTR wide = nullptr;
  std::string out;
  if (SUCCEEDED(::SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &wide))) {
    int n = WideCharToMultiByte(CP_UTF8, 0, wide, -1, nullptr, 0, nullptr, nullptr);
    if (n > 1) {
      out.resize(static_cast<std::size_t>(n - 1));
      WideCharToMultiByte(CP_UTF8, 0, wide, -1, out.data(), n, nullptr, nullptr);
    }
  }
  ::CoTaskMemFree(wide);
  if (out.empty()) {
    const char* env = std::getenv("ProgramData");
    out = env != nullptr && *env != '\0' ? env : "C:\\ProgramData";
  }
  return out;
}

#else

long ReadAt(int fd, void* buffer, std::size_t n, std::uint64_t offset) {
  return static_cast<long>(::pread(fd, buffer, n, static_cast<off_t>(offset)));
}

long WriteAt(int fd, const void* buffer, std::size_t n, std::uint64_t offset) {
  return static_cast<long>(::pwrite(fd, buffer, n, static_cast<off_t>(offset)));
}

int SyncFile(int fd) { return ::fdatasync(fd); }

int SyncFolder(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

int MoveReplacing(const std::string& from, const std::string& to) {
  return std::rename(from.c_str(), to.c_str());
}

int MakeFolder(const std::string& path, int mode) {
  return ::mkdir(path.c_str(), static_cast<mode_t>(mode));
}

int PathTaken(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? 0 : errno;
}

bool OthersMayRead(unsigned mode) { return (mode & 077) != 0; }

bool IsDiskFull(int err) { return err == ENOSPC || err == EDQUOT; }

#endif

}  // namespace chatpro::base
