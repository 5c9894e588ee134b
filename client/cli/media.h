// SPDX-License-Identifier: Apache-2.0
//
// Media helpers of the `chatpro` client: what a voice or picture file is
// (from its extension and header), and the names under which received media
// are saved. Saved names come from the conversation id, the seq and a fixed
// extension table, never from anything the sender chose.
//
// Thread-safety: pure functions, except ReadFile/WriteFile which touch the
// file system.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "broker/base/result.h"

namespace chatpro::cli {

// "opus" for .ogg/.opus, "wav", "aac" for .m4a/.aac, "mp3", "webm" (Opus in
// WebM, what browsers record); nullopt otherwise.
std::optional<std::string> CodecFromPath(std::string_view path);
// "image/jpeg" for .jpg/.jpeg, "image/png", "image/gif", "image/webp".
std::optional<std::string> MimeFromPath(std::string_view path);

// Width and height from a PNG, JPEG, GIF or WebP header; nullopt if the bytes
// are none of these or are cut short.
std::optional<std::pair<std::uint32_t, std::uint32_t>> ImageSize(std::string_view bytes);
// The playing time of a PCM WAV file, from its header.
std::optional<std::uint32_t> WavDurationMs(std::string_view bytes);

// The file extension (without dot) for saving received media.
std::string ExtensionForVoice(std::string_view codec, std::string_view audio);
std::string ExtensionForPicture(std::string_view mime_type);

// Reads a whole file of at most `max_bytes`. On failure returns NotFound,
// InvalidArgument (too large) or IoError, naming the file.
Result<std::string> ReadFile(const std::string& path, std::uint64_t max_bytes);
// Writes a file (mode 0600), creating its folder if needed.
Status WriteFile(const std::string& path, std::string_view bytes);

}  // namespace chatpro::cli
