// SPDX-License-Identifier: Apache-2.0
//
// FakeBroker: a scripted stand-in for chatpro-broker in libchatpro's unit
// tests. It binds a CURVE ROUTER on an ephemeral loopback port with a ZAP
// handler that accepts only the keys it was told to allow, answers the
// requests of schemas/README.md with canned replies and records what it saw.
//
// Thread-safety: one broker thread owns the sockets; the public members may
// be called from the test thread at any time.
#pragma once

#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/crypto/keys.h"
#include "chatpro/schemas/wire_generated.h"
#include "client/client.h"

namespace chatpro::client::testing {

struct SeenEnvelope {
  wire::Body type = wire::Body::NONE;
  std::uint64_t request_id = 0;
  std::uint64_t client_msg_id = 0;   // Send
  std::string text;                  // Send with Text content
  bool receive = true;               // Hello
  std::vector<std::pair<std::uint64_t, std::uint64_t>> cursors;  // Ack
  wire::Content content = wire::Content::NONE;  // Send
  std::uint64_t target_seq = 0;      // Send with Edit or Deletion content
  std::string login;                 // requests naming a user
  std::uint64_t conversation_id = 0; // Send, Report
  std::uint64_t seq = 0;             // Report; AdminListAudit: from_seq
  std::uint64_t device_id = 0;       // RevokeDevice
  std::uint32_t limit = 0;           // AdminListAudit
  std::string reason;                // Report, AdminSetHold, AdminLiftHold
  // Records management.
  std::uint64_t id = 0;              // the hold, case or export a request names
  std::uint64_t offset = 0;          // ExportDownload (its max_bytes in `limit`)
  bool flag = false;                 // include_lifted, dry_run, redact_others
  wire::HoldTarget hold_target = wire::HoldTarget::User;  // AdminSetHold (login, conversation_id)
  std::string case_ref;              // AdminSetHold
  wire::CaseKind case_kind = wire::CaseKind::SubjectAccess;  // CaseOpen
  std::string legal_basis;           // CaseOpen
  std::vector<std::string> subjects;        // CaseOpen
  std::vector<std::uint64_t> conversations; // CaseOpen
  std::int64_t from_us = 0;          // CaseOpen
  std::int64_t to_us = 0;            // CaseOpen
  std::string keyword;               // CaseOpen
  // Working hours.
  bool urgent = false;               // Send (its reason in `reason`)
  // ScheduleSet: the parts sent, e.g. "zone=Europe/Rome week=0:540-1020;1:|... days_off=..."
  // (a part that was left out does not appear). `login` names whose.
  std::string schedule;
  bool after_revoked = false;        // came after the Revoked event was pushed
  std::size_t frame = 0;             // index of the frame it came in
  int connection = 0;                // incremented by Restart()
};

class FakeBroker {
 public:
  FakeBroker();
  ~FakeBroker();
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  std::string endpoint() const { return endpoint_; }
  const crypto::KeyPair& keys() const { return keys_; }

  // The ZAP handler accepts this CURVE public key.
  void Allow(const std::string& public_key);

  // Behaviour switches (default in brackets).
  std::atomic<bool> ack_sends{true};       // answer Send with SendAck [true]
  std::atomic<bool> answer_requests{true}; // answer other requests [true]
  std::atomic<bool> audit_whole{false};    // AdminVerifyAudit finds the chain whole [false]
  // A Send to this conversation gets Error NotFound at once, whatever
  // ack_sends says. History of kAmendedConversation holds a text (seq 5), an
  // edit of it (6) and its deletion (7); of any other conversation two texts.
  static constexpr std::uint64_t kMissingConversation = 404;
  static constexpr std::uint64_t kAmendedConversation = 6;
  // History of kStrippedConversation holds a picture (seq 1) and a voice
  // message (seq 2) whose bytes retention removed at kStrippedAtUs.
  static constexpr std::uint64_t kStrippedConversation = 8;
  static constexpr std::int64_t kStrippedAtUs = 1'700'086'400'000'000;

  // Records management. Export kDoneExport is finished and holds
  // export_data(); kRunningExport is still running (a download is
  // FailedPrecondition); any other is NotFound. Hold, case and export id 404
  // are NotFound; case kUnapprovedCase cannot be exported yet
  // (FailedPrecondition) nor approved by its requester (PermissionDenied).
  static constexpr std::uint64_t kDoneExport = 77;
  static constexpr std::uint64_t kRunningExport = 78;
  static constexpr std::uint64_t kUnapprovedCase = 31;
  // How ExportDownload answers for kDoneExport.
  enum class ExportFault {
    kNone,
    kWrongOffset,    // the second chunk claims another offset
    kSizeChanges,    // the second chunk claims another total size
    kOtherExport,    // every chunk names another export
    kEndsEarly,      // the first chunk says done
    kError,          // the second request gets Error IoError
  };
  void SetExportData(std::string data);
  // ExportStatus of kRunningExport answers "running" this many more times,
  // then "done". Default: always running.
  std::atomic<int> running_polls{INT_MAX};
  std::atomic<ExportFault> export_fault{ExportFault::kNone};
  // Most bytes per chunk, below what the client asks for. Default: no limit.
  std::atomic<std::uint32_t> export_chunk_limit{UINT32_MAX};

  // Working hours. A Send to user kOffDutyUser (or to kOffDutyConversation)
  // is acknowledged with kOffDutyUser off duty until kBackOnDutyUs. An
  // urgent Send whose reason is kRefusedUrgentReason gets PermissionDenied.
  // ScheduleGet of "" or "ana" answers kSchedule() on duty until
  // kOnDutyUntilUs, of kOffDutyUser that schedule off duty until
  // kBackOnDutyUs, of "nobody" NotFound. ScheduleSet answers ana's schedule
  // with the parts sent replaced; one that sets a time zone is
  // PermissionDenied (ana may change the week, days off and shifts only).
  // History of kOffDutyConversation holds an urgent text from cy (seq 1,
  // reason "server room flooding") and an ordinary one (seq 2).
  // PresenceQuery of conversation 404 is NotFound; otherwise bob is online,
  // ben off duty until kBackOnDutyUs and cy offline.
  static constexpr char kOffDutyUser[] = "ben";
  static constexpr std::uint64_t kOffDutyConversation = 9;
  static constexpr std::int64_t kBackOnDutyUs = 1'795'593'600'000'000;   // 2026-11-25 08:00 UTC
  static constexpr std::int64_t kOnDutyUntilUs = 1'795'622'400'000'000;  // 2026-11-25 16:00 UTC
  static constexpr char kRefusedUrgentReason[] = "not allowed";
  // Europe/Berlin; Monday to Friday 09:00-12:30 and 13:30-17:00; day off
  // 2026-12-24; holidays 2026-12-25 and -26; 2026-12-01 worked 09:00-13:00;
  // profile "office"; may change week, days_off, shifts.
  static client::Schedule kSchedule();
  // Sends a Presence event to the last peer.
  void PushPresence(const std::string& login, wire::PresenceState state, std::int64_t until_us);

  // Sends a frame of Delivery events (text messages) to the last peer.
  void PushDeliveries(std::uint64_t conversation_id, std::vector<std::uint64_t> seqs,
                      const std::string& sender = "bob");
  // Sends a ConversationInfo event to the last peer.
  void PushConversation(std::uint64_t id, const std::string& name);
  // Sends a frame of Delivery events of stored messages (BuildStored...).
  void PushStored(const std::vector<std::string>& messages);
  // Sends a Revoked event to the last peer, followed in the same frame by
  // deliveries of `then_seqs` in conversation 6 (which the client must
  // ignore). From then on the fake answers nothing but ConfirmWipe (Done).
  void PushRevoked(const std::string& reason, std::vector<std::uint64_t> then_seqs = {});
  // The ZAP handler refuses this key from now on (it accepted it before).
  void Disallow(const std::string& public_key);
  // Closes the ROUTER (dropping every connection) and binds it again on the
  // same port.
  void Restart();

  std::vector<SeenEnvelope> Seen();
  std::size_t frames() const { return frames_.load(); }
  // Waits until `pred(Seen())` holds; false after `timeout_ms`.
  bool WaitFor(const std::function<bool(const std::vector<SeenEnvelope>&)>& pred,
               int timeout_ms = 5000);

 private:
  void Run();

  crypto::KeyPair keys_;
  std::string endpoint_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> restart_{false};
  std::atomic<bool> revoked_{false};
  std::atomic<std::size_t> frames_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::set<std::string> allowed_;           // GUARDED_BY(mutex_)
  std::vector<SeenEnvelope> seen_;          // GUARDED_BY(mutex_)
  // Frames to push, and whether the frame revokes the device.
  std::vector<std::pair<std::string, bool>> outbox_;  // GUARDED_BY(mutex_)
  std::map<std::uint64_t, std::uint64_t> head_seq_;  // broker thread only
  std::string export_data_ = "PK-fake-export";  // GUARDED_BY(mutex_)
  int connection_ = 0;
  bool ready_ = false;                      // GUARDED_BY(mutex_)
};

// Builds a Message as the broker stores it (its own FlatBuffer).
std::string BuildStoredMessage(std::uint64_t conversation_id, std::uint64_t seq,
                               const std::string& sender, const std::string& text);
// The same for an edit of `target_seq` with a new text, and a deletion.
std::string BuildStoredEdit(std::uint64_t conversation_id, std::uint64_t seq,
                            const std::string& sender, std::uint64_t target_seq,
                            const std::string& text);
std::string BuildStoredDeletion(std::uint64_t conversation_id, std::uint64_t seq,
                                const std::string& sender, std::uint64_t target_seq);
// A text message sent as urgent with `reason`.
std::string BuildStoredUrgent(std::uint64_t conversation_id, std::uint64_t seq,
                              const std::string& sender, const std::string& text,
                              const std::string& reason);
// A PNG picture message (image bytes "PNG-BYTES", thumbnail "THUMB").
std::string BuildStoredPicture(std::uint64_t conversation_id, std::uint64_t seq,
                               const std::string& sender);
// A picture (or, with `voice`, a voice message) whose bytes retention removed
// at `removed_at_us`: metadata only.
std::string BuildStoredStripped(std::uint64_t conversation_id, std::uint64_t seq,
                                const std::string& sender, bool voice,
                                std::int64_t removed_at_us);

}  // namespace chatpro::client::testing
