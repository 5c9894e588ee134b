// SPDX-License-Identifier: Apache-2.0
//
// Keeping people safe: `chatpro block`, `unblock`, `blocked`, `report`, and
// `chatpro admin reports` for administrators and auditors.
#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace chatpro::cli {
namespace {

int BlockCommand(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() != 1) return UsageError(inv, "give the login name of the person to block");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  Status s = (*client)->Block(pos[0]);
  if (!s.ok()) return Fail(inv, s);
  PrintLine("blocked " + pos[0] + ": no direct messages pass between you any more");
  return kExitOk;
}

int UnblockCommand(const Invocation& inv) {
  const auto& pos = inv.args.positional();
  if (pos.size() != 1) return UsageError(inv, "give the login name of the person to unblock");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  Status s = (*client)->Unblock(pos[0]);
  if (!s.ok()) return Fail(inv, s);
  PrintLine("unblocked " + pos[0]);
  return kExitOk;
}

int BlockedCommand(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "blocked takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto blocked = (*client)->ListBlocked();
  if (!blocked.ok()) return Fail(inv, blocked.status());
  for (const auto& login : *blocked) {
    bool ok = PrintLine(inv.args.Has("json") ? "{\"login\":" + JsonString(login) + "}"
                                             : Printable(login));
    if (!ok) return kExitError;
  }
  return kExitOk;
}

int ReportCommand(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] +
                               "' (the reason goes after --reason)");
  }
  if (auto problem = CheckTargetOptions(inv.args)) return UsageError(inv, *problem);
  auto seq = inv.args.GetUint("seq");
  if (!seq.ok()) return UsageError(inv, seq.status().message());
  if (!seq->has_value() || **seq == 0) {
    return UsageError(inv, "give --seq N: the seq of the message to report (a number above 0)");
  }
  std::string reason = inv.args.Get("reason").value_or("");
  if (reason.empty()) return UsageError(inv, "give --reason TEXT: what is wrong with the message");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  Result<ResolvedTarget> target = ResolveTarget(**client, inv.args);
  if (!target.ok()) return Fail(inv, target.status());
  std::uint64_t conversation = target->target.conversation_id;
  if (conversation == 0) {
    // --to USER: the direct conversation with them.
    auto direct = (*client)->OpenDirect(target->target.user);
    if (!direct.ok()) return Fail(inv, direct.status());
    conversation = direct->id;
  }
  Status s = (*client)->Report(conversation, **seq, reason);
  if (!s.ok()) return Fail(inv, s);
  PrintLine("reported message " + std::to_string(**seq) + " of " + target->label +
            " (conversation " + std::to_string(conversation) +
            ") to the administrators; a copy is kept as evidence");
  return kExitOk;
}

int AdminReports(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "admin reports takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto reports = (*client)->AdminListReports();
  if (!reports.ok()) return Fail(inv, reports.status());
  for (const auto& r : *reports) {
    bool ok = inv.args.Has("json") ? PrintLine(ReportJson(r)) : PrintAll(FormatReport(r));
    if (!ok) return kExitError;
  }
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> SafetyCommands() {
  std::vector<OptionSpec> report_options = TargetOptions("in");
  report_options.push_back({"seq", "N", "the seq of the message (`history --json` shows it)"});
  report_options.push_back({"reason", "TEXT", "what is wrong with it"});
  return {
      {"block", "block USER", "stop direct messages with someone",
       "Blocks USER: from now on no direct message passes between the two of you, in\n"
       "either direction (both get \"permission denied\"). Groups are not affected.",
       {},
       BlockCommand},
      {"unblock", "unblock USER", "allow direct messages with someone again",
       "Lifts a block made with `chatpro block`.", {}, UnblockCommand},
      {"blocked", "blocked [--json]", "list the people you blocked",
       "Prints the login of each person you blocked, one per line.",
       {{"json", "", "one JSON object per line"}},
       BlockedCommand},
      {"report", "report (--to USER | --group NAME | --conversation ID) --seq N --reason TEXT",
       "report a message to the administrators",
       "Reports message N of a conversation you are in to the organisation's\n"
       "administrators. The broker keeps a copy of the message as evidence, even if it\n"
       "is later deleted.",
       report_options, ReportCommand},
      {"admin reports", "admin reports [--json]",
       "list reported messages (administrators, auditors)",
       "Prints each report: who reported which message when and why, then the reported\n"
       "message as it was when reported, indented:\n"
       "  report 1 [2026-11-24 10:05:00] by ana on #3 seq 17: insulting\n"
       "      [2026-11-24 10:03:12] #3 bob: ...",
       {{"json", "", "one JSON object per line (the message as in `listen --json`)"}},
       AdminReports},
  };
}

}  // namespace chatpro::cli
