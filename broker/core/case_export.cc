// SPDX-License-Identifier: Apache-2.0
#include "broker/core/case_export.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "broker/base/clock.h"
#include "broker/base/json.h"
#include "broker/core/records.h"

namespace chatpro::core {
namespace {

namespace fs = std::filesystem;

// A page of messages read at once; the byte budget bounds memory whatever
// the size of the conversation.
constexpr std::size_t kPageMessages = 256;
constexpr std::uint64_t kPageBytes = 8ull << 20;

constexpr std::uint8_t kEdited = 1;
constexpr std::uint8_t kDeleted = 2;

std::string IsoTime(std::int64_t us) { return FormatUtc(us, "%Y-%m-%dT%H:%M:%SZ"); }

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsLoginChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string VoiceExtension(std::string_view codec) {
  std::string c = Lower(codec);
  if (c == "opus" || c == "ogg") return c == "opus" ? "opus" : "ogg";
  if (c == "aac" || c == "m4a") return "m4a";
  if (c == "wav" || c == "mp3" || c == "amr" || c == "webm" || c == "flac") return c;
  return "bin";
}

std::string PictureExtension(std::string_view mime) {
  std::string m = Lower(mime);
  if (m == "image/jpeg" || m == "image/jpg") return "jpg";
  if (m == "image/png") return "png";
  if (m == "image/gif") return "gif";
  if (m == "image/webp") return "webp";
  if (m == "image/heic") return "heic";
  return "bin";
}

const char* KindName(wire::Content type) {
  switch (type) {
    case wire::Content::Text: return "text";
    case wire::Content::Voice: return "voice";
    case wire::Content::Picture: return "picture";
    case wire::Content::Edit: return "edit";
    case wire::Content::Deletion: return "deletion";
    default: return "unknown";
  }
}

// Names people in the export: the subjects by login, everyone else either by
// login or, with redaction, by a pseudonym given in order of appearance and
// kept for the whole export.
class Namer {
 public:
  explicit Namer(const ExportPlan& plan) : plan_(plan) {
    for (const auto& [id, login] : plan.logins) by_login_[login] = id;
  }

  std::string Name(UserId user, std::string_view fallback) {
    if (!plan_.the_case.redact_others || plan_.the_case.HasSubject(user)) {
      auto it = plan_.logins.find(user);
      return it != plan_.logins.end() ? it->second : std::string(fallback);
    }
    auto [it, added] = pseudonyms_.try_emplace(user);
    if (added) it->second = "Person " + std::to_string(pseudonyms_.size());
    return it->second;
  }

  // `text` with every word that is another person's login (a mention, with
  // or without '@') replaced by their pseudonym.
  std::string Redact(std::string_view text) {
    if (!plan_.the_case.redact_others) return std::string(text);
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
      if (!IsLoginChar(text[i])) {
        out += text[i++];
        continue;
      }
      std::size_t j = i;
      while (j < text.size() && IsLoginChar(text[j])) ++j;
      std::string_view word = text.substr(i, j - i);
      // A sentence may end right after a login: "ask ana."
      std::size_t trimmed = word.size();
      while (trimmed > 0 && (word[trimmed - 1] == '.' || word[trimmed - 1] == '-')) --trimmed;
      auto it = by_login_.find(Lower(word.substr(0, trimmed)));
      if (trimmed > 0 && it != by_login_.end() && !plan_.the_case.HasSubject(it->second)) {
        out += Name(it->second, {});
        out += word.substr(trimmed);
      } else {
        out += word;
      }
      i = j;
    }
    return out;
  }

  std::size_t pseudonyms() const { return pseudonyms_.size(); }

 private:
  const ExportPlan& plan_;
  std::unordered_map<std::string, UserId> by_login_;
  std::unordered_map<UserId, std::string> pseudonyms_;
};

Status Check(const std::ios& stream, const fs::path& path) {
  if (!stream) return Status::IoError("cannot write " + path.string());
  return Status::Ok();
}

}  // namespace

ExportJob::ExportJob(ExportPlan plan, MessageStore* store, ExportArchiveFactory factory)
    : plan_(std::move(plan)), store_(store), factory_(std::move(factory)) {}

ExportJob::~ExportJob() { Cancel(); }

void ExportJob::Start() { thread_ = std::thread([this] { Run(); }); }

void ExportJob::Cancel() {
  cancel_.store(true);
  if (thread_.joinable()) thread_.join();
}

ExportProgress ExportJob::progress() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return progress_;
}

std::string ExportJob::ArchivePath(const std::string& dir, std::uint64_t id) {
  return (fs::path(dir) / ("export-" + std::to_string(id) + ".zip")).string();
}

void ExportJob::Run() {
  Status st = Write();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.state = st.ok() ? ExportProgress::State::kDone : ExportProgress::State::kFailed;
    if (!st.ok()) progress_.error = st.message();
  }
  finished_.store(true);
}

Status ExportJob::Write() {
  const Case& c = plan_.the_case;
  std::error_code ec;
  fs::path dir(plan_.dir);
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create the export folder " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return Status::IoError("cannot restrict the export folder " + dir.string() + ": " + ec.message());
  std::string stem = "export-" + std::to_string(plan_.id);
  fs::path staging = dir / (stem + ".staging");
  fs::path part = dir / (stem + ".zip.part");
  fs::path final_path = ArchivePath(plan_.dir, plan_.id);
  // Whatever happens, the staged copies of people's messages do not stay.
  struct Cleanup {
    fs::path staging, part;
    bool keep_part = false;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(staging, ignored);
      if (!keep_part) fs::remove(part, ignored);
    }
  } cleanup{staging, part};
  fs::remove_all(staging, ec);
  fs::create_directories(staging / "attachments", ec);
  if (ec) return Status::IoError("cannot create " + staging.string() + ": " + ec.message());

  std::ofstream jsonl(staging / "messages.jsonl", std::ios::binary | std::ios::trunc);
  std::ofstream html(staging / "transcript.html", std::ios::binary | std::ios::trunc);
  CHATPRO_RETURN_IF_ERROR(Check(jsonl, staging / "messages.jsonl"));
  CHATPRO_RETURN_IF_ERROR(Check(html, staging / "transcript.html"));
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       << "<title>Export " << plan_.id << "</title><style>"
       << "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
       << "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
       << ".note{color:#666;font-style:italic}</style></head><body>\n"
       << "<h1>Export " << plan_.id << " of case " << c.id << "</h1>\n<p>Legal basis: "
       << HtmlEscape(c.legal_basis) << "<br>Generated " << IsoTime(plan_.generated_at_us)
       << " UTC</p>\n";

  Namer namer(plan_);
  std::string keyword = Lower(c.keyword);
  std::uint64_t messages = 0, attachments = 0, conversations = 0, staged_bytes = 0;
  std::string scratch;

  // Calls fn for every stored message of `conv` with seq in [from, last_seq].
  auto for_each = [&](const ExportConversation& conv, Seq from,
                      const std::function<Status(const wire::Message&)>& fn) -> Status {
    Seq next = from;
    while (next <= conv.last_seq) {
      if (cancel_.load()) return Status::Unavailable("the export was stopped (broker shutting down)");
      CHATPRO_ASSIGN_OR_RETURN(std::vector<StoredMessage> page,
                               store_->ReadMessages(conv.id, next, kPageMessages,
                                                    ReadDirection::kForward, kPageBytes));
      if (page.empty()) break;
      for (const StoredMessage& sm : page) {
        if (sm.seq > conv.last_seq) return Status::Ok();
        const auto* m = VerifiedRecord<wire::Message>(sm.bytes, &scratch);
        if (m == nullptr) {
          return Status::DataLoss("message " + std::to_string(sm.seq) + " of conversation " +
                                  std::to_string(conv.id.value()) + " is damaged");
        }
        CHATPRO_RETURN_IF_ERROR(fn(*m));
      }
      next = page.back().seq + 1;
    }
    return Status::Ok();
  };

  for (const ExportConversation& conv : plan_.conversations) {
    // Pass 1: which messages were later edited or deleted (amendments come
    // after what they amend). Only seqs are kept.
    std::unordered_map<Seq, std::uint8_t> marks;
    Status pass = for_each(conv, 1, [&](const wire::Message& m) {
      if (const auto* e = m.content_as_Edit()) marks[e->target_seq()] |= kEdited;
      if (const auto* d = m.content_as_Deletion()) marks[d->target_seq()] |= kDeleted;
      return Status::Ok();
    });
    if (!pass.ok()) return pass;

    std::string conv_name;
    const char* conv_kind = conv.kind == wire::ConversationKind::Group ? "group" : "direct";
    bool started = false;
    // Pass 2: the messages in scope.
    pass = for_each(conv, 1, [&](const wire::Message& m) -> Status {
      UserId sender(m.sender_user_id());
      if (m.seq() <= conv.received_after && !c.HasSubject(sender)) return Status::Ok();
      if (c.from_us != 0 && m.sent_at_us() < c.from_us) return Status::Ok();
      if (c.to_us != 0 && m.sent_at_us() > c.to_us) return Status::Ok();
      std::string_view text;
      if (const auto* t = m.content_as_Text()) text = View(t->body());
      if (const auto* e = m.content_as_Edit()) text = View(e->text());
      if (!keyword.empty() && Lower(text).find(keyword) == std::string::npos) return Status::Ok();

      if (!started) {
        started = true;
        ++conversations;
        if (conv.kind == wire::ConversationKind::Group) {
          conv_name = conv.name;
        } else {
          conv_name = "Direct chat";
          for (std::size_t i = 0; i < conv.members.size(); ++i) {
            conv_name += i == 0 ? ": " : " and ";
            conv_name += namer.Name(conv.members[i], {});
          }
        }
        html << "<section><h2>" << HtmlEscape(conv_name) << "</h2>\n<p class=\"note\">Conversation "
             << conv.id.value() << " (" << conv_kind << ")</p>\n<table><tr><th>#</th>"
             << "<th>Sent (UTC)</th><th>From</th><th>Message</th></tr>\n";
      }
      std::string sender_name = namer.Name(sender, View(m.sender_login()));
      std::uint8_t mark = 0;
      if (auto it = marks.find(m.seq()); it != marks.end()) mark = it->second;
      bool removed = m.attachments_removed_at_us() != 0;

      JsonObject line;
      line.Add("conversation_id", conv.id.value())
          .Add("conversation_name", conv_name)
          .Add("conversation_kind", conv_kind)
          .Add("seq", m.seq())
          .Add("sender", sender_name)
          .Add("sent_at", IsoTime(m.sent_at_us()))
          .Add("kind", KindName(m.content_type()));
      std::string cell;
      std::string redacted = namer.Redact(text);
      std::string attachment;  // member name
      std::string_view bytes;
      switch (m.content_type()) {
        case wire::Content::Text:
          line.Add("text", redacted);
          cell = HtmlEscape(redacted);
          break;
        case wire::Content::Edit:
          line.Add("target_seq", m.content_as_Edit()->target_seq()).Add("text", redacted);
          cell = "<span class=\"note\">Edit of #" + std::to_string(m.content_as_Edit()->target_seq()) +
                 ":</span> " + HtmlEscape(redacted);
          break;
        case wire::Content::Deletion:
          line.Add("target_seq", m.content_as_Deletion()->target_seq());
          cell = "<span class=\"note\">Deleted #" +
                 std::to_string(m.content_as_Deletion()->target_seq()) + "</span>";
          break;
        case wire::Content::Voice: {
          const auto* v = m.content_as_Voice();
          line.Add("codec", View(v->codec())).Add("duration_ms", static_cast<std::uint64_t>(v->duration_ms()));
          if (v->audio() != nullptr && v->audio()->size() > 0) {
            attachment = "attachments/" + std::to_string(conv.id.value()) + "-" +
                         std::to_string(m.seq()) + "." + VoiceExtension(View(v->codec()));
            bytes = std::string_view(reinterpret_cast<const char*>(v->audio()->data()), v->audio()->size());
          }
          cell = "Voice message (" + HtmlEscape(View(v->codec())) + ", " +
                 std::to_string(v->duration_ms() / 1000) + " s)";
          break;
        }
        case wire::Content::Picture: {
          const auto* p = m.content_as_Picture();
          line.Add("mime_type", View(p->mime_type()))
              .Add("width", static_cast<std::uint64_t>(p->width()))
              .Add("height", static_cast<std::uint64_t>(p->height()));
          if (p->image() != nullptr && p->image()->size() > 0) {
            attachment = "attachments/" + std::to_string(conv.id.value()) + "-" +
                         std::to_string(m.seq()) + "." + PictureExtension(View(p->mime_type()));
            bytes = std::string_view(reinterpret_cast<const char*>(p->image()->data()), p->image()->size());
          }
          cell = "Picture (" + HtmlEscape(View(p->mime_type())) + ", " + std::to_string(p->width()) +
                 "x" + std::to_string(p->height()) + ")";
          break;
        }
        default:
          break;
      }
      if (!attachment.empty()) {
        fs::path file = staging / attachment;
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        out.close();
        CHATPRO_RETURN_IF_ERROR(Check(out, file));
        ++attachments;
        staged_bytes += bytes.size();
        line.Add("attachment", attachment);
        cell += " <a href=\"" + HtmlEscape(attachment) + "\">" + HtmlEscape(attachment) + "</a>";
      }
      line.Add("edited", (mark & kEdited) != 0)
          .Add("deleted", (mark & kDeleted) != 0)
          .Add("attachments_removed", removed);
      if (removed) cell += " <span class=\"note\">(attachment removed by retention)</span>";
      if (mark & kEdited) cell += " <span class=\"note\">(edited later)</span>";
      if (mark & kDeleted) cell += " <span class=\"note\">(deleted later by the sender)</span>";

      std::string json = line.str();
      jsonl << json << '\n';
      html << "<tr><td>" << m.seq() << "</td><td>" << IsoTime(m.sent_at_us()) << "</td><td>"
           << HtmlEscape(sender_name) << "</td><td>" << cell << "</td></tr>\n";
      CHATPRO_RETURN_IF_ERROR(Check(jsonl, staging / "messages.jsonl"));
      CHATPRO_RETURN_IF_ERROR(Check(html, staging / "transcript.html"));
      ++messages;
      staged_bytes += json.size() + 1;
      std::lock_guard<std::mutex> lock(mutex_);
      progress_.messages = messages;
      progress_.attachments = attachments;
      progress_.conversations = conversations;
      progress_.bytes = staged_bytes;
      return Status::Ok();
    });
    if (!pass.ok()) return pass;
    if (started) html << "</table></section>\n";
  }
  if (messages == 0) html << "<p>No message is within the case's scope.</p>\n";
  html << "</body></html>\n";
  jsonl.close();
  html.close();
  CHATPRO_RETURN_IF_ERROR(Check(jsonl, staging / "messages.jsonl"));
  CHATPRO_RETURN_IF_ERROR(Check(html, staging / "transcript.html"));

  std::vector<std::uint64_t> conversation_ids;
  for (ConversationId id : c.conversations) conversation_ids.push_back(id.value());
  JsonObject scope;
  scope.Add("subjects", plan_.subject_logins)
      .Add("conversations", conversation_ids)
      .Add("from", c.from_us != 0 ? IsoTime(c.from_us) : std::string())
      .Add("to", c.to_us != 0 ? IsoTime(c.to_us) : std::string())
      .Add("keyword", c.keyword)
      .Add("redact_others", c.redact_others);
  JsonObject counts;
  counts.Add("conversations", conversations)
      .Add("messages", messages)
      .Add("attachments", attachments)
      .Add("pseudonyms", static_cast<std::uint64_t>(namer.pseudonyms()));
  std::string manifest =
      JsonObject()
          .Add("format", "chatpro-export/1")
          .Add("export_id", plan_.id)
          .Add("case_id", c.id)
          .Add("kind", c.kind == wire::CaseKind::Search ? "search" : "subject access")
          .Add("legal_basis", c.legal_basis)
          .AddRaw("scope", scope.str())
          .Add("requested_by", plan_.requested_by)
          .Add("requested_at", IsoTime(c.requested_at_us))
          .Add("approved_by", plan_.approved_by)
          .Add("approved_at", IsoTime(c.approved_at_us))
          .Add("generated_at", IsoTime(plan_.generated_at_us))
          .AddRaw("counts", counts.str())
          .str();
  {
    std::ofstream out(staging / "manifest.json", std::ios::binary | std::ios::trunc);
    out << manifest << '\n';
    out.close();
    CHATPRO_RETURN_IF_ERROR(Check(out, staging / "manifest.json"));
  }

  if (cancel_.load()) return Status::Unavailable("the export was stopped (broker shutting down)");
  // The archive file exists with its final mode before any byte goes in.
  {
    std::ofstream touch(part, std::ios::binary | std::ios::trunc);
    touch.close();
    CHATPRO_RETURN_IF_ERROR(Check(touch, part));
  }
  fs::permissions(part, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
  if (ec) return Status::IoError("cannot restrict " + part.string() + ": " + ec.message());
  CHATPRO_ASSIGN_OR_RETURN(std::unique_ptr<ExportArchive> archive, factory_(part.string()));
  for (const char* name : {"manifest.json", "messages.jsonl", "transcript.html"}) {
    CHATPRO_RETURN_IF_ERROR(archive->AddFile(name, (staging / name).string()));
  }
  for (const fs::directory_entry& e : fs::directory_iterator(staging / "attachments", ec)) {
    if (cancel_.load()) return Status::Unavailable("the export was stopped (broker shutting down)");
    CHATPRO_RETURN_IF_ERROR(archive->AddFile("attachments/" + e.path().filename().string(), e.path().string()));
  }
  if (ec) return Status::IoError("cannot list " + (staging / "attachments").string() + ": " + ec.message());
  CHATPRO_RETURN_IF_ERROR(archive->Finish());
  archive.reset();
  fs::rename(part, final_path, ec);
  if (ec) return Status::IoError("cannot rename " + part.string() + ": " + ec.message());
  std::uintmax_t size = fs::file_size(final_path, ec);
  std::lock_guard<std::mutex> lock(mutex_);
  progress_.messages = messages;
  progress_.attachments = attachments;
  progress_.conversations = conversations;
  progress_.bytes = ec ? 0 : size;
  return Status::Ok();
}

}  // namespace chatpro::core
