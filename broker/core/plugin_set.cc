// SPDX-License-Identifier: Apache-2.0
#include "broker/core/plugin_set.h"

#include <cstring>

#include "broker/base/log.h"

namespace chatpro::core {
namespace {

// Calls a plugin function. A plugin must not let an exception out (the C API
// says so), but one written in C++ that does is counted as failing rather
// than taking the broker down. False unless it returned CHATPRO_PLUGIN_OK.
template <typename Fn>
bool CallGuarded(const Fn& fn) noexcept {
  try {
    return fn() == CHATPRO_PLUGIN_OK;
  } catch (...) {
    return false;
  }
}

}  // namespace

PluginSet::~PluginSet() {
  for (auto& p : plugins_) {
    if (p->api == nullptr || p->api->destroy == nullptr) continue;
    if (p->accept_instance != nullptr) p->api->destroy(p->accept_instance);
    if (p->retention_instance != nullptr) p->api->destroy(p->retention_instance);
  }
  plugins_.clear();
  for (auto it = unloaders_.rbegin(); it != unloaders_.rend(); ++it) (*it)();
}

void PluginSet::Add(std::unique_ptr<PluginInstance> plugin) { plugins_.push_back(std::move(plugin)); }

void PluginSet::AddUnloader(std::function<void()> unload) { unloaders_.push_back(std::move(unload)); }

bool PluginSet::has_accept_hooks() const {
  for (const auto& p : plugins_) {
    if (p->accept_instance != nullptr) return true;
  }
  return false;
}

bool PluginSet::has_retention_hooks() const {
  for (const auto& p : plugins_) {
    if (p->retention_instance != nullptr) return true;
  }
  return false;
}

AcceptDecision PluginSet::Accept(const chatpro_message_view& message, std::int64_t now_us) {
  AcceptDecision out;
  for (auto& p : plugins_) {
    if (p->accept_instance == nullptr) continue;
    chatpro_accept_result r;
    std::memset(&r, 0, sizeof r);
    if (!CallGuarded([&] { return p->api->on_accept(p->accept_instance, &message, now_us, &r); }) ||
        r.verdict > CHATPRO_ACCEPT_FLAG) {
      if (p->failures.fetch_add(1) % 1000 == 0) {
        LOG_WARNING() << "plugin " << p->name << " failed in its accept hook; the message is accepted";
      }
      continue;
    }
    r.reason[sizeof r.reason - 1] = '\0';
    if (r.verdict == CHATPRO_ACCEPT_REJECT) {
      return AcceptDecision{CHATPRO_ACCEPT_REJECT, r.reason, p->name};
    }
    if (r.verdict == CHATPRO_ACCEPT_FLAG && out.verdict == CHATPRO_ACCEPT_ALLOW) {
      out = AcceptDecision{CHATPRO_ACCEPT_FLAG, r.reason, p->name};
    }
  }
  return out;
}

RetentionDecision PluginSet::Retention(const chatpro_message_view& message, std::int64_t now_us) {
  RetentionDecision out;
  for (auto& p : plugins_) {
    if (p->retention_instance == nullptr) continue;
    std::uint32_t verdict = CHATPRO_RETAIN_KEEP;
    if (!CallGuarded([&] { return p->api->retention(p->retention_instance, &message, now_us, &verdict); }) ||
        verdict > CHATPRO_RETAIN_STRIP_ATTACHMENTS) {
      p->retention_failures.fetch_add(1);
      if (p->failures.fetch_add(1) % 1000 == 0) {
        LOG_WARNING() << "plugin " << p->name << " failed in its retention hook; the message is kept";
      }
      continue;
    }
    if (verdict == CHATPRO_RETAIN_DELETE) return RetentionDecision{CHATPRO_RETAIN_DELETE, p->name};
    if (verdict == CHATPRO_RETAIN_STRIP_ATTACHMENTS && out.verdict == CHATPRO_RETAIN_KEEP) {
      out = RetentionDecision{CHATPRO_RETAIN_STRIP_ATTACHMENTS, p->name};
    }
  }
  return out;
}

}  // namespace chatpro::core
