// SPDX-License-Identifier: Apache-2.0
#include "broker/core/directory.h"

#include <algorithm>
#include <cstring>

#include "broker/base/check.h"
#include "broker/base/encoding.h"
#include "broker/base/utf8.h"
#include "broker/core/records.h"
#include "chatpro/schemas/store_generated.h"

namespace chatpro::core {
namespace {

std::string_view AsView(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->c_str(), s->size());
}

std::string AsBytes(const flatbuffers::Vector<std::uint8_t>* v) {
  return v == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(v->data()), v->size());
}

std::string Finish(flatbuffers::FlatBufferBuilder& fbb) {
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace

std::string_view TruncateUtf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Step back over continuation bytes to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

bool IsValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Most text is ASCII: skip eight such bytes at a time.
    if (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, s + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

Status Directory::ValidateLogin(std::string_view login) {
  if (login.empty() || login.size() > 32) {
    return Status::InvalidArgument("a login name has 1 to 32 characters");
  }
  for (char c : login) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument("login name '" + std::string(login) +
                                     "' may use only a-z, 0-9, '.', '_' and '-'");
    }
  }
  char first = login.front();
  if (!((first >= 'a' && first <= 'z') || (first >= '0' && first <= '9'))) {
    return Status::InvalidArgument("a login name starts with a letter or a digit");
  }
  return Status::Ok();
}

Status Directory::ValidateDisplayName(std::string_view name) {
  if (name.empty() || name.size() > 256) {
    return Status::InvalidArgument("a display name has 1 to 64 characters");
  }
  if (!IsValidUtf8(name)) return Status::InvalidArgument("the display name is not valid UTF-8");
  size_t chars = 0;
  for (unsigned char c : name) {
    if ((c & 0xC0) != 0x80) ++chars;
    if (c < 0x20 || c == 0x7F) {
      return Status::InvalidArgument("the display name has control characters");
    }
  }
  if (chars > 64) return Status::InvalidArgument("a display name has 1 to 64 characters");
  return Status::Ok();
}

Status Directory::Load(MessageStore& store) {
  Status bad;
  std::string scratch;
  CHATPRO_RETURN_IF_ERROR(store.ScanRecords(
      RecordKind::kUser, "", [&](std::string_view, std::string_view value) {
        const auto* r = VerifiedRecord<store::UserRecord>(value, &scratch);
        if (r == nullptr) {
          bad = Status::DataLoss("a user record in the store is damaged");
          return false;
        }
        auto u = std::make_unique<User>();
        u->id = UserId(r->id());
        u->login = std::string(AsView(r->login()));
        u->display_name = std::string(AsView(r->display_name()));
        u->role = r->role();
        u->active = r->active();
        u->created_at_us = r->created_at_us();
        u->deactivated_at_us = r->deactivated_at_us();
        u->console_password_hash = std::string(AsView(r->console_password_hash()));
        next_user_id_ = std::max(next_user_id_, u->id.value() + 1);
        users_by_login_[u->login] = u->id;
        users_[u->id] = std::move(u);
        return true;
      }));
  CHATPRO_RETURN_IF_ERROR(bad);
  CHATPRO_RETURN_IF_ERROR(store.ScanRecords(
      RecordKind::kDevice, "", [&](std::string_view, std::string_view value) {
        const auto* r = VerifiedRecord<store::DeviceRecord>(value, &scratch);
        if (r == nullptr) {
          bad = Status::DataLoss("a device record in the store is damaged");
          return false;
        }
        auto d = std::make_unique<Device>();
        d->id = DeviceId(r->id());
        d->user = UserId(r->user_id());
        d->public_key = AsBytes(r->public_key());
        d->key_kind = r->key_kind();
        if (d->key_kind != KeyKind::Curve25519 && d->key_kind != KeyKind::Ed25519) {
          bad = Status::DataLoss("device " + std::to_string(d->id.value()) +
                                 " has a key of an unknown kind");
          return false;
        }
        d->name = std::string(AsView(r->name()));
        d->client_version = std::string(AsView(r->client_version()));
        d->created_at_us = r->created_at_us();
        d->active = r->active();
        d->revoked_at_us = r->revoked_at_us();
        d->last_seen_us = r->last_seen_us();
        d->last_address = std::string(AsView(r->last_address()));
        next_device_id_ = std::max(next_device_id_, d->id.value() + 1);
        auto user = users_.find(d->user);
        if (user == users_.end()) {
          bad = Status::DataLoss("device " + std::to_string(d->id.value()) + " belongs to no user");
          return false;
        }
        user->second->devices.push_back(d->id);
        devices_by_key_[KindedKey(d->key_kind, d->public_key)] = d->id;
        devices_[d->id] = std::move(d);
        return true;
      }));
  CHATPRO_RETURN_IF_ERROR(bad);
  CHATPRO_RETURN_IF_ERROR(store.ScanRecords(
      RecordKind::kEnrollment, "", [&](std::string_view, std::string_view value) {
        const auto* r = VerifiedRecord<store::EnrollmentRecord>(value, &scratch);
        if (r == nullptr) {
          bad = Status::DataLoss("an invite record in the store is damaged");
          return false;
        }
        Enrollment e;
        e.public_key = AsBytes(r->public_key());
        e.user = UserId(r->user_id());
        e.created_at_us = r->created_at_us();
        e.expires_at_us = r->expires_at_us();
        enrollments_[e.public_key] = std::move(e);
        return true;
      }));
  CHATPRO_RETURN_IF_ERROR(bad);
  return store.ScanRecords(RecordKind::kBlock, "", [&](std::string_view key, std::string_view) {
    if (key.size() == 16) {
      blocks_.insert({UserId(ReadBigEndian64(key.substr(0, 8))),
                      UserId(ReadBigEndian64(key.substr(8, 8)))});
    }
    return true;
  });
}

const User* Directory::FindUser(UserId id) const {
  auto it = users_.find(id);
  return it == users_.end() ? nullptr : it->second.get();
}

const User* Directory::FindUserByLogin(std::string_view login) const {
  auto it = users_by_login_.find(std::string(login));
  return it == users_by_login_.end() ? nullptr : FindUser(it->second);
}

const Device* Directory::FindDevice(DeviceId id) const {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : it->second.get();
}

std::string Directory::KindedKey(KeyKind kind, std::string_view public_key) {
  std::string k(1, static_cast<char>(kind));
  k.append(public_key);
  return k;
}

const Device* Directory::FindDeviceByKey(std::string_view public_key, KeyKind kind) const {
  auto it = devices_by_key_.find(KindedKey(kind, public_key));
  return it == devices_by_key_.end() ? nullptr : FindDevice(it->second);
}

const Enrollment* Directory::FindEnrollment(std::string_view public_key, std::int64_t now_us) const {
  auto it = enrollments_.find(std::string(public_key));
  if (it == enrollments_.end() || it->second.expires_at_us <= now_us) return nullptr;
  return &it->second;
}

std::vector<const User*> Directory::Users() const {
  std::vector<const User*> out;
  out.reserve(users_.size());
  for (const auto& [id, u] : users_) out.push_back(u.get());
  std::sort(out.begin(), out.end(), [](const User* a, const User* b) { return a->login < b->login; });
  return out;
}

void Directory::PutUser(const User& u, WriteBatch* batch) const {
  flatbuffers::FlatBufferBuilder fbb;
  auto login = fbb.CreateString(u.login);
  auto display = fbb.CreateString(u.display_name);
  // No field for a user without a console password, so that their record is
  // what it was before consoles existed.
  flatbuffers::Offset<flatbuffers::String> console_hash;
  if (!u.console_password_hash.empty()) console_hash = fbb.CreateString(u.console_password_hash);
  fbb.Finish(store::CreateUserRecord(fbb, u.id.value(), login, display, u.role, u.active,
                                     u.created_at_us, u.deactivated_at_us, console_hash));
  batch->records.push_back({RecordKind::kUser, store_keys::U64Key(u.id.value()), Finish(fbb)});
}

void Directory::PutDevice(const Device& d, WriteBatch* batch) const {
  flatbuffers::FlatBufferBuilder fbb;
  auto key = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(d.public_key.data()),
                              d.public_key.size());
  auto name = fbb.CreateString(d.name);
  auto version = fbb.CreateString(d.client_version);
  auto address = fbb.CreateString(d.last_address);
  fbb.Finish(store::CreateDeviceRecord(fbb, d.id.value(), d.user.value(), key, name, version,
                                       d.created_at_us, d.active, d.revoked_at_us,
                                       d.last_seen_us, address, d.key_kind));
  batch->records.push_back({RecordKind::kDevice, store_keys::U64Key(d.id.value()), Finish(fbb)});
}

Result<const User*> Directory::AddUser(std::string_view login, std::string_view display_name,
                                       Role role, std::int64_t now_us, WriteBatch* batch) {
  CHATPRO_RETURN_IF_ERROR(ValidateLogin(login));
  CHATPRO_RETURN_IF_ERROR(ValidateDisplayName(display_name));
  if (FindUserByLogin(login) != nullptr) {
    return Status::AlreadyExists("a user named '" + std::string(login) + "' exists already");
  }
  auto u = std::make_unique<User>();
  u->id = UserId(next_user_id_++);
  u->login = std::string(login);
  u->display_name = std::string(display_name);
  u->role = role;
  u->created_at_us = now_us;
  PutUser(*u, batch);
  const User* out = u.get();
  users_by_login_[u->login] = u->id;
  users_[u->id] = std::move(u);
  return out;
}

Result<const Device*> Directory::AddDevice(UserId user, std::string_view public_key,
                                           std::string_view name, std::string_view client_version,
                                           std::int64_t now_us, WriteBatch* batch,
                                           KeyKind kind) {
  auto owner = users_.find(user);
  if (owner == users_.end()) return Status::NotFound("no such user");
  if (FindDeviceByKey(public_key, kind) != nullptr) {
    return Status::AlreadyExists("this device key is registered already");
  }
  auto d = std::make_unique<Device>();
  d->id = DeviceId(next_device_id_++);
  d->user = user;
  d->public_key = std::string(public_key);
  d->key_kind = kind;
  d->name = std::string(TruncateUtf8(name, 64));
  d->client_version = std::string(TruncateUtf8(client_version, 64));
  d->created_at_us = now_us;
  PutDevice(*d, batch);
  const Device* out = d.get();
  owner->second->devices.push_back(d->id);
  devices_by_key_[KindedKey(kind, d->public_key)] = d->id;
  devices_[d->id] = std::move(d);
  return out;
}

void Directory::SetConsolePasswordHash(UserId user, std::string_view hash, WriteBatch* batch) {
  auto it = users_.find(user);
  CHATPRO_CHECK(it != users_.end(), "SetConsolePasswordHash for an unknown user");
  it->second->console_password_hash = std::string(hash);
  PutUser(*it->second, batch);
}

void Directory::SetClientVersion(DeviceId device, std::string_view version, WriteBatch* batch) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  std::string v(TruncateUtf8(version, 64));
  if (it->second->client_version == v) return;
  it->second->client_version = std::move(v);
  PutDevice(*it->second, batch);
}

void Directory::AddEnrollment(UserId user, std::string_view public_key, std::int64_t now_us,
                              std::int64_t expires_at_us, WriteBatch* batch) {
  Enrollment e{std::string(public_key), user, now_us, expires_at_us};
  flatbuffers::FlatBufferBuilder fbb;
  auto key = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(e.public_key.data()),
                              e.public_key.size());
  fbb.Finish(store::CreateEnrollmentRecord(fbb, key, user.value(), now_us, expires_at_us, false));
  batch->records.push_back({RecordKind::kEnrollment, e.public_key, Finish(fbb)});
  enrollments_[e.public_key] = std::move(e);
}

Directory::Deactivation Directory::DeactivateUser(UserId user, std::int64_t now_us,
                                                  WriteBatch* batch) {
  Deactivation out;
  User& u = *users_.at(user);
  u.active = false;
  u.deactivated_at_us = now_us;
  PutUser(u, batch);
  for (DeviceId id : u.devices) {
    Device& d = *devices_.at(id);
    if (!d.active) continue;
    d.active = false;
    d.revoked_at_us = now_us;
    PutDevice(d, batch);
    out.devices_revoked.push_back(id);
  }
  std::vector<std::string> invites;
  for (const auto& [key, e] : enrollments_) {
    if (e.user == user) invites.push_back(key);
  }
  for (const std::string& key : invites) RemoveEnrollment(key, batch);
  out.invites_cancelled = static_cast<std::uint32_t>(invites.size());
  return out;
}

void Directory::ReactivateUser(UserId user, WriteBatch* batch) {
  User& u = *users_.at(user);
  u.active = true;
  u.deactivated_at_us = 0;
  PutUser(u, batch);
}

void Directory::RevokeDevice(DeviceId device, std::int64_t now_us, WriteBatch* batch) {
  Device& d = *devices_.at(device);
  if (!d.active) return;
  d.active = false;
  d.revoked_at_us = now_us;
  PutDevice(d, batch);
}

void Directory::TouchDevice(DeviceId device, std::int64_t now_us, std::string_view address,
                            WriteBatch* batch) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  Device& d = *it->second;
  d.last_seen_us = now_us;
  if (!address.empty()) d.last_address = std::string(TruncateUtf8(address, 64));
  PutDevice(d, batch);
}

std::size_t Directory::active_admins() const {
  std::size_t n = 0;
  for (const auto& [id, u] : users_) n += (u->active && u->role == Role::Admin) ? 1 : 0;
  return n;
}

void Directory::Block(UserId blocker, UserId blocked, WriteBatch* batch) {
  if (!blocks_.insert({blocker, blocked}).second) return;
  batch->records.push_back(
      {RecordKind::kBlock, store_keys::U64Key(blocker.value(), blocked.value()), std::string()});
}

void Directory::Unblock(UserId blocker, UserId blocked, WriteBatch* batch) {
  if (blocks_.erase({blocker, blocked}) == 0) return;
  batch->records.push_back(
      {RecordKind::kBlock, store_keys::U64Key(blocker.value(), blocked.value()), std::nullopt});
}

bool Directory::IsBlocked(UserId blocker, UserId blocked) const {
  return blocks_.count({blocker, blocked}) > 0;
}

std::vector<UserId> Directory::BlockedBy(UserId blocker) const {
  std::vector<UserId> out;
  for (auto it = blocks_.lower_bound({blocker, UserId()}); it != blocks_.end() && it->first == blocker;
       ++it) {
    out.push_back(it->second);
  }
  return out;
}

void Directory::RemoveEnrollment(std::string_view public_key, WriteBatch* batch) {
  enrollments_.erase(std::string(public_key));
  batch->records.push_back({RecordKind::kEnrollment, std::string(public_key), std::nullopt});
}

}  // namespace chatpro::core
