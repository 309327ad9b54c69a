// Copyright 2026 The Cascade Authors.
//
// ProgressPattern: the config's "progress" regex, which reads a render's
// progress (0-100) from one line of its output. Boost.Regex (Perl syntax,
// header-only, already a dependency through Boost), searched in each line.
//
// Which groups give the number:
//   (?<percent>...)               the percentage itself;
//   (?<done>...) and (?<total>...) 100 * done / total;
//   (?<done>...) alone             100 * done / the command's progressTotal;
//   otherwise the first group      the percentage.
// A value is a decimal number ("42", "42.5") or a duration [[H:]M:]S[.f]
// ("00:00:01.92", ffmpeg's time=), read as seconds. The result is clamped
// to 0-100; a line that does not match, or whose numbers do not read (or a
// total of 0), gives nothing.
//
// Example (ffmpeg's "frame=  48 ... time=00:00:01.92 ..." against 2 s):
//
//   absl::StatusOr<ProgressPattern> p = ProgressPattern::Compile(R"(time=(?<done>[\d:.]+))");
//   p->Read("frame=  48 fps=0.0 time=00:00:01.92 bitrate=N/A", 2.0);  // 96
//
// Thread-safe: Read is const and may run on many threads at once.

#ifndef CASCADE_WORKER_PROGRESS_H_
#define CASCADE_WORKER_PROGRESS_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cascade::worker {

class ProgressPattern {
 public:
  enum class Mode { kPercent, kDoneOfTotal, kDoneOfConfiguredTotal };

  // InvalidArgument with Boost.Regex's message for a pattern that does not
  // compile, or one without a capture group.
  [[nodiscard]] static absl::StatusOr<ProgressPattern> Compile(std::string_view pattern);

  // The progress `line` shows, if it matches. `total`: the command's
  // progressTotal, used in kDoneOfConfiguredTotal mode only.
  std::optional<double> Read(std::string_view line, std::optional<double> total) const;

  Mode mode() const { return mode_; }
  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  ProgressPattern(std::string pattern, std::shared_ptr<const Compiled> compiled, Mode mode)
      : pattern_(std::move(pattern)), compiled_(std::move(compiled)), mode_(mode) {}

  std::string pattern_;
  std::shared_ptr<const Compiled> compiled_;
  Mode mode_;
};

// Reads a number or a [[H:]M:]S[.f] duration (as seconds); nullopt for
// anything else, or a negative or non-finite number.
std::optional<double> ReadProgressValue(std::string_view text);

}  // namespace cascade::worker

#endif  // CASCADE_WORKER_PROGRESS_H_
