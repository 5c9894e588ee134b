// SPDX-License-Identifier: Apache-2.0
#include "bench/raw_devices.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <zmq.hpp>

#include "bench/workloads.h"
#include "broker/base/encoding.h"
#include "broker/base/invite.h"
#include "chatpro/schemas/wire_generated.h"
#include "client/client.h"

namespace chatpro::bench {
namespace {

constexpr int kDevicesPerWorker = 3000;
constexpr int kEnrollWindow = 128;

std::string Finish(flatbuffers::FlatBufferBuilder& fbb,
                   flatbuffers::Offset<wire::Envelope> envelope) {
  auto frame = wire::CreateFrame(fbb, 1, fbb.CreateVector(&envelope, 1));
  wire::FinishFrameBuffer(fbb, frame);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// The type of the first envelope of a frame, NONE if the frame does not
// verify. The frame is copied first: FlatBuffers needs 8-byte alignment and
// ZeroMQ keeps small messages wherever its message struct lies.
wire::Body FirstEnvelopeType(const zmq::message_t& m) {
  std::vector<std::uint64_t> aligned((m.size() + 7) / 8);
  std::memcpy(aligned.data(), m.data(), m.size());
  const auto* data = reinterpret_cast<const std::uint8_t*>(aligned.data());
  flatbuffers::Verifier v(data, m.size());
  if (!wire::VerifyFrameBuffer(v)) return wire::Body::NONE;
  const wire::Frame* f = wire::GetFrame(data);
  if (f->envelopes() == nullptr || f->envelopes()->size() == 0) return wire::Body::NONE;
  return f->envelopes()->Get(0)->body_type();
}

std::unique_ptr<zmq::socket_t> CurveDealer(zmq::context_t& ctx, const std::string& endpoint,
                                           const std::string& server_key,
                                           const crypto::KeyPair& keys) {
  auto s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
  s->set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_key.data(), server_key.size()));
  s->set(zmq::sockopt::curve_publickey, zmq::const_buffer(keys.public_key.data(), 32));
  s->set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys.secret_key.data(), 32));
  s->set(zmq::sockopt::linger, 0);
  s->connect(endpoint);
  return s;
}

// Waits for one reply on each socket; returns how many got `expected`.
int AwaitReplies(std::vector<std::unique_ptr<zmq::socket_t>>& sockets, wire::Body expected,
                 std::chrono::seconds timeout) {
  std::vector<bool> done(sockets.size(), false);
  int got = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<zmq::pollitem_t> items(sockets.size());
  while (got < static_cast<int>(sockets.size()) && std::chrono::steady_clock::now() < deadline) {
    for (size_t i = 0; i < sockets.size(); ++i) {
      items[i] = {sockets[i]->handle(), 0, static_cast<short>(done[i] ? 0 : ZMQ_POLLIN), 0};
    }
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(100));
    for (size_t i = 0; i < sockets.size(); ++i) {
      if (done[i] || !(items[i].revents & ZMQ_POLLIN)) continue;
      zmq::message_t m;
      while (sockets[i]->recv(m, zmq::recv_flags::dontwait)) {
        if (FirstEnvelopeType(m) == expected) {
          done[i] = true;
          ++got;
          break;
        }
      }
    }
  }
  return got;
}

}  // namespace

std::string HelloFrame() {
  flatbuffers::FlatBufferBuilder fbb;
  auto hello = wire::CreateHello(fbb, fbb.CreateString("chatpro-bench/0.1"), true);
  return Finish(fbb, wire::CreateEnvelope(fbb, 1, wire::Body::Hello, hello.Union()));
}

std::string EnrollFrame(const std::string& device_public_key) {
  flatbuffers::FlatBufferBuilder fbb;
  auto key = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(device_public_key.data()),
                              device_public_key.size());
  auto enroll = wire::CreateEnroll(fbb, key, fbb.CreateString("bench idle device"),
                                   fbb.CreateString("chatpro-bench/0.1"));
  return Finish(fbb, wire::CreateEnvelope(fbb, 1, wire::Body::Enroll, enroll.Union()));
}

Result<IdleDevices> EnrollIdleDevices(const std::string& admin_profile,
                                      const std::string& work_dir, int count,
                                      const std::string& login) {
  CHATPRO_ASSIGN_OR_RETURN(client::Profile admin, client::Profile::Load(admin_profile));
  client::ClientOptions options;
  options.receive = false;
  CHATPRO_ASSIGN_OR_RETURN(std::unique_ptr<client::Client> c, client::Client::Connect(admin, options));
  IdleDevices d;
  d.endpoint = admin.endpoint;
  d.server_key = admin.server_key;
  d.keys_file = work_dir + "/idle-devices.keys";
  d.count = count;
  std::ofstream keys(d.keys_file);
  CHATPRO_ASSIGN_OR_RETURN(client::InviteInfo first,
                           c->AdminAddUser(login, "Idle devices", client::Role::kUser));
  zmq::context_t ctx(1);
  ctx.set(zmq::ctxopt::max_sockets, 4 * kEnrollWindow);
  std::vector<std::string> invites = {first.invite};
  int enrolled = 0;
  while (enrolled < count) {
    int window = std::min(kEnrollWindow, count - enrolled);
    while (static_cast<int>(invites.size()) < window) {
      CHATPRO_ASSIGN_OR_RETURN(client::InviteInfo more, c->CreateInvite(login));
      invites.push_back(more.invite);
    }
    std::vector<std::unique_ptr<zmq::socket_t>> sockets;
    std::vector<crypto::KeyPair> device_keys;
    for (const std::string& text : invites) {
      CHATPRO_ASSIGN_OR_RETURN(Invite invite, ParseInvite(text));
      crypto::KeyPair device = crypto::GenerateKeyPair();
      sockets.push_back(CurveDealer(ctx, d.endpoint, d.server_key,
                                    crypto::DeriveEnrollmentKeyPair(invite.code)));
      std::string frame = EnrollFrame(device.public_key);
      sockets.back()->send(zmq::buffer(frame), zmq::send_flags::none);
      device_keys.push_back(std::move(device));
    }
    int ok = AwaitReplies(sockets, wire::Body::EnrollReply, std::chrono::seconds(60));
    if (ok != static_cast<int>(sockets.size())) {
      return Status::Internal("only " + std::to_string(ok) + " of " +
                              std::to_string(sockets.size()) + " devices enrolled");
    }
    for (const auto& k : device_keys) {
      keys << HexEncode(k.public_key) << " " << HexEncode(k.secret_key) << "\n";
    }
    enrolled += window;
    invites.clear();
  }
  return d;
}

void ConnectedDevices::Close() {
  for (int fd : stdin_fds) ::close(fd);
  for (pid_t pid : workers) {
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  stdin_fds.clear();
  workers.clear();
}

Result<ConnectedDevices> ConnectIdleDevices(const std::string& self_path, const IdleDevices& d) {
  ConnectedDevices out;
  std::vector<int> stdout_fds;
  auto start = std::chrono::steady_clock::now();
  for (int first = 0; first < d.count; first += kDevicesPerWorker) {
    int last = std::min(d.count, first + kDevicesPerWorker);
    int in[2], outp[2];
    if (::pipe(in) != 0 || ::pipe(outp) != 0) return Status::IoError("pipe failed");
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(in[0], 0);
      ::dup2(outp[1], 1);
      ::close(in[1]);
      ::close(outp[0]);
      std::string range = std::to_string(first) + ":" + std::to_string(last);
      std::string key = HexEncode(d.server_key);
      ::execl(self_path.c_str(), self_path.c_str(), "--idle-device-worker", d.keys_file.c_str(),
              range.c_str(), d.endpoint.c_str(), key.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    ::close(in[0]);
    ::close(outp[1]);
    out.workers.push_back(pid);
    out.stdin_fds.push_back(in[1]);
    stdout_fds.push_back(outp[0]);
  }
  for (int fd : stdout_fds) {
    char buf[256] = {};
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0 || std::strncmp(buf, "connected", 9) != 0) {
      out.Close();
      return Status::Internal(std::string("a device worker failed: ") + buf);
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

int RunIdleDeviceWorker(const std::string& keys_file, const std::string& range,
                        const std::string& endpoint, const std::string& server_key_hex) {
  int first = std::stoi(range.substr(0, range.find(':')));
  int last = std::stoi(range.substr(range.find(':') + 1));
  auto server_key = HexDecode(server_key_hex);
  if (!server_key) return 2;
  std::ifstream in(keys_file);
  std::string line;
  std::vector<crypto::KeyPair> keys;
  for (int i = 0; std::getline(in, line); ++i) {
    if (i < first || i >= last) continue;
    std::istringstream fields(line);
    std::string pub, sec;
    fields >> pub >> sec;
    keys.push_back({*HexDecode(pub), *HexDecode(sec)});
  }
  zmq::context_t ctx(1);
  ctx.set(zmq::ctxopt::max_sockets, static_cast<int>(keys.size()) + 16);
  std::vector<std::unique_ptr<zmq::socket_t>> sockets;
  std::string hello = HelloFrame();
  for (const auto& k : keys) {
    sockets.push_back(CurveDealer(ctx, endpoint, *server_key, k));
    sockets.back()->send(zmq::buffer(hello), zmq::send_flags::none);
  }
  int ok = AwaitReplies(sockets, wire::Body::HelloReply, std::chrono::seconds(300));
  if (ok != static_cast<int>(sockets.size())) {
    std::printf("failed: %d of %zu devices got a session\n", ok, sockets.size());
    std::fflush(stdout);
    return 1;
  }
  std::printf("connected\n");
  std::fflush(stdout);
  char buf[64];
  while (::read(0, buf, sizeof buf) > 0) {
  }
  return 0;
}

}  // namespace chatpro::bench
