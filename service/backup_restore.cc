// SPDX-License-Identifier: Apache-2.0
#include "service/backup_restore.h"

#include <filesystem>
#include <iostream>
#include <memory>
#include <system_error>
#include <vector>

#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include "broker/base/clock.h"
#include "broker/core/store_format.h"
#include "broker/crypto/keys.h"
#include "broker/store/leveldb_message_store.h"

namespace chatpro::service {
namespace {

namespace fs = std::filesystem;

int Fail(const std::string& why) {
  std::cerr << "chatpro-broker: " << why << "\n";
  return 1;
}

void SyncPath(const fs::path& path) {
#ifndef _WIN32
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
#else
  (void)path;
#endif
}

bool HasStore(const std::string& data_dir) {
  std::error_code ec;
  return fs::exists(fs::path(data_dir) / "store" / "CURRENT", ec);
}

// Moves `from` to `to`, copying across file systems when a rename cannot.
Status MoveAside(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (!ec) return Status::Ok();
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (!ec) fs::remove_all(from, ec);
  if (ec) {
    return Status::IoError("cannot move " + from.string() + " to " + to.string() + ": " +
                           ec.message());
  }
  return Status::Ok();
}

// Copies one file of the backup to `to` (mode 0600), synced.
Status InstallFile(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return Status::IoError("cannot copy " + from.string() + " to " + to.string() + ": " +
                           ec.message());
  }
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                  ec);
  SyncPath(to);
  return Status::Ok();
}

}  // namespace

core::BackupSetup BackupSetupFor(const BrokerOptions& options, const std::string& version) {
  core::BackupSetup setup;
  setup.dir = options.backup.dir;
  setup.bytes_per_second = options.backup.max_bytes_per_second;
  setup.key_files = {{"storage.key", options.store.key_file},
                     {"broker.key", options.store.data_dir + "/broker.key"}};
  setup.broker_version = version;
  return setup;
}

int RestoreBackup(const std::string& backup_dir, const StoreOptions& store, bool force) {
  Status st = crypto::InitCrypto();
  if (!st.ok()) return Fail(st.message());
  Result<core::BackupManifest> manifest = core::VerifyBackup(backup_dir);
  if (!manifest.ok()) return Fail("refusing the backup: " + manifest.status().message());
  std::cout << "verified backup '" << manifest->name << "' in " << backup_dir << ": "
            << manifest->files.size() << " files match the manifest" << std::endl;

  const fs::path data_dir(store.data_dir);
  const fs::path broker_key = data_dir / "broker.key";
  std::error_code ec;
  const bool has_store = HasStore(store.data_dir);
  const bool has_keys = fs::exists(store.key_file, ec) || fs::exists(broker_key, ec);
  if ((has_store || has_keys) && !force) {
    return Fail(store.data_dir + " holds " + (has_store ? "a store" : "key files") +
                " already; restoring would replace it. Stop the broker and add --force to move "
                "what is there into " +
                store.data_dir + "/replaced-<time> and restore");
  }
  if (has_store) {
    // Taking the store's lock proves that no broker uses it.
    StoreOptions probe = store;
    Result<std::unique_ptr<store::LevelDbMessageStore>> open =
        store::LevelDbMessageStore::Open(probe);
    if (!open.ok()) return Fail("cannot replace the store: " + open.status().message());
  }
  fs::create_directories(data_dir, ec);
  if (ec) return Fail("cannot create " + store.data_dir + ": " + ec.message());
  fs::permissions(data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);

  SystemClock clock;
  if (has_store || has_keys) {
    const fs::path aside = data_dir / ("replaced-" + FormatUtc(clock.NowMicros(), "%Y%m%dT%H%M%SZ"));
    fs::create_directory(aside, ec);
    if (ec) return Fail("cannot create " + aside.string() + ": " + ec.message());
    fs::permissions(aside, fs::perms::owner_all, fs::perm_options::replace, ec);
    std::vector<std::pair<fs::path, fs::path>> moves = {
        {data_dir / "store", aside / "store"},
        {data_dir / "blobs", aside / "blobs"},
        {broker_key, aside / "broker.key"},
        {fs::path(store.key_file), aside / "storage.key"}};
    for (const auto& [from, to] : moves) {
      if (!fs::exists(from, ec)) continue;
      st = MoveAside(from, to);
      if (!st.ok()) return Fail(st.message());
    }
    std::cout << "moved the store and keys that were in " << store.data_dir << " to "
              << aside.string() << std::endl;
  }

  // The store is assembled beside its place and renamed in, so that a
  // failure part way never leaves a half store where the broker looks.
  const fs::path staging = data_dir / ".restoring";
  fs::remove_all(staging, ec);
  for (const core::BackupFileEntry& f : manifest->files) {
    const fs::path from = fs::path(backup_dir) / fs::path(f.path);
    fs::path to;
    if (f.path.rfind("store/", 0) == 0 || f.path.rfind("blobs/", 0) == 0) {
      to = staging / fs::path(f.path);
    } else if (f.path == "storage.key" || f.path == "broker.key") {
      to = staging / "keys" / f.path;
    } else {
      continue;  // not part of a data directory
    }
    st = InstallFile(from, to);
    if (!st.ok()) {
      fs::remove_all(staging, ec);
      return Fail(st.message());
    }
  }
  for (const char* sub : {"store", "blobs"}) {
    if (!fs::exists(staging / sub, ec)) continue;
    SyncPath(staging / sub);
    fs::rename(staging / sub, data_dir / sub, ec);
    if (ec) {
      return Fail("cannot move the restored " + std::string(sub) + " into place: " + ec.message());
    }
  }
  for (const auto& [name, to] : std::vector<std::pair<std::string, fs::path>>{
           {"storage.key", fs::path(store.key_file)}, {"broker.key", broker_key}}) {
    if (!fs::exists(staging / "keys" / name, ec)) continue;
    fs::create_directories(to.parent_path(), ec);
    st = MoveAside(staging / "keys" / name, to);
    if (!st.ok()) return Fail(st.message());
    SyncPath(to.parent_path());
  }
  fs::remove_all(staging, ec);
  SyncPath(data_dir);

  // Open what was installed: the store is whole and of the recorded format.
  Result<std::unique_ptr<store::LevelDbMessageStore>> db = store::LevelDbMessageStore::Open(store);
  if (!db.ok()) return Fail("the restored store does not open: " + db.status().message());
  Result<int> format = core::ReadStoreFormat(**db);
  if (!format.ok()) return Fail("the restored store cannot be read: " + format.status().message());
  std::cout << "restored backup '" << manifest->name << "' (made "
            << FormatUtc(manifest->started_at_us, "%Y-%m-%d %H:%M:%S UTC") << " by "
            << manifest->broker_version << ", store format " << *format << ", store id "
            << manifest->store_id << "): " << manifest->messages << " messages, "
            << manifest->records << " records, " << manifest->blobs << " attachments into "
            << store.data_dir << "; storage key file " << store.key_file << std::endl;
  if (*format < core::kStoreFormat) {
    std::cout << "the broker migrates the store from format " << *format << " to "
              << core::kStoreFormat << " when it starts" << std::endl;
  }
  return 0;
}

int OfflineBackup(const std::string& name, const BrokerOptions& options,
                  const std::string& version) {
  Status st = crypto::InitCrypto();
  if (!st.ok()) return Fail(st.message());
  if (!HasStore(options.store.data_dir)) {
    return Fail("there is no store in " + options.store.data_dir + " to back up");
  }
  Result<std::unique_ptr<store::LevelDbMessageStore>> db =
      store::LevelDbMessageStore::Open(options.store);
  if (!db.ok()) {
    return Fail("cannot open the store: " + db.status().message() +
                ". While the broker runs, use: chatpro admin backup start");
  }
  Result<int> format = core::ReadStoreFormat(**db);
  if (!format.ok()) return Fail(format.status().message());
  st = core::CheckStoreFormat(*format);
  if (!st.ok()) return Fail(st.message());
  if (*format == 0) {
    return Fail("the store in " + options.store.data_dir + " was never opened by a broker");
  }
  Result<std::string> id = core::ReadStoreId(**db);
  if (!id.ok()) return Fail(id.status().message());
  SystemClock clock;
  core::BackupPlan plan;
  plan.setup = BackupSetupFor(options, version);
  plan.setup.bytes_per_second = 0;  // nothing else uses the disk's time
  plan.name = name.empty() ? FormatUtc(clock.NowMicros(), "chatpro-%Y%m%d-%H%M%S") : name;
  plan.store_format = *format;
  plan.store_id = *id;
  plan.started_at_us = clock.NowMicros();
  Result<core::BackupManifest> m = core::WriteBackup(**db, plan, clock, {});
  if (!m.ok()) return Fail("the backup failed: " + m.status().message());
  std::cout << "backed up the store of " << options.store.data_dir << " into "
            << (fs::path(plan.setup.dir) / plan.name).string() << ": " << m->messages
            << " messages, " << m->records << " records, " << m->blobs
            << " attachments (store format " << m->store_format << ")" << std::endl;
  return 0;
}

std::string DescribeStoreFormat(const StoreOptions& store) {
  const std::string writes = "this broker writes format " + std::to_string(core::kStoreFormat) +
                             " and migrates formats " +
                             std::to_string(core::kOldestMigratableFormat) + " and later";
  if (!HasStore(store.data_dir)) return "no store yet; " + writes;
  Result<std::unique_ptr<store::LevelDbMessageStore>> db = store::LevelDbMessageStore::Open(store);
  if (!db.ok()) {
    if (db.status().code() == StatusCode::kFailedPrecondition) {
      return "not read: the store is in use by a running broker; " + writes;
    }
    return "not read: " + db.status().message() + "; " + writes;
  }
  Result<int> format = core::ReadStoreFormat(**db);
  if (!format.ok()) return "not read: " + format.status().message();
  Status ok = core::CheckStoreFormat(*format);
  return std::to_string(*format) + (ok.ok() ? "" : " (" + ok.message() + ")") + "; " + writes;
}

}  // namespace chatpro::service
