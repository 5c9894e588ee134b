// SPDX-License-Identifier: Apache-2.0
//
// FakeCore's answers to the records-management requests, with the core's
// role rules: administrators and auditors read, only administrators place
// and lift holds or run retention (dry runs included), and only
// administrators read other people's schedules.
#include "admin-console/tests/fake_core.h"

namespace chatpro::console::testing {
namespace {

namespace fb = flatbuffers;

std::string Frame(fb::FlatBufferBuilder& fbb, std::uint64_t rid, wire::Body type,
                  fb::Offset<void> body) {
  std::vector<fb::Offset<wire::Envelope>> envelopes = {wire::CreateEnvelope(fbb, rid, type, body)};
  fbb.Finish(wire::CreateFrameDirect(fbb, 1, &envelopes), wire::FrameIdentifier());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string Refusal(std::uint64_t rid, wire::ErrorCode code, const std::string& message) {
  fb::FlatBufferBuilder fbb;
  auto m = fbb.CreateString(message);
  return Frame(fbb, rid, wire::Body::Error, wire::CreateError(fbb, code, m).Union());
}

std::string S(const fb::String* s) { return s ? s->str() : std::string(); }

}  // namespace

std::vector<std::string> FakeCore::retention_runs() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return retention_runs_;
}

std::optional<std::string> FakeCore::RecordsReply(const wire::Envelope& e,
                                                  const FakeUser& caller) {
  const std::uint64_t rid = e.request_id();
  const bool admin = caller.role == wire::Role::Admin;
  const bool reader = admin || caller.role == wire::Role::Auditor;
  fb::FlatBufferBuilder fbb;
  auto hold_info = [&](const FakeHold& h) {
    return wire::CreateHoldInfoDirect(fbb, h.id, h.target, h.login.c_str(), h.conversation_id,
                                      h.case_ref.c_str(), h.reason.c_str(), h.created_by.c_str(),
                                      1'700'000'000'000'000, h.lifted_by.c_str(), h.lifted_at_us);
  };
  switch (e.body_type()) {
    case wire::Body::AdminListGroups: {
      if (!reader) return Refusal(rid, wire::ErrorCode::PermissionDenied, "admins and auditors only");
      std::vector<fb::Offset<fb::String>> members = {fbb.CreateString("root"),
                                                     fbb.CreateString("sam")};
      std::vector<fb::Offset<fb::String>> owners = {fbb.CreateString("root")};
      std::vector<fb::Offset<wire::GroupInfo>> groups = {wire::CreateGroupInfo(
          fbb, 4, fbb.CreateString("<b>Kitchen</b>"), 1'700'000'000'000'000,
          fbb.CreateVector(members), fbb.CreateVector(owners))};
      return Frame(fbb, rid, wire::Body::GroupList,
                   wire::CreateGroupListDirect(fbb, &groups).Union());
    }
    case wire::Body::AdminListPlugins: {
      if (!reader) return Refusal(rid, wire::ErrorCode::PermissionDenied, "admins and auditors only");
      std::vector<fb::Offset<wire::PluginInfo>> plugins = {wire::CreatePluginInfoDirect(
          fbb, "trim", "keep-newest", "/usr/lib/chatpro/plugins/keep_newest.so", false, true, 0)};
      return Frame(fbb, rid, wire::Body::PluginList,
                   wire::CreatePluginListDirect(fbb, &plugins).Union());
    }
    case wire::Body::AdminRetentionRun: {
      if (!admin) return Refusal(rid, wire::ErrorCode::PermissionDenied, "only administrators may run retention");
      const bool dry = e.body_as_AdminRetentionRun()->dry_run();
      retention_runs_.push_back(dry ? "dry" : "real");
      std::vector<fb::Offset<wire::PolicyCount>> policies = {
          wire::CreatePolicyCountDirect(fbb, "trim", retention_messages, 0)};
      return Frame(fbb, rid, wire::Body::RetentionReport,
                   wire::CreateRetentionReportDirect(fbb, dry, 10, 20, 9, retention_messages, 0,
                                                     0, 1, 2, &policies)
                       .Union());
    }
    case wire::Body::AdminListHolds: {
      if (!reader) return Refusal(rid, wire::ErrorCode::PermissionDenied, "admins and auditors only");
      const bool lifted = e.body_as_AdminListHolds()->include_lifted();
      std::vector<fb::Offset<wire::HoldInfo>> list;
      for (const FakeHold& h : holds_) {
        if (lifted || h.lifted_at_us == 0) list.push_back(hold_info(h));
      }
      return Frame(fbb, rid, wire::Body::HoldList, wire::CreateHoldListDirect(fbb, &list).Union());
    }
    case wire::Body::AdminSetHold: {
      if (!admin) return Refusal(rid, wire::ErrorCode::PermissionDenied, "only administrators may place legal holds");
      const auto* r = e.body_as_AdminSetHold();
      if (r->target() == wire::HoldTarget::User) {
        bool known = false;
        for (const FakeUser& u : users_) known = known || u.login == S(r->login());
        if (!known) return Refusal(rid, wire::ErrorCode::NotFound, "there is no user '" + S(r->login()) + "'");
      } else if (r->conversation_id() != 4) {
        return Refusal(rid, wire::ErrorCode::NotFound,
                       "there is no conversation " + std::to_string(r->conversation_id()));
      }
      if (S(r->case_ref()).empty()) {
        return Refusal(rid, wire::ErrorCode::InvalidArgument, "a hold needs a case reference");
      }
      holds_.push_back({holds_.size() + 1, r->target(), S(r->login()), r->conversation_id(),
                        S(r->case_ref()), S(r->reason()), caller.login, "", 0});
      return Frame(fbb, rid, wire::Body::HoldInfo, hold_info(holds_.back()).Union());
    }
    case wire::Body::AdminLiftHold: {
      if (!admin) return Refusal(rid, wire::ErrorCode::PermissionDenied, "only administrators may lift legal holds");
      const auto* r = e.body_as_AdminLiftHold();
      for (FakeHold& h : holds_) {
        if (h.id != r->hold_id()) continue;
        if (h.lifted_at_us != 0) return Refusal(rid, wire::ErrorCode::FailedPrecondition, "lifted already");
        h.lifted_at_us = 1'700'000'100'000'000;
        h.lifted_by = caller.login;
        return Frame(fbb, rid, wire::Body::Done, wire::CreateDone(fbb).Union());
      }
      return Refusal(rid, wire::ErrorCode::NotFound, "there is no hold " + std::to_string(r->hold_id()));
    }
    case wire::Body::ScheduleGet: {
      std::string login = S(e.body_as_ScheduleGet()->login());
      if (!login.empty() && login != caller.login && !admin) {
        return Refusal(rid, wire::ErrorCode::PermissionDenied,
                       "only administrators may read other people's schedules");
      }
      bool known = login.empty();
      for (const FakeUser& u : users_) known = known || u.login == login;
      if (!known) return Refusal(rid, wire::ErrorCode::NotFound, "there is no user '" + login + "'");
      std::vector<wire::WorkPeriod> periods = {wire::WorkPeriod(540, 1020)};
      std::vector<fb::Offset<wire::DayHours>> week = {wire::CreateDayHoursDirect(fbb, 0, &periods)};
      std::vector<fb::Offset<fb::String>> holidays = {fbb.CreateString("2026-12-25")};
      std::vector<fb::Offset<fb::String>> may = {fbb.CreateString("days_off")};
      auto schedule = wire::CreateScheduleDirect(fbb, "Europe/Berlin", &week, nullptr, &holidays,
                                                 nullptr, "office", &may);
      auto state = wire::CreateDutyStateDirect(fbb, login.c_str(), false, 1'700'000'200'000'000);
      return Frame(fbb, rid, wire::Body::ScheduleInfo,
                   wire::CreateScheduleInfoDirect(fbb, login.c_str(), schedule, state).Union());
    }
    case wire::Body::AdminDisconnectReport: {
      if (!reader) return Refusal(rid, wire::ErrorCode::PermissionDenied, "admins and auditors only");
      const auto* r = e.body_as_AdminDisconnectReport();
      if (r->to_us() != 0 && r->from_us() >= r->to_us()) {
        return Refusal(rid, wire::ErrorCode::InvalidArgument, "the report's range [from, to) is empty");
      }
      std::vector<fb::Offset<wire::DisconnectCount>> senders = {
          wire::CreateDisconnectCountDirect(fbb, "sam", 0, 5, 7, 1)};
      std::vector<fb::Offset<wire::DisconnectCount>> groups = {
          wire::CreateDisconnectCountDirect(fbb, "Kitchen", 4, 3, 4, 0)};
      return Frame(fbb, rid, wire::Body::DisconnectReport,
                   wire::CreateDisconnectReportDirect(fbb, r->from_us(), r->to_us(), &senders,
                                                      &groups, 5, 7, 1)
                       .Union());
    }
    default:
      return std::nullopt;
  }
}

}  // namespace chatpro::console::testing
