// SPDX-License-Identifier: Apache-2.0
#include "web-chat/web_chat_server.h"

#include <Poco/Buffer.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/ThreadPool.h>
#include <flatbuffers/flatbuffers.h>

#if defined(_WIN32)
#include <winsock2.h>
#else
#include <poll.h>
#include <sys/socket.h>
#endif

#include <chrono>
#include <cstring>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "broker/base/encoding.h"
#include "broker/base/log.h"
#include "broker/base/status.h"
#include "broker/core/broker.h"
#include "broker/core/frame_writer.h"
#include "broker/transport/zmq_server.h"
#include "chatpro/schemas/wire_generated.h"
#include "web-chat/web_assets.h"
#include "web-chat/web_auth.h"

namespace chatpro::webchat {
namespace {

using Poco::Net::WebSocket;
using Clock = std::chrono::steady_clock;

// Forward-secret AEAD suites for TLS 1.2 (TLS 1.3's are all of that kind).
constexpr char kCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Close codes of the web chat (4000-4999 are the application's).
constexpr Poco::UInt16 kCloseAuthFailed = 4001;
constexpr Poco::UInt16 kCloseSessionEnded = 4002;
constexpr Poco::UInt16 kCloseRefused = 4003;

// The pages load only what the broker serves: their own scripts and styles,
// the WebSocket back to the same origin, and pictures and voice messages the
// page itself made into blob: URLs. No inline script, no frames, no forms.
constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "media-src 'self' blob:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

// Counts a refusal the gateway answers itself (web_chat_server.h, Metrics).
void CountRefusal(const WebChatServer::Shared& shared, StatusCode code) {
  if (shared.stats == nullptr) return;
  shared.stats->front_end_errors[static_cast<int>(code)].fetch_add(1, std::memory_order_relaxed);
}

// Waits up to `ms` for `fd` to be readable; then reads what it has (the raw
// TLS bytes, to be discarded) into `buffer`. Returns the bytes read, 0 at the
// end of the stream or on timeout, -1 on an error.
long ReadRawWithin(poco_socket_t fd, char* buffer, int size, int ms) {
#if defined(_WIN32)
  WSAPOLLFD p{fd, POLLRDNORM, 0};
  if (::WSAPoll(&p, 1, ms) <= 0) return 0;
#else
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return 0;
#endif
  return static_cast<long>(::recv(fd, buffer, size, 0));
}

// Sends a close frame with `code` and `reason`, then discards what the
// browser still sends (the rest of an oversized message, its own close) for
// up to a second: closing a socket with unread data resets the connection,
// and the browser would lose the close frame and its reason.
void Close(WebSocket& ws, Poco::UInt16 code, std::string reason) {
  // A close frame's reason has at most 123 bytes.
  if (reason.size() > 123) reason.resize(123);
  try {
    ws.shutdown(code, reason);
  } catch (const Poco::Exception&) {
    return;  // the browser went away first
  }
  const poco_socket_t fd = ws.impl()->sockfd();
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  char scratch[16384];
  while (Clock::now() < deadline) {
    if (ReadRawWithin(fd, scratch, static_cast<int>(sizeof scratch), 200) <= 0) return;
  }
}

// The Error of a frame the route answered with, if it has one.
std::optional<std::string> ErrorOf(const std::string& frame) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(frame.data()),
                                 frame.size());
  if (!wire::VerifyFrameBuffer(verifier)) return std::string("malformed answer from the broker");
  const wire::Frame* f = wire::GetFrame(frame.data());
  if (f->envelopes() == nullptr) return std::nullopt;
  for (const wire::Envelope* e : *f->envelopes()) {
    if (e->body_type() == wire::Body::Error) {
      const wire::Error* error = e->body_as_Error();
      return error->message() == nullptr ? std::string("refused") : error->message()->str();
    }
  }
  return std::nullopt;
}

// Whether a frame holds an envelope of `type` (false if it is no frame).
bool Carries(const void* data, std::size_t size, wire::Body type) {
  std::vector<std::uint64_t> aligned;
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    aligned.resize((size + 7) / 8);
    std::memcpy(aligned.data(), data, size);
    data = aligned.data();
  }
  flatbuffers::Verifier verifier(static_cast<const std::uint8_t*>(data), size);
  if (!wire::VerifyFrameBuffer(verifier)) return false;
  const wire::Frame* f = wire::GetFrame(data);
  if (f->envelopes() == nullptr) return false;
  for (const wire::Envelope* e : *f->envelopes()) {
    if (e->body_type() == type) return true;
  }
  return false;
}

// One browser's WebSocket, from the challenge to the close.
class Connection {
 public:
  Connection(WebChatServer::Shared* shared, WebSocket* ws, std::string address)
      : shared_(shared), ws_(ws), address_(std::move(address)),
        dealer_(*shared->context, zmq::socket_type::dealer) {
    dealer_.set(zmq::sockopt::linger, 0);
  }

  void Serve() {
    const WebChatOptions& o = shared_->options;
    ws_->setMaxPayloadSize(static_cast<int>(o.max_message_bytes));
    ws_->setReceiveTimeout(Poco::Timespan(static_cast<long>(o.handshake_timeout_ms) * 1000));
    ws_->setSendTimeout(Poco::Timespan(static_cast<long>(o.send_timeout_ms) * 1000));
    if (!Authenticate()) return;
    End end = End::kBrowserLeft;
    try {
      end = Relay();
    } catch (...) {
      // The connection failed (reset, TLS error, a browser too slow to read).
      if (!page_said_goodbye_) SayGoodbye();
      throw;
    }
    if (end == End::kBrowserLeft && !page_said_goodbye_) SayGoodbye();
  }

 private:
  // Why Relay() returned.
  enum class End { kBrowserLeft, kSessionEnded, kStopping };

  bool Authenticate() {
    AuthChallenge challenge = AuthChallenge::New();
    std::string message = challenge.Message();
    ws_->sendFrame(message.data(), static_cast<int>(message.size()), WebSocket::FRAME_BINARY);
    Poco::Buffer<char> answer(0);
    int flags = 0;
    ws_->receiveFrame(answer, flags);
    if ((flags & WebSocket::FRAME_OP_BITMASK) != WebSocket::FRAME_OP_BINARY) {
      CountRefusal(*shared_, StatusCode::kPermissionDenied);
      Close(*ws_, kCloseAuthFailed, "expected the signed answer to the challenge");
      return false;
    }
    Result<AuthClaim> claim = challenge.Check(std::string_view(answer.begin(), answer.size()));
    if (!claim.ok()) {
      LOG_INFO() << "web chat: refused " << address_ << ": " << claim.status().message();
      CountRefusal(*shared_, StatusCode::kPermissionDenied);
      Close(*ws_, kCloseAuthFailed, claim.status().message());
      return false;
    }
    principal_ = "w:" + std::to_string(static_cast<int>(claim->kind)) + ":" +
                 HexEncode(claim->key) + "@" + address_;
    dealer_.connect(transport::ZmqServer::kLocalEndpoint);
    dealer_.send(zmq::buffer(principal_), zmq::send_flags::sndmore);
    dealer_.send(zmq::message_t(), zmq::send_flags::none);
    zmq::pollitem_t item{dealer_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(o().handshake_timeout_ms)) <= 0) {
      Close(*ws_, 1011, "the broker did not answer");
      return false;
    }
    zmq::message_t frame;
    if (!ReceiveFromBroker(&frame)) {
      Close(*ws_, 1011, "the broker did not answer");
      return false;
    }
    std::string bytes = frame.to_string();
    if (std::optional<std::string> refused = ErrorOf(bytes)) {
      Close(*ws_, kCloseRefused, *refused);
      return false;
    }
    // The empty Frame tells the page it is in.
    ws_->sendFrame(bytes.data(), static_cast<int>(bytes.size()), WebSocket::FRAME_BINARY);
    return true;
  }

  // [principal][frame] from the route; false if it was not that.
  bool ReceiveFromBroker(zmq::message_t* frame) {
    zmq::message_t principal;
    if (!dealer_.recv(principal, zmq::recv_flags::dontwait) || !principal.more()) return false;
    return dealer_.recv(*frame, zmq::recv_flags::dontwait).has_value();
  }

  End Relay() {
    Poco::Buffer<char> buffer(0);
    std::optional<Clock::time_point> revoked_deadline;
    const poco_socket_t fd = ws_->impl()->sockfd();
    while (!shared_->stopping.load()) {
      if (revoked_deadline && Clock::now() >= *revoked_deadline) {
        Close(*ws_, kCloseSessionEnded, "this device was revoked");
        return End::kSessionEnded;
      }
      zmq::pollitem_t items[2] = {{dealer_.handle(), 0, ZMQ_POLLIN, 0},
                                  {nullptr, fd, ZMQ_POLLIN, 0}};
      // What TLS has already decrypted is not seen on the descriptor.
      const bool buffered = ws_->available() > 0;
      zmq::poll(items, 2, std::chrono::milliseconds(buffered ? 0 : 100));
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t frame;
        while (ReceiveFromBroker(&frame)) {
          if (frame.size() == 0) {
            Close(*ws_, kCloseSessionEnded,
                  revoked_deadline ? "this device was revoked" : "the broker ended the session");
            return End::kSessionEnded;
          }
          if (!revoked_deadline && Carries(frame.data(), frame.size(), wire::Body::Revoked)) {
            revoked_deadline =
                Clock::now() + std::chrono::milliseconds(o().revoked_grace_ms);
          }
          // Blocks at most send_timeout_ms: a browser that does not read is
          // cut; meanwhile the route's queue fills and the core stops
          // pushing live (it catches up from the store when it reconnects).
          ws_->sendFrame(frame.data(), static_cast<int>(frame.size()), WebSocket::FRAME_BINARY);
        }
      }
      if (buffered || (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) {
        if (!ReadFromBrowser(buffer)) return End::kBrowserLeft;
      }
    }
    Close(*ws_, 1001, "the broker is stopping");
    return End::kStopping;
  }

  // The browser went away (closed, cut for a bad message, or the network
  // failed) without the page's own Goodbye: end its core session now, as the
  // page would, rather than when the core next finds the route gone.
  void SayGoodbye() {
    flatbuffers::FlatBufferBuilder fbb(128);
    std::vector<flatbuffers::Offset<wire::Envelope>> envelopes = {wire::CreateEnvelope(
        fbb, 0, wire::Body::Goodbye, wire::CreateGoodbye(fbb).Union())};
    fbb.Finish(wire::CreateFrameDirect(fbb, core::kProtocolVersion, &envelopes),
               wire::FrameIdentifier());
    // The route reads what is in the in-process pipe before it sees it close.
    dealer_.set(zmq::sockopt::linger, 1000);
    if (!dealer_.send(zmq::buffer(principal_), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return;
    }
    (void)dealer_.send(zmq::const_buffer(fbb.GetBufferPointer(), fbb.GetSize()),
                       zmq::send_flags::dontwait);
  }

  // Relays one message from the browser; false once the WebSocket is done.
  bool ReadFromBrowser(Poco::Buffer<char>& buffer) {
    int flags = 0;
    buffer.resize(0);
    int n = 0;
    try {
      n = ws_->receiveFrame(buffer, flags);
    } catch (const Poco::Net::WebSocketException& e) {
      if (e.code() == WebSocket::WS_ERR_PAYLOAD_TOO_BIG) {
        CountRefusal(*shared_, StatusCode::kResourceExhausted);
        Close(*ws_, WebSocket::WS_PAYLOAD_TOO_BIG,
              "message too big: at most " + std::to_string(o().max_message_bytes) + " bytes");
      } else {
        CountRefusal(*shared_, StatusCode::kInvalidArgument);
        Close(*ws_, WebSocket::WS_PROTOCOL_ERROR, "malformed WebSocket message");
      }
      return false;
    }
    if (n == 0 && flags == 0) return false;  // the browser closed the connection
    switch (flags & WebSocket::FRAME_OP_BITMASK) {
      case WebSocket::FRAME_OP_BINARY:
        if ((flags & WebSocket::FRAME_FLAG_FIN) == 0) {
          CountRefusal(*shared_, StatusCode::kInvalidArgument);
          Close(*ws_, WebSocket::WS_PAYLOAD_NOT_ACCEPTABLE,
                "fragmented messages are not taken: send each frame as one message");
          return false;
        }
        // The core checks it like any ZeroMQ frame (Verifier, limits, rate).
        if (!page_said_goodbye_ &&
            Carries(buffer.begin(), buffer.size(), wire::Body::Goodbye)) {
          page_said_goodbye_ = true;
        }
        dealer_.send(zmq::buffer(principal_), zmq::send_flags::sndmore);
        dealer_.send(zmq::const_buffer(buffer.begin(), buffer.size()), zmq::send_flags::none);
        return true;
      case WebSocket::FRAME_OP_PING:
        ws_->sendFrame(buffer.begin(), static_cast<int>(buffer.size()),
                       WebSocket::FRAME_FLAG_FIN | WebSocket::FRAME_OP_PONG);
        return true;
      case WebSocket::FRAME_OP_PONG:
        return true;
      case WebSocket::FRAME_OP_CLOSE:
        Close(*ws_, WebSocket::WS_NORMAL_CLOSE, "");
        return false;
      default:
        CountRefusal(*shared_, StatusCode::kInvalidArgument);
        Close(*ws_, WebSocket::WS_PAYLOAD_NOT_ACCEPTABLE,
              "only binary messages are taken: each one wire Frame");
        return false;
    }
  }

  const WebChatOptions& o() const { return shared_->options; }

  WebChatServer::Shared* const shared_;
  WebSocket* const ws_;
  const std::string address_;
  zmq::socket_t dealer_;
  std::string principal_;
  bool page_said_goodbye_ = false;
};

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(std::shared_ptr<WebChatServer::Shared> shared) : shared_(std::move(shared)) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    try {
      if (request.getURI() != "/ws") return Page(request, response);
      if (shared_->connections.fetch_add(1) >=
          static_cast<int>(shared_->options.max_connections)) {
        shared_->connections.fetch_sub(1);
        CountRefusal(*shared_, StatusCode::kResourceExhausted);
        return Answer(response, Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
                      "too many web chat connections\n");
      }
      struct Release {
        std::atomic<int>* n;
        ~Release() { n->fetch_sub(1); }
      } release{&shared_->connections};
      std::optional<WebSocket> ws;
      try {
        ws.emplace(request, response);
      } catch (const Poco::Net::WebSocketException& e) {
        CountRefusal(*shared_, StatusCode::kInvalidArgument);
        return Answer(response, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST,
                      "not a WebSocket request: " + e.message() + "\n");
      }
      Connection(shared_.get(), &*ws, request.clientAddress().host().toString()).Serve();
    } catch (const Poco::TimeoutException&) {
      LOG_DEBUG() << "web chat: cut a connection that was too slow";
    } catch (const Poco::Exception& e) {
      LOG_DEBUG() << "web chat: connection ended: " << e.displayText();
    } catch (const std::exception& e) {
      LOG_WARNING() << "web chat: connection failed: " << e.what();
    }
  }

 private:
  static void Answer(Poco::Net::HTTPServerResponse& response,
                     Poco::Net::HTTPResponse::HTTPStatus status, const std::string& body) {
    response.setStatusAndReason(status);
    response.setContentType("text/plain; charset=utf-8");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
  }
  // The embedded pages (web_assets.h), with ETags: a browser that has a
  // page already gets 304 and keeps its copy.
  static void Page(Poco::Net::HTTPServerRequest& request,
                   Poco::Net::HTTPServerResponse& response) {
    const Asset* asset = FindAsset(request.getURI());
    if (asset == nullptr || (request.getMethod() != "GET" && request.getMethod() != "HEAD")) {
      return Answer(response, Poco::Net::HTTPResponse::HTTP_NOT_FOUND, "not found\n");
    }
    response.set("Content-Security-Policy", kCsp);
    response.set("X-Content-Type-Options", "nosniff");
    response.set("Referrer-Policy", "no-referrer");
    response.set("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()");
    response.set("Cache-Control", "no-cache");
    response.set("ETag", std::string(asset->etag));
    if (request.get("If-None-Match", "") == asset->etag) {
      response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_MODIFIED);
      response.setContentLength(0);
      response.send();
      return;
    }
    response.setContentType(std::string(asset->content_type));
    response.setContentLength(static_cast<std::streamsize>(asset->data.size()));
    std::ostream& out = response.send();
    if (request.getMethod() != "HEAD") {
      out.write(asset->data.data(), static_cast<std::streamsize>(asset->data.size()));
    }
  }

  std::shared_ptr<WebChatServer::Shared> shared_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(std::shared_ptr<WebChatServer::Shared> shared) : shared_(std::move(shared)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(shared_);  // Poco takes ownership
  }

 private:
  std::shared_ptr<WebChatServer::Shared> shared_;
};

}  // namespace

Result<std::unique_ptr<WebChatServer>> WebChatServer::Start(const WebChatOptions& options,
                                                            zmq::context_t* context,
                                                            const core::BrokerStats* stats) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return Status::InvalidArgument("the web chat needs a certificate and its key");
  }
  std::unique_ptr<WebChatServer> server(new WebChatServer());
  server->shared_ = std::make_shared<Shared>();
  server->shared_->options = options;
  server->shared_->context = context;
  server->shared_->stats = stats;
  const int threads = static_cast<int>(options.max_connections) + 4;  // a few more for pages and refusals
  server->pool_ = std::make_unique<Poco::ThreadPool>(2, threads);
  try {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Ptr tls = new Poco::Net::Context(
        Poco::Net::Context::TLS_SERVER_USE, options.key_file, options.cert_file, "",
        Poco::Net::Context::VERIFY_NONE, 9, false, kCiphers);
    tls->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    tls->preferServerCiphers();
    Poco::Net::SecureServerSocket socket(tls);
    socket.bind(Poco::Net::SocketAddress(options.listen), /*reuseAddress=*/true,
                /*reusePort=*/false);
    socket.listen(64);
    auto* params = new Poco::Net::HTTPServerParams();  // reference counted by the server
    params->setMaxThreads(threads);
    params->setMaxQueued(64);
    params->setKeepAlive(false);
    params->setTimeout(Poco::Timespan(static_cast<long>(options.handshake_timeout_ms) * 1000));
    server->server_ = std::make_unique<Poco::Net::HTTPServer>(
        new Factory(server->shared_), *server->pool_, socket, params);
    server->server_->start();
  } catch (const Poco::Exception& e) {
    return Status::Unavailable("cannot serve the web chat on " + options.listen + ": " +
                               e.displayText());
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot serve the web chat on " + options.listen + ": " +
                               e.what());
  }
  return server;
}

WebChatServer::~WebChatServer() {
  if (server_ == nullptr) return;
  shared_->stopping.store(true);
  server_->stopAll(true);
  pool_->joinAll();
  server_.reset();
}

int WebChatServer::port() const { return server_ == nullptr ? 0 : server_->port(); }

}  // namespace chatpro::webchat
