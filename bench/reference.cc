// SPDX-License-Identifier: Apache-2.0
#include "bench/reference.h"

#include "bench/harness.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <zmq.hpp>

namespace chatpro::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Hop {
  zmq::context_t context{2};
  zmq::socket_t router{context, zmq::socket_type::router};
  std::string endpoint;
  std::atomic<bool> stop{false};

  Hop() {
    router.set(zmq::sockopt::router_mandatory, 1);
    router.set(zmq::sockopt::sndhwm, 10000);
    router.set(zmq::sockopt::rcvhwm, 10000);
    router.set(zmq::sockopt::linger, 0);
    router.bind("tcp://127.0.0.1:*");
    endpoint = router.get(zmq::sockopt::last_endpoint);
  }
};

// Forwards every message from the sender (routing id "s") to each receiver.
void Forward(Hop& hop, int receivers, int messages) {
  std::vector<std::string> ids;
  while (static_cast<int>(ids.size()) < receivers) {
    zmq::message_t id, body;
    (void)hop.router.recv(id);
    (void)hop.router.recv(body);
    if (id.to_string() != "s") ids.push_back(id.to_string());
  }
  for (int n = 0; n < messages && !hop.stop; ++n) {
    zmq::message_t id, body;
    if (!hop.router.recv(id) || !hop.router.recv(body)) break;
    for (size_t r = 0; r < ids.size(); ++r) {
      hop.router.send(zmq::buffer(ids[r]), zmq::send_flags::sndmore);
      if (r + 1 == ids.size()) {
        hop.router.send(body, zmq::send_flags::none);
      } else {
        zmq::message_t copy(body.data(), body.size());
        hop.router.send(copy, zmq::send_flags::none);
      }
    }
  }
}

zmq::socket_t Dealer(zmq::context_t& ctx, const std::string& id, const std::string& endpoint) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::routing_id, id);
  s.set(zmq::sockopt::sndhwm, 10000);
  s.set(zmq::sockopt::rcvhwm, 10000);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  return s;
}

}  // namespace

ReferenceResult RunReferenceThroughput(int messages, std::size_t payload_bytes, int receivers) {
  Hop hop;
  ReferenceResult result;
  std::atomic<int> registered{0};
  std::atomic<int> done_receivers{0};
  std::atomic<std::int64_t> last_ns{0};
  std::vector<std::thread> threads;
  std::atomic<bool> all_complete{true};
  for (int r = 0; r < receivers; ++r) {
    threads.emplace_back([&, r] {
      zmq::socket_t s = Dealer(hop.context, "r" + std::to_string(r), hop.endpoint);
      s.send(zmq::str_buffer("hi"), zmq::send_flags::none);
      registered++;
      s.set(zmq::sockopt::rcvtimeo, 20000);
      int got = 0;
      for (; got < messages; ++got) {
        zmq::message_t m;
        if (!s.recv(m)) break;
      }
      if (got != messages) all_complete = false;
      std::int64_t now = NowNs();
      std::int64_t prev = last_ns.load();
      while (now > prev && !last_ns.compare_exchange_weak(prev, now)) {
      }
      done_receivers++;
    });
  }
  std::thread forwarder([&] { Forward(hop, receivers, messages); });
  while (registered < receivers) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  zmq::socket_t sender = Dealer(hop.context, "s", hop.endpoint);
  std::string payload(payload_bytes, 'x');
  std::int64_t start = NowNs();
  const double cpu_start = ProcessCpuUs(0);
  for (int i = 0; i < messages; ++i) {
    sender.send(zmq::buffer(payload), zmq::send_flags::none);
  }
  for (auto& t : threads) t.join();
  result.cpu_us_per_message = (ProcessCpuUs(0) - cpu_start) / static_cast<double>(messages);
  hop.stop = true;
  forwarder.join();
  double seconds = static_cast<double>(last_ns.load() - start) / 1e9;
  result.complete = all_complete;
  result.messages_per_second = static_cast<double>(messages) * receivers / seconds;
  result.megabytes_per_second =
      static_cast<double>(messages) * receivers * static_cast<double>(payload_bytes) / seconds / 1e6;
  return result;
}

ReferenceResult RunReferenceLatency(int rate, double seconds, std::size_t payload_bytes) {
  Hop hop;
  ReferenceResult result;
  int messages = static_cast<int>(rate * seconds);
  std::atomic<bool> registered{false};
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(messages));
  std::thread receiver([&] {
    zmq::socket_t s = Dealer(hop.context, "r0", hop.endpoint);
    s.send(zmq::str_buffer("hi"), zmq::send_flags::none);
    registered = true;
    s.set(zmq::sockopt::rcvtimeo, 20000);
    for (int i = 0; i < messages; ++i) {
      zmq::message_t m;
      if (!s.recv(m)) break;
      std::int64_t sent;
      std::memcpy(&sent, m.data(), sizeof sent);
      latencies.push_back(static_cast<double>(NowNs() - sent) / 1000.0);
    }
  });
  std::thread forwarder([&] { Forward(hop, 1, messages); });
  while (!registered) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  zmq::socket_t sender = Dealer(hop.context, "s", hop.endpoint);
  std::string payload(std::max<std::size_t>(payload_bytes, 8), 'x');
  auto start = Clock::now();
  auto interval = std::chrono::nanoseconds(1'000'000'000 / rate);
  for (int i = 0; i < messages; ++i) {
    std::this_thread::sleep_until(start + interval * i);
    std::int64_t now = NowNs();
    std::memcpy(payload.data(), &now, sizeof now);
    sender.send(zmq::buffer(payload), zmq::send_flags::none);
  }
  receiver.join();
  hop.stop = true;
  forwarder.join();
  result.complete = static_cast<int>(latencies.size()) == messages;
  result.latencies_us = std::move(latencies);
  return result;
}

}  // namespace chatpro::bench
