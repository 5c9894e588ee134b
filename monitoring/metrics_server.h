// SPDX-License-Identifier: Apache-2.0
//
// MetricsServer: the broker's HTTP monitoring endpoint. It serves
//   /metrics  the BrokerCollector's families in the Prometheus text format
//             (built by prometheus-cpp's TextSerializer);
//   /healthz  200 while the broker's event loop runs; 503 once the loop has
//             not run its timers for `stuck_after` (a stuck broker is not
//             healthy); 200 while starting and stopping;
//   /readyz   200 once MarkReady() was called and until MarkStopping(); 503
//             before and after, and while the broker refuses new messages
//             because it cannot store them (data directory full, store
//             writes failing), with the reason in the body.
// Any other path answers 404. The HTTP server is Poco's (prometheus-cpp's own
// Exposer can only answer 200).
//
// Lifecycle: Start() binds and serves at once on the server's threads; the
// destructor stops serving and waits for requests in progress.
// REQUIRES: the BrokerStats given outlive the server.
// Thread-safety: MarkReady()/MarkStopping() from any thread; requests run on
// the server's threads and only read atomics.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "broker/base/result.h"
#include "broker/config/options.h"
#include "broker/core/broker.h"

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
}  // namespace Net
}  // namespace Poco

namespace chatpro::monitoring {

class BrokerCollector;

// What the endpoint reports on.
struct MetricsSources {
  const core::BrokerStats* stats = nullptr;  // REQUIRED; outlives the server
  std::string version;                       // chatpro_build_info's `version`
  // The data directory: store size and free space are measured there.
  // Default: empty (those metrics are left out).
  std::string data_dir;
  // /healthz answers 503 once the event loop's tick counter has not moved for
  // this long. Default: 10 s.
  std::chrono::milliseconds stuck_after{10'000};
};

class MetricsServer {
 public:
  // Serves on options.listen (HOST:PORT; port 0 picks a free one). On failure
  // returns Unavailable naming the address (e.g. the port is taken).
  // REQUIRES: options.listen is not empty; sources.stats is set.
  static Result<std::unique_ptr<MetricsServer>> Start(const MonitoringOptions& options,
                                                      MetricsSources sources);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // From now on /readyz answers 200 (unless stopping). Idempotent.
  void MarkReady();
  // From now on /readyz answers 503 and /healthz does not judge the event
  // loop (it stops while the broker shuts down). Idempotent.
  void MarkStopping();

  // The port actually bound (useful with port 0).
  int port() const;

  // What the endpoints answer now (for the request handler).
  enum class State { kStarting, kReady, kStopping };
  State state() const { return state_.load(); }
  // Empty if healthy, else why not.
  std::string Unhealthy() const;
  // Empty unless the broker refuses new messages because it cannot store
  // them; then why (for /readyz).
  std::string RefusingMessages() const;
  const BrokerCollector& collector() const { return *collector_; }

 private:
  explicit MetricsServer(MetricsSources sources);
  // Samples the event loop's tick counter once a second.
  void WatchLoop();

  const MetricsSources sources_;
  std::unique_ptr<BrokerCollector> collector_;
  std::atomic<State> state_{State::kStarting};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_watch_ = false;                              // GUARDED_BY(mutex_)
  std::uint64_t last_ticks_ = 0;                         // GUARDED_BY(mutex_)
  std::chrono::steady_clock::time_point last_progress_;  // GUARDED_BY(mutex_)
  std::thread watcher_;
  std::unique_ptr<Poco::ThreadPool> pool_;

  // Declared last, destroyed first: its handlers use the members above.
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace chatpro::monitoring
