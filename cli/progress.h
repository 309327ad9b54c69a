// Copyright 2026 The Cascade Authors.
//
// The progress line of `cascade submit --wait`, a pure function of the
// counts and of whether it goes to a terminal:
//
//   terminal (redrawn in place):
//   [##########----------]  50%  3/6 done · queued 1 · pending 0 · rendering 2 · finished 3 · error
//   0 · cancelled 0 elsewhere (one plain line per change, for logs and pipes): 50%  3/6 done ·
//   queued 1 · pending 0 · rendering 2 · finished 3 · error 0 · cancelled 0
//
// "done" counts the jobs that ended (finished, error or cancelled); 100 %
// only when every job has.

#ifndef CASCADE_CLI_PROGRESS_H_
#define CASCADE_CLI_PROGRESS_H_

#include <string>

#include "cli/counts.h"

namespace cascade::cli {

// Characters in the bar between its brackets.
inline constexpr int kBarWidth = 20;

// The line, without any line end or control character.
std::string ProgressLine(const StateCounts& counts, bool tty);

// The bytes that show `counts`: on a terminal, a carriage return, the line
// and "erase to the end of the line" (ESC [ K), so it replaces the one
// before; elsewhere the line and "\n".
std::string ProgressUpdate(const StateCounts& counts, bool tty);

// What ends the display: "\n" on a terminal (the last line stays), nothing
// elsewhere.
std::string ProgressEnd(bool tty);

}  // namespace cascade::cli

#endif  // CASCADE_CLI_PROGRESS_H_
