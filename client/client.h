// SPDX-License-Identifier: Apache-2.0
//
// libchatpro: the C++ client library for ChatPro.
//
//   auto profile = chatpro::client::Profile::Load(chatpro::client::Profile::DefaultDir());
//   chatpro::client::ClientOptions options;
//   options.on_message = [](const chatpro::client::Message& m) {
//     std::cout << m.sender << ": " << std::get<chatpro::client::Text>(m.content).body << "\n";
//   };
//   auto client = chatpro::client::Client::Connect(*profile, options);
//   auto ack = (*client)->Send(chatpro::client::Target::User("ana"),
//                              chatpro::client::Text{"Lunch at one?"}).get();
//
// A Client owns one background I/O thread and one CURVE-encrypted ZeroMQ
// connection. It reconnects by itself, says Hello again and resends whatever
// was not acknowledged (each send keeps its client message id, so a resend has
// exactly one effect). Deliveries are acknowledged after `on_message` returns.
//
// Revocation: when the broker says this device was revoked (its user was
// offboarded), the client fails everything pending with PermissionDenied,
// calls `on_revoked` so that the application wipes its local copy, wipes the
// profile (Profile::Wipe), confirms the wipe to the broker and ends in
// ConnectionState::kRevoked. A refused handshake (kRefused) wipes nothing.
//
// Thread-safety: every member function may be called from any thread, except
// that the blocking ones (those returning Result or Status) must not be called from a
// callback; they return FailedPrecondition if they are. Callbacks run on the
// I/O thread, one at a time, in delivery order. A Client must not be destroyed
// from one of its own callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "broker/base/result.h"

namespace chatpro::client {

// ------------------------------------------------------------------ content

struct Text {
  std::string body;
};

struct Voice {
  std::string codec;  // "opus", "aac", "wav", ...
  std::uint32_t duration_ms = 0;
  std::string audio;  // the encoded audio bytes
};

struct Picture {
  std::string mime_type;  // "image/jpeg", "image/png", ...
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::string image;      // the encoded image bytes
  std::string thumbnail;  // optional
};

// The sender changes the text of one of their earlier text messages
// (`target_seq` in the same conversation). Readers show the newest text; the
// original stays in the organisation's records.
struct Edit {
  std::uint64_t target_seq = 0;
  std::string text;
};

// The sender withdraws one of their earlier messages. Readers show it as
// deleted; the original stays in the organisation's records until retention
// removes it.
struct Deletion {
  std::uint64_t target_seq = 0;
};

// An Edit or Deletion is sent with Send() into the conversation of the message
// it names; it gets its own seq and is delivered in order like any message.
// Only the original's sender may edit or delete it, only texts are edited, and
// an edit or deletion cannot itself be edited (the broker answers
// PermissionDenied or InvalidArgument).
using Content = std::variant<Text, Voice, Picture, Edit, Deletion>;

struct Message {
  std::uint64_t conversation_id = 0;
  std::uint64_t seq = 0;
  std::string sender;  // login name
  std::uint64_t sender_device_id = 0;
  std::uint64_t client_msg_id = 0;
  std::int64_t sent_at_us = 0;  // broker receive time, Unix microseconds
  Content content;
  // When a retention policy removed the bytes of this voice message or
  // picture (Unix microseconds); 0 if the message is whole. A stripped
  // Voice or Picture keeps its metadata (codec, duration, MIME type, size)
  // but its audio, image and thumbnail are empty.
  std::int64_t attachments_removed_at_us = 0;
  // Sent as urgent (SendOptions) by someone the organisation allows to: it
  // reached its recipients also outside their working hours.
  bool urgent = false;
  std::string urgent_reason;
};

// ------------------------------------------------------------------ directory

enum class Role { kUser, kAdmin, kAuditor };
std::string_view RoleName(Role role);  // "user", "admin", "auditor"
// Parses a role name; InvalidArgument if unknown.
Result<Role> ParseRole(std::string_view name);

struct Member {
  std::string login;
  std::string display_name;
  bool owner = false;
};

enum class ConversationKind { kDirect, kGroup };

struct Conversation {
  std::uint64_t id = 0;
  ConversationKind kind = ConversationKind::kDirect;
  std::string name;  // the group's name, or the other person's login
  std::vector<Member> members;
  std::uint64_t head_seq = 0;
  std::uint64_t first_seq = 0;
};

struct UserInfo {
  std::uint64_t id = 0;
  std::string login;
  std::string display_name;
  Role role = Role::kUser;
  bool active = true;
  std::uint32_t devices = 0;
  std::int64_t created_at_us = 0;
};

// A group as administrators and auditors see it in the list of every group:
// who is in it and who owns it, never its messages.
struct GroupSummary {
  std::uint64_t id = 0;  // the conversation id
  std::string name;
  std::int64_t created_at_us = 0;
  std::vector<std::string> members;  // logins, in joining order (owners included)
  std::vector<std::string> owners;   // logins
};

struct InviteInfo {
  std::string login;
  std::string invite;  // chatpro://...
  std::int64_t expires_at_us = 0;
  std::string web_link;  // the same invite for a browser, when the broker serves the web chat
};

// What offboarding a user did (AdminDeactivateUser).
struct OffboardingInfo {
  std::string login;
  std::int64_t asked_at_us = 0;      // when the broker took the request, Unix microseconds
  std::uint32_t devices_revoked = 0;
  std::uint32_t sessions_closed = 0;
  std::int64_t last_session_closed_at_us = 0;  // 0 if no session was open
  std::uint32_t invites_cancelled = 0;
};

// One device (enrolled key) of a user.
struct DeviceInfo {
  std::uint64_t id = 0;
  std::string name;
  std::string client_version;
  std::int64_t created_at_us = 0;
  std::int64_t last_seen_us = 0;  // 0: never connected
  std::string last_address;       // the network address it last connected from
  bool active = true;             // false: revoked
  std::int64_t revoked_at_us = 0;
  bool online = false;            // has a session now
};

// A message someone reported to the organisation, with the copy kept as
// evidence.
struct ReportInfo {
  std::uint64_t id = 0;
  std::int64_t created_at_us = 0;
  std::string reporter;  // login
  std::string reason;
  std::uint64_t conversation_id = 0;
  std::uint64_t seq = 0;
  std::optional<Message> message;  // the evidence as it was reported; nullopt if none came
};

// One entry of the organisation's hash-chained audit log.
struct AuditEntryInfo {
  std::uint64_t seq = 0;
  std::int64_t at_us = 0;
  std::string actor;    // login of who did it; empty for the broker itself
  std::string action;   // e.g. "user.deactivate"
  std::string target;   // e.g. "user:ana"
  std::string details;  // a JSON object
  std::string hash;     // raw bytes of the entry's chain hash
};

// The result of checking the audit log's hash chain.
struct AuditVerification {
  bool whole = false;
  std::uint64_t records = 0;           // entries checked
  std::uint64_t first_broken_seq = 0;  // 0 if whole
  std::string message;                 // the broker's explanation
};

// ------------------------------------------------------------------ records management

// What a legal hold covers: a person (everything they sent or received) or
// one conversation. Exactly one of the two is set.
struct HoldTarget {
  std::string login;
  std::uint64_t conversation_id = 0;

  static HoldTarget User(std::string login) { return HoldTarget{std::move(login), 0}; }
  static HoldTarget Conversation(std::uint64_t id) { return HoldTarget{{}, id}; }
  bool is_user() const { return conversation_id == 0; }
};

// A legal hold: while it is in force no retention policy removes anything it
// covers.
struct HoldInfo {
  std::uint64_t id = 0;
  HoldTarget target;
  std::string case_ref;  // the organisation's reference, e.g. "LIT-2026-7"
  std::string reason;
  std::string created_by;  // login
  std::int64_t created_at_us = 0;
  std::string lifted_by;          // empty while in force
  std::int64_t lifted_at_us = 0;  // 0 while in force

  bool in_force() const { return lifted_at_us == 0; }
};

// What one retention policy (a plugin instance) removed, or would remove.
struct PolicyCount {
  std::string policy;  // the instance name from the broker's configuration
  std::uint64_t deleted = 0;   // messages
  std::uint64_t stripped = 0;  // messages whose attachment bytes go
};

// The outcome of a retention run (RunRetention).
struct RetentionReport {
  bool dry_run = true;  // true: nothing was removed; the counts say what would be
  std::int64_t started_at_us = 0;
  std::int64_t finished_at_us = 0;
  std::uint64_t messages_examined = 0;
  std::uint64_t messages_deleted = 0;
  std::uint64_t attachments_stripped = 0;
  std::uint64_t attachment_bytes = 0;  // audio and image bytes removed (or that would be)
  std::uint64_t conversations = 0;     // conversations touched
  std::uint64_t held_protected = 0;    // messages a legal hold kept
  std::vector<PolicyCount> policies;
};

// A plugin instance the broker has loaded.
struct PluginInfo {
  std::string name;     // the instance name from the configuration
  std::string plugin;   // the plugin's own name
  std::string library;  // the file it was loaded from
  bool accept_hook = false;     // decides on incoming messages
  bool retention_hook = false;  // decides what retention removes
  std::uint64_t failures = 0;   // calls that failed (a failing plugin never deletes)
};

enum class CaseKind {
  kSubjectAccess,  // a person asks for their data
  kSearch,         // an investigation: messages matching a scope
};
std::string_view CaseKindName(CaseKind kind);  // "subject-access", "search"
// Parses a case kind name; InvalidArgument if unknown.
Result<CaseKind> ParseCaseKind(std::string_view name);

// A request for access to people's messages (OpenCase).
struct CaseRequest {
  CaseKind kind = CaseKind::kSubjectAccess;
  std::string legal_basis;                  // why; required
  std::vector<std::string> subjects;        // logins whose data is concerned; at least one
  std::vector<std::uint64_t> conversations; // a search: only these (empty: all of the subjects')
  std::int64_t from_us = 0;                 // Unix microseconds; 0: from the start
  std::int64_t to_us = 0;                   // 0: until now
  std::string keyword;                      // a search: only messages containing it
  bool redact_others = false;               // replace other people's identities in the export
};

// A case as the broker keeps it.
struct CaseInfo {
  std::uint64_t id = 0;
  CaseKind kind = CaseKind::kSubjectAccess;
  std::string state;  // "awaiting approval", "approved", "expired", "exported"
  std::string legal_basis;
  std::vector<std::string> subjects;
  std::vector<std::uint64_t> conversations;
  std::int64_t from_us = 0;
  std::int64_t to_us = 0;
  std::string keyword;
  bool redact_others = false;
  std::string requested_by;
  std::int64_t requested_at_us = 0;
  std::string approved_by;  // empty until approved
  std::int64_t approved_at_us = 0;
  std::int64_t approval_expires_at_us = 0;     // exports must start before this
  std::int64_t visible_to_subjects_at_us = 0;  // end of the embargo (MyDataAccess)
};

// An export of an approved case: a zip file the broker builds in the
// background.
struct ExportInfo {
  std::uint64_t id = 0;
  std::uint64_t case_id = 0;
  std::string state;  // "running", "done", "failed"
  std::uint64_t messages = 0;
  std::uint64_t attachments = 0;
  std::uint64_t bytes = 0;  // size of the zip so far
  std::string error;        // why it failed

  bool running() const { return state == "running"; }
  bool done() const { return state == "done"; }
  bool failed() const { return state == "failed"; }
};

// A backup of the broker's store (StartBackup, BackupStatus, ListBackups).
struct BackupInfo {
  std::string name;
  std::string state;               // "running", "done", "failed"; "complete" for a listed backup
  std::int64_t started_at_us = 0;  // the backup is a snapshot of about this moment
  std::int64_t finished_at_us = 0;
  std::uint32_t store_format = 0;  // the store's format version
  std::string store_id;            // the store it came from (hex)
  std::string broker_version;      // the broker that made it
  std::uint64_t records = 0;       // rows that are not messages
  std::uint64_t messages = 0;
  std::uint64_t blobs = 0;  // large attachments
  std::uint64_t bytes = 0;  // copied so far
  std::string path;         // its folder on the broker's machine
  std::string error;        // why it failed

  bool running() const { return state == "running"; }
  bool failed() const { return state == "failed"; }
};

// The backups in the broker's backup folder.
struct BackupList {
  std::string folder;
  std::vector<BackupInfo> backups;  // oldest first; a running one last
};

// One piece of a finished export file (ReadExportChunk).
struct ExportChunk {
  std::uint64_t export_id = 0;
  std::uint64_t offset = 0;  // where `data` starts in the file
  std::string data;
  std::uint64_t total_bytes = 0;  // the file's size
  bool done = false;              // this chunk ends the file
};

// The most one export chunk carries (the broker's default). Default: 1 MiB.
constexpr std::uint32_t kExportChunkBytes = 1u << 20;

// Called by DownloadExport() after each chunk is written: bytes written so
// far and the file's total size.
using ExportProgress = std::function<void(std::uint64_t written, std::uint64_t total)>;

// What DownloadExport() does when the output file exists already.
enum class ExistingFile { kRefuse, kReplace };

// Who this connection is, from the broker's HelloReply.
struct SessionInfo {
  std::uint64_t user_id = 0;
  std::string login;
  std::string display_name;
  Role role = Role::kUser;
  std::uint64_t device_id = 0;
  std::string server_version;
  std::uint64_t max_text_bytes = 0;
  std::uint64_t max_attachment_bytes = 0;
  std::uint64_t max_frame_bytes = 0;
};

// ------------------------------------------------------------------ working hours

// A working period of a day: minutes from local midnight, [start, end).
// end_minute may be 1440 (midnight at the end of the day).
struct WorkPeriod {
  std::uint16_t start_minute = 0;
  std::uint16_t end_minute = 0;
};

// The working periods of one weekday (0 = Monday ... 6 = Sunday); none: the
// weekday is not worked.
struct DayHours {
  std::uint8_t weekday = 0;
  std::vector<WorkPeriod> periods;
};

// One local date worked differently: these periods instead of the week's
// (none: the whole day off).
struct ShiftChange {
  std::string date;  // YYYY-MM-DD in the schedule's time zone
  std::vector<WorkPeriod> periods;
};

// When someone works ("the timer"). Outside their working hours messages wait
// for them (unless urgent) and senders are told until when. Dates are local
// dates in `time_zone`.
//
// As read (GetSchedule): the effective schedule, the organisation's profile
// with the parts the person may change replaced by their own. An empty
// time_zone means no working hours at all: always on duty.
// As written (SetSchedule): only the parts that are not empty are sent and
// changed (a time zone, a week, a list of days off, a list of shift changes);
// the others stay as they are. A week replaces the whole week, so list every
// weekday (those not worked with no periods). Holidays, the profile and
// may_change are the organisation's: they are not for setting.
struct Schedule {
  std::string time_zone;  // IANA name, e.g. "Europe/Berlin"
  std::vector<DayHours> week;
  std::vector<std::string> days_off;  // YYYY-MM-DD: leave and other days off
  std::vector<std::string> holidays;  // YYYY-MM-DD: the organisation's public holidays
  std::vector<ShiftChange> shifts;
  std::string profile;                  // the organisation's default it derives from
  std::vector<std::string> may_change;  // of "time_zone", "week", "days_off", "shifts"
};

// Whether someone is at work now, and when that changes next.
struct DutyState {
  std::string login;
  bool on_duty = true;
  std::int64_t until_us = 0;  // Unix microseconds; 0: it never changes
};

// A person's schedule with their duty state now (GetSchedule, SetSchedule).
struct ScheduleInfo {
  std::string login;
  Schedule schedule;
  DutyState state;
};

enum class PresenceState { kOnline, kOffline, kOffDuty };
std::string_view PresenceStateName(PresenceState state);  // "online", "offline", "off duty"

// Someone's presence. Only people who share a conversation learn it.
struct PresenceInfo {
  std::string login;
  PresenceState state = PresenceState::kOffline;
  std::int64_t until_us = 0;  // kOffDuty: when work starts again (0: unknown)
};

// Right to disconnect: the messages that reached people outside their working
// hours, for one sender or one group.
struct DisconnectCount {
  std::string name;                  // the sender's login, or the group's name
  std::uint64_t conversation_id = 0;  // for a group
  std::uint64_t messages = 0;    // messages with at least one off-duty recipient
  std::uint64_t recipients = 0;  // (message, off-duty recipient) pairs
  std::uint64_t urgent = 0;      // of those messages, sent as urgent (delivered at once)
};

// AdminDisconnectReport: the counts in [from_us, to_us), per sender and per
// group, and the totals.
struct DisconnectReport {
  std::int64_t from_us = 0;
  std::int64_t to_us = 0;
  std::vector<DisconnectCount> senders;
  std::vector<DisconnectCount> groups;
  std::uint64_t messages = 0;
  std::uint64_t recipients = 0;
  std::uint64_t urgent = 0;
};

// ------------------------------------------------------------------ profile

// A device identity on disk: the folder holds `device.key` (mode 0600) and
// `profile.conf` (broker endpoint, broker key, login, device id). Several
// profiles let several users (or devices) run on one machine.
struct Profile {
  std::string dir;
  std::string endpoint;    // "tcp://host:port"
  std::string server_key;  // 32 raw bytes
  std::string public_key;  // 32 raw bytes
  std::string secret_key;  // 32 raw bytes
  std::string login;
  std::uint64_t user_id = 0;
  std::uint64_t device_id = 0;

  // $CHATPRO_PROFILE if set, else $XDG_CONFIG_HOME/chatpro or ~/.config/chatpro.
  static std::string DefaultDir();
  // On failure returns NotFound ("not enrolled: run chatpro enroll INVITE"),
  // PermissionDenied (key file readable by others) or InvalidArgument.
  static Result<Profile> Load(const std::string& dir);
  // Writes the profile into `dir`: creates the folder (mode 0700) if needed,
  // then `device.key` (mode 0600) and `profile.conf`, each replaced
  // atomically. On failure returns IoError naming the path, or
  // InvalidArgument if a key is not 32 bytes.
  Status Save() const;
  // Deletes the profile in `dir`: `device.key` is overwritten with zeros and
  // synced before it is unlinked, then `profile.conf` goes (and leftovers of
  // an interrupted Save()). Files that are not there are no error; the folder
  // itself stays. Afterwards Load(dir) returns NotFound. On failure returns
  // IoError naming the file (the remaining files are still deleted).
  static Status Wipe(const std::string& dir);
};

struct EnrollOptions {
  std::string device_name;  // default: the host name
  std::chrono::milliseconds timeout{15000};
  // Replace an existing profile in the folder. Default: refuse.
  bool overwrite = false;
};

// Enrolls this machine as a new device with `invite` (chatpro://...): makes a
// key pair, registers its public key with the one-time code, and writes the
// profile into `dir` (created with mode 0700). On failure returns
// InvalidArgument (not an invite), AlreadyExists (the folder holds a profile),
// PermissionDenied (the code is unknown, used or expired: the broker refused
// the handshake) or Unavailable (no answer within the timeout).
Result<Profile> Enroll(const std::string& dir, std::string_view invite,
                       const EnrollOptions& options = {});

// ------------------------------------------------------------------ client

// Where a message goes, or which conversation to read.
struct Target {
  std::uint64_t conversation_id = 0;
  std::string user;  // a login: the direct conversation with that person

  static Target User(std::string login) { return Target{0, std::move(login)}; }
  static Target Conversation(std::uint64_t id) { return Target{id, {}}; }
};

// How a message is sent. Default: an ordinary message.
struct SendOptions {
  // Break through the recipients' off-duty hours: the message reaches them at
  // once. Only senders the organisation's urgent policy names may (else the
  // broker answers PermissionDenied); the reason is required (InvalidArgument
  // without asking the broker) and goes into the audit log. Default: false.
  bool urgent = false;
  std::string urgent_reason;
};

struct SendResult {
  Status status;  // OK once the broker has stored the message
  std::uint64_t client_msg_id = 0;
  std::uint64_t conversation_id = 0;
  std::uint64_t seq = 0;
  std::int64_t sent_at_us = 0;
  bool duplicate = false;
  // The recipients who were off duty when the message was stored, each with
  // when their working hours start again (empty when everyone was on duty).
  // The message waits for them until then, unless it was urgent.
  std::vector<DutyState> off_duty;
};

struct HistoryQuery {
  std::uint64_t from_seq = 0;  // backward: before this seq (0 = newest); forward: from it
  std::uint32_t limit = 50;
  bool backward = true;
};

struct HistoryPage {
  std::uint64_t conversation_id = 0;
  std::vector<Message> messages;  // oldest first
  bool has_more = false;
};

enum class ConnectionState {
  kConnecting,   // no session yet, or reconnecting
  kConnected,    // the broker answered Hello
  kRefused,      // the broker refused this device's key (unknown or revoked);
                 // nothing is wiped, ZeroMQ keeps trying
  kRevoked,      // the broker revoked this device while connected: the profile
                 // is wiped and the client is closed for good (final state)
};

struct ClientOptions {
  // Receive deliveries. false: a send-only session (one-shot commands).
  bool receive = true;
  std::string client_version = "chatpro-cli/0.1";
  // How long blocking calls wait for their reply. Default: 15 s.
  std::chrono::milliseconds request_timeout{15000};
  // How long Connect() waits for the first session. Default: 15 s.
  std::chrono::milliseconds connect_timeout{15000};
  // Most Sends packed into one frame. Default: 256.
  std::uint32_t max_batch = 256;
  // Sends in flight without a SendAck before Send() blocks. Default: 65536.
  std::uint32_t max_unacked_sends = 65536;

  std::function<void(const Message&)> on_message;
  std::function<void(const Conversation&)> on_conversation;
  std::function<void(ConnectionState, const Status&)> on_state;
  // The broker revoked this device (its user was offboarded, or the device
  // was revoked), saying why. Called once, on the I/O thread, after every
  // pending send and request has failed with PermissionDenied ("this device
  // was revoked: REASON") and before the library wipes the profile (see
  // Profile::Wipe) and confirms the wipe to the broker; then the state
  // becomes kRevoked. The application deletes ITS local copy here: stored
  // messages, saved media. The client takes no further calls (they fail with
  // PermissionDenied); coming back needs a fresh enrollment.
  std::function<void(const std::string& reason)> on_revoked;
  // Someone who shares a conversation with this user came online, went
  // offline, or went off or on duty (the broker says so as it happens).
  std::function<void(const PresenceInfo&)> on_presence;
};

class Client {
 public:
  // Connects with the profile's device key and waits for the broker's
  // HelloReply. On failure returns PermissionDenied if the broker refused the
  // key, Unavailable if it did not answer within connect_timeout.
  static Result<std::unique_ptr<Client>> Connect(const Profile& profile, ClientOptions options);

  virtual ~Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  virtual SessionInfo session() const = 0;
  virtual ConnectionState state() const = 0;

  // Sends a message. The future is ready when the broker acknowledged it
  // (stored) or refused it (status says why). Blocks only while
  // max_unacked_sends are in flight. `options` marks it urgent (see
  // SendOptions: InvalidArgument at once if urgent without a reason).
  virtual std::future<SendResult> Send(Target to, Content content,
                                       SendOptions options = {}) = 0;
  // The same, with a callback on the I/O thread instead of a future.
  virtual void SendAsync(Target to, Content content,
                         std::function<void(const SendResult&)> done,
                         SendOptions options = {}) = 0;
  // Waits until every send so far is acknowledged or refused. Returns false on
  // timeout.
  virtual bool Flush(std::chrono::milliseconds timeout) = 0;

  virtual Result<HistoryPage> History(Target conversation, HistoryQuery query) = 0;
  virtual Result<Conversation> OpenDirect(std::string login) = 0;
  virtual Result<Conversation> CreateGroup(std::string name, std::vector<std::string> members) = 0;
  virtual Result<Conversation> AddMembers(std::uint64_t conversation_id,
                                          std::vector<std::string> members, bool as_owners) = 0;
  virtual Result<Conversation> RemoveMember(std::uint64_t conversation_id, std::string login) = 0;
  virtual Status LeaveGroup(std::uint64_t conversation_id) = 0;
  virtual Result<std::vector<Conversation>> ListConversations() = 0;
  // Finds a group by name among the user's conversations; NotFound if none,
  // InvalidArgument if several share the name.
  virtual Result<Conversation> FindGroup(std::string_view name) = 0;

  virtual Result<std::vector<UserInfo>> Directory() = 0;
  virtual Result<InviteInfo> CreateInvite(std::string login) = 0;
  virtual Result<InviteInfo> AdminAddUser(std::string login, std::string display_name,
                                          Role role) = 0;
  virtual Result<std::vector<UserInfo>> AdminListUsers() = 0;
  // Every group of the organisation with its members and owners
  // (administrators and auditors; PermissionDenied for others).
  virtual Result<std::vector<GroupSummary>> AdminListGroups() = 0;

  // Offboards a leaver (administrators): deactivates the user, revokes every
  // device of theirs (each session gets told to wipe and is dropped) and
  // cancels their pending invites. What they sent stays. On failure returns
  // the broker's error: PermissionDenied (not an admin), NotFound (no such
  // user), ...
  virtual Result<OffboardingInfo> AdminDeactivateUser(std::string login) = 0;
  // Lets a deactivated user back in (administrators): returns an invite for a
  // fresh enrollment; their revoked devices stay revoked.
  virtual Result<InviteInfo> AdminReactivateUser(std::string login) = 0;
  // The devices of `login`; empty: the caller's own. Others' devices are for
  // administrators.
  virtual Result<std::vector<DeviceInfo>> ListDevices(std::string login) = 0;
  // Revokes one device (one's own, or anyone's for administrators); that
  // device is told to wipe like a leaver's. `login` empty: the caller.
  virtual Status RevokeDevice(std::string login, std::uint64_t device_id) = 0;

  // After Block, no direct message passes between the caller and `login`, in
  // either direction (PermissionDenied). Unblock undoes it.
  virtual Status Block(std::string login) = 0;
  virtual Status Unblock(std::string login) = 0;
  // Sets the password `login` (empty: the caller) signs in to the web admin
  // console with, as an argon2id hash made by crypto::HashPassword (never the
  // password itself: the broker refuses anything but such a hash with
  // InvalidArgument); an empty hash clears it. Others' passwords are for
  // administrators (PermissionDenied); NotFound for an unknown login.
  virtual Status SetConsolePassword(std::string login, std::string password_hash) = 0;
  // The logins the caller has blocked.
  virtual Result<std::vector<std::string>> ListBlocked() = 0;
  // Reports message `seq` of a conversation the caller is a member of; the
  // broker keeps a copy of the message as evidence.
  virtual Status Report(std::uint64_t conversation_id, std::uint64_t seq, std::string reason) = 0;
  // The reports so far (administrators, auditors).
  virtual Result<std::vector<ReportInfo>> AdminListReports() = 0;

  // Audit log entries from `from_seq` on (0: the newest `limit`), at most
  // `limit` of them (administrators, auditors).
  virtual Result<std::vector<AuditEntryInfo>> AdminListAudit(std::uint64_t from_seq,
                                                             std::uint32_t limit) = 0;
  // Checks the audit log's hash chain (administrators, auditors). A broken
  // chain is a successful result with whole == false.
  virtual Result<AuditVerification> AdminVerifyAudit() = 0;

  // ---- records management. Each call returns the broker's error on
  // failure: PermissionDenied (the caller's role may not do this), NotFound
  // (no such user, conversation, hold, case or export), FailedPrecondition
  // (the state does not allow it, e.g. a case not yet approved, or a broker
  // built without the feature), InvalidArgument; and Unavailable if the broker
  // does not answer.

  // Puts a person or a conversation on legal hold (administrators): nothing
  // it covers is removed by any policy until the hold is lifted. `case_ref`
  // and `reason` are required (InvalidArgument, without asking the broker).
  virtual Result<HoldInfo> SetHold(HoldTarget target, std::string case_ref,
                                   std::string reason) = 0;
  // Lifts hold `hold_id` (administrators); `reason` is required.
  virtual Status LiftHold(std::uint64_t hold_id, std::string reason) = 0;
  // The holds in force, and with `include_lifted` the lifted ones too.
  virtual Result<std::vector<HoldInfo>> ListHolds(bool include_lifted) = 0;
  // Runs the retention policies now (administrators). With `dry_run` nothing
  // is removed and the report says what would be.
  virtual Result<RetentionReport> RunRetention(bool dry_run) = 0;
  // The plugin instances the broker has loaded (administrators, auditors).
  virtual Result<std::vector<PluginInfo>> ListPlugins() = 0;

  // Opens a case for access to people's messages. Four eyes: someone of the
  // other role must approve it (ApproveCase) before an export may start.
  // InvalidArgument without asking the broker if there is no legal basis, no
  // subject, or from_us > to_us.
  virtual Result<CaseInfo> OpenCase(CaseRequest request) = 0;
  virtual Result<CaseInfo> ApproveCase(std::uint64_t case_id) = 0;
  virtual Result<std::vector<CaseInfo>> ListCases() = 0;
  // Starts the export of an approved case; it runs in the background
  // (ExportStatus tells how far it is).
  virtual Result<ExportInfo> StartExport(std::uint64_t case_id) = 0;
  virtual Result<ExportInfo> ExportStatus(std::uint64_t export_id) = 0;
  // One piece of a finished export: at most `max_bytes` from `offset`. The
  // broker answers FailedPrecondition while the export is still running.
  virtual Result<ExportChunk> ReadExportChunk(std::uint64_t export_id, std::uint64_t offset,
                                              std::uint32_t max_bytes) = 0;
  // Downloads a finished export into `path`, a chunk of up to 1 MiB at a time
  // (never the whole file in memory): written into a temporary file (mode
  // 0600) beside `path`, synced, then renamed to `path`. `progress`, if set,
  // is called on this thread after each chunk.
  // On failure nothing is left at `path` or beside it, and returns
  // AlreadyExists if `path` exists and `existing` is kRefuse (checked before
  // the first request and again when renaming); DataLoss if the chunks do not
  // line up (a chunk for another export or offset, a size that changes, a
  // chunk past the end, a file that ends early); IoError naming the file; or
  // the broker's error (FailedPrecondition while it still runs).
  Status DownloadExport(std::uint64_t export_id, const std::string& path,
                        const ExportProgress& progress = {},
                        ExistingFile existing = ExistingFile::kRefuse);
  // Any user: the cases that concerned them, once their embargo has passed.
  virtual Result<std::vector<CaseInfo>> MyDataAccess() = 0;

  // ---- backups (administrators). Each call returns the broker's error on
  // failure: PermissionDenied, FailedPrecondition (a backup is running, or
  // the broker has no backup folder), AlreadyExists (the name is taken),
  // InvalidArgument (a bad name), NotFound (BackupStatus before any backup);
  // and Unavailable if the broker does not answer.

  // Starts a backup named `name` (empty: "chatpro-YYYYMMDD-HHMMSS", UTC) of
  // the store as it is now; it runs in the background (BackupStatus tells
  // how far it is).
  virtual Result<BackupInfo> StartBackup(std::string name) = 0;
  // The backup running, or the last one since the broker started.
  virtual Result<BackupInfo> BackupStatus() = 0;
  // The complete backups in the broker's backup folder, and a running one.
  virtual Result<BackupList> ListBackups() = 0;

  // ---- working hours. Each call returns the broker's error on failure:
  // PermissionDenied (someone else's schedule without being an administrator,
  // a part the person may not change, the report without being an
  // administrator or auditor), NotFound (no such user or conversation),
  // InvalidArgument (an unknown time zone, a bad period or date); and
  // Unavailable if the broker does not answer.

  // The schedule of `login` (empty: the caller's own; others' are for
  // administrators) and whether they are on duty now.
  virtual Result<ScheduleInfo> GetSchedule(std::string login = "") = 0;
  // Changes the parts of the schedule of `login` (empty: the caller) that
  // `schedule` sets (see Schedule); the organisation decides which parts a
  // person may change. On success returns the schedule as it is now.
  // InvalidArgument without asking the broker if `schedule` sets nothing, or
  // has a weekday above 6 or a period that is not 0 <= start < end <= 1440.
  virtual Result<ScheduleInfo> SetSchedule(std::string login, Schedule schedule) = 0;
  // The presence of everyone in conversation `conversation_id` (0: of
  // everyone who shares a conversation with the caller).
  virtual Result<std::vector<PresenceInfo>> Presence(std::uint64_t conversation_id = 0) = 0;
  // Right to disconnect (administrators, auditors): how many messages reached
  // people outside their working hours in [from_us, to_us), per sender and
  // per group. InvalidArgument without asking the broker unless
  // 0 <= from_us < to_us.
  virtual Result<DisconnectReport> AdminDisconnectReport(std::int64_t from_us,
                                                         std::int64_t to_us) = 0;

  // Stops handing deliveries to on_message. Called from on_message, the
  // current message still counts as processed; every later delivery (also
  // those already received in the same frame) is neither handed over nor
  // acknowledged, so the broker delivers it again to the next session. Used
  // by consumers that want exactly N messages (`chatpro listen --count N`).
  // Never blocks; may be called from any thread, callbacks included.
  virtual void StopReceiving() = 0;

 protected:
  Client() = default;
};

}  // namespace chatpro::client
