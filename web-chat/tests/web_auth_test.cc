// SPDX-License-Identifier: Apache-2.0
//
// The web chat's challenge and signed answer.
#include "web-chat/web_auth.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "broker/crypto/keys.h"

namespace chatpro::webchat {
namespace {

// libsodium picks its fastest code at initialisation; before any test runs.
const bool kSodiumReady = sodium_init() >= 0;

crypto::SigningKeyPair NewBrowserKey() {
  EXPECT_TRUE(kSodiumReady);
  return crypto::DeriveEnrollmentSigningKeyPair(crypto::NewEnrollmentCode());
}

TEST(WebAuth, ChallengesAreFreshAndFramed) {
  AuthChallenge a = AuthChallenge::New();
  AuthChallenge b = AuthChallenge::New();
  EXPECT_NE(a.nonce(), b.nonce());
  std::string m = a.Message();
  ASSERT_EQ(m.size(), AuthChallenge::kChallengeBytes);
  EXPECT_EQ(m.substr(0, 4), "CPW1");
  EXPECT_EQ(m.substr(4), a.nonce());
}

TEST(WebAuth, DeviceAnswerNamesTheDevicesOwnKey) {
  AuthChallenge challenge = AuthChallenge::New();
  crypto::SigningKeyPair browser = NewBrowserKey();
  std::string answer = AnswerChallenge(challenge.Message(), AuthPurpose::kDevice,
                                       browser.public_key, browser.secret_key);
  ASSERT_EQ(answer.size(), AuthChallenge::kAnswerBytes);
  Result<AuthClaim> claim = challenge.Check(answer);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->purpose, AuthPurpose::kDevice);
  EXPECT_EQ(claim->kind, wire::KeyKind::Ed25519);
  EXPECT_EQ(claim->key, browser.public_key);
}

TEST(WebAuth, InviteAnswerNamesTheInvitesCurveKey) {
  std::string code = crypto::NewEnrollmentCode();
  crypto::SigningKeyPair invite = crypto::DeriveEnrollmentSigningKeyPair(code);
  AuthChallenge challenge = AuthChallenge::New();
  Result<AuthClaim> claim = challenge.Check(AnswerChallenge(
      challenge.Message(), AuthPurpose::kEnrollment, invite.public_key, invite.secret_key));
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->purpose, AuthPurpose::kEnrollment);
  EXPECT_EQ(claim->kind, wire::KeyKind::Curve25519);
  // What the broker stored for the invite.
  EXPECT_EQ(claim->key, crypto::DeriveEnrollmentKeyPair(code).public_key);
}

TEST(WebAuth, AnswerToAnotherChallengeIsRefused) {
  AuthChallenge mine = AuthChallenge::New();
  AuthChallenge other = AuthChallenge::New();
  crypto::SigningKeyPair browser = NewBrowserKey();
  std::string replayed = AnswerChallenge(other.Message(), AuthPurpose::kDevice,
                                         browser.public_key, browser.secret_key);
  EXPECT_EQ(mine.Check(replayed).status().code(), StatusCode::kPermissionDenied);
}

TEST(WebAuth, SignatureByAnotherKeyIsRefused) {
  AuthChallenge challenge = AuthChallenge::New();
  crypto::SigningKeyPair victim = NewBrowserKey();
  crypto::SigningKeyPair attacker = NewBrowserKey();
  // The victim's public key, the attacker's signature.
  std::string answer = AnswerChallenge(challenge.Message(), AuthPurpose::kDevice,
                                       victim.public_key, attacker.secret_key);
  Result<AuthClaim> claim = challenge.Check(answer);
  EXPECT_EQ(claim.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(claim.status().message().find("signature"), std::string::npos);
}

TEST(WebAuth, SignatureForAnotherPurposeIsRefused) {
  AuthChallenge challenge = AuthChallenge::New();
  crypto::SigningKeyPair browser = NewBrowserKey();
  std::string answer = AnswerChallenge(challenge.Message(), AuthPurpose::kDevice,
                                       browser.public_key, browser.secret_key);
  answer[4] = static_cast<char>(AuthPurpose::kEnrollment);
  EXPECT_EQ(challenge.Check(answer).status().code(), StatusCode::kPermissionDenied);
}

TEST(WebAuth, MalformedAnswersAreInvalidArguments) {
  AuthChallenge challenge = AuthChallenge::New();
  crypto::SigningKeyPair browser = NewBrowserKey();
  const std::string good = AnswerChallenge(challenge.Message(), AuthPurpose::kDevice,
                                           browser.public_key, browser.secret_key);
  ASSERT_TRUE(challenge.Check(good).ok());

  std::string bad_magic = good;
  bad_magic[0] = 'X';
  std::string bad_purpose = good;
  bad_purpose[4] = 7;
  std::string curve_kind = good;
  curve_kind[5] = static_cast<char>(wire::KeyKind::Curve25519);
  std::string small_order_key = good;
  small_order_key.replace(6, 32, std::string(32, '\0'));
  for (const std::string& answer :
       {std::string(), good.substr(0, good.size() - 1), good + "x", bad_magic, bad_purpose,
        curve_kind, small_order_key}) {
    Result<AuthClaim> claim = challenge.Check(answer);
    EXPECT_EQ(claim.status().code(), StatusCode::kInvalidArgument) << answer.size();
    EXPECT_FALSE(claim.status().message().empty());
  }
}

TEST(WebAuth, NoAnswerToWhatIsNoChallenge) {
  crypto::SigningKeyPair browser = NewBrowserKey();
  EXPECT_EQ(AnswerChallenge("CPW1short", AuthPurpose::kDevice, browser.public_key,
                            browser.secret_key),
            "");
}

}  // namespace
}  // namespace chatpro::webchat
