// SPDX-License-Identifier: Apache-2.0
//
// Records management: legal holds, retention runs and plugins.
#include "broker/core/broker.h"

namespace chatpro::core {
namespace {
Status NotYet() { return Status::FailedPrecondition("retention and holds are not available in this build yet"); }
}  // namespace

void Broker::HandleAdminSetHold(Session& s, std::uint64_t rid, const wire::AdminSetHold&) { ReplyError(s, rid, NotYet()); }
void Broker::HandleAdminLiftHold(Session& s, std::uint64_t rid, const wire::AdminLiftHold&) { ReplyError(s, rid, NotYet()); }
void Broker::HandleAdminListHolds(Session& s, std::uint64_t rid, const wire::AdminListHolds&) { ReplyError(s, rid, NotYet()); }
void Broker::HandleAdminRetentionRun(Session& s, std::uint64_t rid, const wire::AdminRetentionRun&) { ReplyError(s, rid, NotYet()); }
void Broker::HandleAdminListPlugins(Session& s, std::uint64_t rid) { ReplyError(s, rid, NotYet()); }

}  // namespace chatpro::core
