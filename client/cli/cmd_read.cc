// SPDX-License-Identifier: Apache-2.0
//
// `chatpro listen` and `chatpro history`: showing messages, and saving their
// voice and picture files.
//
// listen: the library's I/O thread hands each delivery to a queue (on_message
// must not block or call back into the client); the main thread prints the
// queue, looks up conversation names and watches --count, --timeout and the
// signals. A delivery counts as processed (and is acknowledged) once it is in
// the queue; everything queued is printed before exiting.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>

#include "client/cli/commands.h"
#include "client/cli/format.h"
#include "client/cli/media.h"

namespace chatpro::cli {
namespace {

using namespace std::chrono_literals;

constexpr char kDefaultSaveDir[] = "chatpro-media";

volatile std::sig_atomic_t g_signal = 0;
extern "C" void OnSignal(int sig) { g_signal = sig; }

// Conversation names for message lines, refreshed when an unknown id shows up.
class Conversations {
 public:
  void Put(const client::Conversation& c) {
    std::lock_guard<std::mutex> lock(mutex_);
    by_id_[c.id] = c;
  }
  std::optional<client::Conversation> Get(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return std::nullopt;
    return it->second;
  }
  // REQUIRES: not on the client's I/O thread.
  std::optional<client::Conversation> Find(client::Client& client, std::uint64_t id) {
    if (auto c = Get(id)) return c;
    // While the broker cannot answer (it is restarting, say), a lookup would
    // hold up every line for the request timeout: print without names a while.
    auto now = std::chrono::steady_clock::now();
    if (now < retry_after_) return std::nullopt;
    if (auto all = client.ListConversations(); all.ok()) {
      for (const auto& c : *all) Put(c);
    } else {
      retry_after_ = now + 30s;
    }
    return Get(id);
  }

 private:
  std::mutex mutex_;
  std::map<std::uint64_t, client::Conversation> by_id_;  // GUARDED_BY(mutex_)
  std::chrono::steady_clock::time_point retry_after_{};  // main thread only
};

// The media files `listen` saved in this run, so that they can be wiped when
// the organisation revokes the device. Saving and wiping exclude each other:
// a file being written when the revocation comes is wiped too, and nothing
// is saved after the wipe.
class MediaLedger {
 public:
  Result<SavedMedia> Save(const client::Message& m, const std::string& dir) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (wiped_) return Status::PermissionDenied("this device was revoked");
    Result<SavedMedia> r = SaveMedia(m, dir);
    if (r.ok()) {
      if (!r->file.empty()) files_.push_back(r->file);
      if (!r->thumbnail_file.empty()) files_.push_back(r->thumbnail_file);
    } else {
      // A failed save may have left a file behind: the names it would have had.
      std::string stem = (std::filesystem::path(dir) / (std::to_string(m.conversation_id) + "-" +
                                                        std::to_string(m.seq)))
                             .string();
      if (const auto* voice = std::get_if<client::Voice>(&m.content)) {
        files_.push_back(stem + "." + ExtensionForVoice(voice->codec, voice->audio));
      } else if (const auto* picture = std::get_if<client::Picture>(&m.content)) {
        std::string ext = ExtensionForPicture(picture->mime_type);
        files_.push_back(stem + "." + ext);
        files_.push_back(stem + "-thumb." + ext);
      }
    }
    return r;
  }

  // Deletes every file saved so far; returns what could not be deleted.
  std::vector<std::string> Wipe() {
    std::lock_guard<std::mutex> lock(mutex_);
    wiped_ = true;
    std::vector<std::string> problems;
    std::error_code ec;
    for (const auto& f : files_) {
      if (!std::filesystem::remove(f, ec) && ec) problems.push_back(f + ": " + ec.message());
    }
    files_.clear();
    return problems;
  }

 private:
  std::mutex mutex_;
  bool wiped_ = false;              // GUARDED_BY(mutex_)
  std::vector<std::string> files_;  // GUARDED_BY(mutex_)
};

// Saves the media of `m` (unless save_dir is empty; through `ledger` if
// given) and prints it; false if stdout is gone.
bool Show(const client::Message& m, const client::Conversation* conversation,
          const std::string& save_dir, bool json, MediaLedger* ledger = nullptr) {
  SavedMedia saved;
  // A stripped voice or picture has nothing to save: it is shown as removed.
  const bool media = (std::holds_alternative<client::Voice>(m.content) ||
                      std::holds_alternative<client::Picture>(m.content)) &&
                     !IsStripped(m);
  if (!save_dir.empty() && media) {
    Result<SavedMedia> r = ledger != nullptr ? ledger->Save(m, save_dir) : SaveMedia(m, save_dir);
    if (r.ok()) {
      saved = std::move(*r);
    } else {
      std::fprintf(stderr, "chatpro: message %llu/%llu not saved: %s\n",
                   static_cast<unsigned long long>(m.conversation_id),
                   static_cast<unsigned long long>(m.seq), r.status().message().c_str());
    }
  }
  return PrintLine(json ? FormatJson(m, conversation, saved) : FormatLine(m, conversation, saved));
}

struct ListenState {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<client::Message> queue;  // GUARDED_BY(mutex)
  // Presence changes of people who share a conversation, with when they came.
  std::deque<std::pair<client::PresenceInfo, std::int64_t>> presence;  // GUARDED_BY(mutex)
  std::uint64_t received = 0;         // GUARDED_BY(mutex)
  client::Client* client = nullptr;   // GUARDED_BY(mutex); set once connected
  std::optional<Status> fatal;        // GUARDED_BY(mutex)
  // Revocation: the reason once on_revoked ran; `wiped` once the library has
  // wiped the profile too (state kRevoked).
  std::optional<std::string> revoked;     // GUARDED_BY(mutex)
  std::vector<std::string> wipe_problems;  // GUARDED_BY(mutex)
  bool wiped = false;                     // GUARDED_BY(mutex)
};

// Says what happened on stderr; returns kExitRevoked.
int RevokedExit(const Invocation& inv, const ListenState& state) {
  std::string reason = Printable(state.revoked.value_or("no reason given"));
  std::vector<std::string> problems = state.wipe_problems;
  std::error_code ec;
  for (const char* name : {"device.key", "profile.conf"}) {
    std::filesystem::path p = std::filesystem::path(inv.profile_dir) / name;
    if (std::filesystem::exists(p, ec)) problems.push_back(p.string() + " is still there");
  }
  if (problems.empty()) {
    std::fprintf(stderr,
                 "chatpro: this device was revoked by your organisation (%s); its key and the "
                 "files saved here were wiped\n",
                 reason.c_str());
  } else {
    std::string what;
    for (const auto& p : problems) what += (what.empty() ? "" : "; ") + p;
    std::fprintf(stderr,
                 "chatpro: this device was revoked by your organisation (%s); wiping was "
                 "incomplete: %s\n",
                 reason.c_str(), what.c_str());
  }
  return kExitRevoked;
}

int Listen(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "listen takes no arguments");
  auto count_arg = inv.args.GetUint("count");
  if (!count_arg.ok()) return UsageError(inv, count_arg.status().message());
  auto timeout_arg = inv.args.GetSeconds("timeout");
  if (!timeout_arg.ok()) return UsageError(inv, timeout_arg.status().message());
  const std::uint64_t count = count_arg->value_or(0);
  if (count_arg->has_value() && count == 0) return UsageError(inv, "--count needs a number above 0");
  const bool json = inv.args.Has("json");
  const std::string save_dir = inv.args.Get("save-dir").value_or(kDefaultSaveDir);

  auto state = std::make_shared<ListenState>();
  auto names = std::make_shared<Conversations>();
  auto ledger = std::make_shared<MediaLedger>();
  client::ClientOptions options;
  options.receive = true;
  options.on_message = [state, count](const client::Message& m) {
    std::unique_lock<std::mutex> lock(state->mutex);
    state->queue.push_back(m);
    ++state->received;
    if (count > 0 && state->received >= count) {
      // The N-th message: leave every later one to the next session. Connect()
      // may not have returned yet when the first messages arrive.
      state->cv.wait_for(lock, 15s, [&] { return state->client != nullptr; });
      if (state->client != nullptr) state->client->StopReceiving();
    }
    state->cv.notify_all();
  };
  options.on_conversation = [names](const client::Conversation& c) { names->Put(c); };
  options.on_presence = [state](const client::PresenceInfo& p) {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->presence.emplace_back(p, std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
    state->cv.notify_all();
  };
  options.on_revoked = [state, ledger](const std::string& reason) {
    // Runs before the library wipes the key: the files saved in this run go
    // first, and nothing more is shown.
    std::vector<std::string> problems = ledger->Wipe();
    std::lock_guard<std::mutex> lock(state->mutex);
    state->revoked = reason;
    state->wipe_problems = std::move(problems);
    state->queue.clear();
    state->cv.notify_all();
  };
  options.on_state = [state](client::ConnectionState s, const Status& status) {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (s == client::ConnectionState::kRefused) {
      state->fatal = status;
    } else if (s == client::ConnectionState::kRevoked) {
      state->wiped = true;
    } else {
      return;
    }
    state->cv.notify_all();
  };

  auto client = ConnectFor(inv, options);
  if (!client.ok()) {
    // Revoked while connecting: the wipe has run all the same.
    std::lock_guard<std::mutex> lock(state->mutex);
    if (state->wiped) return RevokedExit(inv, *state);
    return Fail(inv, client.status());
  }
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->client = client->get();
  }
  state->cv.notify_all();
  if (auto all = (*client)->ListConversations(); all.ok()) {
    for (const auto& c : *all) names->Put(c);
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
#ifdef SIGPIPE
  std::signal(SIGPIPE, SIG_IGN);
#endif
  const auto start = std::chrono::steady_clock::now();
  const auto deadline =
      timeout_arg->has_value()
          ? start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(**timeout_arg))
          : std::chrono::steady_clock::time_point::max();
  std::uint64_t printed = 0;
  while (true) {
    std::deque<client::Message> batch;
    std::deque<std::pair<client::PresenceInfo, std::int64_t>> presence;
    std::optional<Status> fatal;
    {
      std::unique_lock<std::mutex> lock(state->mutex);
      if (state->queue.empty() && state->presence.empty() && !state->fatal && !state->wiped) {
        auto wake = std::min(deadline, std::chrono::steady_clock::now() + 100ms);
        state->cv.wait_until(lock, wake, [&] {
          return !state->queue.empty() || !state->presence.empty() || state->fatal ||
                 state->wiped;
        });
      }
      if (state->wiped) return RevokedExit(inv, *state);
      // Between on_revoked and the end of the wipe: show nothing more.
      if (!state->revoked) {
        batch.swap(state->queue);
        presence.swap(state->presence);
      }
      fatal = state->fatal;
    }
    for (const auto& [p, at_us] : presence) {
      std::string line = json ? "{\"event\":\"presence\"," + PresenceJson(p).substr(1)
                              : "[" + FormatTime(at_us) + "] " + DescribePresence(p);
      if (!PrintLine(line)) return Fail(inv, Status::IoError("cannot write to standard output"));
    }
    for (const auto& m : batch) {
      auto conversation = names->Find(**client, m.conversation_id);
      if (!Show(m, conversation ? &*conversation : nullptr, save_dir, json, ledger.get())) {
        return Fail(inv, Status::IoError("cannot write to standard output"));
      }
      ++printed;
    }
    if (count > 0 && printed >= count) return kExitOk;
    if (fatal) return Fail(inv, *fatal);
    if (g_signal != 0) return kExitOk;
    if (std::chrono::steady_clock::now() >= deadline) return count > 0 ? kExitTimeout : kExitOk;
  }
}

int History(const Invocation& inv) {
  if (!inv.args.positional().empty()) return UsageError(inv, "history takes no arguments");
  if (auto problem = CheckTargetOptions(inv.args)) return UsageError(inv, *problem);
  auto limit = inv.args.GetUint("limit");
  if (!limit.ok()) return UsageError(inv, limit.status().message());
  auto before = inv.args.GetUint("before");
  if (!before.ok()) return UsageError(inv, before.status().message());
  if (limit->value_or(50) == 0 || limit->value_or(50) > UINT32_MAX) {
    return UsageError(inv, "--limit needs a number above 0");
  }
  client::ClientOptions options;
  options.receive = false;
  auto client = ConnectFor(inv, options);
  if (!client.ok()) return Fail(inv, client.status());
  Result<ResolvedTarget> target = ResolveTarget(**client, inv.args);
  if (!target.ok()) return Fail(inv, target.status());

  client::HistoryQuery query;
  query.from_seq = before->value_or(0);
  query.limit = static_cast<std::uint32_t>(limit->value_or(50));
  query.backward = true;
  Result<client::HistoryPage> page = (*client)->History(target->target, query);
  if (!page.ok()) return Fail(inv, page.status());

  std::optional<client::Conversation> conversation = target->conversation;
  if (!conversation) {
    Conversations names;
    conversation = names.Find(**client, page->conversation_id);
  }
  const bool json = inv.args.Has("json");
  // Reading back history saves media only when asked to.
  const std::string save_dir = inv.args.Get("save-dir").value_or("");
  for (const auto& m : page->messages) {
    if (!Show(m, conversation ? &*conversation : nullptr, save_dir, json)) {
      return Fail(inv, Status::IoError("cannot write to standard output"));
    }
  }
  if (page->has_more && !page->messages.empty() && !json) {
    std::fprintf(stderr, "chatpro history: older messages exist; add --before %llu\n",
                 static_cast<unsigned long long>(page->messages.front().seq));
  }
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> ReadCommands() {
  std::vector<OptionSpec> history_options = TargetOptions("read");
  std::vector<OptionSpec> more = {
      {"limit", "N", "at most N messages (default 50)"},
      {"before", "SEQ", "only messages before seq SEQ (default: up to the newest)"},
      {"json", "", "one JSON object per line"},
      {"save-dir", "DIR", "save voice and picture files there (default: do not save)"},
  };
  history_options.insert(history_options.end(), more.begin(), more.end());
  return {
      {"listen", "listen [--json] [--save-dir DIR] [--count N] [--timeout SECONDS]",
       "print messages as they arrive",
       "Prints every message for you, live, one line each:\n"
       "  [2026-11-24 10:03:12] #3 (direct ana) ana: hello\n"
       "  [2026-11-24 10:03:40] #3 (direct ana) ana: [voice 4.2 s opus, saved to "
       "chatpro-media/3-17.opus]\n"
       "  [2026-11-24 10:04:02] #3 (direct ana) ana: [edited #17] the new text\n"
       "  [2026-11-24 10:04:30] #3 (direct ana) ana: [deleted #17]\n"
       "  [2026-11-24 10:05:00] #3 (direct ana) ana: [picture removed by retention policy on "
       "2026-11-20]\n"
       "  [2026-11-24 10:06:00] #4 (group ops) cy: URGENT (server room flooding) come now\n"
       "  [2026-11-24 17:00:02] ben is off duty until 2026-11-25 08:00 UTC\n"
       "An urgent message (one that broke through off-duty hours) is marked\n"
       "\"URGENT (reason)\". Presence changes of the people you share a conversation with\n"
       "(online, offline, off duty until when, in UTC) are printed as they happen; they\n"
       "do not count towards --count.\n"
       "Messages that arrived while you were away come first. Voice and picture files are\n"
       "saved as CONVERSATION-SEQ.EXT in the save folder (not those a retention policy\n"
       "stripped: they show as removed). Runs until SIGINT or SIGTERM,\n"
       "until N messages (--count N, exit 0), or for SECONDS (--timeout; exit 3 if\n"
       "--count messages did not come in time, else 0).\n"
       "If the organisation revokes this device (offboarding), listen stops at once,\n"
       "deletes the media files it saved in this run, the library wipes the device's key\n"
       "and profile, and listen exits with status 4.",
       {{"json", "", "one JSON object per line (conversation_id, seq, sender, sent_at_us, kind, "
                     "text or file and metadata; edits and deletions with target_seq; urgent and "
                     "urgent_reason if urgent); presence changes as {\"event\":\"presence\","
                     "\"login\":..,\"state\":..,\"until_us\":..}"},
        {"save-dir", "DIR", "where voice and picture files go (default ./chatpro-media)"},
        {"count", "N", "exit after N messages"},
        {"timeout", "SECONDS", "exit after SECONDS"}},
       Listen},
      {"history",
       "history (--to USER | --group NAME | --conversation ID) [--limit N] [--before SEQ] [--json]",
       "print earlier messages of a conversation",
       "Prints the newest messages of a conversation (or those before --before), oldest\n"
       "first, in the format of `chatpro listen`. A voice message or picture whose bytes a\n"
       "retention policy removed shows as \"[picture removed by retention policy on DATE]\"\n"
       "and is not saved. An urgent message is marked \"URGENT (reason)\".",
       history_options, History},
  };
}

}  // namespace chatpro::cli
