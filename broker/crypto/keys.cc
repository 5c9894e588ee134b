// SPDX-License-Identifier: Apache-2.0
#include "broker/crypto/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "broker/base/encoding.h"
#include "broker/base/file_io.h"

namespace chatpro::crypto {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::string_view kEnrollContext = "chatpro-enrollment-key-v1";

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

Status InitCrypto() {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  return Status::Ok();
}

KeyPair GenerateKeyPair() {
  unsigned char pk[crypto_box_PUBLICKEYBYTES];
  unsigned char sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  KeyPair kp{std::string(reinterpret_cast<char*>(pk), sizeof pk),
             std::string(reinterpret_cast<char*>(sk), sizeof sk)};
  sodium_memzero(sk, sizeof sk);
  return kp;
}

namespace {

// The 32-byte seed both enrollment key pairs are made from.
void EnrollmentSeed(std::string_view code, unsigned char (&seed)[32]) {
  static_assert(crypto_box_SEEDBYTES == 32 && crypto_sign_SEEDBYTES == 32);
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, sizeof seed);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(kEnrollContext.data()),
                            kEnrollContext.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(code.data()),
                            code.size());
  crypto_generichash_final(&state, seed, sizeof seed);
}

}  // namespace

KeyPair DeriveEnrollmentKeyPair(std::string_view code) {
  unsigned char seed[crypto_box_SEEDBYTES];
  EnrollmentSeed(code, seed);
  unsigned char pk[crypto_box_PUBLICKEYBYTES];
  unsigned char sk[crypto_box_SECRETKEYBYTES];
  crypto_box_seed_keypair(pk, sk, seed);
  sodium_memzero(seed, sizeof seed);
  KeyPair kp{std::string(reinterpret_cast<char*>(pk), sizeof pk),
             std::string(reinterpret_cast<char*>(sk), sizeof sk)};
  sodium_memzero(sk, sizeof sk);
  return kp;
}

SigningKeyPair DeriveEnrollmentSigningKeyPair(std::string_view code) {
  unsigned char seed[crypto_sign_SEEDBYTES];
  EnrollmentSeed(code, seed);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, seed);
  sodium_memzero(seed, sizeof seed);
  SigningKeyPair kp{std::string(reinterpret_cast<char*>(pk), sizeof pk),
                    std::string(reinterpret_cast<char*>(sk), sizeof sk)};
  sodium_memzero(sk, sizeof sk);
  return kp;
}

Result<std::string> Ed25519ToCurve25519(std::string_view ed25519_public_key) {
  if (ed25519_public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return Status::InvalidArgument("an Ed25519 public key has 32 bytes");
  }
  const auto* ed = reinterpret_cast<const unsigned char*>(ed25519_public_key.data());
  unsigned char curve[crypto_scalarmult_curve25519_BYTES];
  if (crypto_core_ed25519_is_valid_point(ed) != 1 ||
      crypto_sign_ed25519_pk_to_curve25519(curve, ed) != 0) {
    return Status::InvalidArgument("not a valid Ed25519 public key");
  }
  return std::string(reinterpret_cast<char*>(curve), sizeof curve);
}

bool VerifyEd25519(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

std::string SignEd25519(std::string_view secret_key, std::string_view message) {
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), reinterpret_cast<const unsigned char*>(secret_key.data()));
  return std::string(reinterpret_cast<char*>(sig), sizeof sig);
}

std::string NewEnrollmentCode() {
  std::string code;
  for (int i = 0; i < 26; ++i) code.push_back(kCrockford[randombytes_uniform(32)]);
  return code;
}

Status WriteKeyFile(const std::string& path, const KeyPair& keys) {
  std::string body = "# ChatPro CURVE key pair. The secret key must stay on this machine.\n";
  body += "public = " + HexEncode(keys.public_key) + "\n";
  body += "secret = " + HexEncode(keys.secret_key) + "\n";
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | base::kOpenFlags, 0600);
  if (fd < 0) return Status::IoError("cannot create key file " + tmp + ": " + ErrnoText());
  const char* p = body.data();
  size_t left = body.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = ErrnoText();
      ::close(fd);
      return Status::IoError("cannot write key file " + tmp + ": " + err);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  sodium_memzero(body.data(), body.size());
  if (base::SyncFile(fd) != 0 || ::close(fd) != 0) {
    return Status::IoError("cannot write key file " + tmp + ": " + ErrnoText());
  }
  if (base::MoveReplacing(tmp, path) != 0) {
    return Status::IoError("cannot move key file into place at " + path + ": " + ErrnoText());
  }
  return Status::Ok();
}

Result<KeyPair> ReadKeyFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound("no key file at " + path);
    return Status::IoError("cannot read key file " + path + ": " + ErrnoText());
  }
  if (base::OthersMayRead(static_cast<unsigned>(st.st_mode))) {
    return Status::PermissionDenied("key file " + path +
                                    " may be read by other users; run: chmod 600 " + path);
  }
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot open key file " + path);
  KeyPair kp;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string name = line.substr(0, eq);
    std::string value = line.substr(eq + 1);
    auto trim = [](std::string s) {
      size_t b = s.find_first_not_of(" \t\r");
      size_t e = s.find_last_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    name = trim(name);
    auto bytes = HexDecode(trim(value));
    if (!bytes || bytes->size() != kKeyBytes) {
      return Status::InvalidArgument("key file " + path + ": " + name + " is not a 32-byte hex key");
    }
    if (name == "public") kp.public_key = *bytes;
    if (name == "secret") kp.secret_key = *bytes;
  }
  if (kp.public_key.empty() || kp.secret_key.empty()) {
    return Status::InvalidArgument("key file " + path + " lacks a public or secret key");
  }
  unsigned char derived[crypto_box_PUBLICKEYBYTES];
  crypto_scalarmult_base(derived, reinterpret_cast<const unsigned char*>(kp.secret_key.data()));
  if (!SecureEquals(std::string_view(reinterpret_cast<char*>(derived), sizeof derived),
                    kp.public_key)) {
    return Status::InvalidArgument("key file " + path + ": the public key does not match the secret key");
  }
  return kp;
}

bool SecureEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace chatpro::crypto
