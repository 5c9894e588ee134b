// SPDX-License-Identifier: Apache-2.0
//
// Reading and joining wire Frames that arrive as bytes: a copy in 8-byte
// aligned memory, verified, and several frames' envelopes joined into one
// Frame (as the in-process caller answers a call whose replies came in
// several frames). Used by broker/transport (ZmqLocalCaller) and the console
// fuzz target's in-process caller.
//
// Thread-safety: plain values and a pure function.
#pragma once

#include <flatbuffers/reflection.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chatpro/schemas/wire_bfbs_generated.h"
#include "chatpro/schemas/wire_generated.h"

namespace chatpro::schemas {

// A frame copied to 8-byte aligned memory: FlatBuffers reads scalars in place.
class AlignedFrame {
 public:
  explicit AlignedFrame(std::string_view bytes) : words_(bytes.size() / 8 + 1), size_(bytes.size()) {
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(words_.data()));
  }
  const std::uint8_t* data() const { return reinterpret_cast<const std::uint8_t*>(words_.data()); }
  std::size_t size() const { return size_; }
  // The verified Frame, or nullptr.
  const chatpro::wire::Frame* Verified() const {
    if (size_ < 8 || !chatpro::wire::FrameBufferHasIdentifier(data())) return nullptr;
    flatbuffers::Verifier verifier(data(), size_, /*max_depth=*/32, /*max_tables=*/1'000'000);
    return chatpro::wire::VerifyFrameBuffer(verifier) ? chatpro::wire::GetFrame(data()) : nullptr;
  }

 private:
  std::vector<std::uint64_t> words_;
  std::size_t size_;
};

// One Frame holding the envelopes of `frames` in order. The bodies are copied
// through the wire schema's reflection data, so every body kind is kept
// without this code knowing it.
inline std::string JoinFrames(const std::vector<std::string>& frames) {
  if (frames.size() == 1) return frames.front();
  const reflection::Schema* schema = reflection::GetSchema(chatpro::wire::FrameBinarySchema::data());
  const reflection::Object* envelope = schema->objects()->LookupByKey("chatpro.wire.Envelope");
  flatbuffers::FlatBufferBuilder fbb(4096);
  std::vector<flatbuffers::Offset<chatpro::wire::Envelope>> envelopes;
  std::uint16_t version = 1;
  for (const std::string& bytes : frames) {
    AlignedFrame aligned(bytes);
    const chatpro::wire::Frame* frame = aligned.Verified();
    if (frame == nullptr || frame->envelopes() == nullptr) continue;
    version = frame->protocol_version();
    for (const chatpro::wire::Envelope* e : *frame->envelopes()) {
      auto copied = flatbuffers::CopyTable(fbb, *schema, *envelope,
                                           *reinterpret_cast<const flatbuffers::Table*>(e));
      envelopes.emplace_back(copied.o);
    }
  }
  auto vector = fbb.CreateVector(envelopes);
  chatpro::wire::FrameBuilder b(fbb);
  b.add_protocol_version(version);
  b.add_envelopes(vector);
  chatpro::wire::FinishFrameBuffer(fbb, b.Finish());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace chatpro::schemas
