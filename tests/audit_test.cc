// SPDX-License-Identifier: Apache-2.0
//
// The audit log against someone with access to the broker's files: an entry
// changed or removed in the stopped broker's LevelDB store is found by
// `chatpro admin audit verify`, which names the first broken entry.
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/cli_fixture.h"

namespace chatpro::testing {
namespace {

// Audit entries live under 'a' + the entry's seq (8 bytes, big-endian).
std::string AuditKey(std::uint64_t seq) {
  std::string k(1, 'a');
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
  return k;
}

class AuditTamper : public CliBrokerTest {
 protected:
  // Makes a few administrative changes, each an audit entry.
  void MakeEntries() {
    for (const char* login : {"ana", "ben", "cleo"}) {
      Result<client::Profile> p = AddUser(login);
      ASSERT_TRUE(p.ok()) << p.status();
    }
  }

  // Stops the broker, runs `change` on its LevelDB store, starts it again.
  void WithStoppedBroker(const std::function<void(leveldb::DB*)>& change) {
    root_.reset();
    ExitCode stopped = broker_->Stop();
    ASSERT_EQ(stopped, 0) << DescribeExit(stopped);
    {
      leveldb::DB* raw = nullptr;
      leveldb::Options options;
      leveldb::Status s = leveldb::DB::Open(options, broker_->data_dir() + "/store", &raw);
      ASSERT_TRUE(s.ok()) << s.ToString();
      std::unique_ptr<leveldb::DB> db(raw);
      change(db.get());
    }
    Status started = broker_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  RunResult Verify() {
    Result<std::string> profile = RootCliProfile();
    EXPECT_TRUE(profile.ok()) << profile.status();
    return Cli(profile.ok() ? *profile : std::string(), {"admin", "audit", "verify"});
  }
};

TEST_F(AuditTamper, AnEntryChangedInTheStoreIsFoundAndNamed) {
  MakeEntries();
  RunResult whole = Verify();  // also enrolls root's CLI device, before the stop
  ASSERT_EQ(whole.exit_code, 0) << whole.out << whole.err;
  ASSERT_TRUE(Contains(whole.out, "audit log whole")) << whole.out;

  WithStoppedBroker([](leveldb::DB* db) {
    std::string value;
    ASSERT_TRUE(db->Get(leveldb::ReadOptions(), AuditKey(3), &value).ok());
    value[value.size() / 2] = static_cast<char>(value[value.size() / 2] ^ 0x20);
    leveldb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(db->Put(sync, AuditKey(3), value).ok());
  });

  RunResult broken = Verify();
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_TRUE(Contains(broken.out, "entry 3")) << broken.out << broken.err;
  EXPECT_FALSE(Contains(broken.out, "audit log whole")) << broken.out;
}

TEST_F(AuditTamper, AnEntryRemovedFromTheStoreIsFoundAndNamed) {
  MakeEntries();
  RunResult whole = Verify();
  ASSERT_EQ(whole.exit_code, 0) << whole.out << whole.err;

  WithStoppedBroker([](leveldb::DB* db) {
    leveldb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(db->Delete(sync, AuditKey(2)).ok());
  });

  RunResult broken = Verify();
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_TRUE(Contains(broken.out, "entry 2")) << broken.out << broken.err;
  EXPECT_TRUE(Contains(broken.out, "missing")) << broken.out;
}

}  // namespace
}  // namespace chatpro::testing
