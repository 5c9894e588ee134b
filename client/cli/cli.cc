// SPDX-License-Identifier: Apache-2.0
//
// The `chatpro` command line: finds the command in the table (commands.h),
// parses its options and runs it.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "broker/base/log.h"
#include "client/cli/commands.h"

namespace chatpro::cli {
namespace {

constexpr char kVersion[] = "chatpro 0.1.0";

std::vector<OptionSpec> GlobalOptions() {
  return {{"profile", "DIR", "the device profile to use (default: $CHATPRO_PROFILE, else "
                             "$XDG_CONFIG_HOME/chatpro or ~/.config/chatpro)"},
          {"help", "", "show help and exit"}};
}

void PrintOverview(const std::vector<CommandSpec>& commands, const std::string& prefix) {
  std::string out;
  if (prefix.empty()) {
    out += "chatpro: the ChatPro command-line client.\n\n"
           "Usage: chatpro [--profile DIR] COMMAND [OPTIONS]\n\nCommands:\n";
  } else {
    out += "Usage: chatpro " + prefix + " COMMAND [OPTIONS]\n\nCommands:\n";
  }
  std::size_t width = 0;
  for (const auto& c : commands) {
    if (c.name.rfind(prefix, 0) == 0) width = std::max(width, c.name.size());
  }
  for (const auto& c : commands) {
    if (c.name.rfind(prefix, 0) != 0) continue;
    out += "  " + c.name + std::string(width + 2 - c.name.size(), ' ') + c.summary + "\n";
  }
  std::vector<OptionSpec> globals = GlobalOptions();
  if (prefix.empty()) globals.push_back({"version", "", "print the version and exit"});
  out += "\nGlobal options:\n" + FormatOptions(globals);
  if (prefix.empty()) {
    out +=
        "\nEvery command takes --help. Exit status: 0 done, 1 error (from the broker, a file,\n"
        "the profile; a broken audit chain, a failed export), 2 wrong usage,\n"
        "3 `listen --timeout` ran out before --count messages,\n"
        "4 `listen` was cut off because the organisation revoked this device (its key and\n"
        "the files saved in that run were wiped). chatpro never prompts; errors go to stderr.\n";
  }
  std::fputs(out.c_str(), stdout);
}

void PrintHelp(const CommandSpec& c) {
  std::string out = "Usage: chatpro " + c.usage + "\n\n" + c.description + "\n";
  std::vector<OptionSpec> options = c.options;
  for (auto& g : GlobalOptions()) options.push_back(std::move(g));
  out += "\nOptions:\n" + FormatOptions(options);
  std::fputs(out.c_str(), stdout);
}

}  // namespace

std::vector<CommandSpec> AllCommands() {
  std::vector<CommandSpec> all;
  for (auto part : {AccountCommands(), DeviceCommands(), SendCommands(), ReadCommands(),
                    GroupCommands(), ScheduleCommands(), SafetyCommands(), AuditCommands(),
                    RecordsCommands(), BackupCommands(), ConsoleCommands()}) {
    for (auto& c : part) all.push_back(std::move(c));
  }
  return all;
}

int Run(const std::vector<std::string>& words) {
  SetLogLevel(LogLevel::kWarning);
  SetLogSink([](LogLevel level, std::string_view line) {
    std::fprintf(stderr, "chatpro: %.*s: %.*s\n", static_cast<int>(LogLevelName(level).size()),
                 LogLevelName(level).data(), static_cast<int>(line.size()), line.data());
  });

  std::vector<CommandSpec> commands = AllCommands();
  // Global options before the command.
  std::string profile_dir;
  std::size_t i = 0;
  bool help = false;
  for (; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--help" || w == "-h") {
      help = true;
    } else if (w == "--version") {
      std::puts(kVersion);
      return kExitOk;
    } else if (w == "--profile" && i + 1 < words.size()) {
      profile_dir = words[++i];
    } else if (w.rfind("--profile=", 0) == 0) {
      profile_dir = w.substr(10);
    } else if (!w.empty() && w[0] == '-') {
      std::fprintf(stderr, "chatpro: unknown option '%s'\nTry 'chatpro --help'.\n", w.c_str());
      return kExitUsage;
    } else {
      break;
    }
  }
  // The command: the longest run of words that names one.
  const CommandSpec* spec = nullptr;
  std::size_t used = 0;
  for (std::size_t n = 3; n >= 1 && spec == nullptr; --n) {
    if (i + n > words.size()) continue;
    std::string name;
    for (std::size_t k = 0; k < n; ++k) name += (k ? " " : "") + words[i + k];
    for (const auto& c : commands) {
      if (c.name == name) {
        spec = &c;
        used = n;
        break;
      }
    }
  }
  if (spec == nullptr) {
    // A command group ("group", "admin user"), an unknown word, or nothing.
    std::string prefix;
    std::size_t next = i;
    for (; next < words.size() && !words[next].empty() && words[next][0] != '-'; ++next) {
      std::string longer = prefix.empty() ? words[next] : prefix + " " + words[next];
      bool known = false;
      for (const auto& c : commands) known = known || c.name.rfind(longer + " ", 0) == 0;
      if (!known) break;
      prefix = longer;
    }
    bool wants_help = help;
    for (std::size_t k = i; k < words.size(); ++k) {
      wants_help = wants_help || words[k] == "--help" || words[k] == "-h";
    }
    if (wants_help) {
      PrintOverview(commands, prefix);
      return kExitOk;
    }
    if (i == words.size()) {
      std::fprintf(stderr, "chatpro: no command given\nTry 'chatpro --help'.\n");
    } else if (prefix.empty()) {
      std::fprintf(stderr, "chatpro: unknown command '%s'\nTry 'chatpro --help'.\n",
                   words[i].c_str());
    } else if (next < words.size()) {
      std::fprintf(stderr, "chatpro %s: unknown command '%s'\nTry 'chatpro %s --help'.\n",
                   prefix.c_str(), words[next].c_str(), prefix.c_str());
    } else {
      std::fprintf(stderr, "chatpro %s: which command?\nTry 'chatpro %s --help'.\n",
                   prefix.c_str(), prefix.c_str());
    }
    return kExitUsage;
  }

  std::vector<OptionSpec> options = spec->options;
  for (auto& g : GlobalOptions()) options.push_back(std::move(g));
  std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(i + used), words.end());
  Invocation inv;
  inv.name = spec->name;
  Result<Args> args = Args::Parse(rest, options);
  if (!args.ok()) {
    // --help wins over any other mistake on the line.
    for (const auto& w : rest) {
      if (w == "--help" || w == "-h") {
        PrintHelp(*spec);
        return kExitOk;
      }
    }
    return UsageError(inv, args.status().message());
  }
  if (help || args->Has("help")) {
    PrintHelp(*spec);
    return kExitOk;
  }
  if (auto p = args->Get("profile")) profile_dir = *p;
  inv.profile_dir = profile_dir.empty() ? client::Profile::DefaultDir() : profile_dir;
  inv.args = std::move(*args);
  return spec->handler(inv);
}

}  // namespace chatpro::cli
