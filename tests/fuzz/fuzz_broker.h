// SPDX-License-Identifier: Apache-2.0
//
// FuzzBroker: a real core Broker for the fuzz targets of this folder, on an
// InMemoryMessageStore, a FakeClock and a Transport that collects what the
// broker sends. It is set up through the real flows (bootstrap invite,
// enrollment, AdminAddUser, Hello) with four people:
//
//   boss   administrator, one device session (said Hello)
//   ana    user, one device session (said Hello): the fuzzed user
//   carol  user, one device session: the well-behaved sender of the canary
//   dave   user, one device session: the canary's recipient
//
// plus an enrollment session holding a fresh invite for another device of
// ana (the ZAP user-id an invite's derived key gets).
//
// Fuzz targets hand it frames (Send), let it run (Settle) and then check that
// the broker still serves everyone else (CheckCanary). A broken invariant is
// reported on stderr and aborts, which libFuzzer (and the replay runner)
// count as a crash; none of this uses GoogleTest.
//
// Thread-safety: one FuzzBroker per thread; everything runs on the calling
// thread like the broker's event loop (only Waker::Wake comes from the commit
// pipeline's thread).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/clock.h"
#include "broker/core/broker.h"
#include "broker/core/in_memory_message_store.h"
#include "broker/core/transport.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::fuzz {

// Prints `why` and aborts: a broken invariant is a crash to the fuzzer.
[[noreturn]] void Fail(std::string_view why);
#define FUZZ_CHECK(cond, why)                                          \
  do {                                                                 \
    if (!(cond)) ::chatpro::fuzz::Fail(std::string("FUZZ_CHECK(" #cond \
                                                   ") failed: ") +     \
                                       (why));                         \
  } while (0)

// Collects every frame sent to each connection.
class CollectingTransport final : public core::Transport, public core::Waker {
 public:
  core::SendOutcome Send(core::ConnectionId connection,
                         flatbuffers::DetachedBuffer* frame) override;
  void Forget(core::ConnectionId connection) override { forgotten_[connection] = true; }
  void Wake() override { wakes_.fetch_add(1); }

  // The frames sent to `connection` since the last call, oldest first.
  std::vector<std::string> Take(core::ConnectionId connection);
  bool forgotten(core::ConnectionId connection) const { return forgotten_.count(connection) > 0; }

 private:
  std::map<core::ConnectionId, std::vector<std::string>> frames_;
  std::map<core::ConnectionId, bool> forgotten_;
  std::atomic<std::uint64_t> wakes_{0};
};

// One connection as the transport would present it.
struct Session {
  core::ConnectionId connection = 0;
  std::string zap_user_id;  // "d:<device id>" or "e:<hex>"
  std::string login;
};

// The broker's replies and events to one connection, verified and decoded
// just enough for the checks of the fuzz targets.
struct Received {
  std::uint64_t request_id = 0;
  wire::Body type = wire::Body::NONE;
  wire::ErrorCode error = wire::ErrorCode::Ok;
  std::string text;     // Error: the message; Delivery: the Text body; InviteReply: the invite
  std::uint64_t id = 0;  // EnrollReply: the device id; SendAck, Delivery: the seq
  std::uint64_t conversation_id = 0;  // SendAck, Delivery
};

class FuzzBroker {
 public:
  // Builds and starts the broker with the people above. Aborts if any step
  // of the setup fails (that is a bug of the broker or of this harness).
  FuzzBroker();
  ~FuzzBroker();
  FuzzBroker(const FuzzBroker&) = delete;
  FuzzBroker& operator=(const FuzzBroker&) = delete;

  // Hands one frame to the broker as if it came from `session`.
  void Send(const Session& session, const std::uint8_t* data, std::size_t size);
  void Send(const Session& session, const std::string& frame) {
    Send(session, reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size());
  }
  // Runs the event loop until the broker is idle; aborts if it is not idle
  // within 20 seconds (a hang).
  void Settle();
  // Everything sent to `session` since the last call. Every frame the broker
  // sends must pass the FlatBuffers verifier: it aborts otherwise.
  std::vector<Received> Take(const Session& session);

  // The canary: carol sends a text to dave. `strict`: the send must be
  // acknowledged, and dave's session must get it (for inputs from sessions
  // that cannot touch carol or dave). Otherwise (an administrator's input
  // may deactivate them, revoke their devices or make them off duty): carol
  // gets exactly one answer unless her session was cut, and an acknowledged
  // send must be in carol's history of the conversation (acknowledged means
  // stored). Aborts when the canary fails.
  void CheckCanary(bool strict);

  // A new session of ana's device that has not said Hello yet.
  Session NewAnaSession();
  // A new connection whose ZAP user-id is `zap_user_id` (e.g. a console
  // principal, "c:<user id>", as the in-process route presents it).
  Session NewSession(std::string zap_user_id);
  // The frames sent to `session` since the last call, serialized as sent and
  // not checked (Take checks them).
  std::vector<std::string> TakeFrames(const Session& session) {
    return transport_.Take(session.connection);
  }

  core::Broker& broker() { return *broker_; }
  FakeClock& clock() { return clock_; }
  const Session& boss() const { return boss_; }
  const Session& ana() const { return ana_; }
  const Session& carol() const { return carol_; }
  const Session& dave() const { return dave_; }
  const Session& enrolling() const { return enrolling_; }

 private:
  // Enrolls a device with `invite` (derived key, Authenticate, Enroll,
  // Authenticate with the new device key) and returns a session of it that
  // said Hello.
  Session Enroll(const std::string& invite);
  // The enrollment session of `invite`, before it enrolled.
  Session EnrollmentSession(const std::string& invite);
  Session Hello(Session session);
  // `boss_` adds `login` and the new user enrolls one device.
  Session AddUser(const std::string& login);
  // Sends one request envelope and returns the reply to it (aborts unless
  // there is exactly one).
  Received Ask(const Session& session, const std::string& frame, std::uint64_t request_id);

  core::InMemoryMessageStore store_;
  FakeClock clock_;
  CollectingTransport transport_;
  std::unique_ptr<core::Broker> broker_;
  core::ConnectionId next_connection_ = 1;
  std::uint64_t next_request_id_ = 1'000'000;
  std::uint64_t next_canary_ = 1;
  Session boss_, ana_, carol_, dave_, enrolling_;
};

// Frame builders for the harness and the fuzz targets: one envelope each.
std::string HelloFrame(std::uint64_t request_id);
std::string SendTextFrame(std::uint64_t request_id, std::string_view to_user,
                          std::uint64_t client_msg_id, std::string_view text);
std::string HistoryFrame(std::uint64_t request_id, std::uint64_t conversation_id);
// Wraps one built envelope body into a finished frame.
std::string FinishFrame(flatbuffers::FlatBufferBuilder& fbb,
                        const std::vector<flatbuffers::Offset<wire::Envelope>>& envelopes);

}  // namespace chatpro::fuzz
