// Copyright 2026 The Cascade Authors.
//
// The error bodies of API v2: `ErrorResponse` ({"error", "errorCode"}) and
// `ValidationErrorResponse` (plus `details`). Both cascade-server's handlers
// (server/api.cc) and its HTTP layer (server/http_server.cc, for the answers
// it gives itself: 413, 431, a malformed request, 500) write them with these
// functions and WriteJson (wire/json.h).
//
// Example:
//
//   std::string body = WriteJson(ErrorResponseToJson(absl::NotFoundError("no job 01H...")));
//   // {"error":"no job 01H...","errorCode":"not_found"}

#ifndef CASCADE_WIRE_ERRORS_H_
#define CASCADE_WIRE_ERRORS_H_

#include <string_view>

#include "absl/status/status.h"
#include "boost/json.hpp"

namespace cascade::wire {

// `ErrorResponse`: {"error": status.message(), "errorCode":
// ErrorCodeName(status.code())} ("not_found", "invalid_argument", ...).
// REQUIRES: !status.ok().
boost::json::object ErrorResponseToJson(const absl::Status& status);

// `ErrorResponse` for an error that is no absl::Status, with an error code of
// the caller's: {"error": message, "errorCode": error_code}
// (e.g. "payload_too_large", "internal").
boost::json::object ErrorResponseToJson(std::string_view message, std::string_view error_code);

// `ValidationErrorResponse`: ErrorResponse plus `details[{field, message}]`,
// one per field violation the status carries (GetFieldViolations; `[]` when
// it carries none). REQUIRES: !status.ok().
boost::json::object ValidationErrorResponseToJson(const absl::Status& status);

}  // namespace cascade::wire

#endif  // CASCADE_WIRE_ERRORS_H_
