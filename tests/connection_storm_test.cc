// SPDX-License-Identifier: Apache-2.0
//
// Connection storms against the real broker, while two colleagues chat:
// thousands of short CURVE connections (some close before their handshake,
// some after a Hello, some without waiting for anything), raw TCP clients
// that send nothing, half a ZMTP greeting or half a CURVE handshake and then
// hang on to their socket, and clients presenting keys nobody enrolled.
// Different loopback addresses (127.0.0.x) stand for different machines, so
// that the per-address limit and the lock-out can be seen separately.
//
// Afterwards every message of the chat has arrived, the broker's open file
// descriptors are back near where they were (half-open handshakes are closed
// after limits.handshake_timeout), an address at its connection limit gets
// in again once its dead connections are gone, the address that guessed
// keys is locked out for new keys, and new devices still enroll.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <zmq.hpp>

#include "broker/base/invite.h"
#include "broker/crypto/keys.h"
#include "tests/chat_fixture.h"
#include "tests/process_stats.h"
#include "tests/raw_connection.h"

namespace chatpro::testing {
namespace {

using client::Profile;
using client::SendResult;
using client::Target;

constexpr int kConnectionsPerAddress = 40;
#ifdef CHATPRO_SANITIZE
constexpr int kShortConnectionsPerThread = 150;
#else
constexpr int kShortConnectionsPerThread = 600;
#endif
constexpr int kStormThreads = 4;
constexpr int kHalfOpen = 150;
constexpr int kUnknownKeys = 60;
constexpr int kChatMessages = 200;

// "tcp://SOURCE:0;127.0.0.1:PORT": connect to the broker from `source`.
std::string From(const std::string& source, const std::string& endpoint) {
  return "tcp://" + source + ":0;" + endpoint.substr(6);
}

// A TCP socket from `source` to the broker's port that sends `bytes` and then
// stays open; -1 on failure.
int HalfOpen(const std::string& source, int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    close(fd);
    return -1;
  }
  if (!bytes.empty() && send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A ZMTP 3.0 greeting offering CURVE as a client (64 bytes).
std::string CurveGreeting() {
  std::string g(64, '\0');
  g[0] = static_cast<char>(0xFF);
  g[9] = 0x7F;
  g[10] = 3;  // version 3.0
  g[11] = 0;
  std::string mechanism = "CURVE";
  g.replace(12, mechanism.size(), mechanism);
  return g;
}

int WaitForFds(pid_t pid, int at_most) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  int fds = OpenFileDescriptors(pid);
  while (fds > at_most && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    fds = OpenFileDescriptors(pid);
  }
  return fds;
}

// Connects from `source` with `profile`'s key and says Hello; true once the
// broker answers it.
bool HelloFrom(const std::string& source, const Profile& profile,
               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  RawConnection c(From(source, profile.endpoint), profile.server_key, profile.public_key,
                  profile.secret_key);
  if (!c.WaitConnected(timeout)) return false;
  if (!c.Send(HelloFrame(1))) return false;
  std::optional<RawReply> r = c.WaitForReply(1, timeout);
  return r.has_value() && r->type == wire::Body::HelloReply;
}

// HelloFrom until it succeeds, a few times a second for up to 20 s (the
// broker looks for an address's dead connections at most once a second).
bool EventuallyHelloFrom(const std::string& source, const Profile& profile) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (HelloFrom(source, profile)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

class ConnectionStorm : public BrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "metrics.listen=127.0.0.1:" + std::to_string(metrics_port_),
                    "--set", "limits.handshake_timeout=1s",
                    "--set", "limits.connections_per_address=" +
                                 std::to_string(kConnectionsPerAddress)};
    return o;
  }

  const int metrics_port_ = PickFreePort();
};

TEST_F(ConnectionStorm, LeavesTheBrokerServingEveryoneAndItsFilesBackToBaseline) {
  ASSERT_OK(crypto::InitCrypto());
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(Profile dan, AddUser("dan"));  // the device behind the storms
  auto ana_inbox = std::make_shared<Inbox>();
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, ana_inbox));
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));
  ASSERT_TRUE(HelloFrom("127.0.0.1", dan));

  const pid_t pid = broker_->pid();
  const int baseline_fds = OpenFileDescriptors(pid);
  ASSERT_GT(baseline_fds, 0);

  // Ana and Ben chat all through the storms.
  std::vector<std::future<SendResult>> chat;
  std::thread chatter([&] {
    for (int i = 0; i < kChatMessages; ++i) {
      chat.push_back(ana_client->Send(Target::User("ben"), MakeText("a" + std::to_string(i))));
      chat.push_back(ben_client->Send(Target::User("ana"), MakeText("b" + std::to_string(i))));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });

  // Half-open connections from 127.0.0.3, held open until the end.
  std::vector<int> half_open;
  const std::string greeting = CurveGreeting();
  for (int i = 0; i < kHalfOpen; ++i) {
    std::string bytes;
    if (i % 3 == 1) bytes = greeting.substr(0, 11);                  // half a greeting
    if (i % 3 == 2) bytes = greeting + std::string("\x04\xc8\x05HELLO", 8);  // half a HELLO
    int fd = HalfOpen("127.0.0.3", broker_->port(), bytes);
    ASSERT_GE(fd, 0) << "cannot open a TCP connection from 127.0.0.3: " << strerror(errno);
    half_open.push_back(fd);
  }
  const int fds_with_half_open = OpenFileDescriptors(pid);

  // Thousands of short CURVE connections from 127.0.0.2 with an enrolled key.
  std::atomic<int> answered{0};
  std::vector<std::thread> storm;
  for (int t = 0; t < kStormThreads; ++t) {
    storm.emplace_back([&, t] {
      zmq::context_t context(1);
      const std::string endpoint = From("127.0.0.2", dan.endpoint);
      const std::string hello = HelloFrame(1);
      for (int i = 0; i < kShortConnectionsPerThread; ++i) {
        zmq::socket_t s(context, zmq::socket_type::dealer);
        s.set(zmq::sockopt::curve_serverkey, zmq::buffer(dan.server_key));
        s.set(zmq::sockopt::curve_publickey, zmq::buffer(dan.public_key));
        s.set(zmq::sockopt::curve_secretkey, zmq::buffer(dan.secret_key));
        s.set(zmq::sockopt::linger, 0);
        s.connect(endpoint);
        switch ((i + t) % 4) {
          case 0:  // gone before the handshake
            break;
          case 1: {  // a Hello, and the answer awaited
            s.send(zmq::buffer(hello), zmq::send_flags::dontwait);
            zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
            if (zmq::poll(items, 1, std::chrono::milliseconds(500)) > 0) ++answered;
            break;
          }
          default:  // a Hello, and gone without waiting
            s.send(zmq::buffer(hello), zmq::send_flags::dontwait);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            break;
        }
      }
    });
  }

  // Keys nobody enrolled, from 127.0.0.4: refused, and then the address is
  // locked out for new keys.
  for (int i = 0; i < kUnknownKeys; ++i) {
    crypto::KeyPair stranger = crypto::GenerateKeyPair();
    RawConnection c(From("127.0.0.4", dan.endpoint), dan.server_key, stranger.public_key,
                    stranger.secret_key);
    EXPECT_FALSE(c.WaitConnected(std::chrono::seconds(5))) << "an unknown key was let in";
  }
  for (auto& t : storm) t.join();
  chatter.join();
  std::cout << "short connections whose Hello was answered: " << answered.load() << " of "
            << kStormThreads * kShortConnectionsPerThread / 4 << " that waited\n";

  // Every chat message was stored and arrived.
  for (auto& f : chat) {
    ASSERT_OK_AND_ASSIGN(SendResult r, Await(f));
    EXPECT_TRUE(r.status.ok()) << r.status;
  }
  EXPECT_TRUE(ana_inbox->WaitFor(kChatMessages));
  EXPECT_TRUE(ben_inbox->WaitFor(kChatMessages));

  // The half-open connections are closed by the broker while their clients
  // still hold them: the descriptors come back.
  const int fds_after = WaitForFds(pid, baseline_fds + 20);
  std::cout << "broker fds: " << baseline_fds << " before, " << fds_with_half_open << " with "
            << kHalfOpen << " half-open handshakes, " << fds_after << " after the storms\n";
  EXPECT_LE(fds_after, baseline_fds + 20) << "half-open handshakes or storm connections linger";
  for (int fd : half_open) close(fd);

  // The storm's address reached its limit with connections that are gone: it
  // gets in again.
  EXPECT_TRUE(EventuallyHelloFrom("127.0.0.2", dan)) << "the storm's address stays refused after its connections are gone";

  // The limit itself: kConnectionsPerAddress live sessions from 127.0.0.5,
  // then one more is refused; once one leaves, a new one gets in.
  std::vector<std::unique_ptr<RawConnection>> live;
  for (int i = 0; i < kConnectionsPerAddress; ++i) {
    auto c = std::make_unique<RawConnection>(From("127.0.0.5", dan.endpoint), dan.server_key,
                                             dan.public_key, dan.secret_key);
    ASSERT_TRUE(c->WaitConnected()) << "connection " << i << " from 127.0.0.5 refused";
    ASSERT_TRUE(c->Send(HelloFrame(1)));
    ASSERT_TRUE(c->WaitForReply(1).has_value());
    live.push_back(std::move(c));
  }
  const double refused_before = ScrapeMetric(metrics_port_, "chatpro_connections_refused_total");
  EXPECT_FALSE(HelloFrom("127.0.0.5", dan)) << "a connection beyond the limit was let in";
  EXPECT_GT(ScrapeMetric(metrics_port_, "chatpro_connections_refused_total"), refused_before);
  live.pop_back();
  EXPECT_TRUE(EventuallyHelloFrom("127.0.0.5", dan)) << "the address stays refused after one of its connections left";
  live.clear();

  // The guessing address is locked out for new keys, invites included ...
  EXPECT_GE(ScrapeMetric(metrics_port_, "chatpro_auth_refused_total"), kUnknownKeys);
  ASSERT_OK_AND_ASSIGN(client::InviteInfo eve_invite,
                       root_->AdminAddUser("eve", "Eve", client::Role::kUser));
  ASSERT_OK_AND_ASSIGN(Invite parsed, ParseInvite(eve_invite.invite));
  crypto::KeyPair one_time = crypto::DeriveEnrollmentKeyPair(parsed.code);
  {
    RawConnection locked(From("127.0.0.4", dan.endpoint), parsed.server_key, one_time.public_key,
                         one_time.secret_key);
    EXPECT_FALSE(locked.WaitConnected(std::chrono::seconds(5)))
        << "an invite was accepted from a locked-out address";
  }
  // ... while enrolled devices still connect from there, and new devices
  // enroll from elsewhere and chat.
  EXPECT_TRUE(HelloFrom("127.0.0.4", dan));
  ASSERT_OK_AND_ASSIGN(Profile eve, client::Enroll(ProfileDir("eve"), eve_invite.invite));
  auto eve_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto eve_client, Connect(eve, eve_inbox));
  auto hi = ana_client->Send(Target::User("eve"), MakeText("welcome"));
  ASSERT_OK_AND_ASSIGN(SendResult r, Await(hi));
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(eve_inbox->WaitFor(1));
}

}  // namespace
}  // namespace chatpro::testing
