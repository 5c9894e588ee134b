// SPDX-License-Identifier: Apache-2.0
//
// Helpers for the store's tests: a temporary directory removed on
// destruction, and a LevelDB Env that makes writes to the write-ahead log fail
// as on a full disk.
//
// Thread-safety: TempDir is not shared between threads; DiskFullEnv may be
// switched from the test thread while LevelDB's threads use it.
#pragma once

#include <gtest/gtest.h>
#include <leveldb/env.h>
#include <leveldb/slice.h>
#include <leveldb/status.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <utility>

#include "broker/base/encoding.h"

namespace chatpro::store::testing {

// A fresh, empty directory under GoogleTest's temporary directory.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    const std::filesystem::path base(::testing::TempDir());
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::string suffix;
      AppendBigEndian64(&suffix, (std::uint64_t{random()} << 32) | random());
      path_ = base / ("chatpro_store_test_" + HexEncode(suffix));
      std::error_code ec;
      if (std::filesystem::create_directory(path_, ec)) return;
    }
    ADD_FAILURE() << "cannot create a temporary directory under " << base;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path() const { return path_.string(); }
  // A path inside the directory (not created).
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Wraps the default Env; while failing() is on, appends to LevelDB's log files
// fail with ENOSPC's text, so Write() fails the way it does on a full disk.
// Table files are left alone, so background compaction never fails.
//
// With partial_appends() on, a failing append first hands half of its bytes to
// the file, as write(2) does when the disk fills in the middle of a record.
// With failing_syncs() on, syncs of the log fail instead (the append itself
// succeeds): LevelDB then refuses every later write until it is reopened.
class DiskFullEnv final : public leveldb::EnvWrapper {
 public:
  DiskFullEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

  void set_failing(bool failing) { failing_ = failing; }
  bool failing() const { return failing_; }
  void set_partial_appends(bool partial) { partial_appends_ = partial; }
  bool partial_appends() const { return partial_appends_; }
  void set_failing_syncs(bool failing) { failing_syncs_ = failing; }
  bool failing_syncs() const { return failing_syncs_; }

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** file) override {
    return Wrap(name, target()->NewWritableFile(name, file), file);
  }
  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** file) override {
    return Wrap(name, target()->NewAppendableFile(name, file), file);
  }

 private:
  class File final : public leveldb::WritableFile {
   public:
    File(std::string name, leveldb::WritableFile* base, const DiskFullEnv* env)
        : name_(std::move(name)), base_(base), env_(env) {}
    ~File() override { delete base_; }

    leveldb::Status Append(const leveldb::Slice& data) override {
      if (env_->failing()) {
        if (env_->partial_appends()) {
          leveldb::Status half = base_->Append(leveldb::Slice(data.data(), data.size() / 2));
          if (half.ok()) half = base_->Flush();
          if (!half.ok()) return half;
        }
        return leveldb::Status::IOError(name_, "No space left on device");
      }
      return base_->Append(data);
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override {
      if (env_->failing_syncs()) return leveldb::Status::IOError(name_, "No space left on device");
      return base_->Sync();
    }

   private:
    const std::string name_;
    leveldb::WritableFile* const base_;  // owned; LevelDB's API hands out raw pointers
    const DiskFullEnv* const env_;
  };

  leveldb::Status Wrap(const std::string& name, leveldb::Status s, leveldb::WritableFile** file) {
    const bool is_log = name.size() >= 4 && name.compare(name.size() - 4, 4, ".log") == 0;
    if (s.ok() && is_log) *file = new File(name, *file, this);
    return s;
  }

  std::atomic<bool> failing_{false};
  std::atomic<bool> partial_appends_{false};
  std::atomic<bool> failing_syncs_{false};
};

}  // namespace chatpro::store::testing
