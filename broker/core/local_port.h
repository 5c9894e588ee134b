// SPDX-License-Identifier: Apache-2.0
//
// LocalCaller: how a front end inside the broker process (the web admin
// console) calls the core. It sends the same wire requests a CLI device sends
// (schemas/wire.fbs: one Frame of Envelopes), on behalf of a principal, and
// gets the reply Frame back; the core applies the same rules and role checks
// as for a device, so a front end holds no second copy of them.
//
// Principals:
//   "c:<user id>"  a console user who has signed in (decimal UserId): a session
//                  of that user without a device; it receives no deliveries and
//                  no events, only replies.
//   "s:console"    the console service itself: only requests the console needs
//                  before anybody has signed in (looking up credentials,
//                  writing sign-in entries to the audit log).
// Network peers cannot present these: their user ids come from ZAP.
//
// The transport adapter implements it (broker/transport: ZmqLocalCaller).
// Thread-safety: Call may be made from any thread except the event loop's,
// from several threads at once.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "broker/base/result.h"

namespace chatpro::core {

class LocalCaller {
 public:
  virtual ~LocalCaller() = default;

  // Sends `frame` (a serialized wire Frame whose envelopes carry non-zero
  // request ids) as `principal` and blocks until the reply frame answering
  // every request id of it has come back, or `timeout` has passed. Returns the
  // reply Frame, serialized.
  // On failure returns InvalidArgument for a principal that is not one of the
  // above, Unavailable if the broker is not serving (starting or stopping) or
  // did not answer within `timeout`.
  virtual Result<std::string> Call(std::string_view principal, std::string_view frame,
                                   std::chrono::milliseconds timeout) = 0;
};

}  // namespace chatpro::core
