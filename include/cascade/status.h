// Copyright 2026 The Cascade Authors.
//
// File: cascade/status.h
// -----------------------------------------------------------------------------
// Errors are absl::Status values with canonical codes:
//   InvalidArgument    -> bad input (HTTP 400); carries field violations
//   NotFound           -> unknown id, or another team's (404)
//   FailedPrecondition -> the job's state does not allow it; stale lease (409)
// An InvalidArgument may carry one FieldViolation per bad field, the
// `details[{field, message}]` of a `ValidationErrorResponse`.
//
// Example:
//
//   absl::Status s = engine->Submit("team-a", bad_spec).status();
//   for (const cascade::FieldViolation& v : cascade::GetFieldViolations(s)) {
//     std::cerr << v.field << ": " << v.message << "\n";
//   }

#ifndef CASCADE_STATUS_H_
#define CASCADE_STATUS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace cascade {

struct FieldViolation {
  std::string field;    // "template.id", "jobs[3]", "limit", ...
  std::string message;  // what is wrong with it
  friend bool operator==(const FieldViolation&, const FieldViolation&) = default;
};

// An InvalidArgument whose message is `summary` followed by the violations,
// carrying them for GetFieldViolations.
absl::Status InvalidArgumentWithViolations(std::string_view summary,
                                           absl::Span<const FieldViolation> violations);

// The violations attached to `status`; empty when it has none.
std::vector<FieldViolation> GetFieldViolations(const absl::Status& status);

// A short machine-readable name of the status code: "invalid_argument",
// "not_found", "failed_precondition", ...
std::string ErrorCodeName(absl::StatusCode code);

}  // namespace cascade

#endif  // CASCADE_STATUS_H_
