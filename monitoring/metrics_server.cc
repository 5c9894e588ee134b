// SPDX-License-Identifier: Apache-2.0
#include "monitoring/metrics_server.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <exception>
#include <vector>

#include "monitoring/broker_collector.h"

namespace chatpro::monitoring {
namespace {

// Adds nothing: the health endpoints only need the 200.
class EmptyCollectable : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override { return {}; }
};

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const MonitoringOptions& options,
                                                            const core::BrokerStats* stats,
                                                            const std::string& version) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->collector_ = std::make_shared<BrokerCollector>(stats, version);
  server->empty_ = std::make_shared<EmptyCollectable>();
  // CivetWeb reports a bind failure by throwing from the Exposer's constructor.
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(options.listen, 2);
    server->exposer_->RegisterCollectable(server->collector_, "/metrics");
    server->exposer_->RegisterCollectable(server->empty_, "/healthz");
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot serve metrics on " + options.listen + ": " + e.what());
  }
  return server;
}

MetricsServer::~MetricsServer() = default;

void MetricsServer::MarkReady() {
  if (ready_) return;
  exposer_->RegisterCollectable(empty_, "/readyz");
  ready_ = true;
}

int MetricsServer::port() const {
  std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace chatpro::monitoring
