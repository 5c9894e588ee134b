// SPDX-License-Identifier: Apache-2.0
//
// Reading FlatBuffers records that come back from the store. A store hands
// out bytes wherever they happen to lie (LevelDB: inside a block), but
// FlatBuffers reads scalars in place and needs them aligned; VerifiedRecord
// copies misaligned bytes into the caller's scratch string first.
//
// Thread-safety: pure functions; the scratch string belongs to the caller.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace chatpro::core {

// The verified root table of `bytes`, or nullptr if they are not a valid T.
// The result points into `bytes` or into `*scratch`; it lives as long as both.
template <typename T>
const T* VerifiedRecord(std::string_view bytes, std::string* scratch) {
  const char* data = bytes.data();
  if (reinterpret_cast<std::uintptr_t>(data) % alignof(std::uint64_t) != 0) {
    scratch->assign(bytes.data(), bytes.size());  // heap or in-object storage: 8-aligned
    data = scratch->data();
  }
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(data), bytes.size());
  if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<T>(data);
}

// A string field to write: absent when `s` is empty.
inline flatbuffers::Offset<flatbuffers::String> OptionalString(flatbuffers::FlatBufferBuilder& fbb,
                                                               std::string_view s) {
  return s.empty() ? flatbuffers::Offset<flatbuffers::String>() : fbb.CreateString(s);
}

// A FlatBuffers string field as a view; empty when the field is absent.
inline std::string_view View(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : s->string_view();
}

}  // namespace chatpro::core
