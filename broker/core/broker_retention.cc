// SPDX-License-Identifier: Apache-2.0
//
// Records management on the broker: legal holds, retention runs (on request,
// on a timer and when the disk runs low), the accept hooks of the policy
// plugins, and the list of loaded plugins.
//
// A retention run walks the store on its own thread (RetentionRun) and hands
// its removals to the event loop in chunks; the loop writes a chunk in
// slices, each a batch of its own handed to the commit thread only while that
// thread is idle and no live batch waits, and sized so that its write takes
// about kRemovalSliceUs: a live message waits at most that long for a removal.
// Right before a slice is written the loop checks the holds again and puts
// its deletions, tombstones and stripped messages into the batch; the thread
// goes on once every slice of the chunk is stored.
#include <algorithm>
#include <chrono>
#include <map>
#include <string>

#include "broker/base/json.h"
#include "broker/base/log.h"
#include "broker/base/thread_priority.h"
#include "broker/core/broker.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

// Retention decisions the plugins failed so far (the messages were kept).
std::uint64_t RetentionPluginFailures(const PluginSet& plugins) {
  std::uint64_t n = 0;
  for (const auto& p : plugins.plugins()) n += p->retention_failures.load();
  return n;
}

constexpr std::int64_t kDiskCheckIntervalUs = 10 * kMicrosPerSecond;
// The longest pause between two batches of a run.
constexpr std::chrono::milliseconds kMaxRetentionPause{100};
constexpr std::chrono::milliseconds kBacklogWait{20};
constexpr int kMaxBacklogWaits = 250;  // 5 s
// How long one slice of removals should keep the commit thread: what a live
// message may wait behind it. A slice's write looks up and deletes each
// message's pointer, writes a tombstone and frees the blob, a few
// microseconds per removal; the slice size follows the time measured.
constexpr std::int64_t kRemovalSliceUs = 200;
constexpr std::size_t kMinRemovalSlice = 8;
constexpr std::int64_t kFirstRemovalWriteNs = 5'000;  // until one is measured
// Under sustained load the commit thread may never be idle: after waiting
// this long a slice goes right behind the live batch, so that a run (a
// low-disk run above all) always progresses.
constexpr std::int64_t kMaxRemovalWaitUs = 20'000;
// After a low-disk run, the next one waits at least this long (it could not
// free more: the rest is kept by policy or hold).
constexpr std::int64_t kLowDiskRetryUs = 10 * 60 * kMicrosPerSecond;

std::vector<UserId> MemberIds(const Conversation& c) {
  std::vector<UserId> out;
  out.reserve(c.members.size());
  for (const Membership& m : c.members) out.push_back(m.user);
  return out;
}

std::string TombstoneKey(ConversationId c, Seq seq, char what) {
  std::string k = store_keys::U64Key(c.value(), seq);
  k.push_back(what);
  return k;
}

}  // namespace

// ------------------------------------------------------------------ holds

void Broker::HandleAdminSetHold(Session& s, std::uint64_t rid, const wire::AdminSetHold& r) {
  Status allowed = RequireAdmin(s, "place legal holds");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  UserId user;
  ConversationId conversation;
  std::string target;
  if (r.target() == wire::HoldTarget::User) {
    const User* u = directory_.FindUserByLogin(View(r.login()));
    if (u == nullptr) {
      return ReplyError(s, rid, Status::NotFound("there is no user '" +
                                                 std::string(View(r.login()).substr(0, 64)) + "'"));
    }
    user = u->id;
    target = "user:" + u->login;
  } else if (r.target() == wire::HoldTarget::Conversation) {
    const Conversation* c = conversations_.Find(ConversationId(r.conversation_id()));
    if (c == nullptr) {
      return ReplyError(s, rid, Status::NotFound("there is no conversation " +
                                                 std::to_string(r.conversation_id())));
    }
    conversation = c->id;
    target = "conversation:" + std::to_string(c->id.value());
  } else {
    return ReplyError(s, rid, Status::InvalidArgument("a hold is on a user or a conversation"));
  }
  Result<Hold> hold = holds_.Set(r.target(), user, conversation, View(r.case_ref()),
                                 View(r.reason()), s.user, clock_->NowMicros(), &Batch().writes);
  if (!hold.ok()) return ReplyError(s, rid, hold.status());
  Audit(s, "hold.set", target,
        JsonObject().Add("hold", hold->id).Add("case", hold->case_ref).Add("reason", hold->reason).str());
  LOG_INFO() << "legal hold " << hold->id << " placed on " << target << " (case " << hold->case_ref
             << ")";
  Hold h = *hold;
  AfterCommit(s.connection, rid, [this, rid, h](Session& session) {
    auto& fbb = session.replies.builder();
    auto body = BuildHoldInfo(fbb, h);
    session.replies.AddEnvelope(rid, wire::Body::HoldInfo, body.Union());
  });
}

void Broker::HandleAdminLiftHold(Session& s, std::uint64_t rid, const wire::AdminLiftHold& r) {
  Status allowed = RequireAdmin(s, "lift legal holds");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  Result<Hold> hold =
      holds_.Lift(r.hold_id(), s.user, View(r.reason()), clock_->NowMicros(), &Batch().writes);
  if (!hold.ok()) return ReplyError(s, rid, hold.status());
  Audit(s, "hold.lift", "hold:" + std::to_string(hold->id),
        JsonObject().Add("case", hold->case_ref).Add("reason", hold->lift_reason).str());
  LOG_INFO() << "legal hold " << hold->id << " lifted (case " << hold->case_ref << ")";
  AfterCommit(s.connection, rid, [rid](Session& session) {
    auto body = wire::CreateDone(session.replies.builder());
    session.replies.AddEnvelope(rid, wire::Body::Done, body.Union());
  });
}

flatbuffers::Offset<wire::HoldInfo> Broker::BuildHoldInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                         const Hold& h) const {
  auto login_of = [this](UserId id) {
    const User* u = id.valid() ? directory_.FindUser(id) : nullptr;
    return u == nullptr ? std::string() : u->login;
  };
  auto login = fbb.CreateString(login_of(h.user));
  auto case_ref = fbb.CreateString(h.case_ref);
  auto reason = fbb.CreateString(h.reason);
  auto created_by = fbb.CreateString(login_of(h.created_by));
  auto lifted_by = fbb.CreateString(login_of(h.lifted_by));
  return wire::CreateHoldInfo(fbb, h.id, h.target, login, h.conversation.value(), case_ref, reason,
                              created_by, h.created_at_us, lifted_by, h.lifted_at_us);
}

void Broker::HandleAdminListHolds(Session& s, std::uint64_t rid, const wire::AdminListHolds& r) {
  Status allowed = RequireAdminOrAuditor(s, "list legal holds");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::HoldInfo>> holds;
  for (const Hold& h : holds_.List(r.include_lifted())) holds.push_back(BuildHoldInfo(fbb, h));
  Audit(s, "hold.list", "holds",
        JsonObject().Add("count", static_cast<std::uint64_t>(holds.size()))
            .Add("include_lifted", r.include_lifted()).str());
  auto body = wire::CreateHoldList(fbb, fbb.CreateVector(holds));
  s.replies.AddEnvelope(rid, wire::Body::HoldList, body.Union());
  MarkDirty(s);
}

// ------------------------------------------------------------------ plugins

void Broker::HandleAdminListPlugins(Session& s, std::uint64_t rid) {
  Status allowed = RequireAdminOrAuditor(s, "list the policy plugins");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  auto& fbb = s.replies.builder();
  std::vector<flatbuffers::Offset<wire::PluginInfo>> list;
  if (plugins_ != nullptr) {
    for (const auto& p : plugins_->plugins()) {
      list.push_back(wire::CreatePluginInfo(
          fbb, fbb.CreateString(p->name),
          fbb.CreateString(p->api != nullptr && p->api->name != nullptr ? p->api->name : ""),
          fbb.CreateString(p->library), p->accept_instance != nullptr,
          p->retention_instance != nullptr, p->failures.load()));
    }
  }
  Audit(s, "plugin.list", "plugins", JsonObject().Add("count", static_cast<std::uint64_t>(list.size())).str());
  auto body = wire::CreatePluginList(fbb, fbb.CreateVector(list));
  s.replies.AddEnvelope(rid, wire::Body::PluginList, body.Union());
  MarkDirty(s);
}

Status Broker::AcceptHook(const Session& s, const Conversation& c, const wire::Send& r,
                          AcceptDecision* decision) {
  chatpro_message_view view{};
  view.struct_size = sizeof view;
  view.conversation_id = c.id.value();
  view.seq = c.next_seq + 1;
  view.conversation_kind = c.kind == wire::ConversationKind::Group ? CHATPRO_GROUP : CHATPRO_DIRECT;
  view.conversation_name = chatpro_string{c.name.data(), c.name.size()};
  view.conversation_head_seq = c.next_seq + 1;
  view.sender_user_id = s.user.value();
  const User* sender = directory_.FindUser(s.user);
  if (sender != nullptr) view.sender_login = chatpro_string{sender->login.data(), sender->login.size()};
  view.sent_at_us = clock_->NowMicros();
  auto str = [](const flatbuffers::String* t) {
    return t == nullptr ? chatpro_string{"", 0} : chatpro_string{t->c_str(), t->size()};
  };
  switch (r.content_type()) {
    case wire::Content::Text:
      view.content_kind = CHATPRO_CONTENT_TEXT;
      view.text = str(r.content_as_Text()->body());
      break;
    case wire::Content::Voice:
      view.content_kind = CHATPRO_CONTENT_VOICE;
      view.attachment_bytes = ContentBytes(r);
      break;
    case wire::Content::Picture:
      view.content_kind = CHATPRO_CONTENT_PICTURE;
      view.attachment_bytes = ContentBytes(r);
      break;
    case wire::Content::Edit:
      view.content_kind = CHATPRO_CONTENT_EDIT;
      view.text = str(r.content_as_Edit()->text());
      break;
    case wire::Content::Deletion:
      view.content_kind = CHATPRO_CONTENT_DELETION;
      break;
    default:
      return Status::Ok();
  }
  *decision = plugins_->Accept(view, view.sent_at_us);
  if (decision->verdict != CHATPRO_ACCEPT_REJECT) return Status::Ok();
  stats_.messages_rejected_by_policy.fetch_add(1, std::memory_order_relaxed);
  LOG_INFO() << "a message from " << (sender == nullptr ? std::string("?") : sender->login)
             << " was refused by policy '" << decision->plugin << "'";
  std::string reason = decision->reason.empty() ? "the organisation's policy does not allow it"
                                                : decision->reason;
  return Status::PermissionDenied("refused by policy '" + decision->plugin + "': " + reason);
}

void Broker::FlagMessage(const Session& s, const Conversation& c, Seq seq, const AcceptDecision& d,
                         const std::string& bytes) {
  stats_.messages_flagged.fetch_add(1, std::memory_order_relaxed);
  // A report by the policy (reporter 0), with its own copy of the message, so
  // the administrators see it among the reports even if it is deleted later.
  std::uint64_t id = next_report_id_++;
  std::int64_t now = clock_->NowMicros();
  std::string reason = "flagged by policy '" + d.plugin + "'" + (d.reason.empty() ? "" : ": " + d.reason);
  flatbuffers::FlatBufferBuilder fbb;
  auto message = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  fbb.Finish(store::CreateReportRecord(fbb, id, now, 0, fbb.CreateString(reason), c.id.value(), seq,
                                       message));
  Batch().writes.records.push_back(
      {RecordKind::kReport, store_keys::U64Key(id),
       std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize())});
  audit_.Append(ActorOf(s), "message.flagged", "conversation:" + std::to_string(c.id.value()),
                JsonObject().Add("seq", seq).Add("policy", d.plugin).Add("reason", d.reason)
                    .Add("report", id).str(),
                &Batch().writes);
}

// ------------------------------------------------------------------ retention runs

void Broker::HandleAdminRetentionRun(Session& s, std::uint64_t rid, const wire::AdminRetentionRun& r) {
  Status allowed = RequireAdmin(s, "run retention");
  if (!allowed.ok()) return ReplyError(s, rid, allowed);
  if (retention_ != nullptr) {
    return ReplyError(s, rid, Status::FailedPrecondition(
                                  std::string("a retention run (") +
                                  (retention_->dry_run ? "dry run, " : "") + "started by " +
                                  retention_->trigger + ") is in progress; try again when it ends"));
  }
  StartRetention(ActorOf(s), r.dry_run(), "request");
  retention_->waiting.emplace_back(s.connection, rid);
}

void Broker::StartRetention(const AuditActor& actor, bool dry_run, std::string trigger) {
  auto run = std::make_unique<RetentionInFlight>();
  run->dry_run = dry_run;
  run->actor = actor;
  run->trigger = std::move(trigger);
  run->started_at_us = clock_->NowMicros();
  std::vector<ConversationSnapshot> snapshot;
  snapshot.reserve(conversations_.size());
  conversations_.ForEach([&](const Conversation& c) {
    if (c.committed_seq == 0) return;
    snapshot.push_back({c.id, c.kind, c.name, c.committed_seq, MemberIds(c)});
  });
  std::sort(snapshot.begin(), snapshot.end(),
            [](const ConversationSnapshot& a, const ConversationSnapshot& b) { return a.id < b.id; });
  if (!dry_run) {
    // Tombstones name the run by this entry.
    run->run_audit_seq = audit_.Append(actor, "retention.start", "retention",
                                       JsonObject().Add("trigger", run->trigger)
                                           .Add("conversations", static_cast<std::uint64_t>(snapshot.size()))
                                           .str(),
                                       &Batch().writes);
  }
  RetentionRun::Options options;
  options.dry_run = dry_run;
  options.now_us = run->started_at_us;
  options.batch_messages = std::max<std::uint32_t>(1, retention_options_.batch_messages);
  PluginSet* plugins = plugins_ != nullptr ? plugins_ : &no_plugins_;
  run->plugin_failures_at_start = RetentionPluginFailures(*plugins);
  run->run = std::make_unique<RetentionRun>(
      store_, plugins, std::move(snapshot), holds_.Snapshot(), options,
      [this](std::vector<RetentionAction> actions) { return PostRetentionChunk(std::move(actions)); });
  retention_cancel_.store(false);
  RetentionInFlight* r = run.get();
  retention_ = std::move(run);
  LOG_INFO() << "retention " << (dry_run ? "dry run" : "run") << " started (" << r->trigger << ")";
  r->thread = std::thread([this, r] {
    // Live traffic first: the run takes what CPU time is left over.
    LowerCurrentThreadPriority();
    Status st = r->run->Run(retention_cancel_);
    if (st.ok() && !r->dry_run && r->run->counts().deleted > 0 && !retention_cancel_.load()) {
      // Removed messages leave the files, not only the index.
      Status compacted = store_->CompactMessages();
      if (!compacted.ok()) LOG_WARNING() << "compacting after retention failed: " << compacted;
    }
    r->status = st;
    r->finished.store(true);
    if (waker_ != nullptr) waker_->Wake();
  });
}

std::optional<std::uint64_t> Broker::PostRetentionChunk(std::vector<RetentionAction> actions) {
  // While the store is behind with its compactions, more removals would make
  // it slow down live writes: wait (a few seconds at most per batch).
  for (int waits = 0; waits < kMaxBacklogWaits && store_->Backlogged(); ++waits) {
    std::unique_lock<std::mutex> lock(retention_mutex_);
    if (retention_cv_.wait_for(lock, kBacklogWait, [&] { return retention_cancel_.load(); })) {
      return std::nullopt;
    }
  }
  auto chunk = std::make_shared<RetentionChunk>();
  chunk->actions = std::move(actions);
  {
    std::lock_guard<std::mutex> lock(retention_mutex_);
    if (retention_cancel_.load()) return std::nullopt;
    retention_chunks_.push_back(chunk);
  }
  if (waker_ != nullptr) waker_->Wake();
  const auto posted = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(retention_mutex_);
  retention_cv_.wait(lock, [&] { return chunk->done || retention_cancel_.load(); });
  if (!chunk->done) return std::nullopt;
  // Pace the run: after each batch, leave the store to live traffic for as
  // long as the batch kept it (a run takes at most half of the writer's time).
  const auto took = std::min<std::chrono::steady_clock::duration>(
      std::chrono::steady_clock::now() - posted, kMaxRetentionPause);
  retention_cv_.wait_for(lock, took, [&] { return retention_cancel_.load(); });
  if (retention_cancel_.load()) return std::nullopt;
  return chunk->applied;
}

void Broker::ServeRetention() {
  if (retention_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(retention_mutex_);
    while (!retention_chunks_.empty()) {
      retention_ready_.push_back(std::move(retention_chunks_.front()));
      retention_chunks_.pop_front();
    }
  }
  // The thread finishes only after its last chunk is stored.
  if (retention_->finished.load()) {
    FinishRetention();
    return;
  }
  FeedRetention();
}

void Broker::FeedRetention() {
  if (retention_ == nullptr || pipeline_ == nullptr) return;
  if (retention_ready_.empty()) {
    removals_waiting_since_mono_us_ = 0;
    return;
  }
  const std::shared_ptr<RetentionChunk> chunk = retention_ready_.front();
  if (chunk->failed) {
    // Its thread was told when the failed slice completed: nothing more of it.
    retention_ready_.pop_front();
    return;
  }
  const std::int64_t now = clock_->MonotonicMicros();
  if (removals_waiting_since_mono_us_ == 0) removals_waiting_since_mono_us_ = now;
  const bool starving = now - removals_waiting_since_mono_us_ >= kMaxRemovalWaitUs;
  // Live batches first: a slice goes only to an idle commit thread, and only
  // when nothing else is being filled (it gets a batch of its own); unless
  // removals have waited too long, then it goes right behind the live batch.
  const bool live_waiting = batch_ != nullptr && !batch_->empty();
  const bool busy = pipeline_->Busy();
  if (!starving && (busy || live_waiting)) return;
  if (live_waiting) SubmitBatch();
  removals_waiting_since_mono_us_ = 0;
  const std::size_t remaining = chunk->actions.size() - chunk->next;
  const std::int64_t per_removal_ns = removal_write_ns_ > 0 ? removal_write_ns_ : kFirstRemovalWriteNs;
  const std::size_t slice = std::max<std::size_t>(
      kMinRemovalSlice,
      static_cast<std::size_t>(kRemovalSliceUs * 1000 / std::max<std::int64_t>(1, per_removal_ns)));
  const std::size_t begin = chunk->next;
  chunk->next = begin + std::min(slice, remaining);
  if (chunk->next == chunk->actions.size()) retention_ready_.pop_front();
  // Only a slice written by an idle commit thread measures the write time:
  // one queued behind a live batch also waits for that batch.
  ApplyRetentionSlice(chunk, begin, chunk->next, /*timed=*/!busy && !live_waiting);
  SubmitBatch();
}

void Broker::ApplyRetentionSlice(const std::shared_ptr<RetentionChunk>& chunk, std::size_t begin,
                                 std::size_t end, bool timed) {
  // A hold placed since the run started still protects: check again.
  HoldSnapshot holds = holds_.Snapshot();
  CommitBatch& batch = Batch();
  std::int64_t now = clock_->NowMicros();
  std::uint64_t applied = 0;
  std::uint64_t deleted = 0;
  std::uint64_t stripped = 0;
  std::map<std::string, RetentionPolicyCounters::Counts> by_policy;
  const Conversation* c = nullptr;  // actions come grouped by conversation
  std::vector<UserId> members;
  for (std::size_t i = begin; i < end; ++i) {
    RetentionAction& a = chunk->actions[i];
    if (c == nullptr || c->id != a.conversation) {
      c = conversations_.Find(a.conversation);
      if (c == nullptr) continue;
      members = MemberIds(*c);
    }
    bool strip = a.verdict == CHATPRO_RETAIN_STRIP_ATTACHMENTS;
    if (holds.Covers(c->id, a.sender, members)) {
      ++(strip ? retention_->late_held_stripped : retention_->late_held_deleted);
      continue;
    }
    flatbuffers::FlatBufferBuilder fbb;
    auto hash = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(a.content_hash.data()),
                                 a.content_hash.size());
    fbb.Finish(store::CreateTombstoneRecord(fbb, c->id.value(), a.seq, a.sender.value(),
                                            a.sent_at_us, a.content_kind, hash,
                                            fbb.CreateString(a.policy), now,
                                            retention_->run_audit_seq));
    batch.writes.records.push_back(
        {RecordKind::kTombstone, TombstoneKey(c->id, a.seq, strip ? 's' : 'd'),
         std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize())});
    if (strip) {
      batch_bytes_ += a.stripped.size();
      batch.writes.messages.push_back({c->id, a.seq, std::move(a.stripped), true});
      batch.received_mono_us.push_back(0);
      ++stripped;
      ++by_policy[a.policy].stripped;
    } else {
      batch.writes.message_deletes.push_back({c->id, a.seq});
      ++deleted;
      ++by_policy[a.policy].deleted;
    }
    ++applied;
  }
  ++chunk->slices_in_flight;
  const std::size_t actions = end - begin;
  // The callback runs from Complete() on this very batch, which holds it.
  const CommitBatch* slice_batch = &batch;
  batch.on_commit.push_back([this, chunk, slice_batch, timed, actions, applied, deleted, stripped,
                             by_policy = std::move(by_policy)](const Status& st) {
    --chunk->slices_in_flight;
    if (st.ok()) {
      stats_.retention_removed.fetch_add(deleted, std::memory_order_relaxed);
      stats_.retention_stripped.fetch_add(stripped, std::memory_order_relaxed);
      for (const auto& [policy, n] : by_policy) {
        stats_.retention_by_policy.Add(policy, n.deleted, n.stripped);
      }
      chunk->applied_so_far += applied;
    } else {
      LOG_ERROR() << "retention could not write a batch: " << st;
      chunk->failed = true;
    }
    if (st.ok() && timed && actions > 0 &&
        slice_batch->written_mono_us > slice_batch->submitted_mono_us) {
      // Sizes the next slice: the time per removal, smoothed over slices.
      const std::int64_t ns = (slice_batch->written_mono_us - slice_batch->submitted_mono_us) *
                              1000 / static_cast<std::int64_t>(actions);
      removal_write_ns_ = removal_write_ns_ == 0 ? ns : (3 * removal_write_ns_ + ns) / 4;
    }
    if (chunk->slices_in_flight > 0 || (chunk->next < chunk->actions.size() && !chunk->failed)) {
      return;
    }
    {
      std::lock_guard<std::mutex> lock(retention_mutex_);
      chunk->done = true;
      if (!chunk->failed) chunk->applied = chunk->applied_so_far;
    }
    retention_cv_.notify_all();
  });
}

void Broker::FinishRetention() {
  std::unique_ptr<RetentionInFlight> run = std::move(retention_);
  if (run->thread.joinable()) run->thread.join();
  RetentionCounts counts = run->run->counts();
  // What a hold placed during the run kept is protected, not removed.
  std::uint64_t late = run->late_held_deleted + run->late_held_stripped;
  counts.deleted -= std::min(counts.deleted, run->late_held_deleted);
  counts.stripped -= std::min(counts.stripped, run->late_held_stripped);
  counts.held_protected += late;
  std::int64_t finished = clock_->NowMicros();
  stats_.retention_runs.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t plugin_failures =
      RetentionPluginFailures(plugins_ != nullptr ? *plugins_ : no_plugins_) -
      run->plugin_failures_at_start;
  stats_.retention_plugin_failures.fetch_add(plugin_failures, std::memory_order_relaxed);
  if (!run->status.ok() || plugin_failures > 0) {
    stats_.retention_failures.fetch_add(1, std::memory_order_relaxed);
  } else if (!run->dry_run) {
    stats_.retention_last_success_us.store(finished, std::memory_order_relaxed);
  }

  JsonObject details;
  details.Add("trigger", run->trigger)
      .Add("dry_run", run->dry_run)
      .Add("examined", counts.examined)
      .Add(run->dry_run ? "would_delete" : "deleted", counts.deleted)
      .Add(run->dry_run ? "would_strip" : "stripped", counts.stripped)
      .Add("attachment_bytes", counts.attachment_bytes)
      .Add("conversations", counts.conversations)
      .Add("held_protected", counts.held_protected)
      .Add("duration_ms", (finished - run->started_at_us) / 1000);
  std::string policies = "{";
  for (const auto& [name, n] : counts.by_policy) {
    if (policies.size() > 1) policies += ",";
    policies += JsonQuote(name) + ":" + JsonObject().Add("deleted", n.first).Add("stripped", n.second).str();
  }
  policies += "}";
  details.AddRaw("policies", policies);
  if (!run->status.ok()) details.Add("error", run->status.message());
  audit_.Append(run->actor, run->dry_run ? "retention.dry_run" : "retention.run", "retention",
                details.str(), &Batch().writes);
  LOG_INFO() << "retention " << (run->dry_run ? "dry run" : "run") << " finished: examined "
             << counts.examined << ", " << (run->dry_run ? "would delete " : "deleted ")
             << counts.deleted << ", " << (run->dry_run ? "would strip " : "stripped ")
             << counts.stripped << ", kept by holds " << counts.held_protected
             << (run->status.ok() ? std::string() : ", stopped: " + run->status.ToString());

  for (const auto& [connection, waiting_rid] : run->waiting) {
    // A named copy: C++17 lambdas cannot capture a structured binding (clang
    // refuses it; gcc accepts it as an extension).
    std::uint64_t rid = waiting_rid;
    Status status = run->status;
    bool dry = run->dry_run;
    std::int64_t started = run->started_at_us;
    AfterCommit(connection, rid, [=](Session& session) {
      if (!status.ok()) return ReplyError(session, rid, status);
      auto& fbb = session.replies.builder();
      std::vector<flatbuffers::Offset<wire::PolicyCount>> per_policy;
      for (const auto& [name, n] : counts.by_policy) {
        per_policy.push_back(wire::CreatePolicyCount(fbb, fbb.CreateString(name), n.first, n.second));
      }
      auto body = wire::CreateRetentionReport(fbb, dry, started, finished, counts.examined,
                                              counts.deleted, counts.stripped,
                                              counts.attachment_bytes, counts.conversations,
                                              counts.held_protected, fbb.CreateVector(per_policy));
      session.replies.AddEnvelope(rid, wire::Body::RetentionReport, body.Union());
    });
  }
}

void Broker::StopRetention() {
  if (retention_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(retention_mutex_);
    retention_cancel_.store(true);
    retention_chunks_.clear();
  }
  retention_ready_.clear();
  retention_cv_.notify_all();
  if (retention_->thread.joinable()) retention_->thread.join();
  for (const auto& [connection, rid] : retention_->waiting) {
    auto it = sessions_.find(connection);
    if (it == sessions_.end()) continue;
    ReplyError(*it->second, rid, Status::Unavailable("the broker is stopping; the retention run ended early"));
  }
  audit_.Append(retention_->actor, "retention.stopped", "retention",
                JsonObject().Add("dry_run", retention_->dry_run)
                    .Add("examined", retention_->run->counts().examined).str(),
                &Batch().writes);
  retention_.reset();
}

void Broker::MaybeScheduleRetention() {
  if (retention_ != nullptr || plugins_ == nullptr || !plugins_->has_retention_hooks()) return;
  std::int64_t now = clock_->MonotonicMicros();
  if (next_retention_mono_us_ == 0) {
    // The first run comes one interval after start, not during start-up.
    next_retention_mono_us_ = now + retention_options_.interval_us;
  }
  if (free_bytes_ && retention_options_.low_disk_free_bytes > 0 && now >= next_disk_check_mono_us_) {
    next_disk_check_mono_us_ = now + kDiskCheckIntervalUs;
    std::uint64_t free = free_bytes_();
    if (free < retention_options_.low_disk_free_bytes) {
      LOG_WARNING() << "the data directory has " << free / (1u << 20)
                    << " MiB free; running retention now";
      next_disk_check_mono_us_ = now + kLowDiskRetryUs;
      StartRetention(AuditActor{}, false, "low disk");
      return;
    }
  }
  if (retention_options_.interval_us > 0 && now >= next_retention_mono_us_) {
    next_retention_mono_us_ = now + retention_options_.interval_us;
    StartRetention(AuditActor{}, false, "timer");
  }
}

}  // namespace chatpro::core
