// SPDX-License-Identifier: Apache-2.0
#include "client/cli/media.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace chatpro::cli {
namespace {

namespace fs = std::filesystem;

std::string LowerExtension(std::string_view path) {
  std::size_t slash = path.find_last_of('/');
  std::size_t dot = path.find_last_of('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return {};
  std::string ext(path.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

std::uint32_t Be16(std::string_view b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 8) |
         static_cast<unsigned char>(b[at + 1]);
}
std::uint32_t Be32(std::string_view b, std::size_t at) { return (Be16(b, at) << 16) | Be16(b, at + 2); }
std::uint32_t Le16(std::string_view b, std::size_t at) {
  return static_cast<unsigned char>(b[at]) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8);
}
std::uint32_t Le24(std::string_view b, std::size_t at) {
  return Le16(b, at) | (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16);
}
std::uint32_t Le32(std::string_view b, std::size_t at) { return Le16(b, at) | (Le16(b, at + 2) << 16); }

using Size = std::optional<std::pair<std::uint32_t, std::uint32_t>>;

Size JpegSize(std::string_view b) {
  std::size_t i = 2;
  while (i + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[i]) != 0xFF) return std::nullopt;
    unsigned char marker = static_cast<unsigned char>(b[i + 1]);
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      i += 2;  // markers without a length
      continue;
    }
    std::uint32_t length = Be16(b, i + 2);
    bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
               marker != 0xCC;
    if (sof) {
      if (i + 9 > b.size()) return std::nullopt;
      return std::make_pair(Be16(b, i + 7), Be16(b, i + 5));
    }
    if (marker == 0xDA || length < 2) return std::nullopt;  // image data before any frame header
    i += 2 + length;
  }
  return std::nullopt;
}

Size WebpSize(std::string_view b) {
  if (b.size() < 30 || b.substr(0, 4) != "RIFF" || b.substr(8, 4) != "WEBP") return std::nullopt;
  std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8X") return std::make_pair(Le24(b, 24) + 1, Le24(b, 27) + 1);
  if (chunk == "VP8L") {
    std::uint32_t bits = Le32(b, 21);
    return std::make_pair((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  if (chunk == "VP8 ") return std::make_pair(Le16(b, 26) & 0x3FFF, Le16(b, 28) & 0x3FFF);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> CodecFromPath(std::string_view path) {
  std::string ext = LowerExtension(path);
  if (ext == "ogg" || ext == "opus") return "opus";
  if (ext == "wav") return "wav";
  if (ext == "m4a" || ext == "aac") return "aac";
  if (ext == "mp3") return "mp3";
  if (ext == "webm") return "webm";
  return std::nullopt;
}

std::optional<std::string> MimeFromPath(std::string_view path) {
  std::string ext = LowerExtension(path);
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "png") return "image/png";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  return std::nullopt;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> ImageSize(std::string_view b) {
  if (b.size() >= 24 && b.substr(0, 8) == "\x89PNG\r\n\x1a\n" && b.substr(12, 4) == "IHDR") {
    return std::make_pair(Be32(b, 16), Be32(b, 20));
  }
  if (b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0xFF &&
      static_cast<unsigned char>(b[1]) == 0xD8) {
    return JpegSize(b);
  }
  if (b.size() >= 10 && (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a")) {
    return std::make_pair(Le16(b, 6), Le16(b, 8));
  }
  return WebpSize(b);
}

std::optional<std::uint32_t> WavDurationMs(std::string_view b) {
  if (b.size() < 12 || b.substr(0, 4) != "RIFF" || b.substr(8, 4) != "WAVE") return std::nullopt;
  std::uint32_t byte_rate = 0;
  std::size_t i = 12;
  while (i + 8 <= b.size()) {
    std::string_view id = b.substr(i, 4);
    std::uint32_t size = Le32(b, i + 4);
    if (id == "fmt " && i + 20 <= b.size()) byte_rate = Le32(b, i + 16);
    if (id == "data") {
      if (byte_rate == 0) return std::nullopt;
      std::uint64_t data = std::min<std::uint64_t>(size, b.size() - (i + 8));
      return static_cast<std::uint32_t>(data * 1000 / byte_rate);
    }
    i += 8 + size + (size & 1);
  }
  return std::nullopt;
}

std::string ExtensionForVoice(std::string_view codec, std::string_view audio) {
  if (codec == "opus") return "opus";
  if (codec == "wav") return "wav";
  if (codec == "mp3") return "mp3";
  if (codec == "webm") return "webm";
  if (codec == "aac") return audio.size() >= 8 && audio.substr(4, 4) == "ftyp" ? "m4a" : "aac";
  return "bin";
}

std::string ExtensionForPicture(std::string_view mime_type) {
  if (mime_type == "image/jpeg") return "jpg";
  if (mime_type == "image/png") return "png";
  if (mime_type == "image/gif") return "gif";
  if (mime_type == "image/webp") return "webp";
  return "bin";
}

Result<std::string> ReadFile(const std::string& path, std::uint64_t max_bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::NotFound("no file " + path);
  if (fs::is_directory(path, ec)) return Status::InvalidArgument(path + " is a folder");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  std::string out;
  char buf[64 * 1024];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<std::size_t>(in.gcount()));
    if (out.size() > max_bytes) {
      return Status::InvalidArgument(path + " is larger than " + std::to_string(max_bytes) +
                                     " bytes");
    }
  }
  if (in.bad()) return Status::IoError("cannot read " + path);
  return out;
}

Status WriteFile(const std::string& path, std::string_view bytes) {
  std::error_code ec;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) return Status::IoError("cannot create " + parent.string() + ": " + ec.message());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd);
      return Status::IoError("cannot write " + path + ": " + err);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace chatpro::cli
