// SPDX-License-Identifier: Apache-2.0
//
// The few facts about the machine and the running program that chatpro-broker
// asks the operating system for, behind one function each
// (platform_posix.cc, platform_windows.cc). Thread-safe; no state.
#pragma once

#include <string>

namespace chatpro::service {

// The machine's name (gethostname; the DNS host name on Windows), or "" if
// unknown.
std::string HostName();

// The folder of the running executable (the default plugin folder is
// relative to it); `argv0` is the fallback when the system cannot say.
std::string ExecutableDir(const char* argv0);

// Gives the C library's free heap memory back to the system. glibc keeps
// what a burst (a large write batch, a catch-up) freed in its per-thread
// arenas, so a long-running broker's resident memory would stay at its
// highest peak; the broker calls this once a minute. No-op where the
// allocator returns memory by itself (Windows).
void ReleaseFreeMemory();

}  // namespace chatpro::service
