// SPDX-License-Identifier: Apache-2.0
//
// EventLog: writes the broker's start, stop and errors to the Windows event
// log (Application log), under the service's name as the source.
//
// The entries carry the text only: there is no message-table resource, so
// Event Viewer prefixes them with a note that the event's description is not
// registered; the text itself is complete.
//
// Lifecycle: opened by the service host for the service's lifetime.
// Thread-safety: Write from any thread (ReportEventW is thread-safe).
#pragma once

#include <string>
#include <string_view>

#include "broker/base/log.h"

namespace chatpro::service {

class EventLog {
 public:
  // Opens the event source `source` (RegisterEventSourceW). If that fails,
  // Write does nothing.
  explicit EventLog(const std::wstring& source);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // One entry: error and warning as such, everything else as information.
  void Write(LogLevel level, std::string_view text);

 private:
  void* handle_ = nullptr;  // HANDLE
};

}  // namespace chatpro::service
