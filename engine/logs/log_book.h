// Copyright 2026 The Cascade Authors.
//
// LogBook: the render log of each job (contract §15), as its worker sends
// it: the last kMaxJobLogBytes, cut at a line start. It hears the job
// model's purges, so a log is forgotten with its job whatever path purged it.
//
// Journaled as chunks: each append is one row (key "<job id>/<16 hex>"), so
// appending costs the lines' bytes, not the log's. When a job's rows hold
// more than twice what its log keeps, they are replaced by one row holding
// the log as it is, so the rows stay within three times the bound.
//
// NOTE: not thread-safe; the engine's lock guards it.

#ifndef CASCADE_ENGINE_LOGS_LOG_BOOK_H_
#define CASCADE_ENGINE_LOGS_LOG_BOOK_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "cascade/ids.h"
#include "engine/model/job_model.h"

namespace cascade::internal {

class Journal;

class LogBook final : public ModelListener {
 public:
  // `max_bytes`: what a log keeps (kMaxJobLogBytes; smaller in tests).
  LogBook(Journal& journal, const JobModel& model, size_t max_bytes);

  // Appends `lines` to the log of the job at `slot`, each followed by '\n'.
  void Append(uint32_t slot, absl::Span<const std::string> lines);
  // The job's log; nullopt if nothing was logged.
  std::optional<std::string> Get(uint32_t slot) const;

  // Recovery: a chunk row of the job at `slot`; chunks come in key order.
  void Restore(uint32_t slot, uint64_t sequence, std::string_view text);

  // Forgets the purged jobs' logs and deletes their rows.
  void OnPurge(absl::Span<const uint32_t> jobs, absl::Span<const uint64_t> edges,
               absl::Span<const BatchNo> batches) override;

  size_t max_bytes() const { return max_bytes_; }

 private:
  struct Log {
    std::string text;
    uint64_t first_row = 0;  // the rows first_row..next_row-1 hold it
    uint64_t next_row = 0;
    size_t row_bytes = 0;  // what those rows hold in all
  };

  // Keeps the last max_bytes_ of the text, from a line start when one is in
  // that range.
  void Trim(std::string& text) const;
  void PutRow(uint32_t slot, uint64_t row, std::string_view text);
  void DeleteRows(uint32_t slot, const Log& log);

  Journal& journal_;
  const JobModel& model_;
  const size_t max_bytes_;
  absl::flat_hash_map<uint32_t, Log> logs_;
};

// A log row's key: the job's id, '/', the row's number as 16 hex digits.
std::string LogRowKey(JobId job, uint64_t row);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_LOGS_LOG_BOOK_H_
