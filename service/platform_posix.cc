// SPDX-License-Identifier: Apache-2.0
#include <unistd.h>  // first: it says whether the C library is glibc
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <climits>
#include <cstdlib>

#include "service/platform.h"

namespace chatpro::service {

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

std::string ExecutableDir(const char* argv0) {
  std::string path;
  char buffer[4096];
  ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n > 0) {
    path.assign(buffer, static_cast<size_t>(n));
  } else if (char* real = ::realpath(argv0, nullptr)) {
    path = real;
    std::free(real);
  } else {
    path = argv0;
  }
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace chatpro::service
