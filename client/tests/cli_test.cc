// SPDX-License-Identifier: Apache-2.0
//
// The testable parts of the `chatpro` client: argument parsing, media type
// detection and message formatting.
#include <gtest/gtest.h>

#include <filesystem>

#include "client/cli/args.h"
#include "client/cli/format.h"
#include "client/cli/media.h"

namespace chatpro::cli {
namespace {

const std::vector<OptionSpec> kSpecs = {
    {"to", "USER", ""}, {"text", "TEXT", ""}, {"member", "USER", "", true}, {"json", "", ""},
    {"help", "", ""},   {"count", "N", ""},   {"timeout", "S", ""}};

TEST(Args, SplitsOptionsAndPositionalWords) {
  Result<Args> a = Args::Parse({"team", "--to", "ana", "--text=hi there", "--json", "bob"}, kSpecs);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a->Get("to"), "ana");
  EXPECT_EQ(*a->Get("text"), "hi there");
  EXPECT_TRUE(a->Has("json"));
  EXPECT_FALSE(a->Has("member"));
  EXPECT_EQ(a->positional(), (std::vector<std::string>{"team", "bob"}));
}

TEST(Args, TakesDashAsAValueAndDoubleDashEndsOptions) {
  Result<Args> a = Args::Parse({"--text", "-", "--", "--to"}, kSpecs);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a->Get("text"), "-");
  EXPECT_EQ(a->positional(), (std::vector<std::string>{"--to"}));
  Result<Args> b = Args::Parse({"--text", "--json"}, kSpecs);  // a value may look like an option
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b->Get("text"), "--json");
}

TEST(Args, CollectsRepeatedOptions) {
  Result<Args> a = Args::Parse({"--member", "ana", "--member", "bob"}, kSpecs);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->GetAll("member"), (std::vector<std::string>{"ana", "bob"}));
}

TEST(Args, ReportsUsageErrors) {
  EXPECT_EQ(Args::Parse({"--nope"}, kSpecs).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Args::Parse({"-x"}, kSpecs).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Args::Parse({"--to"}, kSpecs).ok());
  EXPECT_FALSE(Args::Parse({"--json=1"}, kSpecs).ok());
  EXPECT_FALSE(Args::Parse({"--to", "a", "--to", "b"}, kSpecs).ok());
  EXPECT_TRUE(Args::Parse({"-h"}, kSpecs)->Has("help"));
}

TEST(Args, ParsesNumbers) {
  Result<Args> a = Args::Parse({"--count", "12", "--timeout", "2.5"}, kSpecs);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(**a->GetUint("count"), 12u);
  EXPECT_DOUBLE_EQ(**a->GetSeconds("timeout"), 2.5);
  EXPECT_FALSE(a->GetUint("to")->has_value());
  EXPECT_FALSE(Args::Parse({"--count", "-1"}, kSpecs)->GetUint("count").ok());
  EXPECT_FALSE(Args::Parse({"--count", "1e3"}, kSpecs)->GetUint("count").ok());
  EXPECT_FALSE(Args::Parse({"--timeout", "soon"}, kSpecs)->GetSeconds("timeout").ok());
  EXPECT_FALSE(ParseUint("99999999999999999999999").has_value());
}

TEST(Media, InfersCodecAndTypeFromTheExtension) {
  EXPECT_EQ(CodecFromPath("a/b/note.OGG"), "opus");
  EXPECT_EQ(CodecFromPath("note.opus"), "opus");
  EXPECT_EQ(CodecFromPath("note.wav"), "wav");
  EXPECT_EQ(CodecFromPath("note.m4a"), "aac");
  EXPECT_EQ(CodecFromPath("note.aac"), "aac");
  EXPECT_EQ(CodecFromPath("note.mp3"), "mp3");
  EXPECT_EQ(CodecFromPath("note.webm"), "webm");
  EXPECT_EQ(CodecFromPath("dir.wav/note"), std::nullopt);
  EXPECT_EQ(MimeFromPath("p.JPG"), "image/jpeg");
  EXPECT_EQ(MimeFromPath("p.jpeg"), "image/jpeg");
  EXPECT_EQ(MimeFromPath("p.png"), "image/png");
  EXPECT_EQ(MimeFromPath("p.gif"), "image/gif");
  EXPECT_EQ(MimeFromPath("p.webp"), "image/webp");
  EXPECT_EQ(MimeFromPath("p.tiff"), std::nullopt);
}

std::string Png(std::uint32_t w, std::uint32_t h) {
  std::string b = "\x89PNG\r\n\x1a\n";
  b += std::string("\0\0\0\x0dIHDR", 8);
  for (std::uint32_t v : {w, h}) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((v >> s) & 0xFF));
  }
  return b + std::string(5, '\0');
}

TEST(Media, ReadsImageSizesFromHeaders) {
  EXPECT_EQ(ImageSize(Png(640, 480)), std::make_pair(640u, 480u));
  // JPEG: SOI, an APP0 segment, then SOF0 with height 300, width 400.
  std::string jpeg = "\xFF\xD8\xFF\xE0";
  jpeg += std::string("\x00\x04\x01\x02", 4);
  jpeg += std::string("\xFF\xC0\x00\x11\x08\x01\x2C\x01\x90\x03", 10);
  EXPECT_EQ(ImageSize(jpeg), std::make_pair(400u, 300u));
  EXPECT_EQ(ImageSize(std::string("GIF89a\x20\x03\x58\x02", 10)), std::make_pair(800u, 600u));
  std::string webp = std::string("RIFF\0\0\0\0WEBPVP8X", 16) + std::string(8, '\0');
  webp += std::string("\x7F\x02\x00\xDF\x01\x00", 6);  // 640 - 1, 480 - 1
  EXPECT_EQ(ImageSize(webp), std::make_pair(640u, 480u));
  EXPECT_EQ(ImageSize("not an image"), std::nullopt);
  EXPECT_EQ(ImageSize(Png(1, 1).substr(0, 20)), std::nullopt);
  EXPECT_EQ(ImageSize(jpeg.substr(0, 12)), std::nullopt);
}

TEST(Media, ReadsTheDurationOfAWavFile) {
  auto le32 = [](std::uint32_t v) {
    std::string s;
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return s;
  };
  std::string wav = "RIFF" + le32(0) + "WAVE" + "fmt " + le32(16);
  wav += std::string("\x01\x00\x01\x00", 4) + le32(8000) + le32(16000) + std::string("\x02\x00\x10\x00", 4);
  wav += "data" + le32(16000 * 3 / 2) + std::string(16000 * 3 / 2, '\0');
  EXPECT_EQ(WavDurationMs(wav), 1500u);
  EXPECT_EQ(WavDurationMs("RIFF"), std::nullopt);
}

TEST(Media, SavedNamesComeFromConversationAndSeqOnly) {
  EXPECT_EQ(ExtensionForVoice("opus", ""), "opus");
  EXPECT_EQ(ExtensionForVoice("aac", std::string("\0\0\0\x20" "ftypM4A ", 12)), "m4a");
  EXPECT_EQ(ExtensionForVoice("aac", "\xFF\xF1"), "aac");
  EXPECT_EQ(ExtensionForVoice("webm", ""), "webm");
  EXPECT_EQ(ExtensionForVoice("../../etc/passwd", ""), "bin");
  EXPECT_EQ(ExtensionForPicture("image/jpeg"), "jpg");
  EXPECT_EQ(ExtensionForPicture("image/../../x"), "bin");

  std::string dir = std::filesystem::temp_directory_path() / "chatpro-cli-test-media";
  std::filesystem::remove_all(dir);
  client::Message m;
  m.conversation_id = 3;
  m.seq = 17;
  m.content = client::Picture{"image/png", 1, 1, "img", "thumb"};
  Result<SavedMedia> saved = SaveMedia(m, dir);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(saved->file, dir + "/3-17.png");
  EXPECT_EQ(saved->thumbnail_file, dir + "/3-17-thumb.png");
  EXPECT_EQ(*ReadFile(saved->file, 100), "img");
  EXPECT_EQ(ReadFile(saved->file, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFile(dir + "/nothing", 2).status().code(), StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

TEST(Format, JsonStringsAreEscapedAndValidUtf8) {
  EXPECT_EQ(JsonString("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  EXPECT_EQ(JsonString("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  EXPECT_EQ(JsonString("bad \xC3 \xFF"), "\"bad \\ufffd \\ufffd\"");
  EXPECT_EQ(JsonString("\xC0\xAF"), "\"\\ufffd\\ufffd\"");  // overlong '/'
}

TEST(Format, TerminalLinesShowControlCharactersEscaped) {
  EXPECT_EQ(Printable("hi\n\x1b[31mred"), "hi\\n\\x1b[31mred");
  EXPECT_EQ(Printable("\xC2\x9B" "2J"), "\\u009b2J");
  EXPECT_EQ(Printable("ol\xC3\xA1"), "ol\xC3\xA1");
}

TEST(Format, MessageLinesNameTheConversationAndTheMedia) {
  client::Message m;
  m.conversation_id = 3;
  m.seq = 17;
  m.sender = "ana";
  m.sent_at_us = 1'700'000'000'000'000;
  m.content = client::Text{"hello"};
  client::Conversation c;
  c.id = 3;
  c.name = "ana";
  std::string line = FormatLine(m, &c, {});
  EXPECT_EQ(line.substr(0, 1), "[");
  EXPECT_EQ(line.substr(22), "#3 (direct ana) ana: hello");
  EXPECT_EQ(FormatLine(m, nullptr, {}).substr(22), "#3 ana: hello");

  m.content = client::Voice{"opus", 4200, "abc"};
  EXPECT_EQ(FormatLine(m, &c, SavedMedia{"d/3-17.opus", ""}).substr(22),
            "#3 (direct ana) ana: [voice 4.2 s opus, saved to d/3-17.opus]");
  std::string json = FormatJson(m, &c, SavedMedia{"d/3-17.opus", ""});
  EXPECT_EQ(json,
            "{\"conversation_id\":3,\"conversation\":\"ana\",\"conversation_kind\":\"direct\","
            "\"seq\":17,\"sender\":\"ana\",\"sender_device_id\":0,\"client_msg_id\":0,"
            "\"sent_at_us\":1700000000000000,\"kind\":\"voice\",\"codec\":\"opus\","
            "\"duration_ms\":4200,\"bytes\":3,\"file\":\"d/3-17.opus\"}");
  c.kind = client::ConversationKind::kGroup;
  c.name = "team";
  m.content = client::Picture{"image/jpeg", 640, 480, "x", ""};
  EXPECT_EQ(FormatLine(m, &c, SavedMedia{"d/3-17.jpg", ""}).substr(22),
            "#3 (group team) ana: [picture 640x480 image/jpeg, saved to d/3-17.jpg]");
}

// The new formats, with times in UTC so that whole lines can be compared.
class FormatUtc : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_F(FormatUtc, EditsAndDeletionsShowTheirTargetInLinesAndJson) {
  client::Message m;
  m.conversation_id = 3;
  m.seq = 6;
  m.sender = "ana";
  m.sent_at_us = 1'700'000'000'000'000;
  m.content = client::Edit{5, "new\ntext"};
  client::Conversation c;
  c.id = 3;
  c.name = "ana";
  EXPECT_EQ(FormatLine(m, &c, {}),
            "[2023-11-14 22:13:20] #3 (direct ana) ana: [edited #5] new\\ntext");
  EXPECT_EQ(FormatJson(m, nullptr, {}),
            "{\"conversation_id\":3,\"seq\":6,\"sender\":\"ana\",\"sender_device_id\":0,"
            "\"client_msg_id\":0,\"sent_at_us\":1700000000000000,\"kind\":\"edit\","
            "\"target_seq\":5,\"text\":\"new\\ntext\"}");
  m.seq = 7;
  m.content = client::Deletion{5};
  EXPECT_EQ(FormatLine(m, &c, {}), "[2023-11-14 22:13:20] #3 (direct ana) ana: [deleted #5]");
  EXPECT_EQ(FormatJson(m, nullptr, {}),
            "{\"conversation_id\":3,\"seq\":7,\"sender\":\"ana\",\"sender_device_id\":0,"
            "\"client_msg_id\":0,\"sent_at_us\":1700000000000000,\"kind\":\"deletion\","
            "\"target_seq\":5}");
}

TEST_F(FormatUtc, OffboardingSummaryNamesEachCountAndTheLastClosedSession) {
  client::OffboardingInfo o;
  o.login = "ben";
  o.asked_at_us = 1'700'000'000'000'000;
  o.devices_revoked = 2;
  o.sessions_closed = 3;
  o.last_session_closed_at_us = 1'700'000'000'012'345;
  o.invites_cancelled = 1;
  EXPECT_EQ(FormatOffboarding(o),
            (std::vector<std::string>{
                "deactivated:          ben",
                "asked at:             2023-11-14 22:13:20.000",
                "devices revoked:      2",
                "sessions closed:      3",
                "last session closed:  2023-11-14 22:13:20.012 (0.012 s after the request)",
                "invites cancelled:    1"}));
  o.sessions_closed = 0;
  o.last_session_closed_at_us = 0;
  EXPECT_EQ(FormatOffboarding(o)[4], "last session closed:  -");
}

TEST_F(FormatUtc, DevicesAreATableAndJsonObjects) {
  client::DeviceInfo laptop{3, "laptop", "chatpro-cli/0.1", 1'700'000'000'000'000,
                            1'700'000'100'000'000, "127.0.0.1", true, 0, true};
  client::DeviceInfo phone{4, "old phone", "", 1'690'000'000'000'000, 0, "", false,
                           1'696'000'000'000'000, false};
  std::vector<std::string> lines = FormatDevices({laptop, phone});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "ID  NAME       CLIENT           CREATED              LAST SEEN            "
            "LAST ADDRESS  STATE                        ONLINE");
  EXPECT_EQ(lines[1],
            "3   laptop     chatpro-cli/0.1  2023-11-14 22:13:20  2023-11-14 22:15:00  "
            "127.0.0.1     active                       yes");
  EXPECT_EQ(lines[2],
            "4   old phone  -                2023-07-22 04:26:40  never                "
            "-             revoked 2023-09-29 15:06:40  no");
  EXPECT_EQ(DeviceJson(phone),
            "{\"id\":4,\"name\":\"old phone\",\"client_version\":\"\",\"created_at_us\":"
            "1690000000000000,\"last_seen_us\":0,\"last_address\":\"\",\"active\":false,"
            "\"revoked_at_us\":1696000000000000,\"online\":false}");
}

TEST_F(FormatUtc, AuditEntriesAreOneLineEachAndVerificationNamesTheBrokenEntry) {
  client::AuditEntryInfo by_admin{12, 1'700'000'000'000'000, "root", "user.deactivate",
                                  "user:ben", "{\"devices_revoked\":2}", std::string(2, '\xAB')};
  client::AuditEntryInfo by_broker{13, 1'700'000'001'000'000, "", "retention.sweep", "",
                                   "{}", ""};
  EXPECT_EQ(FormatAudit({by_admin, by_broker}),
            (std::vector<std::string>{
                "SEQ  TIME                 ACTOR  ACTION           TARGET    DETAILS",
                "12   2023-11-14 22:13:20  root   user.deactivate  user:ben  {\"devices_revoked\":2}",
                "13   2023-11-14 22:13:21  -      retention.sweep  -         {}"}));
  EXPECT_EQ(AuditJson(by_admin),
            "{\"seq\":12,\"at_us\":1700000000000000,\"actor\":\"root\",\"action\":"
            "\"user.deactivate\",\"target\":\"user:ben\",\"details\":"
            "\"{\\\"devices_revoked\\\":2}\",\"hash\":\"abab\"}");
  EXPECT_EQ(FormatVerification({true, 12, 0, ""}), "audit log whole: 12 entries");
  EXPECT_EQ(FormatVerification({true, 1, 0, ""}), "audit log whole: 1 entry");
  EXPECT_EQ(FormatVerification({false, 12, 7, "its hash does not match"}),
            "audit log broken at entry 7: its hash does not match (12 entries checked)");
}

TEST(Args, ParsesDatesAndIsoTimestampsAsUtc) {
  constexpr std::int64_t kNov1 = 1'698'796'800'000'000;  // 2023-11-01T00:00:00Z
  constexpr std::int64_t kDay = 86'400'000'000;
  EXPECT_EQ(ParseTimestamp("2023-11-01"), kNov1);
  EXPECT_EQ(ParseTimestamp("2023-11-01", /*end_of_day=*/true), kNov1 + kDay - 1);
  EXPECT_EQ(ParseTimestamp("1970-01-01"), 0);
  EXPECT_EQ(ParseTimestamp("2024-02-29"), 1'709'164'800'000'000);
  EXPECT_EQ(ParseTimestamp("2023-11-01T10:30:00Z"), kNov1 + 37'800'000'000);
  EXPECT_EQ(ParseTimestamp("2023-11-01T10:30Z", true), kNov1 + 37'800'000'000);
  EXPECT_EQ(ParseTimestamp("2023-11-01 10:30:00"), kNov1 + 37'800'000'000);
  EXPECT_EQ(ParseTimestamp("2023-11-01T10:30:00+01:00"), kNov1 + 34'200'000'000);
  EXPECT_EQ(ParseTimestamp("2023-11-01T10:30:00-0530"), kNov1 + 57'600'000'000);
  EXPECT_EQ(ParseTimestamp("2023-11-01T10:30:00+01"), kNov1 + 34'200'000'000);
  EXPECT_EQ(ParseTimestamp("2023-11-01T00:00:00.25Z"), kNov1 + 250'000);
  EXPECT_EQ(ParseTimestamp("2023-11-01T00:00:00.123456789Z"), kNov1 + 123'456);
  for (const char* bad :
       {"", "yesterday", "2023-11", "2023-13-01", "2023-02-29", "2023-11-31", "2023-11-00",
        "1969-12-31", "23-11-01", "2023-11-01T", "2023-11-01T24:00", "2023-11-01T10:60",
        "2023-11-01T10:30:61", "2023-11-01T10:30:00.Z", "2023-11-01T10:30:00+1", "2023-11-01x",
        "2023-11-01T10:30:00Zjunk", "1970-01-01T00:30+01:00"}) {
    EXPECT_FALSE(ParseTimestamp(bad).has_value()) << bad;
  }
}

TEST_F(FormatUtc, StrippedMediaShowsWhenRetentionRemovedItAndSavesNothing) {
  client::Message m;
  m.conversation_id = 3;
  m.seq = 17;
  m.sender = "ana";
  m.sent_at_us = 1'700'000'000'000'000;
  m.attachments_removed_at_us = 1'700'086'400'000'000;
  m.content = client::Picture{"image/jpeg", 640, 480, "", ""};
  EXPECT_EQ(FormatLine(m, nullptr, {}),
            "[2023-11-14 22:13:20] #3 ana: [picture removed by retention policy on 2023-11-15]");
  EXPECT_EQ(FormatJson(m, nullptr, {}),
            "{\"conversation_id\":3,\"seq\":17,\"sender\":\"ana\",\"sender_device_id\":0,"
            "\"client_msg_id\":0,\"sent_at_us\":1700000000000000,\"kind\":\"picture\","
            "\"mime_type\":\"image/jpeg\",\"width\":640,\"height\":480,\"bytes\":0,"
            "\"attachments_removed_at_us\":1700086400000000}");
  EXPECT_TRUE(IsStripped(m));
  char tmpl[] = "/tmp/chatpro-stripped-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  Result<SavedMedia> saved = SaveMedia(m, tmpl);
  ASSERT_TRUE(saved.ok());
  EXPECT_TRUE(saved->file.empty());
  EXPECT_TRUE(std::filesystem::is_empty(tmpl));
  std::filesystem::remove_all(tmpl);
  m.content = client::Voice{"opus", 4200, ""};
  EXPECT_EQ(DescribeContent(m, {}), "[voice removed by retention policy on 2023-11-15]");
  m.content = client::Text{"a text is never stripped"};
  EXPECT_FALSE(IsStripped(m));
  EXPECT_EQ(DescribeContent(m, {}), "a text is never stripped");
}

TEST_F(FormatUtc, RecordsManagementFormats) {
  client::HoldInfo h;
  h.id = 20;
  h.target = client::HoldTarget::Conversation(3);
  h.case_ref = "HR-12";
  h.reason = "complaint";
  h.created_by = "root";
  h.created_at_us = 1'700'000'000'000'000;
  h.lifted_by = "ana";
  h.lifted_at_us = 1'700'086'400'000'000;
  EXPECT_EQ(FormatHolds({h}),
            (std::vector<std::string>{
                "ID  TARGET           CASE   SET BY  SET AT               LIFTED                 "
                "     REASON",
                "20  conversation #3  HR-12  root    2023-11-14 22:13:20  2023-11-15 22:13:20 "
                "by ana  complaint"}));

  EXPECT_EQ(FormatBytes(512), "512 bytes");
  EXPECT_EQ(FormatBytes(1), "1 byte");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB (1536 bytes)");
  EXPECT_EQ(FormatBytes(3u << 30), "3.0 GiB (3221225472 bytes)");

  client::CaseInfo c;
  c.id = 31;
  c.kind = client::CaseKind::kSearch;
  c.conversations = {3};
  c.to_us = 1'700'000'000'000'000;
  c.keyword = "in\"voice";
  EXPECT_EQ(DescribeCaseScope(c),
            "conversation #3; until 2023-11-14 22:13:20; containing \"in\\\"voice\"");
  c.conversations.clear();
  c.to_us = 0;
  c.keyword.clear();
  c.redact_others = true;
  EXPECT_EQ(DescribeCaseScope(c), "all their conversations; any time; others redacted");

  client::ExportInfo e;
  e.id = 77;
  e.case_id = 32;
  e.state = "running";
  e.messages = 1;
  e.attachments = 0;
  e.bytes = 100;
  EXPECT_EQ(FormatExport(e), "export 77 of case 32: running, 1 message, 0 attachments, 100 bytes so far");
  e.state = "failed";
  e.error = "disk full";
  EXPECT_EQ(FormatExport(e), "export 77 of case 32: failed: disk full");
}

TEST_F(FormatUtc, ReportsShowTheReportThenTheEvidence) {
  client::ReportInfo r;
  r.id = 1;
  r.created_at_us = 1'700'000'060'000'000;
  r.reporter = "ana";
  r.reason = "insulting";
  r.conversation_id = 2;
  r.seq = 9;
  EXPECT_EQ(FormatReport(r),
            (std::vector<std::string>{
                "report 1 [2023-11-14 22:14:20] by ana on #2 seq 9: insulting",
                "    (no copy of the message)"}));
  EXPECT_EQ(ReportJson(r),
            "{\"id\":1,\"created_at_us\":1700000060000000,\"reporter\":\"ana\",\"reason\":"
            "\"insulting\",\"conversation_id\":2,\"seq\":9,\"message\":null}");
  client::Message m;
  m.conversation_id = 2;
  m.seq = 9;
  m.sender = "bob";
  m.sent_at_us = 1'700'000'000'000'000;
  m.content = client::Text{"rude words"};
  r.message = m;
  EXPECT_EQ(FormatReport(r)[1], "    [2023-11-14 22:13:20] #2 bob: rude words");
  EXPECT_NE(ReportJson(r).find(",\"message\":{\"conversation_id\":2,\"seq\":9,\"sender\":\"bob\""),
            std::string::npos);
}

}  // namespace
}  // namespace chatpro::cli
