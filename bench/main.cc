// SPDX-License-Identifier: Apache-2.0
//
// chatpro-bench: measures ChatPro against a bare ZeroMQ hop on the same
// machine in the same run. See bench/README.md.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "bench/soak.h"
#include "bench/workloads.h"
#include "broker/crypto/keys.h"

namespace chatpro::bench {
namespace {

const char kUsage[] = R"(chatpro-bench: ChatPro's benchmark.

Usage: chatpro-bench [options]

Starts its own chatpro-broker for each workload (temporary data directory,
loopback), enrolls the users it needs, runs each workload --repeat times and
prints median [min - max], the same-run bare ZeroMQ one-hop reference and the
ratio to it; or, with --attach, uses a running broker. Exits non-zero if any
workload lost or reordered a message.

Options:
  --workloads LIST   comma-separated, from W1..W8 (default: all)
                     W1 1:1 text, os; W2 1:1 text, fsync; W3 fan-out to a group;
                     W4 latency at a fixed rate (unpinned and on one CPU);
                     W5 1:1 pictures; W6 idle devices; W7 restart with a large store;
                     W8 W4's latency while a retention run removes many messages
  --repeat N         repetitions per workload (default 3)
  --short            a few seconds in all: small sizes (the smoke test)
  --verbose          print the broker's own account of each run (frames, batches)
  --json FILE        also write the results as JSON
  --broker PATH      the chatpro-broker to run (default: next to this program)
  --attach PROFILE   use the running broker of this enrolled administrator
                     profile instead of starting brokers (W2, W7 and W8 need
                     brokers of their own and are skipped; durability is the
                     broker's own)
  --broker-pid PID   with --attach: the broker's process, for W6's memory figure
  --broker-arg ARG   pass ARG to every broker started (repeatable), e.g.
                     --broker-arg --set --broker-arg limits.delivery_window_bytes=32MiB
  --messages N       messages for W1, W2, W7 and W8
  --group-size N     members for W3 (default 100)
  --devices N        idle devices for W6 (default 10000)
  --pictures N       pictures for W5 (default 4000)

The long run, instead of the workloads:
  --soak SECONDS     mixed traffic (1:1 and group texts, a picture every 100th
                     message, history reads, devices connecting and leaving)
                     for SECONDS against a broker of its own, sampling its
                     resident memory and open fds; exits non-zero if a send
                     fails, anything is lost, or memory or fds grow after the
                     warm-up (the first quarter): the median anonymous RSS of
                     the last third of the samples may exceed the first third's by 10%
                     + 16 MiB, the highest fd count by 8
  --rate N           messages per second in all (default: half of the mix's
                     capacity, measured first for up to 10 s at full speed)
  --sample-interval S  seconds between samples (default 5)
  --json FILE        with --soak: the samples and the verdict as JSON
)";

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

int Run(int argc, char** argv) {
  if (argc >= 6 && std::string(argv[1]) == "--idle-device-worker") {
    return RunIdleDeviceWorker(argv[2], argv[3], argv[4], argv[5]);
  }
  BenchOptions o;
  o.self_path = SelfPath();
  o.broker_path = o.self_path.substr(0, o.self_path.rfind('/') + 1) + "chatpro-broker";
  std::set<std::string> workloads = {"W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"};
  std::string json_path;
  int messages = 0, group = 0, devices = 0, pictures = 0;
  SoakOptions soak;
  bool soak_mode = false;
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "chatpro-bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--workloads") {
      workloads.clear();
      std::stringstream list(next());
      std::string w;
      while (std::getline(list, w, ',')) workloads.insert(w);
    } else if (a == "--repeat") {
      o.repeat = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--attach") {
      o.attach_profile = next();
    } else if (a == "--broker-pid") {
      o.attach_pid = std::atoi(next().c_str());
    } else if (a == "--broker-arg") {
      o.broker_args.push_back(next());
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--short") {
      o.short_run = true;
    } else if (a == "--json") {
      json_path = next();
    } else if (a == "--broker") {
      o.broker_path = next();
    } else if (a == "--messages") {
      messages = std::atoi(next().c_str());
    } else if (a == "--group-size") {
      group = std::atoi(next().c_str());
    } else if (a == "--devices") {
      devices = std::atoi(next().c_str());
    } else if (a == "--pictures") {
      pictures = std::atoi(next().c_str());
    } else if (a == "--soak") {
      soak_mode = true;
      soak.seconds = std::atof(next().c_str());
      if (soak.seconds < 10) {
        std::cerr << "chatpro-bench: --soak needs at least 10 seconds\n";
        return 2;
      }
    } else if (a == "--rate") {
      soak.rate = std::atoi(next().c_str());
    } else if (a == "--sample-interval") {
      soak.sample_interval_s = std::max(0.5, std::atof(next().c_str()));
    } else {
      std::cerr << "chatpro-bench: unknown option " << a << "\n" << kUsage;
      return 2;
    }
  }
  if (o.short_run) {
    o.w1_messages = o.w2_messages = 5000;
    o.w3_messages = 200;
    o.w3_members = 10;
    o.w4_rate = 2000;
    o.w4_seconds = 1;
    o.w5_messages = 40;
    o.w6_devices = 50;
    o.w7_messages = 5000;
    o.w8_messages = 5000;
  }
  if (messages > 0) o.w1_messages = o.w2_messages = o.w7_messages = o.w8_messages = messages;
  if (group > 1) o.w3_members = group;
  if (devices > 0) o.w6_devices = devices;
  if (pictures > 0) o.w5_messages = pictures;
  if (!crypto::InitCrypto().ok()) return 1;
  if (soak_mode) {
    soak.json_path = json_path;
    return RunSoak(o, soak);
  }
  if (!o.attach_profile.empty()) {
    workloads.erase("W2");
    workloads.erase("W7");
    workloads.erase("W8");
  }

  std::vector<Metric> metrics;
  auto run = [&](const std::string& id, std::vector<Metric> (*fn)(const BenchOptions&)) {
    if (workloads.count(id) == 0) return;
    std::fprintf(stderr, "chatpro-bench: running %s ...\n", id.c_str());
    for (Metric& m : fn(o)) metrics.push_back(std::move(m));
  };
  run("W1", RunW1);
  run("W2", RunW2);
  run("W3", RunW3);
  run("W4", RunW4);
  run("W5", RunW5);
  run("W6", RunW6);
  run("W7", RunW7);
  run("W8", RunW8);

  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::string machine = DescribeMachine();
  std::cout << "ChatPro benchmark, " << date << "\n" << machine << "\n"
            << "median of " << o.repeat << " runs [min - max]; zmq ref = bare one-hop ZeroMQ "
            << "ROUTER forwarder, same payloads, same run\n\n"
            << FormatTable(metrics);
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << FormatJson(metrics, machine, date, command);
  }
  bool lost = false;
  for (const Metric& m : metrics) lost = lost || !m.lost_nothing || m.runs.empty();
  if (lost) {
    std::cerr << "chatpro-bench: a workload lost, reordered or failed to deliver messages\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace chatpro::bench

int main(int argc, char** argv) { return chatpro::bench::Run(argc, argv); }
