// SPDX-License-Identifier: Apache-2.0
//
// Directory and ConversationTable: validation rules, and what they persist.
#include "broker/core/directory.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/core/conversations.h"
#include "broker/core/in_memory_message_store.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("€ 日本 \xF0\x9F\x98\x80"));
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(Utf8, RejectsMalformedText) {
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation byte
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // cut short
  EXPECT_FALSE(IsValidUtf8("\xE2\x28\xA1"));      // bad continuation
}

TEST(Directory, LoginNamesUseOnlyTheAllowedCharacters) {
  for (std::string ok :
       std::vector<std::string>{"a", "9lives", "ana.lopez", "jo_ann-2", std::string(32, 'z')}) {
    EXPECT_TRUE(Directory::ValidateLogin(ok).ok()) << ok;
  }
  for (std::string bad :
       std::vector<std::string>{"", "Ana", "ana lopez", ".ana", "_ana", "-ana", "ana@example.org",
                                "anä", std::string(33, 'z'), std::string("a\0b", 3)}) {
    Status st = Directory::ValidateLogin(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(st.message().empty());
  }
}

TEST(Directory, DisplayNamesAreShortPrintableUtf8) {
  EXPECT_TRUE(Directory::ValidateDisplayName("Ana López").ok());
  EXPECT_TRUE(Directory::ValidateDisplayName(std::string(64, 'a')).ok());
  EXPECT_TRUE(Directory::ValidateDisplayName(Repeat("é", 64)).ok());
  EXPECT_TRUE(Directory::ValidateDisplayName(Repeat("\xF0\x9F\x98\x80", 64)).ok());
  EXPECT_FALSE(Directory::ValidateDisplayName("").ok());
  EXPECT_FALSE(Directory::ValidateDisplayName(std::string(65, 'a')).ok());
  EXPECT_FALSE(Directory::ValidateDisplayName(Repeat("é", 65)).ok());
  EXPECT_FALSE(Directory::ValidateDisplayName("tab\there").ok());
  EXPECT_FALSE(Directory::ValidateDisplayName("new\nline").ok());
  EXPECT_FALSE(Directory::ValidateDisplayName("del\x7F").ok());
  EXPECT_FALSE(Directory::ValidateDisplayName("bad \xFF").ok());
}

TEST(Directory, UsersDevicesAndInvitesSurviveALoad) {
  InMemoryMessageStore store;
  WriteBatch batch;
  Directory d;
  Result<const User*> ana = d.AddUser("ana", "Ana", Role::Admin, 111, &batch);
  ASSERT_TRUE(ana.ok());
  Result<const User*> ben = d.AddUser("ben", "Ben", Role::User, 222, &batch);
  ASSERT_TRUE(ben.ok());
  EXPECT_EQ(d.AddUser("ana", "Other", Role::User, 333, &batch).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(d.AddUser("Bad", "Bad", Role::User, 333, &batch).status().code(),
            StatusCode::kInvalidArgument);
  std::string key(32, 'k');
  Result<const Device*> phone = d.AddDevice((*ana)->id, key, "phone", "v1", 444, &batch);
  ASSERT_TRUE(phone.ok());
  EXPECT_EQ(d.AddDevice((*ben)->id, key, "copy", "v1", 444, &batch).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(d.AddDevice(UserId(99), std::string(32, 'x'), "x", "v1", 444, &batch).status().code(),
            StatusCode::kNotFound);
  d.AddEnrollment((*ben)->id, std::string(32, 'e'), 500, 1000, &batch);
  d.AddEnrollment((*ben)->id, std::string(32, 'f'), 500, 1000, &batch);
  d.RemoveEnrollment(std::string(32, 'f'), &batch);
  ASSERT_TRUE(store.Write(batch, true).ok());

  Directory loaded;
  ASSERT_TRUE(loaded.Load(store).ok());
  EXPECT_EQ(loaded.user_count(), 2u);
  const User* a = loaded.FindUserByLogin("ana");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->display_name, "Ana");
  EXPECT_EQ(a->role, Role::Admin);
  EXPECT_EQ(a->created_at_us, 111);
  ASSERT_EQ(a->devices.size(), 1u);
  const Device* dev = loaded.FindDeviceByKey(key);
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->user, a->id);
  EXPECT_EQ(dev->name, "phone");
  const Enrollment* e = loaded.FindEnrollment(std::string(32, 'e'), 999);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->user, (*ben)->id);
  EXPECT_EQ(loaded.FindEnrollment(std::string(32, 'e'), 1000), nullptr);  // expired
  EXPECT_EQ(loaded.FindEnrollment(std::string(32, 'f'), 600), nullptr);   // used
  // Ids go on after the highest loaded one.
  WriteBatch more;
  Result<const User*> cai = loaded.AddUser("cai", "Cai", Role::User, 1, &more);
  ASSERT_TRUE(cai.ok());
  EXPECT_GT((*cai)->id, (*ben)->id);
  std::vector<const User*> users = loaded.Users();
  ASSERT_EQ(users.size(), 3u);
  EXPECT_EQ(users[0]->login, "ana");
  EXPECT_EQ(users[2]->login, "cai");
}

TEST(Directory, DamagedUserRecordIsDataLoss) {
  InMemoryMessageStore store;
  WriteBatch batch;
  batch.records.push_back({RecordKind::kUser, store_keys::U64Key(1), std::string("junk")});
  ASSERT_TRUE(store.Write(batch, true).ok());
  Directory d;
  EXPECT_EQ(d.Load(store).code(), StatusCode::kDataLoss);
}

TEST(ConversationTable, GroupNamesAreShortPrintableUtf8) {
  EXPECT_TRUE(ConversationTable::ValidateGroupName("Night shift").ok());
  EXPECT_TRUE(ConversationTable::ValidateGroupName(std::string(100, 'g')).ok());
  EXPECT_TRUE(ConversationTable::ValidateGroupName(Repeat("日", 100)).ok());
  EXPECT_TRUE(ConversationTable::ValidateGroupName(Repeat("\xF0\x9F\x98\x80", 100)).ok());
  EXPECT_FALSE(ConversationTable::ValidateGroupName("").ok());
  EXPECT_FALSE(ConversationTable::ValidateGroupName(std::string(101, 'g')).ok());
  EXPECT_FALSE(ConversationTable::ValidateGroupName(Repeat("日", 101)).ok());
  EXPECT_FALSE(ConversationTable::ValidateGroupName("line\nbreak").ok());
  EXPECT_FALSE(ConversationTable::ValidateGroupName("bad \xC0\x80").ok());
}

TEST(ConversationTable, DirectConversationIsFoundFromEitherSide) {
  ConversationTable t;
  WriteBatch batch;
  Conversation* c = t.CreateDirect(UserId(1), UserId(2), 10, &batch);
  EXPECT_EQ(t.FindDirect(UserId(1), UserId(2)), c);
  EXPECT_EQ(t.FindDirect(UserId(2), UserId(1)), c);
  EXPECT_EQ(t.FindDirect(UserId(1), UserId(3)), nullptr);
  EXPECT_EQ(c->kind, wire::ConversationKind::Direct);
  EXPECT_EQ(c->members.size(), 2u);
  EXPECT_EQ(t.ConversationsOf(UserId(2)).count(c->id), 1u);
  EXPECT_EQ(batch.records.size(), 1u);
}

TEST(ConversationTable, MembersJoinAtTheNextSeqAndOwnershipPassesOn) {
  ConversationTable t;
  WriteBatch batch;
  Result<Conversation*> g =
      t.CreateGroup("team", UserId(1), {UserId(2), UserId(3), UserId(1)}, 10, &batch);
  ASSERT_TRUE(g.ok());
  Conversation* c = *g;
  ASSERT_EQ(c->members.size(), 3u);  // the creator once
  EXPECT_TRUE(c->IsOwner(UserId(1)));
  EXPECT_FALSE(c->IsOwner(UserId(2)));

  c->next_seq = 7;
  t.AddMember(c, UserId(4), false, &batch);
  EXPECT_EQ(c->FindMember(UserId(4))->joined_seq, 7u);
  // Adding again changes nothing but may promote.
  t.AddMember(c, UserId(4), true, &batch);
  EXPECT_EQ(c->FindMember(UserId(4))->joined_seq, 7u);
  EXPECT_TRUE(c->IsOwner(UserId(4)));

  t.RemoveMember(c, UserId(4), &batch);
  t.RemoveMember(c, UserId(1), &batch);
  EXPECT_FALSE(c->IsOwner(UserId(2)));
  // No owner left: the longest-standing active member becomes owner.
  auto active = [](UserId u) { return u != UserId(2); };
  EXPECT_EQ(t.EnsureActiveOwner(c, active, &batch), UserId(3));
  EXPECT_TRUE(c->IsOwner(UserId(3)));
  EXPECT_FALSE(c->IsOwner(UserId(2)));
  // With an active owner, nobody else is promoted.
  EXPECT_FALSE(t.EnsureActiveOwner(c, active, &batch).valid());
  EXPECT_EQ(t.ConversationsOf(UserId(1)).count(c->id), 0u);
  EXPECT_FALSE(t.CreateGroup("", UserId(1), {}, 10, &batch).ok());
}

TEST(ConversationTable, ConversationsSurviveALoadWithTheirHeads) {
  InMemoryMessageStore store;
  WriteBatch batch;
  ConversationId direct;
  ConversationId group;
  {
    ConversationTable t;
    direct = t.CreateDirect(UserId(1), UserId(2), 10, &batch)->id;
    Result<Conversation*> g = t.CreateGroup("team", UserId(1), {UserId(3)}, 20, &batch);
    ASSERT_TRUE(g.ok());
    group = (*g)->id;
    (*g)->next_seq = 2;
    t.AddMember(*g, UserId(4), false, &batch);
    batch.messages.push_back({group, 1, "m1"});
    batch.messages.push_back({group, 2, "m2"});
    ASSERT_TRUE(store.Write(batch, true).ok());
  }
  ConversationTable loaded;
  ASSERT_TRUE(loaded.Load(store).ok());
  EXPECT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded.FindDirect(UserId(2), UserId(1))->id, direct);
  const Conversation* g = loaded.Find(group);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->name, "team");
  EXPECT_EQ(g->committed_seq, 2u);
  EXPECT_EQ(g->next_seq, 2u);
  EXPECT_EQ(g->FindMember(UserId(4))->joined_seq, 2u);
  EXPECT_TRUE(g->IsOwner(UserId(1)));
  EXPECT_EQ(loaded.ConversationsOf(UserId(4)).count(group), 1u);
  WriteBatch more;
  EXPECT_GT(loaded.CreateDirect(UserId(5), UserId(6), 30, &more)->id, group);
}

TEST(Directory, DeviceKeysAreKnownByKindAndBytes) {
  InMemoryMessageStore store;
  WriteBatch batch;
  Directory d;
  Result<const User*> ana = d.AddUser("ana", "Ana", Role::User, 1, &batch);
  ASSERT_TRUE(ana.ok());
  std::string key(32, 'k');
  ASSERT_TRUE(d.AddDevice((*ana)->id, key, "laptop", "v1", 2, &batch).ok());
  // The same bytes as a browser's Ed25519 key are another key.
  Result<const Device*> browser =
      d.AddDevice((*ana)->id, key, "browser", "web/1", 3, &batch, KeyKind::Ed25519);
  ASSERT_TRUE(browser.ok()) << browser.status();
  EXPECT_EQ(d.AddDevice((*ana)->id, key, "again", "web/1", 4, &batch, KeyKind::Ed25519)
                .status()
                .code(),
            StatusCode::kAlreadyExists);
  ASSERT_TRUE(store.Write(batch, true).ok());

  Directory loaded;
  ASSERT_TRUE(loaded.Load(store).ok());
  const Device* curve = loaded.FindDeviceByKey(key);
  const Device* web = loaded.FindDeviceByKey(key, KeyKind::Ed25519);
  ASSERT_NE(curve, nullptr);
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(curve->name, "laptop");
  EXPECT_EQ(curve->key_kind, KeyKind::Curve25519);
  EXPECT_EQ(web->name, "browser");
  EXPECT_EQ(web->key_kind, KeyKind::Ed25519);
}

TEST(Directory, DeviceRecordsFromBeforeKeyKindsAreCurveKeys) {
  InMemoryMessageStore store;
  WriteBatch batch;
  Directory d;
  Result<const User*> ana = d.AddUser("ana", "Ana", Role::User, 1, &batch);
  ASSERT_TRUE(ana.ok());
  // A device record as brokers wrote it before DeviceRecord had key_kind.
  flatbuffers::FlatBufferBuilder fbb;
  std::string key(32, 'o');
  auto key_bytes = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(key.data()), key.size());
  auto name = fbb.CreateString("old phone");
  store::DeviceRecordBuilder record(fbb);
  record.add_id(7);
  record.add_user_id((*ana)->id.value());
  record.add_public_key(key_bytes);
  record.add_name(name);
  record.add_active(true);
  fbb.Finish(record.Finish());
  batch.records.push_back({RecordKind::kDevice, store_keys::U64Key(7),
                           std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()),
                                       fbb.GetSize())});
  ASSERT_TRUE(store.Write(batch, true).ok());

  Directory loaded;
  ASSERT_TRUE(loaded.Load(store).ok());
  const Device* old = loaded.FindDeviceByKey(key);
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->name, "old phone");
  EXPECT_EQ(old->key_kind, KeyKind::Curve25519);
  EXPECT_EQ(loaded.FindDeviceByKey(key, KeyKind::Ed25519), nullptr);
}

TEST(Directory, DeviceRecordWithAnUnknownKeyKindIsDataLoss) {
  InMemoryMessageStore store;
  WriteBatch batch;
  Directory d;
  Result<const User*> ana = d.AddUser("ana", "Ana", Role::User, 1, &batch);
  ASSERT_TRUE(ana.ok());
  flatbuffers::FlatBufferBuilder fbb;
  std::string key(32, 'n');
  auto key_bytes = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(key.data()), key.size());
  fbb.Finish(store::CreateDeviceRecord(fbb, 7, (*ana)->id.value(), key_bytes, 0, 0, 0, true, 0, 0,
                                       0, static_cast<wire::KeyKind>(42)));
  batch.records.push_back({RecordKind::kDevice, store_keys::U64Key(7),
                           std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()),
                                       fbb.GetSize())});
  ASSERT_TRUE(store.Write(batch, true).ok());
  Directory loaded;
  EXPECT_EQ(loaded.Load(store).code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace chatpro::core
