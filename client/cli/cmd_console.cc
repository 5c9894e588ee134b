// SPDX-License-Identifier: Apache-2.0
//
// admin console-password: the password a user signs in to the web admin
// console with. It is checked against the policy and hashed (argon2id) here,
// on the machine where it was typed; only the hash goes to the broker.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#ifdef _WIN32
#include <windows.h>
#else
#include <termios.h>
#endif

#include "broker/crypto/keys.h"
#include "broker/crypto/password.h"
#include "client/cli/commands.h"

namespace chatpro::cli {
namespace {

// Reads one line from stdin without its line ending; nullopt at end of input.
std::optional<std::string> ReadLine() {
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Prompts on stderr and reads a line from the terminal without echoing it.
std::optional<std::string> ReadSecret(const std::string& prompt) {
  std::cerr << prompt << std::flush;
#ifdef _WIN32
  HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
  DWORD mode = 0;
  const bool got_mode = GetConsoleMode(in, &mode) != 0;
  if (got_mode) SetConsoleMode(in, mode & ~static_cast<DWORD>(ENABLE_ECHO_INPUT));
  std::optional<std::string> line = ReadLine();
  if (got_mode) SetConsoleMode(in, mode);
#else
  termios old{};
  const bool got_mode = tcgetattr(STDIN_FILENO, &old) == 0;
  if (got_mode) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::optional<std::string> line = ReadLine();
  if (got_mode) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
#endif
  std::cerr << "\n";
  return line;
}

int AdminConsolePassword(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() != 1) return UsageError(inv, "give the login name of the user");
  const std::string& login = pos[0];
  std::string hash;
  if (!inv.args.Has("clear")) {
    std::optional<std::string> password;
    if (::isatty(STDIN_FILENO) == 1) {
      password = ReadSecret("New console password for " + login + ": ");
      std::optional<std::string> again = ReadSecret("The same again: ");
      if (!password || !again) return Fail(inv, Status::InvalidArgument("no password was given"));
      if (*password != *again) {
        return Fail(inv, Status::InvalidArgument("the two passwords differ; nothing was changed"));
      }
    } else {
      password = ReadLine();
      if (!password) {
        return Fail(inv, Status::InvalidArgument("no password on standard input (one line)"));
      }
    }
    Status policy = crypto::CheckPasswordPolicy(*password);
    if (!policy.ok()) return Fail(inv, policy);
    Status init = crypto::InitCrypto();
    if (!init.ok()) return Fail(inv, init);
    Result<std::string> hashed = crypto::HashPassword(*password);
    if (!hashed.ok()) return Fail(inv, hashed.status());
    hash = std::move(*hashed);
  }
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  Status st = (*client)->SetConsolePassword(login, hash);
  if (!st.ok()) return Fail(inv, st);
  PrintLine(hash.empty() ? "console password cleared for " + login
                         : "console password set for " + login);
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> ConsoleCommands() {
  return {
      {"admin console-password", "admin console-password LOGIN [--clear]",
       "set the web console password of a user (administrators; anyone for themselves)",
       "Reads the new password for the web admin console from standard input: from a\n"
       "terminal it asks twice without showing it (both must match), otherwise it takes\n"
       "one line. The password needs at least 12 characters (at most 1024 bytes) and not\n"
       "one character repeated. It is hashed here (argon2id) and only the hash is sent;\n"
       "the broker records the change in the audit log, without the hash. Administrators\n"
       "may set anyone's password, others only their own; only administrators and\n"
       "auditors can sign in to the console.",
       {{"clear", "", "remove the password: LOGIN can no longer sign in to the console"}},
       AdminConsolePassword},
  };
}

}  // namespace chatpro::cli
