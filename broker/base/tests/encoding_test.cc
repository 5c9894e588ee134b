// SPDX-License-Identifier: Apache-2.0
#include "broker/base/encoding.h"

#include <gtest/gtest.h>

namespace chatpro {
namespace {

TEST(Encoding, HexRoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  auto back = HexDecode(HexEncode(all));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
}

TEST(Encoding, HexRejectsOddLengthAndNonHex) {
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(Encoding, BigEndianSortsLikeNumbers) {
  std::string a, b;
  AppendBigEndian64(&a, 255);
  AppendBigEndian64(&b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(ReadBigEndian64(b), 256u);
}

}  // namespace
}  // namespace chatpro
