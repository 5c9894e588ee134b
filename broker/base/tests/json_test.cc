// SPDX-License-Identifier: Apache-2.0
#include "broker/base/json.h"

#include <gtest/gtest.h>

namespace chatpro {
namespace {

TEST(Json, BuildsAnObjectOfEveryKind) {
  std::string s = JsonObject()
                      .Add("login", "ana")
                      .Add("devices", 2)
                      .Add("active", false)
                      .Add("ids", std::vector<std::uint64_t>{3, 4})
                      .Add("names", std::vector<std::string>{"a", "b"})
                      .str();
  EXPECT_EQ(s, R"({"login":"ana","devices":2,"active":false,"ids":[3,4],"names":["a","b"]})");
}

TEST(Json, EscapesQuotesControlsAndBrokenUtf8) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(JsonQuote("bad\xff"), R"("bad\u00ff")");
  EXPECT_EQ(JsonQuote("<script>"), R"("<script>")");
}

}  // namespace
}  // namespace chatpro
