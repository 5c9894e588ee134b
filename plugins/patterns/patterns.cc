// SPDX-License-Identifier: Apache-2.0
//
// patterns: an accept hook that rejects (or flags) text messages and edits
// matching regular expressions or holding what looks like a payment card
// number.
//
//   [plugin.no-card-numbers]
//   library = patterns
//   action = reject            # reject (default) or flag
//   pattern = (?:password|passwort)\s*[:=]   # ECMAScript regex; repeatable
//   ignore_case = true         # default false
//   card_numbers = true        # 13-19 digits (spaces or dashes between) passing Luhn
//   reason = Do not share passwords or card numbers here.
//
// Matching is linear in the text: patterns run on libstdc++'s polynomial
// (Thompson NFA) executor, which has no back-references but cannot blow up
// or recurse once per character, and only the first 64 KiB of a text are
// examined by the patterns (card numbers are looked for in the whole text).
// libstdc++'s regex is not fast: all patterns are joined into one regex so
// the text is walked once; on the 2-core test machine three patterns take
// about 35 us for a 200-byte text and 10 ms for 64 KiB.
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/api/chatpro_plugin.h"
#include "plugins/support/plugin_support.h"

namespace chatpro::plugins {
namespace {

namespace ps = ::chatpro::plugin_support;

constexpr std::size_t kMaxRegexTextBytes = 64 * 1024;
constexpr char kDefaultPatternReason[] = "message matches a blocked pattern";
constexpr char kDefaultCardReason[] = "message contains what looks like a payment card number";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool PassesLuhn(const std::string& digits) {
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

// A run of digit groups separated by single spaces or dashes ("4111 1111-1111
// 1111") holds a card number if some consecutive groups of it, 13 to 19 digits
// together, pass the Luhn check. Whole groups only, so that a long reference
// number does not match somewhere inside it.
bool RunHoldsCardNumber(const std::vector<std::string_view>& groups) {
  for (std::size_t first = 0; first < groups.size(); ++first) {
    std::string digits;
    for (std::size_t last = first; last < groups.size(); ++last) {
      digits.append(groups[last]);
      if (digits.size() > 19) break;
      if (digits.size() >= 13 && PassesLuhn(digits)) return true;
    }
  }
  return false;
}

bool HasCardNumber(std::string_view text) {
  std::vector<std::string_view> groups;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!IsDigit(text[i])) {
      ++i;
      continue;
    }
    groups.clear();
    for (;;) {
      std::size_t end = i;
      while (end < text.size() && IsDigit(text[end])) ++end;
      groups.push_back(text.substr(i, end - i));
      i = end;
      if (i + 1 < text.size() && (text[i] == ' ' || text[i] == '-') && IsDigit(text[i + 1])) {
        ++i;
        continue;
      }
      break;
    }
    if (RunHoldsCardNumber(groups)) return true;
  }
  return false;
}

class Patterns {
 public:
  Patterns(const chatpro_setting* settings, std::size_t count) {
    ps::Settings s(settings, count, {"action", "pattern", "ignore_case", "card_numbers", "reason"});
    if (const std::string* action = s.Single("action")) {
      if (*action == "reject") {
        verdict_ = CHATPRO_ACCEPT_REJECT;
      } else if (*action == "flag") {
        verdict_ = CHATPRO_ACCEPT_FLAG;
      } else {
        throw ps::SettingError("setting 'action' = '" + *action + "' must be reject or flag");
      }
    }
    bool ignore_case = false;
    if (const std::string* v = s.Single("ignore_case"))
      ignore_case = ps::ParseBool("ignore_case", *v);
    if (const std::string* v = s.Single("card_numbers"))
      card_numbers_ = ps::ParseBool("card_numbers", *v);
    if (const std::string* v = s.Single("reason")) {
      if (v->empty()) throw ps::SettingError("setting 'reason' is empty");
      reason_ = *v;
    }
    std::vector<std::string> patterns = s.All("pattern");
    if (!patterns.empty()) patterns_ = Compile(patterns, ignore_case);
    if (patterns.empty() && !card_numbers_) {
      throw ps::SettingError(
          "nothing to look for: set at least one 'pattern' or 'card_numbers = true'");
    }
  }

  chatpro_accept_verdict Decide(const chatpro_message_view& m, std::string* reason) const {
    if (m.content_kind != CHATPRO_CONTENT_TEXT && m.content_kind != CHATPRO_CONTENT_EDIT) {
      return CHATPRO_ACCEPT_ALLOW;
    }
    std::string_view text = ps::View(m.text);
    std::string_view head = text.substr(0, ps::Utf8Prefix(text, kMaxRegexTextBytes));
    if (patterns_ && std::regex_match(head.begin(), head.end(), *patterns_)) {
      *reason = reason_.empty() ? kDefaultPatternReason : reason_;
      return verdict_;
    }
    if (card_numbers_ && HasCardNumber(text)) {
      *reason = reason_.empty() ? kDefaultCardReason : reason_;
      return verdict_;
    }
    return CHATPRO_ACCEPT_ALLOW;
  }

 private:
  // One regex that matches a whole text containing a match of any of
  // `patterns`: a single linear regex_match pass replaces regex_search's
  // try-every-start loop, and one pass over the text serves every pattern.
  static std::optional<std::regex> Compile(const std::vector<std::string>& patterns,
                                           bool ignore_case) {
    auto flags = std::regex::ECMAScript | std::regex::nosubs;
#if defined(__GLIBCXX__)
    flags |= std::regex_constants::__polynomial;
#endif
    if (ignore_case) flags |= std::regex::icase;
    std::string any;
    for (const std::string& pattern : patterns) {
      if (pattern.empty()) throw ps::SettingError("setting 'pattern' is empty");
      try {
        // Alone first: a pattern that compiles on its own has balanced
        // groups, so joining it with others cannot change what it means.
        std::regex alone(pattern, flags);
      } catch (const std::regex_error& e) {
        throw ps::SettingError("setting 'pattern' = '" + pattern +
                               "' is not a usable regular expression (ECMAScript syntax, no "
                               "back-references): " +
                               e.what());
      }
      any += (any.empty() ? "(?:" : "|(?:") + pattern + ")";
    }
    try {
      return std::regex("[\\s\\S]*(?:" + any + ")[\\s\\S]*", flags);
    } catch (const std::regex_error& e) {
      throw ps::SettingError(std::string("the 'pattern' settings together are too complex: ") +
                             e.what());
    }
  }

  chatpro_accept_verdict verdict_ = CHATPRO_ACCEPT_REJECT;
  bool card_numbers_ = false;
  std::string reason_;
  std::optional<std::regex> patterns_;  // every `pattern`, joined; none if there are none
};

int OnAccept(void* instance, const chatpro_message_view* message, std::int64_t /*now_us*/,
             chatpro_accept_result* result) noexcept {
  return ps::Guard([&]() {
    if (instance == nullptr || result == nullptr || !ps::UsableView(message)) {
      return CHATPRO_PLUGIN_FAILED;
    }
    std::string reason;
    chatpro_accept_verdict verdict = static_cast<Patterns*>(instance)->Decide(*message, &reason);
    result->verdict = verdict;
    ps::WriteString(result->reason, sizeof result->reason, reason);
    return CHATPRO_PLUGIN_OK;
  });
}

const chatpro_plugin kPlugin = {
    CHATPRO_PLUGIN_API_VERSION, "patterns", &ps::Create<Patterns>,
    &ps::Destroy<Patterns>,     &OnAccept,  nullptr,
};

}  // namespace
}  // namespace chatpro::plugins

extern "C" CHATPRO_PLUGIN_EXPORT const chatpro_plugin* chatpro_plugin_entry(void) {
  return &chatpro::plugins::kPlugin;
}
