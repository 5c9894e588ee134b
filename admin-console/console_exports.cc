// SPDX-License-Identifier: Apache-2.0
//
// Cases and exports: the console's side of four eyes on people's messages.
// Every call is the wire request the CLI sends (CaseOpen, CaseApprove,
// CaseList, ExportStart, ExportStatus, ExportDownload), made as the
// signed-in user; the core decides who may open, approve, export and
// download (the approver must be another person, of the other role).
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include "admin-console/console_app.h"
#include "admin-console/wire_json.h"

namespace chatpro::console {
namespace {

// The size of one ExportDownload chunk (the core's largest): a download holds
// one chunk at a time, never the whole file.
constexpr std::uint32_t kDownloadChunkBytes = 1u << 20;

// A case or export id from the path: a whole number from 1.
Result<std::uint64_t> IdParam(const std::string& text) {
  if (text.empty() || text.size() > 19 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return Status::InvalidArgument("the id must be a whole number, not '" + text.substr(0, 40) +
                                   "'");
  }
  std::uint64_t id = std::stoull(text);
  if (id == 0) return Status::InvalidArgument("the id must be 1 or more");
  return id;
}

Result<std::int64_t> WholeNumber(const Poco::Dynamic::Var& v, const std::string& field,
                                 std::int64_t min) {
  std::int64_t n = 0;
  try {
    if (!v.isInteger()) throw Poco::Exception("not an integer");
    n = v.convert<Poco::Int64>();
  } catch (const Poco::Exception&) {
    return Status::InvalidArgument(field + " must be a whole number");
  }
  if (n < min)
    return Status::InvalidArgument(field + " must be " + std::to_string(min) + " or more");
  return n;
}

// The body of POST /cases. Unknown fields are refused, so that a misspelt
// date or keyword never widens a case silently.
Result<CaseOpenFields> ParseCaseOpen(const std::string& body) {
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser;
    object = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    object = nullptr;
  } catch (const std::exception&) {
    object = nullptr;
  }
  if (object.isNull()) return Status::InvalidArgument("the request body must be a JSON object");
  CaseOpenFields f;
  bool has_kind = false;
  for (const auto& [name, v] : *object) {
    if (name == "kind" || name == "legal_basis" || name == "keyword") {
      if (!v.isString()) return Status::InvalidArgument(name + " must be a string");
      std::string text = v.extract<std::string>();
      if (name == "kind") {
        CHATPRO_ASSIGN_OR_RETURN(f.kind, CaseKindFromName(text));
        has_kind = true;
      } else if (name == "legal_basis") {
        f.legal_basis = std::move(text);
      } else {
        f.keyword = std::move(text);
      }
    } else if (name == "subjects" || name == "conversations") {
      Poco::JSON::Array::Ptr items;
      try {
        items = v.extract<Poco::JSON::Array::Ptr>();
      } catch (const Poco::Exception&) {
        items = nullptr;
      }
      if (items.isNull()) return Status::InvalidArgument(name + " must be an array");
      for (std::size_t i = 0; i < items->size(); ++i) {
        Poco::Dynamic::Var item = items->get(static_cast<unsigned>(i));
        if (name == "subjects") {
          if (!item.isString()) return Status::InvalidArgument("subjects must be logins (strings)");
          f.subjects.push_back(item.extract<std::string>());
        } else {
          CHATPRO_ASSIGN_OR_RETURN(std::int64_t id, WholeNumber(item, "a conversation id", 1));
          f.conversations.push_back(static_cast<std::uint64_t>(id));
        }
      }
    } else if (name == "from_at_us" || name == "to_at_us") {
      CHATPRO_ASSIGN_OR_RETURN(std::int64_t us, WholeNumber(v, name, 0));
      (name == "from_at_us" ? f.from_us : f.to_us) = us;
    } else if (name == "redact_others") {
      if (!v.isBoolean()) return Status::InvalidArgument("redact_others must be true or false");
      f.redact_others = v.extract<bool>();
    } else {
      return Status::InvalidArgument("unknown field '" + name.substr(0, 40) +
                                     "' (kind, legal_basis, subjects, conversations, "
                                     "from_at_us, to_at_us, keyword, redact_others)");
    }
  }
  if (!has_kind) return Status::InvalidArgument("kind is required (subject_access or search)");
  return f;
}

struct Chunk {
  std::string data;
  std::uint64_t total_bytes = 0;  // the whole file's size
  bool done = false;              // the last piece
};

// The chunk an ExportDownload reply holds. On failure returns Internal for
// a reply that does not fit the request.
Result<Chunk> ChunkOf(const Reply& reply, std::uint64_t export_id, std::uint64_t offset) {
  const wire::ExportChunk* c = reply.envelope().body_as_ExportChunk();
  if (c == nullptr || c->export_id() != export_id || c->offset() != offset) {
    return Status::Internal("the broker's answer is not the asked piece of the export");
  }
  Chunk out;
  out.total_bytes = c->total_bytes();
  out.done = c->done();
  if (c->data() != nullptr) {
    out.data.assign(reinterpret_cast<const char*>(c->data()->data()), c->data()->size());
  }
  return out;
}

}  // namespace

HttpResponse ConsoleApp::ListCases(Context& ctx) { return Forward(ctx, CaseListFrame()); }

HttpResponse ConsoleApp::OpenCase(Context& ctx) {
  Result<CaseOpenFields> fields = ParseCaseOpen(ctx.request.body);
  if (!fields.ok()) return Error(fields.status());
  return Forward(ctx, CaseOpenFrame(*fields), 201);
}

HttpResponse ConsoleApp::ApproveCase(Context& ctx) {
  Result<std::uint64_t> id = IdParam(ctx.params["id"]);
  if (!id.ok()) return Error(id.status());
  return Forward(ctx, CaseApproveFrame(*id));
}

HttpResponse ConsoleApp::StartExport(Context& ctx) {
  Result<std::uint64_t> id = IdParam(ctx.params["id"]);
  if (!id.ok()) return Error(id.status());
  // Accepted: the export runs on in the broker; GET /exports/{id} follows it.
  return Forward(ctx, ExportStartFrame(*id), 202);
}

HttpResponse ConsoleApp::GetExport(Context& ctx) {
  Result<std::uint64_t> id = IdParam(ctx.params["id"]);
  if (!id.ok()) return Error(id.status());
  return Forward(ctx, ExportStatusFrame(*id));
}

HttpResponse ConsoleApp::DownloadExport(Context& ctx) {
  Result<std::uint64_t> id_or = IdParam(ctx.params["id"]);
  if (!id_or.ok()) return Error(id_or.status());
  const std::uint64_t id = *id_or;
  // The first chunk decides the answer: an export that is not there or not
  // done is a JSON error with its status, like every other call.
  Result<std::string> first = CallAsUser(ctx, ExportDownloadFrame(id, 0, kDownloadChunkBytes));
  if (!first.ok()) {
    HttpResponse r = Error(first.status());
    if (!ctx.session) r.status = 401;
    return r;
  }
  Result<Reply> parsed = Reply::Parse(std::move(*first));
  if (!parsed.ok()) return Json(HttpStatusOf(parsed.status().code()), ErrorJson(parsed.status()));
  Result<Chunk> head = ChunkOf(*parsed, id, 0);
  if (!head.ok()) return Error(head.status());
  const std::uint64_t total = head->total_bytes;
  if (total > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return Error(Status::Internal("the export's size is out of range"));
  }

  HttpResponse r;
  r.status = 200;
  r.content_type = "application/zip";
  // The name is the console's own, from the id alone: nothing a user typed
  // reaches the header, so no name can carry a path or a quote.
  r.headers.emplace_back("Content-Disposition",
                         "attachment; filename=\"chatpro-export-" + std::to_string(id) + ".zip\"");
  r.content_length = static_cast<std::int64_t>(total);
  std::uint64_t offset = head->data.size();
  r.body = std::move(head->data);
  if (head->done || offset >= total) return r;
  const std::string principal = "c:" + std::to_string(ctx.session->user.user_id);
  r.next_piece = [this, principal, id, offset, total]() mutable -> Result<std::string> {
    if (offset >= total) return std::string();
    CHATPRO_ASSIGN_OR_RETURN(
        std::string reply,
        deps_.caller->Call(principal, ExportDownloadFrame(id, offset, kDownloadChunkBytes),
                           deps_.call_timeout));
    CHATPRO_ASSIGN_OR_RETURN(Reply chunk, Reply::Parse(std::move(reply)));
    CHATPRO_ASSIGN_OR_RETURN(Chunk piece, ChunkOf(chunk, id, offset));
    if (piece.total_bytes != total || piece.data.empty() || offset + piece.data.size() > total) {
      return Status::DataLoss("export " + std::to_string(id) + " changed during the download");
    }
    offset += piece.data.size();
    return std::move(piece.data);
  };
  return r;
}

}  // namespace chatpro::console
