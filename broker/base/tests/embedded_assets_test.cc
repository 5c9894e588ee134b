// SPDX-License-Identifier: Apache-2.0
//
// Finding an embedded page by a request's path: only exact names of the
// table, never anything a path trick could reach.
#include "broker/base/embedded_assets.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chatpro {
namespace {

const std::vector<EmbeddedAsset> kAssets = {
    {"/index.html", "text/html; charset=utf-8", "<!doctype html>", "\"1\""},
    {"/app.js", "text/javascript; charset=utf-8", "export {};", "\"2\""},
};

TEST(EmbeddedAssets, ARootOrAQueryStillNamesThePage) {
  const EmbeddedAsset* root = FindEmbeddedAsset(kAssets, "/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->path, "/index.html");
  const EmbeddedAsset* script = FindEmbeddedAsset(kAssets, "/app.js?v=3");
  ASSERT_NE(script, nullptr);
  EXPECT_EQ(script->data, "export {};");
}

TEST(EmbeddedAssets, PathTricksAndUnknownNamesNameNothing) {
  for (std::string path : {"/app.js/..", "/../app.js", "/%61pp.js", "\\app.js", "/APP.JS",
                           "/app", "", "/index.html/", "/web/app.js"}) {
    EXPECT_EQ(FindEmbeddedAsset(kAssets, path), nullptr) << path;
  }
  std::string with_nul = "/app.js";
  with_nul.push_back('\0');
  EXPECT_EQ(FindEmbeddedAsset(kAssets, with_nul), nullptr);
}

}  // namespace
}  // namespace chatpro
