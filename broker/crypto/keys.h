// SPDX-License-Identifier: Apache-2.0
//
// CURVE key material for devices and the broker, on libsodium.
//
// Every device makes its own Curve25519 key pair and keeps the secret half in
// a key file of mode 0600. An invite's one-time code is turned into a one-time
// key pair (DeriveEnrollmentKeyPair), so that enrolling is an ordinary CURVE
// handshake: the broker stores only the derived public key and the code never
// crosses the wire.
//
// Thread-safety: all functions may be called from any thread after
// InitCrypto() has returned OK once.
#pragma once

#include <string>
#include <string_view>

#include "broker/base/result.h"

namespace chatpro::crypto {

constexpr size_t kKeyBytes = 32;

struct KeyPair {
  std::string public_key;  // 32 raw bytes
  std::string secret_key;  // 32 raw bytes
};

// Initialises libsodium. On failure returns Internal.
Status InitCrypto();

KeyPair GenerateKeyPair();

// The one-time key pair for an enrollment code (normalised, see NormalizeCode).
KeyPair DeriveEnrollmentKeyPair(std::string_view code);

// An Ed25519 signing key pair (the kind a browser's WebCrypto key is).
struct SigningKeyPair {
  std::string public_key;  // 32 raw bytes
  std::string secret_key;  // 64 raw bytes (libsodium's seed || public key)
};

// The one-time Ed25519 key pair for an enrollment code, made from the same
// 32-byte seed as DeriveEnrollmentKeyPair (BLAKE2b-256 of
// "chatpro-enrollment-key-v1" || code). Its public key converted by
// Ed25519ToCurve25519() is DeriveEnrollmentKeyPair(code).public_key, so a
// browser proves an invite by a signature as a CURVE client proves it by its
// handshake, and the broker keeps storing only the CURVE form.
SigningKeyPair DeriveEnrollmentSigningKeyPair(std::string_view code);

// The Curve25519 (Montgomery) form of an Ed25519 public key. On failure
// returns InvalidArgument if `ed25519_public_key` is not 32 bytes or not a
// valid point.
Result<std::string> Ed25519ToCurve25519(std::string_view ed25519_public_key);

// True if `signature` (64 bytes) is a valid Ed25519 signature of `message` by
// `public_key` (32 bytes); false for anything else, sizes included.
bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature);

// Signs `message` with an Ed25519 secret key (64 bytes, as in
// SigningKeyPair). REQUIRES: secret_key.size() == 64.
std::string SignEd25519(std::string_view secret_key, std::string_view message);

// A new one-time code: 26 Crockford base32 characters (130 random bits).
std::string NewEnrollmentCode();

// Writes the pair to `path` as a small text file of mode 0600, atomically.
// On failure returns IoError naming the path.
Status WriteKeyFile(const std::string& path, const KeyPair& keys);

// Reads a key file written by WriteKeyFile. On failure returns NotFound if the
// file does not exist, PermissionDenied if others may read it, InvalidArgument
// if it is not a key file.
Result<KeyPair> ReadKeyFile(const std::string& path);

// Constant-time comparison of two equal-length byte strings.
bool SecureEquals(std::string_view a, std::string_view b);

}  // namespace chatpro::crypto
