// SPDX-License-Identifier: Apache-2.0
#include "broker/crypto/password.h"

#include <sodium.h>

#include <string>

#include "broker/base/utf8.h"

namespace chatpro::crypto {
namespace {

constexpr std::string_view kArgon2idPrefix = "$argon2id$";

// The number of code points in `text`, or -1 if it is not valid UTF-8
// (overlong forms and surrogates included: the policy counts characters a
// person typed, so a malformed sequence is refused rather than guessed at).
long CountCodePoints(std::string_view text) {
  long count = 0;
  for (std::size_t i = 0; i < text.size(); ++count) {
    const std::size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return -1;
    i += len;
  }
  return count;
}

// The first code point's bytes of `text` repeated cover all of it.
bool AllOneCharacter(std::string_view text) {
  if (text.empty()) return true;
  const auto c = static_cast<unsigned char>(text[0]);
  const std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
  if (text.size() % len != 0) return false;
  const std::string_view first = text.substr(0, len);
  for (std::size_t i = len; i < text.size(); i += len) {
    if (text.substr(i, len) != first) return false;
  }
  return true;
}

}  // namespace

Status CheckPasswordPolicy(std::string_view password) {
  if (password.size() > kMaxPasswordBytes) {
    return Status::InvalidArgument("the password is too long: at most " +
                                   std::to_string(kMaxPasswordBytes) + " bytes");
  }
  const long chars = CountCodePoints(password);
  if (chars < 0) return Status::InvalidArgument("the password is not valid UTF-8 text");
  if (static_cast<std::size_t>(chars) < kMinPasswordChars) {
    return Status::InvalidArgument("the password is too short: at least " +
                                   std::to_string(kMinPasswordChars) + " characters");
  }
  if (AllOneCharacter(password)) {
    return Status::InvalidArgument("the password must not be one character repeated");
  }
  return Status::Ok();
}

Result<std::string> HashPassword(std::string_view password) {
  CHATPRO_RETURN_IF_ERROR(CheckPasswordPolicy(password));
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::ResourceExhausted("not enough memory to hash the password");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  // crypto_pwhash_str_verify wants a NUL-terminated string of bounded size.
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
  if (hash.find('\0') != std::string_view::npos) return false;
  const std::string terminated(hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

Status CheckPasswordHash(std::string_view hash) {
  if (hash.substr(0, kArgon2idPrefix.size()) != kArgon2idPrefix || hash.size() >= crypto_pwhash_STRBYTES ||
      hash.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(
        "not an argon2id password hash (hash the password on the client with crypto_pwhash_str)");
  }
  const std::string terminated(hash);
  const int rehash = crypto_pwhash_str_needs_rehash(
      terminated.c_str(), crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
  if (rehash < 0) return Status::InvalidArgument("not a well-formed argon2id password hash");
  if (rehash > 0) {
    return Status::InvalidArgument(
        "the password hash does not use the required argon2id parameters "
        "(crypto_pwhash OPSLIMIT/MEMLIMIT_INTERACTIVE)");
  }
  return Status::Ok();
}

}  // namespace chatpro::crypto
