// SPDX-License-Identifier: Apache-2.0
//
// The commands of the `chatpro` client and what they share: the command
// table entries, exit statuses, error printing, connecting with the profile,
// and resolving --to / --group / --conversation.
//
// Thread-safety: the CLI runs its commands on the main thread; PrintLine may
// be called from any thread (stdout is locked per line).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/cli/args.h"
#include "client/client.h"

namespace chatpro::cli {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;    // the broker refused, a file is missing, ...
constexpr int kExitUsage = 2;    // the command line is wrong
constexpr int kExitTimeout = 3;  // listen --timeout ran out before --count
constexpr int kExitRevoked = 4;  // listen: the organisation revoked this device

struct Invocation {
  std::string name;         // "group add"
  std::string profile_dir;  // --profile, or Profile::DefaultDir()
  Args args;
};

using Handler = int (*)(const Invocation&);

struct CommandSpec {
  std::string name;         // "send", "group add", "admin user list"
  std::string usage;        // the synopsis after "chatpro "
  std::string summary;      // one line for the overview
  std::string description;  // paragraphs for --help
  std::vector<OptionSpec> options;
  Handler handler = nullptr;
};

std::vector<CommandSpec> AccountCommands();  // enroll, whoami, users, invite, admin user ...
std::vector<CommandSpec> SendCommands();     // send
std::vector<CommandSpec> ReadCommands();     // listen, history
std::vector<CommandSpec> GroupCommands();    // group ..., admin groups
std::vector<CommandSpec> DeviceCommands();   // devices, device revoke, admin user (de|re)activate
std::vector<CommandSpec> SafetyCommands();   // block, unblock, blocked, report, admin reports
std::vector<CommandSpec> AuditCommands();    // admin audit, admin audit verify
// admin hold ..., admin retention run, admin plugins, admin case ..., admin
// export ..., my-data-access
std::vector<CommandSpec> RecordsCommands();
// schedule show, schedule set, presence, admin disconnect-report
std::vector<CommandSpec> ScheduleCommands();
// admin backup start, admin backup status, admin backup list
std::vector<CommandSpec> BackupCommands();
// admin console-password
std::vector<CommandSpec> ConsoleCommands();

// Every command, in the order of `chatpro --help`.
std::vector<CommandSpec> AllCommands();
// Runs the `chatpro` command line (the words after the program name) and
// returns the exit status. Used by main() and by the tests.
int Run(const std::vector<std::string>& words);

// Prints "chatpro NAME: MESSAGE" on stderr; returns kExitError.
int Fail(const Invocation& inv, const Status& status);
// Prints the usage error and a pointer to --help on stderr; returns kExitUsage.
int UsageError(const Invocation& inv, const std::string& message);

// Writes one line to stdout and flushes it. False if stdout is gone.
bool PrintLine(const std::string& line);
// PrintLine for each line; false if stdout is gone.
bool PrintAll(const std::vector<std::string>& lines);

// Options for one-shot commands: a send-only session.
client::ClientOptions OneShot();

// Loads the profile and connects.
Result<std::unique_ptr<client::Client>> ConnectFor(const Invocation& inv,
                                                    client::ClientOptions options);

// The options --to USER, --group NAME, --conversation ID.
std::vector<OptionSpec> TargetOptions(const std::string& verb);
// A usage message unless exactly one of them is given (or a bad id).
std::optional<std::string> CheckTargetOptions(const Args& args);

struct ResolvedTarget {
  client::Target target;
  std::string label;  // "ana", "group team", "#3"
  std::optional<client::Conversation> conversation;  // known for --group
};
// Turns the options into a Target; --group asks the broker (FindGroup).
Result<ResolvedTarget> ResolveTarget(client::Client& client, const Args& args);

}  // namespace chatpro::cli
