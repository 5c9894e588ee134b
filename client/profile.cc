// SPDX-License-Identifier: Apache-2.0
//
// Profile folders: profile.conf (key = value lines) beside device.key.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "broker/base/encoding.h"
#include "broker/crypto/keys.h"
#include "client/client.h"

namespace chatpro::client {
namespace {

namespace fs = std::filesystem;

constexpr char kConfName[] = "profile.conf";
constexpr char kKeyName[] = "device.key";

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

bool ParseUint(const std::string& text, std::uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

std::string JoinPath(const std::string& dir, const char* name) {
  return (fs::path(dir) / name).string();
}

// Creates `dir` and its parents; the profile folder itself gets mode 0700.
Status MakePrivateDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create profile folder " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return Status::IoError("cannot make " + dir + " private: " + ec.message());
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, const std::string& body) {
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
  }
  bool ok = std::fwrite(body.data(), 1, body.size(), f) == body.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Status::IoError("cannot write " + tmp);
  std::error_code ec;
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                  ec);
  fs::rename(tmp, path, ec);
  if (ec) return Status::IoError("cannot move " + tmp + " to " + path + ": " + ec.message());
  return Status::Ok();
}

// Overwrites the file at `path` with zeros, syncs it and unlinks it. A file
// that is not there is no error.
Status ZeroAndUnlink(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    // Not writable (or a symbolic link): still take the name away.
    std::string err = std::strerror(errno);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::IoError("cannot delete " + path + ": " + std::strerror(errno));
    }
    return Status::IoError("cannot overwrite " + path + " before deleting it: " + err);
  }
  Status status;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    status = Status::IoError("cannot read the size of " + path + ": " + std::strerror(errno));
  } else {
    static const char kZeros[4096] = {};
    off_t left = st.st_size;
    while (left > 0 && status.ok()) {
      std::size_t chunk = static_cast<std::size_t>(std::min<off_t>(left, sizeof kZeros));
      ssize_t n = ::write(fd, kZeros, chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        status = Status::IoError("cannot overwrite " + path + ": " + std::strerror(errno));
      } else {
        left -= n;
      }
    }
    if (status.ok() && ::fsync(fd) != 0) {
      status = Status::IoError("cannot sync " + path + ": " + std::strerror(errno));
    }
  }
  ::close(fd);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::IoError("cannot delete " + path + ": " + std::strerror(errno));
  }
  return status;
}

Status Unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::IoError("cannot delete " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kAuditor: return "auditor";
    case Role::kUser: break;
  }
  return "user";
}

Result<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kUser, Role::kAdmin, Role::kAuditor}) {
    if (name == RoleName(r)) return r;
  }
  return Status::InvalidArgument("unknown role '" + std::string(name) +
                                 "' (expected user, admin or auditor)");
}

std::string_view CaseKindName(CaseKind kind) {
  return kind == CaseKind::kSearch ? "search" : "subject-access";
}

Result<CaseKind> ParseCaseKind(std::string_view name) {
  for (CaseKind k : {CaseKind::kSubjectAccess, CaseKind::kSearch}) {
    if (name == CaseKindName(k)) return k;
  }
  return Status::InvalidArgument("unknown case kind '" + std::string(name) +
                                 "' (expected subject-access or search)");
}

std::string_view PresenceStateName(PresenceState state) {
  switch (state) {
    case PresenceState::kOnline: return "online";
    case PresenceState::kOffDuty: return "off duty";
    case PresenceState::kOffline: break;
  }
  return "offline";
}

std::string Profile::DefaultDir() {
  if (const char* p = std::getenv("CHATPRO_PROFILE"); p != nullptr && *p != '\0') return p;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x != nullptr && *x != '\0') {
    return (fs::path(x) / "chatpro").string();
  }
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    return (fs::path(h) / ".config" / "chatpro").string();
  }
  return (fs::path(".config") / "chatpro").string();
}

Result<Profile> Profile::Load(const std::string& dir) {
  CHATPRO_RETURN_IF_ERROR(crypto::InitCrypto());
  std::string conf_path = JoinPath(dir, kConfName);
  std::ifstream in(conf_path);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(conf_path, ec)) {
      return Status::NotFound("not enrolled: no profile in " + dir +
                              "; run chatpro enroll INVITE");
    }
    return Status::IoError("cannot read " + conf_path);
  }
  std::map<std::string, std::string> values;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument(conf_path + ":" + std::to_string(number) +
                                     ": expected key = value");
    }
    values[Trim(t.substr(0, eq))] = Trim(t.substr(eq + 1));
  }
  Profile p;
  p.dir = dir;
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument(conf_path + ": " + what);
  };
  p.endpoint = values["endpoint"];
  if (p.endpoint.rfind("tcp://", 0) != 0) return bad("endpoint must be tcp://HOST:PORT");
  auto key = HexDecode(values["server_key"]);
  if (!key || key->size() != crypto::kKeyBytes) return bad("server_key must be 64 hex digits");
  p.server_key = *key;
  p.login = values["login"];
  if (p.login.empty()) return bad("login is missing");
  if (!ParseUint(values["user_id"], &p.user_id)) return bad("user_id must be a number");
  if (!ParseUint(values["device_id"], &p.device_id)) return bad("device_id must be a number");

  Result<crypto::KeyPair> keys = crypto::ReadKeyFile(JoinPath(dir, kKeyName));
  if (!keys.ok()) return keys.status();
  p.public_key = keys->public_key;
  p.secret_key = keys->secret_key;
  return p;
}

Status Profile::Save() const {
  if (server_key.size() != crypto::kKeyBytes || public_key.size() != crypto::kKeyBytes ||
      secret_key.size() != crypto::kKeyBytes) {
    return Status::InvalidArgument("a profile needs 32-byte server, public and secret keys");
  }
  CHATPRO_RETURN_IF_ERROR(MakePrivateDir(dir));
  CHATPRO_RETURN_IF_ERROR(
      crypto::WriteKeyFile(JoinPath(dir, kKeyName), crypto::KeyPair{public_key, secret_key}));
  std::ostringstream conf;
  conf << "# ChatPro device profile, written by chatpro enroll.\n"
       << "endpoint = " << endpoint << "\n"
       << "server_key = " << HexEncode(server_key) << "\n"
       << "login = " << login << "\n"
       << "user_id = " << user_id << "\n"
       << "device_id = " << device_id << "\n";
  return WriteFileAtomically(JoinPath(dir, kConfName), conf.str());
}

Status Profile::Wipe(const std::string& dir) {
  const std::string key = JoinPath(dir, kKeyName);
  const std::string key_tmp = key + ".tmp";
  const std::string conf = JoinPath(dir, kConfName);
  const std::string conf_tmp = conf + ".tmp";
  // The key first: it is what must not survive. Every file is tried even if
  // an earlier one failed; the first failure is reported.
  Status first;
  for (Status s : {ZeroAndUnlink(key), ZeroAndUnlink(key_tmp), Unlink(conf), Unlink(conf_tmp)}) {
    if (first.ok() && !s.ok()) first = std::move(s);
  }
  if (first.ok()) {
    // The unlinks themselves survive a crash only once the folder is synced.
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
      (void)::fsync(fd);
      ::close(fd);
    }
  }
  return first;
}

}  // namespace chatpro::client
