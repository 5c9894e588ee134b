// SPDX-License-Identifier: Apache-2.0
//
// strip-attachments: removes the audio or image of voice and picture messages
// older than a number of days; their text and metadata stay.
//
//   [plugin.strip-media-90d]
//   library = strip_attachments
//   days = 90             # required, > 0
//   scope = all           # all (default), direct or groups
//   groups = Site photos  # only these groups (implies scope = groups)
#include <cstdint>

#include "plugins/api/chatpro_plugin.h"
#include "plugins/support/plugin_support.h"

namespace chatpro::plugins {
namespace {

namespace ps = ::chatpro::plugin_support;

class StripAttachments {
 public:
  StripAttachments(const chatpro_setting* settings, std::size_t count) {
    ps::Settings s(settings, count, {"days", "scope", "groups"});
    days_ = ps::ParseCount("days", s.Required("days", "days = 90"), 1, ps::kMaxDays, "days");
    scope_ = ps::Scope::FromSettings(s);
  }

  std::uint32_t Decide(const chatpro_message_view& m, std::int64_t now_us) const {
    bool media =
        m.content_kind == CHATPRO_CONTENT_VOICE || m.content_kind == CHATPRO_CONTENT_PICTURE;
    if (media && m.attachment_bytes > 0 && m.attachments_removed == 0 && scope_.Contains(m) &&
        ps::OlderThanDays(m, now_us, days_)) {
      return CHATPRO_RETAIN_STRIP_ATTACHMENTS;
    }
    return CHATPRO_RETAIN_KEEP;
  }

 private:
  std::uint64_t days_ = 0;
  ps::Scope scope_;
};

const chatpro_plugin kPlugin = {
    CHATPRO_PLUGIN_API_VERSION,
    "strip-attachments",
    &ps::Create<StripAttachments>,
    &ps::Destroy<StripAttachments>,
    nullptr,
    &ps::Retention<StripAttachments>,
};

}  // namespace
}  // namespace chatpro::plugins

extern "C" CHATPRO_PLUGIN_EXPORT const chatpro_plugin* chatpro_plugin_entry(void) {
  return &chatpro::plugins::kPlugin;
}
