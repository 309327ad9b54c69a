// Copyright 2026 The Cascade Authors.
//
// Job views: the public `Job` snapshot of a record, built from the job model
// (read-only). stats.error is made here from the cause the state machine
// stored; outputUrl from the job's own template or the engine's.

#ifndef CASCADE_ENGINE_MODEL_JOB_VIEWS_H_
#define CASCADE_ENGINE_MODEL_JOB_VIEWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cascade/job.h"
#include "engine/model/job_model.h"

namespace cascade::internal {

// Fills a default-constructed `job` (building it in place saves a move).
void ViewInto(const JobModel& model, uint32_t slot, Job& job);
Job View(const JobModel& model, uint32_t slot);
// The views of `slots` in slot (= id) order, their records prefetched ahead.
std::vector<Job> Views(const JobModel& model, std::vector<uint32_t> slots);

// The job's planned output URL, expanded when read. `batch`: the job's batch
// while it is being created (not yet published); null to look it up.
cascade::OutputUrl PlannedOutputUrl(const JobModel& model, const JobRecord& job,
                                    const BatchRecord* batch = nullptr);
// stats.error of a job that ended in error or was cancelled, or of one
// whose last attempt failed and that will be retried; none otherwise.
std::optional<cascade::ErrorText> JobErrorText(const JobModel& model, const JobRecord& job);

}  // namespace cascade::internal

#endif  // CASCADE_ENGINE_MODEL_JOB_VIEWS_H_
