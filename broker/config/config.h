// SPDX-License-Identifier: Apache-2.0
//
// Parsing of chatpro-broker's config file and command-line settings.
//
// The file is plain text, one `key = value` per line, grouped by `[section]`
// headers; `#` starts a comment (except inside a quoted value). Each setting
// is addressed as section.key, e.g. `limits.max_text_bytes`, and the same
// names are used on the command line (`--set limits.max_text_bytes=32KiB`).
// Sizes take B, KiB, MiB, GiB; durations take ms, s, min, h, d.
//
// Plugin instances are [plugin.NAME] sections (`--set plugin.NAME.KEY=V`):
// `library` is required; every other key is kept, in order and repeats
// included, for the plugin (PluginOptions::settings). A key set on the
// command line replaces that key's values from the file.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/base/result.h"
#include "broker/config/options.h"

namespace chatpro {

struct Setting {
  std::string key;    // "section.key"
  std::string value;  // trimmed; surrounding quotes removed
  std::string where;  // "chatpro.conf:12" or "--listen", for error messages
};

// Parses config text. On failure returns InvalidArgument naming the line.
Result<std::vector<Setting>> ParseConfigText(std::string_view text, std::string_view source_name);

// Reads and parses a config file. On failure returns NotFound or
// InvalidArgument naming the file and line.
Result<std::vector<Setting>> ReadConfigFile(const std::string& path);

// Builds options from defaults, then `file_settings`, then `flag_settings`.
// Relative paths in the file are resolved against `config_dir`. On failure
// returns InvalidArgument naming the offending key, where it was set, and why.
Result<BrokerOptions> BuildOptions(const std::vector<Setting>& file_settings,
                                   const std::vector<Setting>& flag_settings,
                                   const std::string& config_dir);

// The value of `[urgent] allowed`: a comma list of role:NAME (user, admin,
// auditor), user:LOGIN and profile:NAME, returned without spaces. An empty
// text is an empty list. On failure returns InvalidArgument naming the entry.
Result<std::vector<std::string>> ParseUrgentAllowed(std::string_view text);

// Every known key with a one-line description and its default, for --help.
std::vector<std::pair<std::string, std::string>> DescribeSettings();

// "64KiB" -> 65536. On failure returns InvalidArgument with a message meant to
// follow the setting's name and value (e.g. "is not a size like 64KiB").
Result<std::uint64_t> ParseSize(std::string_view text);
// "30s" -> 30'000'000 microseconds. Failures as for ParseSize.
Result<std::int64_t> ParseDuration(std::string_view text);

// Whether HOST:PORT names a loopback host (127.0.0.0/8, ::1, localhost).
bool IsLoopbackListen(std::string_view host_port);

}  // namespace chatpro
