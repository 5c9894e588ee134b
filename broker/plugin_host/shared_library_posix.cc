// SPDX-License-Identifier: Apache-2.0
#include <dlfcn.h>
#include <sys/stat.h>

#include "broker/plugin_host/shared_library.h"

namespace chatpro::plugin_host {

Result<std::unique_ptr<SharedLibrary>> SharedLibrary::Open(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound("no such file");
  if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition("not a regular file");
  // RTLD_NOW: a library with unresolved symbols fails here, at start-up, and
  // not later in the middle of a retention sweep. RTLD_LOCAL: a plugin's
  // symbols never satisfy another plugin's.
  // A name without a '/' would make dlopen search the system's library path;
  // the file meant is the one in the current folder.
  std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  ::dlerror();
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return Status::FailedPrecondition(why != nullptr ? why : "the loader refused it");
  }
  return std::unique_ptr<SharedLibrary>(new SharedLibrary(path, handle));
}

SharedLibrary::~SharedLibrary() { ::dlclose(handle_); }

void* SharedLibrary::Symbol(const char* name) const { return ::dlsym(handle_, name); }

std::string PluginFileName(const std::string& short_name) {
  return "libchatpro_" + short_name + ".so";
}

}  // namespace chatpro::plugin_host
