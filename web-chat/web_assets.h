// SPDX-License-Identifier: Apache-2.0
//
// The web chat's pages (web-chat/web), embedded into the binary at build time
// by admin-console/embed_assets.cmake: the broker serves every file the
// browser needs and nothing is fetched from the internet.
//
// Thread-safety: immutable data.
#pragma once

#include <string_view>
#include <vector>

namespace chatpro::webchat {

struct Asset {
  std::string_view path;          // "/index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view data;
  std::string_view etag;          // quoted, e.g. "\"3f2a...\""
};

// Every embedded file (generated).
const std::vector<Asset>& Assets();

// The asset a request path names ("/" is "/index.html"; a query string is
// ignored), or null. Only exact names of the embedded set match: a path with
// "..", a backslash, a percent escape or a NUL names nothing.
const Asset* FindAsset(std::string_view path);

}  // namespace chatpro::webchat
