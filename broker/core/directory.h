// SPDX-License-Identifier: Apache-2.0
//
// Directory: the organisation's users, their devices and pending invites.
//
// Identity is an organisation account and a device key: a user has a login
// name, a display name and a role, and no contact details at all. Each device
// has its own public key of a kind (KeyKind): a CURVE key for ZeroMQ clients,
// an Ed25519 key for browsers. An invite is stored only as the (CURVE) public
// key derived from its one-time code.
//
// The directory lives in memory, loaded from the store at start. Mutations
// change memory at once and append the records to persist to a WriteBatch;
// the caller answers only after that batch is stored (batches are stored in
// order, so nobody can be told about a change before it is durable).
//
// Thread-safety: none; owned and used by the broker's event-loop thread.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/base/ids.h"
#include "broker/base/result.h"
#include "broker/core/message_store.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::core {

using Role = wire::Role;
using KeyKind = wire::KeyKind;

struct User {
  UserId id;
  std::string login;
  std::string display_name;
  Role role = Role::User;
  bool active = true;
  std::int64_t created_at_us = 0;
  std::int64_t deactivated_at_us = 0;
  std::vector<DeviceId> devices;
  // The web console's argon2id password hash; empty: no console password.
  std::string console_password_hash;
};

struct Device {
  DeviceId id;
  UserId user;
  std::string public_key;  // 32 bytes
  KeyKind key_kind = KeyKind::Curve25519;
  std::string name;
  std::string client_version;
  std::int64_t created_at_us = 0;
  bool active = true;
  std::int64_t revoked_at_us = 0;
  std::int64_t last_seen_us = 0;  // as last persisted (the session may be newer)
  std::string last_address;
};

struct Enrollment {
  std::string public_key;  // derived from the one-time code
  UserId user;
  std::int64_t created_at_us = 0;
  std::int64_t expires_at_us = 0;
};

class Directory {
 public:
  Directory() = default;
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  // Loads users, devices and invites. On failure returns the store's error or
  // DataLoss for a record that does not decode.
  Status Load(MessageStore& store);

  const User* FindUser(UserId id) const;
  const User* FindUserByLogin(std::string_view login) const;
  const Device* FindDevice(DeviceId id) const;
  // The device with this key of this kind; a key of another kind with the
  // same bytes is not it.
  const Device* FindDeviceByKey(std::string_view public_key,
                                KeyKind kind = KeyKind::Curve25519) const;
  // The pending invite for a derived key, if it exists and has not expired.
  const Enrollment* FindEnrollment(std::string_view public_key, std::int64_t now_us) const;

  std::size_t user_count() const { return users_.size(); }
  // Every user, ordered by login.
  std::vector<const User*> Users() const;

  // Creates a user. On failure returns InvalidArgument (bad login or display
  // name) or AlreadyExists.
  Result<const User*> AddUser(std::string_view login, std::string_view display_name, Role role,
                              std::int64_t now_us, WriteBatch* batch);
  // Registers a device key of `kind` for `user`. AlreadyExists if that key of
  // that kind is registered.
  Result<const Device*> AddDevice(UserId user, std::string_view public_key,
                                  std::string_view name, std::string_view client_version,
                                  std::int64_t now_us, WriteBatch* batch,
                                  KeyKind kind = KeyKind::Curve25519);
  // Records a device's client version if it changed.
  void SetClientVersion(DeviceId device, std::string_view version, WriteBatch* batch);
  // Offboards `user`: deactivated, every device revoked, every pending invite
  // removed. Returns the devices that were active. REQUIRES: the user exists.
  struct Deactivation {
    std::vector<DeviceId> devices_revoked;
    std::uint32_t invites_cancelled = 0;
  };
  Deactivation DeactivateUser(UserId user, std::int64_t now_us, WriteBatch* batch);
  // Lets `user` back in. Their devices stay revoked. REQUIRES: the user exists.
  void ReactivateUser(UserId user, WriteBatch* batch);
  // Sets (or, with an empty hash, clears) the console password hash of
  // `user`. REQUIRES: the user exists; the caller has checked the hash.
  void SetConsolePasswordHash(UserId user, std::string_view hash, WriteBatch* batch);
  // Revokes one device. REQUIRES: the device exists.
  void RevokeDevice(DeviceId device, std::int64_t now_us, WriteBatch* batch);
  // Records when and from where a device was last seen.
  void TouchDevice(DeviceId device, std::int64_t now_us, std::string_view address,
                   WriteBatch* batch);
  // Active administrators.
  std::size_t active_admins() const;

  // Blocks: `blocker` wants no direct messages with `blocked`.
  void Block(UserId blocker, UserId blocked, WriteBatch* batch);
  void Unblock(UserId blocker, UserId blocked, WriteBatch* batch);
  bool IsBlocked(UserId blocker, UserId blocked) const;
  std::vector<UserId> BlockedBy(UserId blocker) const;

  // Stores a pending invite for `user` under the derived `public_key`.
  void AddEnrollment(UserId user, std::string_view public_key, std::int64_t now_us,
                     std::int64_t expires_at_us, WriteBatch* batch);
  // Uses up an invite: it can never be used again.
  void RemoveEnrollment(std::string_view public_key, WriteBatch* batch);

  // Login names: 1 to 32 of a-z, 0-9, '.', '_', '-', starting with a letter or
  // digit. Display names: 1 to 64 characters of valid UTF-8, no control characters.
  static Status ValidateLogin(std::string_view login);
  static Status ValidateDisplayName(std::string_view name);

 private:
  void PutUser(const User& user, WriteBatch* batch) const;
  void PutDevice(const Device& device, WriteBatch* batch) const;
  static std::string KindedKey(KeyKind kind, std::string_view public_key);

  std::unordered_map<UserId, std::unique_ptr<User>> users_;
  std::unordered_map<std::string, UserId> users_by_login_;
  std::unordered_map<DeviceId, std::unique_ptr<Device>> devices_;
  // Key kind (one byte) + key bytes -> device.
  std::unordered_map<std::string, DeviceId> devices_by_key_;
  std::unordered_map<std::string, Enrollment> enrollments_;
  std::set<std::pair<UserId, UserId>> blocks_;  // (blocker, blocked)
  std::uint64_t next_user_id_ = 1;
  std::uint64_t next_device_id_ = 1;
};

// True if `text` is valid UTF-8.
bool IsValidUtf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` that does not cut a
// UTF-8 character.
std::string_view TruncateUtf8(std::string_view text, std::size_t max_bytes);

}  // namespace chatpro::core
