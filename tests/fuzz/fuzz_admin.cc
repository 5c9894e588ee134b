// SPDX-License-Identifier: Apache-2.0
//
// fuzz_admin: the administrator's requests. The input is mapped onto request
// bodies built with the real FlatBuffers builders, so that the admin
// service's parsing and checks run, not only the verifier: each envelope takes
// one byte for its request type and then fills that body's fields from the
// following bytes (logins mostly from the people the broker knows, ids mostly
// small, enums from raw bytes, so also out of range). Up to eight envelopes go
// into one frame from the session of boss, the administrator. An input whose
// first byte is 0xFF is instead sent as it is, as a raw frame.
//
// Invariants: every request of a built frame gets exactly one answer (an
// Error with a code and a message counts), unless boss's own session was cut
// (he revoked his own device) or the request runs in the background; and
// carol can still send dave a message, which if acknowledged is in her
// history (the canary in its lenient form: boss may deactivate either of
// them, revoke their devices or put them off duty).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_broker.h"

namespace wire = chatpro::wire;

namespace {

// Reads the input front to back; past its end every read gives zeros.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return size_ == 0; }
  std::uint8_t Byte() {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }
  bool Bool() { return (Byte() & 1) != 0; }
  std::uint64_t U64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | Byte();
    return v;
  }
  std::uint32_t U32() { return static_cast<std::uint32_t>(U64() >> 32); }
  std::int64_t I64() { return static_cast<std::int64_t>(U64()); }
  // Ids are mostly small, so that they name things that exist.
  std::uint64_t Id() {
    std::uint8_t b = Byte();
    return b < 0xF0 ? b % 16 : U64();
  }
  // Mostly a login the broker knows, else raw bytes (up to 63).
  std::string Login() {
    static const char* const kNames[] = {"boss", "ana", "carol", "dave", "", "nobody", "Ana", "erin"};
    std::uint8_t b = Byte();
    if (b < 0xC0) return kNames[b % (sizeof kNames / sizeof kNames[0])];
    return Raw();
  }
  std::string Text() {
    std::uint8_t b = Byte();
    if (b < 0x40) return "";
    if (b < 0x80) return "case 2026-17";
    return Raw();
  }
  std::string Raw() {
    std::size_t n = Byte() % 64;
    std::string out;
    while (n-- > 0 && size_ > 0) out.push_back(static_cast<char>(Byte()));
    return out;
  }
  std::size_t Count(std::size_t max) { return Byte() % (max + 1); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

using Fbb = flatbuffers::FlatBufferBuilder;
using StringVector = flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>>;

StringVector Strings(Fbb& fbb, Input& in, std::size_t max, bool logins) {
  std::vector<flatbuffers::Offset<flatbuffers::String>> v;
  for (std::size_t n = in.Count(max); n > 0; --n) {
    v.push_back(fbb.CreateString(logins ? in.Login() : in.Text()));
  }
  return fbb.CreateVector(v);
}

flatbuffers::Offset<flatbuffers::Vector<const wire::WorkPeriod*>> Periods(Fbb& fbb, Input& in) {
  std::vector<wire::WorkPeriod> v;
  for (std::size_t n = in.Count(3); n > 0; --n) {
    std::uint16_t start = static_cast<std::uint16_t>(in.Byte() * 8);
    std::uint16_t end = static_cast<std::uint16_t>(in.Byte() * 8);
    v.emplace_back(start, end);
  }
  return fbb.CreateVectorOfStructs(v);
}

flatbuffers::Offset<wire::Schedule> Schedule(Fbb& fbb, Input& in) {
  std::uint8_t zone = in.Byte();
  std::string time_zone = zone < 0x60 ? "Europe/Berlin" : zone < 0xC0 ? "UTC" : in.Raw();
  auto tz = fbb.CreateString(time_zone);
  std::vector<flatbuffers::Offset<wire::DayHours>> week;
  for (std::size_t n = in.Count(7); n > 0; --n) {
    std::uint8_t weekday = in.Byte();
    auto periods = Periods(fbb, in);
    week.push_back(wire::CreateDayHours(fbb, weekday, periods));
  }
  auto week_v = fbb.CreateVector(week);
  auto days_off = Strings(fbb, in, 2, false);
  auto holidays = Strings(fbb, in, 2, false);
  std::vector<flatbuffers::Offset<wire::ShiftChange>> shifts;
  for (std::size_t n = in.Count(2); n > 0; --n) {
    auto date = fbb.CreateString(in.Bool() ? "2026-12-24" : in.Raw());
    auto periods = Periods(fbb, in);
    shifts.push_back(wire::CreateShiftChange(fbb, date, periods));
  }
  auto shifts_v = fbb.CreateVector(shifts);
  auto profile = fbb.CreateString(in.Text());
  auto may_change = Strings(fbb, in, 2, false);
  return wire::CreateSchedule(fbb, tz, week_v, days_off, holidays, shifts_v, profile, may_change);
}

// Requests whose answer may come after the broker is idle (they run on a
// thread of their own) or never (refused before they start counts too).
bool MayAnswerLater(wire::Body type) {
  return type == wire::Body::AdminRetentionRun || type == wire::Body::ExportStart ||
         type == wire::Body::AdminBackup;
}

// Adds one envelope of the type the next byte chooses; returns its type.
wire::Body AddRequest(Fbb& fbb, Input& in, std::uint64_t rid,
                      std::vector<flatbuffers::Offset<wire::Envelope>>& envelopes) {
  flatbuffers::Offset<void> body;
  wire::Body type = wire::Body::NONE;
  switch (in.Byte() % 28) {
    case 0: {
      auto login = fbb.CreateString(in.Login());
      auto display = fbb.CreateString(in.Text());
      type = wire::Body::AdminAddUser;
      body = wire::CreateAdminAddUser(fbb, login, display, static_cast<wire::Role>(in.Byte()))
                 .Union();
      break;
    }
    case 1:
      type = wire::Body::AdminListUsers;
      body = wire::CreateAdminListUsers(fbb).Union();
      break;
    case 2: {
      auto login = fbb.CreateString(in.Login());
      type = wire::Body::AdminDeactivateUser;
      body = wire::CreateAdminDeactivateUser(fbb, login).Union();
      break;
    }
    case 3: {
      auto login = fbb.CreateString(in.Login());
      type = wire::Body::AdminReactivateUser;
      body = wire::CreateAdminReactivateUser(fbb, login).Union();
      break;
    }
    case 4: {
      auto login = fbb.CreateString(in.Login());
      type = wire::Body::ListDevices;
      body = wire::CreateListDevices(fbb, login).Union();
      break;
    }
    case 5: {
      auto login = fbb.CreateString(in.Login());
      type = wire::Body::RevokeDevice;
      body = wire::CreateRevokeDevice(fbb, login, in.Id()).Union();
      break;
    }
    case 6: {
      auto login = fbb.CreateString(in.Login());
      type = wire::Body::CreateInvite;
      body = wire::CreateCreateInvite(fbb, login).Union();
      break;
    }
    case 7:
      type = wire::Body::AdminListReports;
      body = wire::CreateAdminListReports(fbb).Union();
      break;
    case 8: {
      std::uint64_t from = in.Id();
      type = wire::Body::AdminListAudit;
      body = wire::CreateAdminListAudit(fbb, from, in.U32()).Union();
      break;
    }
    case 9:
      type = wire::Body::AdminVerifyAudit;
      body = wire::CreateAdminVerifyAudit(fbb).Union();
      break;
    case 10: {
      auto target = static_cast<wire::HoldTarget>(in.Byte());
      auto login = fbb.CreateString(in.Login());
      std::uint64_t conversation = in.Id();
      auto case_ref = fbb.CreateString(in.Text());
      auto reason = fbb.CreateString(in.Text());
      type = wire::Body::AdminSetHold;
      body = wire::CreateAdminSetHold(fbb, target, login, conversation, case_ref, reason).Union();
      break;
    }
    case 11: {
      std::uint64_t hold = in.Id();
      auto reason = fbb.CreateString(in.Text());
      type = wire::Body::AdminLiftHold;
      body = wire::CreateAdminLiftHold(fbb, hold, reason).Union();
      break;
    }
    case 12:
      type = wire::Body::AdminListHolds;
      body = wire::CreateAdminListHolds(fbb, in.Bool()).Union();
      break;
    case 13:
      type = wire::Body::AdminRetentionRun;
      body = wire::CreateAdminRetentionRun(fbb, in.Bool()).Union();
      break;
    case 14:
      type = wire::Body::AdminListPlugins;
      body = wire::CreateAdminListPlugins(fbb).Union();
      break;
    case 15: {
      auto kind = static_cast<wire::CaseKind>(in.Byte());
      auto basis = fbb.CreateString(in.Text());
      auto subjects = Strings(fbb, in, 3, true);
      std::vector<std::uint64_t> conversations;
      for (std::size_t n = in.Count(3); n > 0; --n) conversations.push_back(in.Id());
      auto conversations_v = fbb.CreateVector(conversations);
      std::int64_t from = in.I64();
      std::int64_t to = in.I64();
      auto keyword = fbb.CreateString(in.Text());
      type = wire::Body::CaseOpen;
      body = wire::CreateCaseOpen(fbb, kind, basis, subjects, conversations_v, from, to, keyword,
                                  in.Bool())
                 .Union();
      break;
    }
    case 16:
      type = wire::Body::CaseApprove;
      body = wire::CreateCaseApprove(fbb, in.Id()).Union();
      break;
    case 17:
      type = wire::Body::CaseList;
      body = wire::CreateCaseList(fbb).Union();
      break;
    case 18:
      type = wire::Body::ExportStart;
      body = wire::CreateExportStart(fbb, in.Id()).Union();
      break;
    case 19:
      type = wire::Body::ExportStatus;
      body = wire::CreateExportStatus(fbb, in.Id()).Union();
      break;
    case 20: {
      std::uint64_t id = in.Id();
      std::uint64_t offset = in.U64();
      type = wire::Body::ExportDownload;
      body = wire::CreateExportDownload(fbb, id, offset, in.U32()).Union();
      break;
    }
    case 21: {
      auto login = fbb.CreateString(in.Login());
      type = wire::Body::ScheduleGet;
      body = wire::CreateScheduleGet(fbb, login).Union();
      break;
    }
    case 22: {
      auto login = fbb.CreateString(in.Login());
      auto schedule = Schedule(fbb, in);
      type = wire::Body::ScheduleSet;
      body = wire::CreateScheduleSet(fbb, login, schedule).Union();
      break;
    }
    case 23: {
      std::int64_t from = in.I64();
      type = wire::Body::AdminDisconnectReport;
      body = wire::CreateAdminDisconnectReport(fbb, from, in.I64()).Union();
      break;
    }
    case 24: {
      auto action = static_cast<wire::BackupAction>(in.Byte());
      auto name = fbb.CreateString(in.Text());
      type = wire::Body::AdminBackup;
      body = wire::CreateAdminBackup(fbb, action, name).Union();
      break;
    }
    case 25: {
      std::uint64_t conversation = in.Id();
      std::uint64_t seq = in.Id();
      auto reason = fbb.CreateString(in.Text());
      type = wire::Body::Report;
      body = wire::CreateReport(fbb, conversation, seq, reason).Union();
      break;
    }
    case 26:
      type = wire::Body::MyDataAccess;
      body = wire::CreateMyDataAccess(fbb).Union();
      break;
    default:
      type = wire::Body::Directory;
      body = wire::CreateDirectory(fbb).Union();
      break;
  }
  envelopes.push_back(wire::CreateEnvelope(fbb, rid, type, body));
  return type;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chatpro::fuzz::FuzzBroker broker;
  const chatpro::fuzz::Session& boss = broker.boss();
  if (size > 0 && data[0] == 0xFF) {
    broker.Send(boss, data + 1, size - 1);
    broker.Settle();
    broker.Take(boss);
    broker.CheckCanary(/*strict=*/false);
    return 0;
  }

  Input in(data, size);
  Fbb fbb;
  std::vector<flatbuffers::Offset<wire::Envelope>> envelopes;
  std::vector<wire::Body> types;
  constexpr std::uint64_t kFirstRequestId = 1;
  for (int i = 0; i < 8 && (i == 0 || !in.empty()); ++i) {
    types.push_back(AddRequest(fbb, in, kFirstRequestId + i, envelopes));
  }
  broker.Send(boss, chatpro::fuzz::FinishFrame(fbb, envelopes));
  broker.Settle();

  std::vector<int> answers(types.size(), 0);
  bool boss_cut = false;
  for (const chatpro::fuzz::Received& r : broker.Take(boss)) {
    boss_cut = boss_cut || r.type == wire::Body::Revoked;
    if (r.request_id >= kFirstRequestId && r.request_id < kFirstRequestId + types.size()) {
      ++answers[r.request_id - kFirstRequestId];
    }
  }
  for (std::size_t i = 0; i < types.size(); ++i) {
    const std::string what = std::string(wire::EnumNameBody(types[i])) + " (envelope " +
                             std::to_string(i) + ") got " + std::to_string(answers[i]) +
                             " answers";
    FUZZ_CHECK(answers[i] <= 1, what);
    FUZZ_CHECK(answers[i] == 1 || boss_cut || MayAnswerLater(types[i]), what);
  }
  broker.CheckCanary(/*strict=*/false);
  return 0;
}
