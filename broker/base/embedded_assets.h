// SPDX-License-Identifier: Apache-2.0
//
// Files embedded into the binary at build time (admin-console/
// embed_assets.cmake makes the table): the console's pages and the web
// chat's, served from memory so that nothing is read from disk or fetched
// from the internet.
//
// Thread-safety: immutable data.
#pragma once

#include <string_view>
#include <vector>

namespace chatpro {

struct EmbeddedAsset {
  std::string_view path;          // "/index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view data;
  std::string_view etag;          // quoted, e.g. "\"3f2a...\""
};

// The asset of `assets` a request path names ("/" is "/index.html"; a query
// string is ignored), or null. Only exact names of the embedded set match: a
// path with "..", a backslash, a percent escape or a NUL names nothing.
const EmbeddedAsset* FindEmbeddedAsset(const std::vector<EmbeddedAsset>& assets,
                                       std::string_view path);

}  // namespace chatpro
