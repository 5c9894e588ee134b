// SPDX-License-Identifier: Apache-2.0
#include "monitoring/broker_collector.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "broker/base/log.h"
#include "broker/base/status.h"

namespace chatpro::monitoring {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

const MetricFamily* Find(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The counter of `family` whose label `key` is `value`, or -1.
double CounterWithLabel(const MetricFamily& family, const std::string& key,
                        const std::string& value) {
  for (const auto& m : family.metric) {
    for (const auto& l : m.label) {
      if (l.name == key && l.value == value) return m.counter.value;
    }
  }
  return -1;
}

// The counter of `family` that has all of `labels`, or -1.
double CounterWithLabels(const MetricFamily& family,
                         const std::map<std::string, std::string>& labels) {
  for (const auto& m : family.metric) {
    std::size_t matched = 0;
    for (const auto& l : m.label) {
      auto it = labels.find(l.name);
      if (it != labels.end() && it->second == l.value) ++matched;
    }
    if (matched == labels.size()) return m.counter.value;
  }
  return -1;
}

double Single(const std::vector<MetricFamily>& families, const std::string& name) {
  const MetricFamily* f = Find(families, name);
  if (f == nullptr || f->metric.size() != 1) return -1;
  return f->type == MetricType::Gauge ? f->metric[0].gauge.value : f->metric[0].counter.value;
}

TEST(BrokerCollector, ExportsEveryCounterOfTheStatsWithItsLabels) {
  core::BrokerStats stats;
  stats.messages_accepted[0] = 7;   // text
  stats.messages_accepted[2] = 2;   // picture
  stats.delivered_live[0] = 11;     // text
  stats.delivered_catch_up[1] = 3;  // voice
  stats.offline_backlog = 21;
  stats.retention_failures = 2;
  stats.retention_plugin_failures = 6;
  stats.retention_last_success_us = 1'700'000'000'500'000;
  stats.retention_by_policy.Add("max-age", 5, 1);
  stats.retention_by_policy.Add("max-age", 2, 0);
  stats.batch_size.Record(3);
  stats.errors[static_cast<int>(StatusCode::kPermissionDenied)] = 4;
  // The console's own refusals count as errors of their code too.
  stats.front_end_errors[static_cast<int>(StatusCode::kPermissionDenied)] = 3;
  stats.front_end_errors[static_cast<int>(StatusCode::kResourceExhausted)] = 2;
  stats.console_logins[0] = 5;
  stats.console_logins[1] = 6;
  stats.console_logins[2] = 1;
  stats.sessions = 5;
  stats.devices_connected = 4;
  stats.batches_committed = 2;
  stats.batch_messages_committed = 9;
  stats.auth_refused = 1;
  stats.connections_refused = 6;
  stats.rate_limited = 8;
  stats.slow_consumers_cut = 12;
  stats.retention_runs = 13;
  stats.retention_removed = 14;
  stats.retention_stripped = 15;
  stats.messages_rejected_by_policy = 16;
  stats.messages_flagged = 17;
  stats.urgent_messages = 18;

  BrokerCollector collector(&stats, "1.2.3");
  std::vector<MetricFamily> families = collector.Collect();

  const MetricFamily* accepted = Find(families, "chatpro_messages_accepted_total");
  ASSERT_NE(accepted, nullptr);
  EXPECT_EQ(accepted->type, MetricType::Counter);
  EXPECT_EQ(accepted->metric.size(), 5u);
  EXPECT_EQ(CounterWithLabel(*accepted, "kind", "text"), 7);
  EXPECT_EQ(CounterWithLabel(*accepted, "kind", "voice"), 0);
  EXPECT_EQ(CounterWithLabel(*accepted, "kind", "picture"), 2);
  EXPECT_EQ(CounterWithLabel(*accepted, "kind", "deletion"), 0);

  const MetricFamily* delivered = Find(families, "chatpro_messages_delivered_total");
  ASSERT_NE(delivered, nullptr);
  EXPECT_EQ(delivered->metric.size(), 10u) << "5 kinds x 2 modes";
  EXPECT_EQ(CounterWithLabels(*delivered, {{"kind", "text"}, {"mode", "live"}}), 11);
  EXPECT_EQ(CounterWithLabels(*delivered, {{"kind", "text"}, {"mode", "catch_up"}}), 0);
  EXPECT_EQ(CounterWithLabels(*delivered, {{"kind", "voice"}, {"mode", "catch_up"}}), 3);
  EXPECT_EQ(CounterWithLabels(*delivered, {{"kind", "picture"}, {"mode", "live"}}), 0);

  const MetricFamily* by_policy = Find(families, "chatpro_retention_removals_total");
  ASSERT_NE(by_policy, nullptr);
  EXPECT_EQ(CounterWithLabels(*by_policy, {{"policy", "max-age"}, {"action", "delete"}}), 7);
  EXPECT_EQ(CounterWithLabels(*by_policy, {{"policy", "max-age"}, {"action", "strip"}}), 1);
  EXPECT_EQ(Single(families, "chatpro_retention_failures_total"), 2);
  EXPECT_EQ(Single(families, "chatpro_retention_plugin_failures_total"), 6);
  EXPECT_DOUBLE_EQ(Single(families, "chatpro_retention_last_success_timestamp_seconds"),
                   1'700'000'000.5);
  EXPECT_EQ(Single(families, "chatpro_offline_backlog_messages"), 21);
  EXPECT_EQ(Find(families, "chatpro_offline_backlog_messages")->type, MetricType::Gauge);
  const MetricFamily* batch = Find(families, "chatpro_write_batch_messages");
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->type, MetricType::Histogram);
  EXPECT_EQ(batch->metric[0].histogram.sample_count, 1u);
  EXPECT_EQ(batch->metric[0].histogram.sample_sum, 3);
  EXPECT_EQ(batch->metric[0].histogram.bucket[2].upper_bound, 3) << "in messages, not seconds";
  EXPECT_EQ(batch->metric[0].histogram.bucket[2].cumulative_count, 1u);
  EXPECT_GT(Single(families, "chatpro_start_time_seconds"), 1.6e9);
  EXPECT_EQ(Find(families, "chatpro_store_size_bytes"), nullptr) << "no data directory given";

  const MetricFamily* errors = Find(families, "chatpro_errors_total");
  ASSERT_NE(errors, nullptr);
  EXPECT_EQ(errors->metric.size(), 10u) << "every code but ok";
  EXPECT_EQ(CounterWithLabel(*errors, "code", "permission_denied"), 7);
  EXPECT_EQ(CounterWithLabel(*errors, "code", "resource_exhausted"), 2);
  const MetricFamily* logins = Find(families, "chatpro_console_logins_total");
  ASSERT_NE(logins, nullptr);
  EXPECT_EQ(CounterWithLabel(*logins, "result", "ok"), 5);
  EXPECT_EQ(CounterWithLabel(*logins, "result", "refused"), 6);
  EXPECT_EQ(CounterWithLabel(*logins, "result", "locked"), 1);
  EXPECT_EQ(CounterWithLabel(*errors, "code", "not_found"), 0);
  EXPECT_EQ(CounterWithLabel(*errors, "code", "ok"), -1);

  EXPECT_EQ(Single(families, "chatpro_sessions"), 5);
  EXPECT_EQ(Find(families, "chatpro_sessions")->type, MetricType::Gauge);
  EXPECT_EQ(Single(families, "chatpro_devices_connected"), 4);
  EXPECT_EQ(Find(families, "chatpro_devices_connected")->type, MetricType::Gauge);
  EXPECT_EQ(Single(families, "chatpro_write_batches_total"), 2);
  EXPECT_EQ(Single(families, "chatpro_batch_messages_total"), 9);
  EXPECT_EQ(Single(families, "chatpro_auth_refused_total"), 1);
  EXPECT_EQ(Single(families, "chatpro_connections_refused_total"), 6);
  EXPECT_EQ(Single(families, "chatpro_rate_limited_total"), 8);
  EXPECT_EQ(Single(families, "chatpro_slow_consumers_cut_total"), 12);
  EXPECT_EQ(Single(families, "chatpro_retention_runs_total"), 13);
  EXPECT_EQ(Single(families, "chatpro_retention_removed_messages_total"), 14);
  EXPECT_EQ(Single(families, "chatpro_retention_stripped_attachments_total"), 15);
  EXPECT_EQ(Single(families, "chatpro_messages_rejected_by_policy_total"), 16);
  EXPECT_EQ(Single(families, "chatpro_messages_flagged_total"), 17);
  EXPECT_EQ(Single(families, "chatpro_urgent_messages_total"), 18);
  const double dropped_before = Single(families, "chatpro_log_lines_dropped_total");
  CountDroppedLogLines(3);
  EXPECT_EQ(Single(collector.Collect(), "chatpro_log_lines_dropped_total"), dropped_before + 3);

  const MetricFamily* build = Find(families, "chatpro_build_info");
  ASSERT_NE(build, nullptr);
  ASSERT_EQ(build->metric.size(), 1u);
  EXPECT_EQ(build->metric[0].gauge.value, 1);
  ASSERT_EQ(build->metric[0].label.size(), 1u);
  EXPECT_EQ(build->metric[0].label[0].name, "version");
  EXPECT_EQ(build->metric[0].label[0].value, "1.2.3");
}

TEST(BrokerCollector, MeasuresTheStoreAndTheFreeSpaceOfTheDataDirectory) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("chatpro-collector-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       "-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir / "store");
  std::filesystem::create_directories(dir / "blobs" / "sub");
  std::ofstream(dir / "store" / "000001.ldb") << std::string(1000, 'x');
  std::ofstream(dir / "blobs" / "sub" / "blob") << std::string(234, 'y');
  std::ofstream(dir / "server.key") << std::string(5000, 'z');  // not the store

  core::BrokerStats stats;
  BrokerCollector collector(&stats, "0", dir.string());
  std::vector<MetricFamily> families = collector.Collect();
  EXPECT_EQ(Single(families, "chatpro_store_size_bytes"), 1234);
  EXPECT_GT(Single(families, "chatpro_data_dir_free_bytes"), 0);
  EXPECT_GE(Single(families, "chatpro_data_dir_size_bytes"),
            Single(families, "chatpro_data_dir_free_bytes"));
  std::filesystem::remove_all(dir);
}

TEST(BrokerCollector, ReadsTheStatsAgainOnEveryCollect) {
  core::BrokerStats stats;
  BrokerCollector collector(&stats, "0");
  EXPECT_EQ(CounterWithLabel(*Find(collector.Collect(), "chatpro_messages_accepted_total"), "kind",
                             "voice"),
            0);
  stats.messages_accepted[1] = 3;
  EXPECT_EQ(CounterWithLabel(*Find(collector.Collect(), "chatpro_messages_accepted_total"), "kind",
                             "voice"),
            3);
}

TEST(BrokerCollector, LatencyHistogramsHaveExactCumulativeBucketsInSeconds) {
  core::BrokerStats stats;
  stats.send_latency.Record(0);     // bucket 0: le 0
  stats.send_latency.Record(1);     // bucket 1: le 1 us
  stats.send_latency.Record(3);     // bucket 2: le 3 us
  stats.send_latency.Record(4);     // bucket 3: le 7 us
  stats.send_latency.Record(1000);  // bucket 10: le 1023 us
  BrokerCollector collector(&stats, "0");
  std::vector<MetricFamily> families = collector.Collect();

  const MetricFamily* send = Find(families, "chatpro_send_latency_seconds");
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(send->type, MetricType::Histogram);
  ASSERT_EQ(send->metric.size(), 1u);
  const auto& h = send->metric[0].histogram;
  EXPECT_EQ(h.sample_count, 5u);
  EXPECT_DOUBLE_EQ(h.sample_sum, 1008e-6);
  ASSERT_EQ(h.bucket.size(), static_cast<std::size_t>(core::LatencyHistogram::kBuckets));
  EXPECT_EQ(h.bucket[0].upper_bound, 0.0);
  EXPECT_EQ(h.bucket[0].cumulative_count, 1u);
  EXPECT_DOUBLE_EQ(h.bucket[1].upper_bound, 1e-6);
  EXPECT_EQ(h.bucket[1].cumulative_count, 2u);
  EXPECT_DOUBLE_EQ(h.bucket[2].upper_bound, 3e-6);
  EXPECT_EQ(h.bucket[2].cumulative_count, 3u);
  EXPECT_DOUBLE_EQ(h.bucket[3].upper_bound, 7e-6);
  EXPECT_EQ(h.bucket[3].cumulative_count, 4u);
  EXPECT_EQ(h.bucket[9].cumulative_count, 4u);
  EXPECT_DOUBLE_EQ(h.bucket[10].upper_bound, 1023e-6);
  EXPECT_EQ(h.bucket[10].cumulative_count, 5u);
  EXPECT_TRUE(std::isinf(h.bucket.back().upper_bound));
  EXPECT_EQ(h.bucket.back().cumulative_count, 5u);

  const MetricFamily* delivery = Find(families, "chatpro_delivery_latency_seconds");
  ASSERT_NE(delivery, nullptr);
  EXPECT_EQ(delivery->metric[0].histogram.sample_count, 0u);
}

TEST(BrokerCollector, SerializesToValidPrometheusText) {
  core::BrokerStats stats;
  stats.messages_accepted[0] = 2;
  BrokerCollector collector(&stats, "0.1.0");
  std::string text = prometheus::TextSerializer().Serialize(collector.Collect());
  EXPECT_NE(text.find("chatpro_messages_accepted_total{kind=\"text\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE chatpro_send_latency_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("chatpro_send_latency_seconds_bucket{le=\"+Inf\"} 0"), std::string::npos);
  EXPECT_NE(text.find("chatpro_build_info{version=\"0.1.0\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace chatpro::monitoring
