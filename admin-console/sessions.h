// SPDX-License-Identifier: Apache-2.0
//
// The console's server-side sign-in state:
//   SessionStore  sessions of signed-in console users, found by the hash of
//                 their cookie token (a leaked store reveals no usable
//                 cookie), each with its CSRF token, ended by an idle timeout,
//                 an absolute limit, a sign-out, or the user's deactivation;
//   LoginLimiter  failed sign-ins per client address and per login; too many
//                 within the window lock further attempts out for a while.
// Both take their time from a chatpro::Clock, so tests use a FakeClock.
//
// Thread-safety: every method may be called from any thread (the HTTP
// server's pool); each class holds one mutex, never while calling out.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/clock.h"

namespace chatpro::console {

// Who a session belongs to, as the core described them at sign-in.
struct ConsoleUser {
  std::uint64_t user_id = 0;
  std::string login;
  std::string display_name;
  std::string role;  // "admin" or "auditor"
};

struct Session {
  ConsoleUser user;
  std::string csrf_token;      // sent with every change request
  std::int64_t created_us = 0;
  std::int64_t last_used_us = 0;
  std::int64_t expires_at_us = 0;  // when it ends unless used again (idle), capped by the max
};

struct SessionLimits {
  std::int64_t idle_us = 15ll * 60 * 1'000'000;
  std::int64_t max_us = 8ll * 3600 * 1'000'000;
};

class SessionStore {
 public:
  // REQUIRES: `clock` outlives the store.
  SessionStore(const Clock* clock, SessionLimits limits) : clock_(clock), limits_(limits) {}
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  struct Created {
    std::string token;  // the cookie value: 32 random bytes, base64url
    Session session;
  };
  // Starts a session for `user` with fresh random cookie and CSRF tokens.
  Created Create(ConsoleUser user);

  // The live session of cookie `token`, its idle deadline moved on. nullopt
  // (and the session forgotten) if unknown, idle too long or past its max.
  std::optional<Session> Use(std::string_view token);

  // Ends the session of `token` (sign-out). Returns whether there was one.
  bool End(std::string_view token);
  // Ends every session of `user_id` (the core says the user is inactive or
  // unknown). Returns how many ended.
  int EndAllOf(std::uint64_t user_id);

  std::size_t size() const;
  // The live sessions (expired ones left out), oldest first; each with its
  // expiry in expires_at_us. The CSRF tokens are left empty: a list shown to
  // other administrators must not hand them out.
  std::vector<Session> List() const;

 private:
  // Drops expired sessions. REQUIRES: mutex_ held.
  void Sweep(std::int64_t now_us);
  std::int64_t ExpiryOf(const Session& s) const;

  const Clock* const clock_;
  const SessionLimits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, Session> by_token_hash_;  // GUARDED_BY(mutex_)
};

struct LoginLimits {
  std::uint32_t attempts = 5;                       // failures that lock out
  std::int64_t window_us = 15ll * 60 * 1'000'000;   // in which they count
  std::int64_t lockout_us = 5ll * 60 * 1'000'000;   // how long a lock-out lasts
};

class LoginLimiter {
 public:
  // REQUIRES: `clock` outlives the limiter.
  LoginLimiter(const Clock* clock, LoginLimits limits) : clock_(clock), limits_(limits) {}
  LoginLimiter(const LoginLimiter&) = delete;
  LoginLimiter& operator=(const LoginLimiter&) = delete;

  // 0 if a sign-in from `address` as `login` may be tried now, else the
  // seconds until it may (for Retry-After).
  std::int64_t LockedForSeconds(std::string_view address, std::string_view login);

  // Counts a failed sign-in. Returns true if this failure started a lock-out
  // (of the address or of the login).
  bool RecordFailure(std::string_view address, std::string_view login);

  // A successful sign-in clears the login's and the address's failures.
  void RecordSuccess(std::string_view address, std::string_view login);

 private:
  struct Entry {
    std::uint32_t failures = 0;
    std::int64_t window_start_us = 0;
    std::int64_t locked_until_us = 0;
  };
  // REQUIRES: mutex_ held. Returns true if it now locks.
  bool Fail(Entry& e, std::int64_t now_us);
  std::int64_t Remaining(const std::string& key, std::int64_t now_us) const;
  void Sweep(std::int64_t now_us);

  const Clock* const clock_;
  const LoginLimits limits_;
  std::mutex mutex_;
  // Keys "a:<address>" and "l:<login>".
  std::map<std::string, Entry> entries_;  // GUARDED_BY(mutex_)
};

// `n` random bytes, base64url without padding.
std::string RandomToken(std::size_t n = 32);
// Constant-time comparison of two tokens.
bool TokensEqual(std::string_view a, std::string_view b);

}  // namespace chatpro::console
