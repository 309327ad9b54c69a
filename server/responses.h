// Copyright 2026 The Cascade Authors.
//
// What the handlers of cascade-server (server/api.cc, and the nexrender v1
// bridge, server/v1_api.cc) share: making responses from JSON and from
// engine errors, matching a path against a route pattern, and comparing
// secrets. Internal to server/.

#ifndef CASCADE_SERVER_RESPONSES_H_
#define CASCADE_SERVER_RESPONSES_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "boost/json.hpp"
#include "server/http_types.h"

namespace cascade::server {

// `status` with `body` as JSON text (application/json).
Response Json(int status, const boost::json::value& body);

// The HTTP status of an engine error: InvalidArgument and OutOfRange 400,
// Unauthenticated 401, PermissionDenied 403, NotFound 404,
// FailedPrecondition, AlreadyExists and Aborted 409, ResourceExhausted 429,
// Unavailable 503, anything else 500.
int HttpStatusOf(const absl::Status& status);

// An error answer: a ValidationErrorResponse for 400, an ErrorResponse
// otherwise (wire/errors.h); the second form forces the status code.
// REQUIRES: !status.ok().
Response Error(const absl::Status& status);
Response Error(int code, const absl::Status& status);

// InvalidArgument with one violation on `field`.
absl::Status BadField(std::string_view field, std::string message);

// Whether `path` matches `pattern`, both '/'-separated; a pattern segment
// "{id}" matches any one non-empty segment, which goes to `ids`. Allocates
// nothing once `ids` has room.
bool MatchPath(std::string_view pattern, std::string_view path, std::vector<std::string_view>& ids);

// Compares in time that depends only on the lengths, not on where the texts
// differ (contract §9).
bool SameSecret(std::string_view a, std::string_view b);

}  // namespace cascade::server

#endif  // CASCADE_SERVER_RESPONSES_H_
