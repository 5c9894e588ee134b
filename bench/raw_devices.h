// SPDX-License-Identifier: Apache-2.0
//
// Many idle devices for W6: enrolled through the admin's client and the real
// enrollment handshake, then connected by worker processes on plain CURVE
// DEALER sockets that say Hello and stay connected (a full client library per
// device would cost a thread each, which no real deployment has on one host).
//
// Thread-safety: used from the benchmark's main thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "broker/base/result.h"
#include "broker/crypto/keys.h"

namespace chatpro::bench {

struct IdleDevices {
  std::string endpoint;
  std::string server_key;  // raw 32 bytes
  std::string keys_file;   // one "public_hex secret_hex" line per device
  int count = 0;
};

// Adds a user with `count` devices (each with its own key pair, enrolled with
// its own invite) and writes their keys to work_dir/idle-devices.keys.
Result<IdleDevices> EnrollIdleDevices(const std::string& admin_profile,
                                      const std::string& work_dir, int count,
                                      const std::string& login);

struct ConnectedDevices {
  double seconds = 0;  // from the first connect until every device had its session
  std::vector<pid_t> workers;
  std::vector<int> stdin_fds;
  // Disconnects every device (ends the worker processes).
  void Close();
};

// Connects every device, in worker processes of at most 3000 devices each
// (file descriptor limits), and returns once each has its session.
Result<ConnectedDevices> ConnectIdleDevices(const std::string& self_path, const IdleDevices& d);

// Builds a Frame with one Hello (receive = true) or one Enroll envelope.
std::string HelloFrame();
std::string EnrollFrame(const std::string& device_public_key);

}  // namespace chatpro::bench
