// SPDX-License-Identifier: Apache-2.0
#include "client/tests/fake_broker.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <zmq.hpp>

namespace chatpro::client::testing {
namespace {

namespace fb = flatbuffers;

constexpr char kZapAddress[] = "inproc://zeromq.zap.01";

std::string ToString(const fb::DetachedBuffer& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Builds the broker's answer frame, envelope by envelope.
class ReplyFrame {
 public:
  fb::FlatBufferBuilder fbb{1024};
  std::vector<fb::Offset<wire::Envelope>> envs;

  void Add(std::uint64_t id, wire::Body type, fb::Offset<void> body) {
    envs.push_back(wire::CreateEnvelope(fbb, id, type, body));
  }
  void Error(std::uint64_t id, wire::ErrorCode code, const std::string& message) {
    Add(id, wire::Body::Error, wire::CreateErrorDirect(fbb, code, message.c_str()).Union());
  }
  fb::Offset<wire::ConversationInfo> Info(std::uint64_t cid, wire::ConversationKind kind,
                                          const std::string& name) {
    std::vector<fb::Offset<wire::Member>> members{
        wire::CreateMemberDirect(fbb, "ana", "Ana", true),
        wire::CreateMemberDirect(fbb, "bob", "Bob", false)};
    return wire::CreateConversationInfoDirect(fbb, cid, kind, name.c_str(), &members, 0, 1);
  }
  void Delivery(std::uint64_t cid, std::uint64_t seq, const std::string& sender) {
    StoredDelivery(BuildStoredMessage(cid, seq, sender, "message " + std::to_string(seq)));
  }
  void StoredDelivery(const std::string& stored) {
    Add(0, wire::Body::Delivery, wire::CreateDelivery(fbb, Nested(stored)).Union());
  }
  fb::Offset<fb::Vector<std::uint8_t>> Nested(const std::string& stored) {
    return fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(stored.data()), stored.size());
  }
  void Done(std::uint64_t id) { Add(id, wire::Body::Done, wire::CreateDone(fbb).Union()); }
  std::string Finish() {
    auto v = fbb.CreateVector(envs);
    wire::FinishFrameBuffer(fbb, wire::CreateFrame(fbb, 1, v));
    return ToString(fbb.Release());
  }
};

}  // namespace

std::string BuildStoredMessage(std::uint64_t conversation_id, std::uint64_t seq,
                               const std::string& sender, const std::string& text) {
  fb::FlatBufferBuilder fbb;
  auto body = wire::CreateTextDirect(fbb, text.c_str());
  auto m = wire::CreateMessageDirect(fbb, conversation_id, seq, 2, sender.c_str(), 1, seq,
                                     1'700'000'000'000'000 + static_cast<std::int64_t>(seq),
                                     wire::Content::Text, body.Union());
  fbb.Finish(m);
  return ToString(fbb.Release());
}

namespace {

std::string FinishStored(fb::FlatBufferBuilder& fbb, std::uint64_t conversation_id,
                         std::uint64_t seq, const std::string& sender, wire::Content type,
                         fb::Offset<void> content) {
  auto m = wire::CreateMessageDirect(fbb, conversation_id, seq, 2, sender.c_str(), 1, seq,
                                     1'700'000'000'000'000 + static_cast<std::int64_t>(seq), type,
                                     content);
  fbb.Finish(m);
  return ToString(fbb.Release());
}

}  // namespace

std::string BuildStoredEdit(std::uint64_t conversation_id, std::uint64_t seq,
                            const std::string& sender, std::uint64_t target_seq,
                            const std::string& text) {
  fb::FlatBufferBuilder fbb;
  auto edit = wire::CreateEditDirect(fbb, target_seq, text.c_str());
  return FinishStored(fbb, conversation_id, seq, sender, wire::Content::Edit, edit.Union());
}

std::string BuildStoredDeletion(std::uint64_t conversation_id, std::uint64_t seq,
                                const std::string& sender, std::uint64_t target_seq) {
  fb::FlatBufferBuilder fbb;
  auto deletion = wire::CreateDeletion(fbb, target_seq);
  return FinishStored(fbb, conversation_id, seq, sender, wire::Content::Deletion,
                      deletion.Union());
}

std::string BuildStoredUrgent(std::uint64_t conversation_id, std::uint64_t seq,
                              const std::string& sender, const std::string& text,
                              const std::string& reason) {
  fb::FlatBufferBuilder fbb;
  auto body = wire::CreateTextDirect(fbb, text.c_str());
  auto m = wire::CreateMessageDirect(fbb, conversation_id, seq, 2, sender.c_str(), 1, seq,
                                     1'700'000'000'000'000 + static_cast<std::int64_t>(seq),
                                     wire::Content::Text, body.Union(), 0, true, reason.c_str());
  fbb.Finish(m);
  return ToString(fbb.Release());
}

namespace {

fb::Offset<fb::Vector<const wire::WorkPeriod*>> Periods(fb::FlatBufferBuilder& fbb,
                                                        const std::vector<WorkPeriod>& periods) {
  std::vector<wire::WorkPeriod> structs;
  for (const auto& p : periods) structs.emplace_back(p.start_minute, p.end_minute);
  return fbb.CreateVectorOfStructs(structs);
}

fb::Offset<wire::Schedule> BuildSchedule(fb::FlatBufferBuilder& fbb, const Schedule& s) {
  std::vector<fb::Offset<wire::DayHours>> week;
  for (const auto& d : s.week) week.push_back(wire::CreateDayHours(fbb, d.weekday, Periods(fbb, d.periods)));
  std::vector<fb::Offset<wire::ShiftChange>> shifts;
  for (const auto& c : s.shifts) {
    auto date = fbb.CreateString(c.date);
    shifts.push_back(wire::CreateShiftChange(fbb, date, Periods(fbb, c.periods)));
  }
  std::vector<fb::Offset<fb::String>> days_off, holidays, may_change;
  for (const auto& d : s.days_off) days_off.push_back(fbb.CreateString(d));
  for (const auto& d : s.holidays) holidays.push_back(fbb.CreateString(d));
  for (const auto& m : s.may_change) may_change.push_back(fbb.CreateString(m));
  return wire::CreateScheduleDirect(fbb, s.time_zone.c_str(), &week, &days_off, &holidays, &shifts,
                                    s.profile.c_str(), &may_change);
}

std::string PeriodsText(const fb::Vector<const wire::WorkPeriod*>* periods) {
  std::string out;
  if (periods == nullptr) return out;
  for (const auto* p : *periods) {
    out += (out.empty() ? "" : ",") + std::to_string(p->start_minute()) + "-" +
           std::to_string(p->end_minute());
  }
  return out;
}

// What a ScheduleSet carried, for the tests to compare.
std::string ScheduleText(const wire::Schedule* s) {
  if (s == nullptr) return "";
  std::string out;
  auto part = [&](const std::string& p) { out += (out.empty() ? "" : " ") + p; };
  if (s->time_zone() != nullptr) part("zone=" + s->time_zone()->str());
  if (s->week() != nullptr) {
    std::string w;
    for (const auto* d : *s->week()) {
      w += (w.empty() ? "" : "|") + std::to_string(d->weekday()) + ":" + PeriodsText(d->periods());
    }
    part("week=" + w);
  }
  auto strings = [&](const char* name, const fb::Vector<fb::Offset<fb::String>>* v) {
    if (v == nullptr) return;
    std::string t;
    for (const auto* x : *v) t += (t.empty() ? "" : ",") + x->str();
    part(std::string(name) + "=" + t);
  };
  strings("days_off", s->days_off());
  strings("holidays", s->holidays());
  if (s->shifts() != nullptr) {
    std::string t;
    for (const auto* c : *s->shifts()) {
      t += (t.empty() ? "" : "|") + c->date()->str() + ":" + PeriodsText(c->periods());
    }
    part("shifts=" + t);
  }
  return out;
}

std::vector<WorkPeriod> PeriodsFrom(const fb::Vector<const wire::WorkPeriod*>* periods) {
  std::vector<WorkPeriod> out;
  if (periods == nullptr) return out;
  for (const auto* p : *periods) out.push_back({p->start_minute(), p->end_minute()});
  return out;
}

}  // namespace

Schedule FakeBroker::kSchedule() {
  Schedule s;
  s.time_zone = "Europe/Berlin";
  for (std::uint8_t d = 0; d < 5; ++d) s.week.push_back({d, {{540, 750}, {810, 1020}}});
  s.days_off = {"2026-12-24"};
  s.holidays = {"2026-12-25", "2026-12-26"};
  s.shifts = {{"2026-12-01", {{540, 780}}}};
  s.profile = "office";
  s.may_change = {"week", "days_off", "shifts"};
  return s;
}

void FakeBroker::PushPresence(const std::string& login, wire::PresenceState state,
                              std::int64_t until_us) {
  ReplyFrame r;
  r.Add(0, wire::Body::Presence,
        wire::CreatePresenceDirect(r.fbb, login.c_str(), state, until_us).Union());
  std::lock_guard<std::mutex> lock(mutex_);
  outbox_.emplace_back(r.Finish(), false);
}

std::string BuildStoredPicture(std::uint64_t conversation_id, std::uint64_t seq,
                               const std::string& sender) {
  fb::FlatBufferBuilder fbb;
  std::vector<std::uint8_t> image{'P', 'N', 'G', '-', 'B', 'Y', 'T', 'E', 'S'};
  std::vector<std::uint8_t> thumb{'T', 'H', 'U', 'M', 'B'};
  auto picture = wire::CreatePictureDirect(fbb, "image/png", 2, 1, &image, &thumb);
  return FinishStored(fbb, conversation_id, seq, sender, wire::Content::Picture,
                      picture.Union());
}

std::string BuildStoredStripped(std::uint64_t conversation_id, std::uint64_t seq,
                                const std::string& sender, bool voice,
                                std::int64_t removed_at_us) {
  fb::FlatBufferBuilder fbb;
  wire::Content type = wire::Content::Picture;
  fb::Offset<void> content;
  if (voice) {
    type = wire::Content::Voice;
    content = wire::CreateVoiceDirect(fbb, "opus", 4200).Union();
  } else {
    content = wire::CreatePictureDirect(fbb, "image/png", 640, 480).Union();
  }
  auto m = wire::CreateMessageDirect(fbb, conversation_id, seq, 2, sender.c_str(), 1, seq,
                                     1'700'000'000'000'000 + static_cast<std::int64_t>(seq), type,
                                     content, removed_at_us);
  fbb.Finish(m);
  return ToString(fbb.Release());
}

FakeBroker::FakeBroker() {
  (void)crypto::InitCrypto();
  keys_ = crypto::GenerateKeyPair();
  thread_ = std::thread([this] { Run(); });
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return ready_; });
}

FakeBroker::~FakeBroker() {
  stop_ = true;
  thread_.join();
}

void FakeBroker::Allow(const std::string& public_key) {
  std::lock_guard<std::mutex> lock(mutex_);
  allowed_.insert(public_key);
}

void FakeBroker::PushDeliveries(std::uint64_t conversation_id, std::vector<std::uint64_t> seqs,
                                const std::string& sender) {
  ReplyFrame r;
  for (auto s : seqs) r.Delivery(conversation_id, s, sender);
  std::lock_guard<std::mutex> lock(mutex_);
  outbox_.emplace_back(r.Finish(), false);
}

void FakeBroker::PushConversation(std::uint64_t id, const std::string& name) {
  ReplyFrame r;
  r.Add(0, wire::Body::ConversationInfo, r.Info(id, wire::ConversationKind::Group, name).Union());
  std::lock_guard<std::mutex> lock(mutex_);
  outbox_.emplace_back(r.Finish(), false);
}

void FakeBroker::PushStored(const std::vector<std::string>& messages) {
  ReplyFrame r;
  for (const auto& m : messages) r.StoredDelivery(m);
  std::lock_guard<std::mutex> lock(mutex_);
  outbox_.emplace_back(r.Finish(), false);
}

void FakeBroker::PushRevoked(const std::string& reason, std::vector<std::uint64_t> then_seqs) {
  ReplyFrame r;
  r.Add(0, wire::Body::Revoked, wire::CreateRevokedDirect(r.fbb, reason.c_str(), true).Union());
  for (auto s : then_seqs) r.Delivery(6, s, "bob");
  std::lock_guard<std::mutex> lock(mutex_);
  outbox_.emplace_back(r.Finish(), true);
}

void FakeBroker::SetExportData(std::string data) {
  std::lock_guard<std::mutex> lock(mutex_);
  export_data_ = std::move(data);
}

void FakeBroker::Disallow(const std::string& public_key) {
  std::lock_guard<std::mutex> lock(mutex_);
  allowed_.erase(public_key);
}

void FakeBroker::Restart() {
  restart_ = true;
  while (restart_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

std::vector<SeenEnvelope> FakeBroker::Seen() {
  std::lock_guard<std::mutex> lock(mutex_);
  return seen_;
}

bool FakeBroker::WaitFor(const std::function<bool(const std::vector<SeenEnvelope>&)>& pred,
                         int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(Seen())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred(Seen());
}

void FakeBroker::Run() {
  zmq::context_t ctx(1);
  zmq::socket_t zap(ctx, zmq::socket_type::rep);
  zap.bind(kZapAddress);
  auto make_router = [&] {
    auto r = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::router);
    r->set(zmq::sockopt::linger, 0);
    r->set(zmq::sockopt::curve_server, true);
    r->set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys_.secret_key.data(), 32));
    r->set(zmq::sockopt::zap_domain, "chatpro");
    return r;
  };
  auto router = make_router();
  router->bind("tcp://127.0.0.1:0");
  std::string last = router->get(zmq::sockopt::last_endpoint);
  port_ = std::stoi(last.substr(last.rfind(':') + 1));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(port_);
    ready_ = true;
  }
  cv_.notify_all();

  std::string peer;
  std::map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> acked;  // msg id -> conv, seq
  while (!stop_) {
    if (restart_) {
      router.reset();
      router = make_router();
      // Closing is asynchronous in ZeroMQ: the port frees up a moment later.
      for (int attempt = 0;; ++attempt) {
        try {
          router->bind("tcp://127.0.0.1:" + std::to_string(port_));
          break;
        } catch (const zmq::error_t& e) {
          if (e.num() != EADDRINUSE || attempt > 200) throw;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      ++connection_;
      peer.clear();
      restart_ = false;
    }
    zmq_pollitem_t items[] = {{router->handle(), 0, ZMQ_POLLIN, 0}, {zap.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(10));
    if (items[1].revents & ZMQ_POLLIN) {
      std::vector<zmq::message_t> parts;
      zmq::message_t part;
      do {
        (void)zap.recv(part);
        parts.emplace_back(part.data(), part.size());
      } while (part.more());
      std::string key = parts.size() > 6 ? parts[6].to_string() : std::string();
      bool ok;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ok = allowed_.count(key) > 0;
      }
      const char* reply[] = {"1.0", nullptr, ok ? "200" : "400", ok ? "OK" : "unknown key",
                             ok ? "device" : "", ""};
      for (int i = 0; i < 6; ++i) {
        zmq::message_t m = i == 1 ? zmq::message_t(parts[1].data(), parts[1].size())
                                  : zmq::message_t(reply[i], std::strlen(reply[i]));
        zap.send(m, i < 5 ? zmq::send_flags::sndmore : zmq::send_flags::none);
      }
    }
    std::vector<std::pair<std::string, bool>> pushes;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pushes.swap(outbox_);
    }
    for (auto& p : pushes) {
      if (peer.empty()) continue;
      router->send(zmq::buffer(peer), zmq::send_flags::sndmore);
      router->send(zmq::buffer(p.first), zmq::send_flags::none);
      // Like the broker: once told, the device may only confirm its wipe.
      if (p.second) revoked_ = true;
    }
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    zmq::message_t id, body;
    (void)router->recv(id);
    (void)router->recv(body);
    peer = id.to_string();
    std::size_t frame = frames_++;
    // ZeroMQ may hand over the bytes at any alignment; FlatBuffers needs 8.
    std::vector<std::uint64_t> aligned((body.size() + 7) / 8);
    std::memcpy(aligned.data(), body.data(), body.size());
    fb::Verifier v(reinterpret_cast<const std::uint8_t*>(aligned.data()), body.size());
    if (!wire::VerifyFrameBuffer(v)) continue;
    const wire::Frame* f = wire::GetFrame(aligned.data());
    ReplyFrame r;
    for (const auto* env : *f->envelopes()) {
      SeenEnvelope seen;
      seen.type = env->body_type();
      seen.request_id = env->request_id();
      seen.frame = frame;
      seen.connection = connection_;
      const std::uint64_t rid = env->request_id();
      seen.after_revoked = revoked_;
      if (revoked_) {
        // A revoked device gets nothing but the answer to ConfirmWipe.
        if (env->body_type() == wire::Body::ConfirmWipe) r.Done(rid);
      } else if (const auto* hello = env->body_as_Hello()) {
        seen.receive = hello->receive();
        r.Add(rid, wire::Body::HelloReply,
              wire::CreateHelloReplyDirect(r.fbb, 1, "fake/1", 7, "ana", "Ana", wire::Role::User, 3,
                                           65536, 16u << 20, 17u << 20)
                  .Union());
      } else if (const auto* send = env->body_as_Send()) {
        seen.client_msg_id = send->client_msg_id();
        seen.conversation_id = send->conversation_id();
        seen.content = send->content_type();
        if (const auto* t = send->content_as_Text()) seen.text = t->body()->str();
        if (const auto* e = send->content_as_Edit()) {
          seen.target_seq = e->target_seq();
          seen.text = e->text() ? e->text()->str() : "";
        }
        if (const auto* d = send->content_as_Deletion()) seen.target_seq = d->target_seq();
        seen.urgent = send->urgent();
        seen.reason = send->urgent_reason() ? send->urgent_reason()->str() : "";
        const std::string to_user = send->to_user() ? send->to_user()->str() : "";
        if (send->conversation_id() == kMissingConversation) {
          r.Error(rid, wire::ErrorCode::NotFound, "no conversation 404");
        } else if (seen.urgent && seen.reason == kRefusedUrgentReason) {
          r.Error(rid, wire::ErrorCode::PermissionDenied,
                  "the urgent policy does not name ana");
        } else if (ack_sends) {
          std::uint64_t conv = send->conversation_id() ? send->conversation_id() : 1;
          bool duplicate = acked.count(send->client_msg_id()) > 0;
          if (!duplicate) acked[send->client_msg_id()] = {conv, ++head_seq_[conv]};
          auto [c, s] = acked[send->client_msg_id()];
          std::vector<fb::Offset<wire::DutyState>> off;
          if (to_user == kOffDutyUser || send->conversation_id() == kOffDutyConversation) {
            off.push_back(wire::CreateDutyStateDirect(r.fbb, kOffDutyUser, false, kBackOnDutyUs));
          }
          auto off_duty = off.empty() ? 0 : r.fbb.CreateVector(off);
          r.Add(rid, wire::Body::SendAck,
                wire::CreateSendAck(r.fbb, send->client_msg_id(), c, s, NowUs(), duplicate,
                                    off_duty)
                    .Union());
        }
      } else if (const auto* ack = env->body_as_Ack()) {
        for (const auto* c : *ack->cursors()) seen.cursors.emplace_back(c->conversation_id(), c->seq());
      } else if (!answer_requests) {
        // silence
      } else if (env->body_type() == wire::Body::Ping) {
        r.Add(rid, wire::Body::Pong, wire::CreatePong(r.fbb, NowUs()).Union());
      } else if (const auto* open = env->body_as_OpenDirect()) {
        if (open->user()->str() == "nobody") {
          r.Error(rid, wire::ErrorCode::NotFound, "no user named nobody");
        } else {
          r.Add(rid, wire::Body::ConversationInfo,
                r.Info(5, wire::ConversationKind::Direct, open->user()->str()).Union());
        }
      } else if (env->body_type() == wire::Body::ListConversations) {
        std::vector<fb::Offset<wire::ConversationInfo>> list{
            r.Info(1, wire::ConversationKind::Group, "team"),
            r.Info(2, wire::ConversationKind::Direct, "bob"),
            r.Info(3, wire::ConversationKind::Group, "dup"),
            r.Info(4, wire::ConversationKind::Group, "dup")};
        r.Add(rid, wire::Body::ConversationList,
              wire::CreateConversationListDirect(r.fbb, &list).Union());
      } else if (const auto* h = env->body_as_History()) {
        std::vector<fb::Offset<wire::Delivery>> msgs;
        std::vector<std::string> stored;
        const std::uint64_t cid = h->conversation_id();
        if (cid == kStrippedConversation) {
          stored = {BuildStoredStripped(cid, 1, "bob", false, kStrippedAtUs),
                    BuildStoredStripped(cid, 2, "bob", true, kStrippedAtUs)};
        } else if (cid == kOffDutyConversation) {
          stored = {BuildStoredUrgent(cid, 1, "cy", "come now", "server room flooding"),
                    BuildStoredMessage(cid, 2, "cy", "thanks")};
        } else if (cid == kAmendedConversation) {
          stored = {BuildStoredMessage(cid, 5, "bob", "old text"),
                    BuildStoredEdit(cid, 6, "bob", 5, "better text"),
                    BuildStoredDeletion(cid, 7, "bob", 5)};
        } else {
          stored = {BuildStoredMessage(cid, 1, "bob", "old"), BuildStoredMessage(cid, 2, "bob", "old")};
        }
        for (const auto& m : stored) msgs.push_back(wire::CreateDelivery(r.fbb, r.Nested(m)));
        r.Add(rid, wire::Body::HistoryReply,
              wire::CreateHistoryReplyDirect(r.fbb, h->conversation_id(), &msgs, true).Union());
      } else if (const auto* g = env->body_as_CreateGroup()) {
        r.Add(rid, wire::Body::ConversationInfo,
              r.Info(10, wire::ConversationKind::Group, g->name()->str()).Union());
      } else if (env->body_type() == wire::Body::LeaveGroup) {
        r.Add(rid, wire::Body::Done, wire::CreateDone(r.fbb).Union());
      } else if (env->body_type() == wire::Body::Enroll) {
        r.Add(rid, wire::Body::EnrollReply,
              wire::CreateEnrollReplyDirect(r.fbb, 9, "newbie", "New Bie", wire::Role::User, 4)
                  .Union());
      } else if (const auto* add = env->body_as_AdminAddUser()) {
        r.Add(rid, wire::Body::InviteReply,
              wire::CreateInviteReplyDirect(r.fbb, add->login()->c_str(),
                                            "chatpro://127.0.0.1:1?key=00&code=X", 42)
                  .Union());
      } else if (const auto* off = env->body_as_AdminDeactivateUser()) {
        seen.login = off->login()->str();
        if (seen.login == "nobody") {
          r.Error(rid, wire::ErrorCode::NotFound, "no user named nobody");
        } else {
          r.Add(rid, wire::Body::OffboardingReply,
                wire::CreateOffboardingReplyDirect(r.fbb, seen.login.c_str(), 1'700'000'000'000'000,
                                                   2, 3, 1'700'000'000'250'000, 1)
                    .Union());
        }
      } else if (const auto* re = env->body_as_AdminReactivateUser()) {
        seen.login = re->login()->str();
        r.Add(rid, wire::Body::InviteReply,
              wire::CreateInviteReplyDirect(r.fbb, seen.login.c_str(),
                                            "chatpro://127.0.0.1:1?key=00&code=AGAIN", 43,
                                            "https://127.0.0.1:8444/#invite=AGAIN")
                  .Union());
      } else if (const auto* ld = env->body_as_ListDevices()) {
        seen.login = ld->login() ? ld->login()->str() : "";
        std::vector<fb::Offset<wire::DeviceInfo>> devices{
            wire::CreateDeviceInfoDirect(r.fbb, 3, "laptop", "chatpro-cli/0.1", 1'700'000'000'000'000,
                                         1'700'000'100'000'000, "127.0.0.1", true, 0, true),
            wire::CreateDeviceInfoDirect(r.fbb, 4, "old phone", "app/2", 1'690'000'000'000'000,
                                         1'695'000'000'000'000, "10.0.0.7", false,
                                         1'696'000'000'000'000, false)};
        r.Add(rid, wire::Body::DeviceList,
              wire::CreateDeviceListDirect(r.fbb, seen.login.empty() ? "ana" : seen.login.c_str(),
                                           &devices)
                  .Union());
      } else if (const auto* rd = env->body_as_RevokeDevice()) {
        seen.login = rd->login() ? rd->login()->str() : "";
        seen.device_id = rd->device_id();
        r.Done(rid);
      } else if (const auto* b = env->body_as_Block()) {
        seen.login = b->login()->str();
        r.Done(rid);
      } else if (const auto* u = env->body_as_Unblock()) {
        seen.login = u->login()->str();
        r.Done(rid);
      } else if (env->body_type() == wire::Body::ListBlocked) {
        std::vector<fb::Offset<wire::UserInfo>> users{
            wire::CreateUserInfoDirect(r.fbb, 11, "carl", "Carl", wire::Role::User, true, 0, 0)};
        r.Add(rid, wire::Body::UserList, wire::CreateUserListDirect(r.fbb, &users).Union());
      } else if (const auto* rep = env->body_as_Report()) {
        seen.conversation_id = rep->conversation_id();
        seen.seq = rep->seq();
        seen.reason = rep->reason() ? rep->reason()->str() : "";
        r.Done(rid);
      } else if (env->body_type() == wire::Body::AdminListReports) {
        auto evidence = r.Nested(BuildStoredMessage(2, 9, "bob", "rude words"));
        std::vector<fb::Offset<wire::ReportInfo>> reports{
            wire::CreateReportInfo(r.fbb, 1, 1'700'000'000'500'000, r.fbb.CreateString("ana"),
                                   r.fbb.CreateString("insulting"), 2, 9, evidence),
            wire::CreateReportInfo(r.fbb, 2, 1'700'000'000'600'000, r.fbb.CreateString("carl"),
                                   r.fbb.CreateString("spam"), 1, 4)};
        r.Add(rid, wire::Body::ReportList, wire::CreateReportListDirect(r.fbb, &reports).Union());
      } else if (const auto* la = env->body_as_AdminListAudit()) {
        seen.seq = la->from_seq();
        seen.limit = la->limit();
        std::vector<std::uint8_t> hash(32, 0xAB);
        std::vector<fb::Offset<wire::AuditEntry>> entries;
        std::uint64_t first = la->from_seq() ? la->from_seq() : 1;
        for (std::uint64_t q = first; q < first + 2; ++q) {
          entries.push_back(wire::CreateAuditEntryDirect(
              r.fbb, q, 1'700'000'000'000'000 + static_cast<std::int64_t>(q), "root",
              "user.deactivate", "user:ana", "{\"devices\":2}", &hash));
        }
        r.Add(rid, wire::Body::AuditList, wire::CreateAuditListDirect(r.fbb, &entries).Union());
      } else if (env->body_type() == wire::Body::AdminVerifyAudit) {
        auto reply = audit_whole ? wire::CreateAuditVerifyReplyDirect(r.fbb, true, 12, 0, "")
                                 : wire::CreateAuditVerifyReplyDirect(r.fbb, false, 12, 7,
                                                                      "its hash does not match");
        r.Add(rid, wire::Body::AuditVerifyReply, reply.Union());
      } else if (const auto* sh = env->body_as_AdminSetHold()) {
        seen.hold_target = sh->target();
        seen.login = sh->login() ? sh->login()->str() : "";
        seen.conversation_id = sh->conversation_id();
        seen.case_ref = sh->case_ref() ? sh->case_ref()->str() : "";
        seen.reason = sh->reason() ? sh->reason()->str() : "";
        if (seen.login == "nobody") {
          r.Error(rid, wire::ErrorCode::NotFound, "no user named nobody");
        } else {
          r.Add(rid, wire::Body::HoldInfo,
                wire::CreateHoldInfoDirect(r.fbb, 21, sh->target(), seen.login.c_str(),
                                           seen.conversation_id, seen.case_ref.c_str(),
                                           seen.reason.c_str(), "ana", 1'700'000'000'000'000)
                    .Union());
        }
      } else if (const auto* lh = env->body_as_AdminLiftHold()) {
        seen.id = lh->hold_id();
        seen.reason = lh->reason() ? lh->reason()->str() : "";
        if (seen.id == 404) {
          r.Error(rid, wire::ErrorCode::NotFound, "no hold 404");
        } else {
          r.Done(rid);
        }
      } else if (const auto* lhs = env->body_as_AdminListHolds()) {
        seen.flag = lhs->include_lifted();
        std::vector<fb::Offset<wire::HoldInfo>> holds{wire::CreateHoldInfoDirect(
            r.fbb, 21, wire::HoldTarget::User, "ben", 0, "LIT-2026-7", "pending lawsuit", "ana",
            1'700'000'000'000'000)};
        if (seen.flag) {
          holds.push_back(wire::CreateHoldInfoDirect(
              r.fbb, 20, wire::HoldTarget::Conversation, nullptr, 3, "HR-12", "complaint",
              "root", 1'690'000'000'000'000, "ana", 1'695'000'000'000'000));
        }
        r.Add(rid, wire::Body::HoldList, wire::CreateHoldListDirect(r.fbb, &holds).Union());
      } else if (const auto* rr = env->body_as_AdminRetentionRun()) {
        seen.flag = rr->dry_run();
        std::vector<fb::Offset<wire::PolicyCount>> policies{
            wire::CreatePolicyCountDirect(r.fbb, "chats-2y", 40, 0),
            wire::CreatePolicyCountDirect(r.fbb, "media-90d", 0, 12)};
        r.Add(rid, wire::Body::RetentionReport,
              wire::CreateRetentionReportDirect(r.fbb, seen.flag, 1'700'000'000'000'000,
                                                1'700'000'001'500'000, 1000, 40, 12, 5'242'880,
                                                3, 7, &policies)
                  .Union());
      } else if (env->body_type() == wire::Body::AdminListPlugins) {
        std::vector<fb::Offset<wire::PluginInfo>> plugins{
            wire::CreatePluginInfoDirect(r.fbb, "chats-2y", "max-age",
                                         "/usr/lib/chatpro/plugins/libmax_age.so", false, true, 0),
            wire::CreatePluginInfoDirect(r.fbb, "no-exe", "attachment-filter",
                                         "/usr/lib/chatpro/plugins/libfilter.so", true, false, 2)};
        r.Add(rid, wire::Body::PluginList, wire::CreatePluginListDirect(r.fbb, &plugins).Union());
      } else if (const auto* co = env->body_as_CaseOpen()) {
        seen.case_kind = co->kind();
        seen.legal_basis = co->legal_basis() ? co->legal_basis()->str() : "";
        if (co->subjects() != nullptr) {
          for (const auto* sub : *co->subjects()) seen.subjects.push_back(sub->str());
        }
        if (co->conversations() != nullptr) {
          seen.conversations.assign(co->conversations()->begin(), co->conversations()->end());
        }
        seen.from_us = co->from_us();
        seen.to_us = co->to_us();
        seen.keyword = co->keyword() ? co->keyword()->str() : "";
        seen.flag = co->redact_others();
        std::vector<fb::Offset<fb::String>> subjects;
        for (const auto& sub : seen.subjects) subjects.push_back(r.fbb.CreateString(sub));
        r.Add(rid, wire::Body::CaseInfo,
              wire::CreateCaseInfoDirect(r.fbb, kUnapprovedCase, co->kind(), "awaiting approval",
                                         seen.legal_basis.c_str(), &subjects,
                                         &seen.conversations, seen.from_us, seen.to_us,
                                         seen.keyword.c_str(), seen.flag, "ana",
                                         1'700'000'000'000'000)
                  .Union());
      } else if (const auto* ca = env->body_as_CaseApprove()) {
        seen.id = ca->case_id();
        if (seen.id == 404) {
          r.Error(rid, wire::ErrorCode::NotFound, "no case 404");
        } else if (seen.id == kUnapprovedCase) {
          r.Error(rid, wire::ErrorCode::PermissionDenied,
                  "case 31 was opened by you; someone else must approve it");
        } else {
          std::vector<fb::Offset<fb::String>> subjects{r.fbb.CreateString("ben")};
          r.Add(rid, wire::Body::CaseInfo,
                wire::CreateCaseInfoDirect(r.fbb, seen.id, wire::CaseKind::SubjectAccess,
                                           "approved", "GDPR art. 15", &subjects, nullptr, 0, 0,
                                           nullptr, false, "root", 1'700'000'000'000'000, "ana",
                                           1'700'000'100'000'000, 1'700'604'900'000'000,
                                           1'702'592'100'000'000)
                    .Union());
        }
      } else if (env->body_type() == wire::Body::CaseList ||
                 env->body_type() == wire::Body::MyDataAccess) {
        std::vector<fb::Offset<fb::String>> subjects{r.fbb.CreateString("ben")};
        std::vector<fb::Offset<wire::CaseInfo>> cases{wire::CreateCaseInfoDirect(
            r.fbb, 32, wire::CaseKind::SubjectAccess, "exported", "GDPR art. 15", &subjects,
            nullptr, 0, 0, nullptr, false, "root", 1'700'000'000'000'000, "ana",
            1'700'000'100'000'000, 1'700'604'900'000'000, 1'702'592'100'000'000)};
        if (env->body_type() == wire::Body::CaseList) {
          std::vector<fb::Offset<fb::String>> two{r.fbb.CreateString("ben"),
                                                  r.fbb.CreateString("carl")};
          std::vector<std::uint64_t> convs{3, 4};
          cases.push_back(wire::CreateCaseInfoDirect(
              r.fbb, kUnapprovedCase, wire::CaseKind::Search, "awaiting approval",
              "internal investigation", &two, &convs, 1'698'796'800'000'000,
              1'701'388'799'999'999, "invoice", true, "ana", 1'700'000'000'000'000));
        }
        r.Add(rid, wire::Body::CaseInfoList, wire::CreateCaseInfoListDirect(r.fbb, &cases).Union());
      } else if (const auto* es = env->body_as_ExportStart()) {
        seen.id = es->case_id();
        if (seen.id == 404) {
          r.Error(rid, wire::ErrorCode::NotFound, "no case 404");
        } else if (seen.id == kUnapprovedCase) {
          r.Error(rid, wire::ErrorCode::FailedPrecondition, "case 31 is not approved");
        } else {
          r.Add(rid, wire::Body::ExportInfo,
                wire::CreateExportInfoDirect(r.fbb, kRunningExport, seen.id, "running", 10, 1, 4096)
                    .Union());
        }
      } else if (const auto* st = env->body_as_ExportStatus()) {
        seen.id = st->export_id();
        std::size_t size;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          size = export_data_.size();
        }
        if (seen.id == kDoneExport) {
          r.Add(rid, wire::Body::ExportInfo,
                wire::CreateExportInfoDirect(r.fbb, kDoneExport, 32, "done", 120, 4, size).Union());
        } else if (seen.id == kRunningExport) {
          const bool running = running_polls > 0;
          if (running && running_polls != INT_MAX) --running_polls;
          r.Add(rid, wire::Body::ExportInfo,
                wire::CreateExportInfoDirect(r.fbb, kRunningExport, 32,
                                             running ? "running" : "done", running ? 10 : 120,
                                             running ? 1 : 4, running ? 4096 : size)
                    .Union());
        } else if (seen.id == 79) {
          r.Add(rid, wire::Body::ExportInfo,
                wire::CreateExportInfoDirect(r.fbb, 79, 32, "failed", 0, 0, 0, "disk full")
                    .Union());
        } else {
          r.Error(rid, wire::ErrorCode::NotFound, "no export " + std::to_string(seen.id));
        }
      } else if (const auto* dl = env->body_as_ExportDownload()) {
        seen.id = dl->export_id();
        seen.offset = dl->offset();
        seen.limit = dl->max_bytes();
        std::string data;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          data = export_data_;
        }
        const ExportFault fault = export_fault;
        const bool later = seen.offset > 0;
        if (seen.id == kRunningExport) {
          r.Error(rid, wire::ErrorCode::FailedPrecondition, "export 78 is still running");
        } else if (seen.id != kDoneExport) {
          r.Error(rid, wire::ErrorCode::NotFound, "no export " + std::to_string(seen.id));
        } else if (fault == ExportFault::kError && later) {
          r.Error(rid, wire::ErrorCode::IoError, "cannot read the export file");
        } else {
          std::uint64_t at = std::min<std::uint64_t>(seen.offset, data.size());
          std::uint64_t n = std::min<std::uint64_t>(
              {data.size() - at, seen.limit, export_chunk_limit.load()});
          std::uint64_t total = data.size();
          bool done = at + n == data.size();
          std::uint64_t claimed_offset = at;
          std::uint64_t claimed_id = seen.id;
          if (fault == ExportFault::kWrongOffset && later) claimed_offset = at + 1;
          if (fault == ExportFault::kSizeChanges && later) total += 1;
          if (fault == ExportFault::kOtherExport) claimed_id = seen.id + 1;
          if (fault == ExportFault::kEndsEarly) done = true;
          auto bytes = r.fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(data.data()) + at,
                                          static_cast<std::size_t>(n));
          r.Add(rid, wire::Body::ExportChunk,
                wire::CreateExportChunk(r.fbb, claimed_id, claimed_offset, bytes, total, done)
                    .Union());
        }
      } else if (const auto* sg = env->body_as_ScheduleGet()) {
        seen.login = sg->login() ? sg->login()->str() : "";
        if (seen.login == "nobody") {
          r.Error(rid, wire::ErrorCode::NotFound, "no user named nobody");
        } else {
          const bool ben = seen.login == kOffDutyUser;
          const std::string who = seen.login.empty() ? "ana" : seen.login;
          auto schedule = BuildSchedule(r.fbb, kSchedule());
          auto state = wire::CreateDutyStateDirect(r.fbb, who.c_str(), !ben,
                                                   ben ? kBackOnDutyUs : kOnDutyUntilUs);
          auto login = r.fbb.CreateString(who);
          r.Add(rid, wire::Body::ScheduleInfo,
                wire::CreateScheduleInfo(r.fbb, login, schedule, state).Union());
        }
      } else if (const auto* ss = env->body_as_ScheduleSet()) {
        seen.login = ss->login() ? ss->login()->str() : "";
        seen.schedule = ScheduleText(ss->schedule());
        const wire::Schedule* sent = ss->schedule();
        if (seen.login == "nobody") {
          r.Error(rid, wire::ErrorCode::NotFound, "no user named nobody");
        } else if (sent != nullptr && sent->time_zone() != nullptr) {
          r.Error(rid, wire::ErrorCode::PermissionDenied,
                  "your profile (office) does not let you change the time zone");
        } else {
          Schedule now = kSchedule();
          if (sent != nullptr && sent->week() != nullptr) {
            now.week.clear();
            for (const auto* d : *sent->week()) now.week.push_back({d->weekday(), PeriodsFrom(d->periods())});
          }
          if (sent != nullptr && sent->days_off() != nullptr) {
            now.days_off.clear();
            for (const auto* d : *sent->days_off()) now.days_off.push_back(d->str());
          }
          if (sent != nullptr && sent->shifts() != nullptr) {
            now.shifts.clear();
            for (const auto* c : *sent->shifts()) {
              now.shifts.push_back({c->date()->str(), PeriodsFrom(c->periods())});
            }
          }
          const std::string who = seen.login.empty() ? "ana" : seen.login;
          auto schedule = BuildSchedule(r.fbb, now);
          auto state = wire::CreateDutyStateDirect(r.fbb, who.c_str(), true, kOnDutyUntilUs);
          auto login = r.fbb.CreateString(who);
          r.Add(rid, wire::Body::ScheduleInfo,
                wire::CreateScheduleInfo(r.fbb, login, schedule, state).Union());
        }
      } else if (const auto* pq = env->body_as_PresenceQuery()) {
        seen.conversation_id = pq->conversation_id();
        if (seen.conversation_id == kMissingConversation) {
          r.Error(rid, wire::ErrorCode::NotFound, "no conversation 404");
        } else {
          std::vector<fb::Offset<wire::Presence>> entries{
              wire::CreatePresenceDirect(r.fbb, "bob", wire::PresenceState::Online, 0),
              wire::CreatePresenceDirect(r.fbb, "ben", wire::PresenceState::OffDuty, kBackOnDutyUs),
              wire::CreatePresenceDirect(r.fbb, "cy", wire::PresenceState::Offline, 0)};
          r.Add(rid, wire::Body::PresenceList,
                wire::CreatePresenceListDirect(r.fbb, &entries).Union());
        }
      } else if (const auto* dr = env->body_as_AdminDisconnectReport()) {
        seen.from_us = dr->from_us();
        seen.to_us = dr->to_us();
        std::vector<fb::Offset<wire::DisconnectCount>> senders{
            wire::CreateDisconnectCountDirect(r.fbb, "ana", 0, 3, 5, 1),
            wire::CreateDisconnectCountDirect(r.fbb, "bob", 0, 1, 1, 0)};
        std::vector<fb::Offset<wire::DisconnectCount>> groups{
            wire::CreateDisconnectCountDirect(r.fbb, "team", 1, 4, 6, 1)};
        r.Add(rid, wire::Body::DisconnectReport,
              wire::CreateDisconnectReportDirect(r.fbb, seen.from_us, seen.to_us, &senders,
                                                 &groups, 4, 6, 1)
                  .Union());
      } else if (env->body_type() == wire::Body::ConfirmWipe) {
        r.Error(rid, wire::ErrorCode::FailedPrecondition, "this device is not revoked");
      } else {
        r.Error(rid, wire::ErrorCode::InvalidArgument, "the fake broker does not do that");
      }
      std::lock_guard<std::mutex> lock(mutex_);
      seen_.push_back(std::move(seen));
    }
    if (r.envs.empty()) continue;
    std::string out = r.Finish();
    router->send(zmq::buffer(peer), zmq::send_flags::sndmore);
    router->send(zmq::buffer(out), zmq::send_flags::none);
  }
}

}  // namespace chatpro::client::testing
