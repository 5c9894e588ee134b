// SPDX-License-Identifier: Apache-2.0
#include "broker/core/retention.h"

#include <sodium.h>

#include <set>

#include "broker/core/records.h"

namespace chatpro::core {
namespace {

constexpr std::size_t kPageMessages = 256;
constexpr std::uint64_t kPageBytes = 8 << 20;

chatpro_string Str(const flatbuffers::String* s) {
  return s == nullptr ? chatpro_string{"", 0} : chatpro_string{s->c_str(), s->size()};
}

std::uint64_t Size(const flatbuffers::Vector<std::uint8_t>* v) { return v == nullptr ? 0 : v->size(); }

}  // namespace

RetentionRun::RetentionRun(MessageStore* store, PluginSet* plugins,
                           std::vector<ConversationSnapshot> conversations, HoldSnapshot holds,
                           Options options, ApplyFn apply)
    : store_(store),
      plugins_(plugins),
      conversations_(std::move(conversations)),
      holds_(std::move(holds)),
      options_(options),
      apply_(std::move(apply)) {}

bool RetentionRun::ViewOf(const wire::Message& m, const ConversationSnapshot& c,
                          chatpro_message_view* view) {
  *view = chatpro_message_view{};
  view->struct_size = sizeof(chatpro_message_view);
  view->conversation_id = c.id.value();
  view->seq = m.seq();
  view->conversation_kind =
      c.kind == wire::ConversationKind::Group ? CHATPRO_GROUP : CHATPRO_DIRECT;
  view->conversation_name = chatpro_string{c.name.data(), c.name.size()};
  view->conversation_head_seq = c.head;
  view->sender_user_id = m.sender_user_id();
  view->sender_login = Str(m.sender_login());
  view->sent_at_us = m.sent_at_us();
  view->attachments_removed = m.attachments_removed_at_us() != 0 ? 1 : 0;
  switch (m.content_type()) {
    case wire::Content::Text:
      view->content_kind = CHATPRO_CONTENT_TEXT;
      view->text = Str(m.content_as_Text()->body());
      return true;
    case wire::Content::Voice:
      view->content_kind = CHATPRO_CONTENT_VOICE;
      view->attachment_bytes = Size(m.content_as_Voice()->audio());
      return true;
    case wire::Content::Picture:
      view->content_kind = CHATPRO_CONTENT_PICTURE;
      view->attachment_bytes =
          Size(m.content_as_Picture()->image()) + Size(m.content_as_Picture()->thumbnail());
      return true;
    case wire::Content::Edit:
      view->content_kind = CHATPRO_CONTENT_EDIT;
      view->text = Str(m.content_as_Edit()->text());
      return true;
    case wire::Content::Deletion:
      view->content_kind = CHATPRO_CONTENT_DELETION;
      return true;
    default:
      return false;
  }
}

std::string RetentionRun::StripAttachments(const wire::Message& m, std::int64_t now_us) {
  flatbuffers::FlatBufferBuilder fbb;
  flatbuffers::Offset<void> content;
  if (m.content_type() == wire::Content::Voice) {
    const wire::Voice* v = m.content_as_Voice();
    content = wire::CreateVoice(fbb, fbb.CreateString(v->codec()), v->duration_ms()).Union();
  } else if (m.content_type() == wire::Content::Picture) {
    const wire::Picture* p = m.content_as_Picture();
    content = wire::CreatePicture(fbb, fbb.CreateString(p->mime_type()), p->width(), p->height())
                  .Union();
  }
  auto login = fbb.CreateString(m.sender_login());
  fbb.Finish(wire::CreateMessage(fbb, m.conversation_id(), m.seq(), m.sender_user_id(), login,
                                 m.sender_device_id(), m.client_msg_id(), m.sent_at_us(),
                                 m.content_type(), content, now_us));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string RetentionRun::ContentHash(std::string_view bytes) {
  unsigned char hash[32];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  return std::string(reinterpret_cast<const char*>(hash), sizeof hash);
}

Status RetentionRun::Flush(std::vector<RetentionAction>* chunk) {
  if (chunk->empty() || options_.dry_run) {
    chunk->clear();
    return Status::Ok();
  }
  std::optional<std::uint64_t> applied = apply_(std::move(*chunk));
  chunk->clear();
  if (!applied) stopped_ = true;
  return Status::Ok();
}

Status RetentionRun::Run(const std::atomic<bool>& cancel) {
  std::vector<RetentionAction> chunk;
  std::string scratch;
  for (const ConversationSnapshot& c : conversations_) {
    bool touched = false;
    Seq from = 1;
    while (!cancel.load() && !stopped_ && from <= c.head) {
      Result<std::vector<StoredMessage>> page =
          store_->ReadMessages(c.id, from, kPageMessages, ReadDirection::kForward, kPageBytes);
      if (!page.ok()) return page.status();
      if (page->empty()) break;
      for (const StoredMessage& stored : *page) {
        from = stored.seq + 1;
        if (stored.seq > c.head) break;
        const wire::Message* m = VerifiedRecord<wire::Message>(stored.bytes, &scratch);
        chatpro_message_view view;
        if (m == nullptr || !ViewOf(*m, c, &view)) continue;  // damaged: never decided on
        ++counts_.examined;
        RetentionDecision d = plugins_->Retention(view, options_.now_us);
        if (d.verdict == CHATPRO_RETAIN_KEEP) continue;
        if (d.verdict == CHATPRO_RETAIN_STRIP_ATTACHMENTS &&
            (view.attachment_bytes == 0 || view.attachments_removed)) {
          continue;  // nothing to strip
        }
        if (holds_.Covers(c.id, UserId(m->sender_user_id()), c.members)) {
          ++counts_.held_protected;
          continue;
        }
        RetentionAction a;
        a.conversation = c.id;
        a.seq = stored.seq;
        a.verdict = d.verdict;
        a.policy = d.plugin;
        a.sender = UserId(m->sender_user_id());
        a.sent_at_us = m->sent_at_us();
        a.content_kind = static_cast<std::uint8_t>(m->content_type());
        a.content_hash = ContentHash(stored.bytes);
        a.attachment_bytes = view.attachment_bytes;
        if (d.verdict == CHATPRO_RETAIN_STRIP_ATTACHMENTS) {
          a.stripped = StripAttachments(*m, options_.now_us);
          ++counts_.stripped;
          counts_.by_policy[d.plugin].second += 1;
        } else {
          ++counts_.deleted;
          counts_.by_policy[d.plugin].first += 1;
        }
        counts_.attachment_bytes += view.attachment_bytes;
        touched = true;
        chunk.push_back(std::move(a));
        if (chunk.size() >= options_.batch_messages) CHATPRO_RETURN_IF_ERROR(Flush(&chunk));
      }
    }
    if (touched) ++counts_.conversations;
  }
  return Flush(&chunk);
}

}  // namespace chatpro::core
