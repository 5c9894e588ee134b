// SPDX-License-Identifier: Apache-2.0
#include "broker/crypto/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "broker/base/invite.h"

namespace chatpro::crypto {
namespace {

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    char tmpl[] = "/tmp/chatpro-keys-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(KeysTest, KeyFileIsPrivateAndRoundTrips) {
  KeyPair kp = GenerateKeyPair();
  std::string path = dir_ + "/device.key";
  ASSERT_TRUE(WriteKeyFile(path, kp).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<KeyPair> back = ReadKeyFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->public_key, kp.public_key);
  EXPECT_EQ(back->secret_key, kp.secret_key);
}

TEST_F(KeysTest, RefusesAKeyFileOthersCanRead) {
  std::string path = dir_ + "/device.key";
  ASSERT_TRUE(WriteKeyFile(path, GenerateKeyPair()).ok());
  chmod(path.c_str(), 0644);
  Result<KeyPair> back = ReadKeyFile(path);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kPermissionDenied);
}

TEST_F(KeysTest, MissingKeyFileIsNotFound) {
  EXPECT_EQ(ReadKeyFile(dir_ + "/none.key").status().code(), StatusCode::kNotFound);
}

TEST_F(KeysTest, EnrollmentKeyDependsOnlyOnTheCode) {
  std::string code = NewEnrollmentCode();
  EXPECT_EQ(code.size(), 26u);
  EXPECT_EQ(NormalizeCode(code), code);
  KeyPair a = DeriveEnrollmentKeyPair(code);
  KeyPair b = DeriveEnrollmentKeyPair(code);
  KeyPair c = DeriveEnrollmentKeyPair(NewEnrollmentCode());
  EXPECT_EQ(a.public_key, b.public_key);
  EXPECT_NE(a.public_key, c.public_key);
  EXPECT_EQ(a.public_key.size(), kKeyBytes);
}

TEST_F(KeysTest, EnrollmentSigningKeyIsTheEnrollmentKeyInItsEdwardsForm) {
  std::string code = NewEnrollmentCode();
  SigningKeyPair signing = DeriveEnrollmentSigningKeyPair(code);
  ASSERT_EQ(signing.public_key.size(), 32u);
  ASSERT_EQ(signing.secret_key.size(), 64u);
  Result<std::string> curve = Ed25519ToCurve25519(signing.public_key);
  ASSERT_TRUE(curve.ok()) << curve.status();
  EXPECT_EQ(*curve, DeriveEnrollmentKeyPair(code).public_key);
  EXPECT_NE(*curve, DeriveEnrollmentKeyPair(NewEnrollmentCode()).public_key);
}

TEST_F(KeysTest, Ed25519SignaturesVerifyOnlyForTheirKeyAndMessage) {
  SigningKeyPair a = DeriveEnrollmentSigningKeyPair(NewEnrollmentCode());
  SigningKeyPair b = DeriveEnrollmentSigningKeyPair(NewEnrollmentCode());
  std::string sig = SignEd25519(a.secret_key, "challenge");
  EXPECT_TRUE(VerifyEd25519(a.public_key, "challenge", sig));
  EXPECT_FALSE(VerifyEd25519(b.public_key, "challenge", sig));
  EXPECT_FALSE(VerifyEd25519(a.public_key, "challengE", sig));
  std::string flipped = sig;
  flipped[10] = static_cast<char>(flipped[10] ^ 1);
  EXPECT_FALSE(VerifyEd25519(a.public_key, "challenge", flipped));
  EXPECT_FALSE(VerifyEd25519(a.public_key, "challenge", sig.substr(0, 63)));
  EXPECT_FALSE(VerifyEd25519(a.public_key.substr(0, 31), "challenge", sig));
}

TEST_F(KeysTest, Ed25519ToCurve25519RefusesWhatIsNoKey) {
  EXPECT_EQ(Ed25519ToCurve25519("short").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Ed25519ToCurve25519(std::string(32, '\0')).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(KeysTest, CodesAreNotRepeated) {
  std::set<std::string> codes;
  for (int i = 0; i < 1000; ++i) codes.insert(NewEnrollmentCode());
  EXPECT_EQ(codes.size(), 1000u);
}

}  // namespace
}  // namespace chatpro::crypto
