// Copyright 2026 The Cascade Authors.
//
// Early-return helpers for absl::Status / absl::StatusOr (this Abseil has none).

#ifndef CASCADE_ENGINE_UTIL_STATUS_MACROS_H_
#define CASCADE_ENGINE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns `expr` from the enclosing function if it is not OK.
#define CASCADE_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::absl::Status cascade_status_ = (expr);           \
    if (!cascade_status_.ok()) return cascade_status_; \
  } while (false)

#define CASCADE_INTERNAL_CONCAT_(a, b) a##b
#define CASCADE_INTERNAL_CONCAT(a, b) CASCADE_INTERNAL_CONCAT_(a, b)

// Evaluates `rexpr` (a StatusOr); returns its status if not OK, else moves
// its value into `lhs` (a declaration or an lvalue).
#define CASCADE_ASSIGN_OR_RETURN(lhs, rexpr) \
  CASCADE_INTERNAL_ASSIGN_OR_RETURN(CASCADE_INTERNAL_CONCAT(cascade_or_, __LINE__), lhs, rexpr)

#define CASCADE_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                      \
  if (!tmp.ok()) return std::move(tmp).status();           \
  lhs = std::move(tmp).value()

#endif  // CASCADE_ENGINE_UTIL_STATUS_MACROS_H_
