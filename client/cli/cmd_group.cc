// SPDX-License-Identifier: Apache-2.0
//
// `chatpro group ...`: create groups, change their members, leave them, and
// list all conversations; `chatpro admin groups`: every group of the
// organisation with its members and owners. Groups are named by name, or by `--id N` when
// names clash.
#include <algorithm>

#include "client/cli/commands.h"
#include "client/cli/format.h"

namespace chatpro::cli {
namespace {

std::string Members(const client::Conversation& c) {
  std::string out;
  for (const auto& m : c.members) {
    if (!out.empty()) out += ", ";
    out += m.login + (m.owner ? " (owner)" : "");
  }
  return out.empty() ? "(no members)" : out;
}

std::string Describe(const client::Conversation& c) {
  return "#" + std::to_string(c.id) + " " + std::string(KindName(c.kind)) + " " +
         Printable(c.name) + ": " + Members(c);
}

std::string ConversationJson(const client::Conversation& c) {
  std::string members;
  for (const auto& m : c.members) {
    if (!members.empty()) members += ",";
    members += "{\"login\":" + JsonString(m.login) + ",\"display_name\":" +
               JsonString(m.display_name) + ",\"owner\":" + (m.owner ? "true" : "false") + "}";
  }
  return "{\"id\":" + std::to_string(c.id) + ",\"kind\":" + JsonString(KindName(c.kind)) +
         ",\"name\":" + JsonString(c.name) + ",\"members\":[" + members +
         "],\"head_seq\":" + std::to_string(c.head_seq) +
         ",\"first_seq\":" + std::to_string(c.first_seq) + "}";
}

struct GroupRef {
  std::uint64_t id = 0;
  std::string label;  // "team (#4)"
};

// The group named by --id or by the first positional word (which is then
// consumed from `words`).
Result<GroupRef> ResolveGroup(client::Client& client, const Args& args,
                              std::vector<std::string>* words) {
  if (auto id = args.Get("id")) {
    std::uint64_t n = *ParseUint(*id);
    return GroupRef{n, "#" + std::to_string(n)};
  }
  std::string name = words->front();
  words->erase(words->begin());
  CHATPRO_ASSIGN_OR_RETURN(client::Conversation c, client.FindGroup(name));
  return GroupRef{c.id, Printable(c.name) + " (#" + std::to_string(c.id) + ")"};
}

// Checks --id and the number of positional words: `extra` words after the
// group, at least `min_extra`, at most `max_extra` (-1: any).
std::optional<std::string> CheckGroupArgs(const Args& args, std::size_t min_extra, int max_extra,
                                          const std::string& what) {
  if (args.Has("id")) {
    auto id = ParseUint(*args.Get("id"));
    if (!id || *id == 0) return "--id needs a conversation id (a number above 0)";
  }
  std::size_t n = args.positional().size();
  std::size_t group_words = args.Has("id") ? 0 : 1;
  if (n < group_words + min_extra ||
      (max_extra >= 0 && n > group_words + static_cast<std::size_t>(max_extra))) {
    return "give " + what;
  }
  return std::nullopt;
}

int Create(const Invocation& inv) {
  if (inv.args.positional().size() != 1) return UsageError(inv, "give the group's name");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto c = (*client)->CreateGroup(inv.args.positional()[0], inv.args.GetAll("member"));
  if (!c.ok()) return Fail(inv, c.status());
  PrintLine("created group " + Describe(*c));
  return kExitOk;
}

int Add(const Invocation& inv) {
  if (auto p = CheckGroupArgs(inv.args, 1, -1, "the group (NAME or --id N) and one or more users")) {
    return UsageError(inv, *p);
  }
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  std::vector<std::string> words = inv.args.positional();
  auto group = ResolveGroup(**client, inv.args, &words);
  if (!group.ok()) return Fail(inv, group.status());
  auto c = (*client)->AddMembers(group->id, words, inv.args.Has("owner"));
  if (!c.ok()) return Fail(inv, c.status());
  std::string who;
  for (const auto& w : words) who += (who.empty() ? "" : ", ") + w;
  PrintLine("added " + who + (inv.args.Has("owner") ? " as owners" : "") + " to " +
            Describe(*c));
  return kExitOk;
}

int Remove(const Invocation& inv) {
  if (auto p = CheckGroupArgs(inv.args, 1, 1, "the group (NAME or --id N) and one user")) {
    return UsageError(inv, *p);
  }
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  std::vector<std::string> words = inv.args.positional();
  auto group = ResolveGroup(**client, inv.args, &words);
  if (!group.ok()) return Fail(inv, group.status());
  auto c = (*client)->RemoveMember(group->id, words[0]);
  if (!c.ok()) return Fail(inv, c.status());
  PrintLine("removed " + words[0] + " from " + Describe(*c));
  return kExitOk;
}

int Leave(const Invocation& inv) {
  if (auto p = CheckGroupArgs(inv.args, 0, 0, "the group: NAME or --id N")) {
    return UsageError(inv, *p);
  }
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  std::vector<std::string> words = inv.args.positional();
  auto group = ResolveGroup(**client, inv.args, &words);
  if (!group.ok()) return Fail(inv, group.status());
  Status s = (*client)->LeaveGroup(group->id);
  if (!s.ok()) return Fail(inv, s);
  PrintLine("left group " + group->label);
  return kExitOk;
}

int List(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "group list takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto all = (*client)->ListConversations();
  if (!all.ok()) return Fail(inv, all.status());
  for (const auto& c : *all) {
    if (!PrintLine(inv.args.Has("json") ? ConversationJson(c) : Describe(c))) return kExitError;
  }
  return kExitOk;
}

std::string Logins(const std::vector<std::string>& logins) {
  std::string out;
  for (const auto& l : logins) out += (out.empty() ? "" : ",") + JsonString(l);
  return "[" + out + "]";
}

int AdminGroups(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "admin groups takes no arguments");
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  auto groups = (*client)->AdminListGroups();
  if (!groups.ok()) return Fail(inv, groups.status());
  if (inv.args.Has("json")) {
    for (const auto& g : *groups) {
      if (!PrintLine("{\"id\":" + std::to_string(g.id) + ",\"name\":" + JsonString(g.name) +
                     ",\"created_at_us\":" + std::to_string(g.created_at_us) +
                     ",\"members\":" + Logins(g.members) + ",\"owners\":" + Logins(g.owners) +
                     "}")) {
        return kExitError;
      }
    }
    return kExitOk;
  }
  for (const auto& g : *groups) {
    std::string members;
    for (const auto& m : g.members) {
      bool owner = std::find(g.owners.begin(), g.owners.end(), m) != g.owners.end();
      members += (members.empty() ? "" : ", ") + m + (owner ? " (owner)" : "");
    }
    if (!PrintLine("#" + std::to_string(g.id) + " " + Printable(g.name) + ": " +
                   (members.empty() ? "(no members)" : members))) {
      return kExitError;
    }
  }
  return kExitOk;
}

OptionSpec IdOption() { return {"id", "N", "name the group by its conversation id instead"}; }

}  // namespace

std::vector<CommandSpec> GroupCommands() {
  return {
      {"group create", "group create NAME [--member USER]...", "create a group",
       "Creates a group with you as its owner and the given members.",
       {{"member", "USER", "add USER as a member (repeat for more)", true}},
       Create},
      {"group add", "group add (NAME | --id N) USER... [--owner]", "add members to a group",
       "Adds people to a group you own. With --owner they become owners too. New members\n"
       "read the group from the moment they join.",
       {IdOption(), {"owner", "", "make them owners"}},
       Add},
      {"group remove", "group remove (NAME | --id N) USER", "remove a member from a group",
       "Removes a member from a group you own. They get nothing sent after the removal.",
       {IdOption()},
       Remove},
      {"group leave", "group leave (NAME | --id N)", "leave a group",
       "Leaves a group. If you were its last owner, the longest-standing member takes over.",
       {IdOption()},
       Leave},
      {"group list", "group list [--json]", "list your groups and direct chats",
       "Prints every conversation you are in with its id, kind, name and members, e.g.\n"
       "  #4 group team: ana (owner), bob",
       {{"json", "", "one JSON object per line"}},
       List},
      {"admin groups", "admin groups [--json]",
       "list every group with its members and owners (administrators, auditors)",
       "Prints every group of the organisation, one per line, with its id, name and\n"
       "members (owners marked), e.g.\n"
       "  #4 team: ana (owner), bob\n"
       "Never a message of them. Direct chats are not listed.",
       {{"json", "", "one JSON object per line"}},
       AdminGroups},
  };
}

}  // namespace chatpro::cli
