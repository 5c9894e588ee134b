// SPDX-License-Identifier: Apache-2.0
#include "broker/base/check.h"

#include <cstdio>
#include <cstdlib>

namespace chatpro::internal {

void CheckFailed(const char* file, int line, const char* cond, const char* why) {
  std::fprintf(stderr, "chatpro: invariant broken at %s:%d: %s (%s)\n", file, line, cond, why);
  std::fflush(stderr);
  std::abort();
}

}  // namespace chatpro::internal
