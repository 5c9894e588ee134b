// SPDX-License-Identifier: Apache-2.0
//
// JsonObject: builds a small JSON object as text, with every string escaped,
// for audit details, CLI output and reports.
//
//   JsonObject().Add("login", "ana").Add("devices", 2).str()  ->  {"login":"ana","devices":2}
//
// Thread-safety: a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatpro {

// `text` as a JSON string literal, quotes included. Control characters and
// invalid UTF-8 bytes are escaped (\u00XX), so the result is always valid.
std::string JsonQuote(std::string_view text);

class JsonObject {
 public:
  JsonObject& Add(std::string_view key, std::string_view value);
  JsonObject& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  JsonObject& Add(std::string_view key, std::int64_t value);
  JsonObject& Add(std::string_view key, std::uint64_t value);
  JsonObject& Add(std::string_view key, int value) { return Add(key, static_cast<std::int64_t>(value)); }
  JsonObject& Add(std::string_view key, bool value);
  JsonObject& Add(std::string_view key, const std::vector<std::uint64_t>& values);
  JsonObject& Add(std::string_view key, const std::vector<std::string>& values);
  // `json` must already be valid JSON (an object or array built elsewhere).
  JsonObject& AddRaw(std::string_view key, std::string_view json);

  std::string str() const { return "{" + body_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string body_;
};

}  // namespace chatpro
