// SPDX-License-Identifier: Apache-2.0
//
// The broker under a service manager: started with NOTIFY_SOCKET pointing at
// a unix datagram socket the test binds (as systemd does for Type=notify),
// it reports READY=1 once it serves clients, STOPPING=1 when SIGTERM begins
// a stop, and pings the watchdog from its event loop when asked to.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "tests/chat_fixture.h"

namespace chatpro::testing {
namespace {

using namespace std::chrono_literals;

// The service manager's end: a bound unix datagram socket.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = dir_.Sub("notify");
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) return;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

  // The next datagram, or nullopt if none came within `timeout`.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout = kWaitTimeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }

  // The next datagram that is not a watchdog ping.
  std::optional<std::string> ReceiveState(std::chrono::milliseconds timeout = kWaitTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      std::optional<std::string> m = Receive(left);
      if (!m || *m != "WATCHDOG=1") return m;
    }
  }

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

bool HasLine(const std::string& message, const std::string& line) {
  return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

class ServiceNotify : public BrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.environment = {"NOTIFY_SOCKET=" + notify_.path()};
    return o;
  }
  bool EnrollRoot() const override { return false; }

  void SetUp() override {
    ASSERT_TRUE(notify_.ok()) << "cannot bind " << notify_.path() << ": " << std::strerror(errno);
    BrokerTest::SetUp();
  }

  NotifySocket notify_;
};

// Every second, as systemd would pass for WatchdogSec=1s.
class ServiceWatchdog : public ServiceNotify {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o = ServiceNotify::BrokerOptions();
    o.environment.push_back("WATCHDOG_USEC=1000000");
    return o;
  }
};

TEST_F(ServiceNotify, ReportsReadyOnlyOnceItServesClients) {
  std::optional<std::string> ready = notify_.ReceiveState();
  ASSERT_TRUE(ready.has_value()) << "no notification from the broker";
  EXPECT_TRUE(HasLine(*ready, "READY=1")) << *ready;
  EXPECT_TRUE(HasLine(*ready, "STATUS=listening on " + broker_->endpoint())) << *ready;
  // READY=1 is the first thing the broker says, and a client served at once
  // after it proves the store is open and the endpoint bound.
  ASSERT_OK_AND_ASSIGN(root_profile_, client::Enroll(ProfileDir("root"), broker_->admin_invite()));
  ASSERT_OK_AND_ASSIGN(root_, Connect(root_profile_, nullptr));
  ASSERT_OK(root_->AdminAddUser("ana", "Ana", client::Role::kUser).status());
}

TEST_F(ServiceNotify, ReportsStoppingOnSigterm) {
  std::optional<std::string> ready = notify_.ReceiveState();
  ASSERT_TRUE(ready.has_value() && HasLine(*ready, "READY=1"));
  ASSERT_EQ(broker_->Stop(), 0) << broker_->Log();
  std::optional<std::string> stopping = notify_.ReceiveState(5s);
  ASSERT_TRUE(stopping.has_value()) << "no STOPPING=1 after SIGTERM";
  EXPECT_TRUE(HasLine(*stopping, "STOPPING=1")) << *stopping;
  // Only once, though both the signal and the end of the loop report it.
  EXPECT_EQ(notify_.ReceiveState(300ms), std::nullopt);
}

TEST_F(ServiceNotify, SendsNoWatchdogPingsUnlessAsked) {
  ASSERT_TRUE(notify_.ReceiveState().has_value());
  EXPECT_EQ(notify_.Receive(1500ms), std::nullopt);
}

TEST_F(ServiceWatchdog, PingsTheWatchdogAtHalfTheInterval) {
  ASSERT_TRUE(notify_.ReceiveState().has_value());
  const auto start = std::chrono::steady_clock::now();
  int pings = 0;
  while (pings < 3) {
    std::optional<std::string> m = notify_.Receive(3s);
    ASSERT_TRUE(m.has_value()) << "the watchdog pings stopped after " << pings;
    if (*m == "WATCHDOG=1") ++pings;
  }
  // Three pings at 500 ms apart: more than half a second, well under 3 s.
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 800ms);
  EXPECT_LT(elapsed, 10s);
}

}  // namespace
}  // namespace chatpro::testing
