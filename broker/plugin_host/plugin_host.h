// SPDX-License-Identifier: Apache-2.0
//
// The plugin host: turns the [plugins] and [plugin.NAME] settings into a
// core::PluginSet by loading each plugin library, checking its descriptor and
// creating its instances. The only part of the broker that loads code; the
// core sees plugins only through PluginSet and the C API.
//
// Thread-safety: LoadPlugins() is a plain function, called once at start-up.
#pragma once

#include <memory>
#include <string>

#include "broker/base/result.h"
#include "broker/config/options.h"
#include "broker/core/plugin_set.h"

namespace chatpro::plugin_host {

// The file `library` names: a path (anything with a '/', or ending in the
// system's library suffix) is used as it is; a short name such as
// "retention_age" (or "retention-age") is <dir>/libchatpro_retention_age.so,
// where dir is `plugins_dir`, or <executable_dir>/../lib/chatpro/plugins when
// that is empty.
std::string ResolvePluginLibrary(const std::string& library, const std::string& plugins_dir,
                                 const std::string& executable_dir);

// Loads every configured plugin instance, in configuration order: opens its
// library (each file once), checks that it exports `chatpro_plugin_entry`,
// that the descriptor's api_version is CHATPRO_PLUGIN_API_VERSION and that it
// has a name, create, destroy and at least one hook, then creates the
// instance with its settings. A plugin with both hooks gets two instances
// (one per hook, as they run on different threads). The returned set destroys the instances
// and then unloads the libraries when it is destroyed.
//
// On failure returns, naming the instance ("plugin 'trim'"), the file and the
// reason, and with nothing left loaded:
//  - NotFound if the library file does not exist;
//  - FailedPrecondition if it cannot be loaded, lacks the entry symbol, has
//    another API version or an incomplete descriptor;
//  - InvalidArgument if `create` refused the settings (with its reason).
Result<std::unique_ptr<core::PluginSet>> LoadPlugins(const PluginsOptions& options,
                                                     const std::string& executable_dir);

}  // namespace chatpro::plugin_host
