// SPDX-License-Identifier: Apache-2.0
#include "tests/process_stats.h"

#include <dirent.h>

#include <fstream>
#include <sstream>

#include "tests/http_get.h"

namespace chatpro::testing {

std::int64_t ResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      std::int64_t kib = -1;
      fields >> kib;
      return kib < 0 ? -1 : kib * 1024;
    }
  }
  return -1;
}

int OpenFileDescriptors(pid_t pid) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

double MetricSample(const std::string& text, const std::string& name_and_labels) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name_and_labels + " ", 0) == 0) {
      return std::stod(line.substr(name_and_labels.size() + 1));
    }
  }
  return -1;
}

double ScrapeMetric(int port, const std::string& name_and_labels) {
  HttpReply reply = HttpGet(port, "/metrics");
  if (reply.status != 200) return -1;
  return MetricSample(reply.body, name_and_labels);
}

}  // namespace chatpro::testing
