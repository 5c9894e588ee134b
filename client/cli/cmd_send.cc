// SPDX-License-Identifier: Apache-2.0
//
// `chatpro send`, `chatpro edit`, `chatpro delete`: one message, sent on a
// send-only session, waiting for the broker's acknowledgement (the message is
// stored once it is printed).
#include <cstdio>
#include <iostream>
#include <iterator>

#include "client/cli/commands.h"
#include "client/cli/format.h"
#include "client/cli/media.h"

namespace chatpro::cli {
namespace {

// Files larger than this are refused before reading them; the broker's own
// limit (16 MiB by default) is checked once connected.
constexpr std::uint64_t kMaxFileBytes = 256ull << 20;
constexpr std::chrono::seconds kAckTimeout{30};

std::optional<std::string> CheckContentOptions(const Args& args) {
  int n = args.Has("text") + args.Has("voice") + args.Has("picture");
  if (n != 1) return "give exactly one of --text TEXT, --voice FILE or --picture FILE";
  for (const char* o : {"codec", "duration-ms"}) {
    if (args.Has(o) && !args.Has("voice")) return std::string("--") + o + " goes with --voice";
  }
  for (const char* o : {"mime", "width", "height", "thumbnail"}) {
    if (args.Has(o) && !args.Has("picture")) return std::string("--") + o + " goes with --picture";
  }
  for (const char* o : {"duration-ms", "width", "height"}) {
    if (args.Has(o) && !ParseUint(*args.Get(o))) {
      return std::string("--") + o + " needs a whole number";
    }
    if (args.Has(o) && *ParseUint(*args.Get(o)) > UINT32_MAX) {
      return std::string("--") + o + " is too large";
    }
  }
  return std::nullopt;
}

std::uint32_t U32(const Args& args, const char* name) {
  return static_cast<std::uint32_t>(*ParseUint(*args.Get(name)));
}

Result<client::Content> BuildContent(const Args& args) {
  if (auto text = args.Get("text")) {
    if (*text != "-") return client::Content(client::Text{*text});
    std::string body((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    // `echo hi | chatpro send --text -` sends "hi", not "hi\n".
    if (!body.empty() && body.back() == '\n') body.pop_back();
    if (!body.empty() && body.back() == '\r') body.pop_back();
    if (body.empty()) return Status::InvalidArgument("standard input held no text");
    return client::Content(client::Text{std::move(body)});
  }
  if (auto file = args.Get("voice")) {
    client::Voice v;
    std::optional<std::string> codec = args.Get("codec");
    if (!codec) codec = CodecFromPath(*file);
    if (!codec) {
      return Status::InvalidArgument("cannot tell the codec of " + *file +
                                     " from its name; give --codec (opus, aac, wav, mp3, webm)");
    }
    v.codec = *codec;
    CHATPRO_ASSIGN_OR_RETURN(v.audio, ReadFile(*file, kMaxFileBytes));
    if (args.Has("duration-ms")) {
      v.duration_ms = U32(args, "duration-ms");
    } else if (v.codec == "wav") {
      v.duration_ms = WavDurationMs(v.audio).value_or(0);
    }
    return client::Content(std::move(v));
  }
  const std::string file = *args.Get("picture");
  client::Picture p;
  std::optional<std::string> mime = args.Get("mime");
  if (!mime) mime = MimeFromPath(file);
  if (!mime) {
    return Status::InvalidArgument("cannot tell the image type of " + file +
                                   " from its name; give --mime (e.g. image/jpeg)");
  }
  p.mime_type = *mime;
  CHATPRO_ASSIGN_OR_RETURN(p.image, ReadFile(file, kMaxFileBytes));
  auto size = ImageSize(p.image);
  p.width = args.Has("width") ? U32(args, "width") : size ? size->first : 0;
  p.height = args.Has("height") ? U32(args, "height") : size ? size->second : 0;
  if (auto thumb = args.Get("thumbnail")) {
    CHATPRO_ASSIGN_OR_RETURN(p.thumbnail, ReadFile(*thumb, kMaxFileBytes));
  }
  return client::Content(std::move(p));
}

int SendCommand(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] +
                               "' (the text goes after --text)");
  }
  if (auto problem = CheckTargetOptions(inv.args)) return UsageError(inv, *problem);
  if (auto problem = CheckContentOptions(inv.args)) return UsageError(inv, *problem);
  client::SendOptions send_options;
  if (auto reason = inv.args.Get("urgent")) {
    if (reason->empty()) {
      return UsageError(inv, "--urgent needs a reason (it goes into the audit log)");
    }
    send_options.urgent = true;
    send_options.urgent_reason = *reason;
  }
  // Read the content first: a missing file should not cost a connection.
  Result<client::Content> content = BuildContent(inv.args);
  if (!content.ok()) return Fail(inv, content.status());

  client::ClientOptions options;
  options.receive = false;
  auto client = ConnectFor(inv, options);
  if (!client.ok()) return Fail(inv, client.status());
  Result<ResolvedTarget> target = ResolveTarget(**client, inv.args);
  if (!target.ok()) return Fail(inv, target.status());

  std::future<client::SendResult> ack =
      (*client)->Send(target->target, std::move(*content), send_options);
  if (ack.wait_for(kAckTimeout) != std::future_status::ready) {
    return Fail(inv, Status::Unavailable("no acknowledgement from the broker within 30 s; the "
                                         "message may or may not have been stored"));
  }
  client::SendResult r = ack.get();
  if (!r.status.ok()) return Fail(inv, r.status);
  std::vector<std::string> lines{"sent" + std::string(send_options.urgent ? " urgent" : "") +
                                 " to " + target->label + ": conversation " +
                                 std::to_string(r.conversation_id) + ", seq " +
                                 std::to_string(r.seq)};
  for (const auto& off : r.off_duty) lines.push_back(FormatOffDuty(off, send_options.urgent));
  return PrintAll(lines) ? kExitOk : kExitError;
}

// Sends `content` to the conversation the options name and waits for the
// acknowledgement. On success prints `what` + " LABEL: conversation C, seq S".
int SendAndReport(const Invocation& inv, client::Content content, const std::string& what) {
  auto client = ConnectFor(inv, OneShot());
  if (!client.ok()) return Fail(inv, client.status());
  Result<ResolvedTarget> target = ResolveTarget(**client, inv.args);
  if (!target.ok()) return Fail(inv, target.status());
  std::future<client::SendResult> ack = (*client)->Send(target->target, std::move(content));
  if (ack.wait_for(kAckTimeout) != std::future_status::ready) {
    return Fail(inv, Status::Unavailable("no acknowledgement from the broker within 30 s; the "
                                         "message may or may not have been stored"));
  }
  client::SendResult r = ack.get();
  if (!r.status.ok()) return Fail(inv, r.status);
  PrintLine(what + " " + target->label + ": conversation " + std::to_string(r.conversation_id) +
            ", seq " + std::to_string(r.seq));
  return kExitOk;
}

// --seq N (required, above 0); a usage message otherwise.
Result<std::uint64_t> TargetSeq(const Args& args) {
  auto seq = args.GetUint("seq");
  if (!seq.ok()) return seq.status();
  if (!seq->has_value() || **seq == 0) {
    return Status::InvalidArgument("give --seq N: the seq of your message (a number above 0)");
  }
  return **seq;
}

int EditCommand(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] +
                               "' (the new text goes after --text)");
  }
  if (auto problem = CheckTargetOptions(inv.args)) return UsageError(inv, *problem);
  Result<std::uint64_t> seq = TargetSeq(inv.args);
  if (!seq.ok()) return UsageError(inv, seq.status().message());
  std::optional<std::string> text = inv.args.Get("text");
  if (!text || text->empty()) return UsageError(inv, "give the new text with --text TEXT");
  return SendAndReport(inv, client::Edit{*seq, *text}, "edited seq " + std::to_string(*seq) + " in");
}

int DeleteCommand(const Invocation& inv) {
  if (!inv.args.positional().empty()) {
    return UsageError(inv, "unexpected argument '" + inv.args.positional()[0] + "'");
  }
  if (auto problem = CheckTargetOptions(inv.args)) return UsageError(inv, *problem);
  Result<std::uint64_t> seq = TargetSeq(inv.args);
  if (!seq.ok()) return UsageError(inv, seq.status().message());
  return SendAndReport(inv, client::Deletion{*seq}, "deleted seq " + std::to_string(*seq) + " in");
}

}  // namespace

std::vector<OptionSpec> DeleteOptions() {
  std::vector<OptionSpec> options = TargetOptions("in");
  options.push_back({"seq", "N", "your message's seq (`chatpro send` prints it; `history --json` shows it)"});
  return options;
}

std::vector<OptionSpec> EditOptions() {
  std::vector<OptionSpec> options = DeleteOptions();
  options.push_back({"text", "TEXT", "the new text"});
  return options;
}

std::vector<CommandSpec> SendCommands() {
  std::vector<OptionSpec> options = TargetOptions("send to");
  std::vector<OptionSpec> content = {
      {"text", "TEXT", "a text message; '-' reads it from standard input"},
      {"voice", "FILE", "a voice message from an audio file"},
      {"codec", "CODEC", "the audio codec (default: from the file name: .ogg/.opus opus, .wav wav, "
                         ".m4a/.aac aac, .mp3 mp3, .webm webm)"},
      {"duration-ms", "N", "the playing time in milliseconds (default: from a WAV header, else 0)"},
      {"picture", "FILE", "a picture message from an image file"},
      {"mime", "TYPE", "the image type (default: from the file name: .jpg/.jpeg, .png, .gif, .webp)"},
      {"width", "W", "the width in pixels (default: from the PNG, JPEG, GIF or WebP header)"},
      {"height", "H", "the height in pixels (default: from the image header)"},
      {"thumbnail", "FILE", "a small preview image of the same type"},
      {"urgent", "REASON", "break through the recipients' off-duty hours (only senders the "
                           "organisation allows; the reason is required and audited)"},
  };
  options.insert(options.end(), content.begin(), content.end());
  return {{"send",
           "send (--to USER | --group NAME | --conversation ID)\n"
           "                    (--text TEXT | --voice FILE [--codec C --duration-ms N] |\n"
           "                     --picture FILE [--mime TYPE --width W --height H --thumbnail FILE])\n"
           "                    [--urgent REASON]",
           "send a text, voice or picture message",
           "Sends one message and waits until the broker has stored it, then prints e.g.\n"
           "\"sent to ana: conversation 3, seq 17\". Uses a send-only session: it receives\n"
           "nothing, so it never takes messages away from `chatpro listen`.\n"
           "Recipients outside their working hours are named, one line each, e.g.\n"
           "  ben is off duty until 2026-11-25 08:00 UTC; the message waits for them\n"
           "With --urgent REASON the message reaches them at once all the same (\"sent urgent\n"
           "to ...\"; \"...; the urgent message reaches them now\"); only senders the\n"
           "organisation's urgent policy names may, and the reason goes into the audit log.",
           options, SendCommand},
          {"edit",
           "edit (--to USER | --group NAME | --conversation ID) --seq N --text TEXT",
           "change the text of a message you sent",
           "Replaces the text of your text message N in the conversation. Everyone sees the\n"
           "new text (`chatpro listen` shows \"[edited #N] TEXT\"); the original stays in the\n"
           "organisation's records. Only the sender may edit a message, and only a text.\n"
           "Prints e.g. \"edited seq 5 in ana: conversation 3, seq 18\" (the edit's own seq).",
           EditOptions(), EditCommand},
          {"delete", "delete (--to USER | --group NAME | --conversation ID) --seq N",
           "delete a message you sent",
           "Withdraws your message N from the conversation. Everyone sees it as deleted\n"
           "(`chatpro listen` shows \"[deleted #N]\"); the original stays in the organisation's\n"
           "records until retention removes it. Only the sender may delete a message.",
           DeleteOptions(), DeleteCommand}};
}

}  // namespace chatpro::cli
