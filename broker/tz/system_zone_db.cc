// SPDX-License-Identifier: Apache-2.0
#include "broker/tz/system_zone_db.h"

#include <date/date.h>
#include <date/tz.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <string>

#if defined(_WIN32)
#include <windows.h>
#endif

namespace chatpro::tz {
namespace {

using Micros = std::chrono::microseconds;

// The date library reports failures by exceptions; they stop here.
class DateZoneDb : public core::ZoneDb {
 public:
  Status CheckZone(std::string_view zone) const override {
    Result<const date::time_zone*> tz = Find(zone);
    return tz.ok() ? Status::Ok() : tz.status();
  }

  Result<core::LocalTime> ToLocal(std::string_view zone, std::int64_t utc_us) const override {
    CHATPRO_ASSIGN_OR_RETURN(const date::time_zone* tz, Find(zone));
    try {
      const date::sys_time<Micros> instant{Micros{utc_us}};
      const date::local_time<Micros> local = tz->to_local(instant);
      const date::local_days day = date::floor<date::days>(local);
      const date::year_month_day ymd{day};
      core::LocalTime out;
      out.date = core::LocalDate{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                                 static_cast<unsigned>(ymd.day())};
      out.weekday = date::weekday{day}.iso_encoding() - 1;
      out.micros_of_day = (local - day).count();
      return out;
    } catch (const std::exception& e) {
      return Status::InvalidArgument("cannot convert " + std::to_string(utc_us) + " to " +
                                     std::string(zone) + ": " + e.what());
    }
  }

  Result<std::int64_t> ToUtc(std::string_view zone, const core::LocalDate& date,
                             std::uint32_t minute) const override {
    CHATPRO_ASSIGN_OR_RETURN(const date::time_zone* tz, Find(zone));
    const date::year_month_day ymd{date::year{date.year}, date::month{date.month},
                                   date::day{date.day}};
    if (!ymd.ok()) {
      return Status::InvalidArgument(core::FormatLocalDate(date) + " is not a real date");
    }
    try {
      const date::local_time<Micros> local = date::local_days{ymd} + std::chrono::minutes{minute};
      const date::local_info info = tz->get_info(local);
      Micros utc{};
      switch (info.result) {
        case date::local_info::nonexistent:
          // Skipped when the clocks went forward: the instant they jumped.
          utc = info.second.begin.time_since_epoch();
          break;
        case date::local_info::ambiguous:
        case date::local_info::unique:
          // The first occurrence: with the offset in force before the change.
          utc = (local - info.first.offset).time_since_epoch();
          break;
      }
      return static_cast<std::int64_t>(utc.count());
    } catch (const std::exception& e) {
      return Status::InvalidArgument("cannot convert " + core::FormatLocalDate(date) + " " +
                                     std::to_string(minute) + " min in " + std::string(zone) +
                                     ": " + e.what());
    }
  }

 private:
  static Result<const date::time_zone*> Find(std::string_view zone) {
    try {
      date::get_tzdb();
    } catch (const std::exception& e) {
      return Status::Unavailable(std::string("the time-zone database cannot be read: ") + e.what());
    }
    if (zone.empty()) return Status::NotFound("no time zone given");
    try {
      return date::locate_zone(zone);
    } catch (const std::exception&) {
      return Status::NotFound("unknown time zone '" + std::string(zone) +
                              "' (use an IANA name such as Europe/Berlin)");
    }
  }
};

#if !USE_OS_TZDB
// The text database shipped beside the executable: <exe folder>\tzdata.
std::string ShippedDatabaseFolder() {
#if defined(_WIN32)
  wchar_t path[MAX_PATH * 4] = {};
  DWORD n = ::GetModuleFileNameW(nullptr, path, sizeof path / sizeof path[0]);
  std::wstring exe(path, n);
  std::wstring folder = exe.substr(0, exe.find_last_of(L"\\/") + 1) + L"tzdata";
  int bytes = ::WideCharToMultiByte(CP_UTF8, 0, folder.data(), static_cast<int>(folder.size()),
                                    nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<size_t>(bytes), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, folder.data(), static_cast<int>(folder.size()), out.data(),
                        bytes, nullptr, nullptr);
  return out;
#else
  return "tzdata";
#endif
}
#endif

}  // namespace

std::unique_ptr<core::ZoneDb> SystemZoneDb() {
#if !USE_OS_TZDB
  // Before the first lookup reads the database.
  static std::once_flag once;
  std::call_once(once, [] { date::set_install(ShippedDatabaseFolder()); });
#endif
  return std::make_unique<DateZoneDb>();
}

}  // namespace chatpro::tz
