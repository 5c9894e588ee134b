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

#include "broker/base/embedded_assets.h"

namespace chatpro::webchat {

using Asset = EmbeddedAsset;

// Every embedded file (generated).
const std::vector<Asset>& Assets();

// The page a request path names (FindEmbeddedAsset), or null.
inline const Asset* FindAsset(std::string_view path) { return FindEmbeddedAsset(Assets(), path); }

}  // namespace chatpro::webchat
