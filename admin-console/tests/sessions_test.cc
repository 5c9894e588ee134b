// SPDX-License-Identifier: Apache-2.0
#include "admin-console/sessions.h"

#include <gtest/gtest.h>

namespace chatpro::console {
namespace {

constexpr std::int64_t kMinute = 60 * 1'000'000ll;

ConsoleUser Ana() { return {7, "ana", "Ana", "admin"}; }

TEST(SessionStore, SessionEndsAfterIdleTimeoutButUseKeepsItAlive) {
  FakeClock clock(1'000'000);
  SessionStore store(&clock, {15 * kMinute, 8 * 60 * kMinute});
  auto created = store.Create(Ana());
  EXPECT_EQ(created.token.size(), 43u) << "32 bytes, base64url";
  clock.Advance(14 * kMinute);
  ASSERT_TRUE(store.Use(created.token));
  clock.Advance(14 * kMinute);
  ASSERT_TRUE(store.Use(created.token)) << "the idle clock restarted at the last use";
  clock.Advance(15 * kMinute);
  EXPECT_FALSE(store.Use(created.token));
  EXPECT_EQ(store.size(), 0u);
}

TEST(SessionStore, SessionEndsAtItsAbsoluteLimitHoweverBusy) {
  FakeClock clock(1'000'000);
  SessionStore store(&clock, {15 * kMinute, 60 * kMinute});
  auto created = store.Create(Ana());
  for (int i = 0; i < 5; ++i) {
    clock.Advance(10 * kMinute);
    ASSERT_TRUE(store.Use(created.token)) << i;
  }
  std::optional<Session> s = store.Use(created.token);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->expires_at_us, s->created_us + 60 * kMinute) << "capped by the maximum";
  clock.Advance(10 * kMinute);
  EXPECT_FALSE(store.Use(created.token));
}

TEST(SessionStore, ListShowsLiveSessionsOldestFirstWithoutTheirCsrfTokens) {
  FakeClock clock(1'000'000);
  SessionStore store(&clock, {15 * kMinute, 8 * 60 * kMinute});
  auto idle = store.Create(Ana());
  clock.Advance(10 * kMinute);
  auto busy = store.Create({8, "bo", "Bo", "auditor"});
  clock.Advance(6 * kMinute);  // the first one is idle past its limit now
  std::vector<Session> list = store.List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].user.login, "bo");
  EXPECT_TRUE(list[0].csrf_token.empty());
  EXPECT_EQ(list[0].expires_at_us, busy.session.created_us + 15 * kMinute);
  EXPECT_FALSE(store.Use(idle.token));

  auto later = store.Create(Ana());
  list = store.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].user.login, "bo");
  EXPECT_EQ(list[1].user.login, "ana");
  EXPECT_EQ(list[1].created_us, later.session.created_us);
}

TEST(SessionStore, SignOutAndDeactivationEndSessions) {
  FakeClock clock(1'000'000);
  SessionStore store(&clock, {});
  auto a1 = store.Create(Ana());
  auto a2 = store.Create(Ana());
  auto b = store.Create({8, "bo", "Bo", "auditor"});
  EXPECT_NE(a1.token, a2.token);
  EXPECT_NE(a1.session.csrf_token, a2.session.csrf_token);
  EXPECT_TRUE(store.End(a1.token));
  EXPECT_FALSE(store.Use(a1.token));
  EXPECT_TRUE(store.Use(a2.token));
  EXPECT_EQ(store.EndAllOf(7), 1);
  EXPECT_FALSE(store.Use(a2.token));
  EXPECT_TRUE(store.Use(b.token));
  EXPECT_FALSE(store.Use("")) << "no cookie, no session";
  EXPECT_FALSE(store.Use("not-a-token"));
}

TEST(LoginLimiter, LocksOutAfterTooManyFailuresForTheLockoutTime) {
  FakeClock clock(1'000'000);
  LoginLimiter limiter(&clock, {3, 15 * kMinute, 5 * kMinute});
  EXPECT_FALSE(limiter.RecordFailure("10.0.0.1", "ana"));
  EXPECT_FALSE(limiter.RecordFailure("10.0.0.1", "ana"));
  EXPECT_EQ(limiter.LockedForSeconds("10.0.0.1", "ana"), 0);
  EXPECT_TRUE(limiter.RecordFailure("10.0.0.1", "ana")) << "the third failure locks";
  EXPECT_EQ(limiter.LockedForSeconds("10.0.0.1", "ana"), 300);
  EXPECT_EQ(limiter.LockedForSeconds("10.0.0.2", "ana"), 300) << "the login is locked";
  EXPECT_EQ(limiter.LockedForSeconds("10.0.0.1", "bo"), 300) << "and the address";
  EXPECT_EQ(limiter.LockedForSeconds("10.0.0.2", "bo"), 0);
  clock.Advance(5 * kMinute);
  EXPECT_EQ(limiter.LockedForSeconds("10.0.0.1", "ana"), 0);
  EXPECT_FALSE(limiter.RecordFailure("10.0.0.1", "ana")) << "counting starts afresh";
}

TEST(LoginLimiter, FailuresOutsideTheWindowAndBeforeASuccessDoNotCount) {
  FakeClock clock(1'000'000);
  LoginLimiter limiter(&clock, {3, 15 * kMinute, 5 * kMinute});
  limiter.RecordFailure("a", "ana");
  limiter.RecordFailure("a", "ana");
  clock.Advance(16 * kMinute);
  EXPECT_FALSE(limiter.RecordFailure("a", "ana"));
  EXPECT_FALSE(limiter.RecordFailure("a", "ana"));
  limiter.RecordSuccess("a", "ana");
  EXPECT_FALSE(limiter.RecordFailure("a", "ana"));
  EXPECT_FALSE(limiter.RecordFailure("a", "ana"));
  EXPECT_TRUE(limiter.RecordFailure("a", "ana"));
}

TEST(Tokens, CompareWholeTokensOnly) {
  std::string t = RandomToken();
  EXPECT_TRUE(TokensEqual(t, t));
  EXPECT_FALSE(TokensEqual(t, t.substr(1)));
  EXPECT_FALSE(TokensEqual(t, RandomToken()));
  EXPECT_FALSE(TokensEqual("", ""));
}

}  // namespace
}  // namespace chatpro::console
