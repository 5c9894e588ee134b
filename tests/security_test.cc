// SPDX-License-Identifier: Apache-2.0
//
// Refusals and bad input, end to end: unknown keys and used invites are
// refused, bad frames get coded errors without hurting anyone else, and a
// second broker keeps away from a data directory in use.
#include <gtest/gtest.h>

#include <filesystem>

#include "broker/crypto/keys.h"
#include "tests/chat_fixture.h"
#include "tests/raw_connection.h"

namespace chatpro::testing {
namespace {

namespace fs = std::filesystem;
using client::Profile;
using client::SendResult;
using client::Target;

class Enrollment : public BrokerTest {};
class DataDirectory : public BrokerTest {};

// A broker with a small attachment limit, so that frames over the limit are
// cheap to build (max_frame_bytes defaults to max_attachment_bytes + 1 MiB).
class WireInput : public BrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "limits.max_attachment_bytes=1MiB"};
    return o;
  }
};

// A broker whose frame limit is set below the default for its attachments.
class ConfiguredFrameLimit : public BrokerTest {
 protected:
  static constexpr std::uint64_t kMaxFrameBytes = 1088 * 1024;
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "limits.max_attachment_bytes=1MiB", "--set",
                    "limits.max_frame_bytes=1088KiB"};
    return o;
  }
};

// ------------------------------------------------------------------ enrollment

TEST_F(Enrollment, AKeyThatWasNeverEnrolledIsRefused) {
  ASSERT_OK(crypto::InitCrypto());
  crypto::KeyPair stranger = crypto::GenerateKeyPair();
  Profile p;
  p.dir = ProfileDir("stranger");
  p.endpoint = root_profile_.endpoint;
  p.server_key = root_profile_.server_key;  // the right broker key
  p.public_key = stranger.public_key;
  p.secret_key = stranger.secret_key;
  p.login = "root";  // claiming to be someone changes nothing: the key decides
  p.user_id = root_profile_.user_id;
  p.device_id = root_profile_.device_id;
  ASSERT_OK(p.Save());
  ASSERT_OK_AND_ASSIGN(Profile loaded, Profile::Load(p.dir));

  Result<std::unique_ptr<client::Client>> c = Connect(loaded, nullptr);
  ASSERT_FALSE(c.ok()) << "a key the broker never enrolled got a session";
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied) << c.status();

  // The enrolled administrator is unaffected.
  ASSERT_OK_AND_ASSIGN(std::vector<client::UserInfo> users, root_->AdminListUsers());
  EXPECT_EQ(users.size(), 1u);
}

TEST_F(Enrollment, AUsedInviteCannotEnrollASecondDevice) {
  ASSERT_OK_AND_ASSIGN(client::InviteInfo invite,
                       root_->AdminAddUser("ana", "Ana Lima", client::Role::kUser));
  EXPECT_EQ(invite.login, "ana");
  ASSERT_OK_AND_ASSIGN(Profile first, client::Enroll(ProfileDir("ana-phone"), invite.invite));
  EXPECT_EQ(first.login, "ana");

  Result<Profile> second = client::Enroll(ProfileDir("ana-laptop"), invite.invite);
  ASSERT_FALSE(second.ok()) << "one invite enrolled two devices";
  EXPECT_EQ(second.status().code(), StatusCode::kPermissionDenied) << second.status();
  EXPECT_FALSE(fs::exists(ProfileDir("ana-laptop") + "/profile.conf"));

  // The device that used the invite works.
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(first, nullptr));
  EXPECT_EQ(ana->session().login, "ana");
  EXPECT_EQ(ana->session().device_id, first.device_id);
}

TEST_F(Enrollment, AGarbageInviteIsAnInvalidArgument) {
  for (const std::string garbage :
       {"hello", "chatpro://", "https://127.0.0.1:7070?key=00&code=ABC",
        "chatpro://127.0.0.1:7070?key=not-hex&code=ABCDEFGHJKMNPQRSTVWXYZ0123"}) {
    Result<Profile> r = client::Enroll(ProfileDir("garbage"), garbage);
    ASSERT_FALSE(r.ok()) << "enrolled with '" << garbage << "'";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << garbage << ": " << r.status();
    EXPECT_FALSE(r.status().message().empty());
  }
  EXPECT_FALSE(fs::exists(ProfileDir("garbage") + "/profile.conf"));
}

// The parts of chatpro://HOST:PORT?key=HEX&code=CODE, read by hand.
struct InviteParts {
  std::string endpoint;
  std::string server_key;
  std::string code;
};

std::optional<InviteParts> SplitInvite(const std::string& invite) {
  const std::string scheme = "chatpro://";
  std::size_t q = invite.find('?');
  std::size_t key = invite.find("key=");
  std::size_t code = invite.find("code=");
  if (invite.rfind(scheme, 0) != 0 || q == std::string::npos || key == std::string::npos ||
      code == std::string::npos) {
    return std::nullopt;
  }
  InviteParts p;
  p.endpoint = "tcp://" + invite.substr(scheme.size(), q - scheme.size());
  std::string hex = invite.substr(key + 4, invite.find('&', key) - key - 4);
  if (hex.size() != 64) return std::nullopt;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    p.server_key += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  p.code = invite.substr(code + 5, invite.find('&', code) - code - 5);
  return p;
}

TEST_F(Enrollment, AnEnrollmentConnectionMayOnlyEnrollAndOnlyOnce) {
  ASSERT_OK_AND_ASSIGN(client::InviteInfo invite,
                       root_->AdminAddUser("ana", "Ana Lima", client::Role::kUser));
  std::optional<InviteParts> parts = SplitInvite(invite.invite);
  ASSERT_TRUE(parts.has_value()) << invite.invite;
  ASSERT_OK(crypto::InitCrypto());
  crypto::KeyPair once = crypto::DeriveEnrollmentKeyPair(parts->code);
  crypto::KeyPair device = crypto::GenerateKeyPair();

  RawConnection raw(parts->endpoint, parts->server_key, once.public_key, once.secret_key);
  ASSERT_TRUE(raw.WaitConnected()) << "the invite's one-time key was refused";
  ASSERT_TRUE(raw.Send(SendTextFrame(1, 5, 0, "root", "sneaking in")));
  std::optional<RawReply> reply = raw.WaitForAnswer(1);
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->type, wire::Body::Error) << DescribeReply(*reply);
  EXPECT_EQ(reply->error_code, wire::ErrorCode::PermissionDenied) << DescribeReply(*reply);
  ASSERT_TRUE(raw.Send(HelloFrame(2)));
  reply = raw.WaitForAnswer(2);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error_code, wire::ErrorCode::PermissionDenied) << DescribeReply(*reply);

  // The refused requests did not use the invite up: enrolling still works.
  ASSERT_TRUE(raw.Send(EnrollFrame(3, device.public_key)));
  reply = raw.WaitForAnswer(3);
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->type, wire::Body::EnrollReply) << DescribeReply(*reply);
  Result<Profile> again = client::Enroll(ProfileDir("ana-again"), invite.invite);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kPermissionDenied) << again.status();

  Profile p;
  p.dir = ProfileDir("ana-raw");
  p.endpoint = parts->endpoint;
  p.server_key = parts->server_key;
  p.public_key = device.public_key;
  p.secret_key = device.secret_key;
  p.login = "ana";
  ASSERT_OK_AND_ASSIGN(auto ana, Connect(p, nullptr));
  EXPECT_EQ(ana->session().login, "ana");
}

// ------------------------------------------------------------------ bad input

TEST_F(WireInput, BadFramesGetCodedErrorsAndTheSameConnectionGoesOn) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));
  // A group ana is not in.
  ASSERT_OK_AND_ASSIGN(client::Conversation managers, root_->CreateGroup("Managers", {"ben"}));

  RawConnection raw(ana);
  ASSERT_TRUE(raw.WaitConnected());
  ASSERT_TRUE(raw.Send(HelloFrame(1)));
  std::optional<RawReply> hello = raw.WaitForReply(1);
  ASSERT_TRUE(hello.has_value());
  ASSERT_EQ(hello->type, wire::Body::HelloReply) << DescribeReply(*hello);
  const std::uint64_t max_text = hello->max_text_bytes;
  EXPECT_EQ(max_text, 64u * 1024);

  struct Case {
    std::string what;
    std::vector<std::string> parts;  // one ZeroMQ message
    std::uint64_t request_id;        // 0: the broker cannot read one
    wire::ErrorCode code;
  };
  const std::string valid = SendTextFrame(10, 1001, 0, "ben", "a valid frame, cut in half");
  const std::vector<Case> cases = {
      {"not a FlatBuffer", {"this is not a ChatPro frame, just text"}, 0,
       wire::ErrorCode::InvalidArgument},
      {"a truncated frame", {valid.substr(0, valid.size() / 2)}, 0,
       wire::ErrorCode::InvalidArgument},
      {"a message of two parts", {HelloFrame(21), "a second part"}, 0,
       wire::ErrorCode::InvalidArgument},
      {"an unknown protocol version", {HelloFrame(22, 99)}, 22,
       wire::ErrorCode::FailedPrecondition},
      {"an unknown request kind", {UnknownKindFrame(11, 200)}, 11,
       wire::ErrorCode::InvalidArgument},
      {"a Send to an unknown conversation", {SendTextFrame(12, 1002, 987654321, "", "to nowhere")},
       12, wire::ErrorCode::NotFound},
      {"a Send to a group she is not in", {SendTextFrame(13, 1003, managers.id, "", "let me in")},
       13, wire::ErrorCode::PermissionDenied},
      {"a text over the limit",
       {SendTextFrame(14, 1004, 0, "ben", std::string(max_text + 1, 'x'))}, 14,
       wire::ErrorCode::ResourceExhausted},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_TRUE(raw.SendParts(c.parts));
    std::optional<RawReply> reply = raw.WaitForAnswer(c.request_id);
    ASSERT_TRUE(reply.has_value()) << "no Error for " << c.what;
    ASSERT_EQ(reply->type, wire::Body::Error) << DescribeReply(*reply);
    EXPECT_EQ(reply->error_code, c.code) << DescribeReply(*reply);
    EXPECT_FALSE(reply->error_message.empty()) << "an error names its reason";
  }

  // Meanwhile root writes to ben as usual.
  auto from_root = root_->Send(Target::User("ben"), MakeText("all good here"));
  ASSERT_OK_AND_ASSIGN(SendResult root_result, Await(from_root));
  ASSERT_TRUE(root_result.status.ok()) << root_result.status;

  // The same connection still works: a text of exactly the limit, then a short one.
  const std::string at_limit(max_text, 'y');
  ASSERT_TRUE(raw.Send(SendTextFrame(15, 1005, 0, "ben", at_limit)));
  std::optional<RawReply> ack15 = raw.WaitForReply(15);
  ASSERT_TRUE(ack15.has_value());
  ASSERT_EQ(ack15->type, wire::Body::SendAck) << DescribeReply(*ack15);
  ASSERT_TRUE(raw.Send(SendTextFrame(16, 1006, 0, "ben", "still here")));
  std::optional<RawReply> ack16 = raw.WaitForReply(16);
  ASSERT_TRUE(ack16.has_value());
  ASSERT_EQ(ack16->type, wire::Body::SendAck) << DescribeReply(*ack16);
  EXPECT_EQ(ack15->seq, 1u) << "none of the bad frames became a message";
  EXPECT_EQ(ack16->seq, 2u);

  ASSERT_TRUE(ben_inbox->WaitFor(3)) << "ben got " << ben_inbox->size() << " of 3";
  std::vector<std::string> from_ana;
  for (const client::Message& m : ben_inbox->messages()) {
    if (m.sender == "ana") from_ana.push_back(TextOf(m));
    if (m.sender == "root") {
      EXPECT_EQ(TextOf(m), "all good here");
    }
  }
  ASSERT_EQ(from_ana.size(), 2u);
  EXPECT_TRUE(from_ana[0] == at_limit) << "the 64 KiB text arrived changed";
  EXPECT_EQ(from_ana[1], "still here");
}

TEST_F(WireInput, AFrameOverTheMaximumSizeCutsOnlyThatConnection) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));

  RawConnection big(ana);
  RawConnection other(ana);  // the same device on a second connection
  ASSERT_TRUE(big.WaitConnected());
  ASSERT_TRUE(other.WaitConnected());
  ASSERT_TRUE(big.Send(HelloFrame(1)));
  std::optional<RawReply> hello = big.WaitForReply(1);
  ASSERT_TRUE(hello.has_value());
  ASSERT_EQ(hello->type, wire::Body::HelloReply) << DescribeReply(*hello);
  ASSERT_EQ(hello->max_frame_bytes, 2u << 20) << "1 MiB attachments + 1 MiB";

  ASSERT_TRUE(big.Send(std::string(hello->max_frame_bytes + 1, 'z')));
  EXPECT_TRUE(big.WaitDisconnected()) << "a frame over max_frame_bytes did not cut the connection";
  EXPECT_FALSE(big.WaitForReply(0, std::chrono::milliseconds(0)).has_value());

  // Everyone else is served as before.
  ASSERT_TRUE(other.Send(SendTextFrame(7, 2001, 0, "ben", "the broker is fine")));
  std::optional<RawReply> ack = other.WaitForReply(7);
  ASSERT_TRUE(ack.has_value());
  ASSERT_EQ(ack->type, wire::Body::SendAck) << DescribeReply(*ack);
  auto from_root = root_->Send(Target::User("ben"), MakeText("and so is root"));
  ASSERT_OK_AND_ASSIGN(SendResult r, Await(from_root));
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_TRUE(ben_inbox->WaitFor(2));
}

TEST_F(WireInput, AFrameOfExactlyTheMaximumSizeIsReadNotCut) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  RawConnection raw(ana);
  ASSERT_TRUE(raw.WaitConnected());
  ASSERT_TRUE(raw.Send(HelloFrame(1)));
  std::optional<RawReply> hello = raw.WaitForReply(1);
  ASSERT_TRUE(hello.has_value());
  ASSERT_EQ(hello->type, wire::Body::HelloReply) << DescribeReply(*hello);

  // "A frame larger than max_frame_bytes cuts the connection": one of exactly
  // that size is read, and (being no ChatPro frame) answered with an error.
  ASSERT_TRUE(raw.Send(std::string(hello->max_frame_bytes, 'z')));
  std::optional<RawReply> reply = raw.WaitForReply(0);
  ASSERT_TRUE(reply.has_value()) << "a frame of exactly max_frame_bytes ("
                                 << hello->max_frame_bytes << ") got no answer";
  EXPECT_EQ(reply->error_code, wire::ErrorCode::InvalidArgument) << DescribeReply(*reply);
}

// ------------------------------------------------------------------ frame limit

TEST_F(ConfiguredFrameLimit, PicturesSentTogetherAllArriveUnderAConfiguredFrameLimit) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  EXPECT_EQ(ana_client->session().max_frame_bytes, kMaxFrameBytes)
      << "HelloReply does not tell the frame limit the broker enforces";

  // Each picture is well within the attachment limit; together they exceed
  // one frame, so the client must not pack them into one.
  std::vector<client::Content> pictures;
  std::vector<std::future<SendResult>> futures;
  for (std::uint32_t i = 0; i < 4; ++i) pictures.push_back(MakePicture(400 * 1024, 0, 60 + i));
  for (const auto& p : pictures) futures.push_back(ana_client->Send(Target::User("ben"), p));
  for (auto& f : futures) {
    ASSERT_OK_AND_ASSIGN(SendResult r, Await(f));
    ASSERT_TRUE(r.status.ok()) << r.status;
  }
  ASSERT_TRUE(ben_inbox->WaitFor(pictures.size()));
  std::vector<client::Message> got = ben_inbox->messages();
  for (std::size_t i = 0; i < pictures.size(); ++i) {
    EXPECT_TRUE(SameContent(pictures[i], got[i].content));
  }
}

// ------------------------------------------------------------------ data directory

TEST_F(DataDirectory, ASecondBrokerOnTheSameDataDirectoryExitsNamingItAndTheFirstKeepsServing) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  const std::string dir = fs::canonical(broker_->data_dir()).string();

  RunResult second =
      RunProgram({BrokerPath(), "--data-dir", broker_->data_dir(), "--listen",
                  "tcp://127.0.0.1:" + std::to_string(PickFreePort())},
                 dir_->path());
  ASSERT_FALSE(second.timed_out) << "the second broker kept running:\n" << second.out << second.err;
  EXPECT_GT(second.exit_code, 0) << DescribeExit(second.exit_code) << "\n" << second.err;
  EXPECT_NE((second.out + second.err).find(dir), std::string::npos)
      << "the message does not name the data directory " << dir << ":\n"
      << second.out << second.err;

  RunResult init = RunProgram({BrokerPath(), "--data-dir", broker_->data_dir(), "--listen",
                               broker_->endpoint(), "--init-admin", "other"},
                              dir_->path());
  ASSERT_FALSE(init.timed_out);
  EXPECT_GT(init.exit_code, 0) << "--init-admin wrote to a store in use:\n" << init.out << init.err;
  EXPECT_NE((init.out + init.err).find(dir), std::string::npos) << init.out << init.err;

  // The first broker did not notice.
  auto ben_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  auto f = ana_client->Send(Target::User("ben"), MakeText("still the one broker"));
  ASSERT_OK_AND_ASSIGN(SendResult r, Await(f));
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_TRUE(ben_inbox->WaitFor(1));
  EXPECT_EQ(TextOf(ben_inbox->messages()[0]), "still the one broker");
}

}  // namespace
}  // namespace chatpro::testing
