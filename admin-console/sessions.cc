// SPDX-License-Identifier: Apache-2.0
#include "admin-console/sessions.h"

#include <sodium.h>

#include <algorithm>
#include <string>
#include <vector>

namespace chatpro::console {
namespace {

// The key under which a session is kept: a memory dump of the store gives no
// cookie that could be replayed.
std::string HashToken(std::string_view token) {
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

}  // namespace

std::string RandomToken(std::size_t n) {
  std::vector<unsigned char> bytes(n);
  randombytes_buf(bytes.data(), bytes.size());
  std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

bool TokensEqual(std::string_view a, std::string_view b) {
  // The length of a token is no secret; its bytes are.
  if (a.size() != b.size() || a.empty()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::int64_t SessionStore::ExpiryOf(const Session& s) const {
  return std::min(s.last_used_us + limits_.idle_us, s.created_us + limits_.max_us);
}

SessionStore::Created SessionStore::Create(ConsoleUser user) {
  std::int64_t now = clock_->NowMicros();
  Created c;
  c.token = RandomToken(32);
  c.session.user = std::move(user);
  c.session.csrf_token = RandomToken(32);
  c.session.created_us = now;
  c.session.last_used_us = now;
  c.session.expires_at_us = ExpiryOf(c.session);
  std::lock_guard<std::mutex> lock(mutex_);
  Sweep(now);
  by_token_hash_[HashToken(c.token)] = c.session;
  return c;
}

std::optional<Session> SessionStore::Use(std::string_view token) {
  if (token.empty()) return std::nullopt;
  std::int64_t now = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = by_token_hash_.find(HashToken(token));
  if (it == by_token_hash_.end()) return std::nullopt;
  if (now >= ExpiryOf(it->second)) {
    by_token_hash_.erase(it);
    return std::nullopt;
  }
  it->second.last_used_us = now;
  it->second.expires_at_us = ExpiryOf(it->second);
  return it->second;
}

bool SessionStore::End(std::string_view token) {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_token_hash_.erase(HashToken(token)) > 0;
}

int SessionStore::EndAllOf(std::uint64_t user_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  int ended = 0;
  for (auto it = by_token_hash_.begin(); it != by_token_hash_.end();) {
    if (it->second.user.user_id == user_id) {
      it = by_token_hash_.erase(it);
      ++ended;
    } else {
      ++it;
    }
  }
  return ended;
}

std::size_t SessionStore::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return by_token_hash_.size();
}

std::vector<Session> SessionStore::List() const {
  const std::int64_t now = clock_->NowMicros();
  std::vector<Session> out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [hash, session] : by_token_hash_) {
      if (now >= ExpiryOf(session)) continue;
      out.push_back(session);
      out.back().csrf_token.clear();
      out.back().expires_at_us = ExpiryOf(session);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Session& a, const Session& b) { return a.created_us < b.created_us; });
  return out;
}

void SessionStore::Sweep(std::int64_t now_us) {
  for (auto it = by_token_hash_.begin(); it != by_token_hash_.end();) {
    if (now_us >= ExpiryOf(it->second)) {
      it = by_token_hash_.erase(it);
    } else {
      ++it;
    }
  }
}

std::int64_t LoginLimiter::Remaining(const std::string& key, std::int64_t now_us) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.locked_until_us <= now_us) return 0;
  // Rounded up: a client that waits exactly this long is let in.
  return (it->second.locked_until_us - now_us + 999'999) / 1'000'000;
}

std::int64_t LoginLimiter::LockedForSeconds(std::string_view address, std::string_view login) {
  std::int64_t now = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(mutex_);
  return std::max(Remaining("a:" + std::string(address), now),
                  Remaining("l:" + std::string(login), now));
}

bool LoginLimiter::Fail(Entry& e, std::int64_t now_us) {
  if (now_us - e.window_start_us >= limits_.window_us || e.locked_until_us != 0) {
    // A new window; a lock-out that has run out starts the count afresh.
    if (e.locked_until_us > now_us) return false;
    e.failures = 0;
    e.window_start_us = now_us;
    e.locked_until_us = 0;
  }
  ++e.failures;
  if (e.failures >= limits_.attempts) {
    e.locked_until_us = now_us + limits_.lockout_us;
    return true;
  }
  return false;
}

bool LoginLimiter::RecordFailure(std::string_view address, std::string_view login) {
  std::int64_t now = clock_->NowMicros();
  std::lock_guard<std::mutex> lock(mutex_);
  Sweep(now);
  bool by_address = Fail(entries_["a:" + std::string(address)], now);
  bool by_login = Fail(entries_["l:" + std::string(login)], now);
  return by_address || by_login;
}

void LoginLimiter::RecordSuccess(std::string_view address, std::string_view login) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase("a:" + std::string(address));
  entries_.erase("l:" + std::string(login));
}

void LoginLimiter::Sweep(std::int64_t now_us) {
  // Bounded memory under a spray of guessed logins: forget what no longer counts.
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (e.locked_until_us <= now_us && now_us - e.window_start_us >= limits_.window_us) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace chatpro::console
