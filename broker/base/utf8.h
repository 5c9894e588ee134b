// SPDX-License-Identifier: Apache-2.0
//
// UTF-8 as RFC 3629 defines it: the one decoder that text checks, the JSON
// writer and the password policy share. Thread-safe; no state.
#pragma once

#include <cstddef>
#include <string_view>

namespace chatpro {

// The length (1 to 4) of the well-formed UTF-8 sequence at text[i], or 0 if
// there is none there: a stray continuation byte, a cut sequence, an overlong
// form, a surrogate or a code point above U+10FFFF. REQUIRES: i < text.size().
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i);

}  // namespace chatpro
