// SPDX-License-Identifier: Apache-2.0
//
// Small encodings used in keys, invites and store keys: hex, and big-endian
// fixed-width integers (so that byte order sorts like numeric order).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatpro {

std::string HexEncode(std::string_view bytes);
// Lower- or upper-case hex; nullopt if the text is not hex of even length.
std::optional<std::string> HexDecode(std::string_view hex);

void AppendBigEndian64(std::string* out, std::uint64_t v);
// Writes v into out[0..7], most significant byte first.
void StoreBigEndian64(char* out, std::uint64_t v);
// REQUIRES: bytes.size() >= 8.
std::uint64_t ReadBigEndian64(std::string_view bytes);

}  // namespace chatpro
