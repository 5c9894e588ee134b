// SPDX-License-Identifier: Apache-2.0
//
// Who gets what: every device of a user, devices enrolled later, members who
// join a group late and members who are removed.
#include <gtest/gtest.h>

#include "tests/chat_fixture.h"

namespace chatpro::testing {
namespace {

using client::Content;
using client::Message;
using client::Profile;
using client::SendResult;
using client::Target;

class Devices : public BrokerTest {};
class GroupMembership : public BrokerTest {};

// Sends and waits for the acknowledgement; fails the test on error.
SendResult SendOk(client::Client& from, const Target& to, const Content& content) {
  auto future = from.Send(to, content);
  Result<SendResult> r = Await(future);
  if (!r.ok()) {
    ADD_FAILURE() << r.status();
    return {};
  }
  EXPECT_TRUE(r->status.ok()) << r->status;
  return *r;
}

std::vector<std::uint64_t> Seqs(const std::vector<Message>& messages, std::uint64_t conversation) {
  std::vector<std::uint64_t> seqs;
  for (const Message& m : messages) {
    if (m.conversation_id == conversation) seqs.push_back(m.seq);
  }
  return seqs;
}

TEST_F(Devices, EveryDeviceOfAUserGetsEveryMessageAndANewDeviceStartsAtTheBeginning) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben_phone, AddUser("ben"));
  auto ana_inbox = std::make_shared<Inbox>();
  auto phone_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, ana_inbox));
  ASSERT_OK_AND_ASSIGN(auto phone, Connect(ben_phone, phone_inbox));

  // Ben invites his laptop himself.
  ASSERT_OK_AND_ASSIGN(client::InviteInfo invite, phone->CreateInvite(""));
  ASSERT_OK_AND_ASSIGN(Profile ben_laptop, client::Enroll(ProfileDir("ben-laptop"), invite.invite));
  EXPECT_EQ(ben_laptop.login, "ben");
  EXPECT_NE(ben_laptop.device_id, ben_phone.device_id);
  auto laptop_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto laptop, Connect(ben_laptop, laptop_inbox));

  const std::vector<Content> to_ben = {MakeText("one"), MakeVoice(5000, 91),
                                       MakePicture(20000, 500, 92)};
  for (const Content& c : to_ben) SendOk(*ana_client, Target::User("ben"), c);
  // Ben answers from his phone; his laptop shows the answer too.
  SendResult answer = SendOk(*phone, Target::User("ana"), MakeText("from my phone"));
  ASSERT_EQ(answer.seq, 4u);

  const std::vector<std::pair<std::string, std::shared_ptr<Inbox>>> readers = {
      {"phone", phone_inbox}, {"laptop", laptop_inbox}, {"ana", ana_inbox}};
  for (const auto& [name, inbox] : readers) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(inbox->WaitFor(4)) << name << " got " << inbox->size() << " of 4";
    std::vector<Message> got = inbox->messages();
    for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(got[i].seq, i + 1);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(SameContent(to_ben[i], got[i].content));
    EXPECT_EQ(got[3].sender, "ben");
    EXPECT_EQ(got[3].sender_device_id, ben_phone.device_id);
    EXPECT_EQ(TextOf(got[3]), "from my phone");
  }

  // A tablet enrolled later (an administrator's invite) gets the whole chat.
  ASSERT_OK_AND_ASSIGN(client::InviteInfo admin_invite, root_->CreateInvite("ben"));
  EXPECT_EQ(admin_invite.login, "ben");
  ASSERT_OK_AND_ASSIGN(Profile ben_tablet,
                       client::Enroll(ProfileDir("ben-tablet"), admin_invite.invite));
  auto tablet_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto tablet, Connect(ben_tablet, tablet_inbox));
  ASSERT_TRUE(tablet_inbox->WaitFor(4)) << "the new device got " << tablet_inbox->size() << " of 4";
  std::vector<Message> got = tablet_inbox->messages();
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(got[i].seq, i + 1);
  EXPECT_TRUE(SameContent(to_ben[2], got[2].content));
}

TEST_F(GroupMembership, ALateMemberReadsFromJoiningAndARemovedMemberGetsNothingAfter) {
  ASSERT_OK_AND_ASSIGN(Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(Profile ben, AddUser("ben"));
  ASSERT_OK_AND_ASSIGN(Profile cai, AddUser("cai"));
  auto ben_inbox = std::make_shared<Inbox>();
  auto cai_inbox = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  ASSERT_OK_AND_ASSIGN(auto ben_client, Connect(ben, ben_inbox));
  ASSERT_OK_AND_ASSIGN(auto cai_client, Connect(cai, cai_inbox));

  ASSERT_OK_AND_ASSIGN(client::Conversation group, ana_client->CreateGroup("Kitchen", {"ben"}));
  const Target to_group = Target::Conversation(group.id);
  SendOk(*ana_client, to_group, MakeText("before cai"));

  ASSERT_OK_AND_ASSIGN(client::Conversation with_cai, ana_client->AddMembers(group.id, {"cai"}, false));
  EXPECT_EQ(with_cai.members.size(), 3u);
  EXPECT_TRUE(cai_inbox->WaitForConversation(group.id)) << "cai was not told he joined";
  SendOk(*ana_client, to_group, MakeText("welcome cai"));

  ASSERT_TRUE(cai_inbox->WaitFor(1));
  EXPECT_EQ(TextOf(cai_inbox->messages()[0]), "welcome cai")
      << "a member added later read what was sent before he joined";
  ASSERT_OK_AND_ASSIGN(client::HistoryPage cai_history,
                       cai_client->History(to_group, client::HistoryQuery{}));
  ASSERT_EQ(cai_history.messages.size(), 1u);
  EXPECT_EQ(cai_history.messages[0].seq, 2u);

  ASSERT_OK_AND_ASSIGN(client::Conversation without_ben, ana_client->RemoveMember(group.id, "ben"));
  EXPECT_EQ(without_ben.members.size(), 2u);
  SendOk(*ana_client, to_group, MakeText("ben has left"));
  // A direct message after it: ben's session would have had the group
  // message before this one.
  SendOk(*ana_client, Target::User("ben"), MakeText("see you"));

  ASSERT_TRUE(ben_inbox->WaitUntil([](const std::vector<Message>& all) {
    for (const Message& m : all) {
      if (TextOf(m) == "see you") return true;
    }
    return false;
  }));
  EXPECT_EQ(Seqs(ben_inbox->messages(), group.id), (std::vector<std::uint64_t>{1, 2}))
      << "a removed member got a message sent after the removal";
  ASSERT_TRUE(cai_inbox->WaitFor(2));
  EXPECT_EQ(TextOf(cai_inbox->messages()[1]), "ben has left");

  // Ben can neither read nor post there any more, also from a new session.
  Result<client::HistoryPage> ben_history = ben_client->History(to_group, client::HistoryQuery{});
  ASSERT_FALSE(ben_history.ok());
  EXPECT_EQ(ben_history.status().code(), StatusCode::kPermissionDenied) << ben_history.status();
  auto post = ben_client->Send(to_group, MakeText("let me back in"));
  ASSERT_OK_AND_ASSIGN(SendResult refused, Await(post));
  EXPECT_EQ(refused.status.code(), StatusCode::kPermissionDenied) << refused.status;
  ben_client.reset();
  auto again = std::make_shared<Inbox>();
  ASSERT_OK_AND_ASSIGN(auto ben_again, Connect(ben, again));
  ASSERT_OK_AND_ASSIGN(std::vector<client::Conversation> convs, ben_again->ListConversations());
  for (const auto& c : convs) EXPECT_NE(c.id, group.id) << "the group is still listed for ben";
}

}  // namespace
}  // namespace chatpro::testing
