// Copyright 2026 The Cascade Authors.
//
// Parsing of `GET /jobs` query parameters into a ListQuery (contract §6).

#include "cascade/list_query.h"

#include <array>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cascade/job.h"
#include "cascade/status.h"
#include "engine/util/strings.h"

namespace cascade {
namespace {

constexpr std::array<std::string_view, 4> kSortNames = {"oldest_first", "newest_first", "random",
                                                        "priority"};

absl::StatusOr<std::vector<JobState>> ParseStates(std::string_view text) {
  std::vector<JobState> states;
  for (absl::string_view name : absl::StrSplit(internal::Sv(text), ',')) {
    absl::StatusOr<JobState> s = ParseState(std::string_view(name.data(), name.size()));
    if (!s.ok()) return s.status();
    states.push_back(*s);
  }
  return states;
}

}  // namespace

std::string_view SortOrderName(SortOrder order) {
  auto i = static_cast<size_t>(order);
  return i < kSortNames.size() ? kSortNames[i] : std::string_view("oldest_first");
}

absl::StatusOr<SortOrder> ParseSortOrder(std::string_view name) {
  for (size_t i = 0; i < kSortNames.size(); ++i) {
    if (kSortNames[i] == name) return static_cast<SortOrder>(i);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", internal::Sv(name),
                   "' is not a sort order (oldest_first, newest_first, random, priority)"));
}

absl::StatusOr<ListQuery> ParseListQuery(
    absl::Span<const std::pair<std::string, std::string>> params) {
  // Last value wins for a repeated parameter.
  absl::flat_hash_map<std::string_view, std::string_view> values;
  for (const auto& [key, value] : params) values[key] = value;

  ListQuery query;
  std::vector<FieldViolation> bad;
  auto fail = [&bad](std::string_view field, const absl::Status& s) {
    bad.push_back({std::string(field), std::string(s.message())});
  };
  auto fail_text = [&bad](std::string_view field, std::string message) {
    bad.push_back({std::string(field), std::move(message)});
  };

  if (auto it = values.find("states"); it != values.end()) {
    auto states = ParseStates(it->second);
    if (states.ok())
      query.states = *std::move(states);
    else
      fail("states", states.status());
  }
  if (auto it = values.find("exclude_states"); it != values.end()) {
    auto states = ParseStates(it->second);
    if (states.ok())
      query.exclude_states = *std::move(states);
    else
      fail("exclude_states", states.status());
  }
  if (auto it = values.find("from"); it != values.end()) {
    uint64_t from = 0;
    if (!absl::SimpleAtoi(internal::Sv(it->second), &from) || it->second.empty() ||
        it->second[0] == '+') {
      fail_text("from", absl::StrCat("'", internal::Sv(it->second), "' is not an integer >= 0"));
    } else {
      query.offset = static_cast<size_t>(from);
    }
  }
  if (auto it = values.find("limit"); it != values.end()) {
    uint64_t limit = 0;
    if (!absl::SimpleAtoi(internal::Sv(it->second), &limit) || it->second.empty() ||
        it->second[0] == '+' || limit < 1 || limit > ListQuery::kMaxLimit) {
      fail_text("limit", absl::StrCat("'", internal::Sv(it->second),
                                      "' is not an integer from 1 to ", ListQuery::kMaxLimit));
    } else {
      query.limit = static_cast<size_t>(limit);
    }
  }
  for (std::string_view field : {"from_date", "to_date"}) {
    auto it = values.find(field);
    if (it == values.end()) continue;
    absl::StatusOr<absl::Time> t = ParseTimestamp(it->second);
    if (!t.ok()) {
      fail(field, t.status());
    } else if (field == "from_date") {
      query.from_date = *t;
    } else {
      query.to_date = *t;
    }
  }
  if (auto it = values.find("tags"); it != values.end()) {
    for (absl::string_view tag : absl::StrSplit(internal::Sv(it->second), ',', absl::SkipEmpty())) {
      query.tags.emplace_back(tag);
    }
    if (query.tags.empty()) fail_text("tags", "expected a comma-separated list of tags");
  }
  if (auto it = values.find("sort"); it != values.end()) {
    auto sort = ParseSortOrder(it->second);
    if (sort.ok())
      query.sort = *sort;
    else
      fail("sort", sort.status());
  }
  if (auto it = values.find("minimal"); it != values.end()) {
    if (it->second == "true") {
      query.minimal = true;
    } else if (it->second == "false") {
      query.minimal = false;
    } else {
      fail_text("minimal", absl::StrCat("'", internal::Sv(it->second), "' is not true or false"));
    }
  }
  if (!bad.empty()) return InvalidArgumentWithViolations("invalid query parameters", bad);
  return query;
}

}  // namespace cascade
