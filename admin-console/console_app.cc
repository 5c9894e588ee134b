// SPDX-License-Identifier: Apache-2.0
#include "admin-console/console_app.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "admin-console/static_assets.h"
#include "admin-console/wire_json.h"
#include "broker/base/json.h"
#include "broker/crypto/password.h"

namespace chatpro::console {
namespace {

constexpr char kCsp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

// The same answer for an unknown login, a wrong password, an inactive user
// and a user without a console role: nobody learns which logins exist.
constexpr char kSignInRefused[] = "wrong login or password";

constexpr int kLoginOk = 0, kLoginRefused = 1, kLoginLocked = 2;

// The value of cookie `name` in a Cookie header, or "".
std::string CookieValue(const std::string& header, std::string_view name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string_view part(header.data() + pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return {};
}

// "https://host:port/x" -> "host:port"; "" if it is not an http(s) URL.
std::string HostOfUrl(std::string_view url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view s = url.substr(0, scheme);
  if (s != "https" && s != "http") return {};
  std::string_view rest = url.substr(scheme + 3);
  std::string host(rest.substr(0, rest.find('/')));
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The value of `key` in a query string ("" if absent); values here are plain
// numbers, so no decoding is needed.
std::optional<std::string> QueryValue(const std::string& query, std::string_view key) {
  std::size_t pos = 0;
  while (pos <= query.size()) {
    std::size_t end = query.find('&', pos);
    if (end == std::string::npos) end = query.size();
    std::string_view part(query.data() + pos, end - pos);
    std::size_t eq = part.find('=');
    if (part.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string() : std::string(part.substr(eq + 1));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

Result<std::uint64_t> QueryNumber(const std::string& query, std::string_view key,
                                  std::uint64_t fallback, std::uint64_t max) {
  std::optional<std::string> v = QueryValue(query, key);
  if (!v) return fallback;
  if (v->empty() || v->size() > 19 ||
      !std::all_of(v->begin(), v->end(), [](unsigned char c) { return std::isdigit(c); })) {
    return Status::InvalidArgument(std::string(key) + " must be a whole number");
  }
  std::uint64_t n = std::stoull(*v);
  if (n > max) {
    return Status::InvalidArgument(std::string(key) + " must be at most " + std::to_string(max));
  }
  return n;
}

// The body's JSON object, with the string fields named in `fields`.
Result<std::map<std::string, std::string>> JsonFields(const std::string& body,
                                                      std::initializer_list<const char*> fields) {
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(body);
    object = v.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return Status::InvalidArgument("the request body must be a JSON object");
  } catch (const std::exception&) {
    return Status::InvalidArgument("the request body must be a JSON object");
  }
  if (object.isNull()) return Status::InvalidArgument("the request body must be a JSON object");
  std::map<std::string, std::string> out;
  for (const char* f : fields) {
    if (!object->has(f)) continue;
    Poco::Dynamic::Var v = object->get(f);
    if (!v.isString()) return Status::InvalidArgument(std::string(f) + " must be a string");
    out[f] = v.extract<std::string>();
  }
  return out;
}

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (Lower(k) == Lower(name)) return v;
  }
  return {};
}

ConsoleApp::ConsoleApp(const ConsoleOptions& options, ConsoleDeps deps)
    : options_(options),
      deps_(std::move(deps)),
      sessions_(deps_.clock, {options.session_idle_us, options.session_max_us}),
      limiter_(deps_.clock,
               {options.login_attempts, 15ll * 60 * 1'000'000, options.login_lockout_us}) {
  // Change requests (non-GET) other than the sign-in and sign-out are changes
  // to the organisation's data: auditors may not make them.
  router_.Add("POST", "/api/v1/session", {&ConsoleApp::SignIn, false, false});
  router_.Add("GET", "/api/v1/session", {&ConsoleApp::CurrentSession, true, false});
  router_.Add("DELETE", "/api/v1/session", {&ConsoleApp::SignOut, true, false});
  router_.Add("GET", "/api/v1/status", {&ConsoleApp::GetStatus, true, false});
  router_.Add("GET", "/api/v1/dashboard", {&ConsoleApp::GetDashboard, true, false});
  router_.Add("GET", "/api/v1/users", {&ConsoleApp::ListUsers, true, false});
  router_.Add("POST", "/api/v1/users", {&ConsoleApp::AddUser, true, true});
  router_.Add("POST", "/api/v1/users/{login}/deactivate",
              {&ConsoleApp::DeactivateUser, true, true});
  router_.Add("POST", "/api/v1/users/{login}/reactivate",
              {&ConsoleApp::ReactivateUser, true, true});
  router_.Add("GET", "/api/v1/users/{login}/devices", {&ConsoleApp::ListDevices, true, false});
  router_.Add("GET", "/api/v1/audit", {&ConsoleApp::ListAudit, true, false});
  // Verifying reads the log and changes nothing, but runs long: a POST, so
  // that no link or prefetch starts it. Auditors may run it.
  router_.Add("POST", "/api/v1/audit/verify", {&ConsoleApp::VerifyAudit, true, false});
  // Cases and exports (console_exports.cc). Four eyes need both roles: an
  // auditor approves an administrator's case and the other way round, and
  // either may open, export and download; the core holds those rules.
  router_.Add("GET", "/api/v1/cases", {&ConsoleApp::ListCases, true, false});
  router_.Add("POST", "/api/v1/cases", {&ConsoleApp::OpenCase, true, false});
  router_.Add("POST", "/api/v1/cases/{id}/approve", {&ConsoleApp::ApproveCase, true, false});
  router_.Add("POST", "/api/v1/cases/{id}/export", {&ConsoleApp::StartExport, true, false});
  router_.Add("GET", "/api/v1/exports/{id}", {&ConsoleApp::GetExport, true, false});
  router_.Add("GET", "/api/v1/exports/{id}/download", {&ConsoleApp::DownloadExport, true, false});
  AddRecordsRoutes();
}

std::vector<std::pair<std::string, std::string>> ConsoleApp::ApiRoutes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : router_.routes()) out.emplace_back(r.method, r.pattern);
  return out;
}

int ConsoleApp::HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDataLoss:
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

std::string ConsoleApp::ErrorJson(const Status& status) {
  return JsonObject()
      .AddRaw("error", JsonObject()
                           .Add("code", StatusCodeName(status.code()))
                           .Add("message", status.message())
                           .str())
      .str();
}

HttpResponse ConsoleApp::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = std::move(body);
  return r;
}

HttpResponse ConsoleApp::Error(const Status& status) {
  if (deps_.stats != nullptr) {
    deps_.stats->front_end_errors[static_cast<int>(status.code())].fetch_add(
        1, std::memory_order_relaxed);
  }
  return Json(HttpStatusOf(status.code()), ErrorJson(status));
}

void ConsoleApp::CountLogin(int result) {
  if (deps_.stats != nullptr) {
    deps_.stats->console_logins[result].fetch_add(1, std::memory_order_relaxed);
  }
}

HttpResponse ConsoleApp::Handle(const HttpRequest& request) {
  std::string path = request.target.substr(0, request.target.find('?'));
  std::string query = path.size() < request.target.size()
                          ? request.target.substr(path.size() + 1)
                          : std::string();
  HttpResponse r;
  const std::uint64_t limit = options_.max_request_bytes;
  if ((request.declared_length >= 0 &&
       static_cast<std::uint64_t>(request.declared_length) > limit) ||
      request.body.size() > limit) {
    r = Error(Status::ResourceExhausted("the request body is larger than the console accepts (" +
                                        std::to_string(limit) + " bytes)"));
    r.status = 413;
  } else if (path == "/api" || path.rfind("/api/", 0) == 0) {
    r = HandleApi(request, path, query);
  } else {
    r = HandleAsset(request, path);
  }
  if (path.rfind("/api/", 0) == 0 || r.status == 413) r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Content-Security-Policy", kCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  if (request.secure) {
    r.headers.emplace_back("Strict-Transport-Security", "max-age=31536000");
  }
  return r;
}

HttpResponse ConsoleApp::HandleAsset(const HttpRequest& request, const std::string& path) {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = Error(Status::InvalidArgument("pages are read with GET"));
    r.status = 405;
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  const Asset* asset = FindAsset(path);
  if (asset == nullptr) return Error(Status::NotFound("no such page"));
  HttpResponse r;
  r.headers.emplace_back("ETag", std::string(asset->etag));
  r.headers.emplace_back("Cache-Control", "no-cache");
  if (request.Header("if-none-match") == asset->etag) {
    r.status = 304;
    return r;
  }
  r.content_type = std::string(asset->content_type);
  r.body = std::string(asset->data);
  return r;
}

Status ConsoleApp::CheckCsrf(const Context& ctx) const {
  // A page of another site can make a browser send the cookie but can neither
  // read the CSRF token nor set a custom header without CORS, which the
  // console never grants.
  if (ctx.session) {
    std::string token = ctx.request.Header("x-csrf-token");
    if (token.empty()) {
      return Status::PermissionDenied("a change needs the X-CSRF-Token header of the session");
    }
    if (!TokensEqual(token, ctx.session->csrf_token)) {
      return Status::PermissionDenied("the X-CSRF-Token header does not match the session");
    }
  }
  return Status::Ok();
}

HttpResponse ConsoleApp::HandleApi(const HttpRequest& request, const std::string& path,
                                   const std::string& query) {
  Router<RouteSpec>::Match match = router_.Find(request.method, path);
  if (match.route == nullptr) {
    if (match.path_known) {
      HttpResponse r = Error(Status::InvalidArgument(request.method + " is not allowed on " + path));
      r.status = 405;
      return r;
    }
    return Error(Status::NotFound("no API endpoint " + path));
  }
  const RouteSpec& spec = match.route->handler;
  Context ctx{request, std::move(match.params), query, std::nullopt, {}};
  const bool change = request.method != "GET" && request.method != "HEAD";
  if (change) {
    // A cross-site request that is sent without the token still carries its
    // page's Origin (or Referer): it must be this console's own.
    std::string host = Lower(request.Header("host"));
    std::string origin = request.Header("origin");
    std::string source = !origin.empty() ? origin : request.Header("referer");
    if (!source.empty() && (host.empty() || HostOfUrl(source) != host)) {
      return Error(Status::PermissionDenied("the request comes from another site (" +
                                            (origin.empty() ? std::string("Referer") : std::string("Origin")) +
                                            " does not match the console's address)"));
    }
  }
  if (spec.needs_session) {
    ctx.token = CookieValue(request.Header("cookie"), kCookieName);
    ctx.session = sessions_.Use(ctx.token);
    if (!ctx.session) {
      HttpResponse r = Error(Status::PermissionDenied("sign in first (no session, or it has ended)"));
      r.status = 401;
      return r;
    }
    if (change) {
      Status csrf = CheckCsrf(ctx);
      if (!csrf.ok()) return Error(csrf);
    }
    if (spec.admin_only && ctx.session->user.role != "admin") {
      return Error(Status::PermissionDenied("auditors can read but not change anything"));
    }
  }
  return (this->*spec.handler)(ctx);
}

void ConsoleApp::AuditConsole(const std::string& event, const std::string& login,
                              const std::string& address, bool ok) {
  // Best effort: a sign-in is not refused because its audit entry could not
  // be written; the core logs its own failures.
  (void)deps_.caller->Call("s:console", ConsoleAuditFrame(event, login, address, ok),
                           deps_.call_timeout);
}

Result<std::string> ConsoleApp::CallAsUser(Context& ctx, const std::string& frame) {
  const ConsoleUser& user = ctx.session->user;
  CHATPRO_ASSIGN_OR_RETURN(std::string reply,
                           deps_.caller->Call("c:" + std::to_string(user.user_id), frame,
                                              deps_.call_timeout));
  Result<Reply> parsed = Reply::Parse(reply);
  if (parsed.ok() || parsed.status().code() != StatusCode::kPermissionDenied) return reply;
  // Refused: maybe the user was deactivated or lost the role since signing in.
  Result<std::string> creds =
      deps_.caller->Call("s:console", ConsoleCredentialsFrame(user.login), deps_.call_timeout);
  if (!creds.ok()) return reply;
  Result<Reply> c = Reply::Parse(*creds);
  bool still = false;
  if (c.ok() && c->type() == wire::Body::ConsoleCredentialsReply) {
    const auto* r = c->envelope().body_as_ConsoleCredentialsReply();
    still = r->active() && r->user_id() == user.user_id &&
            (r->role() == wire::Role::Admin || r->role() == wire::Role::Auditor);
  } else if (!c.ok() && c.status().code() != StatusCode::kNotFound) {
    return reply;  // cannot tell: keep the session
  }
  if (!still) {
    sessions_.EndAllOf(user.user_id);
    ctx.session.reset();
    return Status::PermissionDenied("your console access has ended; sign in again");
  }
  return reply;
}

HttpResponse ConsoleApp::Forward(Context& ctx, const std::string& frame, int ok_status) {
  Result<std::string> reply = CallAsUser(ctx, frame);
  if (!reply.ok()) {
    HttpResponse r = Error(reply.status());
    if (!ctx.session) r.status = 401;
    return r;
  }
  Result<Reply> parsed = Reply::Parse(std::move(*reply));
  // Errors the core answered are counted by the core already.
  if (!parsed.ok()) {
    return Json(HttpStatusOf(parsed.status().code()), ErrorJson(parsed.status()));
  }
  Result<std::string> json = ReplyJson(*parsed);
  if (!json.ok()) return Error(json.status());
  return Json(ok_status, std::move(*json));
}

std::string ConsoleApp::SessionJson(const Session& s) const {
  return JsonObject()
      .Add("login", s.user.login)
      .Add("display_name", s.user.display_name)
      .Add("role", s.user.role)
      .Add("csrf_token", s.csrf_token)
      .Add("expires_at", FormatUtc(s.expires_at_us, "%Y-%m-%dT%H:%M:%SZ"))
      .str();
}

HttpResponse ConsoleApp::SignIn(Context& ctx) {
  Result<std::map<std::string, std::string>> fields =
      JsonFields(ctx.request.body, {"login", "password"});
  if (!fields.ok()) return Error(fields.status());
  const std::string login = (*fields)["login"];
  const std::string password = (*fields)["password"];
  if (login.empty() || password.empty()) {
    return Error(Status::InvalidArgument("login and password are required"));
  }
  if (login.size() > 128 || password.size() > crypto::kMaxPasswordBytes) {
    return Error(Status::InvalidArgument("login or password too long"));
  }
  const std::string& address = ctx.request.client_address;
  if (std::int64_t wait = limiter_.LockedForSeconds(address, login); wait > 0) {
    CountLogin(kLoginLocked);
    HttpResponse r = Error(Status::ResourceExhausted(
        "too many failed sign-ins; try again in " + std::to_string(wait) + " s"));
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }

  Result<std::string> reply =
      deps_.caller->Call("s:console", ConsoleCredentialsFrame(login), deps_.call_timeout);
  if (!reply.ok()) return Error(reply.status());
  Result<Reply> creds = Reply::Parse(std::move(*reply));
  if (!creds.ok() && creds.status().code() != StatusCode::kNotFound) {
    return Json(HttpStatusOf(creds.status().code()), ErrorJson(creds.status()));
  }
  bool ok = false;
  ConsoleUser user;
  if (creds.ok() && creds->type() == wire::Body::ConsoleCredentialsReply) {
    const auto* r = creds->envelope().body_as_ConsoleCredentialsReply();
    std::string hash = r->password_hash() ? r->password_hash()->str() : std::string();
    bool verified = !hash.empty() && crypto::VerifyPassword(hash, password);
    ok = verified && r->active() &&
         (r->role() == wire::Role::Admin || r->role() == wire::Role::Auditor);
    user = {r->user_id(), r->login() ? r->login()->str() : login,
            r->display_name() ? r->display_name()->str() : std::string(),
            std::string(RoleName(r->role()))};
  } else {
    // Unknown login: spend the same time as a wrong password would.
    std::call_once(dummy_once_, [this] {
      Result<std::string> hash = crypto::HashPassword("no such login here");
      if (hash.ok()) dummy_hash_ = *hash;
    });
    if (!dummy_hash_.empty() && crypto::VerifyPassword(dummy_hash_, password)) {
      ok = false;  // the outcome does not matter: refused either way
    }
  }
  if (!ok) {
    bool locked = limiter_.RecordFailure(address, login);
    CountLogin(kLoginRefused);
    AuditConsole("signin_refused", login, address, false);
    if (locked) AuditConsole("lockout", login, address, false);
    HttpResponse r = Error(Status::PermissionDenied(kSignInRefused));
    r.status = 401;
    return r;
  }
  limiter_.RecordSuccess(address, login);
  CountLogin(kLoginOk);
  AuditConsole("signin", user.login, address, true);
  SessionStore::Created created = sessions_.Create(user);
  HttpResponse r = Json(200, SessionJson(created.session));
  r.headers.emplace_back("Set-Cookie", std::string(kCookieName) + "=" + created.token +
                                           "; HttpOnly; Secure; SameSite=Strict; Path=/");
  return r;
}

HttpResponse ConsoleApp::CurrentSession(Context& ctx) {
  return Json(200, SessionJson(*ctx.session));
}

HttpResponse ConsoleApp::SignOut(Context& ctx) {
  sessions_.End(ctx.token);
  AuditConsole("signout", ctx.session->user.login, ctx.request.client_address, true);
  HttpResponse r = Json(200, JsonObject().Add("done", true).str());
  r.headers.emplace_back("Set-Cookie", std::string(kCookieName) +
                                           "=; HttpOnly; Secure; SameSite=Strict; Path=/; "
                                           "Max-Age=0");
  return r;
}

HttpResponse ConsoleApp::GetStatus(Context&) {
  std::int64_t now = deps_.clock->NowMicros();
  StorageSnapshot storage = deps_.storage ? deps_.storage() : StorageSnapshot{};
  std::string settings = "[";
  for (const auto& [key, value] : deps_.settings) {
    if (settings.size() > 1) settings += ',';
    settings += JsonObject().Add("key", key).Add("value", value).str();
  }
  settings += ']';
  std::string sessions = "[";
  for (const Session& s : sessions_.List()) {
    if (sessions.size() > 1) sessions += ',';
    sessions += JsonObject()
                    .Add("login", s.user.login)
                    .Add("display_name", s.user.display_name)
                    .Add("role", s.user.role)
                    .Add("created_at_us", s.created_us)
                    .Add("last_used_at_us", s.last_used_us)
                    .Add("expires_at_us", s.expires_at_us)
                    .str();
  }
  sessions += ']';
  return Json(200, JsonObject()
                       .Add("version", deps_.version)
                       .Add("started_at", FormatUtc(deps_.started_at_us, "%Y-%m-%dT%H:%M:%SZ"))
                       .Add("started_at_us", deps_.started_at_us)
                       .Add("now_us", now)
                       .Add("uptime_s", (now - deps_.started_at_us) / 1'000'000)
                       .Add("console_sessions", static_cast<std::uint64_t>(sessions_.size()))
                       .AddRaw("sessions", sessions)
                       .Add("store_bytes", storage.store_bytes)
                       .Add("data_dir_free_bytes", storage.free_bytes)
                       .Add("data_dir_capacity_bytes", storage.capacity_bytes)
                       .AddRaw("settings", settings)
                       .str());
}

HttpResponse ConsoleApp::GetDashboard(Context&) {
  if (deps_.stats == nullptr) {
    return Error(Status::Unavailable("this broker keeps no counters for the dashboard"));
  }
  const core::BrokerStats& s = *deps_.stats;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  std::uint64_t accepted = 0;
  for (const auto& n : s.messages_accepted) accepted += n.load(kRelaxed);
  const std::uint64_t delivered = s.deliveries_live.load(kRelaxed) + s.deliveries_catch_up.load(kRelaxed);
  // Errors by canonical code, as chatpro_errors_total counts them: those the
  // core answered and those front ends answered themselves. Code 0 is ok.
  std::uint64_t errors_total = 0;
  JsonObject by_code;
  for (std::size_t i = 1; i < std::size(s.errors); ++i) {
    std::uint64_t n = s.errors[i].load(kRelaxed) + s.front_end_errors[i].load(kRelaxed);
    errors_total += n;
    by_code.Add(StatusCodeName(static_cast<StatusCode>(i)), n);
  }
  std::vector<std::uint64_t> bounds, counts;
  for (int i = 0; i < core::LatencyHistogram::kBuckets; ++i) {
    bounds.push_back(core::LatencyHistogram::UpperBoundMicros(i));
    counts.push_back(s.send_latency.Bucket(i));
  }
  StorageSnapshot storage = deps_.storage ? deps_.storage() : StorageSnapshot{};
  return Json(200, JsonObject()
                       .Add("at_us", deps_.clock->NowMicros())
                       .Add("connected_devices", static_cast<std::int64_t>(s.devices_connected.load(kRelaxed)))
                       .Add("messages_accepted", accepted)
                       .Add("messages_delivered", delivered)
                       .Add("errors", errors_total)
                       .AddRaw("errors_by_code", by_code.str())
                       .AddRaw("send_latency", JsonObject()
                                                   .Add("count", s.send_latency.Count())
                                                   .Add("sum_us", s.send_latency.SumMicros())
                                                   .Add("bucket_le_us", bounds)
                                                   .Add("bucket_counts", counts)
                                                   .str())
                       .Add("store_bytes", storage.store_bytes)
                       .Add("data_dir_free_bytes", storage.free_bytes)
                       .Add("refusing_messages", s.refusing_messages.load(kRelaxed))
                       .str());
}

HttpResponse ConsoleApp::ListUsers(Context& ctx) { return Forward(ctx, AdminListUsersFrame()); }

HttpResponse ConsoleApp::AddUser(Context& ctx) {
  Result<std::map<std::string, std::string>> fields =
      JsonFields(ctx.request.body, {"login", "display_name", "role"});
  if (!fields.ok()) return Error(fields.status());
  std::string role_name = fields->count("role") ? (*fields)["role"] : "user";
  Result<wire::Role> role = RoleFromName(role_name);
  if (!role.ok()) return Error(role.status());
  return Forward(ctx, AdminAddUserFrame((*fields)["login"], (*fields)["display_name"], *role),
                 201);
}

HttpResponse ConsoleApp::DeactivateUser(Context& ctx) {
  return Forward(ctx, AdminDeactivateUserFrame(ctx.params["login"]));
}

HttpResponse ConsoleApp::ReactivateUser(Context& ctx) {
  return Forward(ctx, AdminReactivateUserFrame(ctx.params["login"]));
}

HttpResponse ConsoleApp::ListDevices(Context& ctx) {
  return Forward(ctx, ListDevicesFrame(ctx.params["login"]));
}

HttpResponse ConsoleApp::ListAudit(Context& ctx) {
  Result<std::uint64_t> from = QueryNumber(ctx.query, "from_seq", 0, UINT64_MAX / 2);
  if (!from.ok()) return Error(from.status());
  Result<std::uint64_t> limit = QueryNumber(ctx.query, "limit", 100, 1000);
  if (!limit.ok()) return Error(limit.status());
  if (*limit == 0) return Error(Status::InvalidArgument("limit must be at least 1"));
  return Forward(ctx, AdminListAuditFrame(*from, static_cast<std::uint32_t>(*limit)));
}

HttpResponse ConsoleApp::VerifyAudit(Context& ctx) { return Forward(ctx, AdminVerifyAuditFrame()); }

}  // namespace chatpro::console
