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
  s.max_attachment_bytes = 0;  // unknown: only the frame limit applies
  EXPECT_EQ(CheckContentLimits(Voice{"opus", 1, std::string(2000, 'a')}, "", s).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chatpro::client::internal
