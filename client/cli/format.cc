// SPDX-License-Identifier: Apache-2.0
#include "client/cli/format.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "client/cli/media.h"

namespace chatpro::cli {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  std::uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (byte(i + k) & 0x3F);
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return n;
}

std::string Hex2(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", c);
  return buf;
}

std::string Seconds1(std::uint32_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000.0);
  return buf;
}

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = Utf8Length(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s.substr(i, n));
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\u00" + Hex2(c);
    } else {
      out.push_back(static_cast<char>(c));
    }
    i += n;
  }
  out += "\"";
  return out;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = Utf8Length(s, i);
    if (n > 1) {
      // C1 control characters (U+0080..U+009F) steer terminals too.
      std::uint32_t second = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xC2 && second >= 0x80 && second <= 0x9F) {
        out += "\\u00" + Hex2(static_cast<unsigned char>(second));
      } else {
        out.append(s.substr(i, n));
      }
      i += n;
      continue;
    }
    if (n == 0) {
      out += "\\x" + Hex2(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x" + Hex2(c);
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++i;
  }
  return out;
}

std::string FormatTime(std::int64_t unix_us) {
  std::time_t t = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm tm{};
#ifdef _WIN32
  localtime_s(&tm, &t);
#else
  localtime_r(&t, &tm);
#endif
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string FormatDate(std::int64_t unix_us) { return FormatTime(unix_us).substr(0, 10); }

bool IsStripped(const client::Message& m) {
  return m.attachments_removed_at_us != 0 && (std::holds_alternative<client::Voice>(m.content) ||
                                              std::holds_alternative<client::Picture>(m.content));
}

std::string_view KindName(client::ConversationKind kind) {
  return kind == client::ConversationKind::kGroup ? "group" : "direct";
}

Result<SavedMedia> SaveMedia(const client::Message& m, const std::string& dir) {
  SavedMedia saved;
  if (IsStripped(m)) return saved;  // nothing left to save
  std::string stem = (std::filesystem::path(dir) /
                      (std::to_string(m.conversation_id) + "-" + std::to_string(m.seq)))
                         .string();
  if (const auto* voice = std::get_if<client::Voice>(&m.content)) {
    saved.file = stem + "." + ExtensionForVoice(voice->codec, voice->audio);
    CHATPRO_RETURN_IF_ERROR(WriteFile(saved.file, voice->audio));
  } else if (const auto* picture = std::get_if<client::Picture>(&m.content)) {
    std::string ext = ExtensionForPicture(picture->mime_type);
    saved.file = stem + "." + ext;
    CHATPRO_RETURN_IF_ERROR(WriteFile(saved.file, picture->image));
    if (!picture->thumbnail.empty()) {
      saved.thumbnail_file = stem + "-thumb." + ext;
      CHATPRO_RETURN_IF_ERROR(WriteFile(saved.thumbnail_file, picture->thumbnail));
    }
  }
  return saved;
}

std::string DescribeContent(const client::Message& m, const SavedMedia& saved) {
  std::string out;
  if (IsStripped(m)) {
    const char* what = std::holds_alternative<client::Voice>(m.content) ? "voice" : "picture";
    return std::string("[") + what + " removed by retention policy on " +
           FormatDate(m.attachments_removed_at_us) + "]";
  }
  if (const auto* text = std::get_if<client::Text>(&m.content)) {
    out = Printable(text->body);
  } else if (const auto* voice = std::get_if<client::Voice>(&m.content)) {
    out = "[voice " + Seconds1(voice->duration_ms) + " " + Printable(voice->codec);
    out += saved.file.empty() ? "]" : ", saved to " + saved.file + "]";
  } else if (const auto* picture = std::get_if<client::Picture>(&m.content)) {
    out = "[picture " + std::to_string(picture->width) + "x" + std::to_string(picture->height) +
          " " + Printable(picture->mime_type);
    out += saved.file.empty() ? "]" : ", saved to " + saved.file + "]";
  } else if (const auto* edit = std::get_if<client::Edit>(&m.content)) {
    out = "[edited #" + std::to_string(edit->target_seq) + "] " + Printable(edit->text);
  } else if (const auto* deletion = std::get_if<client::Deletion>(&m.content)) {
    out = "[deleted #" + std::to_string(deletion->target_seq) + "]";
  }
  return out;
}

std::string FormatLine(const client::Message& m, const client::Conversation* conversation,
                       const SavedMedia& saved) {
  std::string line = "[" + FormatTime(m.sent_at_us) + "] #" + std::to_string(m.conversation_id);
  if (conversation != nullptr) {
    line += " (" + std::string(KindName(conversation->kind)) + " " + Printable(conversation->name) +
            ")";
  }
  line += " " + Printable(m.sender) + ": ";
  if (m.urgent) line += "URGENT (" + Printable(m.urgent_reason) + ") ";
  return line + DescribeContent(m, saved);
}

std::string FormatJson(const client::Message& m, const client::Conversation* conversation,
                       const SavedMedia& saved) {
  std::string j = "{\"conversation_id\":" + std::to_string(m.conversation_id);
  if (conversation != nullptr) {
    j += ",\"conversation\":" + JsonString(conversation->name) +
         ",\"conversation_kind\":" + JsonString(KindName(conversation->kind));
  }
  j += ",\"seq\":" + std::to_string(m.seq) + ",\"sender\":" + JsonString(m.sender) +
       ",\"sender_device_id\":" + std::to_string(m.sender_device_id) +
       ",\"client_msg_id\":" + std::to_string(m.client_msg_id) +
       ",\"sent_at_us\":" + std::to_string(m.sent_at_us);
  if (const auto* text = std::get_if<client::Text>(&m.content)) {
    j += ",\"kind\":\"text\",\"text\":" + JsonString(text->body);
  } else if (const auto* voice = std::get_if<client::Voice>(&m.content)) {
    j += ",\"kind\":\"voice\",\"codec\":" + JsonString(voice->codec) +
         ",\"duration_ms\":" + std::to_string(voice->duration_ms) +
         ",\"bytes\":" + std::to_string(voice->audio.size());
    if (!saved.file.empty()) j += ",\"file\":" + JsonString(saved.file);
  } else if (const auto* picture = std::get_if<client::Picture>(&m.content)) {
    j += ",\"kind\":\"picture\",\"mime_type\":" + JsonString(picture->mime_type) +
         ",\"width\":" + std::to_string(picture->width) +
         ",\"height\":" + std::to_string(picture->height) +
         ",\"bytes\":" + std::to_string(picture->image.size());
    if (!saved.file.empty()) j += ",\"file\":" + JsonString(saved.file);
    if (!saved.thumbnail_file.empty()) j += ",\"thumbnail_file\":" + JsonString(saved.thumbnail_file);
  } else if (const auto* edit = std::get_if<client::Edit>(&m.content)) {
    j += ",\"kind\":\"edit\",\"target_seq\":" + std::to_string(edit->target_seq) +
         ",\"text\":" + JsonString(edit->text);
  } else if (const auto* deletion = std::get_if<client::Deletion>(&m.content)) {
    j += ",\"kind\":\"deletion\",\"target_seq\":" + std::to_string(deletion->target_seq);
  }
  if (IsStripped(m)) {
    j += ",\"attachments_removed_at_us\":" + std::to_string(m.attachments_removed_at_us);
  }
  if (m.urgent) j += ",\"urgent\":true,\"urgent_reason\":" + JsonString(m.urgent_reason);
  return j + "}";
}

std::string FormatTimeMs(std::int64_t unix_us) {
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03d", static_cast<int>((unix_us / 1000) % 1000));
  return FormatTime(unix_us) + ms;
}

std::vector<std::string> Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < r.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], r[c].size());
    }
  }
  std::vector<std::string> out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    out.push_back(std::move(line));
  }
  return out;
}

namespace {

std::string Plural(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string HexBytes(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += Hex2(c);
  return out;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

}  // namespace

std::vector<std::string> FormatOffboarding(const client::OffboardingInfo& info) {
  std::string last = "-";
  if (info.last_session_closed_at_us != 0) {
    last = FormatTimeMs(info.last_session_closed_at_us);
    if (info.asked_at_us != 0) {
      char after[48];
      std::snprintf(after, sizeof after, " (%.3f s after the request)",
                    static_cast<double>(info.last_session_closed_at_us - info.asked_at_us) / 1e6);
      last += after;
    }
  }
  return Table({{"deactivated:", Printable(info.login)},
                {"asked at:", info.asked_at_us ? FormatTimeMs(info.asked_at_us) : "-"},
                {"devices revoked:", std::to_string(info.devices_revoked)},
                {"sessions closed:", std::to_string(info.sessions_closed)},
                {"last session closed:", last},
                {"invites cancelled:", std::to_string(info.invites_cancelled)}});
}

std::vector<std::string> FormatDevices(const std::vector<client::DeviceInfo>& devices) {
  std::vector<std::vector<std::string>> rows{
      {"ID", "NAME", "CLIENT", "CREATED", "LAST SEEN", "LAST ADDRESS", "STATE", "ONLINE"}};
  for (const auto& d : devices) {
    std::string state = d.active ? "active" : "revoked";
    if (!d.active && d.revoked_at_us != 0) state += " " + FormatTime(d.revoked_at_us);
    rows.push_back({std::to_string(d.id), d.name.empty() ? "-" : Printable(d.name),
                    d.client_version.empty() ? "-" : Printable(d.client_version),
                    d.created_at_us ? FormatTime(d.created_at_us) : "-",
                    d.last_seen_us ? FormatTime(d.last_seen_us) : "never",
                    d.last_address.empty() ? "-" : Printable(d.last_address), state,
                    d.online ? "yes" : "no"});
  }
  return Table(rows);
}

std::string DeviceJson(const client::DeviceInfo& d) {
  return "{\"id\":" + std::to_string(d.id) + ",\"name\":" + JsonString(d.name) +
         ",\"client_version\":" + JsonString(d.client_version) +
         ",\"created_at_us\":" + std::to_string(d.created_at_us) +
         ",\"last_seen_us\":" + std::to_string(d.last_seen_us) +
         ",\"last_address\":" + JsonString(d.last_address) + ",\"active\":" + Bool(d.active) +
         ",\"revoked_at_us\":" + std::to_string(d.revoked_at_us) + ",\"online\":" +
         Bool(d.online) + "}";
}

std::vector<std::string> FormatAudit(const std::vector<client::AuditEntryInfo>& entries) {
  std::vector<std::vector<std::string>> rows{
      {"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "DETAILS"}};
  for (const auto& e : entries) {
    rows.push_back({std::to_string(e.seq), FormatTime(e.at_us),
                    e.actor.empty() ? "-" : Printable(e.actor), Printable(e.action),
                    e.target.empty() ? "-" : Printable(e.target), Printable(e.details)});
  }
  return Table(rows);
}

std::string AuditJson(const client::AuditEntryInfo& e) {
  return "{\"seq\":" + std::to_string(e.seq) + ",\"at_us\":" + std::to_string(e.at_us) +
         ",\"actor\":" + JsonString(e.actor) + ",\"action\":" + JsonString(e.action) +
         ",\"target\":" + JsonString(e.target) + ",\"details\":" + JsonString(e.details) +
         ",\"hash\":\"" + HexBytes(e.hash) + "\"}";
}

std::string FormatVerification(const client::AuditVerification& v) {
  if (v.whole) return "audit log whole: " + Plural(v.records, "entry", "entries");
  std::string out = "audit log broken at entry " + std::to_string(v.first_broken_seq);
  if (!v.message.empty()) out += ": " + Printable(v.message);
  return out + " (" + Plural(v.records, "entry", "entries") + " checked)";
}

std::vector<std::string> FormatReport(const client::ReportInfo& r) {
  std::vector<std::string> out;
  out.push_back("report " + std::to_string(r.id) + " [" + FormatTime(r.created_at_us) + "] by " +
                Printable(r.reporter) + " on #" + std::to_string(r.conversation_id) + " seq " +
                std::to_string(r.seq) + ": " + Printable(r.reason));
  if (r.message) {
    out.push_back("    " + FormatLine(*r.message, nullptr, {}));
  } else {
    out.push_back("    (no copy of the message)");
  }
  return out;
}

std::string ReportJson(const client::ReportInfo& r) {
  std::string j = "{\"id\":" + std::to_string(r.id) +
                  ",\"created_at_us\":" + std::to_string(r.created_at_us) +
                  ",\"reporter\":" + JsonString(r.reporter) + ",\"reason\":" +
                  JsonString(r.reason) + ",\"conversation_id\":" +
                  std::to_string(r.conversation_id) + ",\"seq\":" + std::to_string(r.seq);
  j += ",\"message\":" + (r.message ? FormatJson(*r.message, nullptr, {}) : std::string("null"));
  return j + "}";
}

// ------------------------------------------------------------------ records management

std::string FormatBytes(std::uint64_t bytes) {
  if (bytes < 1024) return Plural(bytes, "byte", "bytes");
  char buf[64];
  const char* unit = "KiB";
  double v = static_cast<double>(bytes) / 1024;
  if (v >= 1024) {
    v /= 1024;
    unit = "MiB";
  }
  if (v >= 1024) {
    v /= 1024;
    unit = "GiB";
  }
  std::snprintf(buf, sizeof buf, "%.1f %s", v, unit);
  return std::string(buf) + " (" + std::to_string(bytes) + " bytes)";
}

std::string DescribeHoldTarget(const client::HoldTarget& target) {
  if (target.is_user()) return "user " + Printable(target.login);
  return "conversation #" + std::to_string(target.conversation_id);
}

std::vector<std::string> FormatHolds(const std::vector<client::HoldInfo>& holds) {
  std::vector<std::vector<std::string>> rows{
      {"ID", "TARGET", "CASE", "SET BY", "SET AT", "LIFTED", "REASON"}};
  for (const auto& h : holds) {
    std::string lifted = "-";
    if (!h.in_force()) {
      lifted = FormatTime(h.lifted_at_us) + (h.lifted_by.empty() ? "" : " by " + Printable(h.lifted_by));
    }
    rows.push_back({std::to_string(h.id), DescribeHoldTarget(h.target), Printable(h.case_ref),
                    h.created_by.empty() ? "-" : Printable(h.created_by),
                    h.created_at_us ? FormatTime(h.created_at_us) : "-", lifted,
                    Printable(h.reason)});
  }
  return Table(rows);
}

std::vector<std::string> FormatRetentionReport(const client::RetentionReport& r) {
  std::vector<std::string> out;
  out.push_back(r.dry_run ? "dry run: nothing was removed; these counts are what --apply would remove"
                          : "retention applied: the counts are what was removed");
  std::string took = "-";
  if (r.finished_at_us >= r.started_at_us && r.started_at_us != 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f s",
                  static_cast<double>(r.finished_at_us - r.started_at_us) / 1e6);
    took = buf;
  }
  std::vector<std::vector<std::string>> rows{
      {"started:", r.started_at_us ? FormatTimeMs(r.started_at_us) : "-"},
      {"took:", took},
      {"messages examined:", std::to_string(r.messages_examined)},
      {"messages deleted:", std::to_string(r.messages_deleted)},
      {"attachments stripped:", std::to_string(r.attachments_stripped)},
      {"attachment bytes:", FormatBytes(r.attachment_bytes)},
      {"conversations:", std::to_string(r.conversations)},
      {"held-protected:", std::to_string(r.held_protected)}};
  for (const auto& p : r.policies) {
    rows.push_back({"policy " + Printable(p.policy) + ":",
                    std::to_string(p.deleted) + " deleted, " + std::to_string(p.stripped) +
                        " stripped"});
  }
  for (auto& line : Table(rows)) out.push_back(std::move(line));
  return out;
}

std::vector<std::string> FormatPlugins(const std::vector<client::PluginInfo>& plugins) {
  std::vector<std::vector<std::string>> rows{{"NAME", "PLUGIN", "HOOKS", "FAILURES", "LIBRARY"}};
  for (const auto& p : plugins) {
    std::string hooks;
    if (p.accept_hook) hooks = "accept";
    if (p.retention_hook) hooks += hooks.empty() ? "retention" : ",retention";
    rows.push_back({Printable(p.name), Printable(p.plugin), hooks.empty() ? "-" : hooks,
                    std::to_string(p.failures), Printable(p.library)});
  }
  return Table(rows);
}

std::string DescribeCaseScope(const client::CaseInfo& c) {
  std::string out;
  if (c.conversations.empty()) {
    out = "all their conversations";
  } else {
    out = c.conversations.size() == 1 ? "conversation " : "conversations ";
    for (std::size_t i = 0; i < c.conversations.size(); ++i) {
      out += (i ? ", #" : "#") + std::to_string(c.conversations[i]);
    }
  }
  if (c.from_us == 0 && c.to_us == 0) {
    out += "; any time";
  } else {
    if (c.from_us != 0) out += "; from " + FormatTime(c.from_us);
    if (c.to_us != 0) out += (c.from_us != 0 ? " to " : "; until ") + FormatTime(c.to_us);
  }
  if (!c.keyword.empty()) out += "; containing " + JsonString(c.keyword);
  if (c.redact_others) out += "; others redacted";
  return out;
}

namespace {

std::string Subjects(const std::vector<std::string>& subjects) {
  std::string out;
  for (const auto& s : subjects) out += (out.empty() ? "" : ",") + Printable(s);
  return out.empty() ? "-" : out;
}

std::string ByAt(const std::string& who, std::int64_t at_us) {
  if (who.empty() && at_us == 0) return "-";
  std::string out = who.empty() ? "-" : Printable(who);
  if (at_us != 0) out += " " + FormatTime(at_us);
  return out;
}

}  // namespace

std::vector<std::string> FormatCase(const client::CaseInfo& c) {
  std::vector<std::vector<std::string>> rows{
      {"case:", std::to_string(c.id) + " (" + std::string(client::CaseKindName(c.kind)) + ")"},
      {"state:", Printable(c.state)},
      {"legal basis:", Printable(c.legal_basis)},
      {"subjects:", Subjects(c.subjects)},
      {"scope:", DescribeCaseScope(c)},
      {"requested by:", ByAt(c.requested_by, c.requested_at_us)},
      {"approved by:", ByAt(c.approved_by, c.approved_at_us)}};
  if (c.approval_expires_at_us != 0) {
    rows.push_back({"export before:", FormatTime(c.approval_expires_at_us)});
  }
  if (c.visible_to_subjects_at_us != 0) {
    rows.push_back({"shown to subjects:", "from " + FormatTime(c.visible_to_subjects_at_us)});
  }
  return Table(rows);
}

std::vector<std::string> FormatCases(const std::vector<client::CaseInfo>& cases) {
  std::vector<std::vector<std::string>> rows{
      {"ID", "KIND", "STATE", "SUBJECTS", "REQUESTED BY", "APPROVED BY", "SCOPE", "LEGAL BASIS"}};
  for (const auto& c : cases) {
    rows.push_back({std::to_string(c.id), std::string(client::CaseKindName(c.kind)),
                    Printable(c.state), Subjects(c.subjects), ByAt(c.requested_by, 0),
                    ByAt(c.approved_by, 0), DescribeCaseScope(c), Printable(c.legal_basis)});
  }
  return Table(rows);
}

std::string FormatExport(const client::ExportInfo& e) {
  std::string out = "export " + std::to_string(e.id) + " of case " + std::to_string(e.case_id) +
                    ": " + Printable(e.state);
  if (e.failed()) return out + (e.error.empty() ? "" : ": " + Printable(e.error));
  out += ", " + Plural(e.messages, "message", "messages") + ", " +
         Plural(e.attachments, "attachment", "attachments") + ", " + FormatBytes(e.bytes);
  if (e.running()) out += " so far";
  return out;
}

std::string HoldJson(const client::HoldInfo& h) {
  return "{\"id\":" + std::to_string(h.id) + ",\"target\":\"" +
         (h.target.is_user() ? "user" : "conversation") + "\",\"login\":" +
         JsonString(h.target.login) + ",\"conversation_id\":" +
         std::to_string(h.target.conversation_id) + ",\"case_ref\":" + JsonString(h.case_ref) +
         ",\"reason\":" + JsonString(h.reason) + ",\"created_by\":" + JsonString(h.created_by) +
         ",\"created_at_us\":" + std::to_string(h.created_at_us) +
         ",\"lifted_by\":" + JsonString(h.lifted_by) +
         ",\"lifted_at_us\":" + std::to_string(h.lifted_at_us) + "}";
}

std::string RetentionReportJson(const client::RetentionReport& r) {
  std::string j = std::string("{\"dry_run\":") + Bool(r.dry_run) +
                  ",\"started_at_us\":" + std::to_string(r.started_at_us) +
                  ",\"finished_at_us\":" + std::to_string(r.finished_at_us) +
                  ",\"messages_examined\":" + std::to_string(r.messages_examined) +
                  ",\"messages_deleted\":" + std::to_string(r.messages_deleted) +
                  ",\"attachments_stripped\":" + std::to_string(r.attachments_stripped) +
                  ",\"attachment_bytes\":" + std::to_string(r.attachment_bytes) +
                  ",\"conversations\":" + std::to_string(r.conversations) +
                  ",\"held_protected\":" + std::to_string(r.held_protected) + ",\"policies\":[";
  for (std::size_t i = 0; i < r.policies.size(); ++i) {
    const auto& p = r.policies[i];
    j += (i ? ",{\"policy\":" : "{\"policy\":") + JsonString(p.policy) +
         ",\"deleted\":" + std::to_string(p.deleted) +
         ",\"stripped\":" + std::to_string(p.stripped) + "}";
  }
  return j + "]}";
}

std::string PluginJson(const client::PluginInfo& p) {
  return "{\"name\":" + JsonString(p.name) + ",\"plugin\":" + JsonString(p.plugin) +
         ",\"library\":" + JsonString(p.library) + ",\"accept_hook\":" + Bool(p.accept_hook) +
         ",\"retention_hook\":" + Bool(p.retention_hook) +
         ",\"failures\":" + std::to_string(p.failures) + "}";
}

std::string CaseJson(const client::CaseInfo& c) {
  std::string subjects;
  for (const auto& s : c.subjects) subjects += (subjects.empty() ? "" : ",") + JsonString(s);
  std::string conversations;
  for (std::uint64_t id : c.conversations) {
    conversations += (conversations.empty() ? "" : ",") + std::to_string(id);
  }
  return "{\"id\":" + std::to_string(c.id) + ",\"kind\":\"" +
         std::string(client::CaseKindName(c.kind)) + "\",\"state\":" + JsonString(c.state) +
         ",\"legal_basis\":" + JsonString(c.legal_basis) + ",\"subjects\":[" + subjects +
         "],\"conversations\":[" + conversations + "],\"from_us\":" + std::to_string(c.from_us) +
         ",\"to_us\":" + std::to_string(c.to_us) + ",\"keyword\":" + JsonString(c.keyword) +
         ",\"redact_others\":" + Bool(c.redact_others) +
         ",\"requested_by\":" + JsonString(c.requested_by) +
         ",\"requested_at_us\":" + std::to_string(c.requested_at_us) +
         ",\"approved_by\":" + JsonString(c.approved_by) +
         ",\"approved_at_us\":" + std::to_string(c.approved_at_us) +
         ",\"approval_expires_at_us\":" + std::to_string(c.approval_expires_at_us) +
         ",\"visible_to_subjects_at_us\":" + std::to_string(c.visible_to_subjects_at_us) + "}";
}

std::string ExportJson(const client::ExportInfo& e) {
  return "{\"id\":" + std::to_string(e.id) + ",\"case_id\":" + std::to_string(e.case_id) +
         ",\"state\":" + JsonString(e.state) + ",\"messages\":" + std::to_string(e.messages) +
         ",\"attachments\":" + std::to_string(e.attachments) +
         ",\"bytes\":" + std::to_string(e.bytes) + ",\"error\":" + JsonString(e.error) + "}";
}

// ------------------------------------------------------------------ working hours

namespace {

constexpr const char* kWeekdayNames[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr const char* kWeekdayKeys[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::string JsonStrings(const std::vector<std::string>& values) {
  std::string j = "[";
  for (std::size_t i = 0; i < values.size(); ++i) j += (i ? "," : "") + JsonString(values[i]);
  return j + "]";
}

std::string JsonPeriods(const std::vector<client::WorkPeriod>& periods) {
  std::string j = "[";
  for (std::size_t i = 0; i < periods.size(); ++i) {
    j += std::string(i ? "," : "") + "\"" + FormatMinute(periods[i].start_minute) + "-" +
         FormatMinute(periods[i].end_minute) + "\"";
  }
  return j + "]";
}

std::string List(const std::vector<std::string>& values) {
  if (values.empty()) return "none";
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + Printable(v);
  return out;
}

// "days_off" -> "days off"
std::string PartName(const std::string& part) {
  std::string out = Printable(part);
  std::replace(out.begin(), out.end(), '_', ' ');
  return out;
}

const char* PresenceKey(client::PresenceState state) {
  switch (state) {
    case client::PresenceState::kOnline: return "online";
    case client::PresenceState::kOffDuty: return "off_duty";
    case client::PresenceState::kOffline: break;
  }
  return "offline";
}

std::string CountJson(const client::DisconnectCount& c) {
  return "{\"name\":" + JsonString(c.name) +
         ",\"conversation_id\":" + std::to_string(c.conversation_id) +
         ",\"messages\":" + std::to_string(c.messages) +
         ",\"recipients\":" + std::to_string(c.recipients) +
         ",\"urgent\":" + std::to_string(c.urgent) + "}";
}

}  // namespace

std::string FormatUtcMinute(std::int64_t unix_us, bool weekday) {
  std::time_t t = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm tm{};
#ifdef _WIN32
  gmtime_s(&tm, &t);
#else
  gmtime_r(&t, &tm);
#endif
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  if (!weekday) return buf;
  // tm_wday counts from Sunday.
  return std::string(kWeekdayNames[(tm.tm_wday + 6) % 7]) + " " + buf;
}

std::string FormatMinute(std::uint32_t minute) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02u:%02u", minute / 60, minute % 60);
  return buf;
}

std::string FormatPeriods(const std::vector<client::WorkPeriod>& periods) {
  if (periods.empty()) return "off";
  std::string out;
  for (const auto& p : periods) {
    out += (out.empty() ? "" : ", ") + FormatMinute(p.start_minute) + "-" +
           FormatMinute(p.end_minute);
  }
  return out;
}

std::string DescribeDuty(const client::DutyState& state) {
  if (state.until_us == 0) {
    return state.on_duty ? "on duty (no working hours set)" : "off duty (no working hours ahead)";
  }
  return state.on_duty ? "on duty until " + FormatUtcMinute(state.until_us)
                       : "off duty until " + FormatUtcMinute(state.until_us, /*weekday=*/true);
}

std::vector<std::string> FormatSchedule(const client::ScheduleInfo& info) {
  const client::Schedule& s = info.schedule;
  std::vector<std::string> out;
  std::string who = info.login.empty() ? "" : " of " + Printable(info.login);
  if (s.time_zone.empty()) {
    out.push_back("schedule" + who + ": no working hours set (always on duty)");
  } else {
    out.push_back("schedule" + who + ", time zone " + Printable(s.time_zone) +
                  " (the hours below are local times there)");
    std::vector<std::vector<std::string>> rows;
    for (std::uint8_t d = 0; d < 7; ++d) {
      std::vector<client::WorkPeriod> periods;
      for (const auto& day : s.week) {
        if (day.weekday == d) periods.insert(periods.end(), day.periods.begin(), day.periods.end());
      }
      rows.push_back({std::string("  ") + kWeekdayNames[d], FormatPeriods(periods)});
    }
    for (auto& line : Table(rows)) out.push_back(std::move(line));
  }
  out.push_back("days off: " + List(s.days_off));
  out.push_back("holidays: " + List(s.holidays));
  std::vector<std::string> shifts;
  for (const auto& c : s.shifts) shifts.push_back(Printable(c.date) + " " + FormatPeriods(c.periods));
  std::string shift_line;
  for (const auto& c : shifts) shift_line += (shift_line.empty() ? "" : "; ") + c;
  out.push_back("shift changes: " + (shift_line.empty() ? std::string("none") : shift_line));
  out.push_back("profile: " + (s.profile.empty() ? std::string("-") : Printable(s.profile)));
  std::string may;
  for (const auto& m : s.may_change) may += (may.empty() ? "" : ", ") + PartName(m);
  out.push_back("may be changed: " + (may.empty() ? "nothing (the organisation sets it)" : may));
  out.push_back("now: " + DescribeDuty(info.state));
  return out;
}

std::string ScheduleJson(const client::ScheduleInfo& info) {
  const client::Schedule& s = info.schedule;
  std::string j = "{\"login\":" + JsonString(info.login) +
                  ",\"time_zone\":" + JsonString(s.time_zone) + ",\"week\":{";
  for (std::uint8_t d = 0; d < 7; ++d) {
    std::vector<client::WorkPeriod> periods;
    for (const auto& day : s.week) {
      if (day.weekday == d) periods.insert(periods.end(), day.periods.begin(), day.periods.end());
    }
    j += std::string(d ? "," : "") + "\"" + kWeekdayKeys[d] + "\":" + JsonPeriods(periods);
  }
  j += "},\"days_off\":" + JsonStrings(s.days_off) + ",\"holidays\":" + JsonStrings(s.holidays) +
       ",\"shifts\":[";
  for (std::size_t i = 0; i < s.shifts.size(); ++i) {
    j += std::string(i ? "," : "") + "{\"date\":" + JsonString(s.shifts[i].date) +
         ",\"periods\":" + JsonPeriods(s.shifts[i].periods) + "}";
  }
  j += "],\"profile\":" + JsonString(s.profile) + ",\"may_change\":" + JsonStrings(s.may_change) +
       ",\"on_duty\":" + Bool(info.state.on_duty) +
       ",\"until_us\":" + std::to_string(info.state.until_us) + "}";
  return j;
}

std::string FormatOffDuty(const client::DutyState& state, bool urgent) {
  std::string line = Printable(state.login) + " is off duty";
  if (state.until_us != 0) line += " until " + FormatUtcMinute(state.until_us);
  return line + (urgent ? "; the urgent message reaches them now"
                        : "; the message waits for them");
}

std::string DescribePresence(const client::PresenceInfo& p) {
  std::string line = Printable(p.login) + " is " + std::string(client::PresenceStateName(p.state));
  if (p.state == client::PresenceState::kOffDuty && p.until_us != 0) {
    line += " until " + FormatUtcMinute(p.until_us);
  }
  return line;
}

std::vector<std::string> FormatPresenceList(const std::vector<client::PresenceInfo>& list) {
  std::vector<std::vector<std::string>> rows{{"LOGIN", "STATE", "UNTIL"}};
  for (const auto& p : list) {
    std::string until = "-";
    if (p.state == client::PresenceState::kOffDuty && p.until_us != 0) {
      until = FormatUtcMinute(p.until_us, /*weekday=*/true);
    }
    rows.push_back({Printable(p.login), std::string(client::PresenceStateName(p.state)), until});
  }
  return Table(rows);
}

std::string PresenceJson(const client::PresenceInfo& p) {
  return "{\"login\":" + JsonString(p.login) + ",\"state\":\"" + PresenceKey(p.state) +
         "\",\"until_us\":" + std::to_string(p.until_us) + "}";
}

std::vector<std::string> FormatDisconnectReport(const client::DisconnectReport& r) {
  std::vector<std::string> out;
  out.push_back("right to disconnect, " + FormatUtcMinute(r.from_us) + " to " +
                FormatUtcMinute(r.to_us) + ":");
  out.push_back(Plural(r.messages, "message", "messages") + " reached people outside their " +
                "working hours (" + Plural(r.recipients, "recipient", "recipients") + ", " +
                std::to_string(r.urgent) + " of the messages urgent)");
  out.push_back("");
  out.push_back("per sender:");
  std::vector<std::vector<std::string>> senders{{"  SENDER", "MESSAGES", "RECIPIENTS", "URGENT"}};
  for (const auto& c : r.senders) {
    senders.push_back({"  " + Printable(c.name), std::to_string(c.messages),
                       std::to_string(c.recipients), std::to_string(c.urgent)});
  }
  if (r.senders.empty()) senders = {{"  none"}};
  for (auto& line : Table(senders)) out.push_back(std::move(line));
  out.push_back("");
  out.push_back("per group:");
  std::vector<std::vector<std::string>> groups{
      {"  GROUP", "CONVERSATION", "MESSAGES", "RECIPIENTS", "URGENT"}};
  for (const auto& c : r.groups) {
    groups.push_back({"  " + Printable(c.name), "#" + std::to_string(c.conversation_id),
                      std::to_string(c.messages), std::to_string(c.recipients),
                      std::to_string(c.urgent)});
  }
  if (r.groups.empty()) groups = {{"  none"}};
  for (auto& line : Table(groups)) out.push_back(std::move(line));
  return out;
}

std::string DisconnectReportJson(const client::DisconnectReport& r) {
  std::string j = "{\"from_us\":" + std::to_string(r.from_us) +
                  ",\"to_us\":" + std::to_string(r.to_us) +
                  ",\"messages\":" + std::to_string(r.messages) +
                  ",\"recipients\":" + std::to_string(r.recipients) +
                  ",\"urgent\":" + std::to_string(r.urgent) + ",\"senders\":[";
  for (std::size_t i = 0; i < r.senders.size(); ++i) {
    j += (i ? "," : "") + CountJson(r.senders[i]);
  }
  j += "],\"groups\":[";
  for (std::size_t i = 0; i < r.groups.size(); ++i) {
    j += (i ? "," : "") + CountJson(r.groups[i]);
  }
  return j + "]}";
}

}  // namespace chatpro::cli
