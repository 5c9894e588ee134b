// SPDX-License-Identifier: Apache-2.0
//
// Working hours in the core: delivery held while people are off duty and
// resumed when their work starts, history on purpose, send acknowledgements
// naming off-duty recipients, urgent messages (policy, reason, audit, at
// once), presence told only to people who share a conversation, schedules
// people may and may not change, and the right-to-disconnect report.
//
// Time zones here are fixed offsets ("Etc/GMT-1" is UTC+1, as in the IANA
// database), implemented in the test, so every instant is easy to check; the
// real database and daylight-saving changes are tested with the time-zone
// library. The clock is the harness's.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/core/schedule.h"
#include "broker/core/tests/broker_harness.h"

namespace chatpro::core::testing {
namespace {

constexpr std::int64_t kHourUs = 3600 * kMicrosPerSecond;
constexpr std::int64_t kDayUs = 24 * kHourUs;
// Monday 2024-01-08 00:00 UTC.
constexpr std::int64_t kMonday = 1'704'672'000LL * kMicrosPerSecond;
// The office works 09:00-17:00 in UTC+1 on weekdays: 08:00-16:00 UTC.
constexpr std::int64_t kOfficeStartUtc = 8 * kHourUs;
constexpr std::int64_t kOfficeEndUtc = 16 * kHourUs;

// ------------------------------------------------------------------ fixed zones

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t DaysFromCivil(const LocalDate& d) {
  const int y = d.year - (d.month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned mp = d.month > 2 ? d.month - 3 : d.month + 9;
  const unsigned doy = (153 * mp + 2) / 5 + d.day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

LocalDate CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  LocalDate d;
  d.day = doy - (153 * mp + 2) / 5 + 1;
  d.month = mp < 10 ? mp + 3 : mp - 9;
  d.year = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (d.month <= 2 ? 1 : 0));
  return d;
}

// "UTC" and "Etc/GMT±N" (POSIX signs: Etc/GMT-1 is one hour ahead of UTC).
class FixedZones final : public ZoneDb {
 public:
  Status CheckZone(std::string_view zone) const override {
    if (OffsetUs(zone)) return Status::Ok();
    return Status::NotFound("unknown time zone '" + std::string(zone) + "'");
  }
  Result<LocalTime> ToLocal(std::string_view zone, std::int64_t utc_us) const override {
    std::optional<std::int64_t> offset = OffsetUs(zone);
    if (!offset) return CheckZone(zone);
    std::int64_t local = utc_us + *offset;
    std::int64_t days = FloorDiv(local, kDayUs);
    LocalTime t;
    t.date = CivilFromDays(days);
    t.weekday = static_cast<unsigned>(((days % 7) + 7 + 3) % 7);  // 1970-01-01: Thursday
    t.micros_of_day = local - days * kDayUs;
    return t;
  }
  Result<std::int64_t> ToUtc(std::string_view zone, const LocalDate& date,
                             std::uint32_t minute) const override {
    std::optional<std::int64_t> offset = OffsetUs(zone);
    if (!offset) return CheckZone(zone);
    return DaysFromCivil(date) * kDayUs + minute * 60 * kMicrosPerSecond - *offset;
  }

 private:
  static std::optional<std::int64_t> OffsetUs(std::string_view zone) {
    if (zone == "UTC" || zone == "Etc/UTC") return 0;
    if (zone.substr(0, 7) != "Etc/GMT" || zone.size() < 9) return std::nullopt;
    char sign = zone[7];
    if (sign != '+' && sign != '-') return std::nullopt;
    std::int64_t hours = 0;
    for (char c : zone.substr(8)) {
      if (c < '0' || c > '9') return std::nullopt;
      hours = hours * 10 + (c - '0');
    }
    if (hours > 14) return std::nullopt;
    return (sign == '-' ? hours : -hours) * kHourUs;
  }
};

std::vector<WorkPeriod> Periods(std::uint16_t from_hour, std::uint16_t to_hour) {
  return {WorkPeriod{static_cast<std::uint16_t>(from_hour * 60),
                     static_cast<std::uint16_t>(to_hour * 60)}};
}

// office (default): weekdays 09-17 in UTC+1, may change days off and shifts.
// night (nina): every day 20-24 in UTC+1, may change time zone and week.
// always (admin): no schedule.
std::vector<ScheduleProfile> Profiles() {
  ScheduleProfile office;
  office.name = "office";
  office.is_default = true;
  office.hours.time_zone = "Etc/GMT-1";
  for (int d = 0; d < 5; ++d) office.hours.week[d] = Periods(9, 17);
  office.hours.holidays = {LocalDate{2024, 12, 25}};
  office.may_change.days_off = true;
  office.may_change.shifts = true;
  ScheduleProfile night;
  night.name = "night";
  night.members = {"nina"};
  night.hours.time_zone = "Etc/GMT-1";
  for (int d = 0; d < 7; ++d) night.hours.week[d] = Periods(20, 24);
  night.may_change.time_zone = true;
  night.may_change.week = true;
  ScheduleProfile always;
  always.name = "always";
  always.members = {"admin"};
  return {office, night, always};
}

// ------------------------------------------------------------------ raw frames

// Everything the broker sent to one connection, verified, with the frames
// kept alive for the envelopes that point into them.
struct Got {
  std::vector<std::string> frames;
  std::vector<const wire::Envelope*> all;

  // The reply to `rid` (a Send that opens a direct chat is also answered
  // with the chat's ConversationInfo; that one is skipped).
  const wire::Envelope* Reply(std::uint64_t rid) const {
    const wire::Envelope* found = nullptr;
    for (const wire::Envelope* e : all) {
      if (e->request_id() != rid) continue;
      if (found == nullptr || found->body_type() == wire::Body::ConversationInfo) found = e;
    }
    return found;
  }
  std::vector<const wire::Message*> Deliveries(std::uint64_t conversation) const {
    std::vector<const wire::Message*> out;
    for (const wire::Envelope* e : all) {
      if (e->body_type() != wire::Body::Delivery) continue;
      const wire::Message* m = e->body_as_Delivery()->message_nested_root();
      if (m != nullptr && (conversation == 0 || m->conversation_id() == conversation)) {
        out.push_back(m);
      }
    }
    return out;
  }
  std::vector<Seq> Seqs(std::uint64_t conversation) const {
    std::vector<Seq> out;
    for (const wire::Message* m : Deliveries(conversation)) out.push_back(m->seq());
    return out;
  }
  // Presence events as "login:State".
  std::vector<std::string> Presences() const {
    std::vector<std::string> out;
    for (const wire::Envelope* e : all) {
      if (e->body_type() != wire::Body::Presence || e->request_id() != 0) continue;
      const wire::Presence* p = e->body_as_Presence();
      out.push_back(p->login()->str() + ":" + wire::EnumNamePresenceState(p->state()));
    }
    return out;
  }
};

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

std::string ErrorOf(const wire::Envelope* e) {
  if (e == nullptr) return "no reply";
  if (e->body_type() != wire::Body::Error) return "";
  return std::string(wire::EnumNameErrorCode(e->body_as_Error()->code())) + ": " +
         Str(e->body_as_Error()->message());
}

wire::ErrorCode CodeOf(const wire::Envelope* e) {
  if (e == nullptr || e->body_type() != wire::Body::Error) return wire::ErrorCode::Ok;
  return e->body_as_Error()->code();
}

// ------------------------------------------------------------------ fixture

class ScheduleTest : public BrokerTest {
 protected:
  void SetUp() override {
    CoreOptions options;
    // The clock jumps days ahead here; sessions stay.
    options.session_timeout_us = 400 * kDayUs;
    Boot(options);
    h_->clock().Set(kMonday + 10 * kHourUs);  // Monday 11:00 in UTC+1: the office works
    Configure();
    ana_ = AddUser("ana");
    bob_ = AddUser("bob");
    carl_ = AddUser("carl");
    nina_ = AddUser("nina");
    boss_ = AddUser("boss");
    auditor_ = AddUser("ines", wire::Role::Auditor);
    Tick();  // everyone has a duty state from here on
  }

  void Configure() {
    Status st = h_->broker().SetSchedules(Profiles(), {"role:admin", "user:boss"}, &zones_);
    ASSERT_TRUE(st.ok()) << st;
  }

  Got Take(const TestClient& c) {
    Got g;
    g.frames = h_->transport().TakeFrames(c.connection);
    for (const std::string& f : g.frames) {
      flatbuffers::Verifier v(reinterpret_cast<const std::uint8_t*>(f.data()), f.size());
      EXPECT_TRUE(wire::VerifyFrameBuffer(v));
      const wire::Frame* frame = wire::GetFrame(f.data());
      if (frame->envelopes() == nullptr) continue;
      for (const wire::Envelope* e : *frame->envelopes()) g.all.push_back(e);
    }
    return g;
  }
  // Sends `request` from `c`, settles, and returns all `c` got.
  Got Ask(const TestClient& c, Request& request) {
    c.Send(request);
    EXPECT_TRUE(Settle());
    return Take(c);
  }
  void TakeAll() {
    for (const TestClient* c : {&admin_, &ana_, &bob_, &carl_, &nina_, &boss_, &auditor_}) Take(*c);
  }

  // A text from `from`; `rid` is the request id to find its SendAck.
  Got Text(const TestClient& from, const Target& to, std::string_view text, std::uint64_t* rid,
           bool urgent = false, std::string_view reason = "") {
    *rid = next_rid_++;
    Request r;
    auto& fbb = r.builder();
    auto body = wire::CreateText(fbb, fbb.CreateString(text));
    auto to_user = to.user.empty() ? 0 : fbb.CreateString(to.user);
    auto why = reason.empty() ? 0 : fbb.CreateString(reason);
    auto send = wire::CreateSend(fbb, to.conversation_id, to_user, next_client_id_++,
                                 wire::Content::Text, body.Union(), urgent, why);
    r.Raw(*rid, wire::Body::Send, send.Union());
    return Ask(from, r);
  }
  // The SendAck's off-duty recipients as "login@until".
  static std::vector<std::string> OffDuty(const Got& g, std::uint64_t rid) {
    std::vector<std::string> out;
    const wire::Envelope* e = g.Reply(rid);
    EXPECT_NE(e, nullptr);
    if (e == nullptr) return out;
    EXPECT_EQ(e->body_type(), wire::Body::SendAck) << ErrorOf(e);
    if (e->body_type() != wire::Body::SendAck) return out;
    const auto* list = e->body_as_SendAck()->off_duty();
    if (list == nullptr) return out;
    for (const wire::DutyState* d : *list) {
      EXPECT_FALSE(d->on_duty());
      out.push_back(Str(d->login()) + "@" + std::to_string(d->until_us()));
    }
    return out;
  }
  std::uint64_t ConversationOf(const Got& g, std::uint64_t rid) {
    const wire::Envelope* e = g.Reply(rid);
    return e != nullptr && e->body_type() == wire::Body::SendAck
               ? e->body_as_SendAck()->conversation_id()
               : 0;
  }

  // Runs the broker's timers at the clock's time.
  void Tick() {
    h_->broker().OnTick();
    EXPECT_TRUE(Settle());
  }
  void At(std::int64_t utc_us) {
    h_->clock().Set(utc_us);
    Tick();
  }

  Got SetSchedule(
      const TestClient& by, std::string_view login, std::uint64_t* rid,
      const std::function<flatbuffers::Offset<wire::Schedule>(flatbuffers::FlatBufferBuilder&)>&
          make) {
    *rid = next_rid_++;
    Request r;
    auto& fbb = r.builder();
    auto schedule = make(fbb);
    auto body = wire::CreateScheduleSet(fbb, login.empty() ? 0 : fbb.CreateString(login), schedule);
    r.Raw(*rid, wire::Body::ScheduleSet, body.Union());
    return Ask(by, r);
  }

  std::vector<AuditView> AuditEntries(std::string_view action) {
    std::uint64_t rid = next_rid_++;
    admin_.Send(Request().AdminListAudit(rid, 0, 1000).Finish());
    EXPECT_TRUE(Settle());
    Envelope reply = admin_.TakeReply(rid);
    std::vector<AuditView> out;
    for (const AuditView& a : reply.audit) {
      if (a.action == action) out.push_back(a);
    }
    return out;
  }

  FixedZones zones_;
  TestClient ana_, bob_, carl_, nina_, boss_, auditor_;
  ClientMsgId next_client_id_ = 1;
};

// ------------------------------------------------------------------ delivery

TEST_F(ScheduleTest, OffDutyUserGetsNothingLiveFetchesHistoryAndGetsAllWhenWorkStarts) {
  TakeAll();
  At(kMonday + 18 * kHourUs);  // 19:00 in UTC+1: the office has gone home
  const std::int64_t tuesday_start = kMonday + kDayUs + kOfficeStartUtc;
  std::uint64_t rid = 0;
  std::uint64_t conversation = 0;
  for (int i = 0; i < 3; ++i) {
    Got acked = Text(bob_, ToUser("ana"), "msg " + std::to_string(i), &rid);
    EXPECT_EQ(OffDuty(acked, rid),
              std::vector<std::string>{"ana@" + std::to_string(tuesday_start)});
    conversation = ConversationOf(acked, rid);
  }
  ASSERT_NE(conversation, 0u);
  EXPECT_TRUE(Take(ana_).Deliveries(0).empty()) << "nothing live while off duty";
  EXPECT_EQ(h_->broker().stats().off_duty_held.load(), 3u);

  // A new session of hers gets no catch-up either.
  TestClient phone = h_->Reconnect(ana_);
  ASSERT_TRUE(Settle());
  EXPECT_TRUE(Deliveries(phone.Take()).empty());
  EXPECT_TRUE(Take(phone).Deliveries(0).empty());

  // Fetching on purpose works.
  std::uint64_t history = next_rid_++;
  Got h = Ask(ana_, Request().History(history, conversation, 0, 50, true));
  const wire::Envelope* reply = h.Reply(history);
  ASSERT_NE(reply, nullptr);
  ASSERT_EQ(reply->body_type(), wire::Body::HistoryReply) << ErrorOf(reply);
  EXPECT_EQ(reply->body_as_HistoryReply()->messages()->size(), 3u);

  // Still nothing a minute before work; everything when it starts.
  At(tuesday_start - 60 * kMicrosPerSecond);
  EXPECT_TRUE(Take(ana_).Deliveries(0).empty());
  At(tuesday_start);
  EXPECT_EQ(Take(ana_).Seqs(conversation), SeqRange(1, 3));
  EXPECT_EQ(Take(phone).Seqs(conversation), SeqRange(1, 3));

  // On duty: live again, and the acknowledgement names nobody.
  Got acked = Text(bob_, ToUser("ana"), "good morning", &rid);
  EXPECT_TRUE(OffDuty(acked, rid).empty());
  EXPECT_EQ(Take(ana_).Seqs(conversation), std::vector<Seq>{4});
}

TEST_F(ScheduleTest, GroupWithMixedMembersHoldsOnlyForThoseOffDuty) {
  std::uint64_t group = CreateGroup(admin_, "ops", {"ana", "carl", "nina"});
  ASSERT_NE(group, 0u);
  TakeAll();
  At(kMonday + 19 * kHourUs + 30 * 60 * kMicrosPerSecond);  // 20:30 in UTC+1: nina's shift
  std::uint64_t rid = 0;
  Got acked = Text(admin_, Conv(group), "the server is down", &rid);
  const std::string until = std::to_string(kMonday + kDayUs + kOfficeStartUtc);
  std::vector<std::string> off = OffDuty(acked, rid);
  std::sort(off.begin(), off.end());
  EXPECT_EQ(off, (std::vector<std::string>{"ana@" + until, "carl@" + until}));
  EXPECT_EQ(Take(nina_).Seqs(group), std::vector<Seq>{1});
  EXPECT_TRUE(Take(ana_).Seqs(group).empty());
  EXPECT_TRUE(Take(carl_).Seqs(group).empty());

  // nina's shift ends at midnight local (23:00 UTC); the office starts at 08:00 UTC.
  At(kMonday + 23 * kHourUs);
  acked = Text(admin_, Conv(group), "still down", &rid);
  EXPECT_EQ(OffDuty(acked, rid).size(), 3u);
  EXPECT_TRUE(Take(nina_).Seqs(group).empty());
  At(kMonday + kDayUs + kOfficeStartUtc);
  EXPECT_EQ(Take(ana_).Seqs(group), SeqRange(1, 2));
  EXPECT_EQ(Take(carl_).Seqs(group), SeqRange(1, 2));
  EXPECT_TRUE(Take(nina_).Seqs(group).empty()) << "nina is off duty until 19:00 UTC";
  At(kMonday + kDayUs + 19 * kHourUs);
  EXPECT_EQ(Take(nina_).Seqs(group), std::vector<Seq>{2});
}

// ------------------------------------------------------------------ urgent

TEST_F(ScheduleTest, UrgentNeedsThePolicyAndAReason) {
  At(kMonday + 18 * kHourUs);
  std::uint64_t rid = 0;
  Got refused = Text(bob_, ToUser("ana"), "call me", &rid, /*urgent=*/true, "server down");
  EXPECT_EQ(CodeOf(refused.Reply(rid)), wire::ErrorCode::PermissionDenied);
  EXPECT_NE(ErrorOf(refused.Reply(rid)).find("urgent policy"), std::string::npos)
      << ErrorOf(refused.Reply(rid));
  EXPECT_NE(ErrorOf(refused.Reply(rid)).find("user:boss"), std::string::npos);
  Got no_reason = Text(boss_, ToUser("ana"), "call me", &rid, /*urgent=*/true, "");
  EXPECT_EQ(CodeOf(no_reason.Reply(rid)), wire::ErrorCode::InvalidArgument)
      << ErrorOf(no_reason.Reply(rid));
  EXPECT_TRUE(Take(ana_).Deliveries(0).empty());
  EXPECT_TRUE(AuditEntries("message.urgent").empty());
}

TEST_F(ScheduleTest, UrgentMessageDeliversItsBacklogAtOnceAndIsAudited) {
  TakeAll();
  At(kMonday + 18 * kHourUs);
  std::uint64_t rid = 0;
  Got first = Text(boss_, ToUser("ana"), "fyi", &rid);
  std::uint64_t conversation = ConversationOf(first, rid);
  Text(boss_, ToUser("ana"), "and this", &rid);
  Got unrelated = Text(bob_, ToUser("ana"), "unrelated", &rid);
  std::uint64_t other = ConversationOf(unrelated, rid);
  EXPECT_TRUE(Take(ana_).Deliveries(0).empty());

  Got urgent = Text(boss_, ToUser("ana"), "the plant is on fire", &rid, true, "fire");
  EXPECT_EQ(OffDuty(urgent, rid).size(), 1u) << "she was off duty; it reached her anyway";
  Got got = Take(ana_);
  EXPECT_EQ(got.Seqs(conversation), SeqRange(1, 3));
  EXPECT_TRUE(got.Seqs(other).empty()) << "other conversations keep waiting";
  std::vector<const wire::Message*> delivered = got.Deliveries(conversation);
  ASSERT_EQ(delivered.size(), 3u);
  EXPECT_FALSE(delivered[1]->urgent());
  EXPECT_TRUE(delivered[2]->urgent());
  EXPECT_EQ(Str(delivered[2]->urgent_reason()), "fire");

  // What follows without urgency waits again.
  Text(boss_, ToUser("ana"), "ok thanks", &rid);
  EXPECT_TRUE(Take(ana_).Deliveries(0).empty());

  std::vector<AuditView> audit = AuditEntries("message.urgent");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "boss");
  EXPECT_EQ(audit[0].target, "conversation:" + std::to_string(conversation));
  EXPECT_NE(audit[0].details.find("\"reason\":\"fire\""), std::string::npos) << audit[0].details;
  EXPECT_EQ(h_->broker().stats().urgent_messages.load(), 1u);

  At(kMonday + kDayUs + kOfficeStartUtc);
  got = Take(ana_);
  EXPECT_EQ(got.Seqs(conversation), std::vector<Seq>{4});
  EXPECT_EQ(got.Seqs(other), std::vector<Seq>{1});
}

TEST_F(ScheduleTest, AdministratorsMaySendUrgentByRole) {
  At(kMonday + 18 * kHourUs);
  std::uint64_t rid = 0;
  Got sent = Text(admin_, ToUser("carl"), "badge system down", &rid, true, "security");
  ASSERT_EQ(ErrorOf(sent.Reply(rid)), "");
  EXPECT_EQ(Take(carl_).Deliveries(0).size(), 1u);
}

// ------------------------------------------------------------------ presence

TEST_F(ScheduleTest, PresenceGoesOnlyToPeopleWhoShareAConversation) {
  std::uint64_t rid = 0;
  Text(bob_, ToUser("ana"), "hi", &rid);
  TakeAll();

  // ana closes her session: bob learns she is offline, carl learns nothing.
  std::uint64_t bye = next_rid_++;
  Request goodbye;
  goodbye.Raw(bye, wire::Body::Goodbye, wire::CreateGoodbye(goodbye.builder()).Union());
  ana_.Send(goodbye);
  ASSERT_TRUE(Settle());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(Take(bob_).Presences(), std::vector<std::string>{"ana:Offline"});
  EXPECT_TRUE(Take(carl_).Presences().empty());

  TestClient back = h_->Reconnect(ana_);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(Take(bob_).Presences(), std::vector<std::string>{"ana:Online"});
  EXPECT_TRUE(Take(carl_).Presences().empty());
  // A second session of hers changes nothing others see.
  TestClient tablet = h_->Reconnect(ana_);
  ASSERT_TRUE(Settle());
  EXPECT_TRUE(Take(bob_).Presences().empty());

  // The office goes home: each of them learns the other is off duty, with until.
  At(kMonday + kOfficeEndUtc);
  Got bob_got = Take(bob_);
  std::vector<std::string> seen = bob_got.Presences();
  EXPECT_EQ(seen, std::vector<std::string>{"ana:OffDuty"});
  for (const wire::Envelope* e : bob_got.all) {
    if (e->body_type() == wire::Body::Presence) {
      EXPECT_EQ(e->body_as_Presence()->until_us(), kMonday + kDayUs + kOfficeStartUtc);
    }
  }
  EXPECT_EQ(Take(back).Presences(), std::vector<std::string>{"bob:OffDuty"});
  EXPECT_TRUE(Take(carl_).Presences().empty());
  EXPECT_TRUE(Take(nina_).Presences().empty());
  EXPECT_TRUE(Take(admin_).Presences().empty());

  // And back at work.
  At(kMonday + kDayUs + kOfficeStartUtc);
  EXPECT_EQ(Take(bob_).Presences(), std::vector<std::string>{"ana:Online"});
  EXPECT_TRUE(Take(carl_).Presences().empty());
}

TEST_F(ScheduleTest, PresenceQueryCoversOnlySharedConversations) {
  std::uint64_t rid = 0;
  Got hi = Text(bob_, ToUser("ana"), "hi", &rid);
  std::uint64_t direct = ConversationOf(hi, rid);
  std::uint64_t group = CreateGroup(admin_, "night shift", {"nina", "carl"});
  TakeAll();
  At(kMonday + 18 * kHourUs);

  std::uint64_t q = next_rid_++;
  Request r;
  r.Raw(q, wire::Body::PresenceQuery, wire::CreatePresenceQuery(r.builder(), group).Union());
  Got refused = Ask(ana_, r);
  EXPECT_EQ(CodeOf(refused.Reply(q)), wire::ErrorCode::PermissionDenied);

  q = next_rid_++;
  Request all;
  all.Raw(q, wire::Body::PresenceQuery, wire::CreatePresenceQuery(all.builder(), 0).Union());
  Got listed = Ask(ana_, all);
  const wire::Envelope* e = listed.Reply(q);
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->body_type(), wire::Body::PresenceList) << ErrorOf(e);
  ASSERT_EQ(e->body_as_PresenceList()->entries()->size(), 1u);
  const wire::Presence* bob = e->body_as_PresenceList()->entries()->Get(0);
  EXPECT_EQ(Str(bob->login()), "bob");
  EXPECT_EQ(bob->state(), wire::PresenceState::OffDuty);
  EXPECT_EQ(bob->until_us(), kMonday + kDayUs + kOfficeStartUtc);

  q = next_rid_++;
  Request in_group;
  in_group.Raw(q, wire::Body::PresenceQuery,
               wire::CreatePresenceQuery(in_group.builder(), direct).Union());
  Got direct_list = Ask(bob_, in_group);
  ASSERT_EQ(direct_list.Reply(q)->body_type(), wire::Body::PresenceList);
  EXPECT_EQ(direct_list.Reply(q)->body_as_PresenceList()->entries()->size(), 2u);
}

// ------------------------------------------------------------------ schedules

flatbuffers::Offset<wire::Schedule> DaysOff(flatbuffers::FlatBufferBuilder& fbb,
                                            std::vector<std::string> dates) {
  return wire::CreateSchedule(fbb, 0, 0, fbb.CreateVectorOfStrings(dates));
}

TEST_F(ScheduleTest, ScheduleSetTakesOnlyWhatTheProfileLetsChangeAndIsAudited) {
  std::uint64_t rid = 0;
  // The office may not change its week.
  Got refused = SetSchedule(ana_, "", &rid, [](flatbuffers::FlatBufferBuilder& fbb) {
    std::vector<wire::WorkPeriod> p{wire::WorkPeriod(6 * 60, 14 * 60)};
    std::vector<flatbuffers::Offset<wire::DayHours>> week{
        wire::CreateDayHours(fbb, 0, fbb.CreateVectorOfStructs(p))};
    return wire::CreateSchedule(fbb, 0, fbb.CreateVector(week));
  });
  EXPECT_EQ(CodeOf(refused.Reply(rid)), wire::ErrorCode::PermissionDenied)
      << ErrorOf(refused.Reply(rid));
  EXPECT_NE(ErrorOf(refused.Reply(rid)).find("week"), std::string::npos);
  refused = SetSchedule(ana_, "", &rid, [](flatbuffers::FlatBufferBuilder& fbb) {
    return wire::CreateSchedule(fbb, 0, 0, 0,
                                fbb.CreateVectorOfStrings({std::string("2024-05-01")}));
  });
  EXPECT_EQ(CodeOf(refused.Reply(rid)), wire::ErrorCode::PermissionDenied)
      << "holidays are the organisation's";
  Got bad = SetSchedule(ana_, "", &rid, [](flatbuffers::FlatBufferBuilder& fbb) {
    return DaysOff(fbb, {"2024-02-30"});
  });
  EXPECT_EQ(CodeOf(bad.Reply(rid)), wire::ErrorCode::InvalidArgument) << ErrorOf(bad.Reply(rid));
  // Others' schedules are for administrators.
  Got not_hers = SetSchedule(ana_, "bob", &rid, [](flatbuffers::FlatBufferBuilder& fbb) {
    return DaysOff(fbb, {"2024-01-09"});
  });
  EXPECT_EQ(CodeOf(not_hers.Reply(rid)), wire::ErrorCode::PermissionDenied);
  EXPECT_TRUE(AuditEntries("schedule.set").empty());

  // Tuesday off.
  Got set = SetSchedule(ana_, "", &rid, [](flatbuffers::FlatBufferBuilder& fbb) {
    return DaysOff(fbb, {"2024-01-09"});
  });
  const wire::Envelope* info = set.Reply(rid);
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->body_type(), wire::Body::ScheduleInfo) << ErrorOf(info);
  const wire::ScheduleInfo* si = info->body_as_ScheduleInfo();
  EXPECT_EQ(Str(si->login()), "ana");
  EXPECT_EQ(Str(si->schedule()->profile()), "office");
  EXPECT_EQ(Str(si->schedule()->time_zone()), "Etc/GMT-1");
  ASSERT_EQ(si->schedule()->days_off()->size(), 1u);
  EXPECT_EQ(si->schedule()->days_off()->Get(0)->str(), "2024-01-09");
  EXPECT_EQ(si->schedule()->holidays()->size(), 1u);
  EXPECT_TRUE(si->state()->on_duty());
  EXPECT_EQ(si->state()->until_us(), kMonday + kOfficeEndUtc);

  std::vector<AuditView> audit = AuditEntries("schedule.set");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "ana");
  EXPECT_EQ(audit[0].target, "user:ana");

  // Tuesday she is not at work: messages wait until Wednesday.
  At(kMonday + kDayUs + 10 * kHourUs);
  Got acked = Text(bob_, ToUser("ana"), "are you there?", &rid);
  EXPECT_EQ(
      OffDuty(acked, rid),
      std::vector<std::string>{"ana@" + std::to_string(kMonday + 2 * kDayUs + kOfficeStartUtc)});

  // An administrator sets a shift for someone else.
  Got by_admin = SetSchedule(admin_, "carl", &rid, [](flatbuffers::FlatBufferBuilder& fbb) {
    std::vector<wire::WorkPeriod> p{wire::WorkPeriod(12 * 60, 20 * 60)};
    std::vector<flatbuffers::Offset<wire::ShiftChange>> shifts{
        wire::CreateShiftChange(fbb, fbb.CreateString("2024-01-09"), fbb.CreateVectorOfStructs(p))};
    return wire::CreateSchedule(fbb, 0, 0, 0, 0, fbb.CreateVector(shifts));
  });
  ASSERT_EQ(ErrorOf(by_admin.Reply(rid)), "");
  EXPECT_FALSE(by_admin.Reply(rid)->body_as_ScheduleInfo()->state()->on_duty());
  EXPECT_EQ(by_admin.Reply(rid)->body_as_ScheduleInfo()->state()->until_us(),
            kMonday + kDayUs + 11 * kHourUs);
  audit = AuditEntries("schedule.set");
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1].actor, "admin");
  EXPECT_EQ(audit[1].target, "user:carl");

  // Own schedules survive a restart.
  h_->Restart();
  Configure();
  admin_ = h_->Reconnect(admin_);
  ana_ = h_->Reconnect(ana_);
  std::uint64_t get = next_rid_++;
  Request r;
  r.Raw(get, wire::Body::ScheduleGet, wire::CreateScheduleGet(r.builder()).Union());
  Got got = Ask(ana_, r);
  ASSERT_EQ(ErrorOf(got.Reply(get)), "");
  ASSERT_NE(got.Reply(get)->body_as_ScheduleInfo()->schedule()->days_off(), nullptr);
  EXPECT_EQ(got.Reply(get)->body_as_ScheduleInfo()->schedule()->days_off()->size(), 1u);
  EXPECT_FALSE(got.Reply(get)->body_as_ScheduleInfo()->state()->on_duty());
}

TEST_F(ScheduleTest, ScheduleSetAcceptsWhatScheduleGetGaveBack) {
  // A client edits the schedule it read: unchanged parts are no change.
  std::uint64_t get = next_rid_++;
  Request r;
  r.Raw(get, wire::Body::ScheduleGet, wire::CreateScheduleGet(r.builder()).Union());
  Got got = Ask(nina_, r);
  ASSERT_EQ(ErrorOf(got.Reply(get)), "");
  EXPECT_EQ(Str(got.Reply(get)->body_as_ScheduleInfo()->schedule()->profile()), "night");
  std::uint64_t rid = 0;
  Got set = SetSchedule(nina_, "", &rid, [](flatbuffers::FlatBufferBuilder& fbb) {
    std::vector<wire::WorkPeriod> p{wire::WorkPeriod(20 * 60, 24 * 60)};
    std::vector<flatbuffers::Offset<wire::DayHours>> week;
    for (std::uint8_t d = 0; d < 7; ++d) {
      week.push_back(wire::CreateDayHours(fbb, d, fbb.CreateVectorOfStructs(p)));
    }
    return wire::CreateSchedule(fbb, fbb.CreateString("Etc/GMT+5"), fbb.CreateVector(week), 0,
                                fbb.CreateVectorOfStrings(std::vector<std::string>{}));
  });
  ASSERT_EQ(ErrorOf(set.Reply(rid)), "");
  EXPECT_EQ(Str(set.Reply(rid)->body_as_ScheduleInfo()->schedule()->time_zone()), "Etc/GMT+5");
  // An unknown zone is refused.
  Got bad = SetSchedule(nina_, "", &rid, [](flatbuffers::FlatBufferBuilder& fbb) {
    return wire::CreateSchedule(fbb, fbb.CreateString("Mars/Olympus"));
  });
  EXPECT_EQ(CodeOf(bad.Reply(rid)), wire::ErrorCode::InvalidArgument) << ErrorOf(bad.Reply(rid));
}

// ------------------------------------------------------------------ right to disconnect

TEST_F(ScheduleTest, DisconnectReportCountsPerSenderAndGroupAndSurvivesARestart) {
  std::uint64_t group = CreateGroup(admin_, "ops", {"ana", "carl", "nina"});
  TakeAll();
  At(kMonday + 18 * kHourUs);
  std::uint64_t rid = 0;
  Text(bob_, ToUser("ana"), "one", &rid);
  Text(bob_, ToUser("ana"), "two", &rid);
  Text(admin_, Conv(group), "to three off duty", &rid);                // ana, carl, nina
  Text(admin_, Conv(group), "urgent to three", &rid, true, "outage");  // urgent
  At(kMonday + kDayUs + 10 * kHourUs);
  Text(bob_, ToUser("ana"), "on duty: not counted", &rid);

  auto report = [&](const TestClient& by, std::int64_t from, std::int64_t to) {
    std::uint64_t q = next_rid_++;
    Request r;
    r.Raw(q, wire::Body::AdminDisconnectReport,
          wire::CreateAdminDisconnectReport(r.builder(), from, to).Union());
    return std::make_pair(q, Ask(by, r));
  };
  auto [q0, denied] = report(bob_, kMonday, kMonday + kDayUs);
  EXPECT_EQ(CodeOf(denied.Reply(q0)), wire::ErrorCode::PermissionDenied);

  auto check = [&](const Got& g, std::uint64_t q) {
    const wire::Envelope* e = g.Reply(q);
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->body_type(), wire::Body::DisconnectReport) << ErrorOf(e);
    const wire::DisconnectReport* d = e->body_as_DisconnectReport();
    EXPECT_EQ(d->messages(), 4u);
    EXPECT_EQ(d->recipients(), 8u);
    EXPECT_EQ(d->urgent(), 1u);
    ASSERT_EQ(d->senders()->size(), 2u);
    for (const wire::DisconnectCount* c : *d->senders()) {
      if (Str(c->name()) == "bob") {
        EXPECT_EQ(c->messages(), 2u);
        EXPECT_EQ(c->recipients(), 2u);
        EXPECT_EQ(c->urgent(), 0u);
      } else {
        EXPECT_EQ(Str(c->name()), "admin");
        EXPECT_EQ(c->messages(), 2u);
        EXPECT_EQ(c->recipients(), 6u);
        EXPECT_EQ(c->urgent(), 1u);
      }
    }
    ASSERT_EQ(d->groups()->size(), 1u) << "direct chats count per sender only";
    EXPECT_EQ(Str(d->groups()->Get(0)->name()), "ops");
    EXPECT_EQ(d->groups()->Get(0)->conversation_id(), group);
    EXPECT_EQ(d->groups()->Get(0)->messages(), 2u);
    EXPECT_EQ(d->groups()->Get(0)->recipients(), 6u);
  };
  // Any range that overlaps Monday covers Monday's counts.
  auto [q1, monday] = report(auditor_, kMonday + 12 * kHourUs, kMonday + 13 * kHourUs);
  check(monday, q1);
  auto [q2, tuesday_only] = report(admin_, kMonday + kDayUs, kMonday + 2 * kDayUs);
  ASSERT_EQ(ErrorOf(tuesday_only.Reply(q2)), "");
  EXPECT_EQ(tuesday_only.Reply(q2)->body_as_DisconnectReport()->messages(), 0u);
  EXPECT_EQ(AuditEntries("disconnect.report").size(), 2u);

  h_->Restart();
  Configure();
  admin_ = h_->Reconnect(admin_);
  bob_ = h_->Reconnect(bob_);
  auto [q3, after] = report(admin_, kMonday, kMonday + kDayUs);
  check(after, q3);
  // Counting goes on from what was stored.
  At(kMonday + kDayUs + 20 * kHourUs);
  Text(bob_, ToUser("ana"), "late", &rid);
  auto [q4, both] = report(admin_, kMonday, kMonday + 2 * kDayUs);
  ASSERT_EQ(ErrorOf(both.Reply(q4)), "");
  EXPECT_EQ(both.Reply(q4)->body_as_DisconnectReport()->messages(), 5u);
}

// ------------------------------------------------------------------ configuration

TEST_F(ScheduleTest, SetSchedulesRefusesABadConfiguration) {
  EXPECT_EQ(h_->broker().SetSchedules(Profiles(), {"role:owner"}, &zones_).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(h_->broker().SetSchedules(Profiles(), {"profile:nobody"}, &zones_).code(),
            StatusCode::kInvalidArgument);
  std::vector<ScheduleProfile> bad = Profiles();
  bad[1].hours.time_zone = "Mars/Olympus";
  EXPECT_EQ(h_->broker().SetSchedules(bad, {}, &zones_).code(), StatusCode::kInvalidArgument);
  bad = Profiles();
  bad[1].is_default = true;
  EXPECT_EQ(h_->broker().SetSchedules(bad, {}, &zones_).code(), StatusCode::kInvalidArgument);
  // The configuration in force stays.
  At(kMonday + 18 * kHourUs);
  std::uint64_t rid = 0;
  Got hi = Text(bob_, ToUser("ana"), "hi", &rid);
  EXPECT_EQ(OffDuty(hi, rid).size(), 1u);
}

TEST_F(ScheduleTest, WithoutADefaultProfileOnlyThoseNamedHaveWorkingHours) {
  std::vector<ScheduleProfile> profiles = Profiles();
  profiles[0].is_default = false;
  profiles[0].members = {"ana"};
  ASSERT_TRUE(h_->broker().SetSchedules(profiles, {}, &zones_).ok());
  TakeAll();
  At(kMonday + 18 * kHourUs);
  std::uint64_t rid = 0;
  Got to_carl = Text(bob_, ToUser("carl"), "carl has no profile", &rid);
  EXPECT_TRUE(OffDuty(to_carl, rid).empty());
  EXPECT_EQ(Take(carl_).Deliveries(0).size(), 1u);
  Got to_ana = Text(bob_, ToUser("ana"), "ana is in the office profile", &rid);
  EXPECT_EQ(OffDuty(to_ana, rid).size(), 1u);
  EXPECT_TRUE(Take(ana_).Deliveries(0).empty());
  // Nothing to change for someone without a profile.
  Got set = SetSchedule(carl_, "", &rid, [](flatbuffers::FlatBufferBuilder& fbb) {
    return DaysOff(fbb, {"2024-01-09"});
  });
  EXPECT_EQ(CodeOf(set.Reply(rid)), wire::ErrorCode::FailedPrecondition) << ErrorOf(set.Reply(rid));
}

// A broker nobody gave schedules: everyone always on duty, as before.
TEST(ScheduleOff, WithoutSchedulesEveryoneIsAlwaysOnDutyAndNobodyMaySendUrgent) {
  BrokerHarness h;
  std::string invite = h.BootstrapInvite("admin");
  h.Start();
  TestClient admin = h.Enroll(invite);
  TestClient ana = h.AddUser(admin, "ana");
  ana.Take();
  Request r;
  auto& fbb = r.builder();
  auto text = wire::CreateText(fbb, fbb.CreateString("late"));
  r.Raw(7, wire::Body::Send,
        wire::CreateSend(fbb, 0, fbb.CreateString("ana"), 1, wire::Content::Text, text.Union())
            .Union());
  admin.Send(r);
  ASSERT_TRUE(h.Settle());
  std::vector<std::string> frames = h.transport().TakeFrames(admin.connection);
  bool acked = false;
  for (const std::string& f : frames) {
    for (const wire::Envelope* e : *wire::GetFrame(f.data())->envelopes()) {
      if (e->request_id() != 7) continue;
      ASSERT_EQ(e->body_type(), wire::Body::SendAck);
      EXPECT_EQ(e->body_as_SendAck()->off_duty(), nullptr);
      acked = true;
    }
  }
  EXPECT_TRUE(acked);
  std::vector<Envelope> got = ana.Take();
  EXPECT_EQ(Deliveries(got).size(), 1u);
  EXPECT_TRUE(OfType(got, wire::Body::Presence).empty());

  Request u;
  auto& ufbb = u.builder();
  auto utext = wire::CreateText(ufbb, ufbb.CreateString("now"));
  u.Raw(8, wire::Body::Send,
        wire::CreateSend(ufbb, 0, ufbb.CreateString("ana"), 2, wire::Content::Text, utext.Union(),
                         true, ufbb.CreateString("why"))
            .Union());
  admin.Send(u);
  ASSERT_TRUE(h.Settle());
  Envelope refused = admin.TakeReply(8);
  EXPECT_EQ(refused.error_code, wire::ErrorCode::PermissionDenied);
}

}  // namespace
}  // namespace chatpro::core::testing
