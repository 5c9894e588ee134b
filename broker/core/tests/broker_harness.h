// SPDX-License-Identifier: Apache-2.0
//
// Test support for the core's tests: fakes for every edge of a Broker and
// small helpers that keep each test short.
//
//   FakeTransport  core::Transport + core::Waker that records the frames sent
//                  to each connection and can answer kFull or kGone for one.
//   ObservedStore  passes everything to an InMemoryMessageStore and counts
//                  write attempts, so that tests can wait for a failing write.
//   Request        builds one wire Frame of request envelopes.
//   Envelope       an owning, decoded copy of one envelope the broker sent
//                  (reply, event or delivery), made by DecodeFrames().
//   BrokerHarness  a Broker on an InMemoryMessageStore, a FakeClock and a
//                  FakeTransport; enrolls devices through the real invite
//                  flow and "settles" the broker (runs its event loop until
//                  the commit pipeline has nothing left to do).
//   TestClient     one session (connection) of an enrolled device.
//   BrokerTest     a fixture with a started broker and an enrolled admin.
//
// Tests that document a known bug of the core use CHATPRO_SKIP_KNOWN_BUG;
// run them with CHATPRO_RUN_KNOWN_BUGS=1.
//
// Thread-safety: everything runs on the test thread, like the broker's event
// loop; only FakeTransport::Wake is called from the pipeline's thread.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/base/clock.h"
#include "broker/config/options.h"
#include "broker/core/broker.h"
#include "broker/core/in_memory_message_store.h"
#include "broker/core/transport.h"
#include "broker/crypto/keys.h"
#include "chatpro/schemas/wire_generated.h"

// Readable names for the wire enums in test failure messages.
namespace chatpro::wire {
inline void PrintTo(Body type, std::ostream* os) {
  *os << "Body::" << EnumNameBody(type) << " (" << static_cast<int>(type) << ")";
}
inline void PrintTo(ErrorCode code, std::ostream* os) {
  *os << "ErrorCode::" << EnumNameErrorCode(code) << " (" << static_cast<int>(code) << ")";
}
}  // namespace chatpro::wire

namespace chatpro::core::testing {

// True when the environment sets CHATPRO_RUN_KNOWN_BUGS=1.
bool RunKnownBugs();

// Marks a test that documents a known bug of the core: it is skipped (with
// `why`, naming the bug) unless CHATPRO_RUN_KNOWN_BUGS=1, so that the suite
// stays green until the fix lands and whoever fixes it can run it.
#define CHATPRO_SKIP_KNOWN_BUG(why)                  \
  do {                                               \
    if (!::chatpro::core::testing::RunKnownBugs()) { \
      GTEST_SKIP() << "known core bug: " << why;     \
    }                                                \
  } while (0)

// ------------------------------------------------------------------ transport

class FakeTransport final : public Transport, public Waker {
 public:
  SendOutcome Send(ConnectionId connection, flatbuffers::DetachedBuffer* frame) override;
  void Forget(ConnectionId connection) override;
  void Wake() override { wakes_.fetch_add(1); }

  // From now on Send() to `connection` answers `outcome` (kSent by default).
  void SetOutcome(ConnectionId connection, SendOutcome outcome);
  // The next `count` Send() calls to `connection` answer kFull, whatever the
  // outcome set; later ones answer that outcome again (a pipe that was full
  // for a moment).
  void RefuseNext(ConnectionId connection, int count) { refuse_next_[connection] = count; }
  // The frames taken for `connection` since the last call, oldest first.
  std::vector<std::string> TakeFrames(ConnectionId connection);
  // How often Send() answered kFull for `connection`.
  int refusals(ConnectionId connection) const;
  bool forgotten(ConnectionId connection) const { return forgotten_.count(connection) > 0; }
  std::uint64_t wakes() const { return wakes_.load(); }

 private:
  std::map<ConnectionId, std::vector<std::string>> frames_;
  std::map<ConnectionId, SendOutcome> outcomes_;
  std::map<ConnectionId, int> refusals_;
  std::map<ConnectionId, int> refuse_next_;
  std::set<ConnectionId> forgotten_;
  std::atomic<std::uint64_t> wakes_{0};
};

// ------------------------------------------------------------------ store

// Passes everything to an InMemoryMessageStore and counts write attempts
// (failed ones included), so that a test can wait until the commit pipeline
// has met a failing write.
class ObservedStore final : public MessageStore {
 public:
  explicit ObservedStore(InMemoryMessageStore* store) : store_(store) {}

  Status Write(const WriteBatch& batch, bool sync) override {
    write_attempts_.fetch_add(1);
    return store_->Write(batch, sync);
  }
  Result<std::vector<StoredMessage>> ReadMessages(ConversationId conversation, Seq from,
                                                  std::size_t limit, ReadDirection direction,
                                                  std::uint64_t max_bytes) override {
    return store_->ReadMessages(conversation, from, limit, direction, max_bytes);
  }
  Result<Seq> LastSeq(ConversationId conversation) override {
    return store_->LastSeq(conversation);
  }
  Result<std::optional<std::string>> GetRecord(RecordKind kind, std::string_view key) override {
    return store_->GetRecord(kind, key);
  }
  Status ScanRecords(RecordKind kind, std::string_view start,
                     const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return store_->ScanRecords(kind, start, fn);
  }

  std::uint64_t write_attempts() const { return write_attempts_.load(); }

 private:
  InMemoryMessageStore* const store_;
  std::atomic<std::uint64_t> write_attempts_{0};
};

// ------------------------------------------------------------------ requests

// Where a Send goes: a conversation by id, or a person by login.
struct Target {
  std::uint64_t conversation_id = 0;
  std::string user;
};
inline Target Conv(std::uint64_t id) { return Target{id, {}}; }
inline Target ToUser(std::string login) { return Target{0, std::move(login)}; }

// Builds one frame; each method adds one envelope and returns *this.
class Request {
 public:
  Request() : fbb_(1024) {}

  Request& Hello(std::uint64_t rid, bool receive = true, std::string_view version = "test/1");
  Request& SendText(std::uint64_t rid, const Target& to, ClientMsgId id, std::string_view text);
  Request& SendVoice(std::uint64_t rid, const Target& to, ClientMsgId id, std::string_view codec,
                     std::uint32_t duration_ms, std::string_view audio);
  Request& SendPicture(std::uint64_t rid, const Target& to, ClientMsgId id,
                       std::string_view mime_type, std::uint32_t width, std::uint32_t height,
                       std::string_view image, std::string_view thumbnail);
  // A Send without content.
  Request& SendNothing(std::uint64_t rid, const Target& to, ClientMsgId id);
  // Sends that amend the earlier message `target_seq` of the same conversation.
  Request& SendEdit(std::uint64_t rid, const Target& to, ClientMsgId id, Seq target_seq,
                    std::string_view text);
  Request& SendDeletion(std::uint64_t rid, const Target& to, ClientMsgId id, Seq target_seq);
  // Ack: (conversation id, seq) pairs.
  Request& Ack(const std::vector<std::pair<std::uint64_t, Seq>>& cursors);
  Request& History(std::uint64_t rid, std::uint64_t conversation_id, Seq from_seq,
                   std::uint32_t limit, bool backward);
  Request& Ping(std::uint64_t rid);
  Request& OpenDirect(std::uint64_t rid, std::string_view user);
  Request& CreateGroup(std::uint64_t rid, std::string_view name,
                       const std::vector<std::string>& members);
  Request& AddMembers(std::uint64_t rid, std::uint64_t conversation_id,
                      const std::vector<std::string>& members, bool as_owners = false);
  Request& RemoveMember(std::uint64_t rid, std::uint64_t conversation_id, std::string_view member);
  Request& LeaveGroup(std::uint64_t rid, std::uint64_t conversation_id);
  Request& ListConversations(std::uint64_t rid);
  Request& Enroll(std::uint64_t rid, std::string_view device_public_key,
                  std::string_view device_name = "test device",
                  wire::KeyKind kind = wire::KeyKind::Curve25519);
  Request& CreateInvite(std::uint64_t rid, std::string_view login = "");
  Request& Directory(std::uint64_t rid);
  Request& AdminAddUser(std::uint64_t rid, std::string_view login, std::string_view display_name,
                        wire::Role role = wire::Role::User);
  Request& AdminListUsers(std::uint64_t rid);
  Request& AdminListGroups(std::uint64_t rid);
  Request& AdminDeactivateUser(std::uint64_t rid, std::string_view login);
  Request& AdminReactivateUser(std::uint64_t rid, std::string_view login);
  Request& ListDevices(std::uint64_t rid, std::string_view login = "");
  Request& RevokeDevice(std::uint64_t rid, std::string_view login, std::uint64_t device_id);
  Request& ConfirmWipe(std::uint64_t rid);
  Request& Block(std::uint64_t rid, std::string_view login);
  Request& Unblock(std::uint64_t rid, std::string_view login);
  Request& ListBlocked(std::uint64_t rid);
  Request& Report(std::uint64_t rid, std::uint64_t conversation_id, Seq seq,
                  std::string_view reason);
  Request& AdminListReports(std::uint64_t rid);
  Request& AdminListAudit(std::uint64_t rid, std::uint64_t from_seq = 0, std::uint32_t limit = 100);
  Request& AdminVerifyAudit(std::uint64_t rid);
  // An envelope with any body type (even one outside the union) and body.
  Request& Raw(std::uint64_t rid, wire::Body type, flatbuffers::Offset<void> body);
  flatbuffers::FlatBufferBuilder& builder() { return fbb_; }

  // The finished frame's bytes. The Request must not be used afterwards.
  std::string Finish(std::uint16_t protocol_version = 1);

 private:
  flatbuffers::Offset<void> Content(wire::Content* type, std::string_view text);

  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<flatbuffers::Offset<wire::Envelope>> envelopes_;
};

// ------------------------------------------------------------------ decoding

struct MessageView {
  std::uint64_t conversation_id = 0;
  Seq seq = 0;
  std::uint64_t sender_user_id = 0;
  std::string sender_login;
  std::uint64_t sender_device_id = 0;
  ClientMsgId client_msg_id = 0;
  std::int64_t sent_at_us = 0;
  wire::Content content_type = wire::Content::NONE;
  std::string text;               // Text, Edit (the new text)
  Seq target_seq = 0;             // Edit, Deletion
  std::string codec;              // Voice
  std::uint32_t duration_ms = 0;  // Voice
  std::string audio;              // Voice
  std::string mime_type;          // Picture
  std::uint32_t width = 0;        // Picture
  std::uint32_t height = 0;       // Picture
  std::string image;              // Picture
  std::string thumbnail;          // Picture
  std::string bytes;              // the nested Message buffer as delivered
};

struct MemberView {
  std::string login;
  std::string display_name;
  bool owner = false;
};

struct ConversationView {
  std::uint64_t id = 0;
  wire::ConversationKind kind = wire::ConversationKind::Direct;
  std::string name;
  std::vector<MemberView> members;
  Seq head_seq = 0;
  Seq first_seq = 0;

  bool HasMember(std::string_view login) const;
  bool IsOwner(std::string_view login) const;
};

struct UserView {
  std::uint64_t id = 0;
  std::string login;
  std::string display_name;
  wire::Role role = wire::Role::User;
  bool active = false;
  std::uint32_t devices = 0;
  std::int64_t created_at_us = 0;
};

struct DeviceView {
  std::uint64_t id = 0;
  std::string name;
  std::string client_version;
  std::int64_t created_at_us = 0;
  std::int64_t last_seen_us = 0;
  std::string last_address;
  bool active = false;
  std::int64_t revoked_at_us = 0;
  bool online = false;
};

struct GroupView {
  std::uint64_t conversation_id = 0;
  std::string name;
  std::int64_t created_at_us = 0;
  std::vector<std::string> members;  // logins
  std::vector<std::string> owners;
};

struct ReportView {
  std::uint64_t id = 0;
  std::int64_t created_at_us = 0;
  std::string reporter;
  std::string reason;
  std::uint64_t conversation_id = 0;
  Seq seq = 0;
  MessageView message;  // the evidence
};

struct AuditView {
  std::uint64_t seq = 0;
  std::int64_t at_us = 0;
  std::string actor;
  std::string action;
  std::string target;
  std::string details;  // a JSON object
  std::string hash;
};

// One envelope the broker sent. Only the fields of `type` are filled.
struct Envelope {
  std::uint64_t request_id = 0;
  wire::Body type = wire::Body::NONE;
  // Error
  wire::ErrorCode error_code = wire::ErrorCode::Ok;
  std::string error_message;
  // SendAck
  ClientMsgId client_msg_id = 0;
  Seq seq = 0;
  std::int64_t sent_at_us = 0;
  bool duplicate = false;
  // SendAck, HistoryReply
  std::uint64_t conversation_id = 0;
  // Delivery
  MessageView message;
  // ConversationInfo
  ConversationView conversation;
  // ConversationList
  std::vector<ConversationView> conversations;
  // HistoryReply
  std::vector<MessageView> history;
  bool has_more = false;
  // HelloReply, EnrollReply, InviteReply
  std::uint64_t user_id = 0;
  std::uint64_t device_id = 0;
  std::string login;
  std::string display_name;
  wire::Role role = wire::Role::User;
  std::uint16_t protocol_version = 0;
  std::uint32_t max_text_bytes = 0;
  std::uint32_t max_frame_bytes = 0;
  ClientMsgId last_client_msg_id = 0;
  std::string invite;
  std::int64_t expires_at_us = 0;
  std::string web_link;
  // UserList
  std::vector<UserView> users;
  // GroupList
  std::vector<GroupView> groups;
  // Pong
  std::int64_t server_time_us = 0;
  // OffboardingReply (and `login`)
  std::int64_t asked_at_us = 0;
  std::uint32_t devices_revoked = 0;
  std::uint32_t sessions_closed = 0;
  std::int64_t last_session_closed_at_us = 0;
  std::uint32_t invites_cancelled = 0;
  // DeviceList (and `login`)
  std::vector<DeviceView> devices;
  // ReportList
  std::vector<ReportView> reports;
  // AuditList
  std::vector<AuditView> audit;
  // AuditVerifyReply
  bool audit_whole = false;
  std::uint64_t audit_records = 0;
  std::uint64_t audit_first_broken_seq = 0;
  std::string audit_message;
  // Revoked
  std::string revoked_reason;
  bool wipe = false;
  // ConsoleCredentialsReply (and user_id, login, display_name, role)
  bool active = false;
  std::string password_hash;
};

// Verifies and decodes frames the broker sent; a frame that fails
// verification is a test failure.
std::vector<Envelope> DecodeFrames(const std::vector<std::string>& frames);

// Selections over decoded envelopes.
std::vector<Envelope> OfType(const std::vector<Envelope>& all, wire::Body type);
std::vector<MessageView> Deliveries(const std::vector<Envelope>& all);
// The seqs of the deliveries of one conversation, in arrival order.
std::vector<Seq> DeliveredSeqs(const std::vector<Envelope>& all, std::uint64_t conversation_id);
// The replies (not events) that answer `request_id`.
std::vector<Envelope> RepliesTo(const std::vector<Envelope>& all, std::uint64_t request_id);
// The single reply to `request_id`; a test failure (and an empty Envelope)
// if there is not exactly one.
Envelope ReplyTo(const std::vector<Envelope>& all, std::uint64_t request_id);
// Seqs first..last.
std::vector<Seq> SeqRange(Seq first, Seq last);

// ------------------------------------------------------------------ harness

class BrokerHarness;

// One session of an enrolled device (or of an enrollment key).
class TestClient {
 public:
  TestClient() = default;

  // Hands one frame to the broker as if it came from this connection.
  void Send(const std::string& frame) const;
  void Send(Request& request) const { Send(request.Finish()); }
  // Everything the broker sent to this connection and nobody took yet.
  std::vector<Envelope> Take() const;
  // Takes only the one reply to `request_id` and leaves everything else; a
  // test failure (and an empty Envelope) unless there is exactly one.
  Envelope TakeReply(std::uint64_t request_id) const;

  BrokerHarness* harness = nullptr;
  ConnectionId connection = 0;
  std::string zap_user_id;            // "d:<device id>" or "e:<hex>"
  std::string address = "127.0.0.1";  // the peer address its frames come from
  std::string login;
  std::uint64_t user_id = 0;
  std::uint64_t device_id = 0;
  crypto::KeyPair keys;  // the device's own key pair
};

class BrokerHarness {
 public:
  // A Broker opened on a new store. `store` may name a store to share with an
  // earlier harness (a broker restart on the same disk).
  explicit BrokerHarness(CoreOptions options = CoreOptions(),
                         std::shared_ptr<InMemoryMessageStore> store = nullptr);
  ~BrokerHarness();
  BrokerHarness(const BrokerHarness&) = delete;
  BrokerHarness& operator=(const BrokerHarness&) = delete;

  Broker& broker() { return *broker_; }
  FakeClock& clock() { return clock_; }
  FakeTransport& transport() { return transport_; }
  InMemoryMessageStore& store() { return *store_; }
  // Write() calls the broker made on the store, failed ones included.
  std::uint64_t write_attempts() const { return observed_->write_attempts(); }
  // Waits (a few seconds at most) until the broker tried at least `n` writes.
  ::testing::AssertionResult WaitForWriteAttempts(std::uint64_t n);
  const std::shared_ptr<InMemoryMessageStore>& shared_store() const { return store_; }
  const CoreOptions& options() const { return options_; }

  // Before Start(): an invite for a device of admin `login`.
  std::string BootstrapInvite(std::string_view login);
  void Start();
  // Stops the broker and opens a new one on the same store, clock and
  // transport, as a process restart would. Sessions are gone; clients
  // connect again (Reconnect).
  void Restart();

  // Runs the event loop (Flush, OnWake) until the broker is idle and no more
  // completions arrive. Fails after a few seconds rather than hanging.
  ::testing::AssertionResult Settle();
  // Advances the clock past the cursor flush interval and runs a tick, so
  // that acknowledged cursors get written, then settles.
  ::testing::AssertionResult SettleCursors();

  // Lets every session fall silent past session_timeout and runs a tick: the
  // broker drops them all (devices go offline).
  void TimeOutSessions();

  ConnectionId NewConnectionId() { return next_connection_++; }
  // The decoded envelopes sent to `connection` that no test took yet.
  std::vector<Envelope>& Inbox(ConnectionId connection);

  // Enrolls a new device with `invite` through the real flow (derived
  // enrollment key, Authenticate, Enroll, Authenticate with the device key)
  // and returns a session of it that has said Hello (replies taken).
  TestClient Enroll(std::string_view invite, std::string_view device_name = "test device");
  // `admin` adds a user (AdminAddUser) and the user enrolls one device.
  TestClient AddUser(const TestClient& admin, std::string_view login,
                     wire::Role role = wire::Role::User, std::string_view display_name = "");
  // `client`'s user invites (CreateInvite) and enrolls another device.
  TestClient AddDevice(const TestClient& client);
  // A web console session ("c:<user id>", peer "console") of `client`'s user,
  // or the console service ("s:console") with an empty client. Nothing is
  // sent yet.
  TestClient Console(const TestClient& client);
  TestClient ConsoleService();
  // A new session (connection) of the same device, after Hello.
  TestClient Reconnect(const TestClient& client, bool receive = true);

 private:
  void MakeBroker();

  CoreOptions options_;
  std::shared_ptr<InMemoryMessageStore> store_;
  std::unique_ptr<ObservedStore> observed_;
  FakeClock clock_;
  FakeTransport transport_;
  std::unique_ptr<Broker> broker_;
  std::map<ConnectionId, std::vector<Envelope>> inbox_;
  ConnectionId next_connection_ = 1;
  std::uint64_t next_rid_ = 1'000'000;
};

// A fixture with a started broker and an enrolled admin.
class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override { Boot(CoreOptions()); }
  // Replaces the broker with a fresh one (new store) with `options`.
  void Boot(const CoreOptions& options);

  // Shorthands.
  ::testing::AssertionResult Settle() { return h_->Settle(); }
  TestClient AddUser(std::string_view login, wire::Role role = wire::Role::User) {
    return h_->AddUser(admin_, login, role);
  }
  // Creates a group as `owner` with `members` and returns its id (0 and a
  // test failure if the broker refuses).
  std::uint64_t CreateGroup(const TestClient& owner, std::string_view name,
                            const std::vector<std::string>& members);
  // Sends one text from `from` and settles; returns the SendAck (or the
  // Error) that answers it.
  Envelope SendText(const TestClient& from, const Target& to, ClientMsgId id,
                    std::string_view text);

  std::unique_ptr<BrokerHarness> h_;
  TestClient admin_;
  std::uint64_t next_rid_ = 1;
};

}  // namespace chatpro::core::testing
