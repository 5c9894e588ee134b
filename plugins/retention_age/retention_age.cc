// SPDX-License-Identifier: Apache-2.0
//
// retention-age: deletes messages older than a number of days.
//
//   [plugin.delete-after-1y]
//   library = retention_age
//   days = 365            # required, > 0
//   scope = all           # all (default), direct or groups
//   groups = Board, HR    # only these groups (implies scope = groups)
#include <cstdint>

#include "plugins/api/chatpro_plugin.h"
#include "plugins/support/plugin_support.h"

namespace chatpro::plugins {
namespace {

namespace ps = ::chatpro::plugin_support;

class RetentionAge {
 public:
  RetentionAge(const chatpro_setting* settings, std::size_t count) {
    ps::Settings s(settings, count, {"days", "scope", "groups"});
    days_ = ps::ParseCount("days", s.Required("days", "days = 365"), 1, ps::kMaxDays, "days");
    scope_ = ps::Scope::FromSettings(s);
  }

  std::uint32_t Decide(const chatpro_message_view& m, std::int64_t now_us) const {
    if (scope_.Contains(m) && ps::OlderThanDays(m, now_us, days_)) return CHATPRO_RETAIN_DELETE;
    return CHATPRO_RETAIN_KEEP;
  }

 private:
  std::uint64_t days_ = 0;
  ps::Scope scope_;
};

const chatpro_plugin kPlugin = {
    CHATPRO_PLUGIN_API_VERSION, "retention-age", &ps::Create<RetentionAge>,
    &ps::Destroy<RetentionAge>, nullptr,         &ps::Retention<RetentionAge>,
};

}  // namespace
}  // namespace chatpro::plugins

extern "C" CHATPRO_PLUGIN_EXPORT const chatpro_plugin* chatpro_plugin_entry(void) {
  return &chatpro::plugins::kPlugin;
}
