// SPDX-License-Identifier: Apache-2.0
//
// fuzz_client_frame: the input is one frame as a broker would send it to a
// client. libchatpro's wire codec (client/wire_codec.h) parses it and decodes
// every envelope the way the client's I/O thread does: deliveries (also the
// reusing DeliveryReader), errors, and each reply and list into the client's
// own types. A hostile or broken broker must not crash a client: a frame is
// either refused with InvalidArgument or decoded.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "client/wire_codec.h"

namespace wire = chatpro::wire;
using namespace chatpro::client::internal;  // NOLINT: the codec's many free functions

namespace {

template <typename T, typename F>
void Each(const flatbuffers::Vector<flatbuffers::Offset<T>>* items, F&& decode) {
  if (items == nullptr) return;
  for (const T* item : *items) decode(*item);
}

void Require(bool ok, const char* why) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", why);
    std::abort();
  }
}

// Refusals must say why, with the code the contract names.
void RequireInvalidArgument(const chatpro::Status& status) {
  if (status.ok()) return;
  Require(status.code() == chatpro::StatusCode::kInvalidArgument,
          "a refusal that is not InvalidArgument");
  Require(!status.message().empty(), "a refusal without a message");
}

void Decode(const wire::Envelope& e, DeliveryReader& reader) {
  // A body type without a body passes the verifier; the client answers it as
  // an unexpected reply (client_impl.cc checks every body_as_*() for null).
  if (e.body() == nullptr) return;
  switch (e.body_type()) {
    case wire::Body::Delivery: {
      const wire::Delivery& d = *e.body_as_Delivery();
      RequireInvalidArgument(MessageFromDelivery(d).status());
      RequireInvalidArgument(reader.Read(d));
      break;
    }
    case wire::Body::Error: {
      chatpro::Status s = StatusFromError(*e.body_as_Error());
      (void)s;
      break;
    }
    case wire::Body::HistoryReply:
      RequireInvalidArgument(HistoryFromWire(*e.body_as_HistoryReply()).status());
      break;
    case wire::Body::ReportList:
      Each(e.body_as_ReportList()->reports(),
           [](const wire::ReportInfo& r) { RequireInvalidArgument(ReportFromWire(r).status()); });
      break;
    case wire::Body::HelloReply:
      SessionFromWire(*e.body_as_HelloReply());
      break;
    case wire::Body::SendAck:
      OffDutyFromWire(*e.body_as_SendAck());
      break;
    case wire::Body::ConversationInfo:
      ConversationFromWire(*e.body_as_ConversationInfo());
      break;
    case wire::Body::ConversationList:
      Each(e.body_as_ConversationList()->conversations(),
           [](const wire::ConversationInfo& c) { ConversationFromWire(c); });
      break;
    case wire::Body::InviteReply:
      InviteFromWire(*e.body_as_InviteReply());
      break;
    case wire::Body::UserList:
      Each(e.body_as_UserList()->users(), [](const wire::UserInfo& u) { UserInfoFromWire(u); });
      break;
    case wire::Body::OffboardingReply:
      OffboardingFromWire(*e.body_as_OffboardingReply());
      break;
    case wire::Body::DeviceList:
      Each(e.body_as_DeviceList()->devices(), [](const wire::DeviceInfo& d) { DeviceFromWire(d); });
      break;
    case wire::Body::AuditList:
      Each(e.body_as_AuditList()->entries(),
           [](const wire::AuditEntry& a) { AuditEntryFromWire(a); });
      break;
    case wire::Body::AuditVerifyReply:
      AuditVerificationFromWire(*e.body_as_AuditVerifyReply());
      break;
    case wire::Body::HoldInfo:
      HoldFromWire(*e.body_as_HoldInfo());
      break;
    case wire::Body::HoldList:
      Each(e.body_as_HoldList()->holds(), [](const wire::HoldInfo& h) { HoldFromWire(h); });
      break;
    case wire::Body::RetentionReport:
      RetentionReportFromWire(*e.body_as_RetentionReport());
      break;
    case wire::Body::PluginList:
      Each(e.body_as_PluginList()->plugins(), [](const wire::PluginInfo& p) { PluginFromWire(p); });
      break;
    case wire::Body::CaseInfo:
      CaseFromWire(*e.body_as_CaseInfo());
      break;
    case wire::Body::CaseInfoList:
      Each(e.body_as_CaseInfoList()->cases(), [](const wire::CaseInfo& c) { CaseFromWire(c); });
      break;
    case wire::Body::ExportInfo:
      ExportFromWire(*e.body_as_ExportInfo());
      break;
    case wire::Body::ExportChunk:
      ExportChunkFromWire(*e.body_as_ExportChunk());
      break;
    case wire::Body::ScheduleInfo:
      ScheduleInfoFromWire(*e.body_as_ScheduleInfo());
      break;
    case wire::Body::Presence:
      PresenceFromWire(*e.body_as_Presence());
      break;
    case wire::Body::PresenceList:
      Each(e.body_as_PresenceList()->entries(),
           [](const wire::Presence& p) { PresenceFromWire(p); });
      break;
    case wire::Body::DisconnectReport:
      DisconnectReportFromWire(*e.body_as_DisconnectReport());
      break;
    case wire::Body::BackupInfo:
      BackupFromWire(*e.body_as_BackupInfo());
      break;
    case wire::Body::BackupList:
      Each(e.body_as_BackupList()->backups(), [](const wire::BackupInfo& b) { BackupFromWire(b); });
      break;
    default:
      break;
  }
  // Messages about unexpected replies name the body (empty for a number
  // this client does not know).
  (void)BodyName(e.body_type());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chatpro::Result<ReceivedFrame> frame = ReceivedFrame::Parse(data, size);
  RequireInvalidArgument(frame.status());
  if (!frame.ok()) return 0;
  const auto* envelopes = frame->frame().envelopes();
  if (envelopes == nullptr) return 0;
  DeliveryReader reader;
  for (const wire::Envelope* e : *envelopes) Decode(*e, reader);
  return 0;
}
