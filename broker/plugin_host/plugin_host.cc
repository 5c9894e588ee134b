// SPDX-License-Identifier: Apache-2.0
#include "broker/plugin_host/plugin_host.h"

#include <cstring>
#include <filesystem>
#include <map>
#include <utility>
#include <vector>

#include "broker/plugin_host/shared_library.h"

namespace chatpro::plugin_host {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The suffix PluginFileName() gives this system's libraries (".so", ".dll").
std::string LibrarySuffix() {
  std::string file = PluginFileName("x");
  return file.substr(file.rfind('.'));
}

struct LoadedLibrary {
  std::shared_ptr<SharedLibrary> library;
  const chatpro_plugin* api = nullptr;
};

// Opens `path` and checks its descriptor. `who` is "plugin 'NAME' (PATH)".
Result<LoadedLibrary> OpenPluginLibrary(const std::string& path, const std::string& who,
                                        const std::string& library_setting) {
  Result<std::unique_ptr<SharedLibrary>> lib = SharedLibrary::Open(path);
  if (!lib.ok()) {
    if (lib.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(
          who + ": the library file does not exist (library = " + library_setting + ")");
    }
    return Status::FailedPrecondition(who + ": cannot load the library: " + lib.status().message());
  }
  LoadedLibrary out;
  out.library = std::shared_ptr<SharedLibrary>(std::move(*lib));
  auto entry =
      reinterpret_cast<chatpro_plugin_entry_fn>(out.library->Symbol("chatpro_plugin_entry"));
  if (entry == nullptr) {
    return Status::FailedPrecondition(
        who + ": not a ChatPro plugin: it does not export the symbol chatpro_plugin_entry");
  }
  out.api = entry();
  if (out.api == nullptr) {
    return Status::FailedPrecondition(who + ": chatpro_plugin_entry returned no descriptor");
  }
  // api_version is the first field in every version, so it is safe to read
  // before knowing the layout of the rest.
  if (out.api->api_version != CHATPRO_PLUGIN_API_VERSION) {
    return Status::FailedPrecondition(
        who + ": built for plugin API version " + std::to_string(out.api->api_version) +
        ", but this broker supports version " + std::to_string(CHATPRO_PLUGIN_API_VERSION) +
        "; rebuild the plugin against this broker's chatpro_plugin.h");
  }
  if (out.api->name == nullptr || out.api->create == nullptr || out.api->destroy == nullptr) {
    return Status::FailedPrecondition(who + ": its descriptor lacks a name, create or destroy");
  }
  if (out.api->on_accept == nullptr && out.api->retention == nullptr) {
    return Status::FailedPrecondition(who + ": it has neither an accept nor a retention hook");
  }
  return out;
}

// One instance of the plugin, created with the instance's settings.
Result<void*> CreateInstance(const chatpro_plugin& api, const PluginOptions& options,
                             const std::string& who) {
  std::vector<chatpro_setting> settings;
  settings.reserve(options.settings.size());
  for (const auto& [key, value] : options.settings) {
    settings.push_back({{key.data(), key.size()}, {value.data(), value.size()}});
  }
  char error[512];
  std::memset(error, 0, sizeof error);
  void* instance = api.create(settings.data(), settings.size(), error, sizeof error);
  if (instance != nullptr) return instance;
  error[sizeof error - 1] = '\0';
  std::string why = error[0] != '\0' ? std::string(error) : "it gave no reason";
  return Status::InvalidArgument(who + ": refused its settings in [plugin." + options.name +
                                 "]: " + why);
}

}  // namespace

std::string ResolvePluginLibrary(const std::string& library, const std::string& plugins_dir,
                                 const std::string& executable_dir) {
  // A path (with a folder separator; on Windows '\\' too) or a file name.
#if defined(_WIN32)
  const bool has_folder = library.find_first_of("/\\") != std::string::npos;
#else
  const bool has_folder = library.find('/') != std::string::npos;
#endif
  if (has_folder || EndsWith(library, LibrarySuffix())) {
    return library;
  }
  std::string short_name = library;
  for (char& c : short_name) {
    if (c == '-') c = '_';  // the plugin's own name ("retention-age") works too
  }
  std::filesystem::path dir = plugins_dir.empty() ? std::filesystem::path(executable_dir) / ".." /
                                                        "lib" / "chatpro" / "plugins"
                                                  : std::filesystem::path(plugins_dir);
  return (dir / PluginFileName(short_name)).lexically_normal().string();
}

Result<std::unique_ptr<core::PluginSet>> LoadPlugins(const PluginsOptions& options,
                                                     const std::string& executable_dir) {
  auto set = std::make_unique<core::PluginSet>();
  std::map<std::string, LoadedLibrary> libraries;  // by path: each file is opened once
  for (const PluginOptions& p : options.instances) {
    std::string path = ResolvePluginLibrary(p.library, options.dir, executable_dir);
    std::string who = "plugin '" + p.name + "' (" + path + ")";
    auto it = libraries.find(path);
    if (it == libraries.end()) {
      CHATPRO_ASSIGN_OR_RETURN(LoadedLibrary loaded, OpenPluginLibrary(path, who, p.library));
      // The set unloads the library after it destroyed every instance.
      set->AddUnloader([library = loaded.library]() mutable { library.reset(); });
      it = libraries.emplace(path, std::move(loaded)).first;
    }
    const chatpro_plugin& api = *it->second.api;
    auto instance = std::make_unique<core::PluginInstance>();
    instance->name = p.name;
    instance->library = path;
    instance->api = &api;
    core::PluginInstance* raw = instance.get();
    // Added before creating, so that a failure below destroys what was made.
    set->Add(std::move(instance));
    if (api.on_accept != nullptr) {
      CHATPRO_ASSIGN_OR_RETURN(raw->accept_instance, CreateInstance(api, p, who));
    }
    if (api.retention != nullptr) {
      CHATPRO_ASSIGN_OR_RETURN(raw->retention_instance, CreateInstance(api, p, who));
    }
  }
  // The map's references go; the set's unloaders hold the libraries now.
  libraries.clear();
  return Result<std::unique_ptr<core::PluginSet>>(std::move(set));
}

}  // namespace chatpro::plugin_host
