// SPDX-License-Identifier: Apache-2.0
//
// Cases and exports: the four-eyes rules, approval expiry, the embargo of
// MyDataAccess, and what an export holds (scope, redaction, escaping). The
// exports go through a directory-based archive, so these tests need no zip
// library (broker/export_zip has its own tests).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "broker/core/case_export.h"
#include "broker/core/tests/broker_harness.h"

namespace chatpro::core::testing {
namespace {

namespace fs = std::filesystem;

// An "archive" that is a folder: <path>.members/<name> holds each member (the
// core writes to export-N.zip.part and renames it when complete), and
// the archive file itself lists the members, one per line.
class DirectoryArchive final : public ExportArchive {
 public:
  explicit DirectoryArchive(std::string path) : path_(std::move(path)) {}
  Status AddFile(std::string_view name, const std::string& source_path) override {
    fs::path target = fs::path(path_ + ".members") / std::string(name);
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    fs::copy_file(source_path, target, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IoError(ec.message());
    names_ += std::string(name) + "\n";
    return Status::Ok();
  }
  Status Finish() override {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << names_;
    return out ? Status::Ok() : Status::IoError("cannot write " + path_);
  }

 private:
  std::string path_;
  std::string names_;
};

ExportArchiveFactory DirectoryArchives() {
  return [](const std::string& path) -> Result<std::unique_ptr<ExportArchive>> {
    return std::unique_ptr<ExportArchive>(new DirectoryArchive(path));
  };
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

struct CaseView {
  std::uint64_t id = 0;
  wire::CaseKind kind = wire::CaseKind::SubjectAccess;
  std::string state;
  std::string legal_basis;
  std::vector<std::string> subjects;
  std::string keyword;
  std::string requested_by;
  std::int64_t requested_at_us = 0;
  std::string approved_by;
  std::int64_t approved_at_us = 0;
  std::int64_t approval_expires_at_us = 0;
  std::int64_t visible_to_subjects_at_us = 0;
};

struct Reply {
  wire::Body type = wire::Body::NONE;
  wire::ErrorCode code = wire::ErrorCode::Ok;
  std::string message;
  std::vector<CaseView> cases;  // CaseInfo (one) or CaseInfoList
  // ExportInfo
  std::string export_state;
  std::uint64_t messages = 0;
  std::uint64_t attachments = 0;
  std::uint64_t bytes = 0;
  std::string error;
  // ExportChunk
  std::uint64_t offset = 0;
  std::string data;
  std::uint64_t total_bytes = 0;
  bool done = false;
};

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

CaseView ToView(const wire::CaseInfo& c) {
  CaseView v;
  v.id = c.id();
  v.kind = c.kind();
  v.state = Str(c.state());
  v.legal_basis = Str(c.legal_basis());
  if (c.subjects() != nullptr) {
    for (const auto* s : *c.subjects()) v.subjects.push_back(s->str());
  }
  v.keyword = Str(c.keyword());
  v.requested_by = Str(c.requested_by());
  v.requested_at_us = c.requested_at_us();
  v.approved_by = Str(c.approved_by());
  v.approved_at_us = c.approved_at_us();
  v.approval_expires_at_us = c.approval_expires_at_us();
  v.visible_to_subjects_at_us = c.visible_to_subjects_at_us();
  return v;
}

struct CaseSpec {
  wire::CaseKind kind = wire::CaseKind::SubjectAccess;
  std::string legal_basis = "SAR-2026-17 (data protection law, art. 15)";
  std::vector<std::string> subjects;
  std::vector<std::uint64_t> conversations;
  std::int64_t from_us = 0;
  std::int64_t to_us = 0;
  std::string keyword;
  bool redact_others = false;
};

class CasesTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    export_dir_ = fs::path(::testing::TempDir()) /
                  ("chatpro-cases-" + std::to_string(::getpid()) + "-" +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(export_dir_);
    options_.export_dir = export_dir_.string();
    options_.approval_valid_us = 3600 * kMicrosPerSecond;
    options_.embargo_us = 24 * 3600 * kMicrosPerSecond;
    h_->broker().ConfigureCases(options_, DirectoryArchives());
    auditor_ = AddUser("audrey", wire::Role::Auditor);
    admin2_ = AddUser("adam", wire::Role::Admin);
  }
  void TearDown() override {
    h_.reset();  // joins any export thread
    fs::remove_all(export_dir_);
  }

  Reply Call(const TestClient& c, std::uint64_t rid, wire::Body type, flatbuffers::Offset<void> body,
             Request& req) {
    req.Raw(rid, type, body);
    c.Send(req);
    EXPECT_TRUE(Settle());
    Reply out;
    int found = 0;
    for (const std::string& frame : h_->transport().TakeFrames(c.connection)) {
      flatbuffers::Verifier v(reinterpret_cast<const std::uint8_t*>(frame.data()), frame.size(),
                              64, 10'000'000);
      EXPECT_TRUE(wire::VerifyFrameBuffer(v));
      const wire::Frame* f = wire::GetFrame(frame.data());
      for (const wire::Envelope* e : *f->envelopes()) {
        if (e->request_id() != rid) continue;
        ++found;
        out.type = e->body_type();
        if (const auto* err = e->body_as_Error()) {
          out.code = err->code();
          out.message = Str(err->message());
        } else if (const auto* ci = e->body_as_CaseInfo()) {
          out.cases.push_back(ToView(*ci));
        } else if (const auto* list = e->body_as_CaseInfoList()) {
          for (const auto* ci2 : *list->cases()) out.cases.push_back(ToView(*ci2));
        } else if (const auto* ei = e->body_as_ExportInfo()) {
          out.export_state = Str(ei->state());
          out.messages = ei->messages();
          out.attachments = ei->attachments();
          out.bytes = ei->bytes();
          out.error = Str(ei->error());
        } else if (const auto* ch = e->body_as_ExportChunk()) {
          out.offset = ch->offset();
          if (ch->data() != nullptr) out.data.assign(ch->data()->begin(), ch->data()->end());
          out.total_bytes = ch->total_bytes();
          out.done = ch->done();
        }
      }
    }
    EXPECT_EQ(found, 1) << "replies to request " << rid;
    return out;
  }

  Reply Open(const TestClient& c, const CaseSpec& spec) {
    Request req;
    auto& fbb = req.builder();
    auto basis = fbb.CreateString(spec.legal_basis);
    auto subjects = fbb.CreateVectorOfStrings(spec.subjects);
    auto convs = fbb.CreateVector(spec.conversations);
    auto keyword = fbb.CreateString(spec.keyword);
    auto body = wire::CreateCaseOpen(fbb, spec.kind, basis, subjects, convs, spec.from_us,
                                     spec.to_us, keyword, spec.redact_others);
    return Call(c, next_rid_++, wire::Body::CaseOpen, body.Union(), req);
  }
  Reply Approve(const TestClient& c, std::uint64_t case_id) {
    Request req;
    auto body = wire::CreateCaseApprove(req.builder(), case_id);
    return Call(c, next_rid_++, wire::Body::CaseApprove, body.Union(), req);
  }
  Reply List(const TestClient& c) {
    Request req;
    auto body = wire::CreateCaseList(req.builder());
    return Call(c, next_rid_++, wire::Body::CaseList, body.Union(), req);
  }
  Reply MyData(const TestClient& c) {
    Request req;
    auto body = wire::CreateMyDataAccess(req.builder());
    return Call(c, next_rid_++, wire::Body::MyDataAccess, body.Union(), req);
  }
  Reply StartExport(const TestClient& c, std::uint64_t case_id) {
    Request req;
    auto body = wire::CreateExportStart(req.builder(), case_id);
    return Call(c, next_rid_++, wire::Body::ExportStart, body.Union(), req);
  }
  Reply StatusOf(const TestClient& c, std::uint64_t id) {
    Request req;
    auto body = wire::CreateExportStatus(req.builder(), id);
    return Call(c, next_rid_++, wire::Body::ExportStatus, body.Union(), req);
  }
  Reply Download(const TestClient& c, std::uint64_t id, std::uint64_t offset,
                 std::uint32_t max_bytes = 1 << 20) {
    Request req;
    auto body = wire::CreateExportDownload(req.builder(), id, offset, max_bytes);
    return Call(c, next_rid_++, wire::Body::ExportDownload, body.Union(), req);
  }
  // Waits until export `id` is no longer running (the broker records its end
  // on a tick) and returns its status.
  Reply WaitForExport(std::uint64_t id) {
    Reply r;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    do {
      h_->broker().OnTick();
      EXPECT_TRUE(Settle());
      r = StatusOf(admin_, id);
      if (r.export_state != "running") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } while (std::chrono::steady_clock::now() < deadline);
    h_->broker().OnTick();  // the end goes into the audit log
    EXPECT_TRUE(Settle());
    return r;
  }
  // Opens (admin), approves (auditor) and exports `spec`; returns the case id.
  std::uint64_t Export(const CaseSpec& spec) {
    Reply opened = Open(admin_, spec);
    EXPECT_EQ(opened.type, wire::Body::CaseInfo) << opened.message;
    if (opened.cases.empty()) return 0;
    std::uint64_t id = opened.cases[0].id;
    EXPECT_EQ(Approve(auditor_, id).type, wire::Body::CaseInfo);
    Reply started = StartExport(admin_, id);
    EXPECT_EQ(started.type, wire::Body::ExportInfo) << started.message;
    Reply done = WaitForExport(id);
    EXPECT_EQ(done.export_state, "done") << done.error;
    return id;
  }
  fs::path Member(std::uint64_t id, const std::string& name) const {
    return export_dir_ / ("export-" + std::to_string(id) + ".zip.part.members") / name;
  }
  std::vector<AuditView> Audits() {
    std::uint64_t rid = next_rid_++;
    admin_.Send(Request().AdminListAudit(rid, 1, 1000).Finish());
    EXPECT_TRUE(Settle());
    return admin_.TakeReply(rid).audit;
  }
  static bool HasAction(const std::vector<AuditView>& log, std::string_view action,
                        std::string_view needle = "") {
    return std::any_of(log.begin(), log.end(), [&](const AuditView& e) {
      return e.action == action && (e.details.find(needle) != std::string::npos);
    });
  }
  std::uint64_t SendVoice(const TestClient& from, const Target& to, ClientMsgId id,
                          std::string_view audio) {
    std::uint64_t rid = next_rid_++;
    from.Send(Request().SendVoice(rid, to, id, "opus", 2000, audio).Finish());
    EXPECT_TRUE(Settle());
    Envelope ack = from.TakeReply(rid);
    EXPECT_EQ(ack.type, wire::Body::SendAck);
    return ack.seq;
  }

  CasesOptions options_;
  fs::path export_dir_;
  TestClient auditor_;
  TestClient admin2_;
};

TEST_F(CasesTest, FourEyesRefuseSelfApprovalSameRoleMissingBasisAndUnknownSubject) {
  AddUser("ana");
  TestClient user = AddUser("ulla");

  CaseSpec no_basis;
  no_basis.legal_basis = "   ";
  no_basis.subjects = {"ana"};
  Reply r = Open(admin_, no_basis);
  EXPECT_EQ(r.code, wire::ErrorCode::InvalidArgument);
  EXPECT_NE(r.message.find("legal basis"), std::string::npos) << r.message;

  CaseSpec unknown;
  unknown.subjects = {"ana", "nobody"};
  r = Open(admin_, unknown);
  EXPECT_EQ(r.code, wire::ErrorCode::NotFound);
  EXPECT_NE(r.message.find("nobody"), std::string::npos) << r.message;

  CaseSpec bad_range;
  bad_range.subjects = {"ana"};
  bad_range.from_us = 2000;
  bad_range.to_us = 1000;
  EXPECT_EQ(Open(admin_, bad_range).code, wire::ErrorCode::InvalidArgument);

  CaseSpec ok;
  ok.subjects = {"ana"};
  EXPECT_EQ(Open(user, ok).code, wire::ErrorCode::PermissionDenied);
  r = Open(admin_, ok);
  ASSERT_EQ(r.type, wire::Body::CaseInfo) << r.message;
  std::uint64_t id = r.cases[0].id;
  EXPECT_EQ(r.cases[0].state, "awaiting approval");
  EXPECT_EQ(r.cases[0].requested_by, "admin");

  Reply self = Approve(admin_, id);
  EXPECT_EQ(self.code, wire::ErrorCode::PermissionDenied);
  EXPECT_NE(self.message.find("yourself"), std::string::npos) << self.message;
  Reply same_role = Approve(admin2_, id);
  EXPECT_EQ(same_role.code, wire::ErrorCode::PermissionDenied);
  EXPECT_NE(same_role.message.find("auditor"), std::string::npos) << same_role.message;
  EXPECT_EQ(Approve(user, id).code, wire::ErrorCode::PermissionDenied);
  Reply early = StartExport(admin_, id);
  EXPECT_EQ(early.code, wire::ErrorCode::FailedPrecondition);
  EXPECT_NE(early.message.find("awaiting approval"), std::string::npos) << early.message;

  Reply approved = Approve(auditor_, id);
  ASSERT_EQ(approved.type, wire::Body::CaseInfo) << approved.message;
  EXPECT_EQ(approved.cases[0].state, "approved");
  EXPECT_EQ(approved.cases[0].approved_by, "audrey");
  EXPECT_EQ(Approve(auditor_, id).code, wire::ErrorCode::FailedPrecondition);

  // The other way round: an auditor's case needs an administrator.
  Reply by_auditor = Open(auditor_, ok);
  ASSERT_EQ(by_auditor.type, wire::Body::CaseInfo);
  TestClient auditor2 = AddUser("otto", wire::Role::Auditor);
  EXPECT_EQ(Approve(auditor2, by_auditor.cases[0].id).code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(Approve(admin2_, by_auditor.cases[0].id).type, wire::Body::CaseInfo);

  std::vector<AuditView> log = Audits();
  EXPECT_TRUE(HasAction(log, "case.open", "SAR-2026-17"));
  EXPECT_TRUE(HasAction(log, "case.approve"));
  EXPECT_TRUE(HasAction(log, "case.refused", "legal basis"));
  EXPECT_TRUE(HasAction(log, "case.refused", "nobody"));
  EXPECT_TRUE(HasAction(log, "case.refused", "yourself"));
  EXPECT_TRUE(HasAction(log, "case.refused", "only an auditor"));
}

TEST_F(CasesTest, ApprovalExpiresAndThenNoExportStarts) {
  AddUser("ana");
  CaseSpec spec;
  spec.subjects = {"ana"};
  Reply opened = Open(auditor_, spec);
  ASSERT_EQ(opened.type, wire::Body::CaseInfo);
  std::uint64_t id = opened.cases[0].id;
  Reply approved = Approve(admin_, id);
  ASSERT_EQ(approved.type, wire::Body::CaseInfo);
  EXPECT_EQ(approved.cases[0].approval_expires_at_us,
            approved.cases[0].approved_at_us + options_.approval_valid_us);

  h_->clock().Advance(options_.approval_valid_us);
  Reply list = List(admin_);
  ASSERT_EQ(list.cases.size(), 1u);
  EXPECT_EQ(list.cases[0].state, "expired");
  Reply late = StartExport(auditor_, id);
  EXPECT_EQ(late.code, wire::ErrorCode::FailedPrecondition);
  EXPECT_NE(late.message.find("approval expired"), std::string::npos) << late.message;
  EXPECT_TRUE(HasAction(Audits(), "case.refused", "approval expired"));
  EXPECT_TRUE(!fs::exists(export_dir_) || fs::is_empty(export_dir_));
}

TEST_F(CasesTest, SubjectAccessExportHoldsOnlyTheSubjectsMessagesWithinTheDates) {
  TestClient ana = AddUser("ana");
  TestClient bob = AddUser("bob");
  TestClient cara = AddUser("cara");
  std::uint64_t team = CreateGroup(ana, "Team", {"bob", "cara"});
  std::uint64_t others = CreateGroup(bob, "Others", {"cara"});
  ASSERT_EQ(SendText(ana, ToUser("bob"), 1, "before the range").type, wire::Body::SendAck);
  h_->clock().Advance(3600 * kMicrosPerSecond);
  std::int64_t from = h_->clock().NowMicros();
  Envelope first = SendText(ana, ToUser("bob"), 2, "hello bob");
  ASSERT_EQ(first.type, wire::Body::SendAck);
  ASSERT_EQ(SendText(bob, ToUser("ana"), 3, "hi ana").type, wire::Body::SendAck);
  ASSERT_EQ(SendText(bob, ToUser("cara"), 4, "secret between bob and cara").type, wire::Body::SendAck);
  ASSERT_EQ(SendText(cara, Conv(team), 5, "team hello").type, wire::Body::SendAck);
  ASSERT_EQ(SendText(bob, Conv(others), 6, "other group talk").type, wire::Body::SendAck);
  Seq voice = SendVoice(bob, ToUser("ana"), 7, "AUDIO-BYTES");
  std::int64_t to = h_->clock().NowMicros();
  h_->clock().Advance(3600 * kMicrosPerSecond);
  ASSERT_EQ(SendText(ana, ToUser("bob"), 8, "after the range").type, wire::Body::SendAck);

  CaseSpec spec;
  spec.subjects = {"ana"};
  spec.from_us = from;
  spec.to_us = to;
  std::uint64_t id = Export(spec);
  ASSERT_NE(id, 0u);

  std::string jsonl = ReadFile(Member(id, "messages.jsonl"));
  std::string html = ReadFile(Member(id, "transcript.html"));
  std::vector<std::string> lines = Lines(jsonl);
  EXPECT_EQ(lines.size(), 4u) << jsonl;
  for (const char* present : {"hello bob", "hi ana", "team hello"}) {
    EXPECT_NE(jsonl.find(present), std::string::npos) << present;
    EXPECT_NE(html.find(present), std::string::npos) << present;
  }
  for (const char* absent : {"before the range", "after the range", "secret", "other group"}) {
    EXPECT_EQ(jsonl.find(absent), std::string::npos) << absent;
    EXPECT_EQ(html.find(absent), std::string::npos) << absent;
  }
  EXPECT_NE(jsonl.find("\"sender\":\"bob\""), std::string::npos);
  EXPECT_NE(jsonl.find("\"conversation_name\":\"Team\""), std::string::npos);
  std::string attachment =
      "attachments/" + std::to_string(first.conversation_id) + "-" + std::to_string(voice) + ".opus";
  EXPECT_NE(jsonl.find("\"attachment\":\"" + attachment + "\""), std::string::npos) << jsonl;
  EXPECT_EQ(ReadFile(Member(id, attachment)), "AUDIO-BYTES");
  std::string manifest = ReadFile(Member(id, "manifest.json"));
  EXPECT_NE(manifest.find("\"messages\":4"), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"attachments\":1"), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"requested_by\":\"admin\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"approved_by\":\"audrey\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("SAR-2026-17"), std::string::npos) << manifest;

  // The archive file and its folder are private to the broker's account.
  fs::path zip = export_dir_ / ("export-" + std::to_string(id) + ".zip");
  EXPECT_EQ(fs::status(zip).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(export_dir_).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_FALSE(fs::exists(export_dir_ / ("export-" + std::to_string(id) + ".staging")));

  // Downloads come in chunks; only the first is recorded.
  std::string whole = ReadFile(zip);
  Reply part1 = Download(auditor_, id, 0, 10);
  ASSERT_EQ(part1.type, wire::Body::ExportChunk) << part1.message;
  EXPECT_EQ(part1.total_bytes, whole.size());
  EXPECT_EQ(part1.data, whole.substr(0, 10));
  EXPECT_FALSE(part1.done);
  Reply rest = Download(auditor_, id, 10);
  EXPECT_EQ(part1.data + rest.data, whole);
  EXPECT_TRUE(rest.done);
  Reply refused = Download(ana, id, 0);
  EXPECT_EQ(refused.code, wire::ErrorCode::PermissionDenied);

  Reply list = List(admin_);
  ASSERT_EQ(list.cases.size(), 1u);
  EXPECT_EQ(list.cases[0].state, "exported");
  EXPECT_EQ(StartExport(admin_, id).code, wire::ErrorCode::FailedPrecondition);
  std::vector<AuditView> log = Audits();
  EXPECT_TRUE(HasAction(log, "export.start"));
  EXPECT_TRUE(HasAction(log, "export.finish", "\"messages\":4"));
  EXPECT_EQ(std::count_if(log.begin(), log.end(),
                          [](const AuditView& e) { return e.action == "export.download"; }),
            1);
}

TEST_F(CasesTest, SearchExportMatchesTheKeywordInTheListedConversations) {
  TestClient ana = AddUser("ana");
  TestClient bob = AddUser("bob");
  std::uint64_t team = CreateGroup(ana, "Team", {"bob"});
  ASSERT_EQ(SendText(ana, Conv(team), 1, "Budget draft attached").type, wire::Body::SendAck);
  ASSERT_EQ(SendText(bob, Conv(team), 2, "lunch?").type, wire::Body::SendAck);
  ASSERT_EQ(SendText(bob, Conv(team), 3, "the BUDGET is final").type, wire::Body::SendAck);
  ASSERT_EQ(SendText(bob, ToUser("ana"), 4, "budget in private").type, wire::Body::SendAck);

  CaseSpec spec;
  spec.kind = wire::CaseKind::Search;
  spec.legal_basis = "FOI-88";
  spec.subjects = {"ana"};
  spec.conversations = {team};
  spec.keyword = "budget";
  std::uint64_t id = Export(spec);
  std::string jsonl = ReadFile(Member(id, "messages.jsonl"));
  EXPECT_EQ(Lines(jsonl).size(), 2u) << jsonl;
  EXPECT_NE(jsonl.find("Budget draft attached"), std::string::npos);
  EXPECT_NE(jsonl.find("the BUDGET is final"), std::string::npos);
  EXPECT_EQ(jsonl.find("lunch"), std::string::npos);
  EXPECT_EQ(jsonl.find("private"), std::string::npos);
  EXPECT_NE(ReadFile(Member(id, "manifest.json")).find("\"kind\":\"search\""), std::string::npos);
}

TEST_F(CasesTest, RedactionGivesOthersConsistentPseudonymsAndTheTranscriptIsEscaped) {
  TestClient ana = AddUser("ana");
  TestClient bob = AddUser("bob");
  TestClient cara = AddUser("cara");
  std::uint64_t team = CreateGroup(ana, "Team <b>&", {"bob", "cara"});
  ASSERT_EQ(SendText(bob, Conv(team), 1, "<script>alert('x')</script> ask @cara").type,
            wire::Body::SendAck);
  ASSERT_EQ(SendText(cara, Conv(team), 2, "here, ana").type, wire::Body::SendAck);
  ASSERT_EQ(SendText(bob, ToUser("ana"), 3, "cara said yes.").type, wire::Body::SendAck);

  CaseSpec spec;
  spec.subjects = {"ana"};
  spec.redact_others = true;
  std::uint64_t id = Export(spec);
  std::string jsonl = ReadFile(Member(id, "messages.jsonl"));
  std::string html = ReadFile(Member(id, "transcript.html"));
  std::vector<std::string> lines = Lines(jsonl);
  ASSERT_EQ(lines.size(), 3u) << jsonl;
  for (const std::string& text : {jsonl, html}) {
    EXPECT_EQ(text.find("bob"), std::string::npos) << text;
    EXPECT_EQ(text.find("cara"), std::string::npos) << text;
  }
  // bob appears first: Person 1; cara, first mentioned by him: Person 2.
  std::string bob_line, cara_line;
  for (const std::string& l : lines) {
    if (l.find("script") != std::string::npos) bob_line = l;
    if (l.find("here, ana") != std::string::npos) cara_line = l;
  }
  EXPECT_NE(bob_line.find("\"sender\":\"Person 1\""), std::string::npos) << bob_line;
  EXPECT_NE(bob_line.find("ask @Person 2"), std::string::npos) << bob_line;
  EXPECT_NE(cara_line.find("\"sender\":\"Person 2\""), std::string::npos) << cara_line;
  EXPECT_NE(jsonl.find("Person 2 said yes."), std::string::npos) << jsonl;
  EXPECT_NE(jsonl.find("Direct chat: Person 1 and ana"), std::string::npos) << jsonl;  // bob opened it
  // Every user-supplied string is escaped in the transcript.
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos) << html;
  EXPECT_NE(html.find("Team &lt;b&gt;&amp;"), std::string::npos) << html;
}

TEST_F(CasesTest, ExportMarksEditedAndDeletedMessagesAndKeepsPictures) {
  TestClient ana = AddUser("ana");
  TestClient bob = AddUser("bob");
  Envelope first = SendText(ana, ToUser("bob"), 1, "first version");
  ASSERT_EQ(first.type, wire::Body::SendAck);
  ASSERT_EQ(SendText(ana, ToUser("bob"), 2, "oops").type, wire::Body::SendAck);
  std::uint64_t rid = next_rid_++;
  ana.Send(Request().SendEdit(rid, ToUser("bob"), 3, first.seq, "second version").Finish());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(ana.TakeReply(rid).type, wire::Body::SendAck);
  rid = next_rid_++;
  ana.Send(Request().SendDeletion(rid, ToUser("bob"), 4, first.seq + 1).Finish());
  ASSERT_TRUE(Settle());
  ASSERT_EQ(ana.TakeReply(rid).type, wire::Body::SendAck);
  rid = next_rid_++;
  bob.Send(Request().SendPicture(rid, ToUser("ana"), 5, "image/png", 2, 1, "PNGDATA", "T").Finish());
  ASSERT_TRUE(Settle());
  Envelope picture = bob.TakeReply(rid);
  ASSERT_EQ(picture.type, wire::Body::SendAck);

  CaseSpec spec;
  spec.subjects = {"ana"};
  std::uint64_t id = Export(spec);
  std::vector<std::string> lines = Lines(ReadFile(Member(id, "messages.jsonl")));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_NE(lines[0].find("\"edited\":true,\"deleted\":false"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"edited\":false,\"deleted\":true"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("\"kind\":\"edit\""), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("second version"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("\"kind\":\"deletion\""), std::string::npos) << lines[3];
  std::string attachment = "attachments/" + std::to_string(picture.conversation_id) + "-" +
                           std::to_string(picture.seq) + ".png";
  EXPECT_NE(lines[4].find(attachment), std::string::npos) << lines[4];
  EXPECT_EQ(ReadFile(Member(id, attachment)), "PNGDATA");
}

TEST_F(CasesTest, StoppingTheBrokerStopsARunningExportAndRecordsHowItEnded) {
  TestClient ana = AddUser("ana");
  for (ClientMsgId i = 1; i <= 300; ++i) {
    ana.Send(Request().SendText(next_rid_++, ToUser("admin"), i, "message " + std::to_string(i)).Finish());
  }
  ASSERT_TRUE(Settle());
  CaseSpec spec;
  spec.subjects = {"ana"};
  Reply opened = Open(admin_, spec);
  ASSERT_EQ(opened.type, wire::Body::CaseInfo);
  std::uint64_t id = opened.cases[0].id;
  ASSERT_EQ(Approve(auditor_, id).type, wire::Body::CaseInfo);
  ASSERT_EQ(StartExport(admin_, id).type, wire::Body::ExportInfo);

  h_->Restart();  // Stop() cancels and joins the export thread
  h_->broker().ConfigureCases(options_, DirectoryArchives());
  admin_ = h_->Reconnect(admin_);
  std::vector<AuditView> log = Audits();
  EXPECT_TRUE(HasAction(log, "export.finish") || HasAction(log, "export.failed", "stopped"));
  EXPECT_FALSE(fs::exists(export_dir_ / ("export-" + std::to_string(id) + ".staging")));
  EXPECT_FALSE(fs::exists(export_dir_ / ("export-" + std::to_string(id) + ".zip.part")));
}

TEST_F(CasesTest, WhatACrashedExportLeftIsRemovedAtConfiguration) {
  fs::create_directories(export_dir_ / "export-7.staging" / "attachments");
  std::ofstream(export_dir_ / "export-7.staging" / "messages.jsonl") << "{\"text\":\"private\"}\n";
  std::ofstream(export_dir_ / "export-7.zip.part") << "PK";
  std::ofstream(export_dir_ / "export-6.zip") << "PK";
  h_->broker().ConfigureCases(options_, DirectoryArchives());
  EXPECT_FALSE(fs::exists(export_dir_ / "export-7.staging"));
  EXPECT_FALSE(fs::exists(export_dir_ / "export-7.zip.part"));
  EXPECT_TRUE(fs::exists(export_dir_ / "export-6.zip"));
}

TEST_F(CasesTest, MyDataAccessShowsACaseToItsSubjectOnlyAfterTheEmbargo) {
  TestClient ana = AddUser("ana");
  TestClient bob = AddUser("bob");
  CaseSpec spec;
  spec.subjects = {"ana"};
  spec.keyword = "secret plan";
  Reply opened = Open(admin_, spec);
  ASSERT_EQ(opened.type, wire::Body::CaseInfo);
  ASSERT_EQ(Approve(auditor_, opened.cases[0].id).type, wire::Body::CaseInfo);

  EXPECT_TRUE(MyData(ana).cases.empty());
  h_->clock().Advance(options_.embargo_us - 1);
  EXPECT_TRUE(MyData(ana).cases.empty());
  h_->clock().Advance(1);
  Reply mine = MyData(ana);
  ASSERT_EQ(mine.type, wire::Body::CaseInfoList);
  ASSERT_EQ(mine.cases.size(), 1u);
  EXPECT_EQ(mine.cases[0].legal_basis, spec.legal_basis);
  EXPECT_EQ(mine.cases[0].requested_by, "admin");
  EXPECT_EQ(mine.cases[0].approved_by, "audrey");
  EXPECT_EQ(mine.cases[0].kind, wire::CaseKind::SubjectAccess);
  EXPECT_EQ(mine.cases[0].keyword, "");  // what was searched for stays with the case
  EXPECT_TRUE(MyData(bob).cases.empty());
  EXPECT_EQ(List(ana).code, wire::ErrorCode::PermissionDenied);
}

TEST_F(CasesTest, CasesAndFinishedExportsSurviveARestart) {
  TestClient ana = AddUser("ana");
  ASSERT_EQ(SendText(ana, ToUser("admin"), 1, "hello").type, wire::Body::SendAck);
  CaseSpec spec;
  spec.subjects = {"ana"};
  std::uint64_t exported = Export(spec);
  Reply pending = Open(auditor_, spec);
  ASSERT_EQ(pending.type, wire::Body::CaseInfo);

  h_->Restart();
  h_->broker().ConfigureCases(options_, DirectoryArchives());
  admin_ = h_->Reconnect(admin_);
  auditor_ = h_->Reconnect(auditor_);
  Reply list = List(admin_);
  ASSERT_EQ(list.cases.size(), 2u);
  EXPECT_EQ(list.cases[0].state, "exported");
  EXPECT_EQ(list.cases[1].state, "awaiting approval");
  EXPECT_EQ(list.cases[1].legal_basis, spec.legal_basis);
  EXPECT_EQ(list.cases[1].subjects, std::vector<std::string>{"ana"});
  EXPECT_EQ(list.cases[1].requested_by, "audrey");
  EXPECT_EQ(StatusOf(admin_, exported).export_state, "done");
  EXPECT_EQ(Download(admin_, exported, 0).type, wire::Body::ExportChunk);
  // Ids go on where they stopped; approval still needs the other role.
  Reply third = Open(admin_, spec);
  ASSERT_EQ(third.type, wire::Body::CaseInfo);
  EXPECT_EQ(third.cases[0].id, pending.cases[0].id + 1);
  EXPECT_EQ(Approve(auditor_, pending.cases[0].id).code, wire::ErrorCode::PermissionDenied);
  EXPECT_EQ(Approve(admin_, pending.cases[0].id).type, wire::Body::CaseInfo);
}

}  // namespace
}  // namespace chatpro::core::testing
