// Copyright 2026 The Cascade Authors.
//
// Reading StateCounts out of a batch's status JSON and a family's DOT.

#include "cli/counts.h"

#include <cmath>
#include <string>

namespace cascade::cli {
namespace {

namespace json = boost::json;

// A count field: a non-negative integer (JSON has only doubles here and
// there: 3.0 is 3).
bool ReadCount(const json::object& o, std::string_view key, int* out) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return false;
  double d = 0;
  if (v->is_int64()) {
    d = static_cast<double>(v->as_int64());
  } else if (v->is_uint64()) {
    d = static_cast<double>(v->as_uint64());
  } else if (v->is_double()) {
    d = v->as_double();
  } else {
    return false;
  }
  if (!(d >= 0) || d > 1e9 || std::floor(d) != d) return false;
  *out = static_cast<int>(d);
  return true;
}

}  // namespace

bool CountState(std::string_view state, StateCounts* counts) {
  int* slot = nullptr;
  if (state == "queued") {
    slot = &counts->queued;
  } else if (state == "pending") {
    slot = &counts->pending;
  } else if (state == "render:dorender") {
    slot = &counts->rendering;
  } else if (state == "finished") {
    slot = &counts->finished;
  } else if (state == "error") {
    slot = &counts->error;
  } else if (state == "manually_cancelled") {
    slot = &counts->cancelled;
  } else {
    return false;
  }
  ++*slot;
  return true;
}

absl::StatusOr<StateCounts> CountsFromBatch(const json::value& batch) {
  const json::object* o = batch.if_object();
  const json::value* stats_value = o == nullptr ? nullptr : o->if_contains("stats");
  const json::object* stats = stats_value == nullptr ? nullptr : stats_value->if_object();
  if (stats == nullptr) return absl::InvalidArgumentError("the batch's answer has no stats");
  StateCounts counts;
  if (const json::value* by_state = stats->if_contains("byState");
      by_state != nullptr && by_state->is_object()) {
    const json::object& s = by_state->get_object();
    // Missing states count 0; a present one must be a count.
    const struct {
      const char* name;
      int* slot;
    } fields[] = {{"queued", &counts.queued},
                  {"pending", &counts.pending},
                  {"render:dorender", &counts.rendering},
                  {"finished", &counts.finished},
                  {"error", &counts.error},
                  {"manually_cancelled", &counts.cancelled}};
    for (const auto& f : fields) {
      if (s.contains(f.name) && !ReadCount(s, f.name, f.slot)) {
        return absl::InvalidArgumentError(
            std::string("the batch's stats.byState has a bad count for ") + f.name);
      }
    }
    return counts;
  }
  int total = 0;
  if (!ReadCount(*stats, "total", &total) || !ReadCount(*stats, "finished", &counts.finished) ||
      !ReadCount(*stats, "error", &counts.error) || !ReadCount(*stats, "pending", &counts.queued)) {
    return absl::InvalidArgumentError("the batch's stats lack total, finished, error or pending");
  }
  if (counts.total() != total) {
    return absl::InvalidArgumentError("the batch's stats do not add up to its total");
  }
  return counts;
}

absl::StatusOr<StateCounts> CountsFromGraph(std::string_view dot) {
  StateCounts counts;
  constexpr std::string_view kLabel = "label=\"";
  size_t at = 0;
  while ((at = dot.find(kLabel, at)) != std::string_view::npos) {
    at += kLabel.size();
    // The label's text runs to the next quote that is not escaped.
    size_t end = at;
    while (end < dot.size() && dot[end] != '"') end += dot[end] == '\\' ? 2 : 1;
    if (end >= dot.size()) break;
    const std::string_view label = dot.substr(at, end - at);
    at = end + 1;
    const size_t line_break = label.rfind("\\n");
    if (line_break == std::string_view::npos) continue;  // an edge's label
    CountState(label.substr(line_break + 2), &counts);
  }
  if (counts.total() == 0) return absl::InvalidArgumentError("the graph shows no job");
  return counts;
}

}  // namespace cascade::cli
