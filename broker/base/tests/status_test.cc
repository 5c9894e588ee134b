// SPDX-License-Identifier: Apache-2.0
#include "broker/base/result.h"
#include "broker/base/status.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace chatpro {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument("odd number " + std::to_string(v));
  return v / 2;
}

Result<int> Quarter(int v) {
  CHATPRO_ASSIGN_OR_RETURN(int half, Half(v));
  return Half(half);
}

TEST(Status, OkHasNoCodeAndPrintsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(Status, ErrorPrintsCodeNameAndMessage) {
  Status s = Status::NotFound("conversation 12 not found");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "not_found: conversation 12 not found");
  EXPECT_EQ(s.WithContext("history").message(), "history: conversation 12 not found");
}

TEST(Status, EveryCodeHasADistinctName) {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    names.insert(StatusCodeName(static_cast<StatusCode>(c)));
  }
  EXPECT_EQ(names.size(), 11u);
}

TEST(Result, PropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "odd number 3");
}

}  // namespace
}  // namespace chatpro
