// Copyright 2026 The Cascade Authors.
//
// The progress line: a bar on terminals, the percentage, then the count per
// state.

#include "cli/progress.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cascade::cli {

std::string ProgressLine(const StateCounts& c, bool tty) {
  const int total = c.total();
  const int done = c.ended();
  // Floors, so that 100 % and a full bar mean every job ended.
  const int percent = total == 0 ? 0 : static_cast<int>(int64_t{done} * 100 / total);
  std::string line;
  if (tty) {
    const int filled = total == 0 ? 0 : static_cast<int>(int64_t{done} * kBarWidth / total);
    absl::StrAppend(&line, "[", std::string(filled, '#'), std::string(kBarWidth - filled, '-'),
                    "] ", absl::StrFormat("%3d%%", percent));
  } else {
    absl::StrAppend(&line, percent, "%");
  }
  absl::StrAppend(&line, "  ", done, "/", total, " done · queued ", c.queued, " · pending ",
                  c.pending, " · rendering ", c.rendering, " · finished ", c.finished, " · error ",
                  c.error, " · cancelled ", c.cancelled);
  return line;
}

std::string ProgressUpdate(const StateCounts& counts, bool tty) {
  if (tty) return absl::StrCat("\r", ProgressLine(counts, true), "\x1b[K");
  return absl::StrCat(ProgressLine(counts, false), "\n");
}

std::string ProgressEnd(bool tty) { return tty ? "\n" : ""; }

}  // namespace cascade::cli
