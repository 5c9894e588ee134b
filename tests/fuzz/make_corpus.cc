// SPDX-License-Identifier: Apache-2.0
//
// fuzz_make_corpus: writes the seed corpus of the fuzz targets (corpus/ in
// this folder) from the real builders, so that it can be remade when the
// protocol grows:
//
//   build/bin/fuzz_make_corpus tests/fuzz/corpus service/chatpro.conf
//
//   fuzz_frame         one frame per request type, as libchatpro's FrameWriter
//                      builds them, plus a frame of several requests
//   fuzz_admin         for each request type of the mapping in fuzz_admin.cc,
//                      its selector byte and field bytes; raw admin frames
//   fuzz_config        the example config file and variants (flags after %%)
//   fuzz_client_frame  frames the broker sends: replies, a delivery, an error
//   fuzz_console       requests in fuzz_console.cc's encoding: a few valid ones
//                      per route (sign-in, users, audit, verify) and hostile
//                      ones (oversized and deeply nested JSON, markup in
//                      names, encoded dot-dot paths, NUL bytes)
//
// The output is deterministic (no keys, no clock), so a remade corpus differs
// only where the builders changed. Existing files of the same name are
// overwritten; nothing else is removed.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "chatpro/schemas/wire_generated.h"
#include "client/wire_codec.h"

namespace {

namespace fs = std::filesystem;
namespace wire = chatpro::wire;
namespace client = chatpro::client;
using client::internal::FrameWriter;

bool Write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", (dir / name).string().c_str());
    return false;
  }
  return true;
}

std::string Bytes(const flatbuffers::DetachedBuffer& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// One frame with one request, built by `add`.
template <typename F>
std::string Frame(F&& add) {
  FrameWriter w;
  add(w);
  return Bytes(w.Finish());
}

bool MakeFrames(const fs::path& dir) {
  client::Schedule schedule;
  schedule.time_zone = "Europe/Berlin";
  schedule.week = {client::DayHours{0, {client::WorkPeriod{480, 1020}}}};
  schedule.days_off = {"2026-12-24"};
  schedule.shifts = {client::ShiftChange{"2026-12-27", {client::WorkPeriod{600, 840}}}};
  client::CaseRequest case_request;
  case_request.legal_basis = "subject access request 2026-17";
  case_request.subjects = {"ana"};
  const client::Target carol = client::Target::User("carol");
  const std::vector<std::pair<std::string, std::string>> frames = {
      {"hello", Frame([](FrameWriter& w) { w.AddHello(1, "seed/1", true); })},
      {"send-text", Frame([&](FrameWriter& w) { w.AddSend(2, 1, carol, client::Text{"hi"}); })},
      {"send-voice", Frame([&](FrameWriter& w) {
         w.AddSend(3, 2, carol, client::Voice{"opus", 1200, std::string(16, '\x01')});
       })},
      {"send-picture", Frame([&](FrameWriter& w) {
         w.AddSend(4, 3, carol, client::Picture{"image/png", 1, 1, "\x89PNG", ""});
       })},
      {"send-edit", Frame([&](FrameWriter& w) {
         w.AddSend(5, 4, client::Target::Conversation(1), client::Edit{1, "fixed"});
       })},
      {"send-deletion", Frame([&](FrameWriter& w) {
         w.AddSend(6, 5, client::Target::Conversation(1), client::Deletion{1});
       })},
      {"ack", Frame([](FrameWriter& w) { w.AddAck({{1, 1}}); })},
      {"ping", Frame([](FrameWriter& w) { w.AddPing(7); })},
      {"goodbye", Frame([](FrameWriter& w) { w.AddGoodbye(); })},
      {"enroll", Frame([](FrameWriter& w) {
         w.AddEnroll(8, std::string(32, '\x07'), "seed phone", "seed/1");
       })},
      {"history", Frame([&](FrameWriter& w) { w.AddHistory(9, carol, client::HistoryQuery{}); })},
      {"open-direct", Frame([](FrameWriter& w) { w.AddOpenDirect(10, "dave"); })},
      {"create-group", Frame([](FrameWriter& w) { w.AddCreateGroup(11, "night", {"carol"}); })},
      {"add-members", Frame([](FrameWriter& w) { w.AddAddMembers(12, 2, {"dave"}, false); })},
      {"remove-member", Frame([](FrameWriter& w) { w.AddRemoveMember(13, 2, "dave"); })},
      {"leave-group", Frame([](FrameWriter& w) { w.AddLeaveGroup(14, 2); })},
      {"list-conversations", Frame([](FrameWriter& w) { w.AddListConversations(15); })},
      {"create-invite", Frame([](FrameWriter& w) { w.AddCreateInvite(16, ""); })},
      {"directory", Frame([](FrameWriter& w) { w.AddDirectory(17); })},
      {"list-devices", Frame([](FrameWriter& w) { w.AddListDevices(18, ""); })},
      {"revoke-device", Frame([](FrameWriter& w) { w.AddRevokeDevice(19, "ana", 2); })},
      {"confirm-wipe", Frame([](FrameWriter& w) { w.AddConfirmWipe(20); })},
      {"block", Frame([](FrameWriter& w) { w.AddBlock(21, "carol"); })},
      {"unblock", Frame([](FrameWriter& w) { w.AddUnblock(22, "carol"); })},
      {"list-blocked", Frame([](FrameWriter& w) { w.AddListBlocked(23); })},
      {"report", Frame([](FrameWriter& w) { w.AddReport(24, 1, 1, "spam"); })},
      {"my-data-access", Frame([](FrameWriter& w) { w.AddMyDataAccess(25); })},
      {"schedule-get", Frame([](FrameWriter& w) { w.AddScheduleGet(26, ""); })},
      {"schedule-set", Frame([&](FrameWriter& w) { w.AddScheduleSet(27, "", schedule); })},
      {"presence-query", Frame([](FrameWriter& w) { w.AddPresenceQuery(28, 1); })},
      {"admin-add-user", Frame([](FrameWriter& w) {
         w.AddAdminAddUser(29, "erin", "Erin", client::Role::kUser);
       })},
      {"admin-list-users", Frame([](FrameWriter& w) { w.AddAdminListUsers(30); })},
      {"admin-list-audit", Frame([](FrameWriter& w) { w.AddAdminListAudit(31, 0, 10); })},
      {"case-open", Frame([&](FrameWriter& w) { w.AddCaseOpen(32, case_request); })},
      {"export-download", Frame([](FrameWriter& w) { w.AddExportDownload(33, 1, 0, 4096); })},
      {"several", Frame([&](FrameWriter& w) {
         w.AddHello(40, "seed/1", true);
         w.AddOpenDirect(41, "carol");
         w.AddSend(42, 10, carol, client::Text{"first"});
         w.AddSend(43, 10, carol, client::Text{"first"});  // the resend
         w.AddHistory(44, carol, client::HistoryQuery{});
         w.AddAck({{1, 1}});
       })},
  };
  for (const auto& [name, bytes] : frames) {
    if (!Write(dir, name, bytes)) return false;
  }
  return true;
}

bool MakeAdmin(const fs::path& dir) {
  // fuzz_admin.cc maps the first byte (mod 28) to a request type and reads
  // its fields from the bytes after it; these give each type once with
  // mostly small values, and a few frames of several requests.
  for (int type = 0; type < 28; ++type) {
    std::string in;
    in.push_back(static_cast<char>(type));
    for (int i = 0; i < 24; ++i) in.push_back(static_cast<char>((type * 7 + i * 3) % 0x90));
    if (!Write(dir, "type-" + std::to_string(type), in)) return false;
  }
  // Add erin, deactivate her, reactivate her; open a case and approve it.
  if (!Write(dir, "add-deactivate-reactivate",
             std::string("\x00\x07\x41\x01\x02\x07\x03\x07", 8))) {
    return false;
  }
  if (!Write(dir, "case-open-approve",
             std::string("\x0f\x00\x80\x01\x01\x00", 6) + std::string(16, '\0') +
                 std::string("\x00\x00\x10\x01", 4))) {
    return false;
  }
  // 0xFF: the rest is a raw frame.
  std::string raw = Frame([](FrameWriter& w) {
    w.AddAdminListUsers(1);
    w.AddAdminVerifyAudit(2);
    w.AddAdminListHolds(3, true);
  });
  return Write(dir, "raw-admin-frame", "\xff" + raw);
}

bool MakeConfig(const fs::path& dir, const fs::path& example) {
  std::ifstream in(example, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in || text.empty()) {
    std::fprintf(stderr, "cannot read %s\n", example.string().c_str());
    return false;
  }
  const std::vector<std::pair<std::string, std::string>> files = {
      {"chatpro.conf", text},
      {"minimal", "[broker]\nlisten = tcp://127.0.0.1:7070\n"},
      {"sizes-durations",
       "[limits]\nmax_text_bytes = 32KiB\nmax_attachment_bytes = 16MiB\n"
       "[sessions]\ntimeout = 90s\n[retention]\ninterval = 1h\n"},
      {"quoted", "[broker]\npublic_address = \"chat.example.org:7070\" # comment\n"},
      {"plugin", "[plugin.keep]\nlibrary = keep_newest\ncount = 100\ncount = 200\n"},
      {"schedule",
       "[schedule.office]\ntime_zone = Europe/Berlin\nweek = mon-fri 08:00-17:00\n"
       "[urgent]\nallowed = role:admin, user:ana, profile:office\n"},
      {"flags", "[broker]\ndurability = os\n\n%%\nlimits.max_text_bytes=8KiB\n"
                "plugin.keep.library=keep_newest\nbroker.listen=tcp://127.0.0.1:7071\n"},
      {"bad-line", "[broker]\nthis line has no equals sign\n"},
      {"bad-section", "[broker\nlisten = x\n"},
  };
  for (const auto& [name, bytes] : files) {
    if (!Write(dir, name, bytes)) return false;
  }
  return true;
}

std::string BrokerFrame(flatbuffers::FlatBufferBuilder& fbb, std::uint64_t rid, wire::Body type,
                        flatbuffers::Offset<void> body) {
  std::vector<flatbuffers::Offset<wire::Envelope>> envelopes = {
      wire::CreateEnvelope(fbb, rid, type, body)};
  wire::FinishFrameBuffer(fbb, wire::CreateFrame(fbb, 1, fbb.CreateVector(envelopes)));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

bool MakeClientFrames(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> frames;
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto body = wire::CreateHelloReplyDirect(fbb, 1, "0.1.0", 3, "ana", "Ana", wire::Role::User, 4,
                                             65536, 16 << 20, 17 << 20, 0);
    frames.emplace_back("hello-reply", BrokerFrame(fbb, 1, wire::Body::HelloReply, body.Union()));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto body = wire::CreateSendAck(fbb, 1, 2, 3, 1'700'000'000'000'000, false);
    frames.emplace_back("send-ack", BrokerFrame(fbb, 2, wire::Body::SendAck, body.Union()));
  }
  {
    flatbuffers::FlatBufferBuilder message;
    auto text = wire::CreateText(message, message.CreateString("hello"));
    message.Finish(wire::CreateMessage(message, 2, 3, 3, message.CreateString("ana"), 4, 1,
                                       1'700'000'000'000'000, wire::Content::Text,
                                       text.Union()));
    flatbuffers::FlatBufferBuilder fbb;
    auto nested = fbb.CreateVector(message.GetBufferPointer(), message.GetSize());
    auto body = wire::CreateDelivery(fbb, nested);
    frames.emplace_back("delivery", BrokerFrame(fbb, 0, wire::Body::Delivery, body.Union()));

    flatbuffers::FlatBufferBuilder history;
    auto entry = wire::CreateDelivery(
        history, history.CreateVector(message.GetBufferPointer(), message.GetSize()));
    std::vector<flatbuffers::Offset<wire::Delivery>> entries = {entry};
    auto reply = wire::CreateHistoryReply(history, 2, history.CreateVector(entries), false);
    frames.emplace_back("history-reply",
                        BrokerFrame(history, 3, wire::Body::HistoryReply, reply.Union()));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto body = wire::CreateErrorDirect(fbb, wire::ErrorCode::NotFound, "no such user: erin");
    frames.emplace_back("error", BrokerFrame(fbb, 4, wire::Body::Error, body.Union()));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<wire::UserInfo>> users = {
        wire::CreateUserInfoDirect(fbb, 1, "boss", "Boss", wire::Role::Admin, true, 1, 0)};
    auto body = wire::CreateUserList(fbb, fbb.CreateVector(users));
    frames.emplace_back("user-list", BrokerFrame(fbb, 5, wire::Body::UserList, body.Union()));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto body = wire::CreateRevokedDirect(fbb, "offboarded", true);
    frames.emplace_back("revoked", BrokerFrame(fbb, 0, wire::Body::Revoked, body.Union()));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto body = wire::CreatePong(fbb, 1'700'000'000'000'000);
    frames.emplace_back("pong", BrokerFrame(fbb, 6, wire::Body::Pong, body.Union()));
  }
  for (const auto& [name, bytes] : frames) {
    if (!Write(dir, name, bytes)) return false;
  }
  return true;
}

// One request in fuzz_console.cc's encoding: the flags byte, the method and
// path selector bytes (with `path_bytes`, e.g. a login selector), the
// Content-Type selector (0: application/json), no extra headers, the body.
std::string ConsoleRequest(std::uint8_t flags, std::uint8_t method, std::uint8_t path,
                           const std::string& path_bytes, const std::string& body) {
  std::string out;
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(method));
  out.push_back(static_cast<char>(path));
  out += path_bytes;
  out.push_back('\0');  // Content-Type: application/json
  out.push_back('\0');  // no extra headers
  return out + body;
}

bool MakeConsole(const fs::path& dir) {
  // Flags: signed in with the CSRF token and this console's Origin, or not
  // signed in and without a token.
  constexpr std::uint8_t kSignedIn = 0x21, kAnonymous = 0x28;
  constexpr std::uint8_t kGet = 0, kPost = 1, kDelete = 2;
  // Path selectors (fuzz_console.cc's Path) and login selectors (Login).
  constexpr std::uint8_t kSession = 0, kStatus = 1, kUsers = 2, kDeactivate = 3,
                         kReactivate = 4, kDevices = 5, kAudit = 6, kAuditFrom = 7,
                         kVerify = 8, kRawApi = 14, kDashboard = 16, kCases = 17,
                         kApprove = 18, kExport = 19, kExportInfo = 20, kDownload = 21,
                         kGroups = 22, kPlugins = 23, kDryRun = 24, kRetentionRun = 25,
                         kHolds = 26, kLift = 28, kSchedules = 29, kSchedule = 30,
                         kDisconnect = 31;
  const std::string id1(1, '\1');  // Id(): case, export or hold 1
  const std::string ana(1, '\1'), carol(1, '\2');
  // fuzz_console.cc's kPassword: boss's console password.
  const std::string sign_in = "{\"login\":\"boss\",\"password\":\"fuzzing the console 2026\"}";
  std::string nested(4000, '[');
  nested += std::string(4000, ']');
  std::string with_nul = "{\"login\":\"bo";
  with_nul.push_back('\0');
  with_nul += "ss\",\"password\":\"x\"}";
  // A raw path's length byte, then the path.
  auto raw = [](const std::string& bytes) {
    return std::string(1, static_cast<char>(bytes.size())) + bytes;
  };
  const std::string raw_path = raw("..%2f..%2fetc%2fpasswd");
  std::vector<std::pair<std::string, std::string>> requests = {
      {"sign-in", ConsoleRequest(kAnonymous, kPost, kSession, "", sign_in)},
      {"sign-in-wrong", ConsoleRequest(kAnonymous, kPost, kSession, "",
                                       "{\"login\":\"ana\",\"password\":\"wrong\"}")},
      {"session", ConsoleRequest(kSignedIn, kGet, kSession, "", "")},
      {"sign-out", ConsoleRequest(kSignedIn, kDelete, kSession, "", "")},
      {"status", ConsoleRequest(kSignedIn, kGet, kStatus, "", "")},
      {"users", ConsoleRequest(kSignedIn, kGet, kUsers, "", "")},
      {"users-anonymous", ConsoleRequest(kAnonymous, kGet, kUsers, "", "")},
      {"add-user", ConsoleRequest(kSignedIn, kPost, kUsers, "",
                                  "{\"login\":\"erin\",\"display_name\":\"Erin\",\"role\":\"user\"}")},
      {"add-auditor", ConsoleRequest(kSignedIn, kPost, kUsers, "",
                                     "{\"login\":\"audrey\",\"display_name\":\"Audrey\","
                                     "\"role\":\"auditor\"}")},
      {"deactivate", ConsoleRequest(kSignedIn, kPost, kDeactivate, ana, "")},
      {"reactivate", ConsoleRequest(kSignedIn, kPost, kReactivate, carol, "")},
      {"devices", ConsoleRequest(kSignedIn, kGet, kDevices, ana, "")},
      {"audit", ConsoleRequest(kSignedIn, kGet, kAudit, "", "")},
      {"audit-from", ConsoleRequest(kSignedIn, kGet, kAuditFrom, raw("1&limit=5"), "")},
      {"verify", ConsoleRequest(kSignedIn, kPost, kVerify, "", "")},
      {"add-user-script", ConsoleRequest(kSignedIn, kPost, kUsers, "",
                                         "{\"login\":\"<script>alert(1)</script>\","
                                         "\"display_name\":\"<img src=x onerror=alert(1)>\"}")},
      {"add-user-oversized", ConsoleRequest(kSignedIn, kPost, kUsers, "",
                                            "{\"login\":\"" + std::string(70000, 'a') + "\"}")},
      {"add-user-nested", ConsoleRequest(kSignedIn, kPost, kUsers, "", nested)},
      {"sign-in-nul", ConsoleRequest(kAnonymous, kPost, kSession, "", with_nul)},
      {"dotdot-path", ConsoleRequest(kSignedIn, kGet, kRawApi, raw_path, "")},
      {"no-csrf", ConsoleRequest(0x29, kPost, kDeactivate, carol, "")},
      {"foreign-origin", ConsoleRequest(0x41, kPost, kDeactivate, carol, "")},
      {"dashboard", ConsoleRequest(kSignedIn, kGet, kDashboard, "", "")},
      {"cases", ConsoleRequest(kSignedIn, kGet, kCases, "", "")},
      {"open-case", ConsoleRequest(kSignedIn, kPost, kCases, "",
                                   "{\"kind\":\"subject_access\",\"legal_basis\":\"SAR 7\","
                                   "\"subjects\":[\"ana\"],\"conversations\":[1]}")},
      {"open-search", ConsoleRequest(kSignedIn, kPost, kCases, "",
                                     "{\"kind\":\"search\",\"legal_basis\":\"FOI 3\","
                                     "\"subjects\":[\"carol\",\"dave\"],\"keyword\":\"budget\","
                                     "\"from_at_us\":0,\"to_at_us\":0,\"redact_others\":true}")},
      {"approve", ConsoleRequest(kSignedIn, kPost, kApprove, id1, "")},
      {"export", ConsoleRequest(kSignedIn, kPost, kExport, id1, "")},
      {"export-info", ConsoleRequest(kSignedIn, kGet, kExportInfo, id1, "")},
      {"download", ConsoleRequest(kSignedIn, kGet, kDownload, id1, "")},
      {"groups", ConsoleRequest(kSignedIn, kGet, kGroups, "", "")},
      {"plugins", ConsoleRequest(kSignedIn, kGet, kPlugins, "", "")},
      {"dry-run", ConsoleRequest(kSignedIn, kPost, kDryRun, "", "")},
      {"retention-run", ConsoleRequest(kSignedIn, kPost, kRetentionRun, "", "")},
      {"holds", ConsoleRequest(kSignedIn, kGet, kHolds, "", "")},
      {"hold-user", ConsoleRequest(kSignedIn, kPost, kHolds, "",
                                   "{\"target\":\"user\",\"login\":\"ana\",\"case_ref\":\"C-1\","
                                   "\"reason\":\"tribunal\"}")},
      {"hold-conversation", ConsoleRequest(kSignedIn, kPost, kHolds, "",
                                           "{\"target\":\"conversation\",\"conversation_id\":1}")},
      {"lift", ConsoleRequest(kSignedIn, kPost, kLift, id1, "")},
      {"schedules", ConsoleRequest(kSignedIn, kGet, kSchedules, "", "")},
      {"schedule", ConsoleRequest(kSignedIn, kGet, kSchedule, carol, "")},
      {"disconnect-report", ConsoleRequest(kSignedIn, kGet, kDisconnect,
                                           raw("from_us=0&to_us=1900000000000000"), "")},
  };
  for (const auto& [name, bytes] : requests) {
    if (!Write(dir, name, bytes)) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR EXAMPLE_CONFIG\n", argv[0]);
    return 2;
  }
  fs::path root(argv[1]);
  bool ok = MakeFrames(root / "fuzz_frame") && MakeAdmin(root / "fuzz_admin") &&
            MakeConfig(root / "fuzz_config", argv[2]) &&
            MakeClientFrames(root / "fuzz_client_frame") && MakeConsole(root / "fuzz_console");
  return ok ? 0 : 1;
}
