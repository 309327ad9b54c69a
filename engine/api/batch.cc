// Copyright 2026 The Cascade Authors.
//
// Batch status names and the aggregate status rule (contract §5).

#include "cascade/batch.h"

namespace cascade {

std::string_view BatchSubmitStatusName(BatchSubmitStatus s) {
  switch (s) {
    case BatchSubmitStatus::kCreated:
      return "created";
    case BatchSubmitStatus::kPartial:
      return "partial";
    case BatchSubmitStatus::kError:
      return "error";
  }
  return "error";
}

std::string_view BatchStatusName(BatchStatus s) {
  switch (s) {
    case BatchStatus::kProcessing:
      return "processing";
    case BatchStatus::kFinished:
      return "finished";
    case BatchStatus::kError:
      return "error";
  }
  return "error";
}

std::string_view BatchCancelStatusName(BatchCancelStatus s) {
  switch (s) {
    case BatchCancelStatus::kCancelled:
      return "cancelled";
    case BatchCancelStatus::kPartial:
      return "partial";
    case BatchCancelStatus::kUnchanged:
      return "unchanged";
  }
  return "unchanged";
}

BatchStatus StatusOf(const BatchCounts& counts) {
  if (counts.pending() > 0) return BatchStatus::kProcessing;
  if (counts.total > 0 && counts.failed() == counts.total) return BatchStatus::kError;
  return BatchStatus::kFinished;
}

}  // namespace cascade
