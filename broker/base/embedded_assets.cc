// SPDX-License-Identifier: Apache-2.0
#include "broker/base/embedded_assets.h"

namespace chatpro {

const EmbeddedAsset* FindEmbeddedAsset(const std::vector<EmbeddedAsset>& assets,
                                       std::string_view path) {
  path = path.substr(0, path.find('?'));
  if (path == "/") path = "/index.html";
  // The table is matched exactly, so no path can leave it; refusing these
  // outright also keeps them out of any later lookup that might decode.
  if (path.find("..") != std::string_view::npos || path.find('\\') != std::string_view::npos ||
      path.find('%') != std::string_view::npos || path.find('\0') != std::string_view::npos) {
    return nullptr;
  }
  for (const EmbeddedAsset& a : assets) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace chatpro
