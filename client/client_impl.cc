// SPDX-License-Identifier: Apache-2.0
//
// The app-thread side of ClientImpl: the public calls, which validate, queue
// a command for the I/O thread and (for the blocking ones) wait for its reply.
#include "client/client_impl.h"

#include <algorithm>

namespace chatpro::client {

Result<std::unique_ptr<Client>> Client::Connect(const Profile& profile, ClientOptions options) {
  if (profile.server_key.size() != 32 || profile.public_key.size() != 32 ||
      profile.secret_key.size() != 32) {
    return Status::InvalidArgument("the profile's keys are not 32 bytes each");
  }
  if (profile.endpoint.empty()) return Status::InvalidArgument("the profile has no endpoint");
  if (options.max_batch == 0) options.max_batch = 1;
  if (options.max_unacked_sends == 0) options.max_unacked_sends = 1;
  auto impl = std::make_unique<internal::ClientImpl>(profile, std::move(options));
  CHATPRO_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<Client>(std::move(impl));
}

namespace internal {
namespace {

constexpr std::chrono::milliseconds kCallGrace{2000};

std::string Seconds(std::chrono::milliseconds ms) {
  auto s = ms.count() / 1000;
  auto tenths = (ms.count() % 1000) / 100;
  return std::to_string(s) + (tenths ? "." + std::to_string(tenths) : "") + " s";
}

Status Unexpected(const wire::Envelope& env, std::string_view wanted) {
  return Status::Internal("the broker answered with " + std::string(BodyName(env.body_type())) +
                          " where " + std::string(wanted) + " was expected");
}

std::size_t StringsBytes(const std::vector<std::string>& v) {
  std::size_t n = kEnvelopeOverheadBytes;
  for (const auto& s : v) n += s.size() + 8;
  return n;
}

}  // namespace

ClientImpl::ClientImpl(const Profile& profile, ClientOptions options)
    : profile_(profile), options_(std::move(options)) {}

ClientImpl::~ClientImpl() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    // Even if a wake-up is pending: the I/O thread may be waiting for the
    // socket or a connection with commands queued, and must see stopping_.
    WakeLocked(/*always=*/true);
  }
  cv_.notify_all();
  if (io_thread_.joinable()) io_thread_.join();
  context_.reset();
}

Status ClientImpl::Start() {
  Status created = ZmqGuard("create a ZeroMQ context", [&] {
    context_ = std::make_unique<zmq::context_t>(1);
  });
  CHATPRO_RETURN_IF_ERROR(created);
  io_thread_ = std::thread([this] { IoThreadMain(); });
  std::unique_lock<std::mutex> lock(mutex_);
  bool done = cv_.wait_for(lock, options_.connect_timeout, [&] { return start_status_.has_value(); });
  if (!done) return Status::Unavailable(NoAnswerMessage(options_.connect_timeout));
  return *start_status_;
}

std::string ClientImpl::NoAnswerMessage(std::chrono::milliseconds waited) const {
  // REQUIRES: mutex_ held (reads handshake_problem_).
  std::string m = "no answer from the broker at " + profile_.endpoint + " within " + Seconds(waited);
  if (!handshake_problem_.empty()) m += " (" + handshake_problem_ + ")";
  return m;
}

bool ClientImpl::OnIoThread() const { return std::this_thread::get_id() == io_thread_id_.load(); }

SessionInfo ClientImpl::session() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return session_;
}

ConnectionState ClientImpl::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

ContentLimits ClientImpl::limits() const {
  ContentLimits l;
  l.max_text_bytes = max_text_bytes_.load(std::memory_order_relaxed);
  l.max_attachment_bytes = max_attachment_bytes_.load(std::memory_order_relaxed);
  l.max_frame_bytes = max_frame_limit_.load(std::memory_order_relaxed);
  return l;
}

void ClientImpl::WakeLocked(bool always) {
  if ((wake_pending_ && !always) || wake_out_ == nullptr) return;
  Status s = ZmqGuard("wake the I/O thread", [&] {
    zmq::message_t one(1);
    if (wake_out_->send(one, zmq::send_flags::dontwait)) wake_pending_ = true;
  });
  (void)s;  // a full wake-up pipe already means the I/O thread will look
}

Status ClientImpl::RefusalLocked() const {
  // A revoked device hears why, also once its I/O thread has ended.
  if (revoked_status_) return *revoked_status_;
  if (stopping_ || io_exited_) return Status::Unavailable("the client is closed");
  if (state_ == ConnectionState::kRefused) {
    return Status::PermissionDenied("the broker refused this device's key");
  }
  return Status::Ok();
}

void ClientImpl::Enqueue(std::unique_ptr<Request> request) {
  Status refusal;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    refusal = RefusalLocked();
    if (refusal.ok()) {
      commands_.emplace_back();
      commands_.back().request = std::move(request);
      WakeLocked();
      return;
    }
  }
  if (request->on_fail) request->on_fail(refusal);
}

std::future<SendResult> ClientImpl::Send(Target to, Content content, SendOptions options) {
  auto promise = std::make_shared<std::promise<SendResult>>();
  std::future<SendResult> future = promise->get_future();
  SendAsync(
      std::move(to), std::move(content),
      [promise](const SendResult& r) { promise->set_value(r); }, std::move(options));
  return future;
}

void ClientImpl::SendAsync(Target to, Content content,
                           std::function<void(const SendResult&)> done, SendOptions options) {
  auto fail = [&](Status status) {
    SendResult r;
    r.status = std::move(status);
    if (done) done(r);
  };
  if (to.conversation_id == 0 && to.user.empty()) {
    return fail(Status::InvalidArgument("a message needs a conversation or a user"));
  }
  if (options.urgent && options.urgent_reason.empty()) {
    return fail(Status::InvalidArgument("an urgent message needs a reason"));
  }
  if (!options.urgent) options.urgent_reason.clear();
  Status limits_ok = CheckContentLimits(content, to.conversation_id ? "" : to.user, limits());
  if (!limits_ok.ok()) return fail(limits_ok);
  const std::size_t wire_bytes =
      EstimateSendBytes(content, to.user) + options.urgent_reason.size();

  SendResult refused;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // The I/O thread must never wait for itself: a send from a callback may
    // go beyond the window.
    if (!OnIoThread()) {
      cv_.wait(lock, [&] {
        return in_flight_sends_ < options_.max_unacked_sends || !RefusalLocked().ok();
      });
    }
    std::uint64_t now = static_cast<std::uint64_t>(NowMicros());
    const std::uint64_t id = std::max(last_client_msg_id_ + 1, now);
    last_client_msg_id_ = id;
    ++in_flight_sends_;
    refused.status = RefusalLocked();
    if (refused.status.ok()) {
      // The id is assigned and the command queued in one critical section, so
      // the queue (and so unacked_) is in order of client_msg_id.
      commands_.emplace_back();
      OutgoingSend& send = commands_.back().send;
      send.client_msg_id = id;
      send.request_id = (id & kRequestIdBit) == 0 ? id : next_request_id_++;
      send.to = std::move(to);
      send.content = std::move(content);
      send.options = std::move(options);
      send.wire_bytes = wire_bytes;
      send.done = std::move(done);
      WakeLocked();
      return;
    }
    refused.client_msg_id = id;
  }
  if (done) done(refused);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --in_flight_sends_;
  }
  cv_.notify_all();
}

bool ClientImpl::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  // completed_sends_ belongs to the I/O thread, which is this one.
  if (OnIoThread()) return in_flight_sends_ - completed_sends_ == 0;
  return cv_.wait_for(lock, timeout, [&] { return in_flight_sends_ == 0; });
}

template <typename T>
Result<T> ClientImpl::Call(std::size_t wire_bytes, WriteRequest write,
                           std::function<Result<T>(const wire::Envelope&)> parse) {
  if (OnIoThread()) {
    return Status::FailedPrecondition("a blocking call was made from a libchatpro callback");
  }
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> future = promise->get_future();
  auto r = std::make_unique<Request>();
  r->request_id = next_request_id_++;
  r->wire_bytes = wire_bytes;
  r->write = std::move(write);
  r->on_reply = [promise, parse = std::move(parse)](const wire::Envelope& env) {
    promise->set_value(parse(env));
  };
  r->on_fail = [promise](const Status& s) { promise->set_value(Result<T>(s)); };
  r->deadline_us = MonotonicMicros() +
                   std::chrono::duration_cast<std::chrono::microseconds>(options_.request_timeout)
                       .count();
  Enqueue(std::move(r));
  // The I/O thread fails the request at its deadline; the grace only guards
  // against an I/O thread that is stuck in a callback.
  if (future.wait_for(options_.request_timeout + kCallGrace) != std::future_status::ready) {
    std::lock_guard<std::mutex> lock(mutex_);
    return Status::Unavailable(NoAnswerMessage(options_.request_timeout + kCallGrace));
  }
  return future.get();
}

Result<Conversation> ClientImpl::CallForConversation(std::size_t wire_bytes, WriteRequest write) {
  return Call<Conversation>(wire_bytes, std::move(write),
                            [](const wire::Envelope& env) -> Result<Conversation> {
                              if (const auto* info = env.body_as_ConversationInfo()) {
                                return ConversationFromWire(*info);
                              }
                              return Unexpected(env, "ConversationInfo");
                            });
}

Status ClientImpl::CallForDone(std::size_t wire_bytes, WriteRequest write) {
  Result<bool> r = Call<bool>(wire_bytes, std::move(write),
                              [](const wire::Envelope&) -> Result<bool> { return true; });
  return r.ok() ? Status::Ok() : r.status();
}

Result<HistoryPage> ClientImpl::History(Target conversation, HistoryQuery query) {
  if (conversation.conversation_id == 0 && conversation.user.empty()) {
    return Status::InvalidArgument("history needs a conversation or a user");
  }
  std::size_t bytes = kEnvelopeOverheadBytes + conversation.user.size();
  return Call<HistoryPage>(
      bytes,
      [conversation, query](FrameWriter& w, std::uint64_t id) {
        w.AddHistory(id, conversation, query);
      },
      [](const wire::Envelope& env) -> Result<HistoryPage> {
        if (const auto* reply = env.body_as_HistoryReply()) return HistoryFromWire(*reply);
        return Unexpected(env, "HistoryReply");
      });
}

Result<Conversation> ClientImpl::OpenDirect(std::string login) {
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return CallForConversation(bytes, [login = std::move(login)](FrameWriter& w, std::uint64_t id) {
    w.AddOpenDirect(id, login);
  });
}

Result<Conversation> ClientImpl::CreateGroup(std::string name, std::vector<std::string> members) {
  std::size_t bytes = StringsBytes(members) + name.size();
  return CallForConversation(
      bytes, [name = std::move(name), members = std::move(members)](FrameWriter& w,
                                                                     std::uint64_t id) {
        w.AddCreateGroup(id, name, members);
      });
}

Result<Conversation> ClientImpl::AddMembers(std::uint64_t conversation_id,
                                            std::vector<std::string> members, bool as_owners) {
  std::size_t bytes = StringsBytes(members);
  return CallForConversation(bytes, [conversation_id, members = std::move(members), as_owners](
                                        FrameWriter& w, std::uint64_t id) {
    w.AddAddMembers(id, conversation_id, members, as_owners);
  });
}

Result<Conversation> ClientImpl::RemoveMember(std::uint64_t conversation_id, std::string login) {
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return CallForConversation(
      bytes, [conversation_id, login = std::move(login)](FrameWriter& w, std::uint64_t id) {
        w.AddRemoveMember(id, conversation_id, login);
      });
}

Status ClientImpl::LeaveGroup(std::uint64_t conversation_id) {
  Result<bool> r = Call<bool>(
      kEnvelopeOverheadBytes,
      [conversation_id](FrameWriter& w, std::uint64_t id) { w.AddLeaveGroup(id, conversation_id); },
      [](const wire::Envelope& env) -> Result<bool> {
        // Done is the reply; a broker may also answer with the group's new state.
        if (env.body_type() == wire::Body::Done ||
            env.body_type() == wire::Body::ConversationInfo) {
          return true;
        }
        return Unexpected(env, "Done");
      });
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::vector<Conversation>> ClientImpl::ListConversations() {
  return Call<std::vector<Conversation>>(
      kEnvelopeOverheadBytes,
      [](FrameWriter& w, std::uint64_t id) { w.AddListConversations(id); },
      [](const wire::Envelope& env) -> Result<std::vector<Conversation>> {
        const auto* list = env.body_as_ConversationList();
        if (list == nullptr) return Unexpected(env, "ConversationList");
        std::vector<Conversation> out;
        if (list->conversations() != nullptr) {
          for (const auto* c : *list->conversations()) out.push_back(ConversationFromWire(*c));
        }
        return out;
      });
}

Result<Conversation> ClientImpl::FindGroup(std::string_view name) {
  CHATPRO_ASSIGN_OR_RETURN(std::vector<Conversation> all, ListConversations());
  std::optional<Conversation> found;
  for (auto& c : all) {
    if (c.kind != ConversationKind::kGroup || c.name != name) continue;
    if (found) {
      return Status::InvalidArgument("several groups are named '" + std::string(name) +
                                     "' (#" + std::to_string(found->id) + ", #" +
                                     std::to_string(c.id) + "); name one by its id");
    }
    found = std::move(c);
  }
  if (!found) return Status::NotFound("you are in no group named '" + std::string(name) + "'");
  return std::move(*found);
}

namespace {

Result<std::vector<UserInfo>> ParseUserList(const wire::Envelope& env) {
  const auto* list = env.body_as_UserList();
  if (list == nullptr) return Unexpected(env, "UserList");
  std::vector<UserInfo> out;
  if (list->users() != nullptr) {
    for (const auto* u : *list->users()) out.push_back(UserInfoFromWire(*u));
  }
  return out;
}

Result<InviteInfo> ParseInvite(const wire::Envelope& env) {
  const auto* reply = env.body_as_InviteReply();
  if (reply == nullptr) return Unexpected(env, "InviteReply");
  return InviteFromWire(*reply);
}

}  // namespace

Result<std::vector<UserInfo>> ClientImpl::Directory() {
  return Call<std::vector<UserInfo>>(
      kEnvelopeOverheadBytes, [](FrameWriter& w, std::uint64_t id) { w.AddDirectory(id); },
      ParseUserList);
}

Result<InviteInfo> ClientImpl::CreateInvite(std::string login) {
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return Call<InviteInfo>(
      bytes,
      [login = std::move(login)](FrameWriter& w, std::uint64_t id) { w.AddCreateInvite(id, login); },
      ParseInvite);
}

Result<InviteInfo> ClientImpl::AdminAddUser(std::string login, std::string display_name,
                                            Role role) {
  std::size_t bytes = kEnvelopeOverheadBytes + login.size() + display_name.size();
  return Call<InviteInfo>(
      bytes,
      [login = std::move(login), display_name = std::move(display_name), role](
          FrameWriter& w, std::uint64_t id) { w.AddAdminAddUser(id, login, display_name, role); },
      ParseInvite);
}

Result<std::vector<UserInfo>> ClientImpl::AdminListUsers() {
  return Call<std::vector<UserInfo>>(
      kEnvelopeOverheadBytes, [](FrameWriter& w, std::uint64_t id) { w.AddAdminListUsers(id); },
      ParseUserList);
}

Result<std::vector<GroupSummary>> ClientImpl::AdminListGroups() {
  return Call<std::vector<GroupSummary>>(
      kEnvelopeOverheadBytes, [](FrameWriter& w, std::uint64_t id) { w.AddAdminListGroups(id); },
      [](const wire::Envelope& env) -> Result<std::vector<GroupSummary>> {
        const auto* list = env.body_as_GroupList();
        if (list == nullptr) return Unexpected(env, "GroupList");
        std::vector<GroupSummary> out;
        if (list->groups() != nullptr) {
          for (const auto* g : *list->groups()) out.push_back(GroupSummaryFromWire(*g));
        }
        return out;
      });
}

Result<OffboardingInfo> ClientImpl::AdminDeactivateUser(std::string login) {
  if (login.empty()) return Status::InvalidArgument("name the user to deactivate");
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return Call<OffboardingInfo>(
      bytes,
      [login = std::move(login)](FrameWriter& w, std::uint64_t id) {
        w.AddAdminDeactivateUser(id, login);
      },
      [](const wire::Envelope& env) -> Result<OffboardingInfo> {
        if (const auto* reply = env.body_as_OffboardingReply()) return OffboardingFromWire(*reply);
        return Unexpected(env, "OffboardingReply");
      });
}

Result<InviteInfo> ClientImpl::AdminReactivateUser(std::string login) {
  if (login.empty()) return Status::InvalidArgument("name the user to reactivate");
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return Call<InviteInfo>(
      bytes,
      [login = std::move(login)](FrameWriter& w, std::uint64_t id) {
        w.AddAdminReactivateUser(id, login);
      },
      ParseInvite);
}

Result<std::vector<DeviceInfo>> ClientImpl::ListDevices(std::string login) {
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return Call<std::vector<DeviceInfo>>(
      bytes,
      [login = std::move(login)](FrameWriter& w, std::uint64_t id) { w.AddListDevices(id, login); },
      [](const wire::Envelope& env) -> Result<std::vector<DeviceInfo>> {
        const auto* list = env.body_as_DeviceList();
        if (list == nullptr) return Unexpected(env, "DeviceList");
        std::vector<DeviceInfo> out;
        if (list->devices() != nullptr) {
          for (const auto* d : *list->devices()) out.push_back(DeviceFromWire(*d));
        }
        return out;
      });
}

Status ClientImpl::RevokeDevice(std::string login, std::uint64_t device_id) {
  if (device_id == 0) return Status::InvalidArgument("name the device to revoke by its id");
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return CallForDone(bytes, [login = std::move(login), device_id](FrameWriter& w,
                                                                   std::uint64_t id) {
    w.AddRevokeDevice(id, login, device_id);
  });
}

Status ClientImpl::Block(std::string login) {
  if (login.empty()) return Status::InvalidArgument("name the user to block");
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return CallForDone(bytes, [login = std::move(login)](FrameWriter& w, std::uint64_t id) {
    w.AddBlock(id, login);
  });
}

Status ClientImpl::Unblock(std::string login) {
  if (login.empty()) return Status::InvalidArgument("name the user to unblock");
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return CallForDone(bytes, [login = std::move(login)](FrameWriter& w, std::uint64_t id) {
    w.AddUnblock(id, login);
  });
}

Status ClientImpl::SetConsolePassword(std::string login, std::string password_hash) {
  std::size_t bytes = kEnvelopeOverheadBytes + login.size() + password_hash.size();
  return CallForDone(bytes, [login = std::move(login), hash = std::move(password_hash)](
                                FrameWriter& w, std::uint64_t id) {
    w.AddAdminSetConsolePassword(id, login, hash);
  });
}

Result<std::vector<std::string>> ClientImpl::ListBlocked() {
  return Call<std::vector<std::string>>(
      kEnvelopeOverheadBytes, [](FrameWriter& w, std::uint64_t id) { w.AddListBlocked(id); },
      [](const wire::Envelope& env) -> Result<std::vector<std::string>> {
        // The blocked people come as a UserList (login and display name).
        const auto* list = env.body_as_UserList();
        if (list == nullptr) return Unexpected(env, "UserList");
        std::vector<std::string> out;
        if (list->users() != nullptr) {
          for (const auto* u : *list->users()) {
            out.push_back(u->login() != nullptr ? u->login()->str() : std::string());
          }
        }
        return out;
      });
}

Status ClientImpl::Report(std::uint64_t conversation_id, std::uint64_t seq, std::string reason) {
  if (conversation_id == 0 || seq == 0) {
    return Status::InvalidArgument("a report names a conversation and a message seq");
  }
  if (reason.empty()) return Status::InvalidArgument("a report needs a reason");
  std::size_t bytes = kEnvelopeOverheadBytes + reason.size();
  return CallForDone(bytes, [conversation_id, seq, reason = std::move(reason)](FrameWriter& w,
                                                                               std::uint64_t id) {
    w.AddReport(id, conversation_id, seq, reason);
  });
}

Result<std::vector<ReportInfo>> ClientImpl::AdminListReports() {
  return Call<std::vector<ReportInfo>>(
      kEnvelopeOverheadBytes, [](FrameWriter& w, std::uint64_t id) { w.AddAdminListReports(id); },
      [](const wire::Envelope& env) -> Result<std::vector<ReportInfo>> {
        const auto* list = env.body_as_ReportList();
        if (list == nullptr) return Unexpected(env, "ReportList");
        std::vector<ReportInfo> out;
        if (list->reports() != nullptr) {
          for (const auto* r : *list->reports()) {
            CHATPRO_ASSIGN_OR_RETURN(ReportInfo info, ReportFromWire(*r));
            out.push_back(std::move(info));
          }
        }
        return out;
      });
}

Result<std::vector<AuditEntryInfo>> ClientImpl::AdminListAudit(std::uint64_t from_seq,
                                                                std::uint32_t limit) {
  return Call<std::vector<AuditEntryInfo>>(
      kEnvelopeOverheadBytes,
      [from_seq, limit](FrameWriter& w, std::uint64_t id) {
        w.AddAdminListAudit(id, from_seq, limit);
      },
      [](const wire::Envelope& env) -> Result<std::vector<AuditEntryInfo>> {
        const auto* list = env.body_as_AuditList();
        if (list == nullptr) return Unexpected(env, "AuditList");
        std::vector<AuditEntryInfo> out;
        if (list->entries() != nullptr) {
          for (const auto* e : *list->entries()) out.push_back(AuditEntryFromWire(*e));
        }
        return out;
      });
}

Result<AuditVerification> ClientImpl::AdminVerifyAudit() {
  return Call<AuditVerification>(
      kEnvelopeOverheadBytes, [](FrameWriter& w, std::uint64_t id) { w.AddAdminVerifyAudit(id); },
      [](const wire::Envelope& env) -> Result<AuditVerification> {
        if (const auto* reply = env.body_as_AuditVerifyReply()) {
          return AuditVerificationFromWire(*reply);
        }
        return Unexpected(env, "AuditVerifyReply");
      });
}

// ------------------------------------------------------------------ records management

Result<HoldInfo> ClientImpl::SetHold(HoldTarget target, std::string case_ref,
                                     std::string reason) {
  if (target.is_user() && target.login.empty()) {
    return Status::InvalidArgument("a hold names a user or a conversation");
  }
  if (!target.is_user() && !target.login.empty()) {
    return Status::InvalidArgument("a hold names a user or a conversation, not both");
  }
  if (case_ref.empty()) return Status::InvalidArgument("a hold needs a case reference");
  if (reason.empty()) return Status::InvalidArgument("a hold needs a reason");
  std::size_t bytes = kEnvelopeOverheadBytes + target.login.size() + case_ref.size() + reason.size();
  return Call<HoldInfo>(
      bytes,
      [target = std::move(target), case_ref = std::move(case_ref), reason = std::move(reason)](
          FrameWriter& w, std::uint64_t id) { w.AddAdminSetHold(id, target, case_ref, reason); },
      [](const wire::Envelope& env) -> Result<HoldInfo> {
        if (const auto* info = env.body_as_HoldInfo()) return HoldFromWire(*info);
        return Unexpected(env, "HoldInfo");
      });
}

Status ClientImpl::LiftHold(std::uint64_t hold_id, std::string reason) {
  if (hold_id == 0) return Status::InvalidArgument("name the hold to lift by its id");
  if (reason.empty()) return Status::InvalidArgument("lifting a hold needs a reason");
  std::size_t bytes = kEnvelopeOverheadBytes + reason.size();
  // The broker answers Done or the lifted hold (HoldInfo); either is success.
  return CallForDone(bytes, [hold_id, reason = std::move(reason)](FrameWriter& w,
                                                                   std::uint64_t id) {
    w.AddAdminLiftHold(id, hold_id, reason);
  });
}

Result<std::vector<HoldInfo>> ClientImpl::ListHolds(bool include_lifted) {
  return Call<std::vector<HoldInfo>>(
      kEnvelopeOverheadBytes,
      [include_lifted](FrameWriter& w, std::uint64_t id) {
        w.AddAdminListHolds(id, include_lifted);
      },
      [](const wire::Envelope& env) -> Result<std::vector<HoldInfo>> {
        const auto* list = env.body_as_HoldList();
        if (list == nullptr) return Unexpected(env, "HoldList");
        std::vector<HoldInfo> out;
        if (list->holds() != nullptr) {
          for (const auto* h : *list->holds()) out.push_back(HoldFromWire(*h));
        }
        return out;
      });
}

Result<RetentionReport> ClientImpl::RunRetention(bool dry_run) {
  return Call<RetentionReport>(
      kEnvelopeOverheadBytes,
      [dry_run](FrameWriter& w, std::uint64_t id) { w.AddAdminRetentionRun(id, dry_run); },
      [](const wire::Envelope& env) -> Result<RetentionReport> {
        if (const auto* report = env.body_as_RetentionReport()) {
          return RetentionReportFromWire(*report);
        }
        return Unexpected(env, "RetentionReport");
      });
}

Result<std::vector<PluginInfo>> ClientImpl::ListPlugins() {
  return Call<std::vector<PluginInfo>>(
      kEnvelopeOverheadBytes, [](FrameWriter& w, std::uint64_t id) { w.AddAdminListPlugins(id); },
      [](const wire::Envelope& env) -> Result<std::vector<PluginInfo>> {
        const auto* list = env.body_as_PluginList();
        if (list == nullptr) return Unexpected(env, "PluginList");
        std::vector<PluginInfo> out;
        if (list->plugins() != nullptr) {
          for (const auto* p : *list->plugins()) out.push_back(PluginFromWire(*p));
        }
        return out;
      });
}

Result<CaseInfo> ClientImpl::CallForCase(std::size_t wire_bytes, WriteRequest write) {
  return Call<CaseInfo>(wire_bytes, std::move(write),
                        [](const wire::Envelope& env) -> Result<CaseInfo> {
                          if (const auto* info = env.body_as_CaseInfo()) return CaseFromWire(*info);
                          return Unexpected(env, "CaseInfo");
                        });
}

Result<std::vector<CaseInfo>> ClientImpl::CallForCaseList(WriteRequest write) {
  return Call<std::vector<CaseInfo>>(
      kEnvelopeOverheadBytes, std::move(write),
      [](const wire::Envelope& env) -> Result<std::vector<CaseInfo>> {
        const auto* list = env.body_as_CaseInfoList();
        if (list == nullptr) return Unexpected(env, "CaseInfoList");
        std::vector<CaseInfo> out;
        if (list->cases() != nullptr) {
          for (const auto* c : *list->cases()) out.push_back(CaseFromWire(*c));
        }
        return out;
      });
}

Result<ExportInfo> ClientImpl::CallForExport(WriteRequest write) {
  return Call<ExportInfo>(kEnvelopeOverheadBytes, std::move(write),
                          [](const wire::Envelope& env) -> Result<ExportInfo> {
                            if (const auto* info = env.body_as_ExportInfo()) {
                              return ExportFromWire(*info);
                            }
                            return Unexpected(env, "ExportInfo");
                          });
}

Result<CaseInfo> ClientImpl::OpenCase(CaseRequest request) {
  if (request.legal_basis.empty()) return Status::InvalidArgument("a case needs a legal basis");
  if (request.subjects.empty()) {
    return Status::InvalidArgument("a case needs at least one subject (a login)");
  }
  for (const auto& s : request.subjects) {
    if (s.empty()) return Status::InvalidArgument("a subject of a case is a login, not empty");
  }
  for (std::uint64_t c : request.conversations) {
    if (c == 0) return Status::InvalidArgument("a conversation id is a number above 0");
  }
  if (request.from_us < 0 || request.to_us < 0) {
    return Status::InvalidArgument("a case's dates cannot be before 1970");
  }
  if (request.to_us != 0 && request.from_us > request.to_us) {
    return Status::InvalidArgument("a case's date range ends before it starts");
  }
  std::size_t bytes = StringsBytes(request.subjects) + request.legal_basis.size() +
                      request.keyword.size() + request.conversations.size() * 8;
  return CallForCase(bytes, [request = std::move(request)](FrameWriter& w, std::uint64_t id) {
    w.AddCaseOpen(id, request);
  });
}

Result<CaseInfo> ClientImpl::ApproveCase(std::uint64_t case_id) {
  if (case_id == 0) return Status::InvalidArgument("name the case to approve by its id");
  return CallForCase(kEnvelopeOverheadBytes, [case_id](FrameWriter& w, std::uint64_t id) {
    w.AddCaseApprove(id, case_id);
  });
}

Result<std::vector<CaseInfo>> ClientImpl::ListCases() {
  return CallForCaseList([](FrameWriter& w, std::uint64_t id) { w.AddCaseList(id); });
}

Result<ExportInfo> ClientImpl::StartExport(std::uint64_t case_id) {
  if (case_id == 0) return Status::InvalidArgument("name the case to export by its id");
  return CallForExport(
      [case_id](FrameWriter& w, std::uint64_t id) { w.AddExportStart(id, case_id); });
}

Result<ExportInfo> ClientImpl::ExportStatus(std::uint64_t export_id) {
  if (export_id == 0) return Status::InvalidArgument("name the export by its id");
  return CallForExport(
      [export_id](FrameWriter& w, std::uint64_t id) { w.AddExportStatus(id, export_id); });
}

Result<BackupInfo> ClientImpl::CallForBackup(WriteRequest write) {
  return Call<BackupInfo>(kEnvelopeOverheadBytes, std::move(write),
                          [](const wire::Envelope& env) -> Result<BackupInfo> {
                            if (const auto* info = env.body_as_BackupInfo()) {
                              return BackupFromWire(*info);
                            }
                            return Unexpected(env, "BackupInfo");
                          });
}

Result<BackupInfo> ClientImpl::StartBackup(std::string name) {
  if (name.size() > 64) return Status::InvalidArgument("a backup name has at most 64 characters");
  return CallForBackup([name](FrameWriter& w, std::uint64_t id) {
    w.AddAdminBackup(id, wire::BackupAction::Start, name);
  });
}

Result<BackupInfo> ClientImpl::BackupStatus() {
  return CallForBackup([](FrameWriter& w, std::uint64_t id) {
    w.AddAdminBackup(id, wire::BackupAction::Status, "");
  });
}

Result<BackupList> ClientImpl::ListBackups() {
  return Call<BackupList>(
      kEnvelopeOverheadBytes,
      [](FrameWriter& w, std::uint64_t id) { w.AddAdminBackup(id, wire::BackupAction::List, ""); },
      [](const wire::Envelope& env) -> Result<BackupList> {
        if (const auto* list = env.body_as_BackupList()) {
          BackupList out;
          out.folder = list->folder() ? list->folder()->str() : std::string();
          if (list->backups() != nullptr) {
            for (const auto* b : *list->backups()) out.backups.push_back(BackupFromWire(*b));
          }
          return out;
        }
        return Unexpected(env, "BackupList");
      });
}

Result<ExportChunk> ClientImpl::ReadExportChunk(std::uint64_t export_id, std::uint64_t offset,
                                                std::uint32_t max_bytes) {
  if (export_id == 0) return Status::InvalidArgument("name the export by its id");
  if (max_bytes == 0) return Status::InvalidArgument("a chunk of 0 bytes was asked for");
  return Call<ExportChunk>(
      kEnvelopeOverheadBytes,
      [export_id, offset, max_bytes](FrameWriter& w, std::uint64_t id) {
        w.AddExportDownload(id, export_id, offset, max_bytes);
      },
      [](const wire::Envelope& env) -> Result<ExportChunk> {
        if (const auto* chunk = env.body_as_ExportChunk()) return ExportChunkFromWire(*chunk);
        return Unexpected(env, "ExportChunk");
      });
}

Result<std::vector<CaseInfo>> ClientImpl::MyDataAccess() {
  return CallForCaseList([](FrameWriter& w, std::uint64_t id) { w.AddMyDataAccess(id); });
}

// ------------------------------------------------------------------ working hours

namespace {

Status CheckPeriods(const std::vector<WorkPeriod>& periods, const std::string& where) {
  for (const auto& p : periods) {
    if (p.start_minute >= p.end_minute || p.end_minute > 1440) {
      return Status::InvalidArgument("a working period of " + where +
                                     " must start before it ends, within the day (minutes " +
                                     std::to_string(p.start_minute) + " to " +
                                     std::to_string(p.end_minute) + ")");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ScheduleInfo> ClientImpl::CallForSchedule(std::size_t wire_bytes, WriteRequest write) {
  return Call<ScheduleInfo>(wire_bytes, std::move(write),
                            [](const wire::Envelope& env) -> Result<ScheduleInfo> {
                              if (const auto* info = env.body_as_ScheduleInfo()) {
                                return ScheduleInfoFromWire(*info);
                              }
                              return Unexpected(env, "ScheduleInfo");
                            });
}

Result<ScheduleInfo> ClientImpl::GetSchedule(std::string login) {
  std::size_t bytes = kEnvelopeOverheadBytes + login.size();
  return CallForSchedule(bytes, [login = std::move(login)](FrameWriter& w, std::uint64_t id) {
    w.AddScheduleGet(id, login);
  });
}

Result<ScheduleInfo> ClientImpl::SetSchedule(std::string login, Schedule schedule) {
  if (schedule.time_zone.empty() && schedule.week.empty() && schedule.days_off.empty() &&
      schedule.shifts.empty()) {
    return Status::InvalidArgument(
        "a schedule change sets a time zone, a week, days off or shift changes");
  }
  std::size_t bytes = kEnvelopeOverheadBytes + login.size() + schedule.time_zone.size() +
                      StringsBytes(schedule.days_off);
  for (const auto& d : schedule.week) {
    if (d.weekday > 6) {
      return Status::InvalidArgument("a weekday is 0 (Monday) to 6 (Sunday), not " +
                                     std::to_string(d.weekday));
    }
    CHATPRO_RETURN_IF_ERROR(CheckPeriods(d.periods, "weekday " + std::to_string(d.weekday)));
    bytes += 16 + d.periods.size() * 4;
  }
  for (const auto& c : schedule.shifts) {
    if (c.date.empty()) return Status::InvalidArgument("a shift change needs a date");
    CHATPRO_RETURN_IF_ERROR(CheckPeriods(c.periods, c.date));
    bytes += 32 + c.date.size() + c.periods.size() * 4;
  }
  return CallForSchedule(bytes, [login = std::move(login), schedule = std::move(schedule)](
                                    FrameWriter& w, std::uint64_t id) {
    w.AddScheduleSet(id, login, schedule);
  });
}

Result<std::vector<PresenceInfo>> ClientImpl::Presence(std::uint64_t conversation_id) {
  return Call<std::vector<PresenceInfo>>(
      kEnvelopeOverheadBytes,
      [conversation_id](FrameWriter& w, std::uint64_t id) {
        w.AddPresenceQuery(id, conversation_id);
      },
      [](const wire::Envelope& env) -> Result<std::vector<PresenceInfo>> {
        const auto* list = env.body_as_PresenceList();
        if (list == nullptr) return Unexpected(env, "PresenceList");
        std::vector<PresenceInfo> out;
        if (list->entries() != nullptr) {
          for (const auto* p : *list->entries()) out.push_back(PresenceFromWire(*p));
        }
        return out;
      });
}

Result<DisconnectReport> ClientImpl::AdminDisconnectReport(std::int64_t from_us,
                                                           std::int64_t to_us) {
  if (from_us < 0 || to_us < 0) {
    return Status::InvalidArgument("a report's dates cannot be before 1970");
  }
  if (from_us >= to_us) {
    return Status::InvalidArgument("a report's date range must end after it starts");
  }
  return Call<DisconnectReport>(
      kEnvelopeOverheadBytes,
      [from_us, to_us](FrameWriter& w, std::uint64_t id) {
        w.AddAdminDisconnectReport(id, from_us, to_us);
      },
      [](const wire::Envelope& env) -> Result<DisconnectReport> {
        if (const auto* report = env.body_as_DisconnectReport()) {
          return DisconnectReportFromWire(*report);
        }
        return Unexpected(env, "DisconnectReport");
      });
}

void ClientImpl::StopReceiving() { receiving_stopped_ = true; }

}  // namespace internal
}  // namespace chatpro::client
