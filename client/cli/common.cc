// SPDX-License-Identifier: Apache-2.0
#include <cstdio>
#include <mutex>

#include "client/cli/commands.h"

namespace chatpro::cli {

int Fail(const Invocation& inv, const Status& status) {
  std::fprintf(stderr, "chatpro %s: %s\n", inv.name.c_str(), status.message().c_str());
  return kExitError;
}

int UsageError(const Invocation& inv, const std::string& message) {
  std::fprintf(stderr, "chatpro %s: %s\nTry 'chatpro %s --help'.\n", inv.name.c_str(),
               message.c_str(), inv.name.c_str());
  return kExitUsage;
}

bool PrintLine(const std::string& line) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  return std::fflush(stdout) == 0 && !std::ferror(stdout);
}

bool PrintAll(const std::vector<std::string>& lines) {
  for (const auto& l : lines) {
    if (!PrintLine(l)) return false;
  }
  return true;
}

client::ClientOptions OneShot() {
  client::ClientOptions o;
  o.receive = false;
  return o;
}

Result<std::unique_ptr<client::Client>> ConnectFor(const Invocation& inv,
                                                    client::ClientOptions options) {
  CHATPRO_ASSIGN_OR_RETURN(client::Profile profile, client::Profile::Load(inv.profile_dir));
  return client::Client::Connect(profile, std::move(options));
}

std::vector<OptionSpec> TargetOptions(const std::string& verb) {
  return {
      {"to", "USER", verb + " the direct chat with USER (a login name)"},
      {"group", "NAME", verb + " the group NAME"},
      {"conversation", "ID", verb + " conversation ID"},
  };
}

std::optional<std::string> CheckTargetOptions(const Args& args) {
  int n = args.Has("to") + args.Has("group") + args.Has("conversation");
  if (n != 1) return "name exactly one of --to USER, --group NAME or --conversation ID";
  if (args.Has("conversation")) {
    auto id = ParseUint(*args.Get("conversation"));
    if (!id || *id == 0) return "--conversation needs a conversation id (a number above 0)";
  }
  if (args.Has("to") && args.Get("to")->empty()) return "--to needs a login name";
  return std::nullopt;
}

Result<ResolvedTarget> ResolveTarget(client::Client& client, const Args& args) {
  ResolvedTarget r;
  if (auto to = args.Get("to")) {
    r.target = client::Target::User(*to);
    r.label = *to;
  } else if (auto group = args.Get("group")) {
    CHATPRO_ASSIGN_OR_RETURN(client::Conversation c, client.FindGroup(*group));
    r.target = client::Target::Conversation(c.id);
    r.label = "group " + c.name;
    r.conversation = std::move(c);
  } else {
    std::uint64_t id = *ParseUint(*args.Get("conversation"));
    r.target = client::Target::Conversation(id);
    r.label = "#" + std::to_string(id);
  }
  return r;
}

}  // namespace chatpro::cli
