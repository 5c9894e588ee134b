// SPDX-License-Identifier: Apache-2.0
#include "tests/zip_reader.h"

#include <Poco/Zip/ZipArchive.h>
#include <Poco/Zip/ZipStream.h>

#include <fstream>
#include <sstream>

namespace chatpro::testing {

std::map<std::string, std::string> ReadZip(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path, std::ios::binary);
  Poco::Zip::ZipArchive archive(in);
  for (auto it = archive.headerBegin(); it != archive.headerEnd(); ++it) {
    if (it->second.isDirectory()) continue;
    std::ifstream member_file(path, std::ios::binary);
    Poco::Zip::ZipInputStream member(member_file, it->second);
    std::ostringstream data;
    data << member.rdbuf();
    out[it->first] = data.str();
  }
  return out;
}

}  // namespace chatpro::testing
