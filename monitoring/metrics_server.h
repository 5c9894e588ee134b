// SPDX-License-Identifier: Apache-2.0
//
// MetricsServer: the broker's HTTP monitoring endpoint, on prometheus-cpp's
// Exposer (CivetWeb). It serves
//   /metrics  the BrokerCollector's families (Prometheus text format);
//   /healthz  200 while the process runs;
//   /readyz   200 once MarkReady() was called.
// The health endpoints add no metrics of their own; their body holds only the
// Exposer's own exposer_* metrics for that path, which probes ignore.
// The Exposer's public API only serves collectables (always 200), so /readyz
// is registered by MarkReady(): before it CivetWeb answers 404, which probes
// treat as not ready, like a 503.
//
// Lifecycle: Start() binds and serves at once on CivetWeb's threads; the
// destructor stops serving. REQUIRES: the BrokerStats given outlive it.
// Thread-safety: MarkReady() from one thread (the service's); scrapes run on
// CivetWeb's threads and only read atomics.
#pragma once

#include <memory>
#include <string>

#include "broker/base/result.h"
#include "broker/config/options.h"
#include "broker/core/broker.h"

namespace prometheus {
class Exposer;
class Collectable;
}  // namespace prometheus

namespace chatpro::monitoring {

class MetricsServer {
 public:
  // Serves on options.listen (HOST:PORT; port 0 picks a free one). On failure
  // returns Unavailable naming the address (e.g. the port is taken).
  // REQUIRES: options.listen is not empty; `stats` outlives the server.
  static Result<std::unique_ptr<MetricsServer>> Start(const MonitoringOptions& options,
                                                      const core::BrokerStats* stats,
                                                      const std::string& version);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // From now on /readyz answers 200. Idempotent.
  void MarkReady();

  // The port actually bound (useful with port 0).
  int port() const;

 private:
  MetricsServer() = default;

  // Declared first, destroyed last: the exposer holds weak pointers to them.
  std::shared_ptr<prometheus::Collectable> collector_;
  std::shared_ptr<prometheus::Collectable> empty_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  bool ready_ = false;
};

}  // namespace chatpro::monitoring
