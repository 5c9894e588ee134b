// SPDX-License-Identifier: Apache-2.0
//
// How the `chatpro` client shows messages: one line of text per message for
// people, or one JSON object per line for scripts, and where received voice
// and picture files are saved.
//
// Everything that came from other people (text, names) is escaped before it
// reaches the terminal: control characters are shown as \n, \t or \xNN, so a
// message cannot move the cursor or change the terminal.
//
// Thread-safety: pure functions, except SaveMedia (file system).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"

namespace chatpro::cli {

// A JSON string literal (with the quotes). Invalid UTF-8 becomes U+FFFD.
std::string JsonString(std::string_view text);
// `text` with control characters escaped, for a terminal line.
std::string Printable(std::string_view text);
// Unix microseconds as local "YYYY-MM-DD HH:MM:SS".
std::string FormatTime(std::int64_t unix_us);

// Files written for one received message.
struct SavedMedia {
  std::string file;            // the audio or image
  std::string thumbnail_file;  // the picture's thumbnail, if it had one
};

// Saves a voice or picture message into `dir` as CONVERSATION-SEQ.EXT (and
// CONVERSATION-SEQ-thumb.EXT). A text message saves nothing.
Result<SavedMedia> SaveMedia(const client::Message& message, const std::string& dir);

// "[2026-11-24 10:03:12] #3 (direct ana) ana: hello". `conversation` may be
// null when the conversation is unknown.
std::string FormatLine(const client::Message& message, const client::Conversation* conversation,
                       const SavedMedia& saved);
// {"conversation_id":3,"conversation":"ana",...,"kind":"text","text":"hello"};
// edits and deletions have "kind":"edit" (with "target_seq" and "text") and
// "kind":"deletion" (with "target_seq").
std::string FormatJson(const client::Message& message, const client::Conversation* conversation,
                       const SavedMedia& saved);

std::string_view KindName(client::ConversationKind kind);  // "direct", "group"
// Unix microseconds as local "YYYY-MM-DD HH:MM:SS.mmm".
std::string FormatTimeMs(std::int64_t unix_us);

// Rows of columns, padded to line up (the last column is not padded).
std::vector<std::string> Table(const std::vector<std::vector<std::string>>& rows);

// What a message holds, as shown after "sender: ": the text, "[edited #5]
// new text", "[deleted #5]", "[voice 4.2 s opus, saved to FILE]", ...
std::string DescribeContent(const client::Message& message, const SavedMedia& saved);

// `chatpro admin user deactivate`: the summary, one fact per line.
std::vector<std::string> FormatOffboarding(const client::OffboardingInfo& info);

// `chatpro devices`: a table with a header line, one device per line.
std::vector<std::string> FormatDevices(const std::vector<client::DeviceInfo>& devices);
std::string DeviceJson(const client::DeviceInfo& device);

// `chatpro admin audit`: a header line, then one line per entry (seq, time,
// actor, action, target, details). The broker itself acts as "-".
std::vector<std::string> FormatAudit(const std::vector<client::AuditEntryInfo>& entries);
// details is given as a JSON string (its text), hash as hex.
std::string AuditJson(const client::AuditEntryInfo& entry);
// "audit log whole: N entries", or the first broken entry.
std::string FormatVerification(const client::AuditVerification& verification);

// `chatpro admin reports`: the report, then the reported message indented.
std::vector<std::string> FormatReport(const client::ReportInfo& report);
// The message (if any) is a FormatJson object under "message".
std::string ReportJson(const client::ReportInfo& report);

}  // namespace chatpro::cli
