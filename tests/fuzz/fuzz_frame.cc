// SPDX-License-Identifier: Apache-2.0
//
// fuzz_frame: the input is one wire frame, as a client's DEALER would send it.
// A fresh broker (tests/fuzz/fuzz_broker.h) receives it from three sessions
// in turn: ana's device after Hello, a new session of ana's device before
// Hello, and an enrollment session (an invite's derived key), so that the
// verifier, the request decoding and the handlers of users and of enrollment
// all run. Then, whatever the input did, carol must still be able to send dave
// a message that is acknowledged and delivered: ana cannot touch either of
// them.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_broker.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A fresh broker per input: an input cannot leave state behind that makes
  // a later one fail, so every crash replays from its own file.
  chatpro::fuzz::FuzzBroker broker;
  broker.Send(broker.ana(), data, size);
  broker.Settle();
  broker.Take(broker.ana());

  chatpro::fuzz::Session fresh = broker.NewAnaSession();
  broker.Send(fresh, data, size);
  broker.Settle();
  broker.Take(fresh);

  broker.Send(broker.enrolling(), data, size);
  broker.Settle();
  broker.Take(broker.enrolling());

  broker.CheckCanary(/*strict=*/true);
  return 0;
}
