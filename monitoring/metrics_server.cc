// SPDX-License-Identifier: Apache-2.0
#include "monitoring/metrics_server.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/Net.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <ostream>
#include <utility>

#include "monitoring/broker_collector.h"

namespace chatpro::monitoring {
namespace {

using Poco::Net::HTTPResponse;

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(const MetricsServer* server) : server_(server) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    const std::string& method = request.getMethod();
    if (method != Poco::Net::HTTPRequest::HTTP_GET && method != Poco::Net::HTTPRequest::HTTP_HEAD) {
      return Answer(request, response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED,
                    "only GET and HEAD\n");
    }
    // The path without a query string.
    std::string path = request.getURI();
    path = path.substr(0, path.find('?'));
    if (path == "/metrics") {
      std::string text = prometheus::TextSerializer().Serialize(server_->collector().Collect());
      return Answer(request, response, HTTPResponse::HTTP_OK, text,
                    "text/plain; version=0.0.4; charset=utf-8");
    }
    if (path == "/healthz") {
      std::string why = server_->Unhealthy();
      if (!why.empty()) {
        return Answer(request, response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, why + "\n");
      }
      return Answer(request, response, HTTPResponse::HTTP_OK, "ok\n");
    }
    if (path == "/readyz") {
      switch (server_->state()) {
        case MetricsServer::State::kReady: {
          std::string refusing = server_->RefusingMessages();
          if (!refusing.empty()) {
            return Answer(request, response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
                          refusing + "\n");
          }
          return Answer(request, response, HTTPResponse::HTTP_OK, "ready\n");
        }
        case MetricsServer::State::kStarting:
          return Answer(request, response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "starting\n");
        case MetricsServer::State::kStopping:
          return Answer(request, response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "stopping\n");
      }
    }
    Answer(request, response, HTTPResponse::HTTP_NOT_FOUND,
           "not found; try /metrics, /healthz or /readyz\n");
  }

 private:
  static void Answer(const Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response, HTTPResponse::HTTPStatus status,
                     const std::string& body,
                     const std::string& type = "text/plain; charset=utf-8") {
    response.setStatus(status);
    response.setContentType(type);
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.set("Cache-Control", "no-store");
    if (request.getMethod() == Poco::Net::HTTPRequest::HTTP_HEAD) {
      response.send();
      return;
    }
    response.send() << body;
  }

  const MetricsServer* const server_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(const MetricsServer* server) : server_(server) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(server_);  // Poco takes ownership
  }

 private:
  const MetricsServer* const server_;
};

}  // namespace

MetricsServer::MetricsServer(MetricsSources sources)
    : sources_(std::move(sources)),
      collector_(
          std::make_unique<BrokerCollector>(sources_.stats, sources_.version, sources_.data_dir)),
      // Few threads: only Prometheus and probes call.
      pool_(std::make_unique<Poco::ThreadPool>(1, 4)) {}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const MonitoringOptions& options,
                                                            MetricsSources sources) {
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(sources)));
  try {
    // Winsock must be started (WSAStartup) before the first socket; Poco's
    // automatic start is left out of static builds. Nothing to do on POSIX.
    Poco::Net::initializeNetwork();
    Poco::Net::ServerSocket socket;
#ifdef _WIN32
    // There SO_REUSEADDR would let a second process take the port.
    socket.bind(Poco::Net::SocketAddress(options.listen), /*reuseAddress=*/false,
                /*reusePort=*/false);
#else
    // A restart must not wait for the last run's connections in TIME_WAIT;
    // SO_REUSEPORT stays off so that a second broker cannot share the port.
    socket.bind(Poco::Net::SocketAddress(options.listen), /*reuseAddress=*/true,
                /*reusePort=*/false);
#endif
    socket.listen(64);
    auto* params = new Poco::Net::HTTPServerParams();  // reference counted by the server
    params->setMaxThreads(4);
    params->setMaxQueued(64);
    params->setKeepAlive(true);
    params->setTimeout(Poco::Timespan(10, 0));
    server->server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(server.get()),
                                                              *server->pool_, socket, params);
    server->server_->start();
  } catch (const Poco::Exception& e) {
    return Status::Unavailable("cannot serve metrics on " + options.listen + ": " +
                               e.displayText());
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot serve metrics on " + options.listen + ": " + e.what());
  }
  {
    std::lock_guard<std::mutex> lock(server->mutex_);
    server->last_ticks_ = server->sources_.stats->loop_ticks.load();
    server->last_progress_ = std::chrono::steady_clock::now();
  }
  server->watcher_ = std::thread([raw = server.get()] { raw->WatchLoop(); });
  return server;
}

MetricsServer::~MetricsServer() {
  if (server_ != nullptr) {
    // Stop accepting, cut open connections, and wait for handlers in
    // progress: they use this object.
    server_->stopAll(true);
    pool_->joinAll();
    server_.reset();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_watch_ = true;
  }
  wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

std::string MetricsServer::RefusingMessages() const {
  const core::BrokerStats& stats = *sources_.stats;
  if (!stats.refusing_messages.load(std::memory_order_relaxed)) return "";
  if (stats.data_dir_full.load(std::memory_order_relaxed)) {
    return "refusing new messages: data directory full (reads are served; free space on the "
           "data directory and the broker accepts messages again by itself)";
  }
  return "refusing new messages: store writes fail (reads are served; see the broker's log)";
}

void MetricsServer::MarkReady() {
  {
    // The loop is judged from now on.
    std::lock_guard<std::mutex> lock(mutex_);
    last_progress_ = std::chrono::steady_clock::now();
  }
  State expected = State::kStarting;
  state_.compare_exchange_strong(expected, State::kReady);
}

void MetricsServer::MarkStopping() { state_.store(State::kStopping); }

int MetricsServer::port() const { return server_ == nullptr ? 0 : server_->port(); }

void MetricsServer::WatchLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_watch_; })) {
    std::uint64_t ticks = sources_.stats->loop_ticks.load(std::memory_order_relaxed);
    if (ticks != last_ticks_) {
      last_ticks_ = ticks;
      last_progress_ = std::chrono::steady_clock::now();
    }
  }
}

std::string MetricsServer::Unhealthy() const {
  // While starting (store recovery, before the loop runs) and stopping (the
  // loop has ended, the store is being flushed) the loop does not tick.
  if (state() != State::kReady) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  auto still = std::chrono::steady_clock::now() - last_progress_;
  if (still < sources_.stuck_after) return {};
  return "the event loop has not run for " +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(still).count()) + " s";
}

}  // namespace chatpro::monitoring
