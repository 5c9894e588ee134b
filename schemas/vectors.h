// SPDX-License-Identifier: Apache-2.0
//
// Reading FlatBuffers vectors of 64-bit integers safely.
//
// The FlatBuffers verifier checks a vector's length field for 4-byte alignment
// only, so in a hostile or damaged buffer the 8-byte elements after it may sit
// at an address that is not 8-aligned, and reading them through the vector's
// iterator would be undefined behaviour. Every [ulong] field of wire.fbs and
// store.fbs is read through U64s and every vector of structs through StructAt,
// which copy the bytes out.
#ifndef CHATPRO_SCHEMAS_VECTORS_H_
#define CHATPRO_SCHEMAS_VECTORS_H_

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <flatbuffers/flatbuffers.h>

namespace chatpro::schemas {

// The elements of `v` (empty when the field is absent), wherever they sit.
inline std::vector<std::uint64_t> U64s(const flatbuffers::Vector<std::uint64_t>* v) {
  std::vector<std::uint64_t> out;
  if (v == nullptr) return out;
  out.resize(v->size());
  const std::uint8_t* bytes = v->Data();
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint64_t little_endian = 0;
    std::memcpy(&little_endian, bytes + i * sizeof(std::uint64_t), sizeof(std::uint64_t));
    out[i] = flatbuffers::EndianScalar(little_endian);
  }
  return out;
}

// Element i (< v.size()) of a vector of structs, copied out: the verifier
// checks such a vector's alignment to 4 only, and a struct such as
// wire.Cursor holds 8-byte fields.
template <typename T>
T StructAt(const flatbuffers::Vector<const T*>& v, flatbuffers::uoffset_t i) {
  static_assert(std::is_trivially_copyable_v<T>, "FlatBuffers structs are plain bytes");
  T out;
  std::memcpy(&out, v.Data() + static_cast<std::size_t>(i) * sizeof(T), sizeof(T));
  return out;
}

}  // namespace chatpro::schemas

#endif  // CHATPRO_SCHEMAS_VECTORS_H_
