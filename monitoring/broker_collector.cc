// SPDX-License-Identifier: Apache-2.0
#include "monitoring/broker_collector.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <limits>
#include <system_error>
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

// LatencyHistogram's bucket i counts whole units (microseconds, or messages
// for batch sizes) below 2^i, that is at most 2^i - 1, so `le` = (2^i - 1) *
// `unit` is exact; the last bucket is the rest (+Inf).
MetricFamily Histogram(std::string name, std::string help, const core::LatencyHistogram& h,
                       double unit = 1e-6) {
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
            : static_cast<double>(core::LatencyHistogram::UpperBoundMicros(i) - 1) * unit;
    m.histogram.bucket.push_back(b);
  }
  // The count from the same bucket reads, so that it equals the +Inf bucket.
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(h.SumMicros()) * unit;
  f.metric.push_back(std::move(m));
  return f;
}

// Bytes of the regular files under `dir` (0 if it does not exist). Files may
// come and go during the walk (compactions): those are skipped.
double DirectoryBytes(const std::filesystem::path& dir) {
  std::error_code ec;
  std::uintmax_t total = 0;
  std::filesystem::recursive_directory_iterator it(dir, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (!it->is_regular_file(size_ec)) continue;
    std::uintmax_t size = it->file_size(size_ec);
    if (!size_ec) total += size;
  }
  return static_cast<double>(total);
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

BrokerCollector::BrokerCollector(const core::BrokerStats* stats, std::string version,
                                 std::string data_dir)
    : stats_(stats),
      version_(std::move(version)),
      data_dir_(std::move(data_dir)),
      start_time_seconds_(NowSeconds()) {}

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

  out.push_back(Gauge("chatpro_start_time_seconds",
                      "When the broker started serving, in seconds since the Unix epoch.",
                      start_time_seconds_));

  static_assert(std::size(kKinds) == sizeof s.delivered_live / sizeof s.delivered_live[0]);
  static_assert(std::size(kKinds) == sizeof s.delivered_catch_up / sizeof s.delivered_catch_up[0]);
  MetricFamily delivered = Family("chatpro_messages_delivered_total",
                                  "Messages pushed to devices, by content kind and mode: live, "
                                  "or from the store when a device catches up.",
                                  MetricType::Counter);
  for (std::size_t i = 0; i < std::size(kKinds); ++i) {
    delivered.metric.push_back(
        CounterValue(Load(s.delivered_live[i]), {{"kind", kKinds[i]}, {"mode", "live"}}));
    delivered.metric.push_back(
        CounterValue(Load(s.delivered_catch_up[i]), {{"kind", kKinds[i]}, {"mode", "catch_up"}}));
  }
  out.push_back(std::move(delivered));
  out.push_back(Gauge("chatpro_offline_backlog_messages",
                      "Messages waiting for devices that are not connected (recomputed about "
                      "every 15 s).",
                      Load(s.offline_backlog)));

  out.push_back(Histogram("chatpro_send_latency_seconds",
                          "From receiving a send to acknowledging it as stored.", s.send_latency));
  out.push_back(Histogram("chatpro_delivery_latency_seconds",
                          "From receiving a send to pushing it live to a recipient's session.",
                          s.delivery_latency));

  out.push_back(Gauge("chatpro_devices_connected", "Devices connected and authenticated now.",
                      static_cast<double>(s.devices_connected.load(std::memory_order_relaxed))));
  out.push_back(Gauge("chatpro_sessions",
                      "Sessions open now: devices, enrollments and console users.",
                      static_cast<double>(s.sessions.load(std::memory_order_relaxed))));
  out.push_back(
      Counter("chatpro_frames_received_total", "Frames received from clients.", s.frames_received));
  out.push_back(Counter("chatpro_write_batches_total", "Write batches committed to the store.",
                        s.batches_committed));
  out.push_back(Counter("chatpro_batch_messages_total",
                        "Messages committed in write batches (divide by "
                        "chatpro_write_batches_total for messages per batch).",
                        s.batch_messages_committed));
  out.push_back(Histogram("chatpro_write_batch_messages",
                          "Messages per write batch committed to the store.", s.batch_size, 1.0));
  out.push_back(Gauge("chatpro_store_refusing_messages",
                      "1 while new messages are refused because they cannot be stored (data "
                      "directory below store.min_free, or store writes failing).",
                      s.refusing_messages.load(std::memory_order_relaxed) ? 1.0 : 0.0));
  if (!data_dir_.empty()) {
    const std::filesystem::path dir(data_dir_);
    out.push_back(Gauge("chatpro_store_size_bytes",
                        "Bytes of the store's files (index and blob logs) on disk.",
                        DirectoryBytes(dir / "store") + DirectoryBytes(dir / "blobs")));
    std::error_code ec;
    std::filesystem::space_info space = std::filesystem::space(dir, ec);
    if (!ec) {
      out.push_back(Gauge("chatpro_data_dir_free_bytes",
                          "Bytes free for the broker on the file system of its data directory.",
                          static_cast<double>(space.available)));
      out.push_back(Gauge("chatpro_data_dir_size_bytes",
                          "Size of the file system of the broker's data directory in bytes.",
                          static_cast<double>(space.capacity)));
    }
  }

  static_assert(sizeof s.errors / sizeof s.errors[0] ==
                static_cast<std::size_t>(StatusCode::kInternal) + 1);
  MetricFamily errors =
      Family("chatpro_errors_total", "Errors answered to clients, by canonical code.",
             MetricType::Counter);
  // Code 0 (ok) is not an error.
  for (std::size_t i = 1; i < std::size(s.errors); ++i) {
    errors.metric.push_back(CounterValue(
        Load(s.errors[i]) + Load(s.front_end_errors[i]),
        {{"code", std::string(StatusCodeName(static_cast<StatusCode>(i)))}}));
  }
  out.push_back(std::move(errors));

  MetricFamily logins = Family("chatpro_console_logins_total",
                               "Sign-ins to the web admin console, by result.", MetricType::Counter);
  const char* const kLoginResults[] = {"ok", "refused", "locked"};
  for (std::size_t i = 0; i < std::size(kLoginResults); ++i) {
    logins.metric.push_back(CounterValue(Load(s.console_logins[i]), {{"result", kLoginResults[i]}}));
  }
  out.push_back(std::move(logins));

  out.push_back(
      Counter("chatpro_auth_refused_total", "Handshakes refused authentication.", s.auth_refused));
  out.push_back(Counter("chatpro_connections_refused_total",
                        "Handshakes refused by a per-address limit.", s.connections_refused));
  out.push_back(Counter("chatpro_rate_limited_total", "Sends refused by a device's rate limit.",
                        s.rate_limited));
  out.push_back(Counter("chatpro_slow_consumers_cut_total",
                        "Live streams cut because the device did not keep up; it catches up from the store.",
                        s.slow_consumers_cut));
  out.push_back(Counter("chatpro_devices_revoked_total", "Devices revoked.", s.devices_revoked));
  out.push_back(
      Counter("chatpro_retention_runs_total", "Runs of the retention policies.", s.retention_runs));
  out.push_back(Counter("chatpro_retention_removed_messages_total",
                        "Messages deleted by retention.", s.retention_removed));
  out.push_back(Counter("chatpro_retention_stripped_attachments_total",
                        "Attachments stripped by retention.", s.retention_stripped));
  MetricFamily by_policy =
      Family("chatpro_retention_removals_total",
             "Retention removals by policy: messages deleted (action=\"delete\") and "
             "attachments stripped (action=\"strip\").",
             MetricType::Counter);
  for (const auto& [policy, n] : s.retention_by_policy.Snapshot()) {
    by_policy.metric.push_back(
        CounterValue(static_cast<double>(n.deleted), {{"policy", policy}, {"action", "delete"}}));
    by_policy.metric.push_back(
        CounterValue(static_cast<double>(n.stripped), {{"policy", policy}, {"action", "strip"}}));
  }
  out.push_back(std::move(by_policy));
  out.push_back(Counter("chatpro_retention_failures_total",
                        "Retention runs that ended with an error or in which a policy plugin "
                        "failed a decision.",
                        s.retention_failures));
  out.push_back(
      Counter("chatpro_retention_plugin_failures_total",
              "Retention decisions a policy plugin failed to make (the message was kept).",
              s.retention_plugin_failures));
  out.push_back(Gauge(
      "chatpro_retention_last_success_timestamp_seconds",
      "When the last retention run (not a dry run) ended without error, in "
      "seconds since the Unix epoch; 0 if none has since the start.",
      static_cast<double>(s.retention_last_success_us.load(std::memory_order_relaxed)) / 1e6));
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
  MetricFamily backups =
      Family("chatpro_backups_total", "Backups of the store made while serving, by result.",
             MetricType::Counter);
  backups.metric.push_back(CounterValue(Load(s.backups_done), {{"result", "done"}}));
  backups.metric.push_back(CounterValue(Load(s.backups_failed), {{"result", "failed"}}));
  out.push_back(std::move(backups));
  out.push_back(
      Gauge("chatpro_backup_last_success_timestamp_seconds",
            "When the newest backup made since the broker started finished (Unix "
            "time); 0 if none has.",
            static_cast<double>(s.backup_last_success_us.load(std::memory_order_relaxed)) / 1e6));
  return out;
}

}  // namespace chatpro::monitoring
