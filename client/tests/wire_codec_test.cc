// SPDX-License-Identifier: Apache-2.0
#include "client/wire_codec.h"

#include <gtest/gtest.h>

#include <cstring>

#include "client/tests/fake_broker.h"

namespace chatpro::client::internal {
namespace {

std::string Bytes(const flatbuffers::DetachedBuffer& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

TEST(WireCodec, ErrorCodesMapOneToOne) {
  for (std::uint16_t v = 0; v <= 10; ++v) {
    auto code = static_cast<StatusCode>(v);
    EXPECT_EQ(StatusCodeFromWire(StatusCodeToWire(code)), code);
    EXPECT_EQ(static_cast<std::uint16_t>(StatusCodeToWire(code)), v);
  }
  EXPECT_EQ(StatusCodeFromWire(static_cast<wire::ErrorCode>(999)), StatusCode::kInternal);
}

TEST(WireCodec, AnErrorWithoutACodeIsNeverOk) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::CreateErrorDirect(fbb, wire::ErrorCode::Ok, "odd"));
  const auto* e = flatbuffers::GetRoot<wire::Error>(fbb.GetBufferPointer());
  EXPECT_EQ(StatusFromError(*e).code(), StatusCode::kInternal);
}

TEST(WireCodec, FrameWriterBuildsAFrameThatVerifiesAndReadsBack) {
  FrameWriter w;
  w.AddHello(1, "test/1", false);
  w.AddSend(2, 1000, Target::User("bob"), Text{"hi"});
  w.AddSend(3, 1001, Target::Conversation(9), Voice{"opus", 4200, std::string(100, 'a')});
  w.AddSend(4, 1002, Target::Conversation(9),
            Picture{"image/png", 2, 3, std::string(50, 'p'), std::string(5, 't')});
  w.AddAck({{9, 17}, {4, 2}});
  w.AddCreateGroup(5, "team", {"ana", "bob"});
  EXPECT_EQ(w.envelope_count(), 6u);
  std::string bytes = Bytes(w.Finish());

  Result<ReceivedFrame> f = ReceivedFrame::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.status();
  const auto& envs = *f->frame().envelopes();
  ASSERT_EQ(envs.size(), 6u);
  EXPECT_FALSE(envs[0]->body_as_Hello()->receive());
  const auto* s = envs[1]->body_as_Send();
  EXPECT_EQ(envs[1]->request_id(), 2u);
  EXPECT_EQ(s->client_msg_id(), 1000u);
  EXPECT_EQ(s->to_user()->str(), "bob");
  EXPECT_EQ(s->conversation_id(), 0u);
  EXPECT_EQ(s->content_as_Text()->body()->str(), "hi");
  const auto* v = envs[2]->body_as_Send()->content_as_Voice();
  EXPECT_EQ(envs[2]->body_as_Send()->to_user(), nullptr);
  EXPECT_EQ(v->duration_ms(), 4200u);
  EXPECT_EQ(v->audio()->size(), 100u);
  const auto* p = envs[3]->body_as_Send()->content_as_Picture();
  EXPECT_EQ(p->width(), 2u);
  EXPECT_EQ(p->thumbnail()->size(), 5u);
  const auto* a = envs[4]->body_as_Ack();
  ASSERT_EQ(a->cursors()->size(), 2u);
  EXPECT_EQ(a->cursors()->Get(0)->seq(), 17u);
  EXPECT_EQ(envs[5]->body_as_CreateGroup()->members()->size(), 2u);
}

TEST(WireCodec, WorkingHoursRequestsLeaveOutWhatIsNotGiven) {
  FrameWriter w;
  w.AddSend(1, 1000, Target::User("ben"), Text{"now"}, SendOptions{true, "outage"});
  w.AddSend(2, 1001, Target::User("ben"), Text{"later"});
  w.AddScheduleGet(3, "ben");
  Schedule change;
  change.week = {{0, {{540, 1020}}}, {6, {}}};
  change.holidays = {"2026-12-25"};  // never sent
  w.AddScheduleSet(4, "", change);
  Schedule zone;
  zone.time_zone = "Europe/Rome";
  zone.shifts = {{"2026-12-01", {}}};
  w.AddScheduleSet(5, "ben", zone);
  w.AddPresenceQuery(6, 3);
  w.AddAdminDisconnectReport(7, 100, 200);
  std::string bytes = Bytes(w.Finish());
  Result<ReceivedFrame> f = ReceivedFrame::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.status();
  const auto& envs = *f->frame().envelopes();
  ASSERT_EQ(envs.size(), 7u);
  EXPECT_TRUE(envs[0]->body_as_Send()->urgent());
  EXPECT_EQ(envs[0]->body_as_Send()->urgent_reason()->str(), "outage");
  EXPECT_FALSE(envs[1]->body_as_Send()->urgent());
  EXPECT_EQ(envs[1]->body_as_Send()->urgent_reason(), nullptr);
  EXPECT_EQ(envs[2]->body_as_ScheduleGet()->login()->str(), "ben");
  const wire::Schedule* s = envs[3]->body_as_ScheduleSet()->schedule();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->time_zone(), nullptr);
  ASSERT_NE(s->week(), nullptr);
  ASSERT_EQ(s->week()->size(), 2u);
  EXPECT_EQ(s->week()->Get(0)->periods()->Get(0)->end_minute(), 1020);
  EXPECT_EQ(s->week()->Get(1)->weekday(), 6);
  EXPECT_EQ(s->week()->Get(1)->periods()->size(), 0u);
  EXPECT_EQ(s->days_off(), nullptr);
  EXPECT_EQ(s->holidays(), nullptr);
  EXPECT_EQ(s->shifts(), nullptr);
  s = envs[4]->body_as_ScheduleSet()->schedule();
  EXPECT_EQ(envs[4]->body_as_ScheduleSet()->login()->str(), "ben");
  EXPECT_EQ(s->time_zone()->str(), "Europe/Rome");
  EXPECT_EQ(s->week(), nullptr);
  ASSERT_EQ(s->shifts()->size(), 1u);
  EXPECT_EQ(s->shifts()->Get(0)->date()->str(), "2026-12-01");
  EXPECT_EQ(envs[5]->body_as_PresenceQuery()->conversation_id(), 3u);
  EXPECT_EQ(envs[6]->body_as_AdminDisconnectReport()->from_us(), 100);
  EXPECT_EQ(envs[6]->body_as_AdminDisconnectReport()->to_us(), 200);
}

TEST(WireCodec, AnUrgentMessageKeepsItsReason) {
  std::string stored = testing::BuildStoredUrgent(3, 4, "cy", "come", "flooding");
  flatbuffers::Verifier v(reinterpret_cast<const std::uint8_t*>(stored.data()), stored.size());
  ASSERT_TRUE(v.VerifyBuffer<wire::Message>(nullptr));
  Message m = MessageFromWire(*flatbuffers::GetRoot<wire::Message>(stored.data()));
  EXPECT_TRUE(m.urgent);
  EXPECT_EQ(m.urgent_reason, "flooding");
  std::string plain = testing::BuildStoredMessage(3, 5, "cy", "ok");
  Message p = MessageFromWire(*flatbuffers::GetRoot<wire::Message>(plain.data()));
  EXPECT_FALSE(p.urgent);
  EXPECT_EQ(p.urgent_reason, "");
}

TEST(WireCodec, NewRequestsAreEncodedWithTheirFields) {
  FrameWriter w;
  w.AddAdminDeactivateUser(1, "ben");
  w.AddAdminReactivateUser(2, "ben");
  w.AddListDevices(3, "");
  w.AddRevokeDevice(4, "ben", 12);
  w.AddConfirmWipe(5);
  w.AddBlock(6, "carl");
  w.AddUnblock(7, "carl");
  w.AddListBlocked(8);
  w.AddReport(9, 3, 17, "spam");
  w.AddAdminListReports(10);
  w.AddAdminListAudit(11, 40, 25);
  w.AddAdminVerifyAudit(12);
  w.AddSend(13, 1003, Target::Conversation(3), Edit{17, "fixed"});
  w.AddSend(14, 1004, Target::Conversation(3), Deletion{17});
  std::string bytes = Bytes(w.Finish());
  Result<ReceivedFrame> f = ReceivedFrame::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.status();
  const auto& e = *f->frame().envelopes();
  ASSERT_EQ(e.size(), 14u);
  for (std::uint32_t i = 0; i < e.size(); ++i) EXPECT_EQ(e[i]->request_id(), i + 1);
  EXPECT_EQ(e[0]->body_as_AdminDeactivateUser()->login()->str(), "ben");
  EXPECT_EQ(e[1]->body_as_AdminReactivateUser()->login()->str(), "ben");
  EXPECT_EQ(e[2]->body_as_ListDevices()->login()->str(), "");
  EXPECT_EQ(e[3]->body_as_RevokeDevice()->login()->str(), "ben");
  EXPECT_EQ(e[3]->body_as_RevokeDevice()->device_id(), 12u);
  EXPECT_EQ(e[4]->body_type(), wire::Body::ConfirmWipe);
  EXPECT_EQ(e[5]->body_as_Block()->login()->str(), "carl");
  EXPECT_EQ(e[6]->body_as_Unblock()->login()->str(), "carl");
  EXPECT_EQ(e[7]->body_type(), wire::Body::ListBlocked);
  const auto* report = e[8]->body_as_Report();
  EXPECT_EQ(report->conversation_id(), 3u);
  EXPECT_EQ(report->seq(), 17u);
  EXPECT_EQ(report->reason()->str(), "spam");
  EXPECT_EQ(e[9]->body_type(), wire::Body::AdminListReports);
  EXPECT_EQ(e[10]->body_as_AdminListAudit()->from_seq(), 40u);
  EXPECT_EQ(e[10]->body_as_AdminListAudit()->limit(), 25u);
  EXPECT_EQ(e[11]->body_type(), wire::Body::AdminVerifyAudit);
  const auto* edit = e[12]->body_as_Send()->content_as_Edit();
  ASSERT_NE(edit, nullptr);
  EXPECT_EQ(edit->target_seq(), 17u);
  EXPECT_EQ(edit->text()->str(), "fixed");
  ASSERT_NE(e[13]->body_as_Send()->content_as_Deletion(), nullptr);
  EXPECT_EQ(e[13]->body_as_Send()->content_as_Deletion()->target_seq(), 17u);
}

TEST(WireCodec, ReportsCarryTheirEvidenceAlignedOrNot) {
  for (int pad = 0; pad < 2; ++pad) {
    flatbuffers::FlatBufferBuilder fbb;
    std::string stored = testing::BuildStoredEdit(3, 18, "bob", 17, "meaner");
    if (pad) fbb.CreateString("x");
    auto vec = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(stored.data()), stored.size());
    fbb.Finish(wire::CreateReportInfo(fbb, 5, 100, fbb.CreateString("ana"),
                                      fbb.CreateString("mean"), 3, 18, vec));
    const auto* info = flatbuffers::GetRoot<wire::ReportInfo>(fbb.GetBufferPointer());
    Result<ReportInfo> r = ReportFromWire(*info);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->id, 5u);
    EXPECT_EQ(r->reporter, "ana");
    EXPECT_EQ(r->reason, "mean");
    ASSERT_TRUE(r->message.has_value());
    EXPECT_EQ(r->message->seq, 18u);
    const auto* edit = std::get_if<Edit>(&r->message->content);
    ASSERT_NE(edit, nullptr);
    EXPECT_EQ(edit->text, "meaner");
  }
  // A copy that is there but cut short is an error, not an empty report.
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<std::uint8_t> four(4, 0);
  fbb.Finish(wire::CreateReportInfoDirect(fbb, 6, 0, "ana", "x", 3, 1, &four));
  EXPECT_EQ(ReportFromWire(*flatbuffers::GetRoot<wire::ReportInfo>(fbb.GetBufferPointer()))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(WireCodec, ParseRejectsGarbageTruncationAndOtherVersions) {
  std::string garbage(64, 'x');
  EXPECT_EQ(ReceivedFrame::Parse(garbage.data(), garbage.size()).status().code(),
            StatusCode::kInvalidArgument);
  FrameWriter w;
  w.AddPing(1);
  std::string bytes = Bytes(w.Finish());
  EXPECT_FALSE(ReceivedFrame::Parse(bytes.data(), bytes.size() / 2).ok());
  EXPECT_FALSE(ReceivedFrame::Parse(bytes.data(), 3).ok());

  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::Envelope>> none;
  wire::FinishFrameBuffer(fbb, wire::CreateFrameDirect(fbb, 2, &none));
  Result<ReceivedFrame> v2 = ReceivedFrame::Parse(fbb.GetBufferPointer(), fbb.GetSize());
  ASSERT_FALSE(v2.ok());
  EXPECT_NE(v2.status().message().find("version 2"), std::string::npos);
}

TEST(WireCodec, ParseAcceptsUnalignedBytes) {
  FrameWriter w;
  w.AddSend(2, 1000, Target::Conversation(5), Text{"aligned or not"});
  std::string bytes = Bytes(w.Finish());
  std::vector<std::uint64_t> storage(bytes.size() / 8 + 2);
  char* odd = reinterpret_cast<char*>(storage.data()) + 3;
  std::memcpy(odd, bytes.data(), bytes.size());
  Result<ReceivedFrame> f = ReceivedFrame::Parse(odd, bytes.size());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->frame().envelopes()->Get(0)->body_as_Send()->client_msg_id(), 1000u);
}

TEST(WireCodec, MessageFromDeliveryReadsTheNestedMessage) {
  // The nested buffer sits in a byte vector, so it is often only 4-aligned;
  // try both placements.
  for (int pad = 0; pad < 2; ++pad) {
    flatbuffers::FlatBufferBuilder fbb;
    std::string stored = testing::BuildStoredMessage(3, 17, "ana", "hello");
    if (pad) fbb.CreateString("x");
    auto vec = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(stored.data()), stored.size());
    fbb.Finish(wire::CreateDelivery(fbb, vec));
    flatbuffers::Verifier verifier(fbb.GetBufferPointer(), fbb.GetSize());
    ASSERT_TRUE(verifier.VerifyBuffer<wire::Delivery>(nullptr));
    const auto* d = flatbuffers::GetRoot<wire::Delivery>(fbb.GetBufferPointer());
    Result<Message> m = MessageFromDelivery(*d);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->conversation_id, 3u);
    EXPECT_EQ(m->seq, 17u);
    EXPECT_EQ(m->sender, "ana");
    EXPECT_EQ(std::get<Text>(m->content).body, "hello");
  }
}

// Builds a Delivery of `stored` (a stored Message) into `fbb`, misaligned
// by `pad` bytes.
const wire::Delivery* BuildDelivery(flatbuffers::FlatBufferBuilder& fbb, const std::string& stored,
                                    int pad) {
  if (pad) fbb.CreateString(std::string(static_cast<std::size_t>(pad), 'x'));
  auto vec = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(stored.data()), stored.size());
  fbb.Finish(wire::CreateDelivery(fbb, vec));
  return flatbuffers::GetRoot<wire::Delivery>(fbb.GetBufferPointer());
}

TEST(WireCodec, DeliveryReaderReadsEachMessageIntoTheSameMessage) {
  DeliveryReader reader;
  for (int i = 0; i < 4; ++i) {
    flatbuffers::FlatBufferBuilder fbb;
    std::string text = i % 2 ? "short" : std::string(300, static_cast<char>('a' + i));
    std::string stored = testing::BuildStoredMessage(3, 17 + static_cast<std::uint64_t>(i),
                                                     i < 2 ? "ana" : "bob", text);
    const wire::Delivery* d = BuildDelivery(fbb, stored, i % 2);
    ASSERT_TRUE(reader.Read(*d).ok());
    const Message& m = reader.message();
    EXPECT_EQ(m.conversation_id, 3u);
    EXPECT_EQ(m.seq, 17u + static_cast<std::uint64_t>(i));
    EXPECT_EQ(m.sender, i < 2 ? "ana" : "bob");
    EXPECT_EQ(std::get<Text>(m.content).body, text);
    EXPECT_EQ(&reader.message(), &m);
  }
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::CreateDelivery(fbb));
  EXPECT_EQ(reader.Read(*flatbuffers::GetRoot<wire::Delivery>(fbb.GetBufferPointer())).code(),
            StatusCode::kInvalidArgument);
}

TEST(WireCodec, RecordsRequestsAreEncodedWithTheirFields) {
  FrameWriter w;
  w.AddAdminSetHold(1, HoldTarget::User("ben"), "LIT-7", "lawsuit");
  w.AddAdminSetHold(2, HoldTarget::Conversation(3), "HR-12", "complaint");
  w.AddAdminLiftHold(3, 21, "settled");
  w.AddAdminListHolds(4, true);
  w.AddAdminRetentionRun(5, false);
  w.AddAdminListPlugins(6);
  CaseRequest request;
  request.kind = CaseKind::kSearch;
  request.legal_basis = "investigation";
  request.subjects = {"ben", "carl"};
  request.conversations = {3, 4};
  request.from_us = 10;
  request.to_us = 20;
  request.keyword = "invoice";
  request.redact_others = true;
  w.AddCaseOpen(7, request);
  w.AddCaseApprove(8, 31);
  w.AddCaseList(9);
  w.AddExportStart(10, 31);
  w.AddExportStatus(11, 77);
  w.AddExportDownload(12, 77, 1u << 20, kExportChunkBytes);
  w.AddMyDataAccess(13);
  std::string bytes = Bytes(w.Finish());
  Result<ReceivedFrame> f = ReceivedFrame::Parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.status();
  const auto& e = *f->frame().envelopes();
  ASSERT_EQ(e.size(), 13u);
  const auto* user_hold = e[0]->body_as_AdminSetHold();
  EXPECT_EQ(user_hold->target(), wire::HoldTarget::User);
  EXPECT_EQ(user_hold->login()->str(), "ben");
  EXPECT_EQ(user_hold->conversation_id(), 0u);
  EXPECT_EQ(user_hold->case_ref()->str(), "LIT-7");
  EXPECT_EQ(user_hold->reason()->str(), "lawsuit");
  const auto* chat_hold = e[1]->body_as_AdminSetHold();
  EXPECT_EQ(chat_hold->target(), wire::HoldTarget::Conversation);
  EXPECT_EQ(chat_hold->login(), nullptr);
  EXPECT_EQ(chat_hold->conversation_id(), 3u);
  EXPECT_EQ(e[2]->body_as_AdminLiftHold()->hold_id(), 21u);
  EXPECT_EQ(e[2]->body_as_AdminLiftHold()->reason()->str(), "settled");
  EXPECT_TRUE(e[3]->body_as_AdminListHolds()->include_lifted());
  EXPECT_FALSE(e[4]->body_as_AdminRetentionRun()->dry_run());
  EXPECT_EQ(e[5]->body_type(), wire::Body::AdminListPlugins);
  const auto* open = e[6]->body_as_CaseOpen();
  EXPECT_EQ(open->kind(), wire::CaseKind::Search);
  EXPECT_EQ(open->legal_basis()->str(), "investigation");
  ASSERT_EQ(open->subjects()->size(), 2u);
  EXPECT_EQ(open->subjects()->Get(1)->str(), "carl");
  ASSERT_EQ(open->conversations()->size(), 2u);
  EXPECT_EQ(open->conversations()->Get(1), 4u);
  EXPECT_EQ(open->from_us(), 10);
  EXPECT_EQ(open->to_us(), 20);
  EXPECT_EQ(open->keyword()->str(), "invoice");
  EXPECT_TRUE(open->redact_others());
  EXPECT_EQ(e[7]->body_as_CaseApprove()->case_id(), 31u);
  EXPECT_EQ(e[8]->body_type(), wire::Body::CaseList);
  EXPECT_EQ(e[9]->body_as_ExportStart()->case_id(), 31u);
  EXPECT_EQ(e[10]->body_as_ExportStatus()->export_id(), 77u);
  const auto* download = e[11]->body_as_ExportDownload();
  EXPECT_EQ(download->export_id(), 77u);
  EXPECT_EQ(download->offset(), 1u << 20);
  EXPECT_EQ(download->max_bytes(), kExportChunkBytes);
  EXPECT_EQ(e[12]->body_type(), wire::Body::MyDataAccess);
}

TEST(WireCodec, AStrippedMessageKeepsItsMetadataAndWhenItWasStripped) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto* d = BuildDelivery(fbb, testing::BuildStoredStripped(3, 9, "bob", false, 555), 0);
  Result<Message> m = MessageFromDelivery(*d);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->attachments_removed_at_us, 555);
  const auto& picture = std::get<Picture>(m->content);
  EXPECT_EQ(picture.mime_type, "image/png");
  EXPECT_EQ(picture.width, 640u);
  EXPECT_TRUE(picture.image.empty());
  DeliveryReader reader;
  ASSERT_TRUE(reader.Read(*d).ok());
  EXPECT_EQ(reader.message().attachments_removed_at_us, 555);
  flatbuffers::FlatBufferBuilder whole;
  ASSERT_TRUE(
      reader.Read(*BuildDelivery(whole, testing::BuildStoredMessage(3, 10, "bob", "hi"), 1)).ok());
  EXPECT_EQ(reader.message().attachments_removed_at_us, 0);
}

TEST(WireCodec, RecordsRepliesAreDecoded) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::PolicyCount>> policies{
      wire::CreatePolicyCountDirect(fbb, "p", 1, 2)};
  fbb.Finish(wire::CreateRetentionReportDirect(fbb, true, 1, 2, 3, 4, 5, 6, 7, 8, &policies));
  RetentionReport r =
      RetentionReportFromWire(*flatbuffers::GetRoot<wire::RetentionReport>(fbb.GetBufferPointer()));
  EXPECT_TRUE(r.dry_run);
  EXPECT_EQ(r.messages_examined, 3u);
  EXPECT_EQ(r.held_protected, 8u);
  ASSERT_EQ(r.policies.size(), 1u);
  EXPECT_EQ(r.policies[0].stripped, 2u);

  flatbuffers::FlatBufferBuilder cb;
  cb.Finish(wire::CreateExportChunkDirect(cb, 77, 5, nullptr, 10, false));
  ExportChunk c = ExportChunkFromWire(*flatbuffers::GetRoot<wire::ExportChunk>(cb.GetBufferPointer()));
  EXPECT_EQ(c.export_id, 77u);
  EXPECT_EQ(c.offset, 5u);
  EXPECT_TRUE(c.data.empty());
  EXPECT_EQ(c.total_bytes, 10u);

  flatbuffers::FlatBufferBuilder hb;
  hb.Finish(wire::CreateHoldInfoDirect(hb, 3, wire::HoldTarget::Conversation, nullptr, 9));
  HoldInfo h = HoldFromWire(*flatbuffers::GetRoot<wire::HoldInfo>(hb.GetBufferPointer()));
  EXPECT_FALSE(h.target.is_user());
  EXPECT_EQ(h.target.conversation_id, 9u);
  EXPECT_TRUE(h.in_force());
}

TEST(WireCodec, ContentLimitsAreCheckedLocally) {
  ContentLimits s;
  s.max_text_bytes = 10;
  s.max_attachment_bytes = 100;
  s.max_frame_bytes = 1000;
  EXPECT_TRUE(CheckContentLimits(Text{"short"}, "", s).ok());
  EXPECT_EQ(CheckContentLimits(Text{""}, "", s).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckContentLimits(Text{std::string(11, 'a')}, "", s).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckContentLimits(Voice{"opus", 1, std::string(100, 'a')}, "", s).ok());
  EXPECT_EQ(CheckContentLimits(Voice{"opus", 1, std::string(101, 'a')}, "", s).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckContentLimits(Picture{"image/png", 1, 1, std::string(90, 'a'),
                                       std::string(11, 't')},
                               "", s)
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckContentLimits(Edit{3, "new"}, "", s).ok());
  EXPECT_EQ(CheckContentLimits(Edit{3, std::string(11, 'a')}, "", s).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckContentLimits(Edit{0, "new"}, "", s).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckContentLimits(Deletion{3}, "", s).ok());
  EXPECT_EQ(CheckContentLimits(Deletion{0}, "", s).code(), StatusCode::kInvalidArgument);
  s.max_attachment_bytes = 0;  // unknown: only the frame limit applies
  EXPECT_EQ(CheckContentLimits(Voice{"opus", 1, std::string(2000, 'a')}, "", s).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chatpro::client::internal
