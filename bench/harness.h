// SPDX-License-Identifier: Apache-2.0
//
// The benchmark's harness: a chatpro-broker process it starts itself (own
// temporary data directory, a free loopback port), or one already running,
// and the enrolled devices the workloads need.
//
// Thread-safety: a harness object is used by the benchmark's main thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/base/result.h"
#include "client/client.h"

namespace chatpro::bench {

struct BrokerSettings {
  std::string broker_path;        // chatpro-broker executable
  std::string durability = "os";  // fsync | os
  int pin_cpu = -1;               // pin the broker to this CPU (-1: no pinning)
  std::vector<std::string> extra_args;
};

// A broker process on a temporary data directory.
class BrokerProcess {
 public:
  // Makes the data directory and the first administrator (their profile is
  // enrolled in work_dir/admin), then starts the broker. On failure returns
  // the reason, with the end of the broker's log.
  static Result<std::unique_ptr<BrokerProcess>> Start(const BrokerSettings& settings,
                                                      const std::string& work_dir);
  // A broker that is already running, reached through an enrolled
  // administrator's profile. It is neither stopped nor restarted; its memory
  // is read from /proc if `pid` > 0.
  static Result<std::unique_ptr<BrokerProcess>> Attach(const std::string& admin_profile, pid_t pid);
  bool attached() const { return attached_; }
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  const std::string& admin_profile() const { return admin_profile_; }
  pid_t pid() const { return pid_; }

  // SIGTERM and wait; true if it exited cleanly.
  bool Stop();
  // Starts the broker again on the same data directory; returns once it
  // prints that it listens. The time it took is in *elapsed_s.
  Status Restart(double* elapsed_s);
  // The broker's resident memory in bytes (from /proc), 0 if unknown.
  std::uint64_t ResidentBytes() const;
  std::string LogTail() const;
  // The broker's closing "served ... frames ..." line, after Stop().
  std::string ServedLine() const;

 private:
  BrokerProcess() = default;
  Status Launch();

  BrokerSettings settings_;
  std::string work_dir_;
  std::string data_dir_;
  std::string log_path_;
  std::string listen_;
  std::string endpoint_;
  std::string admin_profile_;
  pid_t pid_ = -1;
  bool attached_ = false;
};

// Users and their enrolled device profiles, made through the admin's client.
class Population {
 public:
  Population(std::string admin_profile, std::string work_dir)
      : admin_profile_(std::move(admin_profile)), work_dir_(std::move(work_dir)) {}

  // Adds `count` users named prefix0..prefixN-1, each with one enrolled
  // device; returns their profile folders.
  Result<std::vector<std::string>> AddUsers(const std::string& prefix, int count);

  // Connects a client for an enrolled profile.
  static Result<std::unique_ptr<client::Client>> Connect(const std::string& profile,
                                                         client::ClientOptions options);

 private:
  std::string admin_profile_;
  std::string work_dir_;
};

// A fresh temporary folder under $TMPDIR, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Pins the calling process (and threads it starts later) to `cpu`.
void PinToCpu(int cpu);

// CPU time (user + system, all threads) a process has used so far, in
// microseconds: this process for pid 0. -1 if it cannot be read. Unlike wall
// times, CPU time per message hardly changes with other load on the machine.
double ProcessCpuUs(pid_t pid);

}  // namespace chatpro::bench
