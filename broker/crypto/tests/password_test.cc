// SPDX-License-Identifier: Apache-2.0
#include "broker/crypto/password.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "broker/crypto/keys.h"

namespace chatpro::crypto {
namespace {

class PasswordTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto().ok()); }
};

TEST_F(PasswordTest, PolicyRefusesShortPasswordsSayingWhy) {
  Status s = CheckPasswordPolicy("hunter2");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("at least 12 characters"), std::string::npos) << s;
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << "the message repeats the password";
  EXPECT_EQ(CheckPasswordPolicy("").code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckPasswordPolicy("correct horse").ok());
}

TEST_F(PasswordTest, PolicyCountsCharactersNotBytes) {
  // Eleven two-byte characters: 22 bytes but too few characters.
  std::string eleven;
  for (int i = 0; i < 11; ++i) eleven += (i % 2 == 0) ? "\xC3\xA9" : "\xC3\xB6";  // é ö
  EXPECT_EQ(CheckPasswordPolicy(eleven).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckPasswordPolicy(eleven + "\xC3\xBC").ok());  // + ü: twelve
}

TEST_F(PasswordTest, PolicyRefusesOneCharacterRepeated) {
  Status s = CheckPasswordPolicy(std::string(20, 'a'));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("repeated"), std::string::npos) << s;
  std::string euros;
  for (int i = 0; i < 12; ++i) euros += "\xE2\x82\xAC";
  EXPECT_EQ(CheckPasswordPolicy(euros).code(), StatusCode::kInvalidArgument);
}

TEST_F(PasswordTest, PolicyRefusesOverlongPasswordsAndBrokenUtf8) {
  std::string longest(kMaxPasswordBytes, 'x');
  longest[0] = 'y';
  EXPECT_TRUE(CheckPasswordPolicy(longest).ok());
  Status s = CheckPasswordPolicy(longest + "z");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("at most 1024 bytes"), std::string::npos) << s;
  EXPECT_EQ(CheckPasswordPolicy("abcdefghijkl\xFF").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckPasswordPolicy("abcdefghijkl\xC3").code(), StatusCode::kInvalidArgument);
}

TEST_F(PasswordTest, HashVerifiesOnlyTheSamePassword) {
  Result<std::string> hash = HashPassword("correct horse battery");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse battery"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horse batterY"));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_FALSE(VerifyPassword("", "correct horse battery"));
  EXPECT_FALSE(VerifyPassword("correct horse battery", "correct horse battery"));
  // A fresh salt each time.
  Result<std::string> again = HashPassword("correct horse battery");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *hash);
}

TEST_F(PasswordTest, HashRefusesAPasswordThatBreaksThePolicy) {
  Result<std::string> hash = HashPassword("hunter2");
  ASSERT_FALSE(hash.ok());
  EXPECT_EQ(hash.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PasswordTest, HashCheckAcceptsOnlyInteractiveArgon2id) {
  Result<std::string> hash = HashPassword("correct horse battery");
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(CheckPasswordHash(*hash).ok());

  Status plain = CheckPasswordHash("hunter2");
  EXPECT_EQ(plain.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(plain.message().find("hunter2"), std::string::npos);
  EXPECT_EQ(CheckPasswordHash("").code(), StatusCode::kInvalidArgument);

  char weak[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str_alg(weak, "correct horse battery", 21, crypto_pwhash_OPSLIMIT_MIN,
                                  crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13),
            0);
  Status w = CheckPasswordHash(weak);
  EXPECT_EQ(w.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(w.message().find("parameters"), std::string::npos) << w;

  char argon2i[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str_alg(argon2i, "correct horse battery", 21,
                                  crypto_pwhash_argon2i_OPSLIMIT_INTERACTIVE,
                                  crypto_pwhash_argon2i_MEMLIMIT_INTERACTIVE,
                                  crypto_pwhash_ALG_ARGON2I13),
            0);
  EXPECT_EQ(CheckPasswordHash(argon2i).code(), StatusCode::kInvalidArgument);
  // A damaged hash with the right prefix.
  EXPECT_EQ(CheckPasswordHash("$argon2id$v=19$m=65536,t=2,p=1$garbage").code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chatpro::crypto
