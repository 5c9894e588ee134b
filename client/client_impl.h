// SPDX-License-Identifier: Apache-2.0
//
// ClientImpl: the Client behind Client::Connect().
//
// Lifecycle: Start() creates the ZeroMQ context and the I/O thread, and waits
// for the first HelloReply (or a refusal, or connect_timeout). The destructor
// stops the I/O thread, fails whatever is still pending with Unavailable and
// closes the context.
//
// Threading: two sides share `mutex_`.
//  - App threads only touch the command queue, the send window counter, the
//    session snapshot and the wake-up socket `wake_out_` (a PUSH socket used
//    by whichever thread holds `mutex_`; it is the only ZeroMQ socket used off
//    the I/O thread, and the mutex serialises it with a full memory barrier,
//    which ZeroMQ requires for a socket to change threads). The limits a send
//    is checked against are atomics, read without the lock.
//  - The I/O thread owns every other socket (DEALER, monitor PAIR, wake-up
//    PULL) and all protocol state (unacknowledged sends, pending requests,
//    delivery cursors). It never holds `mutex_` while running a callback.
// Lock order: `mutex_` is the only lock; user callbacks run without it.
//
// Wake-ups: an app thread that queues a command writes to the wake-up socket
// only if `wake_pending_` is false, and sets it. The I/O thread clears it
// only at the top of its loop, under `mutex_`, when it finds the queue empty,
// just before it may block in poll: a command queued before that is seen
// there, one queued after finds the flag false and wakes the poll. While it
// has work the flag stays true and no app thread pays for a wake-up.
//
// Revocation (HandleRevoked, on the I/O thread): `revoked_status_` is set
// under `mutex_` first, so that no command is queued after FailAll() took the
// queue; then on_revoked runs, the profile is wiped, ConfirmWipe is written as
// the only envelope of the last frame, and the loop ends with the DEALER
// closed after a short linger. The state becomes kRevoked last.
//
// Request ids: a Send's request id is its client_msg_id (below
// kRequestIdBit), every other request's has kRequestIdBit set, so an Error
// for a Send is found among the unacknowledged sends by its id.
//
// Internal to libchatpro (io_loop.cc holds the I/O thread's side).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "client/client.h"
#include "client/ring_queue.h"
#include "client/wire_codec.h"
#include "client/zmq_util.h"

namespace chatpro::client::internal {

class ClientImpl final : public Client {
 public:
  ClientImpl(const Profile& profile, ClientOptions options);
  ~ClientImpl() override;

  // Starts the I/O thread and waits for the first session. On failure
  // returns PermissionDenied (key refused), Unavailable (no answer within
  // connect_timeout) or the broker's error for Hello. REQUIRES: called once.
  Status Start();

  SessionInfo session() const override;
  ConnectionState state() const override;

  std::future<SendResult> Send(Target to, Content content, SendOptions options) override;
  void SendAsync(Target to, Content content, std::function<void(const SendResult&)> done,
                 SendOptions options) override;
  bool Flush(std::chrono::milliseconds timeout) override;

  Result<HistoryPage> History(Target conversation, HistoryQuery query) override;
  Result<Conversation> OpenDirect(std::string login) override;
  Result<Conversation> CreateGroup(std::string name, std::vector<std::string> members) override;
  Result<Conversation> AddMembers(std::uint64_t conversation_id, std::vector<std::string> members,
                                  bool as_owners) override;
  Result<Conversation> RemoveMember(std::uint64_t conversation_id, std::string login) override;
  Status LeaveGroup(std::uint64_t conversation_id) override;
  Result<std::vector<Conversation>> ListConversations() override;
  Result<Conversation> FindGroup(std::string_view name) override;
  Result<std::vector<UserInfo>> Directory() override;
  Result<InviteInfo> CreateInvite(std::string login) override;
  Result<InviteInfo> AdminAddUser(std::string login, std::string display_name, Role role) override;
  Result<std::vector<UserInfo>> AdminListUsers() override;
  Result<std::vector<GroupSummary>> AdminListGroups() override;
  Result<OffboardingInfo> AdminDeactivateUser(std::string login) override;
  Result<InviteInfo> AdminReactivateUser(std::string login) override;
  Result<std::vector<DeviceInfo>> ListDevices(std::string login) override;
  Status RevokeDevice(std::string login, std::uint64_t device_id) override;
  Status Block(std::string login) override;
  Status Unblock(std::string login) override;
  Result<std::vector<std::string>> ListBlocked() override;
  Status Report(std::uint64_t conversation_id, std::uint64_t seq, std::string reason) override;
  Result<std::vector<ReportInfo>> AdminListReports() override;
  Result<std::vector<AuditEntryInfo>> AdminListAudit(std::uint64_t from_seq,
                                                     std::uint32_t limit) override;
  Result<AuditVerification> AdminVerifyAudit() override;
  Result<HoldInfo> SetHold(HoldTarget target, std::string case_ref, std::string reason) override;
  Status LiftHold(std::uint64_t hold_id, std::string reason) override;
  Result<std::vector<HoldInfo>> ListHolds(bool include_lifted) override;
  Result<RetentionReport> RunRetention(bool dry_run) override;
  Result<std::vector<PluginInfo>> ListPlugins() override;
  Result<CaseInfo> OpenCase(CaseRequest request) override;
  Result<CaseInfo> ApproveCase(std::uint64_t case_id) override;
  Result<std::vector<CaseInfo>> ListCases() override;
  Result<ExportInfo> StartExport(std::uint64_t case_id) override;
  Result<ExportInfo> ExportStatus(std::uint64_t export_id) override;
  Result<BackupInfo> StartBackup(std::string name) override;
  Status SetConsolePassword(std::string login, std::string password_hash) override;
  Result<BackupInfo> BackupStatus() override;
  Result<BackupList> ListBackups() override;
  Result<ExportChunk> ReadExportChunk(std::uint64_t export_id, std::uint64_t offset,
                                      std::uint32_t max_bytes) override;
  Result<std::vector<CaseInfo>> MyDataAccess() override;
  Result<ScheduleInfo> GetSchedule(std::string login) override;
  Result<ScheduleInfo> SetSchedule(std::string login, Schedule schedule) override;
  Result<std::vector<PresenceInfo>> Presence(std::uint64_t conversation_id) override;
  Result<DisconnectReport> AdminDisconnectReport(std::int64_t from_us,
                                                 std::int64_t to_us) override;
  void StopReceiving() override;

 private:
  using ReplyHandler = std::function<void(const wire::Envelope&)>;
  using FailHandler = std::function<void(const Status&)>;
  using WriteRequest = std::function<void(FrameWriter&, std::uint64_t request_id)>;

  // Ids with this bit set belong to requests other than Send.
  static constexpr std::uint64_t kRequestIdBit = std::uint64_t{1} << 63;

  // A Send from SendAsync until its SendAck or Error.
  struct OutgoingSend {
    std::uint64_t client_msg_id = 0;
    // == client_msg_id, unless that has kRequestIdBit set (only after the
    // broker reported so high a last id: the clock takes 292,000 years to
    // get there); then one from the request range.
    std::uint64_t request_id = 0;
    Target to;
    Content content;
    SendOptions options;
    std::size_t wire_bytes = 0;
    std::function<void(const SendResult&)> done;
    bool answered = false;  // in unacked_: completed, waiting to reach the front
  };

  // A request other than Send, from the blocking calls.
  struct Request {
    std::uint64_t request_id = 0;
    std::size_t wire_bytes = 0;
    WriteRequest write;
    ReplyHandler on_reply;
    FailHandler on_fail;
    std::int64_t deadline_us = 0;  // monotonic
  };

  // A command handed from an app thread to the I/O thread: a Send (inline, so
  // that queueing one does not allocate) or, if `request` is set, a request.
  struct Command {
    OutgoingSend send;
    std::unique_ptr<Request> request;

    std::size_t wire_bytes() const { return request ? request->wire_bytes : send.wire_bytes; }
  };

  // A request written to the socket, waiting for its reply.
  struct PendingRequest {
    ReplyHandler on_reply;
    FailHandler on_fail;
    std::int64_t deadline_us = 0;
  };

  // Where the deliveries of one conversation stand.
  struct DeliveryCursor {
    std::uint64_t last_seq = 0;  // the highest seq handed to on_message
    bool to_ack = false;         // in to_ack_
  };

  // ---- app-thread side (client_impl.cc)
  bool OnIoThread() const;
  // Queues a request; fails it at once if the client is closed or refused.
  void Enqueue(std::unique_ptr<Request> request);
  ContentLimits limits() const;
  // Runs a request/reply round trip for the blocking calls. `parse` turns a
  // non-Error reply into the result.
  template <typename T>
  Result<T> Call(std::size_t wire_bytes, WriteRequest write,
                 std::function<Result<T>(const wire::Envelope&)> parse);
  Result<Conversation> CallForConversation(std::size_t wire_bytes, WriteRequest write);
  Result<CaseInfo> CallForCase(std::size_t wire_bytes, WriteRequest write);
  Result<std::vector<CaseInfo>> CallForCaseList(WriteRequest write);
  Result<ExportInfo> CallForExport(WriteRequest write);
  Result<BackupInfo> CallForBackup(WriteRequest write);
  Result<ScheduleInfo> CallForSchedule(std::size_t wire_bytes, WriteRequest write);
  // A round trip whose reply is Done (or, from a broker that says more, any
  // reply that is not an Error).
  Status CallForDone(std::size_t wire_bytes, WriteRequest write);
  // Why new work is refused now, or OK. REQUIRES: mutex_ held.
  Status RefusalLocked() const;
  // Writes to the wake-up socket unless a wake-up is pending already (or
  // `always`). REQUIRES: mutex_ held.
  void WakeLocked(bool always = false);
  std::string NoAnswerMessage(std::chrono::milliseconds waited) const;

  // ---- I/O thread side (io_loop.cc)
  void IoThreadMain();
  void RunLoop();
  void OpenSockets();
  void CloseSockets(bool flush_acks);
  void HandleMonitorEvent(const MonitorEvent& event);
  void HandleFrame(const zmq::message_t& message);
  void HandleEnvelope(const wire::Envelope& envelope);
  void HandleHelloReply(const wire::Envelope& envelope);
  void HandleDelivery(const wire::Delivery& delivery);
  // The broker revoked this device: fails everything, runs on_revoked, wipes
  // the profile, writes ConfirmWipe and closes the connection (the loop ends).
  void HandleRevoked(const wire::Revoked& revoked);
  // The unacknowledged send with this id or request id; nullptr if there is
  // none (or it was answered already).
  OutgoingSend* FindUnacked(std::uint64_t client_msg_id);
  OutgoingSend* FindSendByRequest(std::uint64_t request_id);
  // The position in unacked_ of the first send whose id is >= client_msg_id.
  std::size_t LowerBound(std::uint64_t client_msg_id) const;
  // Runs the send's callback and counts it as done; the window counter is
  // updated by PublishCompletedSends(), once per received frame.
  void CompleteSend(OutgoingSend& send, SendResult result);
  void PublishCompletedSends();
  DeliveryCursor& CursorFor(std::uint64_t conversation_id);
  void MarkToAck(std::uint64_t conversation_id, DeliveryCursor& cursor);
  // The cursors to acknowledge (conversation, seq), sorted; empties to_ack_.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>>& TakeAckCursors();
  // Gives back the memory of queues that a burst of sends made large, when
  // nothing is queued or in flight. REQUIRES: mutex_ held.
  void ShrinkIdleQueuesLocked();
  void WriteFrames();
  // Builds the next frame; false if there is nothing to send.
  bool BuildFrame(zmq::message_t* out);
  bool TrySend(zmq::message_t& message);
  void ExpireDeadlines();
  void FailAll(const Status& status);
  void SetState(ConnectionState state, const Status& status);
  void FinishStart(const Status& status);
  std::chrono::milliseconds PollTimeout() const;
  std::uint64_t max_frame_bytes() const;

  const Profile profile_;
  const ClientOptions options_;
  std::atomic<std::thread::id> io_thread_id_{};
  std::atomic<bool> receiving_stopped_{false};
  std::atomic<std::uint64_t> next_request_id_{kRequestIdBit | 1};
  // The session's limits for SendAsync; written by the I/O thread on each
  // HelloReply. Each is valid on its own; a send racing a new HelloReply may
  // see a mix of the old and new session's limits.
  std::atomic<std::uint64_t> max_text_bytes_{0};
  std::atomic<std::uint64_t> max_attachment_bytes_{0};
  std::atomic<std::uint64_t> max_frame_limit_{0};

  // ---- shared, under mutex_
  mutable std::mutex mutex_;
  std::condition_variable cv_;  // send window, Flush, Start
  // In order of client_msg_id for the Sends among them (assigned and queued
  // in one critical section).
  std::vector<Command> commands_;              // GUARDED_BY(mutex_)
  bool wake_pending_ = false;                  // GUARDED_BY(mutex_)
  std::unique_ptr<zmq::socket_t> wake_out_;    // GUARDED_BY(mutex_)
  bool stopping_ = false;                      // GUARDED_BY(mutex_)
  bool io_exited_ = false;                     // GUARDED_BY(mutex_)
  std::optional<Status> start_status_;         // GUARDED_BY(mutex_)
  ConnectionState state_ = ConnectionState::kConnecting;  // GUARDED_BY(mutex_)
  SessionInfo session_;                        // GUARDED_BY(mutex_)
  std::uint64_t last_client_msg_id_ = 0;       // GUARDED_BY(mutex_)
  std::size_t in_flight_sends_ = 0;            // GUARDED_BY(mutex_)
  std::string handshake_problem_;              // GUARDED_BY(mutex_)
  // Set once a Revoked event came: every later call fails with it.
  std::optional<Status> revoked_status_;       // GUARDED_BY(mutex_)

  std::unique_ptr<zmq::context_t> context_;  // created by Start(), closed by the destructor
  std::thread io_thread_;

  // ---- I/O thread only
  std::unique_ptr<zmq::socket_t> dealer_;
  std::unique_ptr<zmq::socket_t> monitor_;
  std::unique_ptr<zmq::socket_t> wake_in_;
  bool handshake_ok_ = false;   // a CURVE session is up
  bool hello_pending_ = false;  // Hello still to be written for this connection
  std::uint64_t hello_request_id_ = 0;
  std::uint64_t max_frame_bytes_ = kDefaultMaxFrameBytes;
  std::optional<zmq::message_t> stalled_;  // a built frame the socket did not take yet
  // Commands taken from commands_ in one swap (both vectors keep their
  // capacity), written from staged_pos_ on.
  std::vector<Command> staged_;
  std::size_t staged_pos_ = 0;
  // Sends written at least once and not yet answered, by increasing
  // client_msg_id; answered ones are popped from the front.
  RingQueue<OutgoingSend> unacked_;
  bool high_send_ids_ = false;  // some send's request_id != its client_msg_id
  // After a handshake: every send in unacked_ from resend_from_id_ on is
  // written again before anything new.
  bool resending_ = false;
  std::uint64_t resend_from_id_ = 0;
  std::size_t completed_sends_ = 0;      // answered, not yet taken off in_flight_sends_
  std::size_t frame_bytes_hint_ = 1024;  // the last frame's size, for the next FrameWriter
  std::unordered_map<std::uint64_t, PendingRequest> requests_;
  // Per conversation; never erased, so pointers to the cursors stay valid.
  std::unordered_map<std::uint64_t, DeliveryCursor> cursors_;
  // Deliveries come in runs of one conversation: the last one's cursor.
  std::uint64_t cached_conversation_ = 0;
  DeliveryCursor* cached_cursor_ = nullptr;
  std::vector<std::pair<std::uint64_t, DeliveryCursor*>> to_ack_;  // moved since the last Ack
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ack_cursors_;  // TakeAckCursors()
  DeliveryReader delivery_reader_;
  std::int64_t last_write_us_ = 0;
  ConnectionState io_state_ = ConnectionState::kConnecting;
  // A Revoked event was handled: the loop ends, nothing more is written (no
  // Ack either: the broker takes only ConfirmWipe from a revoked device).
  bool revoked_ = false;
};

}  // namespace chatpro::client::internal
