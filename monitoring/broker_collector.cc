// SPDX-License-Identifier: Apache-2.0
#include "monitoring/broker_collector.h"

#include <atomic>
#include <cstdint>
#include <iterator>
#include <limits>
#include <utility>

#include "broker/base/log.h"
#include "broker/base/status.h"
#include "broker/core/latency_histogram.h"

namespace chatpro::monitoring {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

double Load(const std::atomic<std::uint64_t>& v) {
  return static_cast<double>(v.load(std::memory_order_relaxed));
}

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric CounterValue(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

MetricFamily Counter(std::string name, std::string help, const std::atomic<std::uint64_t>& v) {
  MetricFamily f = Family(std::move(name), std::move(help), MetricType::Counter);
  f.metric.push_back(CounterValue(Load(v)));
  return f;
}

MetricFamily Gauge(std::string name, std::string help, double value,
                   std::vector<ClientMetric::Label> labels = {}) {
  MetricFamily f = Family(std::move(name), std::move(help), MetricType::Gauge);
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
  return f;
}

// LatencyHistogram's bucket i counts whole microseconds below 2^i, that is at
// most 2^i - 1 us, so `le` = (2^i - 1) us is exact; the last bucket is the
// rest (+Inf).
MetricFamily Histogram(std::string name, std::string help, const core::LatencyHistogram& h) {
  MetricFamily f = Family(std::move(name), std::move(help), MetricType::Histogram);
  ClientMetric m;
  std::uint64_t cumulative = 0;
  for (int i = 0; i < core::LatencyHistogram::kBuckets; ++i) {
    cumulative += h.Bucket(i);
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound =
        i == core::LatencyHistogram::kBuckets - 1
            ? std::numeric_limits<double>::infinity()
            : static_cast<double>(core::LatencyHistogram::UpperBoundMicros(i) - 1) / 1e6;
    m.histogram.bucket.push_back(b);
  }
  // The count from the same bucket reads, so that it equals the +Inf bucket.
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(h.SumMicros()) / 1e6;
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

BrokerCollector::BrokerCollector(const core::BrokerStats* stats, std::string version)
    : stats_(stats), version_(std::move(version)) {}

std::vector<MetricFamily> BrokerCollector::Collect() const {
  const core::BrokerStats& s = *stats_;
  std::vector<MetricFamily> out;

  out.push_back(Gauge("chatpro_build_info", "Always 1; the broker's version as a label.", 1.0,
                      {{"version", version_}}));

  static constexpr const char* kKinds[] = {"text", "voice", "picture", "edit", "deletion"};
  static_assert(sizeof kKinds / sizeof kKinds[0] ==
                sizeof s.messages_accepted / sizeof s.messages_accepted[0]);
  MetricFamily accepted =
      Family("chatpro_messages_accepted_total",
             "Messages stored and acknowledged, by content kind.", MetricType::Counter);
  for (std::size_t i = 0; i < std::size(kKinds); ++i) {
    accepted.metric.push_back(CounterValue(Load(s.messages_accepted[i]), {{"kind", kKinds[i]}}));
  }
  out.push_back(std::move(accepted));
  out.push_back(Counter("chatpro_messages_duplicate_total",
                        "Sends recognised as retries of a message already stored.",
                        s.messages_duplicate));

  MetricFamily deliveries = Family("chatpro_deliveries_total",
                                   "Messages pushed to devices: live, or from the store when a "
                                   "device catches up.",
                                   MetricType::Counter);
  deliveries.metric.push_back(CounterValue(Load(s.deliveries_live), {{"mode", "live"}}));
  deliveries.metric.push_back(CounterValue(Load(s.deliveries_catch_up), {{"mode", "catch_up"}}));
  out.push_back(std::move(deliveries));

  out.push_back(Histogram("chatpro_send_latency_seconds",
                          "From receiving a send to acknowledging it as stored.", s.send_latency));
  out.push_back(Histogram("chatpro_delivery_latency_seconds",
                          "From receiving a send to pushing it live to a recipient's session.",
                          s.delivery_latency));

  out.push_back(Gauge("chatpro_sessions", "Devices connected and authenticated now.",
                      static_cast<double>(s.sessions.load(std::memory_order_relaxed))));
  out.push_back(
      Counter("chatpro_frames_received_total", "Frames received from clients.", s.frames_received));
  out.push_back(Counter("chatpro_write_batches_total", "Write batches committed to the store.",
                        s.batches_committed));
  out.push_back(Counter("chatpro_batch_messages_total",
                        "Messages committed in write batches (divide by "
                        "chatpro_write_batches_total for messages per batch).",
                        s.batch_messages_committed));

  static_assert(sizeof s.errors / sizeof s.errors[0] ==
                static_cast<std::size_t>(StatusCode::kInternal) + 1);
  MetricFamily errors =
      Family("chatpro_errors_total", "Errors answered to clients, by canonical code.",
             MetricType::Counter);
  // Code 0 (ok) is not an error.
  for (std::size_t i = 1; i < std::size(s.errors); ++i) {
    errors.metric.push_back(CounterValue(
        Load(s.errors[i]), {{"code", std::string(StatusCodeName(static_cast<StatusCode>(i)))}}));
  }
  out.push_back(std::move(errors));

  out.push_back(
      Counter("chatpro_auth_refused_total", "Handshakes refused authentication.", s.auth_refused));
  out.push_back(Counter("chatpro_connections_refused_total",
                        "Handshakes refused by a per-address limit.", s.connections_refused));
  out.push_back(Counter("chatpro_rate_limited_total", "Sends refused by a device's rate limit.",
                        s.rate_limited));
  out.push_back(Counter("chatpro_slow_consumers_cut_total",
                        "Sessions dropped because they did not keep up with their deliveries.",
                        s.slow_consumers_cut));
  out.push_back(Counter("chatpro_devices_revoked_total", "Devices revoked.", s.devices_revoked));
  out.push_back(
      Counter("chatpro_retention_runs_total", "Runs of the retention policies.", s.retention_runs));
  out.push_back(Counter("chatpro_retention_removed_messages_total",
                        "Messages deleted by retention.", s.retention_removed));
  out.push_back(Counter("chatpro_retention_stripped_attachments_total",
                        "Attachments stripped by retention.", s.retention_stripped));
  out.push_back(Counter("chatpro_messages_rejected_by_policy_total",
                        "Sends refused by a policy plugin.", s.messages_rejected_by_policy));
  out.push_back(Counter("chatpro_messages_flagged_total", "Messages flagged by a policy plugin.",
                        s.messages_flagged));
  out.push_back(
      Counter("chatpro_urgent_messages_total", "Messages sent urgent.", s.urgent_messages));
  out.push_back(Counter("chatpro_off_duty_held_total",
                        "Deliveries held until the recipient's working hours start.",
                        s.off_duty_held));
  MetricFamily dropped =
      Family("chatpro_log_lines_dropped_total",
             "Log lines dropped because the log target could not keep up.", MetricType::Counter);
  dropped.metric.push_back(CounterValue(static_cast<double>(DroppedLogLines())));
  out.push_back(std::move(dropped));
  return out;
}

}  // namespace chatpro::monitoring
