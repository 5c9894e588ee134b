// SPDX-License-Identifier: Apache-2.0
//
// ConsoleApp: everything the web admin console answers, independent of the
// HTTP server that carries it (console_server.h adapts Poco to it): the JSON
// API under /api/v1 (sign-in, sessions, CSRF, the sign-in lock-out, the admin
// requests mapped onto the wire protocol) and the embedded pages, with the
// security headers on every response.
//
// The app holds no rules of its own about who may do what: each API request
// becomes the same wire request the CLI sends, made through a
// core::LocalCaller as the signed-in user ("c:<id>"), and the core decides.
// The app only refuses early what the core would refuse anyway (auditors
// changing things) and what is the HTTP layer's own business (sessions, CSRF,
// sizes). Passwords are checked here, on the calling (HTTP) thread.
//
// Thread-safety: Handle() may run on many threads at once; the session store
// and limiter lock inside. REQUIRES: everything in ConsoleDeps outlives the app.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "admin-console/router.h"
#include "admin-console/sessions.h"
#include "broker/base/clock.h"
#include "broker/base/result.h"
#include "broker/config/options.h"
#include "broker/core/broker.h"
#include "broker/core/local_port.h"

namespace chatpro::console {

constexpr char kCookieName[] = "chatpro_console";
constexpr char kCsrfHeader[] = "X-CSRF-Token";

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string client_address;                  // the peer's IP address
  bool secure = true;                          // came over HTTPS
  // The Content-Length the client declared (-1: none); a body over the limit
  // is not read at all.
  std::int64_t declared_length = -1;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // For a body too large to hold whole (an export's zip): when set, the
  // server sends `body`, then each piece next_piece returns until it returns
  // an empty one, with `content_length` (REQUIRED then: the whole size) as
  // the Content-Length. A failure midway cuts the connection (the status
  // line has gone already), so the client sees a short, failed transfer,
  // never a complete-looking one.
  std::function<Result<std::string>()> next_piece;
  std::int64_t content_length = -1;

  std::string Header(const std::string& name) const;  // "" if not set
};

// The data directory's use, measured when asked (GET /dashboard, /status).
struct StorageSnapshot {
  std::uint64_t store_bytes = 0;     // the store's files (index and blob logs)
  std::uint64_t free_bytes = 0;      // free for the broker where the data directory is
  std::uint64_t capacity_bytes = 0;  // size of that file system
};

struct ConsoleDeps {
  core::LocalCaller* caller = nullptr;     // REQUIRED
  const Clock* clock = nullptr;            // REQUIRED
  // Optional: counts errors and sign-ins, and is what GET /dashboard shows
  // (without it the dashboard answers Unavailable).
  const core::BrokerStats* stats = nullptr;
  std::string version;                     // the broker's version
  std::int64_t started_at_us = 0;          // when the broker started
  // Optional: measures the data directory (called on the HTTP thread; must
  // be safe to call from several threads). Without it the sizes are 0.
  std::function<StorageSnapshot()> storage = nullptr;
  // The effective configuration GET /status shows, as (key, value) in the
  // config file's names. REQUIRES: no secrets (keys, passwords) in it; the
  // service leaves them out.
  std::vector<std::pair<std::string, std::string>> settings = {};
  // How long a core call may take before the request answers 503.
  std::chrono::milliseconds call_timeout{10'000};
  // Records management (console_records.cc): the configuration's working-hours
  // profiles ([schedule.NAME]) and its urgent policy ([urgent] allowed), shown
  // as the organisation's defaults. Default: none.
  std::vector<ScheduleSectionOptions> schedules{};
  std::vector<std::string> urgent_allowed{};
};

class ConsoleApp {
 public:
  ConsoleApp(const ConsoleOptions& options, ConsoleDeps deps);
  ConsoleApp(const ConsoleApp&) = delete;
  ConsoleApp& operator=(const ConsoleApp&) = delete;

  HttpResponse Handle(const HttpRequest& request);

  // Every API route as (method, pattern), in registration order; the OpenAPI
  // file must describe exactly these.
  std::vector<std::pair<std::string, std::string>> ApiRoutes() const;

  SessionStore& sessions() { return sessions_; }

  // The JSON error body: {"error": {"code": "...", "message": "..."}}.
  static std::string ErrorJson(const Status& status);
  // The HTTP status a canonical code answers with.
  static int HttpStatusOf(StatusCode code);

 private:
  struct Context {
    const HttpRequest& request;
    std::map<std::string, std::string> params;
    std::string query;
    std::optional<Session> session;
    std::string token;  // the session cookie's value
  };
  using Handler = HttpResponse (ConsoleApp::*)(Context&);
  struct RouteSpec {
    Handler handler;
    bool needs_session = true;
    bool admin_only = false;  // a change auditors may not make
  };

  HttpResponse HandleApi(const HttpRequest& request, const std::string& path,
                         const std::string& query);
  HttpResponse HandleAsset(const HttpRequest& request, const std::string& path);

  // Refusals counted as errors of their code.
  HttpResponse Error(const Status& status);
  HttpResponse Json(int status, std::string body);
  void CountLogin(int result);

  // A core call as the signed-in user; a PermissionDenied makes the app check
  // whether the user may still use the console at all (and end their
  // sessions if not). On failure returns the core's Status, or Unavailable.
  Result<std::string> CallAsUser(Context& ctx, const std::string& frame);
  // The reply of `frame` as JSON, or the error response.
  HttpResponse Forward(Context& ctx, const std::string& frame, int ok_status = 200);
  void AuditConsole(const std::string& event, const std::string& login,
                    const std::string& address, bool ok);
  Status CheckCsrf(const Context& ctx) const;
  std::string SessionJson(const Session& session) const;

  HttpResponse SignIn(Context& ctx);
  HttpResponse CurrentSession(Context& ctx);
  HttpResponse SignOut(Context& ctx);
  HttpResponse GetStatus(Context& ctx);
  HttpResponse GetDashboard(Context& ctx);
  HttpResponse ListUsers(Context& ctx);
  HttpResponse AddUser(Context& ctx);
  HttpResponse DeactivateUser(Context& ctx);
  HttpResponse ReactivateUser(Context& ctx);
  HttpResponse ListDevices(Context& ctx);
  HttpResponse ListAudit(Context& ctx);
  HttpResponse VerifyAudit(Context& ctx);

  // Cases and exports (console_exports.cc)
  HttpResponse ListCases(Context& ctx);
  HttpResponse OpenCase(Context& ctx);
  HttpResponse ApproveCase(Context& ctx);
  HttpResponse StartExport(Context& ctx);
  HttpResponse GetExport(Context& ctx);
  // Streams the finished zip, asking the core for one ExportDownload chunk
  // at a time; the file name is made here from the id, never from input.
  HttpResponse DownloadExport(Context& ctx);
  // Records management (console_records.cc)
  void AddRecordsRoutes();
  HttpResponse ListGroups(Context& ctx);
  HttpResponse ListPlugins(Context& ctx);
  HttpResponse RetentionDryRun(Context& ctx);
  HttpResponse RetentionRun(Context& ctx);
  HttpResponse ListHolds(Context& ctx);
  HttpResponse SetHold(Context& ctx);
  HttpResponse LiftHold(Context& ctx);
  HttpResponse ListSchedules(Context& ctx);
  HttpResponse UserSchedule(Context& ctx);
  HttpResponse DisconnectReport(Context& ctx);

  const ConsoleOptions options_;
  const ConsoleDeps deps_;
  SessionStore sessions_;
  LoginLimiter limiter_;
  Router<RouteSpec> router_;
  // A hash to check unknown logins' passwords against, so that they take as
  // long as known ones (no user enumeration by timing). Made on first need.
  std::once_flag dummy_once_;
  std::string dummy_hash_;
};

}  // namespace chatpro::console
