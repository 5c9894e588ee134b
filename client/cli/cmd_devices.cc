// SPDX-License-Identifier: Apache-2.0
//
// `chatpro devices` and `chatpro device revoke`: a user's enrolled devices,
// and cutting one off (a lost phone) without touching the others.
#include <chrono>
#include <thread>

#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace chatpro::cli {
namespace {

// How long `device revoke` of the device it runs on waits to see the wipe.
constexpr std::chrono::seconds kOwnWipeWait{3};

int Devices(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() > 1) return UsageError(inv, "give at most one login name");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto devices = (*client)->ListDevices(pos.empty() ? "" : pos[0]);
  if (!devices.ok()) return Fail(inv, devices.status());
  if (inv.args.Has("json")) {
    for (const auto& d : *devices) {
      if (!PrintLine(DeviceJson(d))) return kExitError;
    }
    return kExitOk;
  }
  return PrintAll(FormatDevices(*devices)) ? kExitOk : kExitError;
}

int DeviceRevoke(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() != 1) return UsageError(inv, "give the id of the device to revoke");
  std::optional<std::uint64_t> id = ParseUint(pos[0]);
  if (!id || *id == 0) return UsageError(inv, "a device id is a number above 0, not '" + pos[0] + "'");
  std::string user = inv.args.Get("user").value_or("");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  client::SessionInfo me = (*client)->session();
  const bool own = *id == me.device_id && (user.empty() || user == me.login);
  Status s = (*client)->RevokeDevice(user, *id);
  if (own && (s.ok() || s.code() == StatusCode::kPermissionDenied)) {
    // Revoking the device this runs on: the broker tells this very session,
    // and the library wipes the profile. Its answer to the request may or may
    // not come before that.
    auto until = std::chrono::steady_clock::now() + kOwnWipeWait;
    while ((*client)->state() != client::ConnectionState::kRevoked &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if ((*client)->state() == client::ConnectionState::kRevoked) {
      PrintLine("revoked device " + std::to_string(*id) +
                " (this device); its key and profile were wiped");
      return kExitOk;
    }
  }
  if (!s.ok()) return Fail(inv, s);
  PrintLine("revoked device " + std::to_string(*id) + (user.empty() ? "" : " of " + user) +
            "; it is cut off and told to wipe its local copy");
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> DeviceCommands() {
  return {
      {"devices", "devices [USER] [--json]", "list your devices (or, for administrators, USER's)",
       "Prints each device with its id, name, client version, when it was enrolled, when\n"
       "and from which address it was last seen, whether it is active or revoked, and\n"
       "whether it is online now.",
       {{"json", "", "one JSON object per line"}},
       Devices},
      {"device revoke", "device revoke ID [--user NAME]", "cut off one device (a lost phone)",
       "Revokes device ID (see `chatpro devices`): its key is refused from now on, an open\n"
       "session is cut off and told to wipe its local copy. Your other devices are not\n"
       "touched. Administrators may revoke another user's device with --user.",
       {{"user", "NAME", "the device belongs to NAME (administrators; default: you)"}},
       DeviceRevoke},
  };
}

}  // namespace chatpro::cli
