// Copyright 2026 The Cascade Authors.
//
// File: cascade/list_query.h
// -----------------------------------------------------------------------------
// The filters, order and page of a job listing (contract §6), and a parser for
// the query parameters of `GET /jobs`.
//
// Example:
//
//   auto query = cascade::ParseListQuery(
//       {{"states", "queued,render:dorender"}, {"limit", "50"}});
//   auto jobs = engine->List("team-a", *query);

#ifndef CASCADE_LIST_QUERY_H_
#define CASCADE_LIST_QUERY_H_

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace cascade {

enum class JobState : uint8_t;

enum class SortOrder : uint8_t {
  kOldestFirst = 0,  // "oldest_first" (default)
  kNewestFirst = 1,  // "newest_first"
  kRandom = 2,       // "random"
  kPriority = 3,     // "priority": highest priority first, then oldest
};

std::string_view SortOrderName(SortOrder order);
[[nodiscard]] absl::StatusOr<SortOrder> ParseSortOrder(std::string_view name);

struct ListQuery {
  static constexpr size_t kMaxLimit = 1000;
  static constexpr size_t kDefaultLimit = 100;

  // Only jobs in one of these states; empty means every state.
  std::vector<JobState> states;
  // Never jobs in these states (applied after `states`).
  std::vector<JobState> exclude_states;
  // Jobs created at or after this time (inclusive).
  std::optional<absl::Time> from_date;
  // Jobs created before this time (exclusive).
  std::optional<absl::Time> to_date;
  // Only jobs carrying all of these tags.
  std::vector<std::string> tags;
  SortOrder sort = SortOrder::kOldestFirst;
  // Page: skip `offset` matching jobs, return at most `limit` (1-1000).
  size_t offset = 0;
  size_t limit = kDefaultLimit;
  // View option for serializers: omit `stats`. The engine ignores it.
  bool minimal = false;
};

// Parses `GET /jobs` query parameters: states, exclude_states, from, limit,
// from_date, to_date, tags, sort, minimal. Unknown parameters are ignored; a
// repeated parameter takes its last value. A bad value is InvalidArgument
// naming the parameter, with one field violation per bad parameter.
[[nodiscard]] absl::StatusOr<ListQuery> ParseListQuery(
    absl::Span<const std::pair<std::string, std::string>> params);

}  // namespace cascade

#endif  // CASCADE_LIST_QUERY_H_
