// SPDX-License-Identifier: Apache-2.0
//
// Passwords of the web admin console, on libsodium's argon2id.
//
// The edge that receives a password (the CLI, the console's HTTP layer) checks
// it against the policy and hashes it; the broker's core stores only the hash
// and accepts a hash only if CheckPasswordHash passes, so a plain password or
// a hash with weaker parameters never reaches the store. Hashing is slow on
// purpose (about 0.1 s and 64 MiB): never call HashPassword or VerifyPassword
// on the broker's event loop.
//
// Thread-safety: all functions may be called from any thread after
// InitCrypto() (keys.h) has returned OK once.
#pragma once

#include <string>
#include <string_view>

#include "broker/base/result.h"

namespace chatpro::crypto {

// The policy every console password must meet.
constexpr std::size_t kMinPasswordChars = 12;     // UTF-8 code points
constexpr std::size_t kMaxPasswordBytes = 1024;

// OK if `password` has at least kMinPasswordChars code points, at most
// kMaxPasswordBytes bytes, is valid UTF-8 and is not one character repeated.
// On failure returns InvalidArgument with a message that says which rule broke
// (never the password itself).
Status CheckPasswordPolicy(std::string_view password);

// An argon2id hash string ("$argon2id$v=19$m=...") of `password` with
// libsodium's interactive limits and a random salt. On failure returns
// InvalidArgument if the password breaks the policy, ResourceExhausted if the
// memory for hashing could not be had.
Result<std::string> HashPassword(std::string_view password);

// True if `hash` is a hash string made by HashPassword (or crypto_pwhash_str)
// of exactly `password`. Constant-time in the password; false for a malformed
// hash.
bool VerifyPassword(std::string_view hash, std::string_view password);

// OK if `hash` is an argon2id hash string with at least the interactive limits
// that HashPassword uses (what the broker stores). On failure returns
// InvalidArgument: not an argon2id hash string (a plain password, another
// algorithm) or weaker parameters. The message never repeats `hash`.
Status CheckPasswordHash(std::string_view hash);

}  // namespace chatpro::crypto
