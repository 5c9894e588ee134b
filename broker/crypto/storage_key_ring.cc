// SPDX-License-Identifier: Apache-2.0
#include "broker/crypto/storage_key_ring.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "broker/base/encoding.h"
#include "broker/base/file_io.h"

namespace chatpro::crypto {
namespace {

constexpr unsigned char kSealedFormat = 1;
constexpr std::size_t kIdBytes = 4;
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kHeaderBytes = 1 + kIdBytes + kNonceBytes;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kStorageKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kSealedOverheadBytes == kHeaderBytes + kTagBytes);
// A ring file is a few lines; anything much larger is not one.
constexpr std::size_t kMaxRingFileBytes = 1 << 20;

constexpr char kRingFileComment[] =
    "# ChatPro storage key ring: the keys that encrypt the store at rest.\n"
    "# Keep it secret (mode 0600) and back it up with the data: without it the\n"
    "# store cannot be read. Rotate with: chatpro-broker --rotate-storage-key\n";

std::string ErrnoText(int err) { return std::strerror(err); }

// Nonces come from a per-thread pool refilled from libsodium's generator in
// large reads: randombytes_buf costs a getrandom() system call per call,
// which would be as much as the encryption of a short message. A pool
// copied by fork() would repeat nonces in the child; the broker never forks.
void NextNonce(unsigned char* out) {
  struct Pool {
    unsigned char bytes[kNonceBytes * 170];
    std::size_t used = sizeof bytes;
  };
  thread_local Pool pool;
  if (pool.used + kNonceBytes > sizeof pool.bytes) {
    randombytes_buf(pool.bytes, sizeof pool.bytes);
    pool.used = 0;
  }
  std::memcpy(out, pool.bytes + pool.used, kNonceBytes);
  pool.used += kNonceBytes;
}

void StoreBigEndian32(unsigned char* out, std::uint32_t v) {
  out[0] = static_cast<unsigned char>(v >> 24);
  out[1] = static_cast<unsigned char>(v >> 16);
  out[2] = static_cast<unsigned char>(v >> 8);
  out[3] = static_cast<unsigned char>(v);
}

std::uint32_t ReadBigEndian32(const unsigned char* in) {
  return (std::uint32_t{in[0]} << 24) | (std::uint32_t{in[1]} << 16) |
         (std::uint32_t{in[2]} << 8) | std::uint32_t{in[3]};
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

StorageKey RandomKey(std::uint32_t id) {
  StorageKey k;
  k.id = id;
  crypto_aead_xchacha20poly1305_ietf_keygen(k.bytes.data());
  return k;
}

void WipeKeys(std::vector<StorageKey>* keys) {
  for (StorageKey& k : *keys) sodium_memzero(k.bytes.data(), k.bytes.size());
  keys->clear();
}

// Splits a line into whitespace-separated words.
std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

bool ParseId(std::string_view text, std::uint32_t* id) {
  if (text.empty() || text.size() > 10) return false;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v == 0 || v > std::numeric_limits<std::uint32_t>::max()) return false;
  *id = static_cast<std::uint32_t>(v);
  return true;
}

// Reads the whole file at `path`, refusing one that group or others may read.
Result<std::string> ReadPrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | base::kOpenFlags);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound("no storage key file at " + path);
    return Status::IoError("cannot open the storage key file " + path + ": " + ErrnoText(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::IoError("cannot read the storage key file " + path + ": " + ErrnoText(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("the storage key file " + path + " is not a regular file");
  }
  if (base::OthersMayRead(static_cast<unsigned>(st.st_mode))) {
    ::close(fd);
    return Status::PermissionDenied("the storage key file " + path +
                                    " may be read by other users; run: chmod 600 " + path);
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxRingFileBytes) {
    ::close(fd);
    return Status::InvalidArgument("the storage key file " + path + " is too large to be one");
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      sodium_memzero(text.data(), text.size());
      return Status::IoError("cannot read the storage key file " + path + ": " + ErrnoText(err));
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return text;
}

Status ParseRing(std::string_view text, const std::string& path, std::vector<StorageKey>* keys,
                 std::uint32_t* active_id) {
  int line_no = 0;
  *active_id = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    std::vector<std::string_view> words = Words(line);
    if (words.empty() || words[0][0] == '#') continue;
    std::string where = "the storage key file " + path + ", line " + std::to_string(line_no);
    std::uint32_t id = 0;
    if (words[0] == "key" && words.size() == 3 && ParseId(words[1], &id)) {
      std::optional<std::string> bytes = HexDecode(words[2]);
      if (!bytes || bytes->size() != kStorageKeyBytes) {
        if (bytes) sodium_memzero(bytes->data(), bytes->size());
        return Status::InvalidArgument(where + ": key " + std::to_string(id) +
                                       " is not 64 hex digits");
      }
      for (const StorageKey& k : *keys) {
        if (k.id == id) {
          sodium_memzero(bytes->data(), bytes->size());
          return Status::InvalidArgument(where + ": key " + std::to_string(id) +
                                         " appears twice");
        }
      }
      StorageKey k;
      k.id = id;
      std::memcpy(k.bytes.data(), bytes->data(), kStorageKeyBytes);
      sodium_memzero(bytes->data(), bytes->size());
      keys->push_back(k);
      sodium_memzero(k.bytes.data(), k.bytes.size());
    } else if (words[0] == "active" && words.size() == 2 && ParseId(words[1], &id)) {
      if (*active_id != 0) return Status::InvalidArgument(where + ": a second 'active' line");
      *active_id = id;
    } else {
      return Status::InvalidArgument(where + ": expected 'key ID HEX' or 'active ID'");
    }
  }
  if (keys->empty()) {
    return Status::InvalidArgument("the storage key file " + path + " holds no key");
  }
  if (*active_id == 0) {
    return Status::InvalidArgument("the storage key file " + path + " names no active key");
  }
  bool found = false;
  for (const StorageKey& k : *keys) found = found || k.id == *active_id;
  if (!found) {
    return Status::InvalidArgument("the storage key file " + path + " names key " +
                                   std::to_string(*active_id) +
                                   " as active but does not hold it");
  }
  std::sort(keys->begin(), keys->end(),
            [](const StorageKey& a, const StorageKey& b) { return a.id < b.id; });
  return Status::Ok();
}

// Writes all of `body` to `fd`.
bool WriteAll(int fd, std::string_view body) {
  while (!body.empty()) {
    ssize_t n = ::write(fd, body.data(), body.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    body.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Makes a completed rename in `path`'s folder durable.
int SyncParentFolder(const std::string& path) {
  std::size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  return base::SyncFolder(dir);
}

}  // namespace

Result<StorageKeyRing> StorageKeyRing::Load(const std::string& path) {
  CHATPRO_ASSIGN_OR_RETURN(std::string text, ReadPrivateFile(path));
  std::vector<StorageKey> keys;
  std::uint32_t active_id = 0;
  Status st = ParseRing(text, path, &keys, &active_id);
  sodium_memzero(text.data(), text.size());
  if (!st.ok()) {
    WipeKeys(&keys);
    return st;
  }
  return StorageKeyRing(path, std::move(keys), active_id);
}

Result<StorageKeyRing> StorageKeyRing::Create(const std::string& path) {
  // The broker calls this only while it holds the store's lock, so nothing
  // else creates the file between this check and the rename.
  if (int err = base::PathTaken(path); err == 0) {
    return Status::AlreadyExists("a storage key file exists already at " + path);
  } else if (err != ENOENT) {
    return Status::IoError("cannot inspect " + path + ": " + ErrnoText(err));
  }
  std::vector<StorageKey> keys;
  keys.push_back(RandomKey(1));
  StorageKeyRing ring(path, std::move(keys), 1);
  CHATPRO_RETURN_IF_ERROR(ring.Write(ring.keys_, ring.active_id_));
  return ring;
}

StorageKeyRing::StorageKeyRing(StorageKeyRing&& other) noexcept
    : path_(std::move(other.path_)), keys_(std::move(other.keys_)), active_id_(other.active_id_) {
  other.keys_.clear();
}

StorageKeyRing& StorageKeyRing::operator=(StorageKeyRing&& other) noexcept {
  if (this != &other) {
    Wipe();
    path_ = std::move(other.path_);
    keys_ = std::move(other.keys_);
    other.keys_.clear();
    active_id_ = other.active_id_;
  }
  return *this;
}

StorageKeyRing::~StorageKeyRing() { Wipe(); }

void StorageKeyRing::Wipe() { WipeKeys(&keys_); }

Status StorageKeyRing::AddKeyAndSave() {
  std::vector<StorageKey> next = keys_;
  StorageKey fresh = RandomKey(next.back().id + 1);
  if (fresh.id == 0) {
    WipeKeys(&next);
    return Status::FailedPrecondition("the storage key file " + path_ + " has used every key id");
  }
  next.push_back(fresh);
  sodium_memzero(fresh.bytes.data(), fresh.bytes.size());
  Status st = Write(next, next.back().id);
  if (!st.ok()) {
    WipeKeys(&next);
    return st;
  }
  Wipe();
  keys_ = std::move(next);
  active_id_ = keys_.back().id;
  return Status::Ok();
}

Status StorageKeyRing::RetireAllButActiveAndSave() {
  std::vector<StorageKey> next = {active()};
  Status st = Write(next, active_id_);
  if (!st.ok()) {
    WipeKeys(&next);
    return st;
  }
  Wipe();
  keys_ = std::move(next);
  return Status::Ok();
}

const StorageKey& StorageKeyRing::active() const {
  const StorageKey* k = Find(active_id_);
  CHATPRO_CHECK(k != nullptr, "the active storage key is in the ring");
  return *k;
}

const StorageKey* StorageKeyRing::Find(std::uint32_t id) const {
  // A ring has a handful of keys at most: a linear search beats anything else.
  for (const StorageKey& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

Status StorageKeyRing::Write(const std::vector<StorageKey>& keys, std::uint32_t active_id) const {
  std::string body = kRingFileComment;
  for (const StorageKey& k : keys) {
    body += "key " + std::to_string(k.id) + " ";
    std::string hex = HexEncode(std::string_view(reinterpret_cast<const char*>(k.bytes.data()),
                                                 k.bytes.size()));
    body += hex;
    sodium_memzero(hex.data(), hex.size());
    body += "\n";
  }
  body += "active " + std::to_string(active_id) + "\n";

  const std::string tmp = path_ + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | base::kOpenFlags, 0600);
  if (fd < 0) {
    int err = errno;
    sodium_memzero(body.data(), body.size());
    return Status::IoError("cannot create the storage key file " + tmp + ": " + ErrnoText(err));
  }
  int err = 0;
  errno = 0;
  if (!WriteAll(fd, body) || base::SyncFile(fd) != 0) err = errno != 0 ? errno : EIO;
  sodium_memzero(body.data(), body.size());
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return Status::IoError("cannot write the storage key file " + tmp + ": " + ErrnoText(err));
  }
  if (base::MoveReplacing(tmp, path_) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return Status::IoError("cannot move the storage key file into place at " + path_ + ": " +
                           ErrnoText(err));
  }
  err = SyncParentFolder(path_);
  if (err != 0) {
    return Status::IoError("cannot sync the folder of the storage key file " + path_ + ": " +
                           ErrnoText(err));
  }
  return Status::Ok();
}

Result<std::string> Seal(const StorageKey& key, std::string_view plaintext,
                         std::string_view associated_data) {
  if (plaintext.size() > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
      plaintext.size() > std::numeric_limits<std::size_t>::max() - kSealedOverheadBytes) {
    return Status::InvalidArgument("a value of " + std::to_string(plaintext.size()) +
                                   " bytes is too large to encrypt");
  }
  std::string sealed(SealedSize(plaintext.size()), '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  out[0] = kSealedFormat;
  StoreBigEndian32(out + 1, key.id);
  unsigned char* nonce = out + 1 + kIdBytes;
  NextNonce(nonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + kHeaderBytes, &written, Bytes(plaintext),
                                             plaintext.size(), Bytes(associated_data),
                                             associated_data.size(), nullptr, nonce,
                                             key.bytes.data());
  CHATPRO_CHECK(written == plaintext.size() + kTagBytes, "AEAD output has the expected size");
  return sealed;
}

Status OpenInto(const StorageKeyRing& ring, std::string_view sealed,
                std::string_view associated_data, std::string* plaintext) {
  if (sealed.size() < kSealedOverheadBytes ||
      static_cast<unsigned char>(sealed[0]) != kSealedFormat) {
    return Status::DataLoss("the stored value is not an encrypted value (" +
                            std::to_string(sealed.size()) + " bytes)");
  }
  const unsigned char* in = Bytes(sealed);
  const std::uint32_t id = ReadBigEndian32(in + 1);
  const StorageKey* key = ring.Find(id);
  if (key == nullptr) {
    return Status::FailedPrecondition("the stored value was encrypted with key " +
                                      std::to_string(id) + ", which is not in the key file " +
                                      ring.path());
  }
  const std::size_t cipher_bytes = sealed.size() - kHeaderBytes;
  plaintext->resize(cipher_bytes - kTagBytes);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plaintext->data()), &written, nullptr,
          in + kHeaderBytes, cipher_bytes, Bytes(associated_data), associated_data.size(),
          in + 1 + kIdBytes, key->bytes.data()) != 0) {
    return Status::DataLoss("the stored value is damaged or was encrypted with another key");
  }
  return Status::Ok();
}

Result<std::string> Open(const StorageKeyRing& ring, std::string_view sealed,
                         std::string_view associated_data) {
  std::string plaintext;
  CHATPRO_RETURN_IF_ERROR(OpenInto(ring, sealed, associated_data, &plaintext));
  return plaintext;
}

}  // namespace chatpro::crypto
