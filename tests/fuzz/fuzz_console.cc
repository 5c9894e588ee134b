// SPDX-License-Identifier: Apache-2.0
//
// fuzz_console: the web admin console's request handling (console::ConsoleApp,
// the network-facing part of the admin API) on a real core Broker (the
// FuzzBroker of this folder), reached through an in-process LocalCaller that
// hands each frame to the broker as the given principal, as the ZeroMQ
// in-process route does.
//
// The input is mapped onto one HTTP request: a flags byte (signed in or not,
// the CSRF token right, wrong or missing, the Origin this console's own, a
// foreign one or none, HTTPS or not), a method byte (the usual methods or raw
// bytes), a path byte (one of the real /api/v1 routes, with a login from the
// people the broker knows, a small id or raw bytes where the route takes one,
// a page, or a raw path with a raw query), a Content-Type byte, up to two raw headers,
// and the rest of the input as the body.
//
// The administrator boss signs in for real once per process (argon2id is
// slow on purpose: 0.1 s per check); every input then gets a fresh broker in
// which boss has the same console password hash, and a session of boss made
// directly in the app's session store.
//
// Invariants, for every input: Handle neither crashes nor throws; the status
// is 200-599; the security headers are present; every /api response and
// every response to a path that is not an embedded page has a JSON body, and
// an error's is {"error":{"code","message"}} (so no file from disk is ever
// served); and every 64 inputs, boss can still list the users through the
// console afterwards (the broker keeps serving) and carol can still send dave
// a message (the canary in its lenient form).
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "admin-console/console_app.h"
#include "admin-console/static_assets.h"
#include "broker/crypto/password.h"
#include "schemas/frames.h"
#include "tests/fuzz/fuzz_broker.h"

namespace console = chatpro::console;
namespace core = chatpro::core;
namespace wire = chatpro::wire;
using chatpro::Result;
using chatpro::Status;

namespace {

constexpr char kPassword[] = "fuzzing the console 2026";
constexpr char kHost[] = "console.example:8443";

// Reads the input front to back; past its end every read gives zeros.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t Byte() {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }
  // Raw bytes, up to 63.
  std::string Raw() {
    std::size_t n = Byte() % 64;
    std::string out;
    while (n-- > 0 && size_ > 0) out.push_back(static_cast<char>(Byte()));
    return out;
  }
  // Mostly a login the broker knows, else raw bytes.
  std::string Login() {
    static const char* const kNames[] = {"boss", "ana", "carol", "dave", "", "nobody", "..", "%2e%2e"};
    std::uint8_t b = Byte();
    if (b < 0xC0) return kNames[b % (sizeof kNames / sizeof kNames[0])];
    return Raw();
  }
  // Mostly a small id (0-3, where the broker's cases, exports and holds
  // are), else raw bytes.
  std::string Id() {
    std::uint8_t b = Byte();
    if (b < 0xC0) return std::to_string(b % 4);
    return Raw();
  }
  std::string Rest() {
    std::string out(reinterpret_cast<const char*>(data_), size_);
    data_ += size_;
    size_ = 0;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

using chatpro::schemas::AlignedFrame;
using chatpro::schemas::JoinFrames;

// The in-process route without ZeroMQ: each call is one frame to the broker
// from a connection of its own per principal, run until the broker is idle;
// the replies are joined into one frame. A request left unanswered counts as
// the timeout it would be.
class FuzzLocalCaller final : public core::LocalCaller {
 public:
  explicit FuzzLocalCaller(chatpro::fuzz::FuzzBroker& broker) : broker_(broker) {}

  Result<std::string> Call(std::string_view principal, std::string_view frame,
                           std::chrono::milliseconds /*timeout*/) override {
    std::set<std::uint64_t> pending;
    {
      AlignedFrame request(frame);
      const wire::Frame* parsed = request.Verified();
      FUZZ_CHECK(parsed != nullptr && parsed->envelopes() != nullptr,
                 "the console made a request that is not a wire Frame");
      for (const wire::Envelope* e : *parsed->envelopes()) {
        FUZZ_CHECK(e->request_id() != 0, "the console made a request without a request id");
        pending.insert(e->request_id());
      }
    }
    auto it = sessions_.find(std::string(principal));
    if (it == sessions_.end()) {
      it = sessions_.emplace(std::string(principal), broker_.NewSession(std::string(principal))).first;
    }
    broker_.Send(it->second, std::string(frame));
    broker_.Settle();
    std::vector<std::string> frames = broker_.TakeFrames(it->second);
    for (const std::string& bytes : frames) {
      AlignedFrame aligned(bytes);
      const wire::Frame* reply = aligned.Verified();
      FUZZ_CHECK(reply != nullptr, "the broker sent the console a frame that does not verify");
      if (reply->envelopes() == nullptr) continue;
      for (const wire::Envelope* e : *reply->envelopes()) pending.erase(e->request_id());
    }
    if (!pending.empty()) return Status::Unavailable("the broker did not answer (timeout)");
    return JoinFrames(frames);
  }

 private:
  chatpro::fuzz::FuzzBroker& broker_;
  std::map<std::string, chatpro::fuzz::Session> sessions_;
};

// boss's console password hash, made once per process.
const std::string& PasswordHash() {
  static const std::string hash = [] {
    Result<std::string> made = chatpro::crypto::HashPassword(kPassword);
    FUZZ_CHECK(made.ok(), made.status().ToString());
    return *made;
  }();
  return hash;
}

void SetBossPassword(chatpro::fuzz::FuzzBroker& broker) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = wire::CreateAdminSetConsolePasswordDirect(fbb, "boss", PasswordHash().c_str());
  std::vector<flatbuffers::Offset<wire::Envelope>> envelopes{
      wire::CreateEnvelope(fbb, 1, wire::Body::AdminSetConsolePassword, body.Union())};
  broker.Send(broker.boss(), chatpro::fuzz::FinishFrame(fbb, envelopes));
  broker.Settle();
  std::vector<chatpro::fuzz::Received> replies = broker.Take(broker.boss());
  FUZZ_CHECK(replies.size() == 1 && replies[0].type == wire::Body::Done,
             "boss could not set his console password");
}

console::HttpRequest BaseRequest(std::string method, std::string target, std::string body = {}) {
  console::HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.client_address = "192.0.2.10";
  r.headers["host"] = kHost;
  return r;
}

// The signed-in boss as the console knows him: from one real sign-in, once
// per process.
const console::ConsoleUser& Boss(console::ConsoleApp& app) {
  static const console::ConsoleUser boss = [&app] {
    console::HttpResponse r = app.Handle(BaseRequest(
        "POST", "/api/v1/session",
        std::string("{\"login\":\"boss\",\"password\":\"") + kPassword + "\"}"));
    FUZZ_CHECK(r.status == 200, "boss could not sign in: " + r.body);
    std::string cookie = r.Header("Set-Cookie");
    std::string prefix = std::string(console::kCookieName) + "=";
    FUZZ_CHECK(cookie.rfind(prefix, 0) == 0, "no session cookie: " + cookie);
    std::string token = cookie.substr(prefix.size(), cookie.find(';') - prefix.size());
    std::optional<console::Session> session = app.sessions().Use(token);
    FUZZ_CHECK(session.has_value(), "the new session is unknown");
    return session->user;
  }();
  return boss;
}

std::string Path(Input& in) {
  switch (in.Byte() % 40) {
    case 0: return "/api/v1/session";
    case 1: return "/api/v1/status";
    case 2: return "/api/v1/users";
    case 3: return "/api/v1/users/" + in.Login() + "/deactivate";
    case 4: return "/api/v1/users/" + in.Login() + "/reactivate";
    case 5: return "/api/v1/users/" + in.Login() + "/devices";
    case 6: return "/api/v1/audit";
    case 7: return "/api/v1/audit?from=" + in.Raw();
    case 8: return "/api/v1/audit/verify";
    case 9: return "/api/v1/users/" + in.Login();
    case 10: return "/";
    case 11: return "/index.html";
    case 12: return "/../../etc/passwd";
    case 13: return "/api/v1/..%2f..%2fetc%2fpasswd";
    case 14: return "/api/v1/" + in.Raw();
    case 15: return "/" + in.Raw();
    case 16: return "/api/v1/dashboard";
    case 17: return "/api/v1/cases";
    case 18: return "/api/v1/cases/" + in.Id() + "/approve";
    case 19: return "/api/v1/cases/" + in.Id() + "/export";
    case 20: return "/api/v1/exports/" + in.Id();
    case 21: return "/api/v1/exports/" + in.Id() + "/download";
    case 22: return "/api/v1/groups";
    case 23: return "/api/v1/plugins";
    case 24: return "/api/v1/retention/dry-run";
    case 25: return "/api/v1/retention/run";
    case 26: return "/api/v1/holds";
    case 27: return "/api/v1/holds?include_lifted=" + in.Raw();
    case 28: return "/api/v1/holds/" + in.Id() + "/lift";
    case 29: return "/api/v1/schedules";
    case 30: return "/api/v1/users/" + in.Login() + "/schedule";
    case 31: return "/api/v1/reports/disconnect?" + in.Raw();
    case 32: return "/api/v1/cases/" + in.Id();
    default: return in.Raw();
  }
}

std::string Method(Input& in) {
  static const char* const kMethods[] = {"GET", "POST", "DELETE", "HEAD", "PUT", "OPTIONS", "PATCH"};
  std::uint8_t b = in.Byte();
  if (b < 0xE0) return kMethods[b % (sizeof kMethods / sizeof kMethods[0])];
  return in.Raw();
}

bool IsApi(const std::string& path) { return path == "/api" || path.rfind("/api/", 0) == 0; }

// Checks the invariants of every response (above).
void CheckResponse(const console::HttpRequest& request, const console::HttpResponse& r) {
  const std::string what = request.method + " " + request.target + " answered " +
                           std::to_string(r.status) + ": ";
  FUZZ_CHECK(r.status >= 200 && r.status <= 599, what + "status out of range");
  for (const char* header : {"Content-Security-Policy", "X-Content-Type-Options",
                             "Referrer-Policy", "X-Frame-Options"}) {
    FUZZ_CHECK(!r.Header(header).empty(), what + "no " + header);
  }
  FUZZ_CHECK(!request.secure || !r.Header("Strict-Transport-Security").empty(), what + "no HSTS");
  const std::string path = request.target.substr(0, request.target.find('?'));
  const bool asset = !IsApi(path) && console::FindAsset(path) != nullptr;
  if (asset || r.status == 304) return;
  // Not a page: a JSON body, never anything read from disk.
  Poco::Dynamic::Var parsed;
  try {
    parsed = Poco::JSON::Parser().parse(r.body);
  } catch (const std::exception& e) {
    chatpro::fuzz::Fail(what + "the body is not JSON (" + e.what() + "): " + r.body.substr(0, 200));
  }
  if (r.status < 400) return;
  Poco::JSON::Object::Ptr object = parsed.extract<Poco::JSON::Object::Ptr>();
  Poco::JSON::Object::Ptr error = object.isNull() ? nullptr : object->getObject("error");
  FUZZ_CHECK(!error.isNull(), what + "no error object: " + r.body);
  FUZZ_CHECK(error->has("code") && error->get("code").isString() &&
                 !error->getValue<std::string>("code").empty(),
             what + "no error code: " + r.body);
  FUZZ_CHECK(error->has("message") && error->get("message").isString(),
             what + "no error message: " + r.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::uint64_t runs = 0;
  chatpro::fuzz::FuzzBroker broker;
  SetBossPassword(broker);
  FuzzLocalCaller caller(broker);
  chatpro::ConsoleOptions options;
  console::ConsoleApp app(options, console::ConsoleDeps{&caller, &broker.clock(), nullptr,
                                                        "0.0.0-fuzz", broker.clock().NowMicros()});
  const console::ConsoleUser& boss = Boss(app);
  console::SessionStore::Created session = app.sessions().Create(boss);

  Input in(data, size);
  const std::uint8_t flags = in.Byte();
  console::HttpRequest request = BaseRequest(Method(in), Path(in));
  request.secure = (flags & 0x10) == 0;
  if ((flags & 0x03) != 0) {
    request.headers["cookie"] = "theme=dark; " + std::string(console::kCookieName) + "=" +
                                ((flags & 0x03) == 3 ? in.Raw() : session.token);
  }
  switch ((flags >> 2) & 0x03) {
    case 0: request.headers["x-csrf-token"] = session.session.csrf_token; break;
    case 1: request.headers["x-csrf-token"] = in.Raw(); break;
    default: break;
  }
  switch ((flags >> 5) & 0x03) {
    case 0: break;
    case 1: request.headers["origin"] = std::string("https://") + kHost; break;
    case 2: request.headers["origin"] = "https://evil.example"; break;
    default: request.headers["origin"] = in.Raw(); break;
  }
  switch (in.Byte() % 4) {
    case 0: request.headers["content-type"] = "application/json"; break;
    case 1: request.headers["content-type"] = "text/plain"; break;
    case 2: request.headers["content-type"] = in.Raw(); break;
    default: break;
  }
  for (int n = in.Byte() % 3; n > 0; --n) {
    std::string name = in.Raw();
    request.headers[name] = in.Raw();
  }
  if ((flags & 0x80) != 0) request.headers.erase("host");
  request.body = in.Rest();
  request.declared_length = static_cast<std::int64_t>(request.body.size());

  console::HttpResponse response;
  try {
    response = app.Handle(request);
  } catch (const std::exception& e) {
    chatpro::fuzz::Fail(std::string("Handle threw: ") + e.what());
  } catch (...) {
    chatpro::fuzz::Fail("Handle threw something");
  }
  CheckResponse(request, response);

  if (++runs % 64 == 1) {
    // boss (unless this input deactivated or demoted him) still lists users.
    console::SessionStore::Created check = app.sessions().Create(boss);
    console::HttpRequest list = BaseRequest("GET", "/api/v1/users");
    list.headers["cookie"] = std::string(console::kCookieName) + "=" + check.token;
    console::HttpResponse listed = app.Handle(list);
    CheckResponse(list, listed);
    FUZZ_CHECK(listed.status == 200 || listed.status == 401 || listed.status == 403,
               "boss could not list users: " + std::to_string(listed.status) + " " + listed.body);
    broker.CheckCanary(/*strict=*/false);
  }
  return 0;
}
