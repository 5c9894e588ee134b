// SPDX-License-Identifier: Apache-2.0
#include "broker/base/invite.h"

#include <gtest/gtest.h>

namespace chatpro {
namespace {

Invite Sample() {
  Invite i;
  i.host_port = "chat.example.org:7070";
  i.server_key = std::string(32, '\x7f');
  i.code = "ABCDEFGHJKMNPQRSTVWXYZ0123";
  return i;
}

TEST(Invite, RoundTripsThroughText) {
  std::string text = FormatInvite(Sample());
  EXPECT_EQ(text.rfind("chatpro://chat.example.org:7070?key=", 0), 0u);
  Result<Invite> back = ParseInvite("  " + text + "\n");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->host_port, "chat.example.org:7070");
  EXPECT_EQ(back->server_key, Sample().server_key);
  EXPECT_EQ(back->code, Sample().code);
  EXPECT_EQ(back->Endpoint(), "tcp://chat.example.org:7070");
}

TEST(Invite, AcceptsBracketedIpv6) {
  Invite i = Sample();
  i.host_port = "[::1]:7070";
  Result<Invite> back = ParseInvite(FormatInvite(i));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Endpoint(), "tcp://[::1]:7070");
}

TEST(Invite, RejectsTextThatIsNotAnInvite) {
  EXPECT_FALSE(ParseInvite("https://example.org").ok());
  EXPECT_FALSE(ParseInvite("chatpro://host:7070").ok());
  EXPECT_FALSE(ParseInvite("chatpro://host?key=00&code=ABCDEFGHJKMNPQRS").ok());
  EXPECT_FALSE(ParseInvite("chatpro://host:7070?key=00&code=ABCDEFGHJKMNPQRS").ok());
  std::string text = FormatInvite(Sample());
  EXPECT_FALSE(ParseInvite(text.substr(0, text.size() - 12)).ok());
}

TEST(Invite, NormalizesCodesTypedByHand) {
  EXPECT_EQ(NormalizeCode("abcd-efgh oil"), "ABCDEFGH011");
}

}  // namespace
}  // namespace chatpro
