// SPDX-License-Identifier: Apache-2.0
//
// Invite: everything a new device needs to enroll, as one string to paste.
//
//   chatpro://HOST:PORT?key=SERVER_PUBLIC_KEY_HEX&code=ONE_TIME_CODE
//
// HOST may be a name, an IPv4 address or a bracketed IPv6 address. The key is
// the broker's 32-byte CURVE public key in hex; the code is the one-time
// enrollment code (Crockford base32). The code never travels on the wire: the
// device derives a one-time CURVE key pair from it (see broker/crypto).
//
// Thread-safety: pure functions over values.
#pragma once

#include <string>
#include <string_view>

#include "broker/base/result.h"

namespace chatpro {

struct Invite {
  std::string host_port;   // "chat.example.org:7070", "[::1]:7070"
  std::string server_key;  // 32 raw bytes
  std::string code;        // normalised: upper case, no separators

  // "tcp://HOST:PORT", the ZeroMQ endpoint to connect to.
  std::string Endpoint() const;
};

std::string FormatInvite(const Invite& invite);

// On failure returns InvalidArgument naming what is wrong with the text.
Result<Invite> ParseInvite(std::string_view text);

// Upper-cases and removes spaces and dashes, maps the look-alikes O->0, I/L->1.
std::string NormalizeCode(std::string_view code);

}  // namespace chatpro
