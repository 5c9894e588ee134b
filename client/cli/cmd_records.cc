// SPDX-License-Identifier: Apache-2.0
//
// Records management: legal holds, retention runs, the loaded plugins, cases
// for access to people's messages (four eyes), their exports, and
// `chatpro my-data-access` for anyone.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace chatpro::cli {
namespace {

// `export start --wait` asks for the export's state this often, backing off
// from the first to the longest interval.
constexpr std::chrono::milliseconds kFirstPoll{100};
constexpr std::chrono::milliseconds kLongestPoll{2000};

// The one positional word as an id above 0, or a usage message.
Result<std::uint64_t> OneId(const Invocation& inv, const std::string& what) {
  const auto& pos = inv.args.positional();
  if (pos.size() != 1) return Status::InvalidArgument("give the id of the " + what);
  std::optional<std::uint64_t> id = ParseUint(pos[0]);
  if (!id || *id == 0) {
    return Status::InvalidArgument("a " + what + " id is a number above 0, not '" + pos[0] + "'");
  }
  return *id;
}

// Prints one JSON object per line with `json`, or the lines for people.
template <typename T>
int PrintList(const Invocation& inv, const std::vector<T>& items,
              std::string (*json)(const T&), const std::vector<std::string>& lines) {
  if (inv.args.Has("json")) {
    for (const auto& item : items) {
      if (!PrintLine(json(item))) return kExitError;
    }
    return kExitOk;
  }
  return PrintAll(lines) ? kExitOk : kExitError;
}

int NoArguments(const Invocation& inv) {
  return UsageError(inv, inv.name + " takes no arguments");
}

// ------------------------------------------------------------------ holds

int HoldSet(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] + "'");
  }
  if (inv.args.Has("user") == inv.args.Has("conversation")) {
    return UsageError(inv, "name exactly one of --user LOGIN or --conversation ID");
  }
  client::HoldTarget target;
  if (auto user = inv.args.Get("user")) {
    if (user->empty()) return UsageError(inv, "--user needs a login name");
    target = client::HoldTarget::User(*user);
  } else {
    std::optional<std::uint64_t> id = ParseUint(*inv.args.Get("conversation"));
    if (!id || *id == 0) {
      return UsageError(inv, "--conversation needs a conversation id (a number above 0)");
    }
    target = client::HoldTarget::Conversation(*id);
  }
  std::string case_ref = inv.args.Get("case").value_or("");
  if (case_ref.empty()) return UsageError(inv, "give --case REF: the organisation's case reference");
  std::string reason = inv.args.Get("reason").value_or("");
  if (reason.empty()) return UsageError(inv, "give --reason TEXT: why the hold is needed");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto hold = (*client)->SetHold(target, case_ref, reason);
  if (!hold.ok()) return Fail(inv, hold.status());
  PrintLine("hold " + std::to_string(hold->id) + " set on " + DescribeHoldTarget(hold->target) +
            " (case " + Printable(hold->case_ref) +
            "): no retention policy removes anything it covers until it is lifted");
  return kExitOk;
}

int HoldLift(const Invocation& inv) {
  auto id = OneId(inv, "hold");
  if (!id.ok()) return UsageError(inv, id.status().message());
  std::string reason = inv.args.Get("reason").value_or("");
  if (reason.empty()) return UsageError(inv, "give --reason TEXT: why the hold may end");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  Status s = (*client)->LiftHold(*id, reason);
  if (!s.ok()) return Fail(inv, s);
  PrintLine("lifted hold " + std::to_string(*id) +
            "; retention policies apply again to what it covered");
  return kExitOk;
}

int HoldList(const Invocation& inv) {
  if (!inv.args.positional().empty()) return NoArguments(inv);
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto holds = (*client)->ListHolds(inv.args.Has("all"));
  if (!holds.ok()) return Fail(inv, holds.status());
  return PrintList(inv, *holds, HoldJson, FormatHolds(*holds));
}

// ------------------------------------------------------------------ retention and plugins

int RetentionRun(const Invocation& inv) {
  if (!inv.args.positional().empty()) return NoArguments(inv);
  // A run over a large store takes minutes; the broker answers when it ends.
  client::ClientOptions options = OneShot();
  options.request_timeout = std::chrono::hours(2);
  auto client = ConnectFor(inv, options);
  if (!client.ok()) return Fail(inv, client.status());
  auto report = (*client)->RunRetention(/*dry_run=*/!inv.args.Has("apply"));
  if (!report.ok()) return Fail(inv, report.status());
  return PrintList(inv, std::vector<client::RetentionReport>{*report}, RetentionReportJson,
                   FormatRetentionReport(*report));
}

int Plugins(const Invocation& inv) {
  if (!inv.args.positional().empty()) return NoArguments(inv);
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto plugins = (*client)->ListPlugins();
  if (!plugins.ok()) return Fail(inv, plugins.status());
  return PrintList(inv, *plugins, PluginJson, FormatPlugins(*plugins));
}

// ------------------------------------------------------------------ cases

int CaseOpen(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] + "'");
  }
  client::CaseRequest request;
  std::optional<std::string> kind = inv.args.Get("kind");
  if (!kind) return UsageError(inv, "give --kind subject-access or --kind search");
  auto parsed_kind = client::ParseCaseKind(*kind);
  if (!parsed_kind.ok()) return UsageError(inv, parsed_kind.status().message());
  request.kind = *parsed_kind;
  request.legal_basis = inv.args.Get("basis").value_or("");
  if (request.legal_basis.empty()) {
    return UsageError(inv, "give --basis TEXT: the legal basis for the access");
  }
  request.subjects = inv.args.GetAll("subject");
  if (request.subjects.empty()) {
    return UsageError(inv, "give --subject LOGIN: whose data the case concerns (repeatable)");
  }
  for (const auto& s : request.subjects) {
    if (s.empty()) return UsageError(inv, "--subject needs a login name");
  }
  for (const auto& c : inv.args.GetAll("conversation")) {
    std::optional<std::uint64_t> id = ParseUint(c);
    if (!id || *id == 0) {
      return UsageError(inv, "--conversation needs a conversation id (a number above 0), not '" +
                                 c + "'");
    }
    request.conversations.push_back(*id);
  }
  if (auto from = inv.args.Get("from")) {
    std::optional<std::int64_t> us = ParseTimestamp(*from);
    if (!us) {
      return UsageError(inv, "--from needs a date (YYYY-MM-DD) or an ISO-8601 time, not '" +
                                 *from + "'");
    }
    request.from_us = *us;
  }
  if (auto to = inv.args.Get("to")) {
    // A date alone includes the whole day.
    std::optional<std::int64_t> us = ParseTimestamp(*to, /*end_of_day=*/true);
    if (!us) {
      return UsageError(inv, "--to needs a date (YYYY-MM-DD) or an ISO-8601 time, not '" + *to +
                                 "'");
    }
    request.to_us = *us;
  }
  if (request.to_us != 0 && request.from_us > request.to_us) {
    return UsageError(inv, "--from is after --to");
  }
  request.keyword = inv.args.Get("keyword").value_or("");
  request.redact_others = inv.args.Has("redact-others");
  if (request.kind == client::CaseKind::kSubjectAccess &&
      (!request.conversations.empty() || !request.keyword.empty())) {
    return UsageError(inv, "--conversation and --keyword narrow a search (--kind search)");
  }
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto opened = (*client)->OpenCase(std::move(request));
  if (!opened.ok()) return Fail(inv, opened.status());
  std::vector<std::string> lines = FormatCase(*opened);
  lines.push_back("someone of the other role must approve it before any export: chatpro admin "
                  "case approve " +
                  std::to_string(opened->id));
  return PrintAll(lines) ? kExitOk : kExitError;
}

int CaseApprove(const Invocation& inv) {
  auto id = OneId(inv, "case");
  if (!id.ok()) return UsageError(inv, id.status().message());
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto approved = (*client)->ApproveCase(*id);
  if (!approved.ok()) return Fail(inv, approved.status());
  std::vector<std::string> lines = FormatCase(*approved);
  lines.push_back("start the export with: chatpro admin export start " + std::to_string(*id));
  return PrintAll(lines) ? kExitOk : kExitError;
}

int CaseList(const Invocation& inv) {
  if (!inv.args.positional().empty()) return NoArguments(inv);
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto cases = (*client)->ListCases();
  if (!cases.ok()) return Fail(inv, cases.status());
  return PrintList(inv, *cases, CaseJson, FormatCases(*cases));
}

// ------------------------------------------------------------------ exports

int ExportStart(const Invocation& inv) {
  auto case_id = OneId(inv, "case");
  if (!case_id.ok()) return UsageError(inv, case_id.status().message());
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto info = (*client)->StartExport(*case_id);
  if (!info.ok()) return Fail(inv, info.status());
  if (!inv.args.Has("wait")) {
    PrintLine("started export " + std::to_string(info->id) + " of case " +
              std::to_string(*case_id) + "; see how far it is with: chatpro admin export status " +
              std::to_string(info->id));
    return kExitOk;
  }
  const std::uint64_t export_id = info->id;
  std::chrono::milliseconds pause = kFirstPoll;
  while (info->running()) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, kLongestPoll);
    info = (*client)->ExportStatus(export_id);
    if (!info.ok()) return Fail(inv, info.status());
  }
  PrintLine(FormatExport(*info));
  if (info->failed()) return kExitError;
  PrintLine("download it with: chatpro admin export download " + std::to_string(export_id) +
            " --output FILE");
  return kExitOk;
}

int ExportStatus(const Invocation& inv) {
  auto id = OneId(inv, "export");
  if (!id.ok()) return UsageError(inv, id.status().message());
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto info = (*client)->ExportStatus(*id);
  if (!info.ok()) return Fail(inv, info.status());
  if (!PrintLine(inv.args.Has("json") ? ExportJson(*info) : FormatExport(*info))) {
    return kExitError;
  }
  return info->failed() ? kExitError : kExitOk;
}

int ExportDownload(const Invocation& inv) {
  auto id = OneId(inv, "export");
  if (!id.ok()) return UsageError(inv, id.status().message());
  std::string output = inv.args.Get("output").value_or("");
  if (output.empty()) return UsageError(inv, "give --output FILE: where the zip file goes");
  const bool force = inv.args.Has("force");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  const bool tty = ::isatty(2) == 1;
  client::ExportProgress progress;
  if (tty) {
    progress = [](std::uint64_t written, std::uint64_t total) {
      std::fprintf(stderr, "\r%llu of %llu bytes", static_cast<unsigned long long>(written),
                   static_cast<unsigned long long>(total));
    };
  }
  std::uint64_t size = 0;
  Status s = (*client)->DownloadExport(
      *id, output,
      [&](std::uint64_t written, std::uint64_t total) {
        size = written;
        if (progress) progress(written, total);
      },
      force ? client::ExistingFile::kReplace : client::ExistingFile::kRefuse);
  if (tty) std::fputc('\n', stderr);
  if (s.code() == StatusCode::kAlreadyExists) {
    return Fail(inv, Status::AlreadyExists(s.message() + " (add --force to replace it)"));
  }
  if (!s.ok()) return Fail(inv, s);
  PrintLine("downloaded export " + std::to_string(*id) + " to " + output + ": " +
            FormatBytes(size));
  return kExitOk;
}

// ------------------------------------------------------------------ for everyone

int MyDataAccess(const Invocation& inv) {
  if (!inv.args.positional().empty()) return NoArguments(inv);
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto cases = (*client)->MyDataAccess();
  if (!cases.ok()) return Fail(inv, cases.status());
  if (inv.args.Has("json")) return PrintList(inv, *cases, CaseJson, {});
  if (cases->empty()) {
    return PrintLine("no access to your messages is on record (a case stays hidden until its "
                     "embargo ends)")
               ? kExitOk
               : kExitError;
  }
  std::vector<std::string> lines;
  for (const auto& c : *cases) {
    if (!lines.empty()) lines.push_back("");
    for (auto& l : FormatCase(c)) lines.push_back(std::move(l));
  }
  return PrintAll(lines) ? kExitOk : kExitError;
}

}  // namespace

std::vector<CommandSpec> RecordsCommands() {
  return {
      {"admin hold set",
       "admin hold set (--user LOGIN | --conversation ID) --case REF --reason TEXT",
       "put a person or a conversation on legal hold (administrators)",
       "Puts a person (everything they sent or received) or one conversation on legal\n"
       "hold: no retention policy removes anything it covers until the hold is lifted.\n"
       "Prints the new hold's id, e.g.\n"
       "  hold 21 set on user ben (case LIT-2026-7): no retention policy removes anything it\n"
       "  covers until it is lifted",
       {{"user", "LOGIN", "hold everything LOGIN sent or received"},
        {"conversation", "ID", "hold conversation ID"},
        {"case", "REF", "the organisation's case reference (required)"},
        {"reason", "TEXT", "why the hold is needed (required)"}},
       HoldSet},
      {"admin hold lift", "admin hold lift ID --reason TEXT", "lift legal hold ID (administrators)",
       "Lifts hold ID (see `chatpro admin hold list`); retention policies apply again to\n"
       "what it covered. The reason goes into the audit log.",
       {{"reason", "TEXT", "why the hold may end (required)"}},
       HoldLift},
      {"admin hold list", "admin hold list [--all] [--json]", "list legal holds (administrators, auditors)",
       "Prints the holds in force, one per line: id, target (user or conversation), case\n"
       "reference, who set it and when, when it was lifted (\"-\" while in force), reason.",
       {{"all", "", "include lifted holds"}, {"json", "", "one JSON object per line"}},
       HoldList},
      {"admin retention run", "admin retention run [--apply] [--json]",
       "run the retention policies now (administrators)",
       "Runs the configured retention policies over the whole store. Without --apply it\n"
       "is a dry run: nothing is removed and the report says what would be. The report:\n"
       "messages examined, deleted, attachments stripped (voice and picture bytes\n"
       "removed, the message kept), attachment bytes, conversations touched, messages a\n"
       "legal hold protected, and each policy's counts.",
       {{"apply", "", "remove what the policies select (default: dry run)"},
        {"json", "", "the report as one JSON object"}},
       RetentionRun},
      {"admin plugins", "admin plugins [--json]", "list the loaded plugins (administrators, auditors)",
       "Prints each plugin instance the broker loaded: its configured name, the plugin's\n"
       "own name, its hooks (accept: decides on incoming messages; retention: decides\n"
       "what retention removes), how many of its calls failed (a failing plugin never\n"
       "deletes anything), and the library file.",
       {{"json", "", "one JSON object per line"}},
       Plugins},
      {"admin case open",
       "admin case open --kind subject-access|search --basis TEXT --subject LOGIN "
       "[--subject LOGIN ...] [--conversation ID ...] [--from DATE] [--to DATE] "
       "[--keyword WORD] [--redact-others]",
       "open a case for access to people's messages",
       "Opens a case for access to people's messages: a subject access request (a person\n"
       "asks for their data) or a search (an investigation). Four eyes: someone of the\n"
       "other role must approve it (`chatpro admin case approve ID`) before an export\n"
       "may start, and the approval expires. DATE is YYYY-MM-DD (UTC; --to includes that\n"
       "whole day) or an ISO-8601 time such as 2026-03-01T09:30:00Z or\n"
       "2026-03-01T09:30+01:00 (UTC when no offset is given).",
       {{"kind", "KIND", "subject-access or search (required)"},
        {"basis", "TEXT", "the legal basis for the access (required)"},
        {"subject", "LOGIN", "whose data the case concerns (required; repeatable)", true},
        {"conversation", "ID", "a search: only conversation ID (repeatable; default: all of "
                               "the subjects')", true},
        {"from", "DATE", "only messages from DATE on"},
        {"to", "DATE", "only messages up to DATE"},
        {"keyword", "WORD", "a search: only messages containing WORD"},
        {"redact-others", "", "replace other people's identities in the export"}},
       CaseOpen},
      {"admin case approve", "admin case approve ID",
       "approve case ID (the other role than its requester)",
       "Approves case ID so that its export may start before the approval expires. The\n"
       "requester cannot approve their own case.",
       {},
       CaseApprove},
      {"admin case list", "admin case list [--json]", "list the cases (administrators, auditors)",
       "Prints each case: id, kind, state (awaiting approval, approved, expired,\n"
       "exported), subjects, requester, approver, scope and legal basis.",
       {{"json", "", "one JSON object per line"}},
       CaseList},
      {"admin export start", "admin export start CASE_ID [--wait]",
       "start the export of an approved case",
       "Starts building the export (a zip file) of approved case CASE_ID in the\n"
       "background and prints its id. With --wait, waits until it is done or failed and\n"
       "prints its final state (exit status 1 if it failed).",
       {{"wait", "", "wait until the export is done"}},
       ExportStart},
      {"admin export status", "admin export status ID [--json]", "how far export ID is",
       "Prints the export's state (running, done, failed) with the messages,\n"
       "attachments and bytes so far, e.g.\n"
       "  export 77 of case 32: done, 120 messages, 4 attachments, 1.2 MiB (1258291 bytes)\n"
       "Exit status 1 if the export failed.",
       {{"json", "", "one JSON object per line"}},
       ExportStatus},
      {"admin export download", "admin export download ID --output FILE [--force]",
       "download finished export ID into FILE",
       "Downloads the zip file of finished export ID, a chunk of up to 1 MiB at a time,\n"
       "into a private temporary file beside FILE that takes FILE's name only once it is\n"
       "whole and synced. An existing FILE is refused unless --force is given. On any\n"
       "failure (chunks that do not line up are data loss) nothing is left behind.",
       {{"output", "FILE", "where the zip file goes (required)"},
        {"force", "", "replace FILE if it exists"}},
       ExportDownload},
      {"my-data-access", "my-data-access [--json]", "cases that accessed your messages",
       "Prints every case that concerned you (a subject access request or a search of\n"
       "your messages): who asked, on what legal basis, who approved it, and its scope.\n"
       "A case shows up only once its embargo has ended.",
       {{"json", "", "one JSON object per line"}},
       MyDataAccess},
  };
}

}  // namespace chatpro::cli
