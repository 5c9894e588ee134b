// SPDX-License-Identifier: Apache-2.0
//
// StorageKeyRing: the keys that encrypt the broker's store at rest, and
// Seal()/Open(), the authenticated encryption of one stored value.
//
// A ring holds one or more 256-bit keys, each with a number (its id). The
// newest key is the active one: new values are sealed under it. Older keys
// stay in the ring only while values sealed under them remain; rotating the
// key (chatpro-broker --rotate-storage-key) adds a key, re-seals everything
// under it and then retires the old ones.
//
// The ring lives in a small text file of mode 0600 (by default
// `<data_dir>/storage.key`):
//
//   # ChatPro storage key ring. ...
//   key 1 <64 hex digits>
//   key 2 <64 hex digits>
//   active 2
//
// It is written atomically (a temporary file, fsync, rename, fsync of the
// folder), so a crash leaves either the old ring or the new one. A ring file
// that group or others may read is refused. Losing the file loses the store:
// it must be backed up along with the data.
//
// A sealed value is
//   1 byte   format version (1)
//   4 bytes  key id, big-endian
//   24 bytes nonce, random
//   the ciphertext and its 16-byte tag (XChaCha20-Poly1305-IETF, libsodium)
// The caller's associated data (for the store: the value's key) is
// authenticated too, so a sealed value copied to another place fails to open.
//
// Thread-safety: a StorageKeyRing is a value. Its const functions may be
// called from any number of threads at once; AddKeyAndSave() and
// RetireAllButActiveAndSave() need the caller to keep every other user away.
// Seal() and Open() may be called from any thread after InitCrypto()
// (keys.h) has returned OK once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/base/result.h"

namespace chatpro::crypto {

constexpr std::size_t kStorageKeyBytes = 32;
// Format version, key id, nonce and tag: what sealing adds to a value.
constexpr std::size_t kSealedOverheadBytes = 1 + 4 + 24 + 16;

struct StorageKey {
  std::uint32_t id = 0;
  std::array<unsigned char, kStorageKeyBytes> bytes{};
};

class StorageKeyRing {
 public:
  // Reads the ring at `path`. On failure returns NotFound if there is no file,
  // PermissionDenied (naming the chmod to run) if group or others may read it,
  // InvalidArgument naming the line if it is not a valid ring, IoError if it
  // cannot be read.
  static Result<StorageKeyRing> Load(const std::string& path);

  // Makes a ring with one new random key (id 1) and writes it to `path`
  // (mode 0600). On failure returns AlreadyExists if `path` exists (a ring is
  // never overwritten: the store would become unreadable), IoError otherwise.
  static Result<StorageKeyRing> Create(const std::string& path);

  StorageKeyRing(StorageKeyRing&& other) noexcept;
  StorageKeyRing& operator=(StorageKeyRing&& other) noexcept;
  StorageKeyRing(const StorageKeyRing&) = delete;
  StorageKeyRing& operator=(const StorageKeyRing&) = delete;
  // Wipes the keys from memory.
  ~StorageKeyRing();

  // Adds a new random key (the highest id so far + 1), makes it the active
  // one and rewrites the file. On failure (IoError) the file and this ring
  // are unchanged.
  Status AddKeyAndSave();

  // Removes every key but the active one and rewrites the file. REQUIRES: no
  // stored value is sealed under the other keys any more (they would become
  // unreadable). On failure (IoError) the file and this ring are unchanged.
  Status RetireAllButActiveAndSave();

  // The key new values are sealed under.
  const StorageKey& active() const;
  // The key with `id`, nullptr if the ring has none.
  const StorageKey* Find(std::uint32_t id) const;
  // Every key, by ascending id.
  const std::vector<StorageKey>& keys() const { return keys_; }
  // The file the ring was loaded from or created at.
  const std::string& path() const { return path_; }

 private:
  StorageKeyRing(std::string path, std::vector<StorageKey> keys, std::uint32_t active_id)
      : path_(std::move(path)), keys_(std::move(keys)), active_id_(active_id) {}
  // Writes `keys` (with `active_id`) to path_, replacing the file atomically.
  Status Write(const std::vector<StorageKey>& keys, std::uint32_t active_id) const;
  void Wipe();

  std::string path_;
  std::vector<StorageKey> keys_;  // ascending id, never empty
  std::uint32_t active_id_ = 0;
};

// The size of `plaintext_bytes` once sealed.
constexpr std::size_t SealedSize(std::size_t plaintext_bytes) {
  return plaintext_bytes + kSealedOverheadBytes;
}

// Encrypts and authenticates `plaintext` and `associated_data` under `key`
// with a fresh random nonce. The result is one allocation of
// SealedSize(plaintext.size()) bytes. On failure returns InvalidArgument if
// the plaintext is too large for the cipher.
Result<std::string> Seal(const StorageKey& key, std::string_view plaintext,
                         std::string_view associated_data);

// Checks and decrypts a value made by Seal() with the same associated data,
// using the key of `ring` it names. On failure returns:
//   DataLoss           if the value is not a sealed value, is damaged, or was
//                      sealed with another key or other associated data (the
//                      tag does not verify);
//   FailedPrecondition if it names a key id that is not in the ring (the
//                      message names the id and the ring's file).
Result<std::string> Open(const StorageKeyRing& ring, std::string_view sealed,
                         std::string_view associated_data);

// As Open(), into `*plaintext` (whose capacity is reused; its contents are
// unspecified on failure).
Status OpenInto(const StorageKeyRing& ring, std::string_view sealed,
                std::string_view associated_data, std::string* plaintext);

}  // namespace chatpro::crypto
