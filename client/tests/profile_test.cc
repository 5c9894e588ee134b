// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "broker/crypto/keys.h"
#include "client/client.h"

namespace chatpro::client {
namespace {

namespace fs = std::filesystem;

class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    char tmpl[] = "/tmp/chatpro-profile-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  Profile Sample(const std::string& dir) {
    crypto::KeyPair device = crypto::GenerateKeyPair();
    Profile p;
    p.dir = dir;
    p.endpoint = "tcp://chat.example.org:7070";
    p.server_key = crypto::GenerateKeyPair().public_key;
    p.public_key = device.public_key;
    p.secret_key = device.secret_key;
    p.login = "ana";
    p.user_id = 7;
    p.device_id = 3;
    return p;
  }

  std::string root_;
};

TEST_F(ProfileTest, SaveThenLoadGivesTheSameProfile) {
  Profile p = Sample(root_ + "/nested/profile");
  ASSERT_TRUE(p.Save().ok());
  Result<Profile> back = Profile::Load(p.dir);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->endpoint, p.endpoint);
  EXPECT_EQ(back->server_key, p.server_key);
  EXPECT_EQ(back->public_key, p.public_key);
  EXPECT_EQ(back->secret_key, p.secret_key);
  EXPECT_EQ(back->login, "ana");
  EXPECT_EQ(back->user_id, 7u);
  EXPECT_EQ(back->device_id, 3u);
}

TEST_F(ProfileTest, SaveMakesTheFolderAndKeyPrivate) {
  Profile p = Sample(root_ + "/p");
  ASSERT_TRUE(p.Save().ok());
  struct stat st;
  ASSERT_EQ(stat(p.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((p.dir + "/device.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream conf(p.dir + "/profile.conf");
  std::string all((std::istreambuf_iterator<char>(conf)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("login = ana"), std::string::npos);
  EXPECT_EQ(all.find("secret"), std::string::npos) << "no secret in profile.conf";
}

TEST_F(ProfileTest, LoadOfAnEmptyFolderSaysNotEnrolled) {
  Result<Profile> p = Profile::Load(root_);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
  EXPECT_NE(p.status().message().find("chatpro enroll"), std::string::npos);
}

TEST_F(ProfileTest, LoadRefusesAKeyFileOthersMayRead) {
  Profile p = Sample(root_ + "/p");
  ASSERT_TRUE(p.Save().ok());
  ASSERT_EQ(chmod((p.dir + "/device.key").c_str(), 0644), 0);
  Result<Profile> back = Profile::Load(p.dir);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kPermissionDenied);
}

TEST_F(ProfileTest, LoadRejectsABrokenConfFile) {
  Profile p = Sample(root_ + "/p");
  ASSERT_TRUE(p.Save().ok());
  {
    std::ofstream conf(p.dir + "/profile.conf");
    conf << "endpoint = tcp://x:1\nserver_key = abcd\nlogin = ana\nuser_id = 1\ndevice_id = 2\n";
  }
  Result<Profile> back = Profile::Load(p.dir);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.status().message().find("server_key"), std::string::npos);
  {
    std::ofstream conf(p.dir + "/profile.conf");
    conf << "this is not a profile\n";
  }
  EXPECT_EQ(Profile::Load(p.dir).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ProfileTest, SaveRefusesKeysOfTheWrongSize) {
  Profile p = Sample(root_ + "/p");
  p.server_key = "short";
  EXPECT_EQ(p.Save().code(), StatusCode::kInvalidArgument);
}

TEST_F(ProfileTest, DefaultDirPrefersTheEnvironmentVariableThenXdgThenHome) {
  setenv("CHATPRO_PROFILE", "/x/profile", 1);
  setenv("XDG_CONFIG_HOME", "/xdg", 1);
  setenv("HOME", "/home/ana", 1);
  EXPECT_EQ(Profile::DefaultDir(), "/x/profile");
  unsetenv("CHATPRO_PROFILE");
  EXPECT_EQ(Profile::DefaultDir(), "/xdg/chatpro");
  unsetenv("XDG_CONFIG_HOME");
  EXPECT_EQ(Profile::DefaultDir(), "/home/ana/.config/chatpro");
}

TEST(Roles, NamesRoundTrip) {
  for (Role r : {Role::kUser, Role::kAdmin, Role::kAuditor}) {
    Result<Role> back = ParseRole(RoleName(r));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, r);
  }
  EXPECT_EQ(ParseRole("root").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chatpro::client
