// SPDX-License-Identifier: Apache-2.0
//
// The web chat's authentication: a challenge the gateway sends on a new
// WebSocket, and the browser's signed answer (web-chat/README.md).
//
//   challenge  "CPW1" || nonce (32 random bytes)                      36 bytes
//   answer     "CPW1" || purpose (1 byte) || key kind (1 byte)
//              || public key (32 bytes) || signature (64 bytes)         102 bytes
//   signed     "chatpro web auth v1" || purpose || nonce || public key
//
// purpose 1: the device's own key; 2: the one-time key of an invite
// (crypto::DeriveEnrollmentSigningKeyPair). Key kind 1 is Ed25519 (the only
// kind accepted so far; the value is wire::KeyKind's).
//
// AuthChallenge::Check verifies the answer and says which key to put to the
// core (Broker::Authenticate, the ZAP question): the device's Ed25519 key as
// such, or for an invite its Curve25519 form, which is what the broker stores
// for invites. Whether that key belongs to anyone is the core's decision.
//
// Thread-safety: an AuthChallenge is a value; use one per connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/base/result.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::webchat {

enum class AuthPurpose : std::uint8_t { kDevice = 1, kEnrollment = 2 };

// What the core is asked after a valid answer.
struct AuthClaim {
  AuthPurpose purpose = AuthPurpose::kDevice;
  wire::KeyKind kind = wire::KeyKind::Ed25519;  // the key's kind for the core
  std::string key;                              // 32 bytes, of `kind`
  std::string signing_key;                      // the Ed25519 key that signed
};

class AuthChallenge {
 public:
  static constexpr std::size_t kNonceBytes = 32;
  static constexpr std::size_t kChallengeBytes = 4 + kNonceBytes;
  static constexpr std::size_t kAnswerBytes = 4 + 1 + 1 + 32 + 64;

  // A fresh challenge with a random nonce.
  static AuthChallenge New();
  // REQUIRES: nonce.size() == kNonceBytes. For tests.
  explicit AuthChallenge(std::string nonce);

  // The message the gateway sends.
  std::string Message() const;
  const std::string& nonce() const { return nonce_; }

  // Checks the browser's answer. On success returns the claim to put to the
  // core. On failure returns InvalidArgument for an answer that is not one
  // (size, magic, purpose, key kind, a key that is no Ed25519 point) and
  // PermissionDenied if the signature does not verify.
  Result<AuthClaim> Check(std::string_view answer) const;

 private:
  std::string nonce_;
};

// The bytes a browser signs for `purpose`, `nonce` and its `public_key`.
std::string SignedAuthBytes(AuthPurpose purpose, std::string_view nonce,
                            std::string_view public_key);

// The answer to `challenge_message` signed with an Ed25519 key pair (public
// 32 bytes, secret 64 bytes as libsodium keeps it): what the browser's page
// computes with WebCrypto; here for tests and tools. Returns an empty string
// if `challenge_message` is not a challenge.
std::string AnswerChallenge(std::string_view challenge_message, AuthPurpose purpose,
                            std::string_view public_key, std::string_view secret_key);

}  // namespace chatpro::webchat
