// SPDX-License-Identifier: Apache-2.0
#include "broker/core/frame_writer.h"

namespace chatpro::core {

wire::ErrorCode ToWireCode(StatusCode code) {
  // The enums share their numbers by design (schemas/wire.fbs).
  return static_cast<wire::ErrorCode>(static_cast<std::uint16_t>(code));
}

StatusCode FromWireCode(wire::ErrorCode code) {
  auto v = static_cast<std::uint16_t>(code);
  if (v > static_cast<std::uint16_t>(StatusCode::kInternal)) return StatusCode::kInternal;
  return static_cast<StatusCode>(v);
}

void FrameWriter::AddEnvelope(std::uint64_t request_id, wire::Body type,
                              flatbuffers::Offset<void> body) {
  envelopes_.push_back(wire::CreateEnvelope(fbb_, request_id, type, body));
}

void FrameWriter::AddError(std::uint64_t request_id, const Status& status) {
  auto message = fbb_.CreateString(status.message());
  auto body = wire::CreateError(fbb_, ToWireCode(status.code()), message);
  AddEnvelope(request_id, wire::Body::Error, body.Union());
}

void FrameWriter::AddDelivery(std::string_view message_bytes) {
  // Align the nested Message like a buffer of its own, so that readers can
  // use it in place.
  fbb_.ForceVectorAlignment(message_bytes.size(), 1, alignof(std::uint64_t));
  auto bytes = fbb_.CreateVector(reinterpret_cast<const std::uint8_t*>(message_bytes.data()),
                                 message_bytes.size());
  auto body = wire::CreateDelivery(fbb_, bytes);
  AddEnvelope(0, wire::Body::Delivery, body.Union());
}

flatbuffers::DetachedBuffer FrameWriter::Finish() {
  auto v = fbb_.CreateVector(envelopes_);
  auto frame = wire::CreateFrame(fbb_, kProtocolVersion, v);
  wire::FinishFrameBuffer(fbb_, frame);
  envelopes_.clear();
  flatbuffers::DetachedBuffer out = fbb_.Release();
  fbb_.Clear();
  return out;
}

}  // namespace chatpro::core
