// SPDX-License-Identifier: Apache-2.0
//
// fuzz_config: the input is the text of a chatpro-broker config file,
// optionally followed by a line `%%` and then command-line settings, one
// `KEY=VALUE` a line, as `--set KEY=VALUE` gives them (split at the first
// `=`, as service/main.cc does). broker/config parses the file text and
// builds the options from both, the way the service does at start-up.
//
// Invariants: a refusal is InvalidArgument with a message that names where
// (the file and line, or the flag); the same settings given as flags instead
// of in the file are accepted or refused alike (when no key repeats); every value that parses as a
// size or a duration does so without overflow reports from UBSan.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config/config.h"

namespace {

void Require(bool ok, const std::string& why) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", why.c_str());
    std::abort();
  }
}

void RequireRefusal(const chatpro::Status& status, std::string_view names) {
  Require(status.code() == chatpro::StatusCode::kInvalidArgument,
          "a refusal that is not InvalidArgument: " + status.ToString());
  Require(status.message().find(names) != std::string::npos,
          "a refusal that does not name " + std::string(names) + ": " + status.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view file_text = input;
  std::vector<chatpro::Setting> flags;
  size_t cut = input.find("\n%%\n");
  if (cut != std::string_view::npos) {
    file_text = input.substr(0, cut + 1);
    std::string_view rest = input.substr(cut + 4);
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      size_t eq = line.find('=');
      if (eq == std::string_view::npos) continue;  // main.cc refuses it before parsing
      std::string key(line.substr(0, eq));
      flags.push_back({key, std::string(line.substr(eq + 1)), "--set " + key});
    }
  }

  chatpro::Result<std::vector<chatpro::Setting>> file =
      chatpro::ParseConfigText(file_text, "fuzz.conf");
  if (!file.ok()) {
    RequireRefusal(file.status(), "fuzz.conf");
    return 0;
  }
  for (const chatpro::Setting& s : *file) {
    Require(s.where.rfind("fuzz.conf:", 0) == 0, "a setting without its line: " + s.where);
    (void)chatpro::ParseSize(s.value);
    (void)chatpro::ParseDuration(s.value);
  }

  chatpro::Result<chatpro::BrokerOptions> options =
      chatpro::BuildOptions(*file, flags, "/nonexistent/etc/chatpro");
  if (!options.ok()) {
    Require(options.status().code() == chatpro::StatusCode::kInvalidArgument,
            "a refusal that is not InvalidArgument: " + options.status().ToString());
    Require(!options.status().message().empty(), "a refusal without a message");
  }

  // The file's settings as flags: the same names, the same verdict. Only
  // when no key repeats: a repeated flag replaces the earlier one by design
  // (the last --set wins), where the file refuses some repeats.
  std::set<std::string> keys;
  bool repeats = false;
  for (const chatpro::Setting& s : *file) repeats = !keys.insert(s.key).second || repeats;
  if (flags.empty() && !repeats) {
    std::vector<chatpro::Setting> as_flags = *file;
    for (chatpro::Setting& s : as_flags) s.where = "--set " + s.key;
    chatpro::Result<chatpro::BrokerOptions> from_flags =
        chatpro::BuildOptions({}, as_flags, "/nonexistent/etc/chatpro");
    Require(from_flags.ok() == options.ok(),
            "the file " + std::string(options.ok() ? "is accepted" : "is refused") +
                " but the same settings as flags are " +
                (from_flags.ok() ? "accepted" : "refused: " + from_flags.status().ToString()) +
                (options.ok() ? std::string() : " (file: " + options.status().ToString() + ")"));
  }
  return 0;
}
