// Copyright 2026 The Cascade Authors.
//
// State names, timestamp text, and the texts made when read (OutputUrl,
// ErrorText).

#include "cascade/job.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/util/strings.h"
#include "engine/util/url_template.h"

namespace cascade {
namespace {

constexpr std::array<std::string_view, kNumJobStates> kStateNames = {
    "queued", "pending", "render:dorender", "finished", "error", "manually_cancelled"};

}  // namespace

// ---- OutputUrl --------------------------------------------------------------

OutputUrl OutputUrl::Planned(std::string_view pattern, const JobId& id, std::string_view team,
                             const std::optional<BatchId>& batch) {
  OutputUrl url;
  url.pattern_ = pattern;
  url.team_ = team;
  url.id_ = id;
  url.batch_ = batch;
  url.planned_ = true;
  return url;
}

OutputUrl OutputUrl::PlannedOwned(std::string pattern, const JobId& id, std::string_view team,
                                  const std::optional<BatchId>& batch) {
  OutputUrl url = Planned({}, id, team, batch);
  url.text_ = std::move(pattern);
  return url;
}

std::string OutputUrl::str() const {
  if (!planned_) return text_;
  std::string out;
  AppendTo(out);
  return out;
}

void OutputUrl::AppendTo(std::string& out) const {
  if (!planned_) {
    out += text_;
  } else {
    internal::AppendExpandedUrl(text_.empty() ? pattern_ : std::string_view(text_), id_, team_,
                                batch_ ? &*batch_ : nullptr, out);
  }
}

std::ostream& operator<<(std::ostream& os, const OutputUrl& url) { return os << url.str(); }

// ---- ErrorText --------------------------------------------------------------

ErrorText ErrorText::NamingJob(std::string_view prefix, const JobId& id, std::string_view suffix) {
  ErrorText text;
  text.kind_ = Kind::kJob;
  text.prefix_ = prefix;
  text.id_ = id;
  text.suffix_ = suffix;
  return text;
}

ErrorText ErrorText::WithNumber(std::string_view prefix, double number, std::string_view suffix) {
  ErrorText text;
  text.kind_ = Kind::kNumber;
  text.prefix_ = prefix;
  text.number_ = number;
  text.suffix_ = suffix;
  return text;
}

ErrorText ErrorText::Static(std::string_view literal) {
  ErrorText text;
  text.kind_ = Kind::kStatic;
  text.prefix_ = literal;
  return text;
}

void ErrorText::AppendTo(std::string& out) const {
  switch (kind_) {
    case Kind::kOwned:
      out += owned_;
      return;
    case Kind::kStatic:
      out += prefix_;
      return;
    case Kind::kJob: {
      out += prefix_;
      const size_t at = out.size();
      out.resize(at + Ulid::kTextSize);
      id_.AppendTo(out.data() + at);
      out += suffix_;
      return;
    }
    case Kind::kNumber:
      absl::StrAppend(&out, internal::Sv(prefix_), number_, internal::Sv(suffix_));
      return;
  }
}

std::string ErrorText::str() const {
  if (kind_ == Kind::kOwned) return owned_;
  std::string out;
  AppendTo(out);
  return out;
}

std::ostream& operator<<(std::ostream& os, const ErrorText& text) { return os << text.str(); }

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
  std::string text;
  AppendTimestamp(t, text);
  return text;
}

void AppendTimestamp(absl::Time t, std::string& out) {
  // Years 1970-9999, every time a job carries, are written here digit by
  // digit (civil date from std::chrono's calendar): absl::FormatTime reads
  // its format at every call and was a tenth of a GET's cost. Other times
  // (before 1970, five-digit years, the infinities) go to FormatTime, whose
  // text this matches (tests/ids_test.cc compares both).
  static constexpr int64_t kMillisTo10000 = 253'402'300'800'000;  // 10000-01-01
  const int64_t ms = absl::ToUnixMillis(t);                       // rounds down, as %E3S does
  if (t < absl::UnixEpoch() || ms >= kMillisTo10000) {
    out.append(absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", t, absl::UTCTimeZone()));
    return;
  }
  constexpr int64_t kMillisPerDay = 86'400'000;
  const std::chrono::year_month_day date{
      std::chrono::sys_days{std::chrono::days{ms / kMillisPerDay}}};
  const int64_t of_day = ms % kMillisPerDay;
  const auto digits = [](char* at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) at[i] = static_cast<char>('0' + value % 10);
  };
  char text[] = "YYYY-MM-DDThh:mm:ss.fffZ";
  digits(text, static_cast<int>(date.year()), 4);
  digits(text + 5, static_cast<unsigned>(date.month()), 2);
  digits(text + 8, static_cast<unsigned>(date.day()), 2);
  digits(text + 11, of_day / 3'600'000, 2);
  digits(text + 14, of_day / 60'000 % 60, 2);
  digits(text + 17, of_day / 1'000 % 60, 2);
  digits(text + 20, of_day % 1'000, 3);
  out.append(text, sizeof(text) - 1);
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
