// SPDX-License-Identifier: Apache-2.0
//
// Working hours on the broker with the real time-zone database: a Berlin
// office whose weekend spans the change to summer time gets its messages
// when its Monday starts in CEST (07:00 UTC), not an hour later. DutyAt's own
// daylight-saving cases are tested with the time-zone library (broker/tz).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/core/schedule.h"
#include "broker/core/tests/broker_harness.h"
#include "broker/tz/system_zone_db.h"

namespace chatpro::core::testing {
namespace {

constexpr std::int64_t kHourUs = 3600 * kMicrosPerSecond;
// Friday 2024-03-29 00:00 UTC; clocks in Berlin go forward on Sunday the 31st.
constexpr std::int64_t kFriday = 1'711'670'400LL * kMicrosPerSecond;
// Monday 2024-04-01 09:00 CEST.
constexpr std::int64_t kMondayStart = 1'711'954'800LL * kMicrosPerSecond;

TEST(BrokerScheduleDst, DeliveryResumesWhenTheOfficeOpensInSummerTime) {
  std::unique_ptr<ZoneDb> zones = tz::SystemZoneDb();
  if (!zones->CheckZone("Europe/Berlin").ok()) GTEST_SKIP() << "no tz database here";
  CoreOptions options;
  options.session_timeout_us = 400 * 24 * kHourUs;  // the clock jumps months ahead
  BrokerHarness h(options);
  std::string invite = h.BootstrapInvite("admin");
  h.Start();
  TestClient admin = h.Enroll(invite);
  TestClient ana = h.AddUser(admin, "ana");
  TestClient bob = h.AddUser(admin, "bob");

  ScheduleProfile office;
  office.name = "berlin";
  office.is_default = true;
  office.hours.time_zone = "Europe/Berlin";
  for (int d = 0; d < 5; ++d) office.hours.week[d] = {WorkPeriod{9 * 60, 17 * 60}};
  Status st = h.broker().SetSchedules({office}, {}, zones.get());
  ASSERT_TRUE(st.ok()) << st;

  h.clock().Set(kFriday + 17 * kHourUs);  // 18:00 CET
  h.broker().OnTick();
  ASSERT_TRUE(h.Settle());
  ana.Take();
  bob.Take();
  Request r;
  auto& fbb = r.builder();
  auto text = wire::CreateText(fbb, fbb.CreateString("for Monday"));
  r.Raw(7, wire::Body::Send,
        wire::CreateSend(fbb, 0, fbb.CreateString("ana"), 1, wire::Content::Text, text.Union())
            .Union());
  bob.Send(r);
  ASSERT_TRUE(h.Settle());
  std::vector<std::string> frames = h.transport().TakeFrames(bob.connection);
  std::int64_t until = 0;
  for (const std::string& f : frames) {
    for (const wire::Envelope* e : *wire::GetFrame(f.data())->envelopes()) {
      if (e->request_id() != 7 || e->body_type() != wire::Body::SendAck) continue;
      ASSERT_NE(e->body_as_SendAck()->off_duty(), nullptr);
      ASSERT_EQ(e->body_as_SendAck()->off_duty()->size(), 1u);
      until = e->body_as_SendAck()->off_duty()->Get(0)->until_us();
    }
  }
  EXPECT_EQ(until, kMondayStart);
  EXPECT_TRUE(Deliveries(ana.Take()).empty());

  h.clock().Set(kMondayStart - kMicrosPerSecond);
  h.broker().OnTick();
  ASSERT_TRUE(h.Settle());
  EXPECT_TRUE(Deliveries(ana.Take()).empty());
  h.clock().Set(kMondayStart);
  h.broker().OnTick();
  ASSERT_TRUE(h.Settle());
  EXPECT_EQ(Deliveries(ana.Take()).size(), 1u);
}

}  // namespace
}  // namespace chatpro::core::testing
