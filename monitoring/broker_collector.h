// SPDX-License-Identifier: Apache-2.0
//
// BrokerCollector: the broker's counters as Prometheus metric families. It
// reads core::BrokerStats (atomics) each time it is collected, so a scrape
// never runs anything on the broker's event loop and the broker never knows
// it is observed.
//
// Lifecycle: holds a pointer to the stats, which must outlive it.
// Thread-safety: Collect() may run on any thread, also concurrently.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "broker/core/broker.h"

namespace chatpro::monitoring {

class BrokerCollector : public prometheus::Collectable {
 public:
  // `version` is exported as the `version` label of chatpro_build_info.
  // `data_dir` is the broker's data directory: the size of its store and the
  // free space of its file system are measured there at each scrape (empty:
  // those two metrics are left out). The start time exported is the moment of
  // construction. REQUIRES: `stats` outlives the collector.
  BrokerCollector(const core::BrokerStats* stats, std::string version, std::string data_dir = {});

  // One family per metric listed in monitoring/README.md, built from the
  // current values. Counters read at slightly different instants, so a scrape
  // is not an atomic snapshot (each value is exact on its own).
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const core::BrokerStats* const stats_;
  const std::string version_;
  const std::string data_dir_;
  const double start_time_seconds_;
};

}  // namespace chatpro::monitoring
