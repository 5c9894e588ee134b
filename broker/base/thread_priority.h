// SPDX-License-Identifier: Apache-2.0
//
// Background threads: work that must not take CPU time from live traffic
// (retention runs, exports) lowers its own thread's scheduling priority.
#pragma once

namespace chatpro {

// Lowers the calling thread's CPU priority to the lowest normal one (nice 19
// on Linux, THREAD_PRIORITY_LOWEST on Windows): it still progresses on a busy
// machine, but every normal thread goes first. Best effort: failures are
// ignored (the work then runs at normal priority).
void LowerCurrentThreadPriority();

}  // namespace chatpro
