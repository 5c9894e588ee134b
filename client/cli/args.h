// SPDX-License-Identifier: Apache-2.0
//
// Args: the command-line parser of the `chatpro` client. Each command
// declares its options (OptionSpec); Parse() splits argv into options and
// positional words and reports usage errors (unknown option, missing value,
// a number that is not one) as InvalidArgument, which the CLI turns into
// exit status 2.
//
// Accepted forms: `--name VALUE`, `--name=VALUE`, flags `--name`, `-h` for
// `--help`, and `--` to end the options. A lone `-` is a positional word or
// a value (stdin).
//
// Thread-safety: values; no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/base/result.h"

namespace chatpro::cli {

struct OptionSpec {
  std::string name;        // without the dashes: "to"
  std::string value_name;  // "USER"; empty for a flag
  std::string help;        // one line for --help
  bool repeated = false;   // may be given several times
};

class Args {
 public:
  // On a usage error returns InvalidArgument with a message for a person.
  static Result<Args> Parse(const std::vector<std::string>& argv,
                            const std::vector<OptionSpec>& specs);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value of an option, or nullopt.
  std::optional<std::string> Get(const std::string& name) const;
  std::vector<std::string> GetAll(const std::string& name) const;
  // The option as a whole number; InvalidArgument if it is not one.
  Result<std::optional<std::uint64_t>> GetUint(const std::string& name) const;
  // The option as a non-negative decimal number ("2.5").
  Result<std::optional<double>> GetSeconds(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Parses a whole decimal number; nullopt if `text` is not one or overflows.
std::optional<std::uint64_t> ParseUint(const std::string& text);

// Parses a date or time as Unix microseconds: "YYYY-MM-DD" (UTC midnight
// starting the day, or with `end_of_day` the last microsecond of the day) or
// an ISO-8601 timestamp "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" followed by "Z" or
// an offset ("+02:00", "-0530", "+01"); without one it is UTC. A space may
// stand for the "T". nullopt if `text` is none of these, names no real day or
// time, or lies before 1970.
std::optional<std::int64_t> ParseTimestamp(const std::string& text, bool end_of_day = false);

// The option list for --help, one option per line, aligned.
std::string FormatOptions(const std::vector<OptionSpec>& specs);

}  // namespace chatpro::cli
