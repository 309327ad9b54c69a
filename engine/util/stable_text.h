// Copyright 2026 The Cascade Authors.
//
// StableText: one copy of a text for the rest of the process. An engine's
// answers point at texts that are few and fixed (its output URL template, its
// team names: cascade::OutputUrl), and a caller may read an answer after the
// engine that made it is gone; texts kept here never move and are never
// freed, so such a read is safe. Each distinct text is kept once, so the
// memory is bounded by the distinct templates and team names a process sees.
//
// Thread-safe. A call takes a process-wide lock: call it when a text is first
// seen (an engine's start, a new team), not per job.

#ifndef CASCADE_ENGINE_UTIL_STABLE_TEXT_H_
#define CASCADE_ENGINE_UTIL_STABLE_TEXT_H_

#include <string_view>

namespace cascade::internal {

std::string_view StableText(std::string_view text);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_UTIL_STABLE_TEXT_H_
