// Copyright 2026 The Cascade Authors.
//
// Render logs in memory and in the journal (contract §15).

#include "engine/logs/log_book.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/journal/journal.h"
#include "engine/journal/rows.h"

namespace cascade::internal {

std::string LogRowKey(JobId job, uint64_t row) {
  return absl::StrCat(job.ToString(), "/", HexKey(row));
}

LogBook::LogBook(Journal& journal, const JobModel& model, size_t max_bytes)
    : journal_(journal), model_(model), max_bytes_(max_bytes) {}

void LogBook::Trim(std::string& text) const {
  if (text.size() <= max_bytes_) return;
  size_t cut = text.size() - max_bytes_;
  // The first line that starts within the kept range; none (one line longer
  // than the bound): the last max_bytes_ bytes as they are.
  if (cut > 0 && text[cut - 1] != '\n') {
    const size_t newline = text.find('\n', cut);
    if (newline != std::string::npos && newline + 1 < text.size()) cut = newline + 1;
  }
  text.erase(0, cut);
}

void LogBook::Append(uint32_t slot, absl::Span<const std::string> lines) {
  if (lines.empty()) return;
  std::string chunk;
  for (const std::string& line : lines) absl::StrAppend(&chunk, line, "\n");
  Log& log = logs_[slot];
  log.text += chunk;
  Trim(log.text);
  if (!journal_.journaling()) return;
  if (log.row_bytes + chunk.size() > 2 * max_bytes_) {
    // Compact: one row with the log as it is replaces the job's rows.
    DeleteRows(slot, log);
    log.first_row = log.next_row;
    log.row_bytes = 0;
    chunk = log.text;
  }
  PutRow(slot, log.next_row++, chunk);
  log.row_bytes += chunk.size();
}

std::optional<std::string> LogBook::Get(uint32_t slot) const {
  auto it = logs_.find(slot);
  if (it == logs_.end()) return std::nullopt;
  return it->second.text;
}

void LogBook::Restore(uint32_t slot, uint64_t sequence, std::string_view text) {
  auto [it, added] = logs_.try_emplace(slot);
  Log& log = it->second;
  if (added) log.first_row = sequence;
  log.next_row = sequence + 1;
  log.row_bytes += text.size();
  log.text += text;
  Trim(log.text);
}

void LogBook::OnPurge(absl::Span<const uint32_t> jobs, absl::Span<const uint64_t>,
                      absl::Span<const BatchNo>) {
  for (uint32_t slot : jobs) {
    auto it = logs_.find(slot);
    if (it == logs_.end()) continue;
    DeleteRows(slot, it->second);
    logs_.erase(it);
  }
}

void LogBook::PutRow(uint32_t slot, uint64_t row, std::string_view text) {
  journal_.AddRow(
      Change::Put(Table::kLogs, LogRowKey(model_.job(slot).id, row), EncodeLogRow(text)));
}

void LogBook::DeleteRows(uint32_t slot, const Log& log) {
  if (!journal_.journaling()) return;
  const JobId id = model_.job(slot).id;
  for (uint64_t row = log.first_row; row < log.next_row; ++row) {
    journal_.AddRow(Change::Delete(Table::kLogs, LogRowKey(id, row)));
  }
}

}  // namespace cascade::internal
