// SPDX-License-Identifier: Apache-2.0
//
// A plugin for the plugin host's tests, built in several variants:
//  - default: both hooks; `fail = REASON` makes create fail with REASON;
//    `reject = WORD` rejects texts equal to WORD; retention deletes seq 1.
//  - TEST_PLUGIN_NO_ENTRY: exports no chatpro_plugin_entry.
//  - TEST_PLUGIN_API_VERSION=N: claims another API version.
//  - TEST_PLUGIN_NO_HOOKS: neither hook.
//  - TEST_PLUGIN_NO_NAME: a descriptor without a name.
// It also exports test_plugin_live_instances() so a test can check that
// every instance was destroyed.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "plugins/api/chatpro_plugin.h"

#ifdef TEST_PLUGIN_NO_NAME
#define TEST_PLUGIN_NAME nullptr
#else
#define TEST_PLUGIN_NAME "test"
#endif

#ifndef TEST_PLUGIN_API_VERSION
#define TEST_PLUGIN_API_VERSION CHATPRO_PLUGIN_API_VERSION
#endif

namespace {

std::atomic<int> live_instances{0};

struct Instance {
  std::string reject;
};

void* Create(const chatpro_setting* settings, size_t count, char* error,
             size_t error_size) noexcept {
  try {
    auto* instance = new Instance();
    for (size_t i = 0; i < count; ++i) {
      std::string key(settings[i].key.data, settings[i].key.size);
      std::string value(settings[i].value.data, settings[i].value.size);
      if (key == "fail") {
        std::snprintf(error, error_size, "%s", value.c_str());
        delete instance;
        return nullptr;
      }
      if (key == "reject") instance->reject = value;
    }
    ++live_instances;
    return instance;
  } catch (...) {
    return nullptr;
  }
}

void Destroy(void* instance) noexcept {
  --live_instances;
  delete static_cast<Instance*>(instance);
}

#ifndef TEST_PLUGIN_NO_HOOKS
int OnAccept(void* instance, const chatpro_message_view* m, int64_t,
             chatpro_accept_result* r) noexcept {
  const auto* self = static_cast<Instance*>(instance);
  std::string text(m->text.data, m->text.size);
  r->verdict =
      !self->reject.empty() && text == self->reject ? CHATPRO_ACCEPT_REJECT : CHATPRO_ACCEPT_ALLOW;
  std::snprintf(r->reason, sizeof r->reason, "test says no");
  return CHATPRO_PLUGIN_OK;
}

int Retention(void*, const chatpro_message_view* m, int64_t, uint32_t* verdict) noexcept {
  *verdict = m->seq == 1 ? CHATPRO_RETAIN_DELETE : CHATPRO_RETAIN_KEEP;
  return CHATPRO_PLUGIN_OK;
}

#endif

#ifdef TEST_PLUGIN_NO_HOOKS
const chatpro_plugin kPlugin = {
    TEST_PLUGIN_API_VERSION, TEST_PLUGIN_NAME, &Create, &Destroy, nullptr, nullptr};
#else
const chatpro_plugin kPlugin = {
    TEST_PLUGIN_API_VERSION, TEST_PLUGIN_NAME, &Create, &Destroy, &OnAccept, &Retention};
#endif

}  // namespace

extern "C" CHATPRO_PLUGIN_EXPORT int test_plugin_live_instances(void) {
  return live_instances.load();
}

#ifndef TEST_PLUGIN_NO_ENTRY
extern "C" CHATPRO_PLUGIN_EXPORT const chatpro_plugin* chatpro_plugin_entry(void) {
  return &kPlugin;
}
#else
extern "C" CHATPRO_PLUGIN_EXPORT const chatpro_plugin* chatpro_plugin_other_symbol(void) {
  return &kPlugin;
}
#endif
