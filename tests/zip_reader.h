// SPDX-License-Identifier: Apache-2.0
//
// ReadZip: a zip file's members, as a records officer would open an export.
//
// Thread-safety: a pure function of the file.
#pragma once

#include <map>
#include <string>

namespace chatpro::testing {

// The members of the zip file at `path`, name -> contents (folders left out).
std::map<std::string, std::string> ReadZip(const std::string& path);

}  // namespace chatpro::testing
