// Copyright 2026 The Cascade Authors.
//
// Recovery: the engine's state rebuilt from a store's rows (see recovery.cc).

#ifndef CASCADE_ENGINE_JOURNAL_RECOVERY_H_
#define CASCADE_ENGINE_JOURNAL_RECOVERY_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "cascade/webhook.h"
#include "engine/lease/lease_book.h"
#include "engine/logs/log_book.h"
#include "engine/model/job_model.h"
#include "engine/store/store.h"
#include "engine/webhook/outbox.h"
#include "engine/workers/worker_registry.h"

namespace cascade::internal {

// Builds the request of job `slot`'s webhook with `delivery_id` (for rows
// written before requests were kept from the start).
using RequestBuilder = std::function<WebhookRequest(uint32_t slot, const std::string& delivery_id)>;

// Where Recover puts what it reads; all empty before.
struct RecoveryTargets {
  JobModel& model;
  LeaseBook& leases;
  Outbox& outbox;
  WorkerRegistry& workers;
  LogBook& logs;
};

// Restores every batch, job, edge, worker, lease, render log and delivery of
// `store`. DataLoss naming the row for a row that does not decode or names
// what is not there.
absl::Status Recover(Store& store, const RecoveryTargets& into,
                     const RequestBuilder& build_request);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_JOURNAL_RECOVERY_H_
