// SPDX-License-Identifier: Apache-2.0
//
// FrameWriter: collects envelopes (replies, events) for one connection and
// turns them into one wire Frame, so that many deliveries share one ZeroMQ
// message.
//
// Lifecycle: Add*() any number of times, then Finish() hands out the frame
// and leaves the writer empty for reuse.
// Thread-safety: none.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "broker/base/status.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::core {

constexpr std::uint16_t kProtocolVersion = 1;

class FrameWriter {
 public:
  FrameWriter() : fbb_(1024) {}

  // The builder in which to create a body before AddEnvelope().
  flatbuffers::FlatBufferBuilder& builder() { return fbb_; }
  void AddEnvelope(std::uint64_t request_id, wire::Body type, flatbuffers::Offset<void> body);

  // Conveniences for frequent bodies.
  void AddError(std::uint64_t request_id, const Status& status);
  void AddDelivery(std::string_view message_bytes);

  bool empty() const { return envelopes_.empty(); }
  std::size_t count() const { return envelopes_.size(); }
  std::size_t bytes() const { return fbb_.GetSize(); }

  flatbuffers::DetachedBuffer Finish();

 private:
  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<flatbuffers::Offset<wire::Envelope>> envelopes_;
};

wire::ErrorCode ToWireCode(StatusCode code);
StatusCode FromWireCode(wire::ErrorCode code);

}  // namespace chatpro::core
