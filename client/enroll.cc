// SPDX-License-Identifier: Apache-2.0
//
// Enroll(): one short CURVE connection made with the invite's one-time key
// pair, carrying a single Enroll request.
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "broker/base/invite.h"
#include "broker/crypto/keys.h"
#include "client/client.h"
#include "client/wire_codec.h"
#include "client/zmq_util.h"

namespace chatpro::client {
namespace {

namespace fs = std::filesystem;
using internal::ZmqGuard;

constexpr char kClientVersion[] = "libchatpro/0.1";
constexpr std::uint64_t kEnrollRequestId = 1;

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "device";
  return buf;
}

std::string Seconds(std::chrono::milliseconds ms) {
  auto s = ms.count() / 1000;
  auto tenths = (ms.count() % 1000) / 100;
  return std::to_string(s) + (tenths ? "." + std::to_string(tenths) : "") + " s";
}

struct Enrolled {
  std::uint64_t user_id = 0;
  std::string login;
  std::uint64_t device_id = 0;
};

// Looks for the answer to the Enroll request in one received frame. Returns
// nullopt if the frame does not hold it.
std::optional<Result<Enrolled>> ReadAnswer(const zmq::message_t& msg) {
  Result<internal::ReceivedFrame> parsed = internal::ReceivedFrame::Parse(msg.data(), msg.size());
  if (!parsed.ok()) return std::nullopt;  // unreadable frames are dropped
  const auto* envelopes = parsed->frame().envelopes();
  if (envelopes == nullptr) return std::nullopt;
  for (const auto* env : *envelopes) {
    if (const auto* error = env->body_as_Error()) {
      if (env->request_id() == kEnrollRequestId || env->request_id() == 0) {
        return Result<Enrolled>(internal::StatusFromError(*error));
      }
    } else if (const auto* reply = env->body_as_EnrollReply()) {
      Enrolled e;
      e.user_id = reply->user_id();
      e.login = reply->login() ? reply->login()->str() : std::string();
      e.device_id = reply->device_id();
      if (e.login.empty()) {
        return Result<Enrolled>(Status::Internal("the broker's EnrollReply names no login"));
      }
      return Result<Enrolled>(std::move(e));
    }
  }
  return std::nullopt;
}

Result<Enrolled> Exchange(const Invite& invite, const internal::CurveKeys& keys,
                          const std::string& request, std::chrono::milliseconds timeout) {
  static std::atomic<unsigned> counter{0};
  std::string endpoint = invite.Endpoint();
  std::optional<Result<Enrolled>> answer;
  std::string handshake_problem;
  Status status = ZmqGuard("enroll at " + endpoint, [&] {
    zmq::context_t context(1);
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    internal::ConfigureDealer(dealer, keys);
    zmq::socket_t monitor = internal::StartMonitor(
        context, dealer, "inproc://chatpro-enroll-monitor-" + std::to_string(counter++));
    dealer.connect(endpoint);

    bool sent = false;
    const std::int64_t deadline = internal::MonotonicMicros() + timeout.count() * 1000;
    while (!answer) {
      std::int64_t left_us = deadline - internal::MonotonicMicros();
      if (left_us <= 0) break;
      zmq_pollitem_t items[] = {
          {dealer.handle(), 0, static_cast<short>(ZMQ_POLLIN | (sent ? 0 : ZMQ_POLLOUT)), 0},
          {monitor.handle(), 0, ZMQ_POLLIN, 0},
      };
      internal::Poll(items, 2, std::chrono::milliseconds(left_us / 1000 + 1));
      while (auto event = internal::ReadMonitorEvent(monitor)) {
        if (event->event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
          answer = Result<Enrolled>(Status::PermissionDenied("the invite is unknown, used or expired"));
        } else if (event->event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                   event->event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
          handshake_problem = "the CURVE handshake failed: is the invite's server key right?";
        }
      }
      if (answer) break;
      if (!sent && (items[0].revents & ZMQ_POLLOUT)) {
        zmq::message_t msg(request.data(), request.size());
        sent = dealer.send(msg, zmq::send_flags::dontwait).has_value();
      }
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t msg;
        while (!answer && dealer.recv(msg, zmq::recv_flags::dontwait)) answer = ReadAnswer(msg);
      }
    }
    zmq_socket_monitor(dealer.handle(), nullptr, 0);
  });
  if (!status.ok()) return status;
  if (answer) return std::move(*answer);
  std::string message = "no answer from the broker at " + endpoint + " within " + Seconds(timeout);
  if (!handshake_problem.empty()) message += " (" + handshake_problem + ")";
  return Status::Unavailable(std::move(message));
}

}  // namespace

Result<Profile> Enroll(const std::string& dir, std::string_view invite_text,
                       const EnrollOptions& options) {
  CHATPRO_ASSIGN_OR_RETURN(Invite invite, ParseInvite(invite_text));
  std::error_code ec;
  if (!options.overwrite &&
      (fs::exists(fs::path(dir) / "profile.conf", ec) || fs::exists(fs::path(dir) / "device.key", ec))) {
    return Status::AlreadyExists("the folder " + dir + " already holds a profile");
  }
  // Surface an unwritable folder before the one-time code is used up.
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create profile folder " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return Status::IoError("cannot make " + dir + " private: " + ec.message());

  CHATPRO_RETURN_IF_ERROR(crypto::InitCrypto());
  crypto::KeyPair device = crypto::GenerateKeyPair();
  crypto::KeyPair once = crypto::DeriveEnrollmentKeyPair(invite.code);

  internal::FrameWriter writer;
  writer.AddEnroll(kEnrollRequestId, device.public_key,
                   options.device_name.empty() ? HostName() : options.device_name, kClientVersion);
  flatbuffers::DetachedBuffer frame = writer.Finish();
  std::string request(reinterpret_cast<const char*>(frame.data()), frame.size());

  CHATPRO_ASSIGN_OR_RETURN(
      Enrolled enrolled,
      Exchange(invite, internal::CurveKeys{invite.server_key, once.public_key, once.secret_key},
               request, options.timeout));

  Profile profile;
  profile.dir = dir;
  profile.endpoint = invite.Endpoint();
  profile.server_key = invite.server_key;
  profile.public_key = device.public_key;
  profile.secret_key = device.secret_key;
  profile.login = enrolled.login;
  profile.user_id = enrolled.user_id;
  profile.device_id = enrolled.device_id;
  Status saved = profile.Save();
  if (!saved.ok()) {
    return saved.WithContext("enrolled as " + profile.login + " but could not save the profile");
  }
  return profile;
}

}  // namespace chatpro::client
