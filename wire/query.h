// Copyright 2026 The Cascade Authors.
//
// Query strings: the part of a request target after '?', decoded into its
// parameters, and `GET /jobs`'s parameters into a cascade::ListQuery.
//
// Example:
//
//   absl::StatusOr<ListQuery> query = ParseJobsQuery("states=queued&limit=50&minimal=true");
//   absl::StatusOr<std::vector<Job>> jobs = engine.List(team, *query);

#ifndef CASCADE_WIRE_QUERY_H_
#define CASCADE_WIRE_QUERY_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cascade/list_query.h"

namespace cascade::wire {

// The parameters of `query` (without the '?'), in order: split at '&' (empty
// parts skipped), each part at its first '=' (none: the value is ""), key and
// value percent-decoded with '+' as a space. InvalidArgument with a violation
// on `query` for a malformed escape ('%' not followed by two hex digits).
[[nodiscard]] absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQueryString(
    std::string_view query);

// The query of `GET /jobs`: ParseQueryString, then cascade::ParseListQuery
// (list_query.h: the parameters, their values, the violations), holding each
// parameter to the OpenAPI document's schema for it as well, where that is
// stricter than ParseListQuery: `tags` must match
// `^[a-zA-Z0-9-_]+(,[a-zA-Z0-9-_]+)*$` and `from_date`/`to_date` be RFC 3339
// date-times (`format: date-time`). In `states` and `exclude_states` the
// document's example name `processing` means `render:dorender`. Every
// occurrence of a repeated parameter is checked (the last one is used); one
// violation per bad parameter, named by the parameter.
[[nodiscard]] absl::StatusOr<ListQuery> ParseJobsQuery(std::string_view query);

}  // namespace cascade::wire

#endif  // CASCADE_WIRE_QUERY_H_
