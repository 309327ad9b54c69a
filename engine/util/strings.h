// Copyright 2026 The Cascade Authors.
//
// Sv (std::string_view to absl::string_view, for Abseil's string utilities)
// for the engine's code, as internal::Sv. The one definition is the wire
// library's (wire/strings.h), which server/ uses directly.

#ifndef CASCADE_ENGINE_UTIL_STRINGS_H_
#define CASCADE_ENGINE_UTIL_STRINGS_H_

#include "wire/strings.h"

namespace cascade::internal {

using ::cascade::wire::Sv;

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_STRINGS_H_
