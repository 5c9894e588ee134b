// SPDX-License-Identifier: Apache-2.0
#include "service/event_log.h"

#include <windows.h>

namespace chatpro::service {

EventLog::EventLog(const std::wstring& source)
    : handle_(::RegisterEventSourceW(nullptr, source.c_str())) {}

EventLog::~EventLog() {
  if (handle_ != nullptr) ::DeregisterEventSource(static_cast<HANDLE>(handle_));
}

void EventLog::Write(LogLevel level, std::string_view text) {
  if (handle_ == nullptr) return;
  int n = ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
  std::wstring wide(static_cast<size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), wide.data(), n);
  WORD type = level == LogLevel::kError     ? EVENTLOG_ERROR_TYPE
              : level == LogLevel::kWarning ? EVENTLOG_WARNING_TYPE
                                            : EVENTLOG_INFORMATION_TYPE;
  const wchar_t* strings[] = {wide.c_str()};
  ::ReportEventW(static_cast<HANDLE>(handle_), type, 0, 0, nullptr, 1, 0, strings, nullptr);
}

}  // namespace chatpro::service
