// SPDX-License-Identifier: Apache-2.0
//
// Monitoring from the outside: a real chatpro-broker with metrics.listen set,
// scraped over HTTP the way Prometheus and a liveness probe would.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "tests/chat_fixture.h"
#include "tests/http_get.h"

namespace chatpro::testing {
namespace {

using client::Profile;
using client::SendResult;
using client::Target;

// The value of the sample `name_and_labels` (e.g. `x_total{kind="text"}`) in
// Prometheus text, or -1 if it is not there.
double Sample(const std::string& text, const std::string& name_and_labels) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name_and_labels + " ", 0) == 0) {
      return std::stod(line.substr(name_and_labels.size() + 1));
    }
  }
  return -1;
}

class Metrics : public BrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "metrics.listen=127.0.0.1:" + std::to_string(metrics_port_)};
    return o;
  }

  const int metrics_port_ = PickFreePort();
};

TEST_F(Metrics, CountAcceptedMessagesAndAnswerHealthAndReadiness) {
  HttpReply health = HttpGet(metrics_port_, "/healthz");
  EXPECT_EQ(health.status, 200) << health.error;
  HttpReply ready = HttpGet(metrics_port_, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.error;

  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));
  constexpr int kSent = 3;
  for (int i = 0; i < kSent; ++i) {
    auto future = ana_client->Send(Target::User("ben"), MakeText("hello " + std::to_string(i)));
    ASSERT_OK_AND_ASSIGN(SendResult r, Await(future));
    ASSERT_TRUE(r.status.ok()) << r.status;
  }
  ASSERT_TRUE(ben_inbox->WaitFor(kSent));

  HttpReply scrape = HttpGet(metrics_port_, "/metrics");
  ASSERT_EQ(scrape.status, 200) << scrape.error;
  const std::string& text = scrape.body;
  EXPECT_EQ(Sample(text, "chatpro_messages_accepted_total{kind=\"text\"}"), kSent) << text;
  EXPECT_EQ(Sample(text, "chatpro_messages_accepted_total{kind=\"voice\"}"), 0) << text;
  EXPECT_EQ(Sample(text, "chatpro_messages_accepted_total{kind=\"picture\"}"), 0) << text;
  EXPECT_GE(Sample(text, "chatpro_messages_delivered_total{kind=\"text\",mode=\"live\"}") +
                Sample(text, "chatpro_messages_delivered_total{kind=\"text\",mode=\"catch_up\"}"),
            kSent)
      << text;
  EXPECT_EQ(Sample(text, "chatpro_messages_delivered_total{kind=\"voice\",mode=\"live\"}"), 0)
      << text;
  EXPECT_GT(Sample(text, "chatpro_store_size_bytes"), 0) << text;
  EXPECT_GT(Sample(text, "chatpro_data_dir_free_bytes"), 0) << text;
  EXPECT_GE(Sample(text, "chatpro_write_batch_messages_count"), 1) << text;
  EXPECT_EQ(Sample(text, "chatpro_send_latency_seconds_count"), kSent) << text;
  EXPECT_EQ(Sample(text, "chatpro_send_latency_seconds_bucket{le=\"+Inf\"}"), kSent) << text;
  // At least root, ana and ben; the sessions their enrollments opened may not
  // have been closed yet.
  EXPECT_GE(Sample(text, "chatpro_sessions"), 3) << text;
  // Enrollment sessions are not devices: exactly root's, ana's and ben's.
  EXPECT_EQ(Sample(text, "chatpro_devices_connected"), 3) << text;
  EXPECT_GE(Sample(text, "chatpro_write_batches_total"), 1) << text;
  EXPECT_EQ(Sample(text, "chatpro_errors_total{code=\"internal\"}"), 0) << text;
  EXPECT_NE(text.find("chatpro_build_info{version=\""), std::string::npos) << text;

  EXPECT_EQ(HttpGet(metrics_port_, "/nothing-here").status, 404);
}

}  // namespace
}  // namespace chatpro::testing
