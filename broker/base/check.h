// SPDX-License-Identifier: Apache-2.0
//
// CHATPRO_CHECK: for broken invariants, which are bugs, not errors. It logs the
// place and the reason to stderr (and to the configured log, written out
// first) and aborts. Never use it for input that comes
// from the network, a file or a user: those get a Status.
#pragma once

namespace chatpro::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const char* why);
}  // namespace chatpro::internal

#define CHATPRO_CHECK(cond, why)                                         \
  do {                                                                   \
    if (!(cond)) ::chatpro::internal::CheckFailed(__FILE__, __LINE__, #cond, why); \
  } while (0)
