// SPDX-License-Identifier: Apache-2.0
#include <windows.h>

#include <string>

#include "broker/plugin_host/shared_library.h"

namespace chatpro::plugin_host {
namespace {

std::wstring Widen(const std::string& utf8) {
  if (utf8.empty()) return std::wstring();
  int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(),
                                static_cast<int>(utf8.size()), nullptr, 0);
  if (n <= 0) return std::wstring();
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(), static_cast<int>(utf8.size()),
                        out.data(), n);
  return out;
}

std::string LastErrorText(DWORD code) {
  char* text = nullptr;
  DWORD n = ::FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                 FORMAT_MESSAGE_IGNORE_INSERTS,
                             nullptr, code, 0, reinterpret_cast<char*>(&text), 0, nullptr);
  std::string out = n > 0 && text != nullptr ? std::string(text, n) : "error " + std::to_string(code);
  if (text != nullptr) ::LocalFree(text);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

Result<std::unique_ptr<SharedLibrary>> SharedLibrary::Open(const std::string& path) {
  std::wstring wide = Widen(path);
  if (wide.empty()) return Status::InvalidArgument("the path is not valid UTF-8");
  DWORD attributes = ::GetFileAttributesW(wide.c_str());
  if (attributes == INVALID_FILE_ATTRIBUTES) return Status::NotFound("no such file");
  if ((attributes & FILE_ATTRIBUTE_DIRECTORY) != 0) return Status::FailedPrecondition("not a regular file");
  // LOAD_WITH_ALTERED_SEARCH_PATH: the DLLs a plugin depends on are looked for
  // beside the plugin first, not beside the broker.
  HMODULE module = ::LoadLibraryExW(wide.c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH);
  if (module == nullptr) return Status::FailedPrecondition(LastErrorText(::GetLastError()));
  return std::unique_ptr<SharedLibrary>(new SharedLibrary(path, module));
}

SharedLibrary::~SharedLibrary() { ::FreeLibrary(static_cast<HMODULE>(handle_)); }

void* SharedLibrary::Symbol(const char* name) const {
  return reinterpret_cast<void*>(::GetProcAddress(static_cast<HMODULE>(handle_), name));
}

std::string PluginFileName(const std::string& short_name) {
  return "chatpro_" + short_name + ".dll";
}

}  // namespace chatpro::plugin_host
