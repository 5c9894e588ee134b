// SPDX-License-Identifier: Apache-2.0
//
// Retention: the organisation's records policy applied to stored messages.
//
// A RetentionRun walks every conversation of a snapshot taken on the event
// loop, reads its messages in pages, asks the plugins (PluginSet::Retention)
// about each, and collects what to remove: messages to delete and messages
// whose voice or picture to strip. Nothing covered by a legal hold is proposed
// (and the loop checks the holds again before applying). Proposals go to the
// event loop in small chunks through `apply`, which returns once the chunk is
// stored, so that a run never races ahead of what is written and live traffic
// waits at most for one small batch. A dry run proposes nothing and only
// counts.
//
// Lifecycle: construct on the event loop, Run() on the retention thread, read
// counts() after Run() returns. Cancel by setting the flag given to Run().
// Thread-safety: Run() on one thread; nothing shared but the store (whose
// reads are thread-safe) and the plugin instances for retention (used by this
// thread only).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/core/holds.h"
#include "broker/core/message_store.h"
#include "broker/core/plugin_set.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::core {

struct ConversationSnapshot {
  ConversationId id;
  wire::ConversationKind kind = wire::ConversationKind::Direct;
  std::string name;
  Seq head = 0;  // committed seq when the run started: newer messages are not looked at
  std::vector<UserId> members;
};

struct RetentionAction {
  ConversationId conversation;
  Seq seq = 0;
  chatpro_retention_verdict verdict = CHATPRO_RETAIN_KEEP;
  std::string policy;
  UserId sender;
  std::int64_t sent_at_us = 0;
  std::uint8_t content_kind = 0;
  std::string content_hash;       // BLAKE2b-256 of the stored message bytes
  std::uint64_t attachment_bytes = 0;
  std::string stripped;           // for a strip: the message without its attachments
};

struct RetentionCounts {
  std::uint64_t examined = 0;
  std::uint64_t deleted = 0;
  std::uint64_t stripped = 0;
  std::uint64_t attachment_bytes = 0;
  std::uint64_t conversations = 0;
  std::uint64_t held_protected = 0;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> by_policy;  // deleted, stripped
};

class RetentionRun {
 public:
  struct Options {
    bool dry_run = true;
    std::int64_t now_us = 0;
    std::uint32_t batch_messages = 500;
  };
  // Applies one chunk on the event loop and returns how many of its actions
  // were applied (a hold placed meanwhile may keep some), or nullopt to stop.
  using ApplyFn = std::function<std::optional<std::uint64_t>(std::vector<RetentionAction>)>;

  RetentionRun(MessageStore* store, PluginSet* plugins, std::vector<ConversationSnapshot> conversations,
               HoldSnapshot holds, Options options, ApplyFn apply);

  // Walks everything. On failure returns the store's error (what was applied
  // before stays applied).
  Status Run(const std::atomic<bool>& cancel);
  const RetentionCounts& counts() const { return counts_; }

  // The message view plugins see, built from stored message bytes.
  static bool ViewOf(const wire::Message& m, const ConversationSnapshot& c,
                     chatpro_message_view* view);
  // The message without its audio or image bytes, marked as stripped at `now_us`.
  static std::string StripAttachments(const wire::Message& m, std::int64_t now_us);
  static std::string ContentHash(std::string_view bytes);

 private:
  Status Flush(std::vector<RetentionAction>* chunk);

  MessageStore* const store_;
  PluginSet* const plugins_;
  const std::vector<ConversationSnapshot> conversations_;
  const HoldSnapshot holds_;
  const Options options_;
  const ApplyFn apply_;
  RetentionCounts counts_;
  bool stopped_ = false;
};

}  // namespace chatpro::core
