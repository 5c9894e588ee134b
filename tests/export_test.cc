// SPDX-License-Identifier: Apache-2.0
//
// Cases and exports through the real broker process: a subject access case is
// opened by an administrator, approved by an auditor, exported into a zip file
// in the data directory (read from the encrypted store) and downloaded.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/chat_fixture.h"
#include "tests/raw_connection.h"

namespace chatpro::testing {
namespace {

using BodyFn = std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder&)>;

std::string OneEnvelope(std::uint64_t rid, wire::Body type, const BodyFn& body) {
  flatbuffers::FlatBufferBuilder fbb;
  auto b = body(fbb);
  std::vector<flatbuffers::Offset<wire::Envelope>> envelopes{wire::CreateEnvelope(fbb, rid, type, b)};
  auto v = fbb.CreateVector(envelopes);
  wire::FrameBuilder frame(fbb);
  frame.add_protocol_version(1);
  frame.add_envelopes(v);
  wire::FinishFrameBuffer(fbb, frame.Finish());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

wire::Body Ask(RawConnection& c, std::uint64_t rid, wire::Body type, const BodyFn& body,
               std::string* error = nullptr) {
  EXPECT_TRUE(c.Send(OneEnvelope(rid, type, body)));
  std::optional<RawReply> reply = c.WaitForReply(rid);
  if (!reply.has_value()) return wire::Body::NONE;
  if (error != nullptr) *error = reply->error_message;
  return reply->type;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

TEST_F(BrokerTest, ApprovedSubjectAccessCaseIsExportedAsAZipInTheDataDirectory) {
  ASSERT_OK_AND_ASSIGN(client::Profile ana, AddUser("ana"));
  ASSERT_OK_AND_ASSIGN(client::InviteInfo invite,
                       root_->AdminAddUser("audrey", "Audrey", client::Role::kAuditor));
  ASSERT_OK_AND_ASSIGN(client::Profile audrey, client::Enroll(ProfileDir("audrey"), invite.invite));
  ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(ana, nullptr));
  auto sent = ana_client->Send(client::Target::User("root"), MakeText("quarterly figures attached"));
  ASSERT_OK_AND_ASSIGN(client::SendResult ack, Await(sent));
  (void)ack;

  RawConnection admin(root_profile_);
  RawConnection auditor(audrey);
  ASSERT_TRUE(admin.WaitConnected());
  ASSERT_TRUE(auditor.WaitConnected());

  std::string error;
  EXPECT_EQ(Ask(admin, 1, wire::Body::CaseOpen, [](flatbuffers::FlatBufferBuilder& fbb) {
              auto basis = fbb.CreateString("SAR-1 (art. 15)");
              auto subjects = fbb.CreateVectorOfStrings(std::vector<std::string>{"ana"});
              return wire::CreateCaseOpen(fbb, wire::CaseKind::SubjectAccess, basis, subjects)
                  .Union();
            }, &error),
            wire::Body::CaseInfo)
      << error;
  // The requester cannot approve their own case.
  EXPECT_EQ(Ask(admin, 2, wire::Body::CaseApprove,
                [](flatbuffers::FlatBufferBuilder& fbb) {
                  return wire::CreateCaseApprove(fbb, 1).Union();
                }),
            wire::Body::Error);
  EXPECT_EQ(Ask(auditor, 3, wire::Body::CaseApprove,
                [](flatbuffers::FlatBufferBuilder& fbb) {
                  return wire::CreateCaseApprove(fbb, 1).Union();
                }, &error),
            wire::Body::CaseInfo)
      << error;
  EXPECT_EQ(Ask(admin, 4, wire::Body::ExportStart,
                [](flatbuffers::FlatBufferBuilder& fbb) {
                  return wire::CreateExportStart(fbb, 1).Union();
                }, &error),
            wire::Body::ExportInfo)
      << error;

  std::string zip = broker_->data_dir() + "/exports/export-1.zip";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!Exists(zip) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(Exists(zip)) << zip;
  struct stat st {};
  ASSERT_EQ(::stat(zip.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((broker_->data_dir() + "/exports").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::ifstream in(zip, std::ios::binary);
  std::string head(4, '\0');
  in.read(head.data(), 4);
  EXPECT_EQ(head, std::string("PK\x03\x04", 4));

  // The broker records the end on its next tick; then the file may be fetched.
  wire::Body chunk = wire::Body::NONE;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (std::uint64_t rid = 100; std::chrono::steady_clock::now() < deadline; ++rid) {
    chunk = Ask(admin, rid, wire::Body::ExportDownload, [](flatbuffers::FlatBufferBuilder& fbb) {
      return wire::CreateExportDownload(fbb, 1, 0).Union();
    }, &error);
    if (chunk == wire::Body::ExportChunk) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(chunk, wire::Body::ExportChunk) << error;

  if (std::system("command -v unzip >/dev/null 2>&1") == 0) {
    std::string out = broker_->data_dir() + "/unzipped.txt";
    std::string cmd = "unzip -p '" + zip + "' messages.jsonl manifest.json > '" + out + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::ifstream text(out);
    std::stringstream ss;
    ss << text.rdbuf();
    EXPECT_NE(ss.str().find("quarterly figures attached"), std::string::npos) << ss.str();
    EXPECT_NE(ss.str().find("\"approved_by\":\"audrey\""), std::string::npos) << ss.str();
  }
}

}  // namespace
}  // namespace chatpro::testing
