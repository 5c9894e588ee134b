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

}  // namespace

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
