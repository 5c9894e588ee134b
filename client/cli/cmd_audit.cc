// SPDX-License-Identifier: Apache-2.0
//
// `chatpro admin audit` and `chatpro admin audit verify`: reading the
// organisation's hash-chained audit log and checking its chain.
#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace chatpro::cli {
namespace {

constexpr std::uint64_t kDefaultAuditLimit = 100;

int AdminAudit(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] + "'");
  }
  auto from = inv.args.GetUint("from");
  if (!from.ok()) return UsageError(inv, from.status().message());
  auto limit = inv.args.GetUint("limit");
  if (!limit.ok()) return UsageError(inv, limit.status().message());
  std::uint64_t n = limit->value_or(kDefaultAuditLimit);
  if (n == 0 || n > UINT32_MAX) return UsageError(inv, "--limit needs a number above 0");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto entries = (*client)->AdminListAudit(from->value_or(0), static_cast<std::uint32_t>(n));
  if (!entries.ok()) return Fail(inv, entries.status());
  if (inv.args.Has("json")) {
    for (const auto& e : *entries) {
      if (!PrintLine(AuditJson(e))) return kExitError;
    }
    return kExitOk;
  }
  return PrintAll(FormatAudit(*entries)) ? kExitOk : kExitError;
}

int AdminAuditVerify(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "admin audit verify takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto check = (*client)->AdminVerifyAudit();
  if (!check.ok()) return Fail(inv, check.status());
  PrintLine(FormatVerification(*check));
  return check->whole ? kExitOk : kExitError;
}

}  // namespace

std::vector<CommandSpec> AuditCommands() {
  return {
      {"admin audit", "admin audit [--from SEQ] [--limit N] [--json]",
       "read the audit log (administrators, auditors)",
       "Prints audit log entries, one line each: seq, time, actor (\"-\" for the broker\n"
       "itself), action, target and details (a JSON object), e.g.\n"
       "  12  2026-11-24 10:03:12  root  user.deactivate  user:ben  {\"devices_revoked\":2}\n"
       "Without --from, the newest N entries; with it, N entries from seq SEQ on.",
       {{"from", "SEQ", "start at entry SEQ (default: the newest entries)"},
        {"limit", "N", "at most N entries (default 100)"},
        {"json", "", "one JSON object per line (details as a JSON string, hash in hex)"}},
       AdminAudit},
      {"admin audit verify", "admin audit verify",
       "check the audit log's hash chain (administrators, auditors)",
       "Checks that no audit log entry was changed, removed or inserted: each entry's\n"
       "hash covers the one before it. Prints \"audit log whole: N entries\" and exits 0,\n"
       "or names the first broken entry and exits 1.",
       {},
       AdminAuditVerify},
  };
}

}  // namespace chatpro::cli
