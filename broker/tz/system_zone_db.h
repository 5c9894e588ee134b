// SPDX-License-Identifier: Apache-2.0
//
// SystemZoneDb: the time-zone database behind working hours (core::ZoneDb),
// backed by Howard Hinnant's date library over the operating system's IANA
// tz database (/usr/share/zoneinfo, Debian package tzdata), so that time-zone
// rules are updated with the system, not with ChatPro.
//
// Windows has no IANA database: there the date library reads the IANA text
// files (from Debian's tzdata source) and CLDR's windowsZones.xml from the
// folder `tzdata` beside chatpro-broker.exe, shipped with it.
//
// ToUtc resolves a local time that does not exist (the hour skipped when
// clocks go forward) to the instant the clocks jumped, and an ambiguous one
// (the hour repeated when they go back) to its first occurrence.
//
// Thread-safety: the returned object may be used from any number of threads
// at once. The tz database is read once, on first use; if it cannot be read,
// every call returns Unavailable saying so.
#pragma once

#include <memory>

#include "broker/core/schedule.h"

namespace chatpro::tz {

std::unique_ptr<core::ZoneDb> SystemZoneDb();

}  // namespace chatpro::tz
