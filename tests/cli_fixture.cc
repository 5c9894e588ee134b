// SPDX-License-Identifier: Apache-2.0
#include "tests/cli_fixture.h"

#include <cctype>
#include <filesystem>
#include <sstream>
#include <thread>

namespace chatpro::testing {
namespace {

namespace fs = std::filesystem;

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
  return line;
}

// Where the value of "key" starts in `json`, or npos.
std::size_t ValueAt(const std::string& json, const std::string& key) {
  std::string needle = "\"" + key + "\":";
  std::size_t at = json.find(needle);
  return at == std::string::npos ? at : at + needle.size();
}

}  // namespace

// ------------------------------------------------------------------ CliBrokerTest

void CliBrokerTest::TearDown() {
  if (HasFailure() && !transcript_.empty()) {
    std::fprintf(stderr, "---- chatpro runs ----\n%s---- end of chatpro runs ----\n",
                 transcript_.c_str());
  }
  BrokerTest::TearDown();
}

RunResult CliBrokerTest::Cli(const std::string& profile_dir,
                             const std::vector<std::string>& args) {
  std::vector<std::string> argv{CliPath(), "--profile", profile_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = RunProgram(argv, dir_->path());
  transcript_ += "$ " + CommandLine(argv) + "\n" + r.out + r.err + "(" +
                 DescribeExit(r.exit_code) + (r.timed_out ? ", timed out" : "") + ")\n";
  return r;
}

Status CliBrokerTest::SpawnCli(ChildProcess& child, const std::string& profile_dir,
                               const std::vector<std::string>& args, const std::string& out_path,
                               const std::string& err_path) {
  std::vector<std::string> argv{CliPath(), "--profile", profile_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  transcript_ += "$ " + CommandLine(argv) + " &  (output in " + out_path + ", " + err_path + ")\n";
  return child.Spawn(argv, out_path, err_path);
}

Result<std::string> CliBrokerTest::RootCliProfile() {
  if (!root_cli_profile_.empty()) return root_cli_profile_;
  if (root_ == nullptr) return Status::FailedPrecondition("root is not connected");
  CHATPRO_ASSIGN_OR_RETURN(client::InviteInfo invite, root_->CreateInvite(""));
  client::EnrollOptions options;
  options.device_name = "root-cli";
  const std::string dir = dir_->Sub("cli/root");
  CHATPRO_ASSIGN_OR_RETURN(client::Profile p, client::Enroll(dir, invite.invite, options));
  root_cli_profile_ = p.dir;
  return root_cli_profile_;
}

Result<client::Profile> CliBrokerTest::AddUserWithRole(const std::string& login,
                                                       client::Role role) {
  if (root_ == nullptr) return Status::FailedPrecondition("root is not connected");
  CHATPRO_ASSIGN_OR_RETURN(client::InviteInfo invite,
                           root_->AdminAddUser(login, "User " + login, role));
  return client::Enroll(ProfileDir(login), invite.invite);
}

Result<client::Profile> CliBrokerTest::EnrollAnotherDevice(client::Client& of,
                                                           const std::string& dir,
                                                           const std::string& device_name) {
  CHATPRO_ASSIGN_OR_RETURN(client::InviteInfo invite, of.CreateInvite(""));
  client::EnrollOptions options;
  options.device_name = device_name;
  return client::Enroll(dir, invite.invite, options);
}

// ------------------------------------------------------------------ helpers

Status CopyProfile(const std::string& from_dir, const std::string& to_dir) {
  std::error_code ec;
  fs::create_directories(to_dir, ec);
  if (ec) return Status::IoError("cannot create " + to_dir + ": " + ec.message());
  fs::permissions(to_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  for (const char* name : {"device.key", "profile.conf"}) {
    const std::string from = from_dir + "/" + name;
    const std::string to = to_dir + "/" + name;
    if (!fs::exists(from)) return Status::NotFound(from + " is not there");
    CHATPRO_RETURN_IF_ERROR(WriteWholeFile(to, ReadWholeFile(from)));
    fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace, ec);
    if (ec) return Status::IoError("cannot set the mode of " + to + ": " + ec.message());
  }
  return Status::Ok();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::optional<std::string> JsonStringField(const std::string& json, const std::string& key) {
  std::size_t i = ValueAt(json, key);
  if (i == std::string::npos || i >= json.size() || json[i] != '"') return std::nullopt;
  std::string out;
  for (++i; i < json.size() && json[i] != '"'; ++i) {
    if (json[i] == '\\' && i + 1 < json.size()) {
      ++i;
      switch (json[i]) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        default: out += json[i]; break;  // \" \\ \/ (\u.... stays as "u....")
      }
      continue;
    }
    out += json[i];
  }
  return out;
}

std::optional<std::uint64_t> JsonUintField(const std::string& json, const std::string& key) {
  std::size_t i = ValueAt(json, key);
  if (i == std::string::npos || i >= json.size() || !std::isdigit(static_cast<unsigned char>(json[i]))) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  for (; i < json.size() && std::isdigit(static_cast<unsigned char>(json[i])); ++i) {
    v = v * 10 + static_cast<std::uint64_t>(json[i] - '0');
  }
  return v;
}

std::optional<bool> JsonBoolField(const std::string& json, const std::string& key) {
  std::size_t i = ValueAt(json, key);
  if (i == std::string::npos) return std::nullopt;
  if (json.compare(i, 4, "true") == 0) return true;
  if (json.compare(i, 5, "false") == 0) return false;
  return std::nullopt;
}

std::optional<std::vector<std::uint64_t>> JsonUintListField(const std::string& json,
                                                            const std::string& key) {
  std::size_t i = ValueAt(json, key);
  if (i == std::string::npos || i >= json.size() || json[i] != '[') return std::nullopt;
  std::size_t end = json.find(']', i);
  if (end == std::string::npos) return std::nullopt;
  std::vector<std::uint64_t> out;
  std::string inner = json.substr(i + 1, end - i - 1);
  std::istringstream in(inner);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) continue;
    try {
      out.push_back(std::stoull(item));
    } catch (...) {
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::uint64_t> SeqInOutput(const std::string& out) {
  const std::string needle = "seq ";
  std::size_t at = out.rfind(needle);
  if (at == std::string::npos) return std::nullopt;
  std::size_t i = at + needle.size();
  if (i >= out.size() || !std::isdigit(static_cast<unsigned char>(out[i]))) return std::nullopt;
  std::uint64_t v = 0;
  for (; i < out.size() && std::isdigit(static_cast<unsigned char>(out[i])); ++i) {
    v = v * 10 + static_cast<std::uint64_t>(out[i] - '0');
  }
  return v;
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

client::SendResult SendAndWait(client::Client& from, const client::Target& to,
                               const client::Content& content) {
  auto future = from.Send(to, content);
  Result<client::SendResult> r = Await(future);
  if (!r.ok()) {
    client::SendResult failed;
    failed.status = r.status();
    return failed;
  }
  return *r;
}

}  // namespace chatpro::testing
