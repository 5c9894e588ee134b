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

TEST_F(KeysTest, CodesAreNotRepeated) {
  std::set<std::string> codes;
  for (int i = 0; i < 1000; ++i) codes.insert(NewEnrollmentCode());
  EXPECT_EQ(codes.size(), 1000u);
}

}  // namespace
}  // namespace chatpro::crypto
