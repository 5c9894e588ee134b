// SPDX-License-Identifier: Apache-2.0
#include "broker/transport/zmq_server.h"

#include <algorithm>
#include <chrono>

#include "broker/base/log.h"

namespace chatpro::transport {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr char kWakeEndpoint[] = "inproc://chatpro.wake";
constexpr char kZapDomain[] = "chatpro";
// Frames read from the ROUTER per loop iteration before the broker flushes.
constexpr int kFramesPerIteration = 512;
constexpr std::chrono::milliseconds kTick(100);
constexpr std::uint64_t kCurveMessageOverhead = 33;

Status FromZmq(const zmq::error_t& e, const std::string& what) {
  switch (e.num()) {
    case EADDRINUSE:
      return Status::Unavailable(what + ": the address is in use (is another broker running?)");
    case EADDRNOTAVAIL:
      return Status::InvalidArgument(what + ": the address is not available on this machine");
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
      return Status::InvalidArgument(what + ": not a valid endpoint (" + e.what() + ")");
    default:
      return Status::Internal(what + ": " + e.what());
  }
}

}  // namespace

ZmqServer::ZmqServer(const TransportOptions& options, core::Broker* broker)
    : options_(options),
      broker_(broker),
      context_(1),
      zap_(context_, zmq::socket_type::rep),
      router_(context_, zmq::socket_type::router),
      local_(context_, zmq::socket_type::router),
      wake_rx_(context_, zmq::socket_type::pair),
      wake_tx_(context_, zmq::socket_type::pair) {}

ZmqServer::~ZmqServer() {
  // Give the last replies (acks written at stop) a moment to leave.
  router_.set(zmq::sockopt::linger, 1000);
}

Result<std::unique_ptr<ZmqServer>> ZmqServer::Create(const TransportOptions& options,
                                                     const crypto::KeyPair& server_keys,
                                                     core::Broker* broker) {
  std::unique_ptr<ZmqServer> server(new ZmqServer(options, broker));
  CHATPRO_RETURN_IF_ERROR(server->Bind(server_keys));
  return server;
}

Status ZmqServer::Bind(const crypto::KeyPair& server_keys) {
  try {
    // As many client sessions as the poller allows (fewer on Windows, where
    // libzmq refuses more than its socket limit).
    const int socket_limit = zmq_ctx_get(context_.handle(), ZMQ_SOCKET_LIMIT);
    context_.set(zmq::ctxopt::max_sockets,
                 socket_limit > 0 ? std::min(65536, socket_limit) : 65536);
    zap_.set(zmq::sockopt::linger, 0);
    // Without a ZAP handler, CURVE accepts any client key. Bind it first and
    // refuse to start without it.
    try {
      zap_.bind(kZapEndpoint);
    } catch (const zmq::error_t& e) {
      return Status::FailedPrecondition(std::string("cannot install the ZAP handler: ") + e.what());
    }
    wake_rx_.bind(kWakeEndpoint);
    wake_tx_.connect(kWakeEndpoint);
    // The in-process route: replies to a caller that went away are dropped
    // at once (EHOSTUNREACH) instead of waiting in a pipe nobody reads.
    local_.set(zmq::sockopt::router_mandatory, 1);
    local_.set(zmq::sockopt::linger, 0);
    local_.set(zmq::sockopt::sndhwm, options_.send_hwm);
    local_.bind(kLocalEndpoint);

    router_.set(zmq::sockopt::curve_server, 1);
    router_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(server_keys.secret_key.data(),
                                                                 server_keys.secret_key.size()));
    router_.set(zmq::sockopt::zap_domain, kZapDomain);
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
    try {
      router_.set(zmq::sockopt::zap_enforce_domain, true);
    } catch (const zmq::error_t&) {
      // Only in libzmq builds with draft options; the handler checks the domain itself.
    }
#endif
    router_.set(zmq::sockopt::router_mandatory, 1);
    // libzmq checks the size of the CURVE MESSAGE command, which wraps the
    // frame in 33 bytes (command name, nonce, MAC, flags).
    router_.set(zmq::sockopt::maxmsgsize,
                static_cast<int64_t>(options_.max_frame_bytes + kCurveMessageOverhead));
    router_.set(zmq::sockopt::sndhwm, options_.send_hwm);
    router_.set(zmq::sockopt::rcvhwm, 10000);
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::backlog, 1024);
    // Half-open handshakes (a client that sends part of the ZMTP greeting or
    // of the CURVE handshake and stops) are closed after this long.
    router_.set(zmq::sockopt::handshake_ivl,
                static_cast<int>(options_.handshake_timeout_us / 1000));
    router_.set(zmq::sockopt::heartbeat_ivl, 10000);
    router_.set(zmq::sockopt::heartbeat_timeout, 30000);
    router_.set(zmq::sockopt::heartbeat_ttl, 30000);
    try {
      router_.bind(options_.listen);
    } catch (const zmq::error_t& e) {
      return FromZmq(e, "cannot listen on " + options_.listen);
    }
    bound_endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return FromZmq(e, "cannot set up ZeroMQ");
  }
  return Status::Ok();
}

void ZmqServer::Wake() {
  if (wake_pending_.exchange(true)) return;
  std::lock_guard<std::mutex> lock(wake_mutex_);
  try {
    wake_tx_.send(zmq::const_buffer("w", 1), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    LOG_ERROR() << "cannot wake the event loop: " << e.what();
  }
}

void ZmqServer::RequestStop() {
  stop_ = true;
  serving_ = false;
  wake_pending_ = false;
  Wake();
}

void ZmqServer::DrainWake() {
  // Drain first, then clear the flag; the caller then takes the completed
  // work. Clearing first would let a Wake() that lands in between send a
  // message this drain swallows, leaving the flag set with nothing queued:
  // every later Wake() would then be skipped and the loop never woken.
  zmq::message_t msg;
  while (wake_rx_.recv(msg, zmq::recv_flags::dontwait)) {
  }
  wake_pending_ = false;
}

void ZmqServer::HandleZap() {
  // ZAP/1.0 request: version, request id, domain, address, identity,
  // mechanism, credentials...
  while (true) {
    std::vector<zmq::message_t> parts;
    zmq::message_t part;
    if (!zap_.recv(part, zmq::recv_flags::dontwait)) return;
    parts.push_back(std::move(part));
    while (parts.back().more()) {
      zmq::message_t next;
      if (!zap_.recv(next)) break;
      parts.push_back(std::move(next));
    }
    std::string version = parts.size() > 0 ? parts[0].to_string() : "";
    std::string request_id = parts.size() > 1 ? parts[1].to_string() : "";
    std::string domain = parts.size() > 2 ? parts[2].to_string() : "";
    std::string address = parts.size() > 3 ? parts[3].to_string() : "";
    std::string mechanism = parts.size() > 5 ? parts[5].to_string() : "";
    core::AuthDecision d;
    if (version != "1.0" || parts.size() < 7) {
      d.reason = "malformed ZAP request";
    } else if (domain != kZapDomain || mechanism != "CURVE") {
      d.reason = "only CURVE in the chatpro domain is accepted";
    } else {
      d = broker_->Authenticate(parts[6].to_string_view(), address);
    }
    std::string code = d.allowed ? "200" : "400";
    std::string text = d.allowed ? "OK" : d.reason;
    zap_.send(zmq::buffer(version), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(code), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(text), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(d.user_id), zmq::send_flags::sndmore);
    zap_.send(zmq::const_buffer("", 0), zmq::send_flags::none);
  }
}

void ZmqServer::ReadFrames() {
  for (int n = 0; n < kFramesPerIteration; ++n) {
    if ((n & 63) == 63 && !broker_->WantsInput()) return;
    zmq::message_t id;
    if (!router_.recv(id, zmq::recv_flags::dontwait)) return;
    zmq::message_t payload;
    bool extra = false;
    if (id.more()) {
      if (!router_.recv(payload)) continue;
      while (payload.more() || extra) {
        // A ChatPro frame is exactly one part; swallow the rest.
        zmq::message_t rest;
        if (!router_.recv(rest)) break;
        extra = true;
        if (!rest.more()) break;
      }
    }
    std::string routing(static_cast<const char*>(id.data()), id.size());
    auto it = ids_.find(routing);
    core::ConnectionId connection;
    if (it == ids_.end()) {
      connection = next_connection_++;
      ids_.emplace(routing, connection);
      routes_.emplace(connection, routing);
    } else {
      connection = it->second;
    }
    const char* user_id = payload.gets("User-Id");
    const char* address = payload.gets("Peer-Address");
    std::string_view uid = user_id == nullptr ? std::string_view() : std::string_view(user_id);
    std::string_view peer = address == nullptr ? std::string_view() : std::string_view(address);
    if (extra) {
      broker_->OnFrame(connection, uid, peer, nullptr, 0);  // answered as "not a ChatPro frame"
    } else {
      broker_->OnFrame(connection, uid, peer, static_cast<const std::uint8_t*>(payload.data()),
                       payload.size());
    }
  }
}

void ZmqServer::ReadLocalFrames() {
  for (int n = 0; n < kFramesPerIteration; ++n) {
    if ((n & 63) == 63 && !broker_->WantsInput()) return;
    std::vector<zmq::message_t> parts;
    zmq::message_t first;
    if (!local_.recv(first, zmq::recv_flags::dontwait)) return;
    parts.push_back(std::move(first));
    while (parts.back().more()) {
      zmq::message_t next;
      if (!local_.recv(next)) break;
      parts.push_back(std::move(next));
    }
    // [routing id][principal][frame]; only the console's and the web chat's
    // principals.
    const std::string_view principal =
        parts.size() == 3 ? parts[1].to_string_view() : std::string_view();
    const bool console_principal =
        (principal.size() > 2 && principal.size() <= 32 && principal.substr(0, 2) == "c:") ||
        principal == "s:console";
    if (parts.size() == 3 && principal.substr(0, 2) == "w:") {
      ReadWebFrame(parts[0].to_string(), principal, parts[2]);
      continue;
    }
    if (!console_principal) {
      local_dropped_.fetch_add(1);
      broker_->CountDroppedInput(StatusCode::kPermissionDenied);
      LOG_WARNING() << "dropped a message on " << kLocalEndpoint << " with "
                    << (parts.size() == 3 ? "a principal that may not use it"
                                          : std::to_string(parts.size()) + " parts instead of 3");
      continue;
    }
    std::string key = parts[0].to_string();
    key.push_back('\0');
    key.append(principal);
    auto it = local_ids_.find(key);
    core::ConnectionId connection;
    if (it == local_ids_.end()) {
      connection = next_connection_++;
      local_ids_.emplace(key, connection);
      LocalRoute route;
      route.routing_id = parts[0].to_string();
      route.principal = std::string(principal);
      route.user_id = route.principal;
      local_routes_.emplace(connection, std::move(route));
    } else {
      connection = it->second;
    }
    broker_->OnFrame(connection, principal, "console",
                     static_cast<const std::uint8_t*>(parts[2].data()), parts[2].size());
  }
}

std::optional<ZmqServer::WebPrincipal> ZmqServer::ParseWebPrincipal(std::string_view principal) {
  // "w:<key kind digit>:<64 hex digits>@<address>"
  if (principal.size() < 2 + 2 + 64 + 1 || principal.size() > 2 + 2 + 64 + 1 + 64 ||
      principal.substr(0, 2) != "w:" || principal[3] != ':' || principal[68] != '@') {
    return std::nullopt;
  }
  WebPrincipal p;
  if (principal[2] == '0') {
    p.kind = core::KeyKind::Curve25519;
  } else if (principal[2] == '1') {
    p.kind = core::KeyKind::Ed25519;
  } else {
    return std::nullopt;
  }
  std::string_view hex = principal.substr(4, 64);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    p.key.push_back(static_cast<char>(hi * 16 + lo));
  }
  p.address = std::string(principal.substr(69));
  if (p.address.empty()) return std::nullopt;
  return p;
}

void ZmqServer::ReadWebFrame(const std::string& routing_id, std::string_view principal,
                             const zmq::message_t& frame) {
  std::string key = routing_id;
  key.push_back('\0');
  key.append(principal);
  auto it = local_ids_.find(key);
  if (it != local_ids_.end()) {
    const LocalRoute& route = local_routes_.at(it->second);
    broker_->OnFrame(it->second, route.user_id, route.address,
                     static_cast<const std::uint8_t*>(frame.data()), frame.size());
    return;
  }
  // A new web connection: its first message is empty and asks the question
  // ZAP asks for a CURVE key, about the key the gateway checked.
  std::optional<WebPrincipal> web = ParseWebPrincipal(principal);
  core::AuthDecision decision;
  if (!web) {
    decision.reason = "malformed web chat principal";
  } else if (frame.size() != 0) {
    decision.reason = "a web connection must authenticate first";
  } else {
    decision = broker_->Authenticate(web->key, web->address, web->kind);
  }
  core::FrameWriter reply;
  if (!decision.allowed) {
    if (!web || frame.size() != 0) {
      local_dropped_.fetch_add(1);
      broker_->CountDroppedInput(StatusCode::kPermissionDenied);
    }
    reply.AddError(0, Status::PermissionDenied(decision.reason));
  }
  flatbuffers::DetachedBuffer answer = reply.Finish();
  try {
    local_.send(zmq::buffer(routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    local_.send(zmq::buffer(principal), zmq::send_flags::sndmore);
    local_.send(zmq::buffer(answer.data(), answer.size()), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    // The gateway's socket went away meanwhile; nothing was opened for it.
    if (e.num() != EHOSTUNREACH) LOG_ERROR() << "local send failed: " << e.what();
    return;
  }
  if (!decision.allowed) return;
  core::ConnectionId connection = next_connection_++;
  local_ids_.emplace(key, connection);
  LocalRoute route;
  route.routing_id = routing_id;
  route.principal = std::string(principal);
  route.user_id = decision.user_id;
  route.address = web->address;
  route.web = true;
  local_routes_.emplace(connection, std::move(route));
}

core::SendOutcome ZmqServer::SendLocal(core::ConnectionId connection,
                                       flatbuffers::DetachedBuffer* frame) {
  auto route = local_routes_.find(connection);
  if (route == local_routes_.end()) return core::SendOutcome::kGone;
  auto forget = [&] {
    local_ids_.erase(route->second.routing_id + '\0' + route->second.principal);
    local_routes_.erase(route);
  };
  try {
    zmq::send_result_t sent = local_.send(zmq::buffer(route->second.routing_id),
                                          zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    if (!sent) return core::SendOutcome::kFull;
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) LOG_ERROR() << "local send failed: " << e.what();
    forget();
    return core::SendOutcome::kGone;
  }
  try {
    // The routing id was accepted, so the rest goes into the same pipe.
    local_.send(zmq::buffer(route->second.principal), zmq::send_flags::sndmore);
    local_.send(zmq::buffer(frame->data(), frame->size()), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    LOG_ERROR() << "local send to connection " << connection << " failed: " << e.what();
  }
  *frame = flatbuffers::DetachedBuffer();
  return core::SendOutcome::kSent;
}

core::SendOutcome ZmqServer::Send(core::ConnectionId connection, flatbuffers::DetachedBuffer* frame) {
  if (local_routes_.count(connection) != 0) return SendLocal(connection, frame);
  auto route = routes_.find(connection);
  if (route == routes_.end()) return core::SendOutcome::kGone;
  try {
    zmq::send_result_t sent =
        router_.send(zmq::buffer(route->second), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    if (!sent) return core::SendOutcome::kFull;
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) {
      ids_.erase(route->second);
      routes_.erase(route);
      return core::SendOutcome::kGone;
    }
    LOG_ERROR() << "send to connection " << connection << " failed: " << e.what();
    return core::SendOutcome::kGone;
  }
  // The routing id was accepted, so the payload goes into the same pipe.
  // Hand the frame's memory to ZeroMQ without copying.
  auto* holder = new flatbuffers::DetachedBuffer(std::move(*frame));
  zmq::message_t payload(
      holder->data(), holder->size(),
      [](void*, void* hint) { delete static_cast<flatbuffers::DetachedBuffer*>(hint); }, holder);
  try {
    router_.send(payload, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    LOG_ERROR() << "send to connection " << connection << " failed: " << e.what();
  }
  return core::SendOutcome::kSent;
}

void ZmqServer::Forget(core::ConnectionId connection) {
  auto local = local_routes_.find(connection);
  if (local != local_routes_.end()) {
    if (local->second.web) {
      // Tells the gateway that the core dropped the session (revoked, timed
      // out), so that it closes the browser's WebSocket: an empty message.
      try {
        if (local_.send(zmq::buffer(local->second.routing_id),
                        zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
          local_.send(zmq::buffer(local->second.principal), zmq::send_flags::sndmore);
          local_.send(zmq::message_t(), zmq::send_flags::dontwait);
        }
      } catch (const zmq::error_t&) {
        // Gone already, or its queue is full: it finds out when it reads.
      }
    }
    local_ids_.erase(local->second.routing_id + '\0' + local->second.principal);
    local_routes_.erase(local);
    return;
  }
  auto route = routes_.find(connection);
  if (route == routes_.end()) return;
  ids_.erase(route->second);
  routes_.erase(route);
}

void ZmqServer::Run() {
  auto last_tick = std::chrono::steady_clock::now();
  serving_ = !stop_;
  while (!stop_) {
    const short input = static_cast<short>(broker_->WantsInput() ? ZMQ_POLLIN : 0);
    zmq::pollitem_t items[] = {
        {zap_.handle(), 0, ZMQ_POLLIN, 0},
        {wake_rx_.handle(), 0, ZMQ_POLLIN, 0},
        {router_.handle(), 0, input, 0},
        {local_.handle(), 0, input, 0},
    };
    try {
      zmq::poll(items, 4, kTick);
      if (items[0].revents & ZMQ_POLLIN) HandleZap();
      if (items[1].revents & ZMQ_POLLIN) {
        DrainWake();
        broker_->OnWake();
      }
      if (items[2].revents & ZMQ_POLLIN) ReadFrames();
      if (items[3].revents & ZMQ_POLLIN) ReadLocalFrames();
      auto now = std::chrono::steady_clock::now();
      if (now - last_tick >= kTick) {
        last_tick = now;
        // Completed work is also collected on the tick, so that progress never
        // depends on a single wake-up message.
        broker_->OnWake();
        broker_->OnTick();
        if (tick_hook_) tick_hook_();
      }
      broker_->Flush();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      LOG_ERROR() << "event loop: " << e.what();
    }
  }
  serving_ = false;
}

}  // namespace chatpro::transport
