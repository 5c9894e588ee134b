// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the built-in plugins: reading settings, the scope of a
// retention policy, writing NUL-terminated strings into the broker's buffers,
// and the wrappers that keep every exception inside the plugin.
//
// Header-only and standard-library-only on purpose: a plugin links no ChatPro
// library (it must keep working across broker builds), so this header is
// compiled into each plugin. It is not part of the plugin API; plugins of
// other authors need only plugins/api/chatpro_plugin.h.
//
// Inside a plugin, C++ exceptions are the way settings errors travel
// (SettingError); the Create/Guard wrappers below turn every exception into
// CHATPRO_PLUGIN_FAILED (or a failed `create` with the reason), so none ever
// crosses the C boundary.
//
// Thread-safety: no shared state; an instance is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugins/api/chatpro_plugin.h"

namespace chatpro::plugin_support {

inline constexpr std::int64_t kMicrosPerDay = 86'400'000'000ll;
// Longest retention period accepted, so that days * kMicrosPerDay never overflows.
inline constexpr std::uint64_t kMaxDays = 100'000;

// A bad or missing setting; what() names the key and says what is wrong.
class SettingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The view's string, or an empty one. Throws std::invalid_argument for a
// string with a size but no data.
inline std::string_view View(const chatpro_string& s) {
  if (s.size == 0) return {};
  if (s.data == nullptr) throw std::invalid_argument("a string has a size but no data");
  return {s.data, s.size};
}

// The longest prefix of `s` of at most `max` bytes that does not cut a UTF-8
// sequence in two.
inline std::size_t Utf8Prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  std::size_t n = max;
  // Step back over continuation bytes (10xxxxxx) to the start of a character.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

// Copies `text` into `out` (capacity `size`, NUL included), cut at a UTF-8
// boundary. Does nothing if out is null or size is 0.
inline void WriteString(char* out, std::size_t size, std::string_view text) noexcept {
  if (out == nullptr || size == 0) return;
  std::size_t n = Utf8Prefix(text, size - 1);
  if (n > 0) std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

inline std::string_view Trim(std::string_view s) {
  const char* space = " \t\r\n";
  std::size_t b = s.find_first_not_of(space);
  if (b == std::string_view::npos) return {};
  std::size_t e = s.find_last_not_of(space);
  return s.substr(b, e - b + 1);
}

// Parses a whole number in [min, max]; throws SettingError naming `key`.
inline std::uint64_t ParseCount(std::string_view key, std::string_view value, std::uint64_t min,
                                std::uint64_t max, std::string_view what) {
  auto fail = [&]() {
    return SettingError("setting '" + std::string(key) + "' = '" + std::string(value) +
                        "' must be a whole number of " + std::string(what) + " from " +
                        std::to_string(min) + " to " + std::to_string(max));
  };
  value = Trim(value);
  if (value.empty()) throw fail();
  std::uint64_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9') throw fail();
    if (v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) throw fail();
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v < min || v > max) throw fail();
  return v;
}

inline bool ParseBool(std::string_view key, std::string_view value) {
  value = Trim(value);
  if (value == "true" || value == "yes" || value == "on" || value == "1") return true;
  if (value == "false" || value == "no" || value == "off" || value == "0") return false;
  throw SettingError("setting '" + std::string(key) + "' = '" + std::string(value) +
                     "' must be true or false");
}

// The settings of one instance. Construction rejects keys not in `known`
// (a misspelt key must not silently widen what a policy deletes).
class Settings {
 public:
  Settings(const chatpro_setting* settings, std::size_t count, std::vector<std::string> known)
      : known_(std::move(known)) {
    if (count > 0 && settings == nullptr) throw std::invalid_argument("settings missing");
    for (std::size_t i = 0; i < count; ++i) {
      std::string key(Trim(View(settings[i].key)));
      std::string value(Trim(View(settings[i].value)));
      bool is_known = false;
      for (const std::string& k : known_) is_known = is_known || k == key;
      if (!is_known) {
        std::string list;
        for (const std::string& k : known_) list += (list.empty() ? "" : ", ") + k;
        throw SettingError("unknown setting '" + key + "' (this plugin takes: " + list + ")");
      }
      items_.emplace_back(std::move(key), std::move(value));
    }
  }

  // The value of a key that may appear at most once; nullptr if absent.
  const std::string* Single(std::string_view key) const {
    const std::string* found = nullptr;
    for (const auto& [k, v] : items_) {
      if (k != key) continue;
      if (found != nullptr) throw SettingError("setting '" + std::string(key) + "' is set twice");
      found = &v;
    }
    return found;
  }

  // Like Single(), but absent is an error.
  const std::string& Required(std::string_view key, std::string_view example) const {
    const std::string* v = Single(key);
    if (v == nullptr) {
      throw SettingError("setting '" + std::string(key) + "' is required (e.g. " +
                         std::string(example) + ")");
    }
    return *v;
  }

  // Every value of a repeatable key, in order.
  std::vector<std::string> All(std::string_view key) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : items_) {
      if (k == key) out.push_back(v);
    }
    return out;
  }

 private:
  std::vector<std::string> known_;
  std::vector<std::pair<std::string, std::string>> items_;
};

// Which conversations a retention policy applies to: `scope = all|direct|groups`
// and `groups = name1, name2` (which implies scope groups).
class Scope {
 public:
  static Scope FromSettings(const Settings& s) {
    Scope out;
    const std::string* scope = s.Single("scope");
    for (const std::string& line : s.All("groups")) {
      std::string_view rest = line;
      while (!rest.empty()) {
        std::size_t comma = rest.find(',');
        std::string_view name = Trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (name.empty()) {
          throw SettingError("setting 'groups' = '" + line +
                             "' has an empty group name (use: groups = name1, name2)");
        }
        out.groups_.emplace_back(name);
      }
      if (line.empty())
        throw SettingError("setting 'groups' is empty (use: groups = name1, name2)");
    }
    if (scope == nullptr || *scope == "all") {
      out.kind_ = out.groups_.empty() ? Kind::kAll : Kind::kGroups;
      if (scope != nullptr && !out.groups_.empty()) {
        throw SettingError("setting 'groups' applies only to scope = groups, not scope = all");
      }
    } else if (*scope == "direct") {
      if (!out.groups_.empty()) {
        throw SettingError("setting 'groups' applies only to scope = groups, not scope = direct");
      }
      out.kind_ = Kind::kDirect;
    } else if (*scope == "groups") {
      out.kind_ = Kind::kGroups;
    } else {
      throw SettingError("setting 'scope' = '" + *scope + "' must be all, direct or groups");
    }
    return out;
  }

  bool Contains(const chatpro_message_view& m) const {
    switch (kind_) {
      case Kind::kAll:
        return true;
      case Kind::kDirect:
        return m.conversation_kind == CHATPRO_DIRECT;
      case Kind::kGroups: {
        if (m.conversation_kind != CHATPRO_GROUP) return false;
        if (groups_.empty()) return true;
        std::string_view name = View(m.conversation_name);
        for (const std::string& g : groups_) {
          if (g == name) return true;
        }
        return false;
      }
    }
    return false;
  }

 private:
  enum class Kind { kAll, kDirect, kGroups };
  Kind kind_ = Kind::kAll;
  std::vector<std::string> groups_;
};

// True if the message is older than `days` days at `now_us` (strictly).
inline bool OlderThanDays(const chatpro_message_view& m, std::int64_t now_us, std::uint64_t days) {
  if (m.sent_at_us >= now_us) return false;
  // now_us > sent_at_us, so the unsigned difference is the exact age.
  std::uint64_t age = static_cast<std::uint64_t>(now_us) - static_cast<std::uint64_t>(m.sent_at_us);
  return age > days * static_cast<std::uint64_t>(kMicrosPerDay);
}

// A message view is usable if it is there and at least as large as the
// fields this header knows (a broker built against an older header sends a
// smaller struct).
inline bool UsableView(const chatpro_message_view* m) {
  return m != nullptr && m->struct_size >= sizeof(chatpro_message_view);
}

// Runs `body` and turns any exception into CHATPRO_PLUGIN_FAILED.
template <typename Body>
int Guard(Body&& body) noexcept {
  try {
    return body();
  } catch (...) {
    return CHATPRO_PLUGIN_FAILED;
  }
}

// The `create` entry point for a plugin whose instance type `T` is built from
// Settings (and throws SettingError on bad settings).
template <typename T>
void* Create(const chatpro_setting* settings, std::size_t count, char* error,
             std::size_t error_size) noexcept {
  try {
    auto instance = std::make_unique<T>(settings, count);
    return instance.release();
  } catch (const std::bad_alloc&) {
    WriteString(error, error_size, "out of memory");
  } catch (const std::exception& e) {
    WriteString(error, error_size, e.what());
  } catch (...) {
    WriteString(error, error_size, "unexpected failure");
  }
  return nullptr;
}

template <typename T>
void Destroy(void* instance) noexcept {
  delete static_cast<T*>(instance);
}

// The `retention` entry point: T::Decide(const chatpro_message_view&, now_us)
// returns the verdict.
template <typename T>
int Retention(void* instance, const chatpro_message_view* message, std::int64_t now_us,
              std::uint32_t* verdict) noexcept {
  return Guard([&]() {
    if (instance == nullptr || verdict == nullptr || !UsableView(message)) {
      return CHATPRO_PLUGIN_FAILED;
    }
    *verdict = static_cast<T*>(instance)->Decide(*message, now_us);
    return CHATPRO_PLUGIN_OK;
  });
}

}  // namespace chatpro::plugin_support
