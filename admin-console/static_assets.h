// SPDX-License-Identifier: Apache-2.0
//
// The console's pages (admin-console/web), embedded into the binary at build
// time (embed_assets.cmake): nothing is read from disk or the internet.
//
// Thread-safety: immutable data.
#pragma once

#include <string_view>
#include <vector>

#include "broker/base/embedded_assets.h"

namespace chatpro::console {

using Asset = EmbeddedAsset;

// Every embedded file (generated).
const std::vector<Asset>& Assets();

// The page a request path names (FindEmbeddedAsset), or null.
inline const Asset* FindAsset(std::string_view path) { return FindEmbeddedAsset(Assets(), path); }

}  // namespace chatpro::console
