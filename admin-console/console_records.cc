// SPDX-License-Identifier: Apache-2.0
//
// The console's records-management API: groups (members and owners, never
// messages), the policy plugins and retention runs, legal holds, the
// working-hours defaults, a person's schedule and the right-to-disconnect
// report. Each endpoint but the defaults is one wire request made as the
// signed-in user; the core decides who may do what.
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>

#include "admin-console/console_app.h"
#include "admin-console/wire_json.h"
#include "broker/base/json.h"

namespace chatpro::console {
namespace {

// The raw value of `key` in a query string; nullopt if absent. The values
// taken here are numbers and flags, so no percent-decoding is needed.
std::optional<std::string_view> QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    std::size_t end = query.find('&');
    std::string_view part = query.substr(0, end);
    std::size_t eq = part.find('=');
    if (part.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    }
    if (end == std::string_view::npos) break;
    query.remove_prefix(end + 1);
  }
  return std::nullopt;
}

// A decimal number of at most 18 digits (fits an int64 and a uint64).
std::optional<std::uint64_t> Decimal(std::string_view s) {
  if (s.empty() || s.size() > 18 ||
      !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  for (char c : s) n = n * 10 + static_cast<std::uint64_t>(c - '0');
  return n;
}

// A time in microseconds since the epoch from the query (`fallback` if absent).
Result<std::int64_t> QueryMicros(std::string_view query, std::string_view key,
                                 std::int64_t fallback) {
  std::optional<std::string_view> v = QueryParam(query, key);
  if (!v) return fallback;
  std::optional<std::uint64_t> n = Decimal(*v);
  if (!n) {
    return Status::InvalidArgument(std::string(key) +
                                   " must be a time in microseconds since 1970 (a whole number)");
  }
  return static_cast<std::int64_t>(*n);
}

// The body's JSON object. On failure returns InvalidArgument.
Result<Poco::JSON::Object::Ptr> BodyObject(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(body);
    Poco::JSON::Object::Ptr object = v.extract<Poco::JSON::Object::Ptr>();
    if (!object.isNull()) return object;
  } catch (const Poco::Exception&) {
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument("the request body must be a JSON object");
}

// String field `key` ("" if absent). On failure returns InvalidArgument.
Result<std::string> StringField(const Poco::JSON::Object& object, const std::string& key) {
  if (!object.has(key)) return std::string();
  Poco::Dynamic::Var v = object.get(key);
  if (!v.isString()) return Status::InvalidArgument(key + " must be a string");
  return v.extract<std::string>();
}

// A conversation id: a whole number, or its decimal digits as a string.
Result<std::uint64_t> IdField(const Poco::JSON::Object& object, const std::string& key) {
  if (!object.has(key)) return Status::InvalidArgument(key + " is required");
  Poco::Dynamic::Var v = object.get(key);
  std::optional<std::uint64_t> n;
  try {
    if (v.isString()) {
      n = Decimal(v.extract<std::string>());
    } else if (v.isInteger() && !v.isBoolean()) {
      Poco::Int64 i = v.convert<Poco::Int64>();
      if (i >= 0) n = static_cast<std::uint64_t>(i);
    }
  } catch (const Poco::Exception&) {
    n.reset();
  }
  if (!n || *n == 0) return Status::InvalidArgument(key + " must be a positive whole number");
  return *n;
}

std::string ProfileJson(const ScheduleSectionOptions& section) {
  JsonObject days;
  JsonObject out;
  out.Add("name", section.name);
  bool is_default = false;
  std::string time_zone, holidays, members, may_change;
  for (const auto& [key, value] : section.settings) {
    if (key == "default") {
      is_default = value == "true" || value == "yes" || value == "1";
    } else if (key == "time_zone") {
      time_zone = value;
    } else if (key == "holidays") {
      holidays = value;
    } else if (key == "members") {
      members = value;
    } else if (key == "may_change") {
      may_change = value;
    }
  }
  // The week in its order, Monday first; a day the profile does not name
  // is not worked.
  for (const char* day : {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}) {
    std::string hours = "off";
    for (const auto& [key, value] : section.settings) {
      if (key == day) hours = value;
    }
    days.Add(day, hours);
  }
  return out.Add("default", is_default)
      .Add("time_zone", time_zone)
      .AddRaw("week", days.str())
      .Add("holidays", holidays)
      .Add("members", members)
      .Add("may_change", may_change)
      .str();
}

}  // namespace

void ConsoleApp::AddRecordsRoutes() {
  router_.Add("GET", "/api/v1/groups", {&ConsoleApp::ListGroups, true, false});
  router_.Add("GET", "/api/v1/plugins", {&ConsoleApp::ListPlugins, true, false});
  // A dry run changes nothing; the core decides who may ask for one.
  router_.Add("POST", "/api/v1/retention/dry-run", {&ConsoleApp::RetentionDryRun, true, false});
  router_.Add("POST", "/api/v1/retention/run", {&ConsoleApp::RetentionRun, true, true});
  router_.Add("GET", "/api/v1/holds", {&ConsoleApp::ListHolds, true, false});
  router_.Add("POST", "/api/v1/holds", {&ConsoleApp::SetHold, true, true});
  router_.Add("POST", "/api/v1/holds/{id}/lift", {&ConsoleApp::LiftHold, true, true});
  router_.Add("GET", "/api/v1/schedules", {&ConsoleApp::ListSchedules, true, false});
  router_.Add("GET", "/api/v1/users/{login}/schedule", {&ConsoleApp::UserSchedule, true, false});
  router_.Add("GET", "/api/v1/reports/disconnect", {&ConsoleApp::DisconnectReport, true, false});
}

HttpResponse ConsoleApp::ListGroups(Context& ctx) { return Forward(ctx, AdminListGroupsFrame()); }

HttpResponse ConsoleApp::ListPlugins(Context& ctx) { return Forward(ctx, AdminListPluginsFrame()); }

HttpResponse ConsoleApp::RetentionDryRun(Context& ctx) {
  return Forward(ctx, AdminRetentionRunFrame(/*dry_run=*/true));
}

HttpResponse ConsoleApp::RetentionRun(Context& ctx) {
  return Forward(ctx, AdminRetentionRunFrame(/*dry_run=*/false));
}

HttpResponse ConsoleApp::ListHolds(Context& ctx) {
  bool include_lifted = false;
  if (std::optional<std::string_view> v = QueryParam(ctx.query, "include_lifted")) {
    if (*v == "1" || *v == "true") {
      include_lifted = true;
    } else if (*v != "0" && *v != "false") {
      return Error(Status::InvalidArgument("include_lifted must be 1 or 0"));
    }
  }
  return Forward(ctx, AdminListHoldsFrame(include_lifted));
}

HttpResponse ConsoleApp::SetHold(Context& ctx) {
  Result<Poco::JSON::Object::Ptr> body = BodyObject(ctx.request.body);
  if (!body.ok()) return Error(body.status());
  const Poco::JSON::Object& o = **body;
  Result<std::string> target = StringField(o, "target");
  if (!target.ok()) return Error(target.status());
  Result<std::string> case_ref = StringField(o, "case_ref");
  if (!case_ref.ok()) return Error(case_ref.status());
  Result<std::string> reason = StringField(o, "reason");
  if (!reason.ok()) return Error(reason.status());
  if (*target == "user") {
    Result<std::string> login = StringField(o, "login");
    if (!login.ok()) return Error(login.status());
    if (login->empty()) return Error(Status::InvalidArgument("login is required for a hold on a user"));
    return Forward(ctx, AdminSetHoldFrame(wire::HoldTarget::User, *login, 0, *case_ref, *reason),
                   201);
  }
  if (*target == "conversation") {
    Result<std::uint64_t> id = IdField(o, "conversation_id");
    if (!id.ok()) return Error(id.status());
    return Forward(ctx, AdminSetHoldFrame(wire::HoldTarget::Conversation, "", *id, *case_ref,
                                          *reason),
                   201);
  }
  return Error(Status::InvalidArgument("target must be user or conversation"));
}

HttpResponse ConsoleApp::LiftHold(Context& ctx) {
  std::optional<std::uint64_t> id = Decimal(ctx.params["id"]);
  if (!id || *id == 0) return Error(Status::InvalidArgument("a hold's id is a positive whole number"));
  std::string reason;
  if (!ctx.request.body.empty()) {
    Result<Poco::JSON::Object::Ptr> body = BodyObject(ctx.request.body);
    if (!body.ok()) return Error(body.status());
    Result<std::string> r = StringField(**body, "reason");
    if (!r.ok()) return Error(r.status());
    reason = std::move(*r);
  }
  return Forward(ctx, AdminLiftHoldFrame(*id, reason));
}

HttpResponse ConsoleApp::ListSchedules(Context&) {
  std::string profiles = "[";
  for (std::size_t i = 0; i < deps_.schedules.size(); ++i) {
    if (i > 0) profiles += ',';
    profiles += ProfileJson(deps_.schedules[i]);
  }
  profiles += "]";
  return Json(200, JsonObject()
                       .AddRaw("profiles", profiles)
                       .Add("urgent_allowed", deps_.urgent_allowed)
                       .str());
}

HttpResponse ConsoleApp::UserSchedule(Context& ctx) {
  return Forward(ctx, ScheduleGetFrame(ctx.params["login"]));
}

HttpResponse ConsoleApp::DisconnectReport(Context& ctx) {
  Result<std::int64_t> from = QueryMicros(ctx.query, "from_us", 0);
  if (!from.ok()) return Error(from.status());
  Result<std::int64_t> to = QueryMicros(ctx.query, "to_us", 0);
  if (!to.ok()) return Error(to.status());
  return Forward(ctx, AdminDisconnectReportFrame(*from, *to));
}

}  // namespace chatpro::console
