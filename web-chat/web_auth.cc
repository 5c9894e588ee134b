// SPDX-License-Identifier: Apache-2.0
#include "web-chat/web_auth.h"

#include <sodium.h>

#include <utility>

#include "broker/crypto/keys.h"

namespace chatpro::webchat {
namespace {

constexpr std::string_view kMagic = "CPW1";
constexpr std::string_view kSignedContext = "chatpro web auth v1";

}  // namespace

AuthChallenge AuthChallenge::New() {
  std::string nonce(kNonceBytes, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  return AuthChallenge(std::move(nonce));
}

AuthChallenge::AuthChallenge(std::string nonce) : nonce_(std::move(nonce)) {}

std::string AuthChallenge::Message() const {
  std::string m(kMagic);
  m.append(nonce_);
  return m;
}

std::string SignedAuthBytes(AuthPurpose purpose, std::string_view nonce,
                            std::string_view public_key) {
  std::string m(kSignedContext);
  m.push_back(static_cast<char>(purpose));
  m.append(nonce);
  m.append(public_key);
  return m;
}

Result<AuthClaim> AuthChallenge::Check(std::string_view answer) const {
  if (answer.size() != kAnswerBytes || answer.substr(0, kMagic.size()) != kMagic) {
    return Status::InvalidArgument("not an authentication answer: expected " +
                                   std::to_string(kAnswerBytes) + " bytes starting with CPW1");
  }
  const auto purpose_byte = static_cast<std::uint8_t>(answer[4]);
  const auto kind_byte = static_cast<std::uint8_t>(answer[5]);
  if (purpose_byte != static_cast<std::uint8_t>(AuthPurpose::kDevice) &&
      purpose_byte != static_cast<std::uint8_t>(AuthPurpose::kEnrollment)) {
    return Status::InvalidArgument("unknown authentication purpose " +
                                   std::to_string(purpose_byte));
  }
  if (kind_byte != static_cast<std::uint8_t>(wire::KeyKind::Ed25519)) {
    return Status::InvalidArgument("unsupported key kind " + std::to_string(kind_byte) +
                                   " (the web chat takes Ed25519 keys)");
  }
  AuthClaim claim;
  claim.purpose = static_cast<AuthPurpose>(purpose_byte);
  claim.signing_key = std::string(answer.substr(6, 32));
  std::string_view signature = answer.substr(38, 64);
  // The Curve25519 form doubles as the check that the key is a valid point.
  Result<std::string> curve = crypto::Ed25519ToCurve25519(claim.signing_key);
  if (!curve.ok()) return curve.status();
  if (!crypto::VerifyEd25519(claim.signing_key,
                             SignedAuthBytes(claim.purpose, nonce_, claim.signing_key),
                             signature)) {
    return Status::PermissionDenied("the signature does not verify");
  }
  if (claim.purpose == AuthPurpose::kEnrollment) {
    claim.kind = wire::KeyKind::Curve25519;
    claim.key = std::move(*curve);
  } else {
    claim.kind = wire::KeyKind::Ed25519;
    claim.key = claim.signing_key;
  }
  return claim;
}

std::string AnswerChallenge(std::string_view challenge_message, AuthPurpose purpose,
                            std::string_view public_key, std::string_view secret_key) {
  if (challenge_message.size() != AuthChallenge::kChallengeBytes ||
      challenge_message.substr(0, kMagic.size()) != kMagic) {
    return std::string();
  }
  std::string_view nonce = challenge_message.substr(kMagic.size());
  std::string answer(kMagic);
  answer.push_back(static_cast<char>(purpose));
  answer.push_back(static_cast<char>(wire::KeyKind::Ed25519));
  answer.append(public_key);
  answer.append(crypto::SignEd25519(secret_key, SignedAuthBytes(purpose, nonce, public_key)));
  return answer;
}

}  // namespace chatpro::webchat
