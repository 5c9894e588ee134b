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
// {"conversation_id":3,"conversation":"ana",...,"kind":"text","text":"hello"}
std::string FormatJson(const client::Message& message, const client::Conversation* conversation,
                       const SavedMedia& saved);

std::string_view KindName(client::ConversationKind kind);  // "direct", "group"

}  // namespace chatpro::cli
