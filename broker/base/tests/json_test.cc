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

TEST(Json, ShowsSequencesThatAreNotUtf8AsTheirBytesSoTheOutputStaysValidJson) {
  // Overlong three- and four-byte forms, a surrogate, and beyond U+10FFFF: a
  // JSON parser refuses each, so each byte is shown by its code instead.
  EXPECT_EQ(JsonQuote("\xe0\x80\xaf"), R"("\u00e0\u0080\u00af")");
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), R"("\u00ed\u00a0\u0080")");
  EXPECT_EQ(JsonQuote("\xf0\x80\x80\xaf"), R"("\u00f0\u0080\u0080\u00af")");
  EXPECT_EQ(JsonQuote("\xf4\x90\x80\x80"), R"("\u00f4\u0090\u0080\u0080")");
  EXPECT_EQ(JsonQuote("\xf5\x80\x80\x80"), R"("\u00f5\u0080\u0080\u0080")");
  // The largest code point and the last before the surrogates stay as they are.
  EXPECT_EQ(JsonQuote("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");
  EXPECT_EQ(JsonQuote("\xed\x9f\xbf"), "\"\xed\x9f\xbf\"");
}

}  // namespace
}  // namespace chatpro
