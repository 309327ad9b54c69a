// Copyright 2026 The Cascade Authors.
//
// State names and timestamp text.

#include "cascade/job.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/util/strings.h"

namespace cascade {
namespace {

constexpr std::array<std::string_view, kNumJobStates> kStateNames = {
    "queued", "pending", "render:dorender", "finished", "error", "manually_cancelled"};

}  // namespace

std::string_view StateName(JobState state) {
  auto i = static_cast<size_t>(state);
  return i < kStateNames.size() ? kStateNames[i] : std::string_view("unknown");
}

absl::StatusOr<JobState> ParseState(std::string_view name) {
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) return static_cast<JobState>(i);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", internal::Sv(name),
                   "' is not a job state (queued, pending, render:dorender, finished, error, "
                   "manually_cancelled)"));
}

std::string FormatTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseTimestamp(std::string_view text) {
  static constexpr const char* kFormats[] = {
      "%Y-%m-%d%ET%H:%M:%E*S%Ez",  // RFC 3339, with or without fraction
      "%Y-%m-%d%ET%H:%M%Ez",       // minutes only
      "%Y-%m-%d",                  // a date: midnight UTC
  };
  std::string input(text);
  for (const char* format : kFormats) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(format, input, absl::UTCTimeZone(), &t, &err)) return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", internal::Sv(text), "' is not an ISO 8601 date or date-time"));
}

}  // namespace cascade
