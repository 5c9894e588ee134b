// SPDX-License-Identifier: Apache-2.0
//
// keep-newest: keeps the newest N messages of each conversation and deletes
// the older ones. Sequence numbers are dense per conversation, so a message
// is among the newest N when head_seq - seq < N.
//
//   [plugin.trim]
//   library = keep_newest
//   count = 10000         # required, > 0
//   scope = all           # all (default), direct or groups
//   groups = Canteen      # only these groups (implies scope = groups)
#include <cstdint>

#include "plugins/api/chatpro_plugin.h"
#include "plugins/support/plugin_support.h"

namespace chatpro::plugins {
namespace {

namespace ps = ::chatpro::plugin_support;

class KeepNewest {
 public:
  KeepNewest(const chatpro_setting* settings, std::size_t count) {
    ps::Settings s(settings, count, {"count", "scope", "groups"});
    count_ = ps::ParseCount("count", s.Required("count", "count = 10000"), 1, 1'000'000'000'000,
                            "messages");
    scope_ = ps::Scope::FromSettings(s);
  }

  std::uint32_t Decide(const chatpro_message_view& m, std::int64_t /*now_us*/) const {
    if (m.seq > m.conversation_head_seq || !scope_.Contains(m)) return CHATPRO_RETAIN_KEEP;
    return m.conversation_head_seq - m.seq >= count_ ? CHATPRO_RETAIN_DELETE : CHATPRO_RETAIN_KEEP;
  }

 private:
  std::uint64_t count_ = 0;
  ps::Scope scope_;
};

const chatpro_plugin kPlugin = {
    CHATPRO_PLUGIN_API_VERSION, "keep-newest", &ps::Create<KeepNewest>,
    &ps::Destroy<KeepNewest>,   nullptr,       &ps::Retention<KeepNewest>,
};

}  // namespace
}  // namespace chatpro::plugins

extern "C" CHATPRO_PLUGIN_EXPORT const chatpro_plugin* chatpro_plugin_entry(void) {
  return &chatpro::plugins::kPlugin;
}
