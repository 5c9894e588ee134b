// SPDX-License-Identifier: Apache-2.0
//
// Strong id types, so that a UserId cannot be passed where a ConversationId is
// meant. Ids are 64-bit, assigned by the broker from 1; 0 means "none".
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>

namespace chatpro {

template <typename Tag>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(std::uint64_t v) : value_(v) {}

  constexpr std::uint64_t value() const { return value_; }
  constexpr bool valid() const { return value_ != 0; }

  friend constexpr bool operator==(StrongId a, StrongId b) { return a.value_ == b.value_; }
  friend constexpr bool operator!=(StrongId a, StrongId b) { return a.value_ != b.value_; }
  friend constexpr bool operator<(StrongId a, StrongId b) { return a.value_ < b.value_; }
  friend constexpr bool operator<=(StrongId a, StrongId b) { return a.value_ <= b.value_; }
  friend constexpr bool operator>(StrongId a, StrongId b) { return a.value_ > b.value_; }
  friend constexpr bool operator>=(StrongId a, StrongId b) { return a.value_ >= b.value_; }
  friend std::ostream& operator<<(std::ostream& os, StrongId id) { return os << id.value_; }

 private:
  std::uint64_t value_ = 0;
};

using UserId = StrongId<struct UserIdTag>;
using DeviceId = StrongId<struct DeviceIdTag>;
using ConversationId = StrongId<struct ConversationIdTag>;

// A position in one conversation's total order. The first message is 1; 0
// means "before the first message".
using Seq = std::uint64_t;

// A client's id for a message it sends, unique per device.
using ClientMsgId = std::uint64_t;

}  // namespace chatpro

namespace std {
template <typename Tag>
struct hash<chatpro::StrongId<Tag>> {
  size_t operator()(chatpro::StrongId<Tag> id) const noexcept {
    return std::hash<std::uint64_t>()(id.value());
  }
};
}  // namespace std
