// SPDX-License-Identifier: Apache-2.0
#include "broker/base/invite.h"

#include <cctype>

#include "broker/base/encoding.h"

namespace chatpro {
namespace {

constexpr std::string_view kScheme = "chatpro://";
constexpr size_t kServerKeyBytes = 32;

bool ValidHostPort(std::string_view hp) {
  if (hp.empty() || hp.size() > 255) return false;
  size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == hp.size()) return false;
  std::string_view port = hp.substr(colon + 1);
  if (port.size() > 5) return false;
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  for (char c : hp.substr(0, colon)) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '[' ||
          c == ']' || c == ':' || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string Invite::Endpoint() const { return "tcp://" + host_port; }

std::string FormatInvite(const Invite& invite) {
  return std::string(kScheme) + invite.host_port + "?key=" + HexEncode(invite.server_key) +
         "&code=" + invite.code;
}

std::string NormalizeCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (u == 'O') u = '0';
    if (u == 'I' || u == 'L') u = '1';
    out.push_back(u);
  }
  return out;
}

Result<Invite> ParseInvite(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  if (text.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("an invite starts with chatpro://");
  }
  text.remove_prefix(kScheme.size());
  size_t q = text.find('?');
  if (q == std::string_view::npos) return Status::InvalidArgument("the invite has no key and code");
  Invite invite;
  invite.host_port = std::string(text.substr(0, q));
  if (!ValidHostPort(invite.host_port)) {
    return Status::InvalidArgument("the invite's address is not HOST:PORT");
  }
  std::string_view query = text.substr(q + 1);
  bool have_key = false;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = pair.substr(0, eq);
    std::string_view value = pair.substr(eq + 1);
    if (name == "key") {
      auto key = HexDecode(value);
      if (!key || key->size() != kServerKeyBytes) {
        return Status::InvalidArgument("the invite's server key is not 64 hex digits");
      }
      invite.server_key = *key;
      have_key = true;
    } else if (name == "code") {
      invite.code = NormalizeCode(value);
    }
  }
  if (!have_key) return Status::InvalidArgument("the invite has no server key");
  if (invite.code.size() < 16) return Status::InvalidArgument("the invite's code is too short");
  for (char c : invite.code) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      return Status::InvalidArgument("the invite's code has characters other than letters and digits");
    }
  }
  return invite;
}

}  // namespace chatpro
