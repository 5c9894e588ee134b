// SPDX-License-Identifier: Apache-2.0
//
// Broker: the messaging core. It authenticates devices (answering the
// transport's ZAP questions), decodes and validates frames, applies every rule
// (identity, membership, limits, ordering, exactly-one-effect sends), hands
// writes to the group-commit pipeline, and after each commit acknowledges
// senders and delivers to every online device of every member. Devices that
// were offline or fell behind catch up from the store, paced by their acks.
//
// Lifecycle: construct; Open() (loads state from the store); optionally
// CreateBootstrapInvite(); Start(transport, waker); then the transport's event
// loop calls Authenticate/OnFrame/OnWake/OnTick/Flush; Stop() writes what is
// pending and stops the pipeline.
//
// Thread-safety: everything except stats() runs on the event-loop thread.
// stats() may be read from any thread.
#pragma once

#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <functional>
#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/base/clock.h"
#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/config/options.h"
#include "broker/core/audit_log.h"
#include "broker/core/backup.h"
#include "broker/core/case_export.h"
#include "broker/core/client_ids.h"
#include "broker/core/commit_pipeline.h"
#include "broker/core/conversations.h"
#include "broker/core/directory.h"
#include "broker/core/frame_writer.h"
#include "broker/core/holds.h"
#include "broker/core/plugin_set.h"
#include "broker/core/retention.h"
#include "broker/core/latency_histogram.h"
#include "broker/core/message_store.h"
#include "broker/core/transport.h"
#include "broker/core/work_schedules.h"

namespace chatpro::core {

// The broker's own identity, written into invites.
struct ServerIdentity {
  std::string public_key;      // 32-byte CURVE public key
  std::string public_address;  // HOST:PORT clients reach
};

// Messages removed by retention, by the name of the policy (plugin) that
// removed them. Names come from the loaded plugins, so there are few.
// Thread-safety: Add() on the event loop, Snapshot() from any thread.
class RetentionPolicyCounters {
 public:
  struct Counts {
    std::uint64_t deleted = 0;
    std::uint64_t stripped = 0;  // attachments stripped
  };
  void Add(const std::string& policy, std::uint64_t deleted, std::uint64_t stripped) {
    std::lock_guard<std::mutex> lock(mutex_);
    Counts& c = counts_[policy];
    c.deleted += deleted;
    c.stripped += stripped;
  }
  std::map<std::string, Counts> Snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return counts_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Counts> counts_;  // GUARDED_BY(mutex_)
};

// Counters for monitoring; monotonic unless named as a gauge.
struct BrokerStats {
  std::atomic<std::uint64_t> frames_received{0};
  // By content: text, voice, picture, edit, deletion.
  std::atomic<std::uint64_t> messages_accepted[5] = {};
  std::atomic<std::uint64_t> messages_duplicate{0};
  std::atomic<std::uint64_t> deliveries_live{0};
  std::atomic<std::uint64_t> deliveries_catch_up{0};
  // The same deliveries by content kind (indexes as messages_accepted).
  std::atomic<std::uint64_t> delivered_live[5] = {};
  std::atomic<std::uint64_t> delivered_catch_up[5] = {};
  // Gauge: messages waiting for devices that are not connected (for each
  // active device without a session, the messages of its conversations past
  // its acknowledged cursor), recomputed about every 15 s on the event loop.
  std::atomic<std::uint64_t> offline_backlog{0};
  std::atomic<std::uint64_t> errors[11] = {};  // by StatusCode
  // Counted by front ends inside the broker process (the web admin console),
  // which hold the stats only as const: errors they answer themselves before
  // a request reaches the core (by StatusCode; chatpro_errors_total adds them
  // in), and console sign-ins by result (0 ok, 1 refused, 2 locked out).
  mutable std::atomic<std::uint64_t> front_end_errors[11] = {};
  mutable std::atomic<std::uint64_t> console_logins[3] = {};
  std::atomic<std::uint64_t> auth_refused{0};
  std::atomic<std::uint64_t> rate_limited{0};          // sends refused by a device's rate limit
  std::atomic<std::uint64_t> connections_refused{0};   // handshakes refused by an address limit
  std::atomic<std::uint64_t> devices_revoked{0};
  std::atomic<std::uint64_t> messages_rejected_by_policy{0};
  std::atomic<std::uint64_t> messages_flagged{0};
  std::atomic<std::uint64_t> retention_runs{0};
  std::atomic<std::uint64_t> retention_removed{0};   // messages deleted by retention
  std::atomic<std::uint64_t> retention_stripped{0};  // attachments stripped by retention
  // Retention runs that ended with an error or in which a policy plugin
  // failed a decision, and the wall-clock time (us since the epoch) the last
  // run that removed for real ended without either (0: none yet).
  std::atomic<std::uint64_t> retention_failures{0};
  std::atomic<std::int64_t> retention_last_success_us{0};
  // Retention decisions a plugin failed to make (the message was kept); a run
  // with any also counts in retention_failures.
  std::atomic<std::uint64_t> retention_plugin_failures{0};
  RetentionPolicyCounters retention_by_policy;
  std::atomic<std::uint64_t> slow_consumers_cut{0};
  std::atomic<std::uint64_t> batches_committed{0};
  std::atomic<std::uint64_t> batch_messages_committed{0};
  // Messages per committed write batch, in the power-of-two buckets of a
  // LatencyHistogram (bucket i counts batches of fewer than 2^i messages).
  LatencyHistogram batch_size;
  // Event-loop iterations that ran the timers (OnTick): a value that stops
  // moving means the loop is stuck.
  std::atomic<std::uint64_t> loop_ticks{0};
  // Gauges: sessions open (devices, enrollments, console users), and of
  // those the devices connected and authenticated (not revoked).
  std::atomic<std::int64_t> sessions{0};
  std::atomic<std::int64_t> devices_connected{0};
  // Working hours: messages sent urgent, and (message, off-duty recipient)
  // pairs held until the recipient's working hours start.
  std::atomic<std::uint64_t> urgent_messages{0};
  std::atomic<std::uint64_t> off_duty_held{0};
  // Backups of the store that completed and that failed; when the newest
  // completed one finished (Unix microseconds, 0: none yet; a gauge).
  std::atomic<std::uint64_t> backups_done{0};
  std::atomic<std::uint64_t> backups_failed{0};
  std::atomic<std::int64_t> backup_last_success_us{0};
  // Gauge: 1 while new messages are refused because they cannot be stored
  // (the data directory is below its free-space mark, or store writes fail),
  // and whether that is for lack of space; updated about once a second.
  std::atomic<bool> refusing_messages{false};
  std::atomic<bool> data_dir_full{false};
  // From receiving a Send to acknowledging it (stored), and to pushing it
  // live to a recipient's session.
  LatencyHistogram send_latency;
  LatencyHistogram delivery_latency;
};

class Broker {
 public:
  Broker(const CoreOptions& options, Durability durability, ServerIdentity identity,
         MessageStore* store, const Clock* clock);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Loads users, devices, invites and conversations; marks a new store with
  // its format version and refuses a store of another version. On failure
  // returns FailedPrecondition (version) or the store's error.
  Status Open();

  bool HasUsers() const { return directory_.user_count() > 0; }

  // The plugins (accept and retention hooks); not owned, outlives the broker.
  // Call before Start(). Without plugins nothing is refused, flagged or removed.
  void SetPlugins(PluginSet* plugins) { plugins_ = plugins; }
  // Retention settings and a probe of the free space where the store lives
  // (for runs when the disk runs low). Call before Start().
  void SetRetention(const RetentionOptions& options, std::function<std::uint64_t()> free_bytes) {
    retention_options_ = options;
    free_bytes_ = std::move(free_bytes);
  }
  // Refuses new messages (ResourceExhausted, "data directory full: ...")
  // while `free_bytes` reports less than `min_free_bytes` free where the
  // store lives, probed about once a second; 0 or no probe: never. Refusing
  // before the disk is really full leaves room for what is already on its way
  // to the store, LevelDB's compactions and the other records. Reads and
  // every other request go on. Call before Start().
  void SetMinFreeBytes(std::uint64_t min_free_bytes, std::function<std::uint64_t()> free_bytes) {
    min_free_bytes_ = min_free_bytes;
    space_probe_ = std::move(free_bytes);
  }

  // Working hours (broker_schedule.cc): the organisation's schedule
  // profiles, who may send urgent messages ("role:admin|auditor|user",
  // "user:LOGIN", "profile:NAME") and the time-zone database (not owned;
  // outlives the broker). Call after Open(), before Start() or on the event-loop
  // thread (cached duty states are recomputed). Without it
  // (or without profiles) everyone is always on duty and nobody may send
  // urgent messages. On failure returns InvalidArgument saying what is
  // wrong, and nothing changes.
  Status SetSchedules(std::vector<ScheduleProfile> profiles, std::vector<std::string> urgent_allowed,
                      const ZoneDb* zones);

  // The HOST:PORT written into invites from now on.
  void SetPublicAddress(std::string address) { identity_.public_address = std::move(address); }
  // The web chat's "https://HOST:PORT" (empty: none): invite replies then
  // carry the same invite as a web chat link. Call before Start() or on the
  // event-loop thread.
  void SetWebChatUrl(std::string url) { web_chat_url_ = std::move(url); }
  // The web chat link of `invite` ("URL/#invite=CODE"), or empty without a
  // web chat or for text that is no invite.
  std::string WebLinkFor(std::string_view invite) const;

  // Cases and exports: the approval and embargo periods, where exports go
  // (`options.export_dir`; empty: exports are refused) and how archives are
  // written. Removes what an export cut short by a crash left in the export
  // folder. Call before Start(), or while no export runs.
  void ConfigureCases(const CasesOptions& options, ExportArchiveFactory archives);

  // Backups (broker_backup.cc): where they go, their pace and the key files
  // they hold. Removes what a backup cut short by a crash left in the
  // folder. Call after Open(), before Start(). Without it backups are refused.
  void ConfigureBackups(BackupSetup setup);
  // After Open(): the store's format version and id (store_format.h).
  int store_format() const { return store_format_; }
  const std::string& store_id() const { return store_id_; }

  // Before Start(): makes `admin_login` an admin (creating the user if needed)
  // and returns a fresh invite for a device of theirs, stored synchronously.
  // On failure returns InvalidArgument (bad login), FailedPrecondition (the
  // user exists but is not an admin) or the store's error.
  Result<std::string> CreateBootstrapInvite(std::string_view admin_login);

  void Start(Transport* transport, Waker* waker);
  // Answers what is pending, writes the last batch and stops the pipeline.
  void Stop();

  // ---- event-loop thread ----

  // The ZAP decision for a client key of `kind`: a CURVE key (ZeroMQ's ZAP
  // handler) or an Ed25519 key whose signature the web chat's gateway checked.
  // Invites are CURVE keys (derived from the code), so only a Curve25519 key
  // can be an invite's.
  AuthDecision Authenticate(std::string_view public_key, std::string_view address,
                            KeyKind kind = KeyKind::Curve25519);
  // One frame from `connection`, whose ZAP user-id is `user_id`, from network
  // address `peer_address`.
  void OnFrame(ConnectionId connection, std::string_view user_id, std::string_view peer_address,
               const std::uint8_t* data, std::size_t size);
  // Input the transport dropped without passing it on (e.g. a message on the
  // in-process route from a principal that may not use it): counted in
  // stats().errors like a refused request.
  void CountDroppedInput(StatusCode code) { CountError(code); }
  // The commit pipeline finished batches.
  void OnWake();
  // Timers: session timeouts, paced catch-up. Call about every 100 ms.
  void OnTick();
  // End of an event-loop iteration: submit the batch being filled, send the
  // frames built for each connection.
  void Flush();
  // False while the pipeline is saturated: the loop should stop reading
  // frames until OnWake().
  bool WantsInput() const;

  // True when nothing is waiting to be written or answered: no batch being
  // filled, none in the pipeline, no retention removals waiting for it. For
  // tests and orderly shutdown.
  bool Idle() const {
    return (batch_ == nullptr || batch_->empty()) && dirty_cursors_.empty() &&
           retention_ready_.empty() && (pipeline_ == nullptr || !pipeline_->Busy());
  }

  const BrokerStats& stats() const { return stats_; }
  bool retention_running() const { return retention_ != nullptr; }

  // ---- the admin service (event-loop thread) ----
  //
  // Administrative operations for every front end: the wire protocol's
  // requests and the admin console call the same functions, so the rules exist
  // once. `actor` is who asks; each operation checks the actor's role, records
  // itself in the audit log, and calls `done` once its changes are stored (or
  // at once with the reason it was refused: PermissionDenied, NotFound,
  // FailedPrecondition).
  struct OffboardingResult {
    std::string login;
    std::int64_t asked_at_us = 0;
    std::uint32_t devices_revoked = 0;
    std::uint32_t sessions_closed = 0;  // live sessions cut
    std::int64_t last_session_closed_at_us = 0;
    std::uint32_t invites_cancelled = 0;
  };
  struct InviteResult {
    std::string login;
    std::string invite;
    std::int64_t expires_at_us = 0;
    std::string web_link;  // WebLinkFor(invite)
  };
  // Offboards a leaver: deactivated, every device revoked and told to wipe,
  // sessions cut, invites cancelled, owned groups handed on.
  void DeactivateUser(const AuditActor& actor, std::string_view login,
                      std::function<void(Result<OffboardingResult>)> done);
  // Lets a deactivated user back in; the result holds a fresh invite.
  void ReactivateUser(const AuditActor& actor, std::string_view login,
                      std::function<void(Result<InviteResult>)> done);
  std::size_t session_count() const { return sessions_.size(); }

 private:
  struct ConvCursor {
    Seq acked = 0;  // the session processed everything up to here
    Seq sent = 0;   // pushed up to here
    std::deque<std::pair<Seq, std::uint32_t>> in_flight;  // (seq, bytes) pushed, not acked
  };
  struct Session {
    ConnectionId connection = 0;
    DeviceId device;  // invalid for an enrollment session
    UserId user;
    std::string enrollment_key;  // set for an enrollment session
    // A web console session of `user` ("c:<user id>", in-process): no device,
    // no deliveries, no events; requests are checked as from the user's device.
    bool console = false;
    // The console service itself ("s:console"): only the console's requests.
    bool console_service = false;
    std::string address;         // the peer's network address
    bool receive = true;
    // Revoked: the device was revoked while connected. The session then only
    // waits for ConfirmWipe (or a timeout) and takes nothing else.
    bool revoked = false;
    std::int64_t revoked_mono_us = 0;
    // Counted in BrokerStats::devices_connected (until it closes).
    bool counted_device = false;
    bool drop_after_send = false;
    std::int64_t last_seen_mono_us = 0;
    std::int64_t last_seen_us = 0;
    std::unordered_map<ConversationId, ConvCursor> cursors;
    std::uint32_t in_flight_messages = 0;
    std::uint64_t in_flight_bytes = 0;
    // Where each conversation's cursor stood before the deliveries now in
    // `deliveries` were added: a frame the pipe refuses is taken back to
    // there, and only that frame (what went out before is queued for the
    // device and stays in its window).
    std::vector<std::pair<ConversationId, Seq>> frame_starts;
    // The live stream was cut (a full pipe, or a full window without an ack
    // for slow_consumer_timeout); counted once, until the device acks again.
    bool cut = false;
    std::int64_t window_full_since_mono_us = 0;  // 0: the window is open
    bool needs_pump = false;
    std::int64_t pump_not_before_mono_us = 0;
    bool dirty = false;  // has frames to send
    FrameWriter replies;
    FrameWriter deliveries;
    std::deque<flatbuffers::DetachedBuffer> unsent_replies;  // replies a full pipe refused
  };
  struct DeviceCursors {
    std::unordered_map<ConversationId, Seq> acked;
    int sessions = 0;
  };
  // A device's send rate: token buckets refilled continuously.
  struct RateBucket {
    double messages = 0;
    double bytes = 0;
    std::int64_t refilled_mono_us = 0;
  };
  // Refused handshakes from one address.
  struct AuthFailures {
    std::uint32_t in_window = 0;
    std::int64_t window_start_mono_us = 0;
    std::int64_t locked_until_mono_us = 0;
    std::int64_t last_audit_mono_us = 0;
    std::uint64_t unaudited = 0;
    std::int64_t last_reap_mono_us = 0;  // ReapGoneSessions, at most once a second
  };
  // An offboarding in progress: waiting for wipe confirmations.
  struct Offboarding {
    UserId user;
    AuditActor actor;
    std::string target;  // "user:ana" or "device:7"
    std::int64_t asked_at_us = 0;
    std::int64_t last_session_closed_at_us = 0;
    std::vector<DeviceId> devices;
    std::vector<std::pair<DeviceId, std::int64_t>> confirmed;
    std::vector<DeviceId> awaiting;
    std::int64_t deadline_mono_us = 0;
  };

  // Sessions.
  Session* SessionFor(ConnectionId connection, std::string_view user_id,
                      std::string_view peer_address);
  void DropSession(ConnectionId connection, bool tell_transport);
  // Stops delivering to `s` (it leaves the user's online sessions).
  void DetachOnline(Session& s);
  void MarkDirty(Session& s);

  // Requests.
  void Dispatch(Session& s, const wire::Envelope& e);
  void HandleHello(Session& s, std::uint64_t rid, const wire::Hello& r);
  void HandleSend(Session& s, std::uint64_t rid, const wire::Send& r);
  void HandleAck(Session& s, const wire::Ack& r);
  void HandleHistory(Session& s, std::uint64_t rid, const wire::History& r);
  void HandleOpenDirect(Session& s, std::uint64_t rid, const wire::OpenDirect& r);
  void HandleCreateGroup(Session& s, std::uint64_t rid, const wire::CreateGroup& r);
  void HandleAddMembers(Session& s, std::uint64_t rid, const wire::AddMembers& r);
  void HandleRemoveMember(Session& s, std::uint64_t rid, const wire::RemoveMember& r);
  void HandleLeaveGroup(Session& s, std::uint64_t rid, const wire::LeaveGroup& r);
  void HandleListConversations(Session& s, std::uint64_t rid);
  void HandleEnroll(Session& s, std::uint64_t rid, const wire::Enroll& r);
  void HandleCreateInvite(Session& s, std::uint64_t rid, const wire::CreateInvite& r);
  void HandleDirectory(Session& s, std::uint64_t rid);
  void HandleAdminAddUser(Session& s, std::uint64_t rid, const wire::AdminAddUser& r);
  void HandleAdminListUsers(Session& s, std::uint64_t rid);
  // Every group with its members and owners (broker_admin.cc).
  void HandleAdminListGroups(Session& s, std::uint64_t rid);
  void HandleAdminDeactivateUser(Session& s, std::uint64_t rid, const wire::AdminDeactivateUser& r);
  void HandleAdminReactivateUser(Session& s, std::uint64_t rid, const wire::AdminReactivateUser& r);
  void HandleListDevices(Session& s, std::uint64_t rid, const wire::ListDevices& r);
  void HandleRevokeDevice(Session& s, std::uint64_t rid, const wire::RevokeDevice& r);
  void HandleConfirmWipe(Session& s, std::uint64_t rid);
  void HandleBlock(Session& s, std::uint64_t rid, const flatbuffers::String* login, bool block);
  void HandleListBlocked(Session& s, std::uint64_t rid);
  void HandleReport(Session& s, std::uint64_t rid, const wire::Report& r);
  void HandleAdminListReports(Session& s, std::uint64_t rid);
  void HandleAdminListAudit(Session& s, std::uint64_t rid, const wire::AdminListAudit& r);
  void HandleAdminVerifyAudit(Session& s, std::uint64_t rid);
  // Records management (broker_retention.cc): holds, retention, plugins.
  void HandleAdminSetHold(Session& s, std::uint64_t rid, const wire::AdminSetHold& r);
  void HandleAdminLiftHold(Session& s, std::uint64_t rid, const wire::AdminLiftHold& r);
  void HandleAdminListHolds(Session& s, std::uint64_t rid, const wire::AdminListHolds& r);
  void HandleAdminRetentionRun(Session& s, std::uint64_t rid, const wire::AdminRetentionRun& r);
  void HandleAdminListPlugins(Session& s, std::uint64_t rid);
  // Cases and exports (broker_cases.cc): four eyes on people's messages.
  void HandleCaseOpen(Session& s, std::uint64_t rid, const wire::CaseOpen& r);
  void HandleCaseApprove(Session& s, std::uint64_t rid, const wire::CaseApprove& r);
  void HandleCaseList(Session& s, std::uint64_t rid);
  void HandleExportStart(Session& s, std::uint64_t rid, const wire::ExportStart& r);
  void HandleExportStatus(Session& s, std::uint64_t rid, const wire::ExportStatus& r);
  void HandleExportDownload(Session& s, std::uint64_t rid, const wire::ExportDownload& r);
  void HandleMyDataAccess(Session& s, std::uint64_t rid);

  // The web admin console (broker_console.cc).
  // Requests of a console user's session ("c:"): refuses an unknown or
  // inactive user and requests only a device can make, then dispatches as
  // for a device.
  void DispatchConsole(Session& s, const wire::Envelope& e);
  // Requests of the console service ("s:console").
  void DispatchConsoleService(Session& s, const wire::Envelope& e);
  void HandleAdminSetConsolePassword(Session& s, std::uint64_t rid,
                                     const wire::AdminSetConsolePassword& r);
  void HandleConsoleCredentials(Session& s, std::uint64_t rid, const wire::ConsoleCredentials& r);
  void HandleConsoleAudit(Session& s, std::uint64_t rid, const wire::ConsoleAudit& r);
  // Dispatch's requests common to device and console sessions.
  void DispatchUser(Session& s, const wire::Envelope& e);

  // Roles. Each returns PermissionDenied naming what the caller may not do.
  Status RequireAdmin(const Session& s, std::string_view what) const;
  Status RequireAdminOrAuditor(const Session& s, std::string_view what) const;
  Status RequireAdminActor(const AuditActor& actor, std::string_view what) const;
  AuditActor ActorOf(const Session& s) const;
  void Audit(const Session& s, std::string_view action, std::string_view target,
             std::string details);

  // Revocation: tells every session of `devices` it is revoked, stops serving
  // it and tracks its wipe confirmation. Returns how many sessions were cut.
  std::uint32_t RevokeSessions(const std::vector<DeviceId>& devices, std::string_view reason,
                               Offboarding* offboarding);
  void FinishOffboardings(bool all);
  // A device's rate limit; OK or ResourceExhausted.
  Status ChargeRate(const Session& s, std::uint64_t bytes);
  // PermissionDenied if either of the two blocked the other.
  Status CheckNotBlocked(UserId sender, UserId recipient) const;
  bool IsActiveUser(UserId user) const {
    const User* u = directory_.FindUser(user);
    return u != nullptr && u->active;
  }
  void NoteAuthFailure(std::string_view address, std::string_view reason, bool unknown_key);
  // Drops the sessions from `address` whose peer has gone without a word (a
  // phone that lost its network, a client killed): the transport only learns
  // it when something is sent, and until then they count towards the
  // address's connection limit. Probes with an empty frame, at most once a
  // second per address.
  void ReapGoneSessions(const std::string& address);

  void ReplyError(Session& s, std::uint64_t rid, const Status& status);
  // Runs `reply` for the session of `connection` once everything filled so
  // far is stored; on a failed write answers with the error instead.
  void AfterCommit(ConnectionId connection, std::uint64_t rid,
                   std::function<void(Session&)> reply);
  void CountError(StatusCode code);
  std::uint64_t MaxFrameBytes() const {
    return options_.max_frame_bytes != 0 ? options_.max_frame_bytes
                                         : options_.max_attachment_bytes + (1u << 20);
  }

  // Conversation helpers.
  Result<Conversation*> ResolveTarget(const Session& s, std::uint64_t conversation_id,
                                      const flatbuffers::String* to_user, bool create_direct);
  Conversation* OpenDirectWith(UserId self, UserId other);
  flatbuffers::Offset<wire::ConversationInfo> BuildInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                        const Conversation& c, UserId viewer) const;
  // Tells every receiving session of `user` about `c` after the current batch
  // is stored; drops their cursors if `user` is no longer a member.
  void NotifyMembership(ConversationId c, UserId user);
  Result<std::vector<UserId>> ResolveLogins(const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* logins);
  Status CheckContent(const wire::Send& r) const;
  static std::uint64_t ContentBytes(const wire::Send& r);
  // An edit or deletion: the target exists, is the caller's, and is not itself
  // an edit or deletion (and, for an edit, is a text).
  Status CheckAmendment(const Session& s, const Conversation& c, const wire::Send& r);
  std::string BuildMessage(const Conversation& c, Seq seq, const Session& s, ClientMsgId id,
                           std::int64_t now_us, const wire::Send& r);
  Result<std::string> MakeInvite(UserId user);

  // Delivery.
  ConvCursor* CursorFor(Session& s, const Conversation& c);
  bool WindowOpen(const Session& s) const;
  void Push(Session& s, ConversationId conversation, ConvCursor& cursor, Seq seq,
            std::string_view bytes);
  void FanOut(const Conversation& c, Seq seq, std::string_view bytes);
  void Pump(Session& s);
  void Rewind(Session& s);
  // Counts and logs a cut of the session's live stream, once per episode.
  void CutLiveStream(Session& s, std::string_view why);
  // Sends the session's pending deliveries; false if the session was dropped.
  bool SendDeliveries(Session& s);
  void SendReplies(Session& s);
  void LoadDeviceCursors(Session& s);

  // Commits.
  CommitBatch& Batch();
  // The batch being filled, numbered and complete with its records; nullptr if empty.
  std::unique_ptr<CommitBatch> TakeBatch();
  void SubmitBatch();
  // Writes the batch being filled on this thread and answers it at once.
  void CommitInline();
  void Complete(CommitBatch& batch);

  const CoreOptions options_;
  const Durability durability_;
  ServerIdentity identity_;
  std::string web_chat_url_;  // "https://HOST:PORT" browsers reach (empty: no web chat)
  MessageStore* const store_;
  const Clock* const clock_;
  Transport* transport_ = nullptr;

  Directory directory_;
  ConversationTable conversations_;
  ClientIdIndex client_ids_;
  AuditLog audit_;
  std::unique_ptr<CommitPipeline> pipeline_;
  std::unique_ptr<CommitBatch> batch_;
  std::uint64_t next_batch_number_ = 1;
  std::uint64_t batch_bytes_ = 0;
  std::map<std::pair<DeviceId, ConversationId>, Seq> dirty_cursors_;
  std::int64_t cursors_dirty_since_mono_us_ = 0;

  std::unordered_map<ConnectionId, std::unique_ptr<Session>> sessions_;
  std::unordered_map<UserId, std::vector<Session*>> online_;
  std::unordered_map<DeviceId, DeviceCursors> device_cursors_;
  std::unordered_map<DeviceId, RateBucket> rates_;
  std::unordered_map<std::string, std::uint32_t> sessions_per_address_;
  std::unordered_map<std::string, AuthFailures> auth_failures_;
  std::vector<Offboarding> offboardings_;

  // Records management (broker_retention.cc).
  // A chunk of removals the retention thread proposes; the loop applies it
  // in slices, each a write of its own in the commit thread's idle time, and
  // marks it done once every slice is stored (applied: how many; nullopt if a
  // write failed). Shared: the commit callbacks may outlive the run.
  struct RetentionChunk {
    std::vector<RetentionAction> actions;
    bool done = false;                     // GUARDED_BY(retention_mutex_)
    std::optional<std::uint64_t> applied;  // GUARDED_BY(retention_mutex_)
    // Loop thread only.
    std::size_t next = 0;                // the first action not yet in a slice
    std::size_t slices_in_flight = 0;    // submitted, not yet completed
    std::uint64_t applied_so_far = 0;    // by the slices stored so far
    bool failed = false;                 // a slice's write failed
  };
  struct RetentionInFlight {
    std::unique_ptr<RetentionRun> run;
    bool dry_run = true;
    AuditActor actor;
    std::string trigger;  // "request", "timer", "low disk"
    std::uint64_t plugin_failures_at_start = 0;  // sum of the plugins' retention_failures
    std::int64_t started_at_us = 0;
    std::uint64_t run_audit_seq = 0;  // the entry tombstones refer to
    std::uint64_t late_held_deleted = 0;   // proposals a hold placed meanwhile kept
    std::uint64_t late_held_stripped = 0;
    std::vector<std::pair<ConnectionId, std::uint64_t>> waiting;  // requesters to answer
    std::thread thread;
    std::atomic<bool> finished{false};
    Status status;  // of Run(), set by the thread before `finished`
  };
  flatbuffers::Offset<wire::HoldInfo> BuildHoldInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                     const Hold& hold) const;
  void StartRetention(const AuditActor& actor, bool dry_run, std::string trigger);
  // Event loop: applies posted chunks and finishes a run whose thread ended.
  void ServeRetention();
  // Writes the next slice of removals as a batch of its own if the commit
  // thread is idle and no live batch waits, or behind the live batch if
  // removals have waited for that too long (called by Flush after the live
  // batch is handed on).
  void FeedRetention();
  // Puts the actions [begin, end) of `chunk` into the batch being filled;
  // with `timed`, its write time sizes the next slices.
  void ApplyRetentionSlice(const std::shared_ptr<RetentionChunk>& chunk, std::size_t begin,
                           std::size_t end, bool timed);
  void FinishRetention();
  void StopRetention();
  // Retention thread: hands a chunk to the loop and waits until it is stored.
  std::optional<std::uint64_t> PostRetentionChunk(std::vector<RetentionAction> actions);
  // The timer and the low-disk check (from OnTick).
  void MaybeScheduleRetention();
  // Recomputes stats_.offline_backlog (from OnTick, every kBacklogIntervalUs).
  void UpdateOfflineBacklog();
  std::int64_t next_backlog_mono_us_ = 0;
  // The acknowledged cursors of devices without a session (they change only
  // through a session's acks): read from the store by the first
  // UpdateOfflineBacklog(), then kept by DropSession and LoadDeviceCursors.
  std::unordered_map<DeviceId, std::unordered_map<ConversationId, Seq>> offline_acked_;
  bool offline_acked_loaded_ = false;
  // Asks the accept hooks about a send. OK, or PermissionDenied naming the policy.
  Status AcceptHook(const Session& s, const Conversation& c, const wire::Send& r,
                    AcceptDecision* decision);
  // Records a flagged message for the administrators (a report by the policy).
  void FlagMessage(const Session& s, const Conversation& c, Seq seq, const AcceptDecision& d,
                   const std::string& bytes);

  PluginSet* plugins_ = nullptr;
  PluginSet no_plugins_;
  Holds holds_;
  RetentionOptions retention_options_;
  std::function<std::uint64_t()> free_bytes_;
  Waker* waker_ = nullptr;
  std::unique_ptr<RetentionInFlight> retention_;
  std::mutex retention_mutex_;
  std::condition_variable retention_cv_;
  std::deque<std::shared_ptr<RetentionChunk>> retention_chunks_;  // GUARDED_BY(retention_mutex_)
  // Chunks taken from retention_chunks_ with slices still to write, and the
  // write time per removal seen so far (nanoseconds; sizes the next slice).
  // Loop thread only.
  std::deque<std::shared_ptr<RetentionChunk>> retention_ready_;
  std::int64_t removal_write_ns_ = 0;
  // Since when the next slice waits for an idle commit thread (0: none waits).
  std::int64_t removals_waiting_since_mono_us_ = 0;
  std::atomic<bool> retention_cancel_{false};
  std::int64_t next_retention_mono_us_ = 0;
  std::int64_t next_disk_check_mono_us_ = 0;

  // ---- refusing messages that cannot be stored (broker.cc) ----
  // OK, or why a new message is refused now: the data directory is below
  // min_free_bytes_, or the commit pipeline's writes fail.
  Status StorageRefusal() const;
  // From OnTick: probes the free space once a second and keeps the stats.
  void CheckStorage(std::int64_t now_mono_us);
  std::uint64_t min_free_bytes_ = 0;
  std::function<std::uint64_t()> space_probe_;
  std::int64_t next_space_check_mono_us_ = 0;
  bool low_space_ = false;
  std::uint64_t low_space_free_bytes_ = 0;

  // ---- cases and exports (broker_cases.cc) ----
  // Records a refused case or export request in the audit log and answers
  // the refusal once the entry is stored.
  void RefuseCaseRequest(Session& s, std::uint64_t rid, std::string_view request,
                         std::string target, const Status& why);
  flatbuffers::Offset<wire::CaseInfo> BuildCaseInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                    const Case& c, bool for_subject) const;
  flatbuffers::Offset<wire::ExportInfo> BuildExportInfo(flatbuffers::FlatBufferBuilder& fbb,
                                                        std::uint64_t id,
                                                        const ExportProgress& p) const;
  // What export `c` covers, copied from the directory and conversations.
  Result<ExportPlan> PlanExport(const Case& c);
  // The state of export `id`: a job of this run, or a finished archive of an
  // earlier run. NotFound if there is none.
  Result<ExportProgress> ExportState(std::uint64_t id) const;
  // Event loop: writes the end of finished exports to the audit log (and
  // marks their cases exported), in the batch being filled.
  void PollExports();
  // Stops a running export (it fails) and records what ended.
  void StopExports();
  // ---- backups (broker_backup.cc) ----
  void HandleAdminBackup(Session& s, std::uint64_t rid, const wire::AdminBackup& r);
  // Event loop: records the end of a finished backup in the audit log.
  void PollBackup();
  // Stops a running backup (it fails, leaving nothing) and records it.
  void StopBackup();
  BackupSetup backup_setup_;
  std::unique_ptr<BackupJob> backup_;
  AuditActor backup_actor_;
  bool backup_recorded_ = false;
  int store_format_ = 0;
  std::string store_id_;

  CasesOptions cases_options_;
  ExportArchiveFactory export_archives_;
  CaseRegistry cases_;
  std::map<std::uint64_t, ExportTask> exports_;
  std::uint64_t next_report_id_ = 1;
  // ---- working hours (broker_schedule.cc) ----
  void HandleScheduleGet(Session& s, std::uint64_t rid, const wire::ScheduleGet& r);
  void HandleScheduleSet(Session& s, std::uint64_t rid, const wire::ScheduleSet& r);
  void HandlePresenceQuery(Session& s, std::uint64_t rid, const wire::PresenceQuery& r);
  void HandleAdminDisconnectReport(Session& s, std::uint64_t rid,
                                   const wire::AdminDisconnectReport& r);
  // Off-duty recipients of a message of `c` from `sender` being stored now:
  // fills `off_duty` (left empty, without allocating, when everyone is on
  // duty), counts the held pairs and the right-to-disconnect figures.
  void NoteOffDutyRecipients(const Conversation& c, UserId sender, bool urgent,
                             std::int64_t now_us, std::vector<PendingAck::OffDuty>* off_duty);
  // True if `user` must not get `c`'s messages after `sent` now: off duty,
  // and no urgent message of `c` beyond `sent` lets them through. `limit`
  // becomes the highest seq they may get (committed_seq when on duty).
  bool WithheldFrom(UserId user, const Conversation& c, Seq* limit);
  // An urgent message `seq` of `c` reaches off-duty `user`: its backlog up to
  // and including it is delivered.
  void AllowUrgent(UserId user, ConversationId c, Seq seq);
  // The state changes Due() found (and a schedule set): delivery resumes for
  // people back at work; presence goes out.
  void OnDutyChanges(const std::vector<WorkSchedules::Change>& changes);
  void ServeSchedules();
  // Presence: what others see of `user` now.
  struct PresenceNow {
    wire::PresenceState state = wire::PresenceState::Offline;
    std::int64_t until_us = 0;
    bool operator==(const PresenceNow& o) const {
      return state == o.state && until_us == o.until_us;
    }
  };
  PresenceNow PresenceOf(UserId user);
  bool HasReceivingSession(UserId user) const;
  // Call before a change of `user`'s sessions: remembers what others last
  // learnt (if nothing yet) and queues `user` for AnnouncePresence().
  void PresenceMayChange(UserId user);
  // Sends Presence events for the people whose presence changed to the
  // receiving sessions of everyone who shares a conversation with them.
  void AnnouncePresence();
  // Right-to-disconnect counts: key -> (messages, recipients, urgent).
  struct DisconnectCounts {
    std::uint64_t messages = 0;
    std::uint64_t recipients = 0;
    std::uint64_t urgent = 0;
  };
  DisconnectCounts* CountsFor(std::uint32_t day, char what, std::uint64_t id);
  // Writes the changed counts into the batch being taken.
  void WriteDisconnectCounts(WriteBatch* batch);
  WorkSchedules schedules_{&directory_};
  // Off-duty users' urgent allowances: conversation -> the newest urgent seq.
  std::unordered_map<UserId, std::unordered_map<ConversationId, Seq>> urgent_allowed_;
  std::unordered_map<UserId, PresenceNow> presence_told_;
  std::vector<UserId> presence_dirty_;
  std::map<std::string, DisconnectCounts> disconnect_counts_;
  std::set<std::string> disconnect_dirty_;
  std::int64_t next_schedule_prime_mono_us_ = 0;

  std::vector<ConnectionId> dirty_sessions_;
  std::vector<ConnectionId> pump_list_;
  flatbuffers::FlatBufferBuilder message_fbb_;
  std::vector<std::uint64_t> aligned_frame_;  // copy of a misaligned frame
  std::int64_t fan_out_received_mono_us_ = 0;  // arrival of the message being fanned out
  std::int64_t last_sweep_mono_us_ = 0;

  BrokerStats stats_;
};

}  // namespace chatpro::core
