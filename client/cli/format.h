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

// A voice or picture message whose audio or image a retention policy removed
// (only its metadata is left).
bool IsStripped(const client::Message& message);

// Saves a voice or picture message into `dir` as CONVERSATION-SEQ.EXT (and
// CONVERSATION-SEQ-thumb.EXT). A text message, or a stripped voice or
// picture, saves nothing.
Result<SavedMedia> SaveMedia(const client::Message& message, const std::string& dir);

// "[2026-11-24 10:03:12] #3 (direct ana) ana: hello"; an urgent message shows
// as "ana: URGENT (reason) hello"; a stripped picture
// shows as "[picture removed by retention policy on 2026-11-20]". `conversation` may be
// null when the conversation is unknown.
std::string FormatLine(const client::Message& message, const client::Conversation* conversation,
                       const SavedMedia& saved);
// {"conversation_id":3,"conversation":"ana",...,"kind":"text","text":"hello"};
// edits and deletions have "kind":"edit" (with "target_seq" and "text") and
// "kind":"deletion" (with "target_seq"); a stripped voice or picture adds
// "attachments_removed_at_us"; an urgent message "urgent":true and
// "urgent_reason".
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

// ------------------------------------------------------------------ records management

// Unix microseconds as local "YYYY-MM-DD".
std::string FormatDate(std::int64_t unix_us);
// A byte count for people: "512 bytes", "5.0 MiB (5242880 bytes)".
std::string FormatBytes(std::uint64_t bytes);

// "user ben", "conversation #3".
std::string DescribeHoldTarget(const client::HoldTarget& target);
// `chatpro admin hold list`: a table with a header line, one hold per line.
std::vector<std::string> FormatHolds(const std::vector<client::HoldInfo>& holds);

// `chatpro admin retention run`: whether anything was removed, then each
// count and each policy's counts, one per line.
std::vector<std::string> FormatRetentionReport(const client::RetentionReport& report);

// `chatpro admin plugins`: a table with a header line, one plugin per line.
std::vector<std::string> FormatPlugins(const std::vector<client::PluginInfo>& plugins);

// What a case covers: "conversations #3, #4; from 2023-11-01 to 2023-11-30;
// containing "invoice"; others redacted" ("all their conversations; any time"
// when unrestricted).
std::string DescribeCaseScope(const client::CaseInfo& c);
// One case, one fact per line (`case open`, `case approve`).
std::vector<std::string> FormatCase(const client::CaseInfo& c);
// `chatpro admin case list`: a table with a header line, one case per line.
std::vector<std::string> FormatCases(const std::vector<client::CaseInfo>& cases);

// `chatpro admin export status`: "export 77 of case 32: done, 120 messages,
// 4 attachments, 14 bytes" (or "running", or "failed: WHY").
std::string FormatExport(const client::ExportInfo& e);

// One JSON object each, for --json (times as Unix microseconds, like the
// library's fields).
std::string HoldJson(const client::HoldInfo& hold);
std::string RetentionReportJson(const client::RetentionReport& report);
std::string PluginJson(const client::PluginInfo& plugin);
std::string CaseJson(const client::CaseInfo& c);
std::string ExportJson(const client::ExportInfo& e);

// `chatpro admin reports`: the report, then the reported message indented.
std::vector<std::string> FormatReport(const client::ReportInfo& report);
// The message (if any) is a FormatJson object under "message".
std::string ReportJson(const client::ReportInfo& report);

// ------------------------------------------------------------------ working hours
//
// The client has no time-zone database, so instants (when someone is on duty
// until) are shown in UTC, marked as such; the hours of a schedule are local
// times of its own zone, which is named beside them.

// Unix microseconds as "2026-11-25 08:00 UTC" (with `weekday`: "Wed 2026-11-25
// 08:00 UTC").
std::string FormatUtcMinute(std::int64_t unix_us, bool weekday = false);
// Minutes from midnight as "09:00" (1440 is "24:00").
std::string FormatMinute(std::uint32_t minute);
// "09:00-12:30, 13:30-17:00", or "off" for none.
std::string FormatPeriods(const std::vector<client::WorkPeriod>& periods);
// "on duty until 2026-11-25 16:00 UTC", "off duty until Wed 2026-11-25 08:00
// UTC"; "on duty (no working hours set)" when nothing ever changes.
std::string DescribeDuty(const client::DutyState& state);
// `chatpro schedule show`: the zone, each weekday's hours, days off,
// holidays, shift changes, the profile, what may be changed, and the duty
// state now, one fact per line.
std::vector<std::string> FormatSchedule(const client::ScheduleInfo& info);
// {"login":..,"time_zone":..,"week":{"mon":["09:00-12:30",..],..},"days_off":[..],
// "holidays":[..],"shifts":[{"date":..,"periods":[..]}],"profile":..,"may_change":[..],
// "on_duty":true,"until_us":N}
std::string ScheduleJson(const client::ScheduleInfo& info);
// After a send: "ben is off duty until 2026-11-25 08:00 UTC; the message waits
// for them" (urgent: "...; the urgent message reaches them now").
std::string FormatOffDuty(const client::DutyState& state, bool urgent);
// "ben is online", "ben is off duty until 2026-11-25 08:00 UTC", ...
std::string DescribePresence(const client::PresenceInfo& presence);
// `chatpro presence`: a table with a header line (LOGIN, STATE, UNTIL).
std::vector<std::string> FormatPresenceList(const std::vector<client::PresenceInfo>& list);
// {"login":..,"state":"off_duty","until_us":N} ("online", "offline", "off_duty").
std::string PresenceJson(const client::PresenceInfo& presence);
// `chatpro admin disconnect-report`: the range, the totals, then a table per
// sender and one per group.
std::vector<std::string> FormatDisconnectReport(const client::DisconnectReport& report);
std::string DisconnectReportJson(const client::DisconnectReport& report);

}  // namespace chatpro::cli
