// SPDX-License-Identifier: Apache-2.0
//
// Four eyes on people's messages, end to end: a case needs a legal basis, a
// requester and an approver of the other role; its export is a zip of the
// scope and nothing else, downloaded with the CLI and read here as a records
// officer would open it; the person concerned sees the access after the
// embargo. Driven through libchatpro and the chatpro CLI.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <string>
#include <vector>

#include "tests/cli_fixture.h"
#include "tests/zip_reader.h"

namespace chatpro::testing {
namespace {

using client::Target;

class Cases : public CliBrokerTest {
 protected:
  BrokerProcessOptions BrokerOptions() const override {
    BrokerProcessOptions o;
    o.extra_args = {"--set", "cases.embargo=" + embargo_};
    return o;
  }

  void SetUp() override {
    CliBrokerTest::SetUp();
    // Ana and Carl write to Ben; Ana and Carl also talk without him.
    Result<client::Profile> ana = AddUser("ana");
    Result<client::Profile> ben = AddUser("ben");
    Result<client::Profile> carl = AddUser("carl");
    ASSERT_TRUE(ana.ok() && ben.ok() && carl.ok());
    ben_ = *ben;
    Result<client::Profile> audrey = AddUserWithRole("audrey", client::Role::kAuditor);
    ASSERT_TRUE(audrey.ok()) << audrey.status();
    audrey_ = *audrey;
    ASSERT_OK_AND_ASSIGN(auto ana_client, Connect(*ana, nullptr));
    ASSERT_OK_AND_ASSIGN(auto carl_client, Connect(*carl, nullptr));
    for (const auto& [from, to, text] :
         std::vector<std::tuple<client::Client*, std::string, std::string>>{
             {ana_client.get(), "ben", "Quarterly <figures> attached"},
             {carl_client.get(), "ben", "Lunch on Friday?"},
             {ana_client.get(), "carl", "Between the two of us: nothing for the case"}}) {
      client::SendResult r = SendAndWait(*from, Target::User(to), MakeText(text));
      ASSERT_TRUE(r.status.ok()) << r.status;
    }
  }

  client::CaseRequest SubjectAccessForBen() {
    client::CaseRequest r;
    r.kind = client::CaseKind::kSubjectAccess;
    r.legal_basis = "GDPR art. 15 request of 2026-11-20";
    r.subjects = {"ben"};
    r.redact_others = true;
    return r;
  }

  std::string embargo_ = "0s";
  client::Profile ben_;
  client::Profile audrey_;
};

TEST_F(Cases, NobodyApprovesTheirOwnCaseOrOneOfTheirOwnRoleAndNothingIsExportedUnapproved) {
  client::CaseRequest no_basis = SubjectAccessForBen();
  no_basis.legal_basis.clear();
  EXPECT_EQ(root_->OpenCase(no_basis).status().code(), StatusCode::kInvalidArgument);
  client::CaseRequest nobody = SubjectAccessForBen();
  nobody.subjects = {"nobody"};
  EXPECT_EQ(root_->OpenCase(nobody).status().code(), StatusCode::kNotFound);

  ASSERT_OK_AND_ASSIGN(client::CaseInfo opened, root_->OpenCase(SubjectAccessForBen()));
  EXPECT_EQ(opened.state, "awaiting approval");
  EXPECT_EQ(opened.requested_by, "root");
  EXPECT_EQ(root_->StartExport(opened.id).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(root_->ApproveCase(opened.id).status().code(), StatusCode::kPermissionDenied);

  // Another administrator is the same role: no.
  ASSERT_OK_AND_ASSIGN(client::Profile admin2, AddUserWithRole("adam", client::Role::kAdmin));
  ASSERT_OK_AND_ASSIGN(auto adam, Connect(admin2, nullptr));
  EXPECT_EQ(adam->ApproveCase(opened.id).status().code(), StatusCode::kPermissionDenied);
  // A plain user may neither open nor approve.
  ASSERT_OK_AND_ASSIGN(auto ben, Connect(ben_, nullptr));
  EXPECT_EQ(ben->OpenCase(SubjectAccessForBen()).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ben->ApproveCase(opened.id).status().code(), StatusCode::kPermissionDenied);

  // The auditor may.
  RunResult approve = Cli(ProfileDir("audrey"), {"admin", "case", "approve", std::to_string(opened.id)});
  ASSERT_EQ(approve.exit_code, 0) << approve.out << approve.err;
  ASSERT_OK_AND_ASSIGN(std::vector<client::CaseInfo> cases, root_->ListCases());
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].state, "approved");
  EXPECT_EQ(cases[0].approved_by, "audrey");
  EXPECT_GT(cases[0].approval_expires_at_us, cases[0].approved_at_us);

  ASSERT_OK_AND_ASSIGN(std::vector<client::AuditEntryInfo> audit, root_->AdminListAudit(1, 1000));
  std::vector<std::string> actions;
  for (const auto& e : audit) actions.push_back(e.action);
  for (const char* a : {"case.open", "case.refused", "case.approve"}) {
    EXPECT_NE(std::find(actions.begin(), actions.end(), a), actions.end()) << a;
  }
}

TEST_F(Cases, ASubjectAccessExportHoldsTheSubjectsMessagesWithOthersRedactedAndNothingElse) {
  ASSERT_OK_AND_ASSIGN(client::CaseInfo opened, root_->OpenCase(SubjectAccessForBen()));
  ASSERT_OK_AND_ASSIGN(auto audrey, Connect(audrey_, nullptr));
  ASSERT_OK(audrey->ApproveCase(opened.id).status());

  ASSERT_OK_AND_ASSIGN(std::string cli, RootCliProfile());
  RunResult start = Cli(cli, {"admin", "export", "start", std::to_string(opened.id), "--wait"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  ASSERT_OK_AND_ASSIGN(client::ExportInfo info, root_->ExportStatus(opened.id));
  ASSERT_TRUE(info.done()) << info.state << " " << info.error;
  EXPECT_EQ(info.messages, 2u);

  std::string zip = dir_->Sub("case.zip");
  RunResult download = Cli(cli, {"admin", "export", "download", std::to_string(info.id), "--output", zip});
  ASSERT_EQ(download.exit_code, 0) << download.out << download.err;
  struct stat st {};
  ASSERT_EQ(::stat(zip.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::map<std::string, std::string> members = ReadZip(zip);
  ASSERT_EQ(members.count("messages.jsonl"), 1u);
  ASSERT_EQ(members.count("transcript.html"), 1u);
  ASSERT_EQ(members.count("manifest.json"), 1u);
  const std::string& lines = members["messages.jsonl"];
  EXPECT_TRUE(Contains(lines, "Quarterly <figures> attached")) << lines;
  EXPECT_TRUE(Contains(lines, "Lunch on Friday?")) << lines;
  EXPECT_FALSE(Contains(lines, "nothing for the case")) << lines;  // not Ben's
  EXPECT_EQ(Lines(lines).size(), 2u) << lines;
  // Other people are pseudonyms, the same one throughout; Ben is named.
  EXPECT_TRUE(Contains(lines, "Direct chat: Person 1 and ben")) << lines;
  EXPECT_FALSE(Contains(lines, "\"ana\"")) << lines;
  EXPECT_FALSE(Contains(lines, "\"carl\"")) << lines;
  EXPECT_TRUE(Contains(lines, "Person 1")) << lines;
  EXPECT_TRUE(Contains(lines, "Person 2")) << lines;
  const std::string& html = members["transcript.html"];
  EXPECT_TRUE(Contains(html, "Quarterly &lt;figures&gt; attached")) << html;
  EXPECT_FALSE(Contains(html, "<figures>")) << html;
  EXPECT_TRUE(Contains(members["manifest.json"], "GDPR art. 15 request of 2026-11-20"));
  EXPECT_TRUE(Contains(members["manifest.json"], "audrey"));

  // Ben sees that his data was accessed (no embargo in this configuration).
  ASSERT_OK_AND_ASSIGN(auto ben, Connect(ben_, nullptr));
  ASSERT_OK_AND_ASSIGN(std::vector<client::CaseInfo> seen, ben->MyDataAccess());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].legal_basis, "GDPR art. 15 request of 2026-11-20");
  ben.reset();
  RunResult mine = Cli(ProfileDir("ben"), {"my-data-access"});
  EXPECT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_TRUE(Contains(mine.out, "GDPR art. 15")) << mine.out;

  ASSERT_OK_AND_ASSIGN(std::vector<client::AuditEntryInfo> audit, root_->AdminListAudit(1, 1000));
  std::vector<std::string> actions;
  for (const auto& e : audit) actions.push_back(e.action);
  for (const char* a : {"export.start", "export.finish", "export.download"}) {
    EXPECT_NE(std::find(actions.begin(), actions.end(), a), actions.end()) << a;
  }
}

TEST_F(Cases, ASearchExportHoldsOnlyWhatMatchesTheKeyword) {
  ASSERT_OK_AND_ASSIGN(std::string cli, RootCliProfile());
  RunResult open = Cli(cli, {"admin", "case", "open", "--kind", "search", "--basis",
                             "investigation INV-9", "--subject", "ben", "--keyword", "lunch"});
  ASSERT_EQ(open.exit_code, 0) << open.out << open.err;
  ASSERT_OK_AND_ASSIGN(std::vector<client::CaseInfo> cases, root_->ListCases());
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].kind, client::CaseKind::kSearch);
  EXPECT_EQ(cases[0].keyword, "lunch");
  std::optional<std::uint64_t> id = cases[0].id;
  RunResult approve = Cli(ProfileDir("audrey"), {"admin", "case", "approve", std::to_string(*id)});
  ASSERT_EQ(approve.exit_code, 0) << approve.out << approve.err;
  RunResult start = Cli(cli, {"admin", "export", "start", std::to_string(*id), "--wait"});
  ASSERT_EQ(start.exit_code, 0) << start.out << start.err;
  std::string zip = dir_->Sub("search.zip");
  RunResult download = Cli(cli, {"admin", "export", "download", std::to_string(*id), "--output", zip});
  ASSERT_EQ(download.exit_code, 0) << download.out << download.err;
  std::map<std::string, std::string> members = ReadZip(zip);
  const std::string& lines = members["messages.jsonl"];
  EXPECT_EQ(Lines(lines).size(), 1u) << lines;
  EXPECT_TRUE(Contains(lines, "Lunch on Friday?")) << lines;
  EXPECT_TRUE(Contains(lines, "\"carl\"")) << lines;  // not redacted unless asked
}

class CasesUnderEmbargo : public Cases {
 protected:
  CasesUnderEmbargo() { embargo_ = "30d"; }
};

TEST_F(CasesUnderEmbargo, ThePersonConcernedSeesNothingBeforeTheEmbargoEnds) {
  ASSERT_OK_AND_ASSIGN(client::CaseInfo opened, root_->OpenCase(SubjectAccessForBen()));
  ASSERT_OK_AND_ASSIGN(auto audrey, Connect(audrey_, nullptr));
  ASSERT_OK(audrey->ApproveCase(opened.id).status());
  ASSERT_OK_AND_ASSIGN(auto ben, Connect(ben_, nullptr));
  ASSERT_OK_AND_ASSIGN(std::vector<client::CaseInfo> seen, ben->MyDataAccess());
  EXPECT_TRUE(seen.empty());
}

}  // namespace
}  // namespace chatpro::testing
