// Copyright 2026 The Cascade Authors.
//
// ProgressPattern on Boost.Regex. Boost.Regex throws (a bad pattern at
// compile time; std::runtime_error when a search grows too complex), so both
// calls catch here and nothing escapes.

#include "worker/progress.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/regex.hpp"
#include "wire/strings.h"

namespace cascade::worker {

struct ProgressPattern::Compiled {
  boost::regex regex;
  int value = 1;   // the group of the percentage or of `done`
  int total = -1;  // the group of `total`, or -1
};

namespace {

int NamedGroup(const boost::regex& regex, std::string_view name) {
  return regex.get_named_subs()->get_id(name.data(), name.data() + name.size());
}

}  // namespace

absl::StatusOr<ProgressPattern> ProgressPattern::Compile(std::string_view pattern) {
  auto compiled = std::make_shared<Compiled>();
  try {
    compiled->regex.assign(pattern.data(), pattern.data() + pattern.size(), boost::regex::perl);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not a regular expression: ", e.what()));
  }
  if (compiled->regex.mark_count() < 1) {
    return absl::InvalidArgumentError(
        "has no capture group: put the percentage in (...), or use (?<done>...) with "
        "(?<total>...) or progressTotal");
  }
  Mode mode = Mode::kPercent;
  if (int percent = NamedGroup(compiled->regex, "percent"); percent > 0) {
    compiled->value = percent;
  } else if (int done = NamedGroup(compiled->regex, "done"); done > 0) {
    compiled->value = done;
    compiled->total = NamedGroup(compiled->regex, "total");
    mode = compiled->total > 0 ? Mode::kDoneOfTotal : Mode::kDoneOfConfiguredTotal;
  }
  return ProgressPattern(std::string(pattern), std::move(compiled), mode);
}

std::optional<double> ProgressPattern::Read(std::string_view line,
                                            std::optional<double> total) const {
  boost::match_results<std::string_view::const_iterator> m;
  try {
    if (!boost::regex_search(line.begin(), line.end(), m, compiled_->regex)) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;  // too complex for this line
  }
  auto group = [&](int index) -> std::optional<double> {
    if (index <= 0 || !m[index].matched) return std::nullopt;
    return ReadProgressValue(std::string_view(m[index].first, m[index].second));
  };
  std::optional<double> value = group(compiled_->value);
  if (!value.has_value()) return std::nullopt;
  double percent = *value;
  if (mode_ != Mode::kPercent) {
    std::optional<double> of = mode_ == Mode::kDoneOfTotal ? group(compiled_->total) : total;
    if (!of.has_value() || *of <= 0) return std::nullopt;
    percent = 100 * *value / *of;
  }
  return std::clamp(percent, 0.0, 100.0);
}

std::optional<double> ReadProgressValue(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double seconds = 0;
  int parts = 0;
  for (absl::string_view part : absl::StrSplit(wire::Sv(text), ':')) {
    if (++parts > 3 || part.empty() || part.front() == '-' || part.front() == '+') {
      return std::nullopt;
    }
    double v = 0;
    if (!absl::SimpleAtod(part, &v) || !std::isfinite(v)) return std::nullopt;
    seconds = seconds * 60 + v;
  }
  return seconds;
}

}  // namespace cascade::worker
