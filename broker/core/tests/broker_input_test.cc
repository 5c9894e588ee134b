// SPDX-License-Identifier: Apache-2.0
//
// Bad input: every kind gets an Error with the right code (and request id
// where it can be read), is counted, and harms nobody: the same session goes
// on working and other sessions never notice.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "broker/core/tests/broker_harness.h"

namespace chatpro::core::testing {
namespace {

class InputTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    alice_ = AddUser("alice");
    bob_ = AddUser("bob");
    // Open the direct conversation so that every later Send has a target.
    direct_ = SendText(alice_, ToUser("bob"), next_id_++, "hello").conversation_id;
    ASSERT_NE(direct_, 0u);
    alice_.Take();
    bob_.Take();
  }

  std::uint64_t Errors(StatusCode code) const {
    return h_->broker().stats().errors[static_cast<int>(code)].load();
  }

  // Hands `frame` to the broker from alice and expects exactly one Error
  // envelope, with `code` and `request_id`. Then checks that alice's session
  // still works, that bob got only that message, and that the error was
  // counted.
  void ExpectRefused(const std::string& frame, wire::ErrorCode code, std::uint64_t request_id) {
    auto status_code = static_cast<StatusCode>(static_cast<std::uint16_t>(code));
    std::uint64_t counted = Errors(status_code);
    std::uint64_t frames = h_->broker().stats().frames_received.load();
    alice_.Send(frame);
    ASSERT_TRUE(Settle());
    std::vector<Envelope> got = alice_.Take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, wire::Body::Error);
    EXPECT_EQ(got[0].error_code, code) << got[0].error_message;
    EXPECT_EQ(got[0].request_id, request_id);
    EXPECT_FALSE(got[0].error_message.empty());
    EXPECT_EQ(Errors(status_code), counted + 1);
    EXPECT_EQ(h_->broker().stats().frames_received.load(), frames + 1);

    // The session goes on: a following valid Send is acknowledged.
    ClientMsgId id = next_id_++;
    Envelope ack = SendText(alice_, Conv(direct_), id, "still here");
    EXPECT_EQ(ack.type, wire::Body::SendAck) << ack.error_message;
    EXPECT_EQ(ack.seq, ++seq_);
    // Bob saw nothing but that message.
    std::vector<Envelope> bob_got = bob_.Take();
    ASSERT_EQ(bob_got.size(), 1u);
    EXPECT_EQ(bob_got[0].type, wire::Body::Delivery);
    EXPECT_EQ(bob_got[0].message.seq, seq_);
    alice_.Take();
  }

  std::string SendFrame(std::string_view text, std::uint64_t rid = 5) {
    return Request().SendText(rid, Conv(direct_), next_id_++, text).Finish();
  }

  TestClient alice_;
  TestClient bob_;
  std::uint64_t direct_ = 0;
  ClientMsgId next_id_ = 1;
  Seq seq_ = 1;
};

TEST_F(InputTest, FrameThatIsNotFlatBuffersIsRefused) {
  ExpectRefused("this is not a chatpro frame at all", wire::ErrorCode::InvalidArgument, 0);
  ExpectRefused(std::string("\x01\x02", 2), wire::ErrorCode::InvalidArgument, 0);
  ExpectRefused(std::string(), wire::ErrorCode::InvalidArgument, 0);
}

TEST_F(InputTest, FrameThatFailsTheVerifierIsRefused) {
  std::string frame = SendFrame("a perfectly fine text that will be cut off");
  ExpectRefused(frame.substr(0, frame.size() / 2), wire::ErrorCode::InvalidArgument, 0);

  // An offset pointing far outside the buffer.
  std::string bad = SendFrame("x");
  bad[0] = '\xF0';
  bad[1] = '\xFF';
  ExpectRefused(bad, wire::ErrorCode::InvalidArgument, 0);
}

TEST_F(InputTest, WrongProtocolVersionIsRefused) {
  std::string frame = Request().SendText(5, Conv(direct_), next_id_++, "v2").Finish(2);
  ExpectRefused(frame, wire::ErrorCode::FailedPrecondition, 0);
}

TEST_F(InputTest, UnknownBodyTypeIsRefusedWithItsRequestId) {
  Request r;
  auto body = wire::CreatePing(r.builder()).Union();
  r.Raw(41, static_cast<wire::Body>(200), body);
  ExpectRefused(r.Finish(), wire::ErrorCode::InvalidArgument, 41);

  // The same by patching the body_type byte of a valid frame.
  Request ping;
  std::string frame = ping.Ping(42).Finish();
  std::size_t patched = 0;
  for (std::size_t i = 0; i < frame.size(); ++i) {
    if (static_cast<std::uint8_t>(frame[i]) == static_cast<std::uint8_t>(wire::Body::Ping)) {
      std::string candidate = frame;
      candidate[i] = static_cast<char>(200);
      flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(candidate.data()),
                                     candidate.size());
      if (!wire::VerifyFrameBuffer(verifier)) continue;
      const wire::Frame* f = wire::GetFrame(candidate.data());
      if (f->envelopes()->size() == 1 &&
          static_cast<int>(f->envelopes()->Get(0)->body_type()) == 200) {
        frame = candidate;
        ++patched;
        break;
      }
    }
  }
  ASSERT_EQ(patched, 1u);
  ExpectRefused(frame, wire::ErrorCode::InvalidArgument, 42);
}

TEST_F(InputTest, EnvelopeWithoutBodyIsRefused) {
  Request r;
  r.Raw(43, wire::Body::NONE, flatbuffers::Offset<void>());
  ExpectRefused(r.Finish(), wire::ErrorCode::InvalidArgument, 43);
}

// Found by tests/fuzz/fuzz_frame (regressions/fuzz_frame/history-without-body):
// the verifier accepts a union type without its value, and the handlers read
// the body through a null pointer, which crashed the broker.
TEST_F(InputTest, EnvelopeWithABodyTypeButNoBodyIsRefused) {
  for (wire::Body type : {wire::Body::History, wire::Body::Send, wire::Body::Hello,
                          wire::Body::Block, wire::Body::AdminAddUser, wire::Body::ScheduleSet}) {
    SCOPED_TRACE(wire::EnumNameBody(type));
    Request r;
    r.Raw(44, type, flatbuffers::Offset<void>());
    ExpectRefused(r.Finish(), wire::ErrorCode::InvalidArgument, 44);
  }
}

TEST_F(InputTest, ReplyOrEventSentToTheBrokerIsRefused) {
  Request pong;
  pong.Raw(44, wire::Body::Pong, wire::CreatePong(pong.builder(), 1).Union());
  ExpectRefused(pong.Finish(), wire::ErrorCode::InvalidArgument, 44);

  Request delivery;
  delivery.Raw(45, wire::Body::Delivery, wire::CreateDelivery(delivery.builder()).Union());
  ExpectRefused(delivery.Finish(), wire::ErrorCode::InvalidArgument, 45);
}

TEST_F(InputTest, UnknownConversationIsNotFound) {
  ExpectRefused(Request().SendText(46, Conv(999), next_id_++, "to nowhere").Finish(),
                wire::ErrorCode::NotFound, 46);
  ExpectRefused(Request().SendText(47, ToUser("nobody"), next_id_++, "to nobody").Finish(),
                wire::ErrorCode::NotFound, 47);
}

TEST_F(InputTest, SendWithoutTargetIsRefused) {
  ExpectRefused(Request().SendText(48, Target{}, next_id_++, "to whom?").Finish(),
                wire::ErrorCode::InvalidArgument, 48);
}

TEST_F(InputTest, OversizedTextIsResourceExhausted) {
  std::string text(h_->options().max_text_bytes + 1, 'a');
  ExpectRefused(SendFrame(text, 49), wire::ErrorCode::ResourceExhausted, 49);
  // Exactly at the limit is fine.
  Envelope ack =
      SendText(alice_, Conv(direct_), next_id_++, std::string(h_->options().max_text_bytes, 'b'));
  EXPECT_EQ(ack.type, wire::Body::SendAck);
}

TEST_F(InputTest, InvalidUtf8TextIsRefused) {
  ExpectRefused(SendFrame("bad \xFF\xFE bytes", 50), wire::ErrorCode::InvalidArgument, 50);
  ExpectRefused(SendFrame("overlong \xC0\xAF", 51), wire::ErrorCode::InvalidArgument, 51);
  ExpectRefused(SendFrame("surrogate \xED\xA0\x80", 52), wire::ErrorCode::InvalidArgument, 52);
  ExpectRefused(SendFrame("cut \xE2\x82", 53), wire::ErrorCode::InvalidArgument, 53);
}

TEST_F(InputTest, EmptyContentIsRefused) {
  ExpectRefused(Request().SendNothing(54, Conv(direct_), next_id_++).Finish(),
                wire::ErrorCode::InvalidArgument, 54);
  ExpectRefused(SendFrame("", 55), wire::ErrorCode::InvalidArgument, 55);
  ExpectRefused(Request().SendVoice(56, Conv(direct_), next_id_++, "opus", 10, "").Finish(),
                wire::ErrorCode::InvalidArgument, 56);
  ExpectRefused(Request().SendVoice(57, Conv(direct_), next_id_++, "", 10, "audio").Finish(),
                wire::ErrorCode::InvalidArgument, 57);
  ExpectRefused(
      Request().SendPicture(58, Conv(direct_), next_id_++, "image/png", 1, 1, "", "").Finish(),
      wire::ErrorCode::InvalidArgument, 58);
  ExpectRefused(
      Request().SendPicture(59, Conv(direct_), next_id_++, "text/html", 1, 1, "<b>", "").Finish(),
      wire::ErrorCode::InvalidArgument, 59);
}

TEST_F(InputTest, OversizedAttachmentIsResourceExhausted) {
  CoreOptions options;
  options.max_attachment_bytes = 1000;
  Boot(options);
  alice_ = AddUser("alice");
  bob_ = AddUser("bob");
  seq_ = 0;
  direct_ = SendText(alice_, ToUser("bob"), next_id_++, "hello").conversation_id;
  seq_ = 1;
  alice_.Take();
  bob_.Take();
  ExpectRefused(Request()
                    .SendVoice(60, Conv(direct_), next_id_++, "opus", 10, std::string(1001, 'v'))
                    .Finish(),
                wire::ErrorCode::ResourceExhausted, 60);
  ExpectRefused(Request()
                    .SendPicture(61, Conv(direct_), next_id_++, "image/png", 1, 1,
                                 std::string(600, 'i'), std::string(401, 't'))
                    .Finish(),
                wire::ErrorCode::ResourceExhausted, 61);
}

TEST_F(InputTest, FrameOverTheFrameLimitIsResourceExhausted) {
  CoreOptions options;
  options.max_frame_bytes = 8192;
  Boot(options);
  alice_ = AddUser("alice");
  bob_ = AddUser("bob");
  alice_.Send(Request().Hello(1).Finish());
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice_.TakeReply(1).max_frame_bytes, 8192u);
  direct_ = SendText(alice_, ToUser("bob"), next_id_++, "hello").conversation_id;
  alice_.Take();
  bob_.Take();
  // A text within max_text_bytes, in a frame over the frame limit.
  ExpectRefused(SendFrame(std::string(10'000, 'x'), 70), wire::ErrorCode::ResourceExhausted, 0);
}

TEST_F(InputTest, FrameThatIsNotEightByteAlignedIsReadCorrectly) {
  std::string frame = SendFrame("from an odd address", 71);
  // ZeroMQ may hand over small messages at any address.
  std::vector<std::uint64_t> storage(frame.size() / 8 + 2);
  auto* odd = reinterpret_cast<std::uint8_t*>(storage.data()) + 3;
  std::memcpy(odd, frame.data(), frame.size());
  h_->broker().OnFrame(alice_.connection, alice_.zap_user_id, "127.0.0.1", odd, frame.size());
  ASSERT_TRUE(Settle());
  Envelope ack = alice_.TakeReply(71);
  ASSERT_EQ(ack.type, wire::Body::SendAck) << ack.error_message;
  EXPECT_EQ(ack.seq, 2u);
  std::vector<MessageView> got = Deliveries(bob_.Take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "from an odd address");
}

// Found by tests/fuzz/fuzz_admin (regressions/fuzz_admin/empty-frame-odd-address):
// copying an empty frame at an odd address passed a null pointer to memcpy.
TEST_F(InputTest, EmptyFrameAtAnOddAddressIsRefused) {
  std::uint64_t storage[2] = {0, 0};
  const auto* odd = reinterpret_cast<const std::uint8_t*>(storage) + 1;
  std::uint64_t counted = Errors(StatusCode::kInvalidArgument);
  h_->broker().OnFrame(alice_.connection, alice_.zap_user_id, "127.0.0.1", odd, 0);
  ASSERT_TRUE(Settle());
  std::vector<Envelope> got = alice_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, wire::Body::Error);
  EXPECT_EQ(got[0].error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(Errors(StatusCode::kInvalidArgument), counted + 1);
  Envelope ack = SendText(alice_, Conv(direct_), next_id_++, "still here");
  EXPECT_EQ(ack.type, wire::Body::SendAck) << ack.error_message;
}

TEST_F(InputTest, NestedMessagesAreAlignedForReadingInPlace) {
  alice_.Send(SendFrame("odd length text", 73));
  ASSERT_TRUE(Settle());
  alice_.Send(Request().History(72, direct_, 0, 10, true).Finish());
  ASSERT_TRUE(Settle());
  std::size_t nested = 0;
  for (ConnectionId c : {alice_.connection, bob_.connection}) {
    for (const std::string& f : h_->transport().TakeFrames(c)) {
      const auto* base = reinterpret_cast<const std::uint8_t*>(f.data());
      const wire::Frame* frame = wire::GetFrame(base);
      for (const wire::Envelope* e : *frame->envelopes()) {
        std::vector<const flatbuffers::Vector<std::uint8_t>*> messages;
        if (e->body_type() == wire::Body::Delivery) {
          messages.push_back(e->body_as_Delivery()->message());
        }
        if (e->body_type() == wire::Body::HistoryReply) {
          for (const wire::Delivery* d : *e->body_as_HistoryReply()->messages()) {
            messages.push_back(d->message());
          }
        }
        for (const auto* m : messages) {
          EXPECT_EQ((m->data() - base) % 8, 0) << "a nested Message is not 8-byte aligned";
          ++nested;
        }
      }
    }
  }
  // The new message went to both sessions, and the history holds two.
  EXPECT_EQ(nested, 4u);
}

TEST_F(InputTest, EnrollOnAnEnrolledDeviceIsRefused) {
  crypto::KeyPair keys = crypto::GenerateKeyPair();
  ExpectRefused(Request().Enroll(62, keys.public_key).Finish(), wire::ErrorCode::FailedPrecondition,
                62);
}

TEST_F(InputTest, GoodAndBadRequestsInOneFrameAreAnsweredEachOnItsOwn) {
  ClientMsgId id = next_id_;
  next_id_ += 3;
  std::string frame = Request()
                          .SendText(1, Conv(direct_), id, "good")
                          .SendText(2, Conv(direct_), id + 1, "bad \xFF")
                          .SendText(3, Conv(direct_), id + 2, "good again")
                          .Finish();
  alice_.Send(frame);
  ASSERT_TRUE(Settle());
  EXPECT_EQ(alice_.TakeReply(1).seq, 2u);
  EXPECT_EQ(alice_.TakeReply(2).error_code, wire::ErrorCode::InvalidArgument);
  EXPECT_EQ(alice_.TakeReply(3).seq, 3u);
  EXPECT_EQ(DeliveredSeqs(bob_.Take(), direct_), (std::vector<Seq>{2, 3}));
}

TEST_F(InputTest, FrameWithoutEnvelopesIsIgnored) {
  flatbuffers::FlatBufferBuilder fbb;
  wire::FinishFrameBuffer(fbb, wire::CreateFrame(fbb, 1));
  alice_.Send(std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize()));
  ASSERT_TRUE(Settle());
  EXPECT_TRUE(alice_.Take().empty());
  EXPECT_EQ(SendText(alice_, Conv(direct_), next_id_++, "fine").seq, 2u);
}

}  // namespace
}  // namespace chatpro::core::testing
