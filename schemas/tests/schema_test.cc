// SPDX-License-Identifier: Apache-2.0
//
// The generated protocol code: frames built with it verify, carry every
// content kind intact, nest stored messages, and anything damaged, foreign or
// truncated is rejected by the verifier.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "chatpro/schemas/store_generated.h"
#include "chatpro/schemas/wire_generated.h"
#include "schemas/vectors.h"

namespace chatpro::wire {
namespace {

// A finished buffer copied into 8-byte aligned storage, as received frames are.
struct Buffer {
  std::vector<std::uint64_t> words;
  std::size_t size = 0;
  const std::uint8_t* data() const { return reinterpret_cast<const std::uint8_t*>(words.data()); }
};

Buffer Copy(const std::uint8_t* data, std::size_t size) {
  Buffer b;
  b.words.resize((size + 7) / 8);
  if (size > 0) std::memcpy(b.words.data(), data, size);
  b.size = size;
  return b;
}

bool Verifies(const Buffer& b) {
  flatbuffers::Verifier v(b.data(), b.size);
  return VerifyFrameBuffer(v);
}

std::string MessageBytes(Content type, std::uint64_t seq) {
  flatbuffers::FlatBufferBuilder fbb;
  flatbuffers::Offset<void> content;
  std::vector<std::uint8_t> blob(1000);
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<std::uint8_t>(i * 7);
  switch (type) {
    case Content::Text:
      content = CreateText(fbb, fbb.CreateString("héllo")).Union();
      break;
    case Content::Voice:
      content = CreateVoice(fbb, fbb.CreateString("opus"), 4200, fbb.CreateVector(blob)).Union();
      break;
    case Content::Picture:
      content = CreatePicture(fbb, fbb.CreateString("image/png"), 640, 480, fbb.CreateVector(blob),
                              fbb.CreateVector(blob.data(), 10))
                    .Union();
      break;
    case Content::Edit:
      content = CreateEdit(fbb, 1, fbb.CreateString("corrected")).Union();
      break;
    case Content::Deletion:
      content = CreateDeletion(fbb, 1).Union();
      break;
    default:
      break;
  }
  fbb.Finish(CreateMessage(fbb, 3, seq, 7, fbb.CreateString("ana"), 9, 1234, 1'700'000'000'000'000,
                           type, content));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

Buffer DeliveryFrame(const std::vector<std::string>& messages) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<Envelope>> envelopes;
  for (const std::string& m : messages) {
    fbb.ForceVectorAlignment(m.size(), 1, 8);
    auto bytes = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(m.data()), m.size());
    envelopes.push_back(CreateEnvelope(fbb, 0, Body::Delivery, CreateDelivery(fbb, bytes).Union()));
  }
  FinishFrameBuffer(fbb, CreateFrame(fbb, 1, fbb.CreateVector(envelopes)));
  return Copy(fbb.GetBufferPointer(), fbb.GetSize());
}

TEST(Schema, ABatchOfDeliveriesCarriesEveryContentKindIntact) {
  Buffer frame = DeliveryFrame({MessageBytes(Content::Text, 1), MessageBytes(Content::Voice, 2),
                                MessageBytes(Content::Picture, 3)});
  ASSERT_TRUE(Verifies(frame));
  const Frame* f = GetFrame(frame.data());
  EXPECT_EQ(f->protocol_version(), 1);
  ASSERT_EQ(f->envelopes()->size(), 3u);
  const Message* text = f->envelopes()->Get(0)->body_as_Delivery()->message_nested_root();
  EXPECT_EQ(text->content_as_Text()->body()->str(), "héllo");
  EXPECT_EQ(text->sender_login()->str(), "ana");
  const Message* voice = f->envelopes()->Get(1)->body_as_Delivery()->message_nested_root();
  EXPECT_EQ(voice->content_as_Voice()->codec()->str(), "opus");
  EXPECT_EQ(voice->content_as_Voice()->duration_ms(), 4200u);
  EXPECT_EQ(voice->content_as_Voice()->audio()->size(), 1000u);
  EXPECT_EQ(voice->content_as_Voice()->audio()->Get(999), static_cast<std::uint8_t>(999 * 7));
  const Message* picture = f->envelopes()->Get(2)->body_as_Delivery()->message_nested_root();
  EXPECT_EQ(picture->seq(), 3u);
  EXPECT_EQ(picture->content_as_Picture()->width(), 640u);
  EXPECT_EQ(picture->content_as_Picture()->thumbnail()->size(), 10u);
}

TEST(Schema, NestedMessagesAreAlignedForReadingInPlace) {
  Buffer frame = DeliveryFrame({MessageBytes(Content::Text, 1), MessageBytes(Content::Voice, 2)});
  const Frame* f = GetFrame(frame.data());
  for (const Envelope* e : *f->envelopes()) {
    auto address = reinterpret_cast<std::uintptr_t>(e->body_as_Delivery()->message()->data());
    EXPECT_EQ(address % 8, 0u);
  }
}

// A finished buffer copied to an address 4 bytes past an 8-byte boundary, so
// that its 8-byte values sit as a hostile sender can place them inside an
// aligned frame: the verifier checks a vector's alignment to 4 only.
struct Misplaced {
  std::vector<std::uint64_t> words;
  const std::uint8_t* data() const { return reinterpret_cast<const std::uint8_t*>(words.data()) + 4; }
};

Misplaced Misplace(const flatbuffers::FlatBufferBuilder& fbb) {
  Misplaced m;
  m.words.resize(fbb.GetSize() / 8 + 2);
  std::memcpy(reinterpret_cast<std::uint8_t*>(m.words.data()) + 4, fbb.GetBufferPointer(), fbb.GetSize());
  return m;
}

TEST(Schema, VectorsOfEightByteValuesReadTheSameAtAnyAlignment) {
  flatbuffers::FlatBufferBuilder ids_fbb;
  const std::vector<std::uint64_t> ids = {7, 0x0102030405060708u, ~0ull};
  auto ids_vector = ids_fbb.CreateVector(ids);
  CaseInfoBuilder info(ids_fbb);
  info.add_conversations(ids_vector);
  ids_fbb.Finish(info.Finish());
  Misplaced case_info = Misplace(ids_fbb);
  {
    flatbuffers::Verifier v(case_info.data(), ids_fbb.GetSize());
    ASSERT_TRUE(v.VerifyBuffer<CaseInfo>(nullptr));
  }
  const auto* conversations = flatbuffers::GetRoot<CaseInfo>(case_info.data())->conversations();
  ASSERT_NE(reinterpret_cast<std::uintptr_t>(conversations->Data()) % 8, 0u);
  EXPECT_EQ(schemas::U64s(conversations), ids);
  EXPECT_TRUE(schemas::U64s(nullptr).empty());

  flatbuffers::FlatBufferBuilder ack_fbb;
  const std::vector<Cursor> cursors = {Cursor(1, 2), Cursor(3, 0xfffffffffffffff0u)};
  ack_fbb.Finish(CreateAckDirect(ack_fbb, &cursors));
  Misplaced ack = Misplace(ack_fbb);
  {
    flatbuffers::Verifier v(ack.data(), ack_fbb.GetSize());
    ASSERT_TRUE(v.VerifyBuffer<Ack>(nullptr));
  }
  const auto& read = *flatbuffers::GetRoot<Ack>(ack.data())->cursors();
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(schemas::StructAt(read, 0).conversation_id(), 1u);
  EXPECT_EQ(schemas::StructAt(read, 0).seq(), 2u);
  EXPECT_EQ(schemas::StructAt(read, 1).conversation_id(), 3u);
  EXPECT_EQ(schemas::StructAt(read, 1).seq(), 0xfffffffffffffff0u);
}

TEST(Schema, EveryTruncationOfAFrameFailsVerification) {
  Buffer frame = DeliveryFrame({MessageBytes(Content::Picture, 1)});
  for (std::size_t n = 0; n < frame.size; n += 13) {
    Buffer cut = Copy(frame.data(), n);
    EXPECT_FALSE(Verifies(cut)) << "a frame cut to " << n << " bytes verified";
  }
}

TEST(Schema, ADamagedNestedMessageFailsVerification) {
  std::string message = MessageBytes(Content::Text, 1);
  // Point the root offset far outside the nested buffer.
  message[0] = static_cast<char>(0xff);
  message[1] = static_cast<char>(0x7f);
  Buffer frame = DeliveryFrame({message});
  EXPECT_FALSE(Verifies(frame));
}

TEST(Schema, BytesWithoutTheChatProIdentifierAreNotAFrame) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(CreateFrame(fbb, 1));  // no file identifier
  Buffer b = Copy(fbb.GetBufferPointer(), fbb.GetSize());
  EXPECT_FALSE(FrameBufferHasIdentifier(b.data()));
  EXPECT_FALSE(Verifies(b));
  std::string text = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  Buffer http = Copy(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  EXPECT_FALSE(Verifies(http));
}

TEST(Schema, ErrorCodesKeepTheirWireNumbers) {
  // These numbers are the protocol: clients in the field depend on them.
  EXPECT_EQ(static_cast<int>(ErrorCode::InvalidArgument), 1);
  EXPECT_EQ(static_cast<int>(ErrorCode::PermissionDenied), 4);
  EXPECT_EQ(static_cast<int>(ErrorCode::ResourceExhausted), 5);
  EXPECT_EQ(static_cast<int>(ErrorCode::Unavailable), 7);
  EXPECT_EQ(static_cast<int>(ErrorCode::Internal), 10);
}

TEST(Schema, StoredRecordsRoundTrip) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<store::DedupeEntry> entries = {{5, 1, 10, 111}, {6, 1, 11, 222}};
  fbb.Finish(store::CreateDedupeRecord(fbb, fbb.CreateVectorOfStructs(entries), false));
  Buffer b = Copy(fbb.GetBufferPointer(), fbb.GetSize());
  flatbuffers::Verifier v(b.data(), b.size);
  ASSERT_TRUE(v.VerifyBuffer<store::DedupeRecord>(nullptr));
  const auto* r = flatbuffers::GetRoot<store::DedupeRecord>(b.data());
  ASSERT_EQ(r->entries()->size(), 2u);
  EXPECT_EQ(r->entries()->Get(1)->seq(), 11u);
  EXPECT_EQ(r->entries()->Get(1)->sent_at_us(), 222);
  EXPECT_FALSE(r->point());
}

}  // namespace
}  // namespace chatpro::wire
