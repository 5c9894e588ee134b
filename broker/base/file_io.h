// SPDX-License-Identifier: Apache-2.0
//
// The few pieces of file I/O that POSIX and Windows spell differently, as
// small functions over C runtime file descriptors (open/read/write/close work
// on both). Everything else stays plain POSIX calls at the call sites.
//
// Thread-safety: every function is safe to call from any thread; they share
// no state.
#pragma once

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace chatpro::base {

// Flags to add to every open(): the descriptor is not inherited by child
// processes, and on Windows the file is binary (no newline translation).
#if defined(_WIN32)
inline constexpr int kOpenFlags = O_BINARY | O_NOINHERIT;
#else
inline constexpr int kOpenFlags = O_CLOEXEC;
#endif

// pread/pwrite: reads or writes up to `n` bytes at `offset` without using the
// descriptor's position for other threads. Returns the bytes moved (0 at end
// of file for a read), or -1 with errno set.
long ReadAt(int fd, void* buffer, std::size_t n, std::uint64_t offset);
long WriteAt(int fd, const void* buffer, std::size_t n, std::uint64_t offset);

// Flushes the file's data to the disk (fdatasync; FlushFileBuffers on
// Windows). Returns 0, or -1 with errno set.
int SyncFile(int fd);

// Makes the names in folder `dir` durable after a create or rename (fsync of
// the folder). Windows journals names itself and cannot open a folder as a
// file: nothing to do there. Returns 0, or an errno value.
int SyncFolder(const std::string& dir);

// Moves `from` over `to`, replacing `to` if it exists, atomically where the
// file system allows (rename; MoveFileEx with MOVEFILE_REPLACE_EXISTING on
// Windows, whose rename refuses to replace). Returns 0, or -1 with errno set.
int MoveReplacing(const std::string& from, const std::string& to);

// mkdir(path, mode); Windows has no modes (the folder's ACL applies). Returns
// 0, or -1 with errno set.
int MakeFolder(const std::string& path, int mode);

// Whether anything (file, folder, symbolic link: not followed) is at `path`
// (lstat). Returns 0 if so, else an errno value: ENOENT if nothing is there.
int PathTaken(const std::string& path);

// Whether a file's mode lets users other than its owner read it. On Windows
// access is set by ACLs that st_mode does not show: always false there.
bool OthersMayRead(unsigned mode);

#if defined(_WIN32)
// The machine's folder for program data (FOLDERID_ProgramData, usually
// C:\ProgramData), in UTF-8.
std::string ProgramDataFolder();
#endif

// Whether errno value `err` means the disk (or the user's quota) is full.
bool IsDiskFull(int err);

}  // namespace chatpro::base
