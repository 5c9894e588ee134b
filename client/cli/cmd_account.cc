// SPDX-License-Identifier: Apache-2.0
//
// Commands about identity: enroll, whoami, users, invite, admin user
// add/list/deactivate/reactivate.
#include <algorithm>
#include <cstdio>

#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace chatpro::cli {
namespace {

std::string UserJson(const client::UserInfo& u) {
  return "{\"id\":" + std::to_string(u.id) + ",\"login\":" + JsonString(u.login) +
         ",\"display_name\":" + JsonString(u.display_name) + ",\"role\":" +
         JsonString(client::RoleName(u.role)) + ",\"active\":" + (u.active ? "true" : "false") +
         ",\"devices\":" + std::to_string(u.devices) +
         ",\"created_at_us\":" + std::to_string(u.created_at_us) + "}";
}

int Enroll(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() != 1) return UsageError(inv, "give the invite (chatpro://...) and nothing else");
  client::EnrollOptions options;
  options.device_name = inv.args.Get("name").value_or("");
  options.overwrite = inv.args.Has("force");
  Result<client::Profile> p = client::Enroll(inv.profile_dir, pos[0], options);
  if (!p.ok()) {
    if (p.status().code() == StatusCode::kAlreadyExists) {
      return Fail(inv, Status::AlreadyExists(p.status().message() +
                                             "; use --force to replace it, or --profile DIR"));
    }
    return Fail(inv, p.status());
  }
  PrintLine("enrolled as " + p->login + " (device " + std::to_string(p->device_id) + ")");
  return kExitOk;
}

int WhoAmI(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "whoami takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  client::SessionInfo s = (*client)->session();
  PrintAll(Table({{"login:", s.login},
                  {"display name:", Printable(s.display_name)},
                  {"role:", std::string(client::RoleName(s.role))},
                  {"user id:", std::to_string(s.user_id)},
                  {"device id:", std::to_string(s.device_id)},
                  {"broker:", s.server_version},
                  {"profile:", inv.profile_dir}}));
  return kExitOk;
}

int Users(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "users takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto users = (*client)->Directory();
  if (!users.ok()) return Fail(inv, users.status());
  if (inv.args.Has("json")) {
    for (const auto& u : *users) {
      PrintLine("{\"login\":" + JsonString(u.login) +
                ",\"display_name\":" + JsonString(u.display_name) + "}");
    }
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{{"LOGIN", "NAME"}};
  for (const auto& u : *users) rows.push_back({u.login, Printable(u.display_name)});
  PrintAll(Table(rows));
  return kExitOk;
}

void PrintInvite(const client::InviteInfo& invite, const std::string& intro) {
  std::string when = invite.expires_at_us > 0 ? ", valid until " + FormatTime(invite.expires_at_us)
                                              : "";
  // The chatpro:// invite stays the last line: scripts take it from there.
  if (invite.web_link.empty()) {
    PrintLine(intro + when + ", for one use:");
  } else {
    PrintLine(intro + when + ", for one use.");
    PrintLine("In a browser, open: " + invite.web_link);
    PrintLine("With the chatpro app (chatpro enroll INVITE):");
  }
  PrintLine(invite.invite);
}

int InviteCommand(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() > 1) return UsageError(inv, "give at most one login name");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto invite = (*client)->CreateInvite(pos.empty() ? "" : pos[0]);
  if (!invite.ok()) return Fail(inv, invite.status());
  std::string who = invite->login.empty() ? (pos.empty() ? "you" : pos[0]) : invite->login;
  PrintInvite(*invite, "invite for a new device of " + who);
  return kExitOk;
}

int AdminUserAdd(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() != 1) return UsageError(inv, "give the new user's login name");
  Result<client::Role> role = client::ParseRole(inv.args.Get("role").value_or("user"));
  if (!role.ok()) return Fail(inv, role.status());
  std::string display = inv.args.Get("display-name").value_or("");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto invite = (*client)->AdminAddUser(pos[0], display, *role);
  if (!invite.ok()) return Fail(inv, invite.status());
  std::string login = invite->login.empty() ? pos[0] : invite->login;
  PrintLine("created user " + login + (display.empty() ? "" : " (" + Printable(display) + ")") +
            ", role " + std::string(client::RoleName(*role)));
  PrintInvite(*invite, "invite for their first device");
  return kExitOk;
}

int AdminUserList(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "admin user list takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto users = (*client)->AdminListUsers();
  if (!users.ok()) return Fail(inv, users.status());
  if (inv.args.Has("json")) {
    for (const auto& u : *users) PrintLine(UserJson(u));
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows{
      {"ID", "LOGIN", "ROLE", "ACTIVE", "DEVICES", "CREATED", "NAME"}};
  for (const auto& u : *users) {
    rows.push_back({std::to_string(u.id), u.login, std::string(client::RoleName(u.role)),
                    u.active ? "yes" : "no", std::to_string(u.devices),
                    u.created_at_us ? FormatTime(u.created_at_us) : "-", Printable(u.display_name)});
  }
  PrintAll(Table(rows));
  return kExitOk;
}

int AdminUserDeactivate(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() != 1) return UsageError(inv, "give the login name of the user to deactivate");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto off = (*client)->AdminDeactivateUser(pos[0]);
  if (!off.ok()) return Fail(inv, off.status());
  if (off->login.empty()) off->login = pos[0];
  PrintAll(FormatOffboarding(*off));
  return kExitOk;
}

int AdminUserReactivate(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() != 1) return UsageError(inv, "give the login name of the user to reactivate");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto invite = (*client)->AdminReactivateUser(pos[0]);
  if (!invite.ok()) return Fail(inv, invite.status());
  std::string login = invite->login.empty() ? pos[0] : invite->login;
  PrintLine("reactivated user " + login + "; their old devices stay revoked");
  PrintInvite(*invite, "invite for a fresh enrollment");
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> AccountCommands() {
  return {
      {"enroll", "enroll INVITE [--name DEVICE_NAME] [--force]",
       "make this machine a device of your account",
       "Enrolls this machine as a new device with a one-time invite (chatpro://...) from an\n"
       "administrator or from another device of yours (chatpro invite). Makes a key pair,\n"
       "registers its public key with the broker and writes the profile folder (--profile).\n"
       "Prints \"enrolled as LOGIN (device N)\".",
       {{"name", "DEVICE_NAME", "a name for this device (default: the host name)"},
        {"force", "", "replace a profile that is already in the folder"}},
       Enroll},
      {"whoami", "whoami", "show who this profile is, as the broker sees it",
       "Connects and prints the login, display name, role, user and device id.", {}, WhoAmI},
      {"users", "users [--json]", "list the people you can write to",
       "Prints the directory: every user's login and display name.",
       {{"json", "", "one JSON object per line"}},
       Users},
      {"invite", "invite [USER]", "make an invite for a new device",
       "Makes a one-time invite for another device of yours or, for administrators, of\n"
       "USER. The invite is the last line of the output.",
       {},
       InviteCommand},
      {"admin user add", "admin user add LOGIN [--display-name NAME] [--role user|admin|auditor]",
       "create a user (administrators)",
       "Creates a user and prints a summary, then the invite for their first device as\n"
       "the last line. Login names are 1 to 32 of a-z, 0-9, '.', '_' and '-'.",
       {{"display-name", "NAME", "the name people see (default: the login)"},
        {"role", "ROLE", "user (default), admin or auditor"}},
       AdminUserAdd},
      {"admin user list", "admin user list [--json]", "list all users (administrators, auditors)",
       "Prints every user with id, role, state, number of devices and creation time.",
       {{"json", "", "one JSON object per line"}},
       AdminUserList},
      {"admin user deactivate", "admin user deactivate LOGIN",
       "offboard a leaver (administrators)",
       "Deactivates the user in one action: every device of theirs is revoked and told to\n"
       "wipe its local copy (its key and saved messages and media), every open session is\n"
       "cut off, every pending invite cancelled. What they sent stays, and groups they\n"
       "owned keep an owner. Prints what was done: devices revoked, sessions closed, when\n"
       "the last session closed (and how long after the request), invites cancelled.",
       {},
       AdminUserDeactivate},
      {"admin user reactivate", "admin user reactivate LOGIN",
       "let a deactivated user back in (administrators)",
       "Reactivates the user and prints an invite for a fresh enrollment as the last line.\n"
       "Their old devices stay revoked.",
       {},
       AdminUserReactivate},
  };
}

}  // namespace chatpro::cli
