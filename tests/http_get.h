// SPDX-License-Identifier: Apache-2.0
//
// A plain HTTP GET on loopback for the integration tests (the broker's
// metrics and health endpoints, a Prometheus server's API).
#pragma once

#include <string>

namespace chatpro::testing {

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
  std::string error;  // why there was no answer
};

// GET http://127.0.0.1:PORT/PATH_AND_QUERY with a 10 s timeout; never throws.
HttpReply HttpGet(int port, const std::string& path_and_query);

}  // namespace chatpro::testing
