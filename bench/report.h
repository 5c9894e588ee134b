// SPDX-License-Identifier: Apache-2.0
//
// The benchmark's figures: each metric of each workload, repeated, reported
// as median [min-max] with the same-run ZeroMQ reference and the ratio to it,
// as a table and as JSON.
//
// Thread-safety: plain values.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace chatpro::bench {

struct Metric {
  std::string workload;  // "W1"
  std::string title;     // "1:1 text 200 B, durability os"
  std::string name;      // "msgs/s"
  bool higher_is_better = true;
  std::vector<double> runs;
  std::vector<double> reference_runs;  // the bare ZeroMQ hop, same payloads
  std::string target;                  // "≥ 700000"
  std::optional<double> target_value;
  bool lost_nothing = true;
  std::string note;

  double Median() const;
  double Min() const;
  double Max() const;
  std::optional<double> ReferenceMedian() const;
  // Whether the median meets target_value (nullopt if no target).
  std::optional<bool> MeetsTarget() const;
};

double MedianOf(std::vector<double> v);
// The q-quantile (0..1) of `v` (sorted in place).
double Quantile(std::vector<double>& v, double q);

std::string FormatTable(const std::vector<Metric>& metrics);
std::string FormatJson(const std::vector<Metric>& metrics, const std::string& machine,
                       const std::string& date, const std::string& command);

// "Debian 12, 2 CPUs (Intel ...), 24 GiB" from /proc and uname.
std::string DescribeMachine();

}  // namespace chatpro::bench
