// Copyright 2026 The Cascade Authors.
//
// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view). The public API takes std::string_view; this converts at
// the boundary to Abseil's string utilities.

#ifndef CASCADE_ENGINE_UTIL_STRINGS_H_
#define CASCADE_ENGINE_UTIL_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace cascade::internal {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_STRINGS_H_
