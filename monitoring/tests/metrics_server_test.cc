// SPDX-License-Identifier: Apache-2.0
//
// MetricsServer over real HTTP on loopback: what Prometheus, a liveness probe
// and a readiness probe get back.
#include "monitoring/metrics_server.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <sstream>
#include <string>
#include <thread>

namespace chatpro::monitoring {
namespace {

struct Reply {
  int status = 0;  // 0: no answer
  std::string body;
};

Reply Get(int port, const std::string& path,
          const std::string& method = Poco::Net::HTTPRequest::HTTP_GET) {
  Reply reply;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    reply.status = static_cast<int>(response.getStatus());
    std::ostringstream body;
    Poco::StreamCopier::copyStream(in, body);
    reply.body = body.str();
  } catch (const std::exception& e) {
    reply.body = e.what();
  }
  return reply;
}

std::unique_ptr<MetricsServer> StartOnFreePort(
    const core::BrokerStats* stats,
    std::chrono::milliseconds stuck_after = std::chrono::seconds(10)) {
  MonitoringOptions options;
  options.listen = "127.0.0.1:0";
  MetricsSources sources;
  sources.stats = stats;
  sources.version = "9.8.7";
  sources.stuck_after = stuck_after;
  Result<std::unique_ptr<MetricsServer>> server = MetricsServer::Start(options, sources);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(MetricsServer, ReadinessIs503UntilReadyAnd503AgainWhileStopping) {
  core::BrokerStats stats;
  std::unique_ptr<MetricsServer> server = StartOnFreePort(&stats);
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0);

  Reply starting = Get(server->port(), "/readyz");
  EXPECT_EQ(starting.status, 503) << starting.body;
  EXPECT_EQ(starting.body, "starting\n");
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200) << "starting is not unhealthy";

  server->MarkReady();
  Reply ready = Get(server->port(), "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;

  server->MarkStopping();
  Reply stopping = Get(server->port(), "/readyz");
  EXPECT_EQ(stopping.status, 503) << stopping.body;
  EXPECT_EQ(stopping.body, "stopping\n");
  server->MarkReady();
  EXPECT_EQ(Get(server->port(), "/readyz").status, 503) << "a stopping server stays unready";
}

TEST(MetricsServer, ReadinessIs503WithTheReasonWhileNewMessagesCannotBeStored) {
  core::BrokerStats stats;
  std::unique_ptr<MetricsServer> server = StartOnFreePort(&stats);
  ASSERT_NE(server, nullptr);
  server->MarkReady();

  stats.refusing_messages = true;
  stats.data_dir_full = true;
  Reply full = Get(server->port(), "/readyz");
  EXPECT_EQ(full.status, 503) << full.body;
  EXPECT_NE(full.body.find("data directory full"), std::string::npos) << full.body;
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200)
      << "a full disk is not cured by a restart: the broker stays healthy";
  Reply metrics = Get(server->port(), "/metrics");
  EXPECT_NE(metrics.body.find("chatpro_store_refusing_messages 1"), std::string::npos)
      << metrics.body;

  stats.data_dir_full = false;
  Reply failing = Get(server->port(), "/readyz");
  EXPECT_EQ(failing.status, 503) << failing.body;
  EXPECT_NE(failing.body.find("store writes fail"), std::string::npos) << failing.body;

  stats.refusing_messages = false;
  Reply ready = Get(server->port(), "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.body, "ready\n");
}

TEST(MetricsServer, ServesTheMetricsInPrometheusTextAndNothingElse) {
  core::BrokerStats stats;
  stats.messages_accepted[0] = 4;
  std::unique_ptr<MetricsServer> server = StartOnFreePort(&stats);
  ASSERT_NE(server, nullptr);

  Reply metrics = Get(server->port(), "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  EXPECT_NE(metrics.body.find("chatpro_messages_accepted_total{kind=\"text\"} 4"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("chatpro_build_info{version=\"9.8.7\"} 1"), std::string::npos);
  EXPECT_EQ(Get(server->port(), "/metrics?name[]=x").status, 200) << "a query string is ignored";

  Reply head = Get(server->port(), "/readyz", Poco::Net::HTTPRequest::HTTP_HEAD);
  EXPECT_EQ(head.status, 503);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(Get(server->port(), "/").status, 404);
  EXPECT_EQ(Get(server->port(), "/metrics", Poco::Net::HTTPRequest::HTTP_POST).status, 405);
}

TEST(MetricsServer, HealthTurns503WhenTheEventLoopStopsTicking) {
  core::BrokerStats stats;
  std::unique_ptr<MetricsServer> server = StartOnFreePort(&stats, std::chrono::seconds(3));
  ASSERT_NE(server, nullptr);
  server->MarkReady();

  // A running loop: ticks every 100 ms.
  std::atomic<bool> run{true};
  std::thread loop([&] {
    while (run.load()) {
      stats.loop_ticks.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  for (int i = 0; i < 3; ++i) {
    Reply health = Get(server->port(), "/healthz");
    EXPECT_EQ(health.status, 200) << health.body;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  run.store(false);
  loop.join();

  // A stuck loop: the answer turns 503 and says why.
  Reply health;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    health = Get(server->port(), "/healthz");
    if (health.status != 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_NE(health.body.find("event loop has not run"), std::string::npos) << health.body;

  // While stopping the loop has ended on purpose: not a reason to restart.
  server->MarkStopping();
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
}

TEST(MetricsServer, RefusesToStartOnAnAddressInUse) {
  core::BrokerStats stats;
  std::unique_ptr<MetricsServer> first = StartOnFreePort(&stats);
  ASSERT_NE(first, nullptr);
  MonitoringOptions options;
  options.listen = "127.0.0.1:" + std::to_string(first->port());
  MetricsSources sources;
  sources.stats = &stats;
  Result<std::unique_ptr<MetricsServer>> second = MetricsServer::Start(options, sources);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(options.listen), std::string::npos) << second.status();
}

}  // namespace
}  // namespace chatpro::monitoring
