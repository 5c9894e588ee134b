// SPDX-License-Identifier: Apache-2.0
#include "client/cli/args.h"

#include <algorithm>
#include <cstdlib>

namespace chatpro::cli {
namespace {

const OptionSpec* Find(const std::vector<OptionSpec>& specs, const std::string& name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool LeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Reads exactly `n` digits at text[i]; advances i.
std::optional<int> Digits(const std::string& text, std::size_t& i, std::size_t n) {
  if (i + n > text.size()) return std::nullopt;
  int v = 0;
  for (std::size_t k = 0; k < n; ++k) {
    char c = text[i + k];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  i += n;
  return v;
}

}  // namespace

std::optional<std::int64_t> ParseTimestamp(const std::string& text, bool end_of_day) {
  constexpr std::int64_t kUsPerSecond = 1'000'000;
  std::size_t i = 0;
  auto year = Digits(text, i, 4);
  if (!year || i >= text.size() || text[i++] != '-') return std::nullopt;
  auto month = Digits(text, i, 2);
  if (!month || i >= text.size() || text[i++] != '-') return std::nullopt;
  auto day = Digits(text, i, 2);
  if (!day || *year < 1970 || *month < 1 || *month > 12 || *day < 1) return std::nullopt;
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int days_in_month = kDays[*month - 1] + (*month == 2 && LeapYear(*year) ? 1 : 0);
  if (*day > days_in_month) return std::nullopt;
  std::int64_t days = DaysFromCivil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  std::int64_t us = days * 86400 * kUsPerSecond;
  if (i == text.size()) return end_of_day ? us + 86400 * kUsPerSecond - 1 : us;

  if (text[i] != 'T' && text[i] != 't' && text[i] != ' ') return std::nullopt;
  ++i;
  auto hour = Digits(text, i, 2);
  if (!hour || i >= text.size() || text[i++] != ':') return std::nullopt;
  auto minute = Digits(text, i, 2);
  if (!minute || *hour > 23 || *minute > 59) return std::nullopt;
  std::int64_t seconds = *hour * 3600 + *minute * 60;
  std::int64_t fraction_us = 0;
  if (i < text.size() && text[i] == ':') {
    ++i;
    auto second = Digits(text, i, 2);
    if (!second || *second > 59) return std::nullopt;
    seconds += *second;
    if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
      ++i;
      std::size_t digits = 0;
      std::int64_t scale = 100'000;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (digits < 6) fraction_us += (text[i] - '0') * scale;  // finer than 1 us is dropped
        scale /= 10;
        ++digits;
        ++i;
      }
      if (digits == 0 || digits > 9) return std::nullopt;
    }
  }
  std::int64_t offset_seconds = 0;
  if (i < text.size()) {
    char sign = text[i];
    if (sign == 'Z' || sign == 'z') {
      ++i;
    } else if (sign == '+' || sign == '-') {
      ++i;
      auto oh = Digits(text, i, 2);
      if (!oh || *oh > 23) return std::nullopt;
      int om = 0;
      if (i < text.size()) {
        if (text[i] == ':') ++i;
        auto m = Digits(text, i, 2);
        if (!m || *m > 59) return std::nullopt;
        om = *m;
      }
      offset_seconds = (sign == '+' ? 1 : -1) * (*oh * 3600 + om * 60);
    } else {
      return std::nullopt;
    }
  }
  if (i != text.size()) return std::nullopt;
  std::int64_t result = us + (seconds - offset_seconds) * kUsPerSecond + fraction_us;
  if (result < 0) return std::nullopt;
  return result;
}

std::optional<std::uint64_t> ParseUint(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

Result<Args> Args::Parse(const std::vector<std::string>& argv,
                         const std::vector<OptionSpec>& specs) {
  Args args;
  bool options_done = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (options_done || word == "-" || word.empty() || word[0] != '-') {
      args.positional_.push_back(word);
      continue;
    }
    if (word == "--") {
      options_done = true;
      continue;
    }
    std::string name;
    std::optional<std::string> inline_value;
    if (word == "-h") {
      name = "help";
    } else if (word.rfind("--", 0) == 0) {
      name = word.substr(2);
      if (std::size_t eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    } else {
      return Status::InvalidArgument("unknown option '" + word + "'");
    }
    const OptionSpec* spec = Find(specs, name);
    if (spec == nullptr) return Status::InvalidArgument("unknown option '--" + name + "'");
    std::string value;
    if (spec->value_name.empty()) {
      if (inline_value) return Status::InvalidArgument("--" + name + " takes no value");
    } else if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= argv.size()) {
        return Status::InvalidArgument("--" + name + " needs a value (" + spec->value_name + ")");
      }
      value = argv[++i];
    }
    auto& slot = args.values_[name];
    if (!slot.empty() && !spec->repeated && slot.back() != value) {
      return Status::InvalidArgument("--" + name + " is given more than once");
    }
    slot.push_back(std::move(value));
  }
  return args;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

Result<std::optional<std::uint64_t>> Args::GetUint(const std::string& name) const {
  std::optional<std::string> text = Get(name);
  if (!text) return std::optional<std::uint64_t>();
  std::optional<std::uint64_t> v = ParseUint(*text);
  if (!v) return Status::InvalidArgument("--" + name + " needs a whole number, not '" + *text + "'");
  return std::optional<std::uint64_t>(*v);
}

Result<std::optional<double>> Args::GetSeconds(const std::string& name) const {
  std::optional<std::string> text = Get(name);
  if (!text) return std::optional<double>();
  bool dot = false;
  bool digit = false;
  for (char c : *text) {
    if (c == '.' && !dot) {
      dot = true;
    } else if (c >= '0' && c <= '9') {
      digit = true;
    } else {
      digit = false;
      break;
    }
  }
  if (!digit || text->size() > 12) {
    return Status::InvalidArgument("--" + name + " needs a number of seconds, not '" + *text + "'");
  }
  return std::optional<double>(std::strtod(text->c_str(), nullptr));
}

std::string FormatOptions(const std::vector<OptionSpec>& specs) {
  std::vector<std::string> left;
  std::size_t width = 0;
  for (const auto& s : specs) {
    std::string l = "  --" + s.name + (s.value_name.empty() ? "" : " " + s.value_name);
    width = std::max(width, l.size());
    left.push_back(std::move(l));
  }
  std::string out;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    out += left[i] + std::string(width + 2 - left[i].size(), ' ') + specs[i].help + "\n";
  }
  return out;
}

}  // namespace chatpro::cli
