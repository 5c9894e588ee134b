// SPDX-License-Identifier: Apache-2.0
//
// PluginSet: the plugins the broker runs, loaded and created by the service
// (broker/plugin_host does the dlopen/LoadLibrary) and used by the core only
// through the C API in plugins/api/chatpro_plugin.h.
//
// Each configured plugin instance has a name (its [plugin.NAME] section), the
// descriptor its library exported, and the instance its `create` returned.
// The core asks every instance with an accept hook before storing a message
// (any REJECT refuses it; otherwise any FLAG flags it) and every instance with
// a retention hook about stored messages (the strongest verdict wins). A
// plugin function that fails (returns CHATPRO_PLUGIN_FAILED) is counted and
// treated as ALLOW / KEEP: a failing plugin never deletes or loses anything.
//
// Lifecycle: built by the plugin host before the broker starts; destroyed
// after the broker stops (instances destroyed, then libraries unloaded by the
// `unload` callbacks the host registers).
// Thread-safety: Accept() on the event-loop thread; Retention() on the
// retention thread. An instance is never used by two threads at once because
// each instance is used by one of the two hooks' threads only — a plugin with
// both hooks gets two instances (the host creates them).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "plugins/api/chatpro_plugin.h"

namespace chatpro::core {

struct PluginInstance {
  std::string name;     // instance name from the config, e.g. "delete-after-1y"
  std::string library;  // path it was loaded from
  const chatpro_plugin* api = nullptr;
  void* accept_instance = nullptr;     // for on_accept (nullptr if no accept hook)
  void* retention_instance = nullptr;  // for retention (nullptr if no retention hook)
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> retention_failures{0};  // the retention hook's share of `failures`
};

struct AcceptDecision {
  chatpro_accept_verdict verdict = CHATPRO_ACCEPT_ALLOW;
  std::string reason;
  std::string plugin;  // which instance decided (empty for ALLOW)
};

struct RetentionDecision {
  chatpro_retention_verdict verdict = CHATPRO_RETAIN_KEEP;
  std::string plugin;  // which instance decided (empty for KEEP)
};

class PluginSet {
 public:
  PluginSet() = default;
  ~PluginSet();
  PluginSet(const PluginSet&) = delete;
  PluginSet& operator=(const PluginSet&) = delete;

  // Takes an instance; `unload` runs after every instance was destroyed (the
  // host passes what unloads the library).
  void Add(std::unique_ptr<PluginInstance> plugin);
  void AddUnloader(std::function<void()> unload);

  bool has_accept_hooks() const;
  bool has_retention_hooks() const;
  const std::vector<std::unique_ptr<PluginInstance>>& plugins() const { return plugins_; }

  AcceptDecision Accept(const chatpro_message_view& message, std::int64_t now_us);
  RetentionDecision Retention(const chatpro_message_view& message, std::int64_t now_us);

 private:
  std::vector<std::unique_ptr<PluginInstance>> plugins_;
  std::vector<std::function<void()>> unloaders_;
};

}  // namespace chatpro::core
