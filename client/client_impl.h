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
//    which ZeroMQ requires for a socket to change threads).
//  - The I/O thread owns every other socket (DEALER, monitor PAIR, wake-up
//    PULL) and all protocol state (unacknowledged sends, pending requests,
//    delivery cursors). It never holds `mutex_` while running a callback.
// Lock order: `mutex_` is the only lock; user callbacks run without it.
//
// Internal to libchatpro (io_loop.cc holds the I/O thread's side).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <zmq.hpp>

#include "client/client.h"
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

  std::future<SendResult> Send(Target to, Content content) override;
  void SendAsync(Target to, Content content,
                 std::function<void(const SendResult&)> done) override;
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
  void StopReceiving() override;

 private:
  using ReplyHandler = std::function<void(const wire::Envelope&)>;
  using FailHandler = std::function<void(const Status&)>;
  using WriteRequest = std::function<void(FrameWriter&, std::uint64_t request_id)>;

  // A Send from enqueue until its SendAck or Error.
  struct OutgoingSend {
    std::uint64_t request_id = 0;
    std::uint64_t client_msg_id = 0;
    Target to;
    Content content;
    std::size_t wire_bytes = 0;
    std::function<void(const SendResult&)> done;
  };

  // A request handed from an app thread to the I/O thread.
  struct Command {
    std::uint64_t request_id = 0;
    std::unique_ptr<OutgoingSend> send;  // set for a Send; the rest is unused then
    WriteRequest write;
    ReplyHandler on_reply;
    FailHandler on_fail;
    std::int64_t deadline_us = 0;  // monotonic
    std::size_t wire_bytes = 0;
  };

  // A request written to the socket, waiting for its reply.
  struct PendingRequest {
    ReplyHandler on_reply;
    FailHandler on_fail;
    std::int64_t deadline_us = 0;
  };

  // ---- app-thread side (client_impl.cc)
  bool OnIoThread() const;
  // Queues a request; fails it at once if the client is closed or refused.
  void Enqueue(Command command);
  // Runs a request/reply round trip for the blocking calls. `parse` turns a
  // non-Error reply into the result.
  template <typename T>
  Result<T> Call(std::size_t wire_bytes, WriteRequest write,
                 std::function<Result<T>(const wire::Envelope&)> parse);
  Result<Conversation> CallForConversation(std::size_t wire_bytes, WriteRequest write);
  void WakeLocked();  // REQUIRES: mutex_ held
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
  void CompleteSend(std::uint64_t client_msg_id, SendResult result);
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
  std::atomic<std::uint64_t> next_request_id_{1};

  // ---- shared, under mutex_
  mutable std::mutex mutex_;
  std::condition_variable cv_;  // send window, Flush, Start
  std::deque<Command> commands_;               // GUARDED_BY(mutex_)
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
  std::map<std::uint64_t, std::unique_ptr<OutgoingSend>> unacked_;  // by client_msg_id
  std::unordered_map<std::uint64_t, std::uint64_t> send_by_request_;  // request id -> msg id
  std::deque<std::uint64_t> resend_;  // client_msg_ids to write again, in order
  std::unordered_map<std::uint64_t, PendingRequest> requests_;
  std::unordered_map<std::uint64_t, std::uint64_t> last_seq_;  // per conversation
  std::map<std::uint64_t, std::uint64_t> ack_cursors_;           // to acknowledge
  std::int64_t last_write_us_ = 0;
  ConnectionState io_state_ = ConnectionState::kConnecting;
};

}  // namespace chatpro::client::internal
