// Copyright 2026 The Cascade Authors.
//
// The worker list's names (cascade/engine.h).

#include <string_view>

#include "cascade/engine.h"

namespace cascade {

std::string_view WorkerStatusName(WorkerStatus status) {
  switch (status) {
    case WorkerStatus::kBusy:
      return "busy";
    case WorkerStatus::kIdle:
      return "idle";
    case WorkerStatus::kLost:
      return "lost";
  }
  return "idle";
}

}  // namespace cascade
