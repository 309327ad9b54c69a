// Copyright 2026 The Cascade Authors.
//
// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view). The public API takes std::string_view; Sv converts at
// the boundary to Abseil's string utilities. This is the one definition:
// engine/util/strings.h forwards to it for the engine's code, and server/
// uses it from here (server/ includes nothing from engine/).

#ifndef CASCADE_WIRE_STRINGS_H_
#define CASCADE_WIRE_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace cascade::wire {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace cascade::wire

#endif  // CASCADE_WIRE_STRINGS_H_
