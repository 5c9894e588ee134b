// SPDX-License-Identifier: Apache-2.0
#include "admin-console/router.h"

#include <gtest/gtest.h>

namespace chatpro::console {
namespace {

Router<int> MakeRouter() {
  Router<int> r;
  r.Add("GET", "/api/v1/users", 1);
  r.Add("POST", "/api/v1/users", 2);
  r.Add("GET", "/api/v1/users/{login}/devices", 3);
  return r;
}

TEST(Router, FindsTheRouteOfMethodAndPath) {
  Router<int> r = MakeRouter();
  auto m = r.Find("POST", "/api/v1/users");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->handler, 2);
  m = r.Find("GET", "/api/v1/users");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->handler, 1);
}

TEST(Router, TakesParametersPercentDecoded) {
  Router<int> r = MakeRouter();
  auto m = r.Find("GET", "/api/v1/users/ana%20b/devices");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->handler, 3);
  EXPECT_EQ(m.params["login"], "ana b");
}

TEST(Router, TellsAKnownPathWithAnotherMethodFromAnUnknownPath) {
  Router<int> r = MakeRouter();
  auto m = r.Find("DELETE", "/api/v1/users");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_known);
  m = r.Find("GET", "/api/v1/groups");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_known);
}

TEST(Router, ParameterIsOneSegmentNeverEmptyOrASlash) {
  Router<int> r = MakeRouter();
  EXPECT_EQ(r.Find("GET", "/api/v1/users//devices").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/api/v1/users/a/b/devices").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/api/v1/users/a%2Fb/devices").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/api/v1/users/a%00/devices").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/api/v1/users/a%2/devices").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/api/v1/users/").route, nullptr);
}

}  // namespace
}  // namespace chatpro::console
