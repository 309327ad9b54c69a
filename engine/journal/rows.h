// Copyright 2026 The Cascade Authors.
//
// The journal's rows: how each kind of record is written to the store
// (compact JSON), one function per row kind. docs/durability.md lists the
// formats; recovery.cc reads them back. The formats are stable: a data
// directory written by an earlier version opens (tests/journal_compat_test).

#ifndef CASCADE_ENGINE_JOURNAL_ROWS_H_
#define CASCADE_ENGINE_JOURNAL_ROWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cascade/events.h"
#include "engine/lease/lease_book.h"
#include "engine/model/job_model.h"
#include "engine/store/store.h"
#include "engine/webhook/delivery.h"
#include "engine/workers/worker_registry.h"

namespace cascade::internal {

// Fixed-width hex, so that key order is number order.
std::string HexKey(uint64_t n);

std::string EncodeJob(const JobModel& model, uint32_t slot);
std::string EncodeEdge(const JobModel& model, uint32_t prerequisite, uint32_t dependent);
std::string EncodeBatch(const BatchRecord& batch, int64_t created_ms);
std::string EncodeLease(const Lease& lease);
std::string EncodeDelivery(const Delivery& delivery);
std::string EncodeWorker(const WorkerRegistry::Record& worker);
// A render log row: {"text": the chunk} (row_text.h).
std::string EncodeLogRow(std::string_view text);

// The journal's name of the cause a job ended with ("cancelled_via_api",
// "cancel_cascade", ...), and back. Several causes share a name where they
// make the same stats.error.
std::string_view CauseRowName(TransitionCause cause);
std::optional<TransitionCause> ParseCauseRowName(std::string_view name);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_JOURNAL_ROWS_H_
