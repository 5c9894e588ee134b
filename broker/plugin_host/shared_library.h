// SPDX-License-Identifier: Apache-2.0
//
// SharedLibrary: a loaded shared library (.so, .dll), the one place where the
// plugin host calls the operating system's loader. shared_library_posix.cc
// implements it with dlopen/dlsym/dlclose; a Windows version
// (LoadLibraryW/GetProcAddress/FreeLibrary) implements the same three calls.
//
// Lifecycle: Open() loads; the destructor unloads. Nothing from the library
// (functions, data, instances it created) may be used after that.
// Thread-safety: Symbol() may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "broker/base/result.h"

namespace chatpro::plugin_host {

class SharedLibrary {
 public:
  // Loads the library at `path`, resolving all its symbols now. On failure
  // returns NotFound if there is no such file, else FailedPrecondition with
  // the loader's reason (not a library, wrong architecture, missing
  // dependency...).
  static Result<std::unique_ptr<SharedLibrary>> Open(const std::string& path);

  ~SharedLibrary();
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;

  // The address of the exported symbol `name`, or nullptr if there is none.
  void* Symbol(const char* name) const;

  const std::string& path() const { return path_; }

 private:
  SharedLibrary(std::string path, void* handle) : path_(std::move(path)), handle_(handle) {}

  std::string path_;
  void* handle_;  // dlopen handle (HMODULE on Windows)
};

// The file name of a plugin given by its short name on this system:
// "keep_newest" -> "libchatpro_keep_newest.so" ("chatpro_keep_newest.dll").
std::string PluginFileName(const std::string& short_name);

}  // namespace chatpro::plugin_host
