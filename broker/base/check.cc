// SPDX-License-Identifier: Apache-2.0
#include "broker/base/check.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "broker/base/log.h"

namespace chatpro::internal {

void CheckFailed(const char* file, int line, const char* cond, const char* why) {
  std::fprintf(stderr, "chatpro: invariant broken at %s:%d: %s (%s)\n", file, line, cond, why);
  std::fflush(stderr);
  // Also into the configured log (a file, syslog, the journal: a daemon's
  // stderr goes nowhere), written out before the abort.
  if (LogSinkIsQueued()) {
    Log(LogLevel::kError, std::string("invariant broken at ") + file + ":" + std::to_string(line) +
                              ": " + cond + " (" + why + ")");
    FlushLog();
  }
  std::abort();
}

}  // namespace chatpro::internal
