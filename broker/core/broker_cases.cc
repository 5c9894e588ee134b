// SPDX-License-Identifier: Apache-2.0
//
// Cases and exports: four eyes on people's messages.
#include "broker/core/broker.h"

namespace chatpro::core {
namespace {
Status NotYet() { return Status::FailedPrecondition("cases and exports are not available in this build yet"); }
}  // namespace

void Broker::HandleCaseOpen(Session& s, std::uint64_t rid, const wire::CaseOpen&) { ReplyError(s, rid, NotYet()); }
void Broker::HandleCaseApprove(Session& s, std::uint64_t rid, const wire::CaseApprove&) { ReplyError(s, rid, NotYet()); }
void Broker::HandleCaseList(Session& s, std::uint64_t rid) { ReplyError(s, rid, NotYet()); }
void Broker::HandleExportStart(Session& s, std::uint64_t rid, const wire::ExportStart&) { ReplyError(s, rid, NotYet()); }
void Broker::HandleExportStatus(Session& s, std::uint64_t rid, const wire::ExportStatus&) { ReplyError(s, rid, NotYet()); }
void Broker::HandleExportDownload(Session& s, std::uint64_t rid, const wire::ExportDownload&) { ReplyError(s, rid, NotYet()); }
void Broker::HandleMyDataAccess(Session& s, std::uint64_t rid) { ReplyError(s, rid, NotYet()); }

}  // namespace chatpro::core
