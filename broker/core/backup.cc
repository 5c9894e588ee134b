// SPDX-License-Identifier: Apache-2.0
#include "broker/core/backup.h"

#include <sodium.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include "broker/base/encoding.h"
#include "broker/base/log.h"
#include "broker/base/thread_priority.h"
#include "broker/core/store_format.h"

namespace chatpro::core {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kManifestMagic = "chatpro-backup 1";
constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kMaxManifestBytes = 16 << 20;

std::string PartialName(std::string_view name) { return "." + std::string(name) + ".partial"; }

// Makes a file's or a folder's contents durable. Best effort on Windows,
// where the rename and the files are flushed by the file system.
Status SyncPath(const std::string& path) {
#ifndef _WIN32
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path + " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IoError("cannot sync " + path);
#else
  (void)path;
#endif
  return Status::Ok();
}

// A path inside a backup: relative, '/'-separated, each part a plain name.
bool SafeRelativePath(std::string_view path) {
  if (path.empty() || path.size() > 256 || path.front() == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    std::string_view part = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (!ok) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return true;
}

std::string Blake2b(std::string_view bytes) {
  unsigned char out[kHashBytes];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), nullptr, 0);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

bool ParseU64(std::string_view text, std::uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// The regular files under `dir`, as '/'-separated paths relative to it, sorted.
Result<std::vector<std::string>> FilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    out.push_back(fs::relative(it->path(), dir, ec).generic_string());
    if (ec) break;
  }
  if (ec) return Status::IoError("cannot list " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string EncodeBackupManifest(const BackupManifest& m) {
  std::ostringstream out;
  out << kManifestMagic << "\n"
      << "name " << m.name << "\n"
      << "started_at_us " << m.started_at_us << "\n"
      << "finished_at_us " << m.finished_at_us << "\n"
      << "broker_version " << m.broker_version << "\n"
      << "store_format " << m.store_format << "\n"
      << "store_id " << m.store_id << "\n"
      << "records " << m.records << "\n"
      << "messages " << m.messages << "\n"
      << "blobs " << m.blobs << "\n"
      << "bytes " << m.bytes << "\n";
  for (const BackupFileEntry& f : m.files) {
    out << "file " << f.blake2b << " " << f.bytes << " " << f.path << "\n";
  }
  std::string body = out.str();
  return body + "manifest " + Blake2b(body) + "\n";
}

Result<BackupManifest> ParseBackupManifest(std::string_view text) {
  auto damaged = [](const std::string& why) {
    return Status::DataLoss("the backup's MANIFEST is damaged: " + why);
  };
  const std::size_t last = text.rfind("manifest ");
  if (last == std::string_view::npos || (last != 0 && text[last - 1] != '\n')) {
    return damaged("its own checksum line is missing");
  }
  std::string_view body = text.substr(0, last);
  std::string_view sum = text.substr(last + 9);
  while (!sum.empty() && (sum.back() == '\n' || sum.back() == '\r')) sum.remove_suffix(1);
  if (Blake2b(body) != sum) return damaged("its checksum does not match its contents");
  if (body.substr(0, kManifestMagic.size() + 1) != std::string(kManifestMagic) + "\n") {
    return damaged("it is not a ChatPro backup manifest of a version this broker reads");
  }
  BackupManifest m;
  std::istringstream lines{std::string(body.substr(kManifestMagic.size() + 1))};
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string value = space == std::string::npos ? std::string() : line.substr(space + 1);
    std::uint64_t n = 0;
    auto number = [&](std::uint64_t* out) -> Status {
      if (!ParseU64(value, out)) return damaged("'" + key + "' is not a number");
      return Status::Ok();
    };
    if (key == "name") {
      m.name = value;
    } else if (key == "started_at_us") {
      CHATPRO_RETURN_IF_ERROR(number(&n));
      m.started_at_us = static_cast<std::int64_t>(n);
    } else if (key == "finished_at_us") {
      CHATPRO_RETURN_IF_ERROR(number(&n));
      m.finished_at_us = static_cast<std::int64_t>(n);
    } else if (key == "broker_version") {
      m.broker_version = value;
    } else if (key == "store_format") {
      CHATPRO_RETURN_IF_ERROR(number(&n));
      if (n > 1000000) return damaged("the store format is out of range");
      m.store_format = static_cast<int>(n);
    } else if (key == "store_id") {
      m.store_id = value;
    } else if (key == "records") {
      CHATPRO_RETURN_IF_ERROR(number(&m.records));
    } else if (key == "messages") {
      CHATPRO_RETURN_IF_ERROR(number(&m.messages));
    } else if (key == "blobs") {
      CHATPRO_RETURN_IF_ERROR(number(&m.blobs));
    } else if (key == "bytes") {
      CHATPRO_RETURN_IF_ERROR(number(&m.bytes));
    } else if (key == "file") {
      // file HASH SIZE PATH
      std::istringstream parts(value);
      BackupFileEntry f;
      std::string size;
      parts >> f.blake2b >> size;
      std::getline(parts >> std::ws, f.path);
      if (f.blake2b.size() != 2 * kHashBytes || !HexDecode(f.blake2b) ||
          !ParseU64(size, &f.bytes)) {
        return damaged("a file line is malformed");
      }
      if (!SafeRelativePath(f.path) || f.path == kBackupManifestName) {
        return damaged("the file name '" + f.path.substr(0, 80) + "' is not allowed");
      }
      m.files.push_back(std::move(f));
    } else {
      return damaged("unknown line '" + key.substr(0, 40) + "'");
    }
  }
  if (!ValidateBackupName(m.name).ok()) return damaged("the backup's name is not valid");
  if (m.store_format == 0) return damaged("the store format is missing");
  return m;
}

Status ValidateBackupName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (std::size_t i = 0; ok && i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'));
  }
  if (!ok) {
    return Status::InvalidArgument(
        "a backup name is 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or "
        "digit");
  }
  return Status::Ok();
}

Result<BackupFileEntry> HashBackupFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path);
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, kHashBytes);
  BackupFileEntry entry;
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got <= 0) break;
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(buffer.data()),
                              static_cast<unsigned long long>(got));
    entry.bytes += static_cast<std::uint64_t>(got);
  }
  if (in.bad()) return Status::IoError("cannot read " + path);
  unsigned char out[kHashBytes];
  crypto_generichash_final(&state, out, sizeof out);
  entry.blake2b = HexEncode(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
  return entry;
}

Result<BackupManifest> ReadBackupManifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / kBackupManifestName).string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("there is no backup in " + dir + " (no " + path + ")");
  std::string text(kMaxManifestBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxManifestBytes) {
    return Status::DataLoss(path + " is too large to be a manifest");
  }
  Result<BackupManifest> m = ParseBackupManifest(text);
  if (!m.ok()) return Status::DataLoss(path + ": " + m.status().message());
  return m;
}

Result<BackupManifest> VerifyBackup(const std::string& dir) {
  CHATPRO_ASSIGN_OR_RETURN(BackupManifest m, ReadBackupManifest(dir));
  if (m.store_format > kStoreFormat) {
    return Status::FailedPrecondition(
        "the backup in " + dir + " holds a store made by a newer broker (format " +
        std::to_string(m.store_format) + ", broker " + m.broker_version +
        "); this broker reads up to " + std::to_string(kStoreFormat) + ": upgrade the broker");
  }
  bool has_store = false;
  for (const BackupFileEntry& f : m.files) {
    const std::string path = (fs::path(dir) / fs::path(f.path)).string();
    if (f.path.rfind("store/", 0) == 0) has_store = true;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      return Status::DataLoss(path + " is missing from the backup");
    }
    Result<BackupFileEntry> now = HashBackupFile(path);
    if (!now.ok()) return Status::DataLoss(path + " cannot be read: " + now.status().message());
    if (now->bytes != f.bytes) {
      return Status::DataLoss(path + " is damaged: it has " + std::to_string(now->bytes) +
                              " bytes, the manifest says " + std::to_string(f.bytes));
    }
    if (now->blake2b != f.blake2b) {
      return Status::DataLoss(path + " is damaged: its BLAKE2b-256 does not match the manifest");
    }
  }
  if (!has_store) return Status::DataLoss("the backup in " + dir + " lists no store files");
  return m;
}

std::vector<BackupManifest> ListBackups(const std::string& root) {
  std::vector<BackupManifest> out;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (name.empty() || name.front() == '.' || !it->is_directory(type_ec)) continue;
    Result<BackupManifest> m = ReadBackupManifest(it->path().string());
    if (m.ok()) out.push_back(std::move(*m));
  }
  std::sort(out.begin(), out.end(), [](const BackupManifest& a, const BackupManifest& b) {
    return a.started_at_us != b.started_at_us ? a.started_at_us < b.started_at_us : a.name < b.name;
  });
  return out;
}

void RemoveUnfinishedBackups(const std::string& root) {
  std::error_code ec;
  std::vector<fs::path> partial;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 9 && name.front() == '.' &&
        name.compare(name.size() - 8, 8, ".partial") == 0) {
      partial.push_back(it->path());
    }
  }
  for (const fs::path& p : partial) {
    std::error_code rm;
    fs::remove_all(p, rm);
    if (!rm) LOG_INFO() << "removed the unfinished backup " << p.string();
  }
}

Result<BackupManifest> WriteBackup(MessageStore& store, const BackupPlan& plan, const Clock& clock,
                                   const SnapshotCopyControl& control) {
  CHATPRO_RETURN_IF_ERROR(ValidateBackupName(plan.name));
  const fs::path root(plan.setup.dir);
  if (plan.setup.dir.empty()) {
    return Status::FailedPrecondition("this broker has no backup folder configured");
  }
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    // A folder made here is private; one that exists keeps its permissions.
    fs::create_directories(root, ec);
    if (ec) {
      return Status::IoError("cannot create the backup folder " + root.string() + ": " +
                             ec.message());
    }
    fs::permissions(root, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  const fs::path final_dir = root / plan.name;
  if (fs::exists(final_dir, ec)) {
    return Status::AlreadyExists("there is a backup named '" + plan.name + "' in " + root.string() +
                                 " already");
  }
  const fs::path tmp = root / PartialName(plan.name);
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec) || ec) {
    return Status::IoError("cannot create " + tmp.string() + ": " + ec.message());
  }
  fs::permissions(tmp, fs::perms::owner_all, fs::perm_options::replace, ec);
  struct Cleanup {
    fs::path path;
    bool keep = false;
    ~Cleanup() {
      std::error_code e;
      if (!keep) fs::remove_all(path, e);
    }
  } cleanup{tmp};

  CHATPRO_ASSIGN_OR_RETURN(SnapshotCopyCounts counts, store.CopySnapshot(tmp.string(), control));
  for (const BackupKeyFile& key : plan.setup.key_files) {
    const fs::path to = tmp / key.name;
    fs::copy_file(key.path, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IoError("cannot copy " + key.path + " into the backup: " + ec.message());
    fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                    ec);
  }

  BackupManifest m;
  m.name = plan.name;
  m.started_at_us = plan.started_at_us;
  m.broker_version = plan.setup.broker_version;
  m.store_format = plan.store_format;
  m.store_id = plan.store_id;
  m.records = counts.records;
  m.messages = counts.messages;
  m.blobs = counts.blobs;
  m.bytes = counts.bytes;
  CHATPRO_ASSIGN_OR_RETURN(std::vector<std::string> files, FilesUnder(tmp.string()));
  for (const std::string& rel : files) {
    const std::string path = (tmp / fs::path(rel)).string();
    if (!SafeRelativePath(rel)) return Status::Internal("unexpected file name " + path);
    CHATPRO_RETURN_IF_ERROR(SyncPath(path));
    CHATPRO_ASSIGN_OR_RETURN(BackupFileEntry entry, HashBackupFile(path));
    entry.path = rel;
    m.files.push_back(std::move(entry));
  }
  m.finished_at_us = clock.NowMicros();
  const std::string manifest_path = (tmp / kBackupManifestName).string();
  {
    std::ofstream out(manifest_path, std::ios::binary | std::ios::trunc);
    out << EncodeBackupManifest(m);
    out.flush();
    if (!out) return Status::IoError("cannot write " + manifest_path);
  }
  CHATPRO_RETURN_IF_ERROR(SyncPath(manifest_path));
  for (const char* sub : {"store", "blobs"}) {
    if (fs::is_directory(tmp / sub, ec)) CHATPRO_RETURN_IF_ERROR(SyncPath((tmp / sub).string()));
  }
  CHATPRO_RETURN_IF_ERROR(SyncPath(tmp.string()));
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    return Status::IoError("cannot rename " + tmp.string() + " to " + final_dir.string() + ": " +
                           ec.message());
  }
  cleanup.keep = true;
  CHATPRO_RETURN_IF_ERROR(SyncPath(root.string()));
  return m;
}

BackupJob::BackupJob(BackupPlan plan, MessageStore* store, const Clock* clock)
    : plan_(std::move(plan)), store_(store), clock_(clock) {
  progress_.name = plan_.name;
  progress_.started_at_us = plan_.started_at_us;
}

BackupJob::~BackupJob() { Cancel(); }

void BackupJob::Start() {
  thread_ = std::thread([this] { Run(); });
}

void BackupJob::Cancel() {
  cancel_.store(true);
  if (thread_.joinable()) thread_.join();
}

BackupProgress BackupJob::progress() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return progress_;
}

void BackupJob::Run() {
  LowerCurrentThreadPriority();
  SnapshotCopyControl control;
  control.bytes_per_second = plan_.setup.bytes_per_second;
  control.cancelled = [this] { return cancel_.load(); };
  control.progress = [this](const SnapshotCopyCounts& c) {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.records = c.records;
    progress_.messages = c.messages;
    progress_.blobs = c.blobs;
    progress_.bytes = c.bytes;
  };
  Result<BackupManifest> m = WriteBackup(*store_, plan_, *clock_, control);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.finished_at_us = clock_->NowMicros();
    if (m.ok()) {
      progress_.state = BackupProgress::State::kDone;
      progress_.path = (fs::path(plan_.setup.dir) / plan_.name).string();
      progress_.records = m->records;
      progress_.messages = m->messages;
      progress_.blobs = m->blobs;
      progress_.bytes = m->bytes;
    } else {
      progress_.state = BackupProgress::State::kFailed;
      progress_.error = m.status().message();
    }
  }
  finished_.store(true);
}

}  // namespace chatpro::core
